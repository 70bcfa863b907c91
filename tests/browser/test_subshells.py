"""The chat's Stop and Send while a cell runs (issue #17 F5), in headless Chromium against the emulator.

Widget events are comm messages. In JupyterLab 4.4+ with ipykernel 7 they go to a kernel subshell (JupyterLab
PR #17363), and the chat keeps ipykernel 7.4 from sending its controls' messages back to the main shell
(``route_to_sender``), so they are handled while the main thread runs a cell: Stop, clicked during
``time.sleep(6)``, stops the streaming reply at once, and Send during a streaming ``%%o4`` cell goes out at once
(the test watches the emulator, which runs in this process). Classic Notebook 6.5 (Colab's package set,
ipykernel 6.17, no subshells) queues them behind the running cell: Stop acts when the cell ends, and the chat
says so.
"""

from __future__ import annotations

import time

import pytest

from .lab import (
    NOTEBOOK,
    chat_send,
    code_cell,
    open_notebook,
    run_all,
    run_new_cell,
    run_notebook,
    wait_all_executed,
)
from .test_classic_notebook import _ALL_EXECUTED, _KERNEL_READY, cell, classic  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

SLOW_REPLY = "Tell me a long story [[slow:0.1]][[long:200]]"  # ~20 s of streaming
SLEEP = "import time\ntime.sleep(6)\nprint('slept')"  # long enough that "still running" is a clear test
SLOW_CELL = "%%o4\nStream for a while [[slow:0.1]][[long:120]]"
DURING = "Are you there while the cell streams?"
#: Well before the 6 s cell ends (it takes 0.1-0.2 s on an idle machine); "the cell still runs" is checked too.
PROMPTLY = 3.0
#: The chat's note where widget events wait for the running cell.
NOTE = "Stop and Send take effect when the running cell ends"


def wait_streaming(chat) -> None:
    """Until the chat's newest reply shows some streamed words."""
    chat.page.wait_for_function(
        """(cell) => { const r = cell.querySelector('.o4-chat-assistant'); return r && r.textContent.includes('▌')
             && r.textContent.split(' ').length > 5; }""",
        arg=chat.element_handle(),
        timeout=30_000,
        polling=50,
    )


def stopped_at(chat, started: float, timeout: float = 15.0) -> float:
    """Seconds from ``started`` until the chat's newest reply shows it was stopped."""
    chat.page.wait_for_function(
        """(cell) => { const s = cell.querySelector('.o4-chat-assistant sub');
             return s && s.textContent.includes('stopped'); }""",
        arg=chat.element_handle(),
        timeout=timeout * 1000,
        polling=50,
    )
    return time.monotonic() - started


def request_at(emulator, text: str, started: float, timeout: float = 15.0) -> float:
    """Seconds from ``started`` until the emulator received a chat request whose last message is ``text``."""
    deadline = started + timeout
    while time.monotonic() < deadline:
        for request in emulator.chat_requests[-3:]:
            if request.body and request.body["messages"][-1]["content"] == text:
                return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"no request with {text!r} within {timeout} s")


# -- JupyterLab 4.6 + ipykernel 7.4: comms over subshells ------------------------------------------------

_RUNNING = """([selector, text]) => [...document.querySelectorAll(selector)].some((c) =>
  c.querySelector('.jp-InputArea').textContent.includes(text)
  && c.querySelector('.jp-InputArea-prompt').textContent.includes('*'))"""


def running(page, text: str) -> bool:
    """Whether the cell holding ``text`` is still running (its prompt shows ``[*]``)."""
    return page.evaluate(_RUNNING, [f"{NOTEBOOK} .jp-CodeCell", text])


def test_stop_and_send_act_during_a_running_cell_in_jupyterlab(lab, emulator, page, artifacts):
    lab.add_notebook("subshells.ipynb", ["%load_ext o4_magics", "%o4_chat"])
    run_notebook(page, lab, "subshells.ipynb", "subshells")
    chat = code_cell(page, "%o4_chat")
    kernel = page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.supportsSubshells"
    )
    assert kernel is True  # ipykernel 7 said "kernel subshells" in its kernel_info reply
    assert NOTE not in chat.inner_text()

    # Stop during time.sleep(6): the reply stops at once, the cell is still sleeping.
    chat_send(chat, SLOW_REPLY)
    wait_streaming(chat)
    run_new_cell(page, SLEEP, wait=False)
    page.wait_for_function(_RUNNING, arg=[f"{NOTEBOOK} .jp-CodeCell", "time.sleep(6)"], polling=50)
    page.wait_for_timeout(500)
    started = time.monotonic()
    chat.get_by_role("button", name="Stop").click()
    stop_took = stopped_at(chat, started)
    assert stop_took < PROMPTLY, f"Stop took effect after {stop_took:.1f} s"
    assert running(page, "time.sleep(6)")
    page.screenshot(path=str(artifacts / "subshells-stop.png"), full_page=True)
    code_cell(page, "time.sleep(6)").locator(".jp-OutputArea-output", has_text="slept").wait_for(
        timeout=15_000
    )

    # Send during a streaming %%o4 cell: the request goes out at once, the cell still streams.
    run_new_cell(page, SLOW_CELL, wait=False)
    reply = code_cell(page, "Stream for a while").locator(".jp-OutputArea-output")
    reply.first.wait_for(timeout=20_000)
    page.wait_for_function(
        "(out) => out.textContent.split(' ').length > 10", arg=reply.first.element_handle(), polling=50
    )
    assert running(page, "Stream for a while")
    chat.get_by_role("button", name="¶").click()  # back to the one-line box
    box = chat.locator("input[type='text']").first
    box.fill(DURING)
    started = time.monotonic()
    chat.get_by_role("button", name="Send").click()
    send_took = request_at(emulator, DURING, started)
    assert send_took < PROMPTLY, f"Send went out after {send_took:.1f} s"
    assert running(page, "Stream for a while")
    chat.locator(".o4-chat-assistant sub").first.wait_for(timeout=30_000)
    reply.locator("sub").wait_for(timeout=30_000)  # both replies end normally
    print(f"JupyterLab: Stop took effect in {stop_took:.2f} s, Send went out in {send_took:.2f} s")


def test_the_chat_says_so_when_jupyterlab_sends_no_comms_on_subshells(lab, page):
    """JupyterLab's "comms over subshells" setting turned off: the kernel has subshells, the frontend does not
    use them; the chat learns it from the first click and says so."""
    lab.add_notebook("no-comm-subshells.ipynb", ["%load_ext o4_magics", "%o4_chat"])
    lab.start_kernel("no-comm-subshells.ipynb")
    open_notebook(page, lab, "no-comm-subshells.ipynb", "no-comm-subshells")
    page.evaluate("() => { window.jupyterapp.serviceManager.kernels.commsOverSubshells = 'disabled'; }")
    run_all(page)
    wait_all_executed(page, 2)
    chat = code_cell(page, "%o4_chat")
    chat.locator("input[type='text']").first.wait_for(timeout=20_000)
    assert NOTE not in chat.inner_text()  # the kernel has subshells: nothing to say yet
    chat.locator("input[type='text']").first.fill("hello")
    chat.get_by_role("button", name="Send").click()
    chat.locator(".widget-html", has_text=NOTE).wait_for(timeout=10_000)
    chat.locator(".o4-chat-assistant sub").first.wait_for(timeout=30_000)


# -- classic Notebook 6.5 + ipykernel 6.17 (Colab's package set): no subshells ----------------------------


def classic_running(page, text: str) -> bool:
    return page.evaluate(
        """(text) => Jupyter.notebook.get_cells().some((c) => c.get_text().includes(text)
             && c.input_prompt_number === '*')""",
        text,
    )


def test_stop_acts_when_the_cell_ends_in_classic_notebook(classic, emulator, page, artifacts):  # noqa: F811
    cells = ["%load_ext o4_magics", "%o4_chat"]
    name = classic.add_notebook("no-subshells.ipynb", cells)
    page.goto(f"{classic.base}/notebooks/{name}?token={classic.token}", wait_until="domcontentloaded")
    page.wait_for_function(_KERNEL_READY, timeout=60_000, polling=100)
    page.locator("#menus").get_by_role("link", name="Cell", exact=True).click()
    page.locator("#run_all_cells").click()
    page.wait_for_function(_ALL_EXECUTED, arg=len(cells), timeout=60_000, polling=200)
    chat = cell(page, "%o4_chat")
    chat.locator(".widget-html", has_text=NOTE).wait_for(timeout=10_000)  # the chat says so from the start

    chat.locator("input[type='text']").first.fill(SLOW_REPLY)
    chat.get_by_role("button", name="Send").click()
    wait_streaming(chat)
    page.evaluate(
        """(source) => { const nb = Jupyter.notebook; nb.insert_cell_at_bottom('code').set_text(source);
             nb.select(nb.ncells() - 1); nb.execute_selected_cells(); }""",
        SLEEP,
    )
    page.wait_for_function("() => Jupyter.notebook.get_cells().some((c) => c.input_prompt_number === '*')")
    page.wait_for_timeout(500)
    started = time.monotonic()
    chat.get_by_role("button", name="Stop").click()
    took = stopped_at(chat, started)
    assert not classic_running(page, "time.sleep(6)")  # it acted only once the cell had ended
    assert took > 4.0, f"Stop took effect after {took:.1f} s, during the cell?"
    page.screenshot(path=str(artifacts / "no-subshells-stop.png"), full_page=True)
    print(f"classic Notebook: Stop took effect after {took:.2f} s, when time.sleep(6) ended")
