"""The ``%o4_usage`` magic and its live ipywidgets panel: totals, budget bar, per-model table, recent calls.

The figures and their HTML come from ``usage_tables``; ipywidgets (7 or 8) is imported only when a panel is
built. Terminal IPython gets the same figures as a plain text table; the panel's display also holds a static
copy of its tables for viewers without widgets (``static.StaticCopy``).
"""

from __future__ import annotations

import html
import threading
import time
import weakref
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import parse_argstring

from ..display.terminal import is_terminal
from ..store.ledger import to_timestamp
from .static import StaticCopy, widget_bundle
from .usage_tables import (
    BOX_STYLE,
    MUTED,
    UsageFigures,
    budget_bar_html,
    budget_html,
    budget_level,
    charts_html,
    credit_html,
    gather,
    header_html,
    local_time,
    models_html,
    notebooks_html,
    recent_html,
    shown_notebook,
    text_report,
    totals_html,
)

#: Refreshes caused by finished calls are at most this frequent; a burst always ends with one last refresh.
MIN_REFRESH_INTERVAL_S = 0.25


# -- the magic -----------------------------------------------------------------------------------------------


def usage_magic(magics: Any, line: str) -> None:
    """Run ``%o4_usage``: export a CSV, print a text table (terminal IPython) or display a live panel."""
    args = parse_argstring(magics.o4_usage, line)  # the options are declared on the magic, for %o4_usage?
    since = parse_since(args.since)
    session = magics.session
    notebook = session.notebook()
    if args.team:
        return show_team(magics, since, args.csv)
    if args.csv:

        def summary() -> str:
            figures = gather(session.ledger, notebook, args.all_notebooks, since, magics.budget_usd)
            figures.credit = key_credit(session, wait=True)
            return summary_page(figures)

        export_csv(session.ledger, args.csv, None if args.all_notebooks else notebook, since, summary=summary)
        return None
    if is_terminal(magics.shell):
        figures = gather(session.ledger, notebook, args.all_notebooks, since, magics.budget_usd)
        figures.credit = key_credit(session, wait=True)
        print(text_report(figures))
        return None
    panel = UsagePanel(
        session,
        notebook=notebook,
        all_notebooks=args.all_notebooks,
        since=since,
        budget_usd=lambda: magics.budget_usd,  # read at each refresh, so %config changes show up
    )
    panel.show()
    return None


def unquote(text: str) -> str:
    """A value without the quotes IPython's argument splitting leaves on it (``--since "2025-06-01 14:00"``)."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def parse_since(text: str | None) -> str | None:
    """``--since``'s value as ledger time text, or a one-line ``UsageError`` saying why it is not a date.

    Any ISO 8601 date or datetime is accepted, from year 1 to year 9999; a time without a zone is local time.
    """
    if text is None:
        return None
    value = unquote(text)
    try:
        return to_timestamp(value)
    except ValueError as exc:
        reason = str(exc)
        if not value or reason.startswith("Invalid isoformat"):
            problem = "is not an ISO date or datetime"
        else:  # the right form, impossible values: say which ("month must be in 1..12")
            problem = f"is not a valid date ({reason})"
        raise UsageError(
            f"--since {value!r} {problem}: use e.g. 2025-06-01 or 2025-06-01T14:30 (local time unless it ends "
            "in Z or +HH:MM)."
        ) from None


def show_team(magics: Any, since: str | None, csv_path: str | None) -> None:
    """``%o4_usage --team``: the whole team's figures (the team ledger's, else this machine's), or its CSV."""
    from ..call.policy import effective_budgets
    from ..store.user import current_user
    from .charts import summary_page as page
    from .usage_team import TeamReport, gather_team, team_html, team_text_report

    session = magics.session
    _, user_budget, team_budget, period = effective_budgets(
        session.settings
    )  # the hub policy's are the floor

    def gathered() -> Any:
        return gather_team(session.ledger, current_user(), since, user_budget, team_budget, period)

    if csv_path:
        export_csv(
            session.ledger,
            csv_path,
            None,
            since,
            team=True,
            summary=lambda: page("o4 usage: the whole team", team_html(gathered())),
        )
        return
    figures = gathered()
    if is_terminal(magics.shell):
        print(team_text_report(figures))
        return
    from IPython.display import display

    display(TeamReport(figures))


def export_csv(
    ledger: Any,
    path_text: str,
    notebook: str | None,
    since: str | None,
    team: bool = False,
    summary: Callable[[], str] | None = None,
) -> int:
    """Write the matching ledger rows to ``path_text``, and ``summary()``'s page (tables and charts) beside it
    as ``<name>.summary.html``; say how many rows, and where; return the count."""
    path = Path(unquote(path_text)).expanduser()
    try:
        count = ledger.export_csv(path, notebook=notebook, since=since, **({"team": True} if team else {}))
    except OSError as exc:
        raise UsageError(f"could not write {path}: {exc.strerror or exc}") from None
    note = ""
    if summary is not None:
        page = path.with_name(summary_name(path))
        try:
            page.write_text(summary(), encoding="utf-8")
            note = f", and a summary with charts to {page.resolve()}"
        except OSError as exc:
            note = f" (the summary {page.name} could not be written: {exc.strerror or exc})"
    print(f"o4: wrote {count} call{'' if count == 1 else 's'} to {path.resolve()}{note}")
    return count


def summary_name(path: Path) -> str:
    """The companion summary of ``calls.csv``: ``calls.summary.html``."""
    return f"{path.stem or path.name}.summary.html"


def summary_page(figures: UsageFigures) -> str:
    """The ``--csv`` export's companion page: the panel's tables and its charts (inline SVG, titles on hover)."""
    from .charts import summary_page as page

    scope = "every notebook" if figures.all_notebooks else shown_notebook(figures.notebook, figures.root)
    exported = datetime.now().strftime("%Y-%m-%d %H:%M")
    head = (
        f'<div style="{BOX_STYLE}"><b>o4 usage</b> · {html.escape(scope)} '
        f'<span style="color:{MUTED}">· exported {exported}</span></div>'
    )
    return page(f"o4 usage: {scope}", head + figures_html(figures, image=False))


def key_credit(session: Any, wait: bool) -> Any:
    """The OpenRouter key's credit for the panel (None when unknown); never raises."""
    try:
        from ..accounting.credit import credit_for

        return credit_for(session).current(wait=wait)
    except Exception:
        return None


def _credit_hook(panel: UsagePanel) -> _PanelListener | None:
    """The panel's entry in its session's key-credit watchers (None if there is no credit tracker)."""
    try:
        from ..accounting.credit import credit_for

        watchers = credit_for(panel.session).watchers
    except Exception:
        return None
    hook = _PanelListener(panel, watchers)
    watchers.append(hook)
    return hook


def figures_html(figures: UsageFigures, image: bool) -> str:
    """Everything below the panel's first line, as static HTML: charts inline or as images (``image``)."""
    return "".join(
        [
            totals_html(figures),
            budget_bar_html(figures, image=image),
            credit_html(figures),
            charts_html(figures, image=image),
            notebooks_html(figures),
            models_html(figures),
            recent_html(figures),
        ]
    )


# -- the live panel ------------------------------------------------------------------------------------------


class _PanelListener:
    """A ``session.listeners`` entry (or, with ``event``, a shell event callback) that holds its panel weakly,
    calls ``method`` on it, and drops out once the panel is closed or gone."""

    def __init__(
        self,
        panel: UsagePanel,
        listeners: list[Callable[[Any], None]] | None,
        method: str = "request_refresh",
        events: Any = None,
        event: str = "",
    ) -> None:
        self._panel = weakref.ref(panel)
        self._listeners = listeners
        self._method = method
        self._events, self._event = events, event

    def __call__(self, *args: Any) -> None:
        panel = self._panel()
        if panel is None or panel.closed:
            self.remove()
            return
        getattr(panel, self._method)()

    def remove(self) -> None:
        """Leave the session's listeners or the shell's event (once is enough; later calls do nothing)."""
        try:
            if self._events is not None:
                self._events.unregister(self._event, self)
            elif self._listeners is not None:
                self._listeners.remove(self)
        except ValueError:
            pass


class UsagePanel:
    """The ``%o4_usage`` widget: totals, budget bar, per-model and per-notebook tables, recent calls, live.

    ``widget`` is the root ipywidgets box. The panel refreshes itself whenever the session records a call (at
    most every ``MIN_REFRESH_INTERVAL_S``, a burst ending with one last refresh); ``widget.close()`` or
    ``close()`` stops that. ``budget_usd`` is a cap in USD, or a callable read at each refresh.
    """

    def __init__(
        self,
        session: Any,
        notebook: str | None = None,
        all_notebooks: bool = False,
        since: Any = None,
        budget_usd: float | Callable[[], float | None] | None = None,
        min_interval_s: float = MIN_REFRESH_INTERVAL_S,
    ) -> None:
        import ipywidgets as widgets

        self.session = session
        self.notebook = notebook if notebook is not None else session.notebook()
        self.all_notebooks = all_notebooks
        self.since = to_timestamp(since) if since is not None else None
        self._budget = budget_usd
        self.min_interval_s = min_interval_s
        self.figures: UsageFigures | None = None
        self.refreshes = 0
        self.closed = False
        self.last_error: BaseException | None = None
        self._refresh_lock = threading.Lock()
        self._refreshing_in: int | None = None  # the thread inside refresh(), which reads every news itself
        self._schedule_lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._last_refresh = 0.0
        self.static: StaticCopy | None = None
        self._cell_hook: _PanelListener | None = None
        self._credit_hook: _PanelListener | None = None
        self._listener: _PanelListener | None = None

        self.header = widgets.HTML()
        self.totals_html = widgets.HTML()
        self.budget_bar = widgets.FloatProgress(
            value=0.0, min=0.0, max=1.0, description="budget", layout=widgets.Layout(width="260px")
        )
        self.budget_label = widgets.HTML()
        self.budget_box = widgets.HBox(
            [self.budget_bar, self.budget_label], layout=widgets.Layout(display="none")
        )
        self.credit_html = widgets.HTML()
        self.charts_html = widgets.HTML()
        self.notebooks_html = widgets.HTML()
        self.models_html = widgets.HTML()
        self.recent_html = widgets.HTML()
        self.children = [
            self.header,
            self.totals_html,
            self.budget_box,
            self.credit_html,
            self.charts_html,
            self.notebooks_html,
            self.models_html,
            self.recent_html,
        ]
        self.widget = widgets.VBox(self.children, layout=widgets.Layout(padding="2px 4px"))
        for name in ("o4-usage-panel", "tex2jax_ignore", "mathjax_ignore"):  # costs are not math (classic)
            self.widget.add_class(name)
        self.widget._o4_usage_panel = self  # the widget registry keeps the panel alive until it is closed
        self.widget.observe(self._on_comm_change, names="comm")
        self._credit_hook = _credit_hook(self)  # new figures of the key's credit: redraw
        self.refresh()
        self._listener = _PanelListener(self, session.listeners)
        session.listeners.append(self._listener)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return widget_bundle(self.widget, self.static_html(), self.static_text())

    # -- the display and its static copy -----------------------------------------------------------------
    def show(self) -> None:
        """Display the panel with a static copy of its tables, brought up to date after each cell runs."""
        self.static = StaticCopy(self.widget)
        self.static.show(self.static_html(), self.static_text())
        events = getattr(getattr(self.session, "shell", None), "events", None)
        if events is not None:
            self._cell_hook = _PanelListener(self, None, "update_static", events, "post_run_cell")
            events.register("post_run_cell", self._cell_hook)

    def update_static(self) -> bool:
        """Refresh, then re-send the static copy if its figures changed (after a cell: see ``StaticCopy``)."""
        if self.static is None or self.closed:
            return False
        self._safe_refresh()
        return self.static.update(self.static_html(), self.static_text())

    def static_html(self) -> str:
        """The tables as HTML for viewers without widgets: what the panel showed after the last call."""
        figures = self.figures
        if figures is None:
            return ""
        scope = "every notebook" if figures.all_notebooks else shown_notebook(figures.notebook, figures.root)
        last = f", last call {local_time(figures.recent[0].ts, with_date=True)}" if figures.recent else ""
        head = (
            f'<div style="{BOX_STYLE}"><b>o4 usage</b> · {html.escape(scope)} '
            f'<span style="color:{MUTED}">· a copy saved with the notebook{html.escape(last)}</span></div>'
        )
        return head + figures_html(figures, image=True)  # charts as images: kept in untrusted notebooks too

    def static_text(self) -> str:
        """The same figures as plain text (the terminal's table)."""
        return text_report(self.figures) if self.figures is not None else "o4 usage"

    # -- readable state ----------------------------------------------------------------------------------
    @property
    def budget_usd(self) -> float | None:
        """The cap shown by the budget bar, or None (no bar)."""
        value = self._budget() if callable(self._budget) else self._budget
        return None if value is None else float(value)

    @property
    def totals(self) -> dict[str, Any]:
        """Calls, tokens by kind and ``cost_usd`` as last shown."""
        return dict(self.figures.totals) if self.figures else {}

    @property
    def per_model(self) -> list[dict[str, Any]]:
        """Totals per model as last shown, most expensive first."""
        return list(self.figures.per_model) if self.figures else []

    @property
    def per_notebook(self) -> list[dict[str, Any]]:
        """Calls and cost per notebook as last shown (``--all`` only; else empty)."""
        return list(self.figures.per_notebook) if self.figures else []

    @property
    def recent(self) -> list[Any]:
        """The recent calls shown (``UsageRow``), newest first."""
        return list(self.figures.recent) if self.figures else []

    # -- refreshing --------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Read the ledger's aggregates and redraw every part now."""
        with self._refresh_lock:
            if self.closed:
                return
            self._refreshing_in = threading.get_ident()
            try:
                self._redraw()
            finally:
                self._refreshing_in = None

    def _redraw(self) -> None:
        """Draw every part from the ledger (under the refresh lock)."""
        self._last_refresh = time.monotonic()
        figures = gather(self.session.ledger, self.notebook, self.all_notebooks, self.since, self.budget_usd)
        figures.credit = key_credit(
            self.session, wait=self.refreshes == 0
        )  # later: fetched in the background
        self.figures = figures
        self.header.value = header_html(figures)
        self.totals_html.value = totals_html(figures)
        self._draw_budget(figures)
        self.credit_html.value = credit_html(figures)
        self.charts_html.value = charts_html(figures)
        self.notebooks_html.value = notebooks_html(figures)
        self.models_html.value = models_html(figures)
        self.recent_html.value = recent_html(figures)
        self.refreshes += 1

    def _draw_budget(self, figures: UsageFigures) -> None:
        if figures.budget_usd is None:
            self.budget_box.layout.display = "none"
            return
        cap = max(figures.budget_usd, 0.0)
        self.budget_bar.max = cap
        self.budget_bar.value = min(figures.budget_spent, cap)
        self.budget_bar.bar_style = budget_level(figures.budget_spent, figures.budget_usd)
        self.budget_label.value = budget_html(figures)
        self.budget_box.layout.display = "flex"

    def request_refresh(self) -> None:
        """Refresh now, or when ``min_interval_s`` has passed since the last refresh (a burst coalesces)."""
        if self._refreshing_in == threading.get_ident():
            return  # news from inside refresh() itself (a key-credit fetch it waited for): it is being drawn
        with self._schedule_lock:
            if self.closed or self._timer is not None:
                return  # a refresh is already due, and it will read this call too
            wait = self._last_refresh + self.min_interval_s - time.monotonic()
            if wait > 0:
                self._timer = threading.Timer(wait, self._timed_refresh)
                self._timer.daemon = True
                self._timer.start()
                return
        self._safe_refresh()

    def _timed_refresh(self) -> None:
        with self._schedule_lock:
            self._timer = None
        self._safe_refresh()

    def _safe_refresh(self) -> None:
        try:
            self.refresh()
        except Exception as exc:  # a panel that cannot redraw keeps its last figures and never breaks a call
            self.last_error = exc

    # -- closing -----------------------------------------------------------------------------------------
    def _on_comm_change(self, change: dict[str, Any]) -> None:
        if change["new"] is None:
            self.close()

    def close(self) -> None:
        """Stop listening and close the widgets (also done by ``widget.close()``)."""
        with self._schedule_lock:
            if self.closed:
                return
            self.closed = True
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        for hook in (self._listener, self._credit_hook, self._cell_hook):
            if hook is not None:
                hook.remove()
        for part in (*self.children, self.budget_bar, self.budget_label):
            for owned in (getattr(part, "layout", None), getattr(part, "style", None), part):
                if owned is not None:
                    owned.close()
        self.widget.layout.close()
        self.widget.close()
        # the widget may outlive its view (a display cache, an old cell's output): it must not keep us alive
        self.widget.unobserve(self._on_comm_change, names="comm")
        self.widget.__dict__.pop("_o4_usage_panel", None)
        self.static = None
