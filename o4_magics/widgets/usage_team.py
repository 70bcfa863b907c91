"""``%o4_usage --team``: the whole team's figures (per user, per user and notebook, budgets) as text and HTML."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..store.identity import server_root

#: How many recent calls the panel lists (the chart of the last calls shows ``charts.MAX_CALLS``).
from .usage_tables import (
    BOX_STYLE,
    MUTED,
    TOTAL_ALIGN,
    TOTAL_HEADERS,
    budget_level,
    escaped_cells,
    format_usd,
    html_table,
    local_time,
    shown_notebook,
    spend_per_day,
    sums_cells,
    text_table,
)

USER_HEADERS = ("user", "calls", "input", "output", "reasoning", "cost", "last call")
USER_NOTEBOOK_HEADERS = ("user", "notebook", "calls", "cost", "last call")
USER_ALIGN, USER_NOTEBOOK_ALIGN = "lrrrrrl", "llrrl"
#: Rows the per-user and per-notebook tables show at most; the rest are summed in one line.
TEAM_ROWS = 50


@dataclass
class TeamFigures:
    """What ``%o4_usage --team`` shows: the team's totals, per user, per user and notebook, and the budgets."""

    user: str
    since: str | None
    source: str
    totals: dict[str, Any]
    per_user: list[dict[str, Any]]
    per_notebook: list[dict[str, Any]]
    #: (name, cap, spent) of the user's and the team's budgets in force, for their period
    budgets: list[tuple[str, float, float]] = field(default_factory=list)
    period: str = "month"
    root: str | None = None
    #: the team's spend per UTC day (``charts.DailySpend``)
    daily: Any = None


def gather_team(
    ledger: Any,
    user: str,
    since: str | None = None,
    user_budget_usd: float | None = None,
    team_budget_usd: float | None = None,
    period: str = "month",
    root: str | None = None,
) -> TeamFigures:
    """The team's figures: read from the rollup's sums (a few thousand rows whatever the ledger's size)."""
    from ..store.periods import budget_caps

    figures = TeamFigures(
        user=user,
        since=since,
        source="",
        totals=ledger.team_totals(since),
        per_user=ledger.per_user(since),
        per_notebook=ledger.per_user_notebook(since),
        period=period,
        root=root if root is not None else server_root(),
    )
    for cap in budget_caps(None, user_budget_usd, team_budget_usd, period):
        name = "your budget" if cap.scope == "user" else "team budget"
        figures.budgets.append((name, cap.usd, ledger.spent_in(cap, user=user)))
    figures.daily = spend_per_day(ledger, since, None, team=True)
    figures.source = ledger.describe()
    return figures


def _team_scope(figures: TeamFigures) -> str:
    since = f", since {local_time(figures.since, with_date=True)}" if figures.since else ""
    return f"the whole team{since} · from {figures.source}"


def _user_cells(found: dict[str, Any], you: str) -> list[str]:
    return [
        (found["user"] or "(unknown)") + (" (you)" if found["user"] == you else ""),
        f"{found['calls']:,}",
        f"{found['prompt_tokens']:,}",
        f"{found['completion_tokens']:,}",
        f"{found['reasoning_tokens']:,}",
        format_usd(found["cost_usd"]),
        local_time(found["last_ts"], with_date=True),
    ]


def _user_notebook_cells(found: dict[str, Any], root: str | None) -> list[str]:
    return [
        found["user"] or "(unknown)",
        shown_notebook(found["notebook"], root),
        f"{found['calls']:,}",
        format_usd(found["cost_usd"]),
        local_time(found["last_ts"], with_date=True),
    ]


def _more(rows: list[dict[str, Any]], what: str) -> str:
    """The line under a cut table: how many rows were left out and what they cost."""
    rest = rows[TEAM_ROWS:]
    if not rest:
        return ""
    return f"and {len(rest):,} more {what} ({format_usd(sum(found['cost_usd'] for found in rest))})"


def _budget_lines(figures: TeamFigures) -> list[str]:
    when = "today (UTC)" if figures.period == "day" else "this month (UTC)"
    lines = []
    for name, cap, spent in figures.budgets:
        share = f"{spent / cap:.0%}" if cap > 0 else "over"
        lines.append(f"{name}: {format_usd(spent)} of {format_usd(cap)} {when} ({share})")
    return lines


def team_text_report(figures: TeamFigures) -> str:
    """The team's figures as plain text (terminal IPython, and the text form of the notebook output)."""
    parts = [
        f"o4 usage: {_team_scope(figures)}",
        text_table(TOTAL_HEADERS, [sums_cells(figures.totals)], TOTAL_ALIGN),
        *_budget_lines(figures),
    ]
    if figures.daily is not None:
        from .charts import daily_text

        parts.append(daily_text(figures.daily))
    if figures.per_user:
        rows = [_user_cells(found, figures.user) for found in figures.per_user[:TEAM_ROWS]]
        more = _more(figures.per_user, "users")
        parts.append(
            "per user\n" + text_table(USER_HEADERS, rows, USER_ALIGN) + (f"\n{more}" if more else "")
        )
    if figures.per_notebook:
        rows = [_user_notebook_cells(found, figures.root) for found in figures.per_notebook[:TEAM_ROWS]]
        more = _more(figures.per_notebook, "notebooks")
        table = text_table(USER_NOTEBOOK_HEADERS, rows, USER_NOTEBOOK_ALIGN)
        parts.append("per notebook\n" + table + (f"\n{more}" if more else ""))
    if not figures.per_user:
        parts.append("No calls yet.")
    return "\n\n".join(parts)


def team_html(figures: TeamFigures) -> str:
    """The team's figures as HTML: the scope, totals, budgets, per user and per notebook."""
    updated = datetime.now().strftime("%H:%M:%S")
    parts = [
        f'<div style="{BOX_STYLE}"><b>o4 usage</b> · {html.escape(_team_scope(figures))} '
        f'<span style="color:{MUTED};font-size:var(--jp-ui-font-size0,11px)">· as of {updated}; '
        "run again to refresh</span></div>",
        html_table(
            TOTAL_HEADERS, [escaped_cells(sums_cells(figures.totals))], TOTAL_ALIGN, title="totals, the whole team"
        ),
    ]
    parts.append(team_charts_html(figures))
    tables = (
        (
            USER_HEADERS,
            USER_ALIGN,
            "per user",
            "users",
            figures.per_user,
            lambda found: _user_cells(found, figures.user),
        ),
        (
            USER_NOTEBOOK_HEADERS,
            USER_NOTEBOOK_ALIGN,
            "per notebook",
            "notebooks",
            figures.per_notebook,
            lambda found: _user_notebook_cells(found, figures.root),
        ),
    )
    for headers, align, title, what, found_rows, cells in tables:
        if found_rows:
            rows = [escaped_cells(cells(found)) for found in found_rows[:TEAM_ROWS]]
            parts.append(html_table(headers, rows, align, title=title))
            more = _more(found_rows, what)
            if more:
                parts.append(f'<div style="{BOX_STYLE};color:{MUTED}">{html.escape(more)}</div>')
    if not figures.per_user:
        parts.append(f'<div style="{BOX_STYLE};color:{MUTED}">No calls yet.</div>')
    return "".join(parts)


def team_charts_html(figures: TeamFigures, image: bool = False) -> str:
    """The team's budget bars with their words, and its spend per day, as SVG."""
    from .charts import as_image, budget_svg, chart_row, daily_svg

    parts = []
    for (_, cap, spent), line in zip(figures.budgets, _budget_lines(figures), strict=True):
        bar = budget_svg(spent, cap, budget_level(spent, cap), line)
        parts.append(
            f'<div style="display:flex;align-items:center;gap:8px">{as_image(bar) if image else bar}'
            f'<span style="{BOX_STYLE};color:{MUTED}">{html.escape(line)}</span></div>'
        )
    if figures.daily is not None:
        parts.append(chart_row([daily_svg(figures.daily)], image=image))
    return "".join(parts)


class TeamReport:
    """``%o4_usage --team``'s output: HTML in a notebook, the text table anywhere else (and when saved)."""

    def __init__(self, figures: TeamFigures) -> None:
        self.figures = figures

    def _repr_html_(self) -> str:
        return team_html(self.figures)

    def __repr__(self) -> str:
        return team_text_report(self.figures)
