"""Untrusted replies render inert: nothing loads by itself, nothing runs, links say where they go."""

from __future__ import annotations

import pytest
from corpus.model import inert_problems, visible_text
from corpus.untrusted import PAYLOADS

from o4_magics.display.markdown import to_display_markdown
from o4_magics.display.sanitize import deceptive_host, image_verdict, link_is_safe, safe_html

LEAK = "http://127.0.0.1:9/leak"
FRONTENDS = ("jupyterlab", "vscode")


def render(markdown: str, *, any_link: bool = False) -> str:
    """HTML from markdown-it-py itself (CommonMark with raw HTML on, GFM tables), as a trusting frontend would;
    ``any_link``: also keep links markdown-it-py would refuse (marked, in JupyterLab, refuses none)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    if any_link:
        md.validateLink = lambda url: True
    return md.render(markdown)


def test_the_payloads_are_live_without_us():
    """Rendered as they are, nearly every payload loads or runs something (so the test below means it)."""
    live = [p["id"] for p in PAYLOADS if inert_problems(render(p["reply"].format(leak=LEAK), any_link=True))]
    assert len(live) >= 38, sorted({p["id"] for p in PAYLOADS} - set(live))


@pytest.mark.parametrize("frontend", FRONTENDS)
@pytest.mark.parametrize("payload", PAYLOADS, ids=[payload["id"] for payload in PAYLOADS])
def test_payload_renders_inert(payload, frontend):
    reply = payload["reply"].format(leak=LEAK)
    markdown = to_display_markdown(reply, frontend=frontend)
    html = render(markdown)
    assert inert_problems(html) == [], (markdown, html)
    assert 'href="javascript' not in html.lower() and 'href="data:text' not in html.lower()
    text = visible_text(html)
    for visible in payload["visible"]:
        assert visible in text, (visible, text)


def test_markdown_image_becomes_a_link_naming_its_host():
    out = to_display_markdown("![chart](http://example.com/c.png)")
    assert out == "[image: chart — example.com](<http://example.com/c.png>)"


def test_images_from_allowed_hosts_and_small_data_images_stay():
    assert to_display_markdown(
        "![c](https://img.example.com/c.png)", allowed_image_hosts=("example.com",)
    ) == ("![c](<https://img.example.com/c.png>)")
    small = "data:image/png;base64," + "A" * 100
    assert to_display_markdown(f"![dot]({small})").startswith("![dot](<data:image/png")
    big = "data:image/png;base64," + "A" * 400_000
    assert "not shown" in to_display_markdown(f"![big]({big})")
    assert "not shown" in to_display_markdown("![s](data:image/svg+xml;base64,PHN2Zz4=)")
    assert "not shown" in to_display_markdown(f"![dot]({small})", data_image_max_bytes=10)


def test_deceptive_link_shows_the_real_host():
    out = to_display_markdown("[paypal.com](http://evil.example/x)")
    assert out == "[paypal.com](<http://evil.example/x>) (evil.example)"
    assert to_display_markdown("[PayPal](https://www.paypal.com/x)") == "[PayPal](<https://www.paypal.com/x>)"
    assert to_display_markdown("[docs.python.org](https://docs.python.org/3/)").endswith(">)")
    assert "(xn--" in to_display_markdown("[paypal.com](http://pаypal.com/)")  # Cyrillic a: punycode shown


def test_dangerous_links_become_text():
    for url in (
        "javascript:alert(1)",
        "&#x6A;avascript:alert(1)",
        "vbscript:x",
        "data:text/html,x",
        "file:///etc",
    ):
        out = to_display_markdown(f"[click]({url})")
        assert out == "\\[click\\]", (url, out)


def test_sanitize_policy():
    assert link_is_safe("https://a.b/") and link_is_safe("/relative") and link_is_safe("#anchor")
    assert not link_is_safe(" JaVaScRiPt:alert(1)") and not link_is_safe("java\tscript:alert(1)")
    assert deceptive_host("see paypal.com", "https://evil.example/") == "evil.example"
    assert deceptive_host("click here", "https://evil.example/") == ""
    assert image_verdict("https://x.org/a.png", (), 10) == "link"
    assert safe_html('<b onclick="x">hi</b><script>alert(1)</script><img src=x>') == "<b>hi</b>"
    assert safe_html('<details open ontoggle="x"><summary>s</summary>b</details>') == (
        "<details><summary>s</summary>b</details>"
    )
