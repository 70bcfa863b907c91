"""Small SVG charts for the usage panel: spend per day, the last calls' cost by status, budget bars; and their
plain-text forms for terminals.

Written as text, no plotting library. Safe to embed anywhere: only ``svg``, ``g``, ``rect``, ``line``, ``text``
and ``title`` elements with presentation attributes (``fill=``; no ``style``, script, link or anything loaded),
every text escaped, stripped of characters XML forbids and cut short, and a bounded number of bars. The live
panel draws them inline (a bar's ``<title>`` shows on hover); ``as_image`` makes an ``<img>`` data URL of the
same picture, which JupyterLab's sanitizer for untrusted notebooks keeps (an inline ``<svg>`` it removes).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ..accounting.money import format_cost

#: The per-day chart shows this many UTC days at most (the last ones); the calls chart this many calls.
MAX_DAYS = 30
MAX_CALLS = 20
#: Texts (model and thread names come from users and servers) are cut to this many characters.
TEXT_MAX = 80
WIDTH, HEIGHT = 340, 104
PLOT_TOP, PLOT_BOTTOM = 18, 80
#: Colours that read on light and dark themes alike (an <img> cannot use the page's CSS variables).
INK = "#8a8a8a"
BAR = "#3b82c4"
STATUS_COLORS = {
    "ok": BAR,
    "cached": "#9aa5b1",
    "error": "#d64545",
    "refused": "#d64545",
    "incomplete": "#e08a1e",
    "interrupted": "#e08a1e",
}
LEVEL_COLORS = {"success": "#3b9c5a", "warning": "#e08a1e", "danger": "#d64545"}
SPARKS = "▁▂▃▄▅▆▇█"
#: Inline in HTML an <svg> needs no namespace; as an image (XML) it does. A name, never fetched.
SVG_NAMESPACE = "http://www.w3.org/2000/svg"
#: How a non-"ok" call shows in the terminal's line of recent calls.
STATUS_MARKS = {"error": "×", "refused": "×", "incomplete": "!", "interrupted": "!", "cached": "○"}


def clean_text(value: Any, limit: int = TEXT_MAX) -> str:
    """``value`` as one short line of XML-safe characters, escaped for an element or an attribute."""
    text = "".join(
        ch if ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF and ch not in "\ufffe\uffff" else " "
        for ch in str(value)[: limit * 4]
    )
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return html.escape(text, quote=True)


def _svg(width: int, height: int, label: str, body: str, kind: str) -> str:
    return (
        f'<svg class="o4-chart o4-{kind}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{clean_text(label, 200)}" '
        f'font-family="sans-serif" font-size="10">{body}</svg>'
    )


def _text(x: float, y: float, content: str, anchor: str = "start", fill: str = INK) -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}">{clean_text(content)}</text>'


def _bar(x: float, width: float, value: float, color: str, tip: str, status: str = "") -> str:
    """One bar rising from the plot's bottom; ``value`` is its share of the tallest (0..1); at least 2 px."""
    height = max(2.0, (PLOT_BOTTOM - PLOT_TOP) * min(max(value, 0.0), 1.0))
    extra = f' data-status="{clean_text(status)}"' if status else ""
    return (
        f'<rect class="o4-bar" x="{x:.1f}" y="{PLOT_BOTTOM - height:.1f}" width="{width:.1f}" '
        f'height="{height:.1f}" fill="{color}"{extra}><title>{clean_text(tip, 200)}</title></rect>'
    )


def _axis() -> str:
    return f'<line x1="0" y1="{PLOT_BOTTOM + 0.5}" x2="{WIDTH}" y2="{PLOT_BOTTOM + 0.5}" stroke="{INK}" stroke-width="1"/>'


# -- spend per day -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DailySpend:
    """What the per-day chart shows: each UTC day from ``first`` to ``last``, with its calls and cost."""

    first: date
    last: date
    #: "2025-06-01" -> (calls, cost_usd)
    days: dict[str, tuple[int, float]]
    title: str = "spend per day (UTC)"

    @property
    def slots(self) -> list[date]:
        count = (self.last - self.first).days + 1
        return [self.first + timedelta(days=offset) for offset in range(max(0, min(count, MAX_DAYS)))]

    @property
    def total(self) -> float:
        return sum(cost for _, cost in self.days.values())


def day_window(since: str | None, today: date) -> tuple[date, date]:
    """The days the chart covers: the last ``MAX_DAYS`` up to ``today``, from ``since``'s day if it is later."""
    first = today - timedelta(days=MAX_DAYS - 1)
    if since:
        try:
            first = max(first, date.fromisoformat(str(since)[:10]))
        except ValueError:
            pass
    return first, today


def daily_spend(rows: Sequence[dict[str, Any]], first: date, last: date, title: str = "") -> DailySpend:
    """A ``DailySpend`` from the ledger's ``per_day`` rows (days outside ``first``..``last`` are left out)."""
    if (last - first).days >= MAX_DAYS:
        last = first + timedelta(days=MAX_DAYS - 1)
    inside = {
        str(row["day"]): (int(row["calls"] or 0), float(row["cost_usd"] or 0.0))
        for row in rows
        if first.isoformat() <= str(row["day"]) <= last.isoformat()
    }
    return DailySpend(first, last, inside, title or "spend per day (UTC)")


def daily_svg(spend: DailySpend) -> str:
    """The per-day chart: one bar per day with calls (its height the day's cost), a hover title per bar."""
    slots = spend.slots
    top = max((cost for _, cost in spend.days.values()), default=0.0)
    slot = WIDTH / max(len(slots), 1)
    bars = []
    for index, day in enumerate(slots):
        found = spend.days.get(day.isoformat())
        if found is None or found[0] == 0:
            continue
        calls, cost = found
        tip = f"{day.isoformat()}: {calls:,} call{'' if calls == 1 else 's'}, {format_cost(cost)}"
        bars.append(_bar(index * slot + slot * 0.15, slot * 0.7, cost / top if top else 0.0, BAR, tip))
    days_with_calls = len(bars)
    heading = f"{spend.title} · {format_cost(spend.total)}"
    parts = [_text(0, 11, heading), _axis(), f'<g class="o4-bars">{"".join(bars)}</g>']
    if top:
        parts.append(_text(WIDTH, 11, f"top {format_cost(top)}", "end"))
    if slots:
        parts.append(_text(0, PLOT_BOTTOM + 13, slots[0].strftime("%m-%d")))
        parts.append(_text(WIDTH, PLOT_BOTTOM + 13, slots[-1].strftime("%m-%d"), "end"))
    if not days_with_calls:
        parts.append(_text(WIDTH / 2, (PLOT_TOP + PLOT_BOTTOM) / 2, "no calls", "middle"))
    label = f"{spend.title}: {days_with_calls} day{'' if days_with_calls == 1 else 's'} with calls, {format_cost(spend.total)}"
    return _svg(WIDTH, HEIGHT, label, "".join(parts), "daily")


def daily_text(spend: DailySpend) -> str:
    """The per-day chart as one line of block characters (· for a day without calls)."""
    slots = spend.slots
    top = max((cost for _, cost in spend.days.values()), default=0.0)
    line = "".join(_spark(spend.days.get(day.isoformat()), top) for day in slots)
    ends = f"{slots[0]:%m-%d} {line} {slots[-1]:%m-%d}" if slots else "(no days)"
    return f"{spend.title}: {ends}  total {format_cost(spend.total)}" + (
        f", top {format_cost(top)}" if top else ""
    )


def _spark(found: tuple[int, float] | None, top: float) -> str:
    if not found or not found[0]:
        return "·"
    return SPARKS[min(len(SPARKS) - 1, int(found[1] / top * (len(SPARKS) - 1) + 0.5))] if top else SPARKS[0]


# -- the last calls ------------------------------------------------------------------------------------------


def _status_counts(rows: Sequence[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[str(row.status)] = counts.get(str(row.status), 0) + 1
    return counts


def calls_svg(recent: Sequence[Any], when: Any = None) -> str:
    """The last ``MAX_CALLS`` calls (``recent`` is newest first), oldest on the left: each bar its cost, coloured
    by status, with time, cell, model, thread, cost and status on hover; a legend counts the statuses."""
    rows = list(recent[:MAX_CALLS])[::-1]
    top = max((float(row.cost_usd or 0.0) for row in rows), default=0.0)
    slot = WIDTH / MAX_CALLS
    bars = []
    for index, row in enumerate(rows):
        cost = float(row.cost_usd or 0.0)
        color = STATUS_COLORS.get(str(row.status), STATUS_COLORS["error"])
        bars.append(
            _bar(
                index * slot + slot * 0.15,
                slot * 0.7,
                cost / top if top else 0.0,
                color,
                _call_tip(row, when),
                str(row.status),
            )
        )
    title = f"last {len(rows)} call{'' if len(rows) == 1 else 's'}, cost by status"
    parts = [_text(0, 11, title), _axis(), f'<g class="o4-bars">{"".join(bars)}</g>']
    if top:
        parts.append(_text(WIDTH, 11, f"top {format_cost(top)}", "end"))
    if not rows:
        parts.append(_text(WIDTH / 2, (PLOT_TOP + PLOT_BOTTOM) / 2, "no calls yet", "middle"))
    counts = _status_counts(rows)
    parts.append(_legend(counts))
    label = title + ": " + ", ".join(f"{status} {count}" for status, count in counts.items())
    return _svg(WIDTH, HEIGHT, label, "".join(parts), "calls")


def _call_tip(row: Any, when: Any) -> str:
    at = when(row.ts) if when is not None else str(row.ts)[:19]
    cell = f"[{row.cell}]" if row.cell is not None else str(row.source or "")
    thread = f" · thread {row.thread}" if row.thread and row.thread != "main" else ""
    return f"{at} {cell} {row.model or '(unknown)'}{thread}: {format_cost(row.cost_usd)}, {row.status}"


def _legend(counts: dict[str, int]) -> str:
    x, items = 0.0, []
    for status, count in counts.items():
        color = STATUS_COLORS.get(status, STATUS_COLORS["error"])
        words = f"{status} {count}"
        items.append(
            f'<g class="o4-key" data-status="{clean_text(status)}"><rect x="{x:.1f}" y="{PLOT_BOTTOM + 5}" '
            f'width="8" height="8" fill="{color}"/>{_text(x + 11, PLOT_BOTTOM + 13, words)}</g>'
        )
        x += 11 + 6 * len(clean_text(words, 30)) + 10
        if x > WIDTH - 40:
            break
    return f'<g class="o4-legend">{"".join(items)}</g>'


def calls_text(recent: Sequence[Any]) -> str:
    """The last calls as one line, oldest first: a block per call by cost; × failed, ! cut short, ○ cached."""
    rows = list(recent[:MAX_CALLS])[::-1]
    top = max((float(row.cost_usd or 0.0) for row in rows), default=0.0)
    marks = "".join(
        STATUS_MARKS.get(str(row.status), "?")
        if row.status != "ok"
        else _spark((1, float(row.cost_usd or 0.0)), top)
        for row in rows
    )
    counts = ", ".join(f"{status} {count}" for status, count in _status_counts(rows).items())
    return f"last {len(rows)} calls: {marks}  ({counts})" if rows else "last calls: none yet"


# -- budget bars ---------------------------------------------------------------------------------------------

BUDGET_WIDTH, BUDGET_HEIGHT = 260, 16


def budget_svg(spent: float, cap: float, level: str, label: str) -> str:
    """A budget bar: the track, the spent share in the level's colour (success, warning, danger); hover: ``label``."""
    share = min(max(spent / cap, 0.0), 1.0) if cap > 0 else 1.0
    color = LEVEL_COLORS.get(level, LEVEL_COLORS["danger"])
    body = (
        f'<rect x="0" y="3" width="{BUDGET_WIDTH}" height="10" rx="2" fill="{INK}" fill-opacity="0.25">'
        f"<title>{clean_text(label, 200)}</title></rect>"
        f'<rect class="o4-spent" x="0" y="3" width="{BUDGET_WIDTH * share:.1f}" height="10" rx="2" fill="{color}">'
        f"<title>{clean_text(label, 200)}</title></rect>"
    )
    return _svg(BUDGET_WIDTH, BUDGET_HEIGHT, label, body, "budget")


# -- embedding -----------------------------------------------------------------------------------------------


def as_image(svg: str) -> str:
    """``svg`` as an ``<img>`` data URL (the static copy: kept by sanitizers that drop inline SVG), with its
    label as the image's alternative text and title."""
    start = svg.index('aria-label="') + len('aria-label="')
    label = svg[start : svg.index('"', start)]
    width = svg.split('width="', 1)[1].split('"', 1)[0]
    height = svg.split('height="', 1)[1].split('"', 1)[0]
    standalone = svg.replace("<svg ", f'<svg xmlns="{SVG_NAMESPACE}" ', 1)  # an image is XML: it needs one
    data = base64.b64encode(standalone.encode("utf-8")).decode("ascii")
    return (
        f'<img src="data:image/svg+xml;base64,{data}" width="{width}" height="{height}" alt="{label}" '
        f'title="{label}">'
    )


def chart_row(svgs: Sequence[str], image: bool = False) -> str:
    """Charts side by side (wrapping on narrow outputs), inline or as images."""
    if not svgs:
        return ""
    shown = [as_image(svg) if image else svg for svg in svgs]
    cells = "".join(f'<div style="margin:2px 18px 4px 0">{chart}</div>' for chart in shown)
    return f'<div class="o4-charts" style="display:flex;flex-wrap:wrap;align-items:flex-start">{cells}</div>'


def summary_page(title: str, body: str) -> str:
    """A standalone HTML page (the ``--csv`` export's companion summary): ``body`` under an escaped title."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{clean_text(title, 200)}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
        '<body style="font-family:sans-serif;font-size:13px;margin:16px;color:#222;background:#fff">'
        f"{body}</body></html>\n"
    )


__all__ = [
    "DailySpend",
    "MAX_CALLS",
    "MAX_DAYS",
    "as_image",
    "budget_svg",
    "calls_svg",
    "calls_text",
    "chart_row",
    "clean_text",
    "daily_spend",
    "daily_svg",
    "daily_text",
    "day_window",
    "summary_page",
]
