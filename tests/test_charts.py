"""The usage panel's charts (#16): spend per day and the last calls by status, drawn as small SVG in the live
panel, as images in its static copy, inline in the --csv summary page, and as text in terminals; safe with
hostile names, bounded whatever the ledger holds."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import pytest

from o4_magics.accounting.money import format_cost
from o4_magics.store.ledger import UsageRow
from o4_magics.widgets import charts, usage_panel
from o4_magics.widgets.charts import PLOT_BOTTOM, PLOT_TOP

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
SVG_NS = "{http://www.w3.org/2000/svg}"
ALLOWED_TAGS = {"svg", "g", "rect", "line", "text", "title"}
ALLOWED_ATTRIBUTES = {
    "class", "width", "height", "viewBox", "role", "aria-label", "font-family", "font-size", "x", "y", "x1",
    "y1", "x2", "y2", "fill", "fill-opacity", "stroke", "stroke-width", "text-anchor", "rx", "data-status",
}  # fmt: skip
FULL = PLOT_BOTTOM - PLOT_TOP


def svgs(html: str) -> list[ET.Element]:
    """Every inline <svg> in ``html``, parsed (it must be well-formed XML)."""
    return [ET.fromstring(found) for found in re.findall(r"<svg\b.*?</svg>", html, flags=re.S)]


def images(html: str) -> list[str]:
    """The SVG text of every data-URL image in ``html``."""
    found = re.findall(r'<img src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', html)
    return [base64.b64decode(data).decode("utf-8") for data in found]


def bars(svg: ET.Element) -> list[ET.Element]:
    return [
        rect for rect in svg.iter() if rect.tag.split("}")[-1] == "rect" and rect.get("class") == "o4-bar"
    ]


def tip(element: ET.Element) -> str:
    return next(child.text for child in element if child.tag.split("}")[-1] == "title")


def height(rect: ET.Element) -> float:
    return float(rect.get("height"))


def by_kind(html: str) -> dict[str, ET.Element]:
    return {svg.get("class").split()[-1].removeprefix("o4-"): svg for svg in svgs(html)}


def test_the_last_calls_are_bars_marked_by_status(shell, magics, o4_emulator, panels):
    shell.run("%o4 -n --cache Explain PCA")
    shell.run("%o4 -n --cache Explain PCA")  # replayed: cached
    shell.run("%o4 no credits [[status:402]]")
    magics.budget_usd = 0.000001
    shell.run("%o4 refused by the budget")
    magics.budget_usd = None
    shell.run("%o4 -t side [[long:300]] a longer one")
    shell.run("%o4_usage")
    (panel,) = panels
    calls = by_kind(panel.charts_html.value)["calls"]
    rows = magics.session.ledger.recent(limit=20)[::-1]  # oldest first, as drawn left to right
    drawn = bars(calls)
    assert [rect.get("data-status") for rect in drawn] == [row.status for row in rows]
    assert [row.status for row in rows] == ["ok", "cached", "error", "refused", "ok"]
    assert [rect.get("fill") for rect in drawn] == [charts.STATUS_COLORS[row.status] for row in rows]
    for rect, row in zip(drawn, rows, strict=True):
        assert f"{format_cost(row.cost_usd)}, {row.status}" in tip(rect) and row.model in tip(rect)
    assert "thread side" in tip(drawn[-1])
    top = max(rows, key=lambda row: row.cost_usd)
    assert height(drawn[rows.index(top)]) == pytest.approx(FULL, abs=0.1)
    assert [height(rect) for rect, row in zip(drawn, rows, strict=True) if not row.cost_usd] == [
        2.0,
        2.0,
        2.0,
    ]
    legend = [
        " ".join(t.text for t in key.iter() if t.tag == "text")
        for key in calls.iter()
        if key.get("class") == "o4-key"
    ]
    assert legend == ["ok 2", "cached 1", "error 1", "refused 1"]
    daily = by_kind(panel.charts_html.value)["daily"]
    (today,) = bars(daily)
    total = sum(row.cost_usd for row in rows)
    assert tip(today) == f"{datetime.now(timezone.utc).date()}: 5 calls, {format_cost(total)}"


def test_spend_per_day_one_bar_a_day_with_calls_within_the_last_30_days(shell, magics, panels):
    today = datetime.now(timezone.utc).replace(hour=0, minute=30, second=0, microsecond=0)
    notebook, ledger = magics.session.notebook(), magics.session.ledger
    for days_ago, cost in ((0, 0.01), (0, 0.02), (3, 0.05), (29, 0.001), (30, 7.0), (45, 9.0)):
        ledger.record(
            UsageRow(notebook=notebook, model="m", cost_usd=cost, ts=today - timedelta(days=days_ago))
        )
    ledger.record(UsageRow(notebook="another.ipynb", model="m", cost_usd=5.0, ts=today))
    shell.run("%o4_usage")
    daily = by_kind(panels[-1].charts_html.value)["daily"]
    drawn = bars(daily)
    day = lambda ago: (today - timedelta(days=ago)).date().isoformat()  # noqa: E731
    assert [tip(rect) for rect in drawn] == [
        f"{day(29)}: 1 call, $0.00100",
        f"{day(3)}: 1 call, $0.05000",
        f"{day(0)}: 2 calls, $0.03000",
    ]  # 30 and 45 days ago are out of the window; another notebook's day is not this one's
    assert [height(rect) for rect in drawn] == pytest.approx(
        [max(2.0, FULL * 0.02), FULL, FULL * 0.6], abs=0.1
    )
    slot = charts.WIDTH / charts.MAX_DAYS
    assert [round(float(rect.get("x")) / slot - 0.15) for rect in drawn] == [0, 26, 29]  # each on its day
    shell.run(f"%o4_usage --since {day(3)}")
    assert len(bars(by_kind(panels[-1].charts_html.value)["daily"])) == 2
    shell.run("%o4_usage --all")
    assert tip(bars(by_kind(panels[-1].charts_html.value)["daily"])[-1]) == f"{day(0)}: 3 calls, $5.03"


def test_the_charts_stay_small_whatever_the_ledger_holds(shell, magics, panels):
    now = datetime.now(timezone.utc)
    ledger = magics.session.ledger
    for index in range(400):
        ledger.record(
            UsageRow(notebook=magics.session.notebook(), model="m" * 5000, thread="t" * 5000,
                     cost_usd=0.001 * (index % 7), ts=now - timedelta(hours=index * 5))
        )  # fmt: skip
    shell.run("%o4_usage")
    html = panels[-1].charts_html.value
    found = by_kind(html)
    assert len(bars(found["calls"])) == charts.MAX_CALLS
    assert len(bars(found["daily"])) == charts.MAX_DAYS
    assert len(html) < 24_000, len(html)
    assert all(len(tip(rect)) <= 200 for rect in bars(found["calls"]))


HOSTILE = [
    '<script>alert(1)</script>',
    ']]><img src=x onerror=alert(1)><![CDATA[',
    '" onmouseover="alert(1)',
    "evil\x00\x01\x1b[31m\u202egnp.exe\ud800\ufffe",
    "javascript:alert(1)",
    "x" * 1_000_000,
]  # fmt: skip


def test_svg_is_inert_and_well_formed_with_hostile_names():
    rows = [
        UsageRow(
            model=name, thread=name, source=name, status=status, cost_usd=0.001, ts="2025-06-01T10:00:00Z"
        )
        for name in HOSTILE
        for status in ("ok", "error", name[:20])
    ]
    spend = charts.daily_spend(
        [{"day": "2025-06-01", "calls": 3, "cost_usd": 0.5}], datetime(2025, 5, 20).date(),
        datetime(2025, 6, 1).date(), title=HOSTILE[0],
    )  # fmt: skip
    started = time.monotonic()
    drawn = [
        charts.calls_svg(rows, when=lambda ts: HOSTILE[1]),
        charts.daily_svg(spend),
        charts.budget_svg(1.0, 2.0, "warning", HOSTILE[2]),
    ]
    assert time.monotonic() - started < 0.5  # a 1 MB name is cut first, not scanned
    for svg in drawn:
        for parsed in (ET.fromstring(svg), ET.fromstring(images(charts.as_image(svg))[0])):
            for element in parsed.iter():
                assert element.tag.replace(SVG_NS, "") in ALLOWED_TAGS, element.tag
                assert set(element.attrib) - {"xmlns"} <= ALLOWED_ATTRIBUTES, element.attrib  # no on*=, href
                assert not any("url(" in value for value in element.attrib.values())
        assert re.search(r"<(?!/?(svg|g|rect|line|text|title)[\s>/])", svg) is None  # no other markup
        assert "\x00" not in svg and "\u202e" not in svg and len(svg) < 20_000
    (parsed,) = [ET.fromstring(drawn[0])]
    assert any("<script>alert(1)</script>" in (tip(rect) or "") for rect in bars(parsed))  # shown as text


def test_the_static_copy_has_the_same_pictures_as_images(shell, magics, o4_emulator, panels):
    shell.run("%o4 hi")
    shell.run("%o4 fails [[status:402]]")
    magics.budget_usd = 0.01
    _, captured = shell.run("%o4_usage")
    (panel,) = panels
    static = next(out.data for out in captured.outputs if WIDGET_VIEW in out.data)["text/html"]
    assert "<svg" not in static  # an untrusted notebook's sanitizer would drop inline SVG (and keep <img>)
    pictures = images(static)
    assert len(pictures) == 3  # the budget bar, spend per day, the last calls
    budget, daily, calls = (ET.fromstring(svg) for svg in pictures)
    assert budget.tag == f"{SVG_NS}svg" and "o4-budget" in budget.get("class")
    live = panel.charts_html.value
    assert [svg.replace(f' xmlns="{charts.SVG_NAMESPACE}"', "") for svg in pictures[1:]] == re.findall(
        r"<svg\b.*?</svg>", live, flags=re.S
    )
    spent = magics.session.spent()
    assert float(budget.find(f"{SVG_NS}rect[@class='o4-spent']").get("width")) == pytest.approx(
        charts.BUDGET_WIDTH * spent / 0.01, abs=0.1
    )
    assert 'alt="last 2 calls, cost by status: ok 1, error 1"' in static


def test_csv_export_writes_a_summary_page_beside_it(shell, magics, o4_emulator, tmp_path, monkeypatch):
    shell.run("%o4 hi")
    shell.run("%o4 fails [[status:402]]")
    path = tmp_path / "calls.csv"
    _, captured = shell.run(f"%o4_usage --csv {path}")
    summary = tmp_path / "calls.summary.html"
    assert captured.stdout.strip() == f"o4: wrote 2 calls to {path}, and a summary with charts to {summary}"
    page = summary.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "per model" in page and "last 2 calls" in page
    found = by_kind(page)
    assert set(found) == {"daily", "calls"} and len(bars(found["calls"])) == 2
    assert "<script" not in page and not re.search(r"\b(src|href)=", page)  # nothing runs, nothing loads
    monkeypatch.setenv("JUPYTERHUB_USER", "ada")
    shell.run(f"%o4_usage --team --csv {tmp_path / 'team.csv'}")
    team = (tmp_path / "team.summary.html").read_text(encoding="utf-8")
    assert "the whole team" in team and "team spend per day (UTC)" in team and len(svgs(team)) == 1


def test_terminal_text_draws_the_charts_as_characters(shell, magics, o4_emulator, monkeypatch):
    monkeypatch.setattr(usage_panel, "is_terminal", lambda shell: True)
    shell.run("%o4 hi")
    shell.run("%o4 fails [[status:402]]")
    shell.run("%o4 -n --max-tokens 20 [[long:50]] short")
    _, captured = shell.run("%o4_usage")
    lines = captured.stdout.splitlines()
    (daily,) = [line for line in lines if line.startswith("spend per day (UTC): ")]
    assert daily.endswith(
        f"total {format_cost(magics.session.spent())}, top {format_cost(magics.session.spent())}"
    )
    assert daily.count("·") == charts.MAX_DAYS - 1 and "█" in daily
    (calls,) = [line for line in lines if line.startswith("last 3 calls: ")]
    marks = calls.split()[3]
    assert marks[:2] == "█×" and marks[2] in "▁▂" and calls.endswith("(ok 2, error 1)")  # oldest first


def test_the_team_report_draws_budget_bars_and_the_teams_days(shell, magics, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", "ada")
    ledger = magics.session.ledger
    for user, cost in (("ada", 0.5), ("grace", 1.0)):
        ledger.record(UsageRow(notebook="a.ipynb", user=user, model="m", cost_usd=cost))
    magics.user_budget_usd, magics.team_budget_usd = 2.0, 10.0
    _, captured = shell.run("%o4_usage --team")
    (shown,) = [out.data for out in captured.outputs]
    found = svgs(shown["text/html"])
    assert [svg.get("class") for svg in found] == ["o4-chart o4-budget"] * 2 + ["o4-chart o4-daily"]
    (today,) = bars(found[2])
    assert tip(today).endswith(": 2 calls, $1.50")
    spent = [float(svg.find("rect[@class='o4-spent']").get("width")) for svg in found[:2]]
    assert spent == pytest.approx([charts.BUDGET_WIDTH * 0.25, charts.BUDGET_WIDTH * 0.15], abs=0.1)
    assert "team spend per day (UTC): " in shown["text/plain"]


def test_the_charts_module_is_light():
    code = (
        "import sys, o4_magics.widgets.charts, o4_magics.widgets.usage_tables; "
        "print(sorted(m for m in ('ipywidgets', 'matplotlib', 'pandas', 'numpy', 'openai', 'PIL') if m in sys.modules))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"
