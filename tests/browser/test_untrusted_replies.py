"""The exfiltration and injection payloads (tests/corpus/untrusted.py, plus MathJax ones here) on the real paths,
in JupyterLab and Notebook 7 in headless Chromium, against a local server that logs every request:

(a) each payload is a ``%%o4`` reply (the emulator answers what follows ``[[verbatim]]``, so it is the prompt
too); (c) each sits in tool results (a dataframe cell and a dict the model describes with ``%%o4 --tools``),
which the collapsed tool lines hold and the answer quotes; (d) a dry run shows them all in its prompt;
(b) the chat shows every turn above (each payload as the user's message and as the reply), then the test
sends the payloads typed in the chat, an Agent-mode question whose tool results hold them, and a last
message, so the chat draws its whole conversation again; a cell run after that redraws the chat once more.

Asserted: the logging server got no request, no handler ran (``document.title`` is unchanged, no dialog),
nothing in the rendered outputs could load or run by itself (lab.INERT_PROBLEMS), and each payload's text
is readable. Then ``O4Magics.allowed_image_hosts``: an image from the allowed host and port loads (the
allowed server sees exactly that request), the others do not.
"""

from __future__ import annotations

import json
import time

import pytest
from corpus.untrusted import PAYLOADS

from .conftest import ARTIFACTS
from .lab import (
    INERT_PROBLEMS,
    NOTEBOOK,
    PAYLOADS_FILE,
    UNTRUSTED_CELLS,
    LoggingServer,
    chat_send,
    code_cell,
    code_cell_count,
    open_url,
    payload_texts,
    run_all,
    run_new_cell,
    save_picture,
    wait_all_executed,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

#: TeX a reply may carry that MathJax could turn into a fetch, a style or a script link. JupyterLab's MathJax 3
#: (and classic's MathJax 2) run with their Safe extension, which stops \\style, \\href{javascript:} and the
#: like, but not the font of \\unicode or \\mmlToken, which went into a style attribute as typed (a fetch from
#: JupyterLab before display/markdown.py defused them); MathJax also typesets delimiters it finds in the page's
#: text (an HTML block, escaped backslashes). For ``str.format``: {leak}, and {leak_relative} without its scheme
#: (a URL no autolinker turns into a link).
MATH_PAYLOADS: list[dict] = [
    {
        "id": "math-unicode-font",
        "reply": "Math \\(\\unicode[x;background-image:url({leak}/unicode)]{{x41}}\\) end",
        "visible": ["Math", "end"],
    },
    {
        "id": "math-mmltoken-font",
        "reply": "Math $\\mmlToken{{mi}}[fontfamily='x;background-image:url({leak}/mmltoken)']{{x}}$ end",
        "visible": ["Math", "end"],
    },
    {
        "id": "math-display-unicode",
        "reply": "$$\\unicode[x;background-image:url({leak}/display)]{{x41}}$$\n\nafter",
        "visible": ["after"],
    },
    {
        "id": "math-align-unicode",
        "reply": "\\begin{{align}}\n\\unicode[x;background-image:url({leak}/align)]{{x41}}\n\\end{{align}}\n\nafter",
        "visible": ["after"],
    },
    {
        "id": "math-in-html-block",
        "reply": "<div>\\(\\unicode[x;background-image:url({leak}/html-block)]{{x41}}\\)</div>\n\nafter",
        "visible": ["after"],
    },
    {
        "id": "math-escaped-delimiters",
        "reply": "Text \\\\(\\unicode[x;background-image:url({leak_relative}/escaped)]{{x41}}\\\\) end",
        "visible": ["Text", "end"],
    },
    {
        "id": "math-style-url",
        "reply": "Math \\(\\style{{background-image:url({leak}/mj-style)}}{{x}}\\) end",
        "visible": ["Math", "end"],
    },
    {
        "id": "math-href-js",
        "reply": "See $\\href{{javascript:document.title='PWNED'}}{{c}}$ now",
        "visible": ["now"],
    },
]
ALL_PAYLOADS = PAYLOADS + MATH_PAYLOADS
#: A chat message's steering text after the payloads (the emulator reads markers before [[verbatim]] only).
THANKS = "Thanks, that is all."


def outputs_text(cell) -> list[str]:
    """The text of each output of a cell, in order (JupyterLab and Notebook 7); a collapsed ``<details>``
    counts as readable (a click opens it)."""
    return cell.locator(".jp-OutputArea-output").all_text_contents()


def unreadable(texts: list[str], payloads: list[dict]) -> list[str]:
    assert len(texts) == len(payloads), "\n".join(t.splitlines()[0][:60] for t in texts)
    return [
        f"{payload['id']}: {visible!r} not in {text!r}"
        for payload, text in zip(payloads, texts, strict=True)
        for visible in payload["visible"]
        if visible not in text
    ]


def show_all_outputs(page) -> None:
    """Click every "Show more outputs" (JupyterLab shows a cell's first 50 outputs), as a reader would."""
    more = page.locator(f"{NOTEBOOK} .jp-TrimmedOutputs")
    while more.count():
        more.first.click()
        page.wait_for_timeout(200)


def chat_reply_done(chat, replies: int, timeout: float = 60_000) -> None:
    """Wait until the chat shows ``replies`` finished replies of its own (they end with a footer; the turns
    made by ``%%o4`` show without one)."""
    chat.page.wait_for_function(
        """([cell, n]) => cell.querySelectorAll('.o4-chat-assistant sub').length >= n
             && !cell.querySelector('.o4-chat-assistant .jp-RenderedMarkdown')?.textContent.includes('▌')""",
        arg=[chat.element_handle(), replies],
        timeout=timeout,
        polling=200,
    )


def run_payload_notebook(page, lab, leak: LoggingServer, name: str, url: str, payloads: list[dict]) -> dict:
    """Run the payload notebook at ``url``, drive its chat, run one more cell; what the page showed."""
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    (lab.root / PAYLOADS_FILE).write_text(json.dumps(payload_texts(f"{leak.base}/leak", payloads)))
    lab.add_notebook(name, UNTRUSTED_CELLS)
    lab.start_kernel(name)
    open_url(page, url)
    title = page.title()
    started = time.monotonic()
    run_all(page)
    wait_all_executed(page, code_cell_count(lab.root / name), timeout=120_000)
    ran = time.monotonic() - started
    show_all_outputs(page)

    chat = code_cell(page, "%o4_chat")
    page.wait_for_function(  # the thread's turns are drawn
        "([cell, n]) => cell.querySelectorAll('.o4-chat-assistant').length >= n",
        arg=[chat.element_handle(), len(payloads)],
    )
    texts = payload_texts(f"{leak.base}/leak", payloads)
    # (b) the payloads typed as one message; its reply is the same text
    chat_send(chat, "[[verbatim]]" + "\n\n".join(texts))
    chat_reply_done(chat, 1)
    # (c) Agent mode: the model describes each dict; the tool lines and the answer hold the payloads
    chat.get_by_role("button", name="Agent").click()
    calls = "|".join(f'describe:{{"name": "d{i}"}}' for i in range(len(payloads)))
    chat_send(chat, f"Describe them [[call:{calls}]]")
    chat_reply_done(chat, 2)
    chat.get_by_role("button", name="Agent").click()
    # a last message: the chat draws the conversation again
    chat_send(chat, THANKS)
    chat_reply_done(chat, 3)
    # a cell run after the chat updates its static copy, and the frontend draws the chat afresh
    run_new_cell(page, "1 + 1")
    wait_all_executed(page, code_cell_count(lab.root / name) + 1)
    chat = code_cell(page, "%o4_chat")
    chat_reply_done(chat, 3)
    page.wait_for_timeout(1500)  # anything a payload could load has had time to ask
    stem = name.removesuffix(".ipynb")
    save_picture(chat, ARTIFACTS / f"{stem}-chat.png")
    tools = code_cell(page, "for i in range(len(payloads)):").locator(".jp-OutputArea-output")
    save_picture(tools.first, ARTIFACTS / f"{stem}-tools.png")
    return {
        "title_before": title,
        "title": page.title(),
        "dialogs": dialogs,
        "problems": page.locator(NOTEBOOK).evaluate(INERT_PROBLEMS),
        "replies": outputs_text(code_cell(page, "for payload in payloads:")),
        "tools": outputs_text(code_cell(page, "for i in range(len(payloads)):")),
        "dry_run": "\n".join(outputs_text(code_cell(page, "--dry-run"))),
        "chat": chat.inner_text(),
        "chat_messages": chat.locator(".o4-chat-user, .o4-chat-assistant").count(),
        "seconds": ran,
    }


def check_page(seen: dict, leak: LoggingServer, payloads: list[dict]) -> None:
    texts = payload_texts(f"{leak.base}/leak", payloads)
    assert leak.paths == [], leak.paths  # nothing reached the attacker's server
    assert seen["title"] == seen["title_before"] and "PWNED" not in seen["title"]
    assert seen["dialogs"] == []
    assert seen["problems"] == [], "\n".join(seen["problems"])
    assert unreadable(seen["replies"], payloads) == []
    assert all("openai/o4-mini" in text for text in seen["replies"])
    tools = [text for text in seen["tools"] if text.strip()]
    assert len(tools) == len(payloads) and all("From the tools:" in text for text in tools)
    assert "Dry run: nothing was sent" in seen["dry_run"] and texts[0] in seen["dry_run"]
    chat = seen["chat"]
    missing = [f"{p['id']}: {v!r}" for p in payloads for v in p["visible"] if v not in chat]
    assert missing == []
    # every turn of the notebook's main thread, then the three sent from the chat, with their replies
    assert seen["chat_messages"] == 2 * (len(payloads) + 3), seen["chat_messages"]
    assert "From the tools:" in chat and "looked at d0" in chat and THANKS in chat


@pytest.fixture
def leak() -> object:
    with LoggingServer() as server:
        yield server


def test_payloads_on_every_path_in_jupyterlab(lab, emulator, page, leak, artifacts):
    before = len(emulator.chat_requests)
    name = "untrusted-replies.ipynb"
    seen = run_payload_notebook(page, lab, leak, name, lab.url(name, "untrusted"), ALL_PAYLOADS)
    page.screenshot(path=str(artifacts / "untrusted-replies-jupyterlab.png"), full_page=True)
    check_page(seen, leak, ALL_PAYLOADS)
    # per payload a reply, and a tool question's two steps; the chat: its message, Agent mode's two steps, the
    # last message
    assert len(emulator.chat_requests) - before == 3 * len(ALL_PAYLOADS) + 4
    print(f"JupyterLab: the notebook ran in {seen['seconds']:.1f} s")


def test_payloads_on_every_path_in_notebook7(lab, page, leak, artifacts):
    pytest.importorskip("notebook", reason="Notebook 7 is not installed (pip install 'notebook>=7,<8')")
    name = "untrusted-replies-nb7.ipynb"
    url = f"{lab.base}/notebooks/{name}?token={lab.token}"
    seen = run_payload_notebook(page, lab, leak, name, url, ALL_PAYLOADS)
    page.screenshot(path=str(artifacts / "untrusted-replies-notebook7.png"), full_page=True)
    check_page(seen, leak, ALL_PAYLOADS)
    print(f"Notebook 7: the notebook ran in {seen['seconds']:.1f} s")


def test_an_allowed_image_host_loads_and_no_other(lab, page, leak, artifacts):
    with LoggingServer() as allowed:
        reply = (
            f"Allowed ![ok]({allowed.base}/ok.png), denied ![no]({leak.base}/leak/denied.png) "
            f'and <img src="{leak.base}/leak/denied-html.png">.'
        )
        cells = [
            "%load_ext o4_magics",
            f"%config O4Magics.allowed_image_hosts = ['127.0.0.1:{allowed.port}']",
            f"%%o4 --no-interp\n[[verbatim]]{reply}",
        ]
        name = lab.add_notebook("allowed-image-host.ipynb", cells)
        lab.start_kernel(name)
        open_url(page, lab.url(name, "allowed-image"))
        run_all(page)
        wait_all_executed(page, len(cells))
        image = code_cell(page, "[[verbatim]]").locator(".jp-OutputArea-output img")
        image.wait_for(timeout=20_000)
        page.wait_for_function("(img) => img.complete && img.naturalWidth === 1", arg=image.element_handle())
        page.wait_for_timeout(1000)
        assert allowed.paths == ["/ok.png"]
        assert leak.paths == []
        text = code_cell(page, "[[verbatim]]").locator(".jp-OutputArea-output").inner_text()
        assert "image: no — 127.0.0.1" in text and "image — 127.0.0.1" in text, text
        assert image.count() == 1
