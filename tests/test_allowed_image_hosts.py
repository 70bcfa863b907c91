"""``O4Magics.allowed_image_hosts``: a reply's image from an allowed host (and port) is shown; any other image
stays a link that names its host. In the markdown itself, through ``%%o4`` and the chat, and in the HTML that
ipywidgets 7 bubbles draw (Colab, classic Notebook). The browser check is tests/browser/test_untrusted_replies.py.
"""

from __future__ import annotations

import pytest
from conftest import final_markdown, type_and_send

from o4_magics.display.markdown import to_display_markdown

ALLOWED = "http://127.0.0.1:8765/ok.png"
SAME_HOST_OTHER_PORT = "http://127.0.0.1:9/no.png"
OTHER_HOST = "http://127.0.0.2:8765/no.png"
REPLY = f"Allowed ![ok]({ALLOWED}), same host ![p]({SAME_HOST_OTHER_PORT}), other ![o]({OTHER_HOST})."


def shown_images(markdown: str) -> list[str]:
    """The image URLs the markdown would load (``![alt](<url>)``, as our renderer writes them)."""
    found, start = [], markdown.find("![")
    while start != -1:
        opener = markdown.find("](<", start)
        if opener != -1:
            found.append(markdown[opener + 3 : markdown.find(">)", opener)])
        start = markdown.find("![", start + 2)
    return found


@pytest.mark.parametrize(
    ("entry", "loads"),
    [
        ("127.0.0.1:8765", [ALLOWED]),  # host and port: that port only
        ("127.0.0.1", [ALLOWED, SAME_HOST_OTHER_PORT]),  # a host alone: any port
        ("http://127.0.0.1:8765/", [ALLOWED]),  # written as a URL
        ("  127.0.0.1:8765 ", [ALLOWED]),
        ("127.0.0.1:8766", []),
        ("", []),
        ("not a host:port:x", []),
    ],
)
def test_an_entry_allows_its_host_and_port(entry, loads):
    out = to_display_markdown(REPLY, allowed_image_hosts=(entry,))
    assert shown_images(out) == loads
    for url in {ALLOWED, SAME_HOST_OTHER_PORT, OTHER_HOST} - set(loads):  # the others: links naming the host
        host = url.split("/")[2].split(":")[0]
        assert f"— {host}](<{url}>)" in out, out


def test_subdomains_but_no_lookalikes_or_parser_tricks():
    allowed = ("example.com",)
    cases = {
        "https://img.example.com/a.png": True,
        "https://example.com:8443/a.png": True,
        "https://example.com.evil.net/a.png": False,
        "https://evilexample.com/a.png": False,
        "https://example.com@evil.net/a.png": False,  # user info: the host is evil.net
        "https://evil.net/?example.com": False,
        "https://evil.net#.example.com": False,
        "https://example.com:notaport/a.png": False,
    }
    for url, loads in cases.items():
        out = to_display_markdown(f"![x]({url})", allowed_image_hosts=allowed)
        assert bool(shown_images(out)) == loads, (url, out)
    # In an HTML tag the URL is not normalized by markdown: a backslash (a "/" to browsers, so "evil.net"
    # would be the host) or a tab never counts as the allowed host.
    for src in ("https://evil.net\\@example.com/a.png", "https://evil.net\t@example.com/a.png"):
        out = to_display_markdown(f'See <img src="{src}">.', allowed_image_hosts=allowed)
        assert shown_images(out) == [], out
    # An inline <img> from an allowed host becomes a markdown image, its other attributes gone.
    out = to_display_markdown(
        'See <img src="https://img.example.com/b.png" onerror="x()">.', allowed_image_hosts=allowed
    )
    assert shown_images(out) == ["https://img.example.com/b.png"] and "onerror" not in out, out
    # An image inside a link is never shown (the link's URL is what a click opens).
    assert (
        shown_images(
            to_display_markdown(
                "[![x](https://example.com/a.png)](https://example.com)", allowed_image_hosts=allowed
            )
        )
        == []
    )


def test_the_magic_and_the_chat_use_the_setting(shell, o4_emulator, make_chat):
    shell.run_line_magic("config", "O4Magics.allowed_image_hosts = ['127.0.0.1:8765']")
    o4_emulator.queue_reply(REPLY)
    _, captured = shell.run("%%o4\nShow the pictures")
    assert shown_images(final_markdown(captured)) == [ALLOWED]

    chat = make_chat()
    o4_emulator.queue_reply(REPLY)
    type_and_send(chat, "And here?")
    assert shown_images(chat.messages()[-1][1]) == [ALLOWED]

    shell.run_line_magic("config", "O4Magics.allowed_image_hosts = []")
    o4_emulator.queue_reply(REPLY)
    _, captured = shell.run("%%o4\nAgain")
    assert shown_images(final_markdown(captured)) == []


def test_ipywidgets_7_bubbles_draw_only_the_allowed_image():
    """Colab's and classic Notebook's bubbles render the markdown to HTML in Python (``bundle_html``)."""
    from o4_magics.widgets.chat_view import bundle_html

    markdown = to_display_markdown(REPLY, allowed_image_hosts=("127.0.0.1:8765",))
    html = bundle_html({"text/markdown": markdown})
    assert html.count("<img") == 1 and f'src="{ALLOWED}"' in html, html
    assert f'href="{OTHER_HOST}"' in html and f'href="{SAME_HOST_OTHER_PORT}"' in html
