"""What the usage panel shows, as data, HTML and plain text: the ledger's aggregates for one notebook or all.

Every figure is an SQL aggregate or a short ``LIMIT`` query on the ledger. Nothing here imports ipywidgets,
so terminal IPython's ``%o4_usage`` and tests use it as it is.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Any

from ..accounting.budget import WARN_FRACTION
from ..store.identity import server_root
from ..store.times import TS_FORMAT

#: How many recent calls the panel lists (the chart of the last calls shows ``charts.MAX_CALLS``).
RECENT_ROWS = 10
#: The budget bar turns to "warning" at this fraction of the cap, and to "danger" at the cap.

TOTAL_HEADERS = ("calls", "input", "cached", "output", "reasoning", "cost")
MODEL_HEADERS = ("model", *TOTAL_HEADERS)
NOTEBOOK_HEADERS = ("notebook", "calls", "cost", "last call")
RECENT_HEADERS = ("time", "cell", "tokens in → out", "cost", "s", "status")
#: Column alignment per table, one letter a column: numbers right, words left.
TOTAL_ALIGN, MODEL_ALIGN, NOTEBOOK_ALIGN, RECENT_ALIGN = "rrrrrr", "lrrrrrr", "lrrl", "llrrrl"

# Inline styles: JupyterLab's theme variables, with fallbacks that read well on light and dark backgrounds.
MUTED = "var(--jp-ui-font-color2,rgba(128,128,128,.95))"
STATUS_COLORS = {
    "error": "var(--jp-error-color1,#d32f2f)",
    "refused": "var(--jp-error-color1,#d32f2f)",
    "incomplete": "var(--jp-warn-color1,#ef6c00)",
    "interrupted": "var(--jp-warn-color1,#ef6c00)",
    "cached": MUTED,
}
BOX_STYLE = (
    "font-family:var(--jp-ui-font-family,inherit);font-size:var(--jp-ui-font-size1,13px);"
    "color:var(--jp-ui-font-color1,inherit);line-height:1.35"
)
TABLE_STYLE = (
    "border-collapse:collapse;margin:1px 0 6px 0;font-variant-numeric:tabular-nums;"
    "color:inherit;font-size:inherit;font-family:inherit"
)
HEAD_STYLE = (
    f"font-weight:600;font-size:.92em;color:{MUTED};"
    "border-bottom:1px solid var(--jp-border-color1,rgba(128,128,128,.45))"
)
ROW_STYLE = "border-bottom:1px solid var(--jp-border-color3,rgba(128,128,128,.18))"
PAD_STYLE = "padding:1px 12px 1px 0"
TITLE_STYLE = f"font-weight:600;margin:4px 0 1px 0;color:{MUTED};font-size:var(--jp-ui-font-size0,11px)"


# -- the figures ---------------------------------------------------------------------------------------------


@dataclass
class UsageFigures:
    """What the panel and the text table show, as the ledger's aggregates gave it."""

    notebook: str
    all_notebooks: bool
    since: str | None
    totals: dict[str, Any]
    per_model: list[dict[str, Any]]
    per_notebook: list[dict[str, Any]] = field(default_factory=list)
    recent: list[Any] = field(default_factory=list)
    budget_usd: float | None = None
    #: this notebook's whole spend (a budget covers all time, whatever ``since`` says)
    budget_spent: float = 0.0
    #: the Jupyter server's root: notebook paths are shown relative to it (else by file name only)
    root: str | None = None
    #: the charts: spend per UTC day (``charts.DailySpend``), the last calls (newest first)
    daily: Any = None
    last_calls: list[Any] = field(default_factory=list)
    #: the OpenRouter key's credit (``accounting.credit.KeyCredit``), when known
    credit: Any = None


def gather(
    ledger: Any,
    notebook: str,
    all_notebooks: bool = False,
    since: str | None = None,
    budget_usd: float | None = None,
    root: str | None = None,
) -> UsageFigures:
    """One short query per part: totals, per model, per notebook (``--all``), recent calls, budget spend.

    ``root`` is the Jupyter server's root directory that notebook paths are shown from (None: look it up).
    """
    from .charts import MAX_CALLS

    scope = None if all_notebooks else notebook
    totals = ledger.totals(scope, since)
    last_calls = [row for row in ledger.recent(scope, MAX_CALLS) if since is None or str(row.ts) >= since]
    recent = last_calls[:RECENT_ROWS]
    figures = UsageFigures(
        notebook=notebook,
        all_notebooks=all_notebooks,
        since=since,
        totals=totals,
        per_model=ledger.per_model(scope, since),
        per_notebook=ledger.per_notebook(since) if all_notebooks else [],
        recent=recent,
        budget_usd=budget_usd,
        root=root if root is not None else server_root(),
        daily=spend_per_day(ledger, since, scope),
        last_calls=last_calls,
    )
    if budget_usd is not None:
        whole = scope is not None and since is None
        figures.budget_spent = float(totals["cost_usd"] if whole else ledger.totals(notebook)["cost_usd"])
    return figures


def spend_per_day(ledger: Any, since: str | None, notebook: str | None, team: bool = False) -> Any:
    """The per-day chart's figures: the last ``charts.MAX_DAYS`` UTC days (from ``since`` if later)."""
    from .charts import daily_spend, day_window

    first, last = day_window(since, datetime.now(timezone.utc).date())
    rows = ledger.per_day(first.isoformat(), notebook, team) if first <= last else []
    title = "team spend per day (UTC)" if team else "spend per day (UTC)"
    return daily_spend(rows, first, last, title)


def budget_level(spent: float, cap: float) -> str:
    """The bar style for ``spent`` of ``cap``: "success", "warning" (>= 80 %) or "danger" (>= 100 %)."""
    fraction = spent / cap if cap > 0 else float("inf")
    if fraction >= 1:
        return "danger"
    return "warning" if fraction >= WARN_FRACTION else "success"


def format_usd(amount: float | None) -> str:
    """A cost as the panel shows it: five decimals under a dollar (like the reply footer), else cents."""
    amount = float(amount or 0.0)
    return f"${amount:,.5f}" if abs(amount) < 1 else f"${amount:,.2f}"


def local_time(ts: Any, with_date: bool = False) -> str:
    """Ledger time text as local time: ``HH:MM:SS`` today, else ``YYYY-MM-DD HH:MM`` (years 1 to 9999)."""
    try:
        utc = datetime.strptime(str(ts), TS_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return str(ts or "")
    try:
        moment, zone = utc.astimezone(), ""
    except (OverflowError, OSError, ValueError):  # year 1 or 9999 pushed out of range by the local zone
        moment, zone = utc, " UTC"
    if with_date or moment.date() != datetime.now().astimezone().date():
        return f"{moment.year:04d}-{moment:%m-%d %H:%M}{zone}"  # %Y writes year 1 as "1"
    return f"{moment:%H:%M:%S}{zone}"


def _pure_path(path: str) -> PurePath:
    windows = path.startswith("\\\\") or (
        len(path) > 2 and path[0].isalpha() and path[1] == ":" and path[2] in "\\/"
    )
    return PureWindowsPath(path) if windows else PurePosixPath(path)


def shown_notebook(notebook: str, root: str | None = None) -> str:
    """A notebook as the panel names it, never with the user's home or other absolute folders in it.

    A path under the Jupyter server's ``root`` is shown relative to it; any other absolute path (or one
    starting with ``~``) by its file name only; relative paths and ids such as ``kernel:<id>`` as they are.
    """
    if not notebook:
        return "(unknown)"
    path = _pure_path(notebook)
    if not path.is_absolute() and not notebook.startswith("~"):
        return notebook
    if root:
        try:
            inside = path.relative_to(type(path)(root))
        except ValueError:
            inside = None
        if inside is not None and inside.parts and ".." not in inside.parts:
            return inside.as_posix()
    return path.name or notebook


def _without_home(text: str) -> str:
    """``text`` with the user's home directory written as ``~`` (error messages can carry file paths)."""
    home = str(Path.home())
    return text.replace(home, "~") if len(home) > 1 else text


def sums_cells(found: dict[str, Any]) -> list[str]:
    return [
        f"{found['calls']:,}",
        f"{found['prompt_tokens']:,}",
        f"{found['cached_tokens']:,}",
        f"{found['completion_tokens']:,}",
        f"{found['reasoning_tokens']:,}",
        format_usd(found["cost_usd"]),
    ]


def _recent_cells(row: Any, all_notebooks: bool = False) -> list[str]:
    seconds = "" if row.latency_s is None else f"{row.latency_s:.1f}"
    cell = f"[{row.cell}]" if row.cell is not None else row.source
    if all_notebooks:  # which notebook, by file name (the per-notebook table has the path from the root)
        cell = f"{_pure_path(row.notebook).name or row.notebook} {cell}"
    tokens = f"{row.prompt_tokens:,} → {row.completion_tokens:,}"
    return [local_time(row.ts), cell, tokens, format_usd(row.cost_usd), seconds, row.status]


def _notebook_cells(found: dict[str, Any], current: str, root: str | None) -> list[str]:
    name = shown_notebook(found["notebook"], root)
    return [
        name + (" (this notebook)" if found["notebook"] == current else ""),
        f"{found['calls']:,}",
        format_usd(found["cost_usd"]),
        local_time(found["last_ts"], with_date=True),
    ]


def _scope_text(figures: UsageFigures) -> str:
    scope = "every notebook" if figures.all_notebooks else shown_notebook(figures.notebook, figures.root)
    return scope + (f", since {local_time(figures.since, with_date=True)}" if figures.since else "")


def budget_text(figures: UsageFigures) -> str:
    cap, spent = figures.budget_usd or 0.0, figures.budget_spent
    share = f"{spent / cap:.0%}" if cap > 0 else "over"
    who = "this notebook's budget" if figures.all_notebooks else "budget"
    return f"{format_usd(spent)} of {format_usd(cap)} {who} ({share})"


# -- text (terminal IPython) ---------------------------------------------------------------------------------


def text_table(headers: tuple[str, ...], rows: list[list[str]], align: str) -> str:
    """A plain table, two spaces between columns; ``align`` has one letter per column, "l" or "r"."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]
    lines = []
    for cells in (list(headers), *rows):
        parts = [
            str(cell).rjust(width) if side == "r" else str(cell).ljust(width)
            for cell, width, side in zip(cells, widths, align, strict=False)
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def text_report(figures: UsageFigures) -> str:
    """The usage figures as plain text, for terminal IPython."""
    parts = [
        f"o4 usage: {_scope_text(figures)}",
        text_table(TOTAL_HEADERS, [sums_cells(figures.totals)], TOTAL_ALIGN),
    ]
    if figures.budget_usd is not None:
        level = budget_level(figures.budget_spent, figures.budget_usd)
        parts.append(
            budget_text(figures) + {"warning": " - nearly spent", "danger": " - spent"}.get(level, "")
        )
    if credit_text(figures):
        parts.append(credit_text(figures))
    parts.append(charts_text(figures))
    if figures.per_notebook:
        rows = [_notebook_cells(found, figures.notebook, figures.root) for found in figures.per_notebook]
        parts.append("per notebook\n" + text_table(NOTEBOOK_HEADERS, rows, NOTEBOOK_ALIGN))
    if figures.per_model:
        rows = [[found["model"] or "(unknown)", *sums_cells(found)] for found in figures.per_model]
        parts.append("per model\n" + text_table(MODEL_HEADERS, rows, MODEL_ALIGN))
    if figures.recent:
        parts.append(
            "recent calls\n"
            + text_table(
                RECENT_HEADERS,
                [_recent_cells(row, figures.all_notebooks) for row in figures.recent],
                RECENT_ALIGN,
            )
        )
    return "\n\n".join(parts)


def credit_text(figures: Any) -> str:
    """The OpenRouter key's spend and what is left of its limit; "" when unknown or the key has no limit."""
    return figures.credit.line() if figures.credit is not None else ""


def charts_text(figures: UsageFigures) -> str:
    """The charts as lines of block characters (terminal IPython, and the panel's text form)."""
    from .charts import calls_text, daily_text

    lines = [daily_text(figures.daily)] if figures.daily is not None else []
    return "\n".join([*lines, calls_text(figures.last_calls)])


# -- HTML (the panel) ----------------------------------------------------------------------------------------


def html_table(headers: tuple[str, ...], rows: list[list[str]], align: str, title: str = "") -> str:
    """A compact themed table of already-escaped cells; ``align`` has one letter per column, "l" or "r"."""

    def cell(tag: str, index: int, content: str) -> str:
        right = align[index] == "r"
        return f'<{tag} style="{PAD_STYLE};text-align:{"right" if right else "left"}">{content}</{tag}>'

    head = "".join(cell("th", index, html.escape(name)) for index, name in enumerate(headers))
    body = "".join(
        f'<tr style="{ROW_STYLE}">'
        + "".join(cell("td", index, content) for index, content in enumerate(cells))
        + "</tr>"
        for cells in rows
    )
    heading = f'<div style="{TITLE_STYLE}">{html.escape(title)}</div>' if title else ""
    return (
        f'<div style="{BOX_STYLE}">{heading}<table style="{TABLE_STYLE}">'
        f'<tr style="{HEAD_STYLE}">{head}</tr>{body}</table></div>'
    )


def escaped_cells(cells: list[str]) -> list[str]:
    return [html.escape(str(cell)) for cell in cells]


def _recent_html_cells(row: Any, all_notebooks: bool) -> list[str]:
    cells = escaped_cells(_recent_cells(row, all_notebooks))
    color = STATUS_COLORS.get(row.status)
    if color:
        tip = f' title="{html.escape(_without_home(row.error), quote=True)}"' if row.error else ""
        cells[-1] = f'<span style="color:{color};font-weight:600"{tip}>{cells[-1]}</span>'
    return cells


def header_html(figures: UsageFigures) -> str:
    """The panel's first line: what it covers, and when it last refreshed."""
    updated = datetime.now().strftime("%H:%M:%S")
    return (
        f'<div style="{BOX_STYLE}"><b>o4 usage</b> · {html.escape(_scope_text(figures))} '
        f'<span style="color:{MUTED};font-size:var(--jp-ui-font-size0,11px)">· live, updated {updated}</span></div>'
    )


def budget_html(figures: UsageFigures) -> str:
    """The words beside the budget bar: spent, cap and share, coloured like the bar from 80 % on."""
    level = budget_level(figures.budget_spent, figures.budget_usd or 0.0)
    color = {"danger": STATUS_COLORS["error"], "warning": STATUS_COLORS["incomplete"]}.get(level, MUTED)
    return f'<span style="{BOX_STYLE};color:{color}">{html.escape(budget_text(figures))}</span>'


def credit_html(figures: Any) -> str:
    """The key's credit line (empty without a limit), coloured like the budget bar from 80 % spent on."""
    line = credit_text(figures)
    if not line:
        return ""
    credit = figures.credit
    level = budget_level(credit.usage_usd, credit.limit_usd) if credit.limit_usd else "danger"
    color = {"danger": STATUS_COLORS["error"], "warning": STATUS_COLORS["incomplete"]}.get(level, MUTED)
    return f'<div class="o4-credit" style="{BOX_STYLE};color:{color}">{html.escape(line)}</div>'


def charts_html(figures: UsageFigures, image: bool = False) -> str:
    """Spend per day and the last calls as SVG: inline (the live panel, the summary file) or as images (the
    static copy, which sanitizers of untrusted notebooks keep)."""
    from .charts import calls_svg, chart_row, daily_svg

    svgs = [daily_svg(figures.daily)] if figures.daily is not None else []
    svgs.append(calls_svg(figures.last_calls, lambda ts: local_time(ts, with_date=True)))
    return chart_row(svgs, image=image)


def budget_bar_html(figures: UsageFigures, image: bool = False) -> str:
    """The budget bar as SVG with its words beside it (the static copy and the summary; the live panel has a
    progress widget); "" without a budget."""
    if figures.budget_usd is None:
        return ""
    from .charts import as_image, budget_svg

    level = budget_level(figures.budget_spent, figures.budget_usd)
    bar = budget_svg(figures.budget_spent, figures.budget_usd, level, budget_text(figures))
    shown = as_image(bar) if image else bar
    return f'<div style="display:flex;align-items:center;gap:8px">{shown}{budget_html(figures)}</div>'


def totals_html(figures: UsageFigures) -> str:
    """The totals table (one row)."""
    title = "totals, every notebook" if figures.all_notebooks else "totals"
    return html_table(TOTAL_HEADERS, [escaped_cells(sums_cells(figures.totals))], TOTAL_ALIGN, title=title)


def models_html(figures: UsageFigures) -> str:
    """Totals per model, most expensive first."""
    rows = [escaped_cells([found["model"] or "(unknown)", *sums_cells(found)]) for found in figures.per_model]
    return html_table(MODEL_HEADERS, rows, MODEL_ALIGN, title="per model") if rows else ""


def notebooks_html(figures: UsageFigures) -> str:
    """Calls and cost per notebook, most recently used first (``--all``)."""
    rows = [
        escaped_cells(_notebook_cells(found, figures.notebook, figures.root)) for found in figures.per_notebook
    ]
    return html_table(NOTEBOOK_HEADERS, rows, NOTEBOOK_ALIGN, title="per notebook") if rows else ""


def recent_html(figures: UsageFigures) -> str:
    """The last calls, newest first; a failed call's status shows its error on hover."""
    rows = [_recent_html_cells(row, figures.all_notebooks) for row in figures.recent]
    if not rows:
        return f'<div style="{BOX_STYLE};color:{MUTED}">No calls yet.</div>'
    return html_table(RECENT_HEADERS, rows, RECENT_ALIGN, title=f"last {len(rows)} calls")
