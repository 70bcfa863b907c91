"""State holds (second review, #17): turns keep their conversation and send order, explain picks the right
thing, the saved notebook is only a fallback, old chats stop listening, stops are shown and honoured."""

from __future__ import annotations

import base64
import io
import threading
import time

import pytest
from conftest import type_and_send, wait_for


def user_messages(request):
    return [m["content"] for m in request.body["messages"] if m["role"] == "user"]


def test_a_reset_while_a_reply_streams_keeps_the_late_reply_out(shell, magics, o4_emulator, make_chat):
    """F3: %o4 -n while the chat streams: the old reply does not land in the fresh conversation."""
    chat = make_chat()
    chat.input.value = "[[slow:0.03]][[long:60]] CHAT-OLD"
    chat.send_button.click()
    wait_for(lambda: len(o4_emulator.chat_requests) == 1)
    shell.run("%o4 -n MAGIC-FRESH")
    assert chat.wait(15)
    shell.run("%o4 next")
    assert user_messages(o4_emulator.chat_requests[-1]) == ["MAGIC-FRESH", "next"]


def test_new_conversation_in_another_chat_while_one_streams(shell, magics, o4_emulator, make_chat):
    first, second = make_chat(), make_chat()
    first.input.value = "[[slow:0.03]][[long:60]] FIRST-OLD"
    first.send_button.click()
    wait_for(lambda: len(o4_emulator.chat_requests) == 1)
    second.new_button.click()
    assert first.wait(15)
    shell.run("%o4 after the reset")
    assert user_messages(o4_emulator.chat_requests[-1]) == ["after the reset"]


def test_turns_are_kept_in_send_order(shell, magics, o4_emulator, make_chat):
    """F4: a slow chat reply sent first stays first, though a magic's reply finished before it."""
    chat = make_chat()
    chat.input.value = "[[slow:0.03]][[long:40]] CHAT-FIRST"
    chat.send_button.click()
    wait_for(lambda: len(o4_emulator.chat_requests) == 1)
    shell.run("%o4 MAGIC-SECOND")
    assert chat.wait(15)
    shell.run("%o4 THIRD")
    sent = user_messages(o4_emulator.chat_requests[-1])
    assert [text.split()[-1] for text in sent] == ["CHAT-FIRST", "MAGIC-SECOND", "THIRD"]


def test_the_saved_notebook_is_a_fallback_only_for_cells_not_run_here(shell, o4_emulator, tmp_path, monkeypatch):
    """F7: after a restart, this session's cell [1] is not the saved file's cell [1]."""
    import nbformat
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 0, 0)).save(buffer, format="PNG")
    cell = nbformat.v4.new_code_cell("plt.plot(x)", execution_count=1)
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(buffer.getvalue()).decode()})]
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [cell]
    path = tmp_path / "old.ipynb"
    nbformat.write(notebook, path)
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    shell.run("x = 1")  # this session's cell [1] showed nothing
    result, captured = shell.run("%o4 -i 1 what is it")
    assert not result.success and "cell [1] displayed no image" in captured.stdout + captured.stderr
    assert o4_emulator.chat_requests == []


def test_explain_after_a_syntax_error(shell, o4_emulator):
    """F6: a compile error is explained, not an older output."""
    shell.run("1 + 1")
    shell.run("def broken(:\n    pass")
    result, _ = shell.run("%o4_explain")
    assert result.success
    sent = o4_emulator.chat_requests[-1].body["messages"][-1]["content"]
    assert "syntax error" in sent and "SyntaxError" in sent and "def broken(:" in sent


def test_explain_after_an_interrupted_cell(shell, o4_emulator):
    """F19: an interrupted cell is not an error to 'fix'."""
    shell.run("raise KeyboardInterrupt")
    shell.run("%o4_explain")
    sent = o4_emulator.chat_requests[-1].body["messages"][-1]["content"]
    assert "interrupted by the user" in sent and "fix the code" not in sent


def test_explain_after_a_cell_that_only_warned(shell, o4_emulator):
    shell.run("1 + 1")
    shell.run("import warnings\nwarnings.warn('column dtype will change', FutureWarning)")
    shell.run("%o4_explain")
    sent = o4_emulator.chat_requests[-1].body["messages"][-1]["content"]
    assert "Explain these warnings" in sent and "FutureWarning: column dtype will change" in sent


def test_a_failing_cell_formats_no_traceback(shell, monkeypatch):
    """F23: the failure is kept, its traceback is formatted only when explained."""
    import o4_magics.ipython.capture as capture

    calls = []
    original = capture.traceback.format_exception
    monkeypatch.setattr(capture.traceback, "format_exception", lambda *a, **k: calls.append(1) or original(*a, **k))
    shell.run("def deep(n):\n    return deep(n + 1)\ndeep(0)")
    assert calls == []


def test_a_stop_while_thinking_says_so(make_chat, magics, o4_emulator):
    """F17: stopped before any text shows a line, not just a footer."""
    chat = make_chat()
    chat.input.value = "[[think:3]] slow thinker"
    chat.send_button.click()
    time.sleep(0.5)
    chat.stop_button.click()
    assert chat.wait(5)
    assert "*(stopped before any text)*" in chat.messages()[-1][1]


def test_a_turn_from_another_model_is_labelled_by_it(shell, make_chat, o4_emulator):
    """F20."""
    shell.run("%o4 -m openai/gpt-4o-mini hi")
    chat = make_chat()
    assert chat._bubbles[1].children[0].value.count("gpt-4o-mini") == 1


def test_enter_right_after_stop_sends(make_chat, o4_emulator):
    """F21: the stopped reply ends first, then the new message goes."""
    chat = make_chat()
    chat.input.value = "[[slow:0.05]][[long:80]] first"
    chat.send_button.click()
    wait_for(lambda: len(o4_emulator.chat_requests) == 1)
    chat.stop_button.click()
    type_and_send(chat, "second")
    assert len(o4_emulator.chat_requests) == 2
    assert o4_emulator.chat_requests[-1].body["messages"][-1]["content"] == "second"


def test_rerunning_the_chat_cell_leaves_one_live_chat(shell, magics, o4_emulator):
    """F10: old chats stop listening; after-cell work stays bounded."""
    from o4_magics.widgets.chat import MAX_LIVE_CHATS

    for _ in range(30):
        shell.run("%o4_chat")
    live = [chat for chat in magics.session._o4_chats if not chat.closed]
    assert len(live) <= MAX_LIVE_CHATS
    hooks = [hook for hook in shell.events.callbacks["post_run_cell"] if type(hook).__name__ == "_WeakHook"]
    assert len(hooks) == len(live)
    row_hooks = [hook for hook in magics.session.listeners if type(hook).__name__ == "_WeakHook"]
    assert len(row_hooks) == len(live)


def test_after_a_cell_the_chat_reads_no_sizes(shell, make_chat):
    """F10: a slow .shape / len() is not read after every cell."""
    shell.run(
        "class Slow:\n"
        "    reads = 0\n"
        "    @property\n"
        "    def shape(self):\n"
        "        Slow.reads += 1\n"
        "        return (1,)\n"
        "    def __len__(self):\n"
        "        Slow.reads += 1\n"
        "        return 1\n"
        "lazy = Slow()"
    )
    make_chat()
    shell.run("y = 1")
    assert shell.user_ns["Slow"].reads == 0


@pytest.mark.parametrize("thread", ["", "   "])
def test_an_empty_thread_name_is_refused(shell, o4_emulator, thread):
    result, captured = shell.run(f"%o4 -t '{thread}' hi")
    assert not result.success and "-t/--thread is empty" in captured.stdout + captured.stderr


def test_two_fronts_at_once_do_not_mix_threads(shell, magics, o4_emulator, make_chat):
    chat = make_chat(thread="side")
    chat.input.value = "[[slow:0.02]][[long:20]] side question"
    chat.send_button.click()
    done = threading.Event()
    shell.run("%o4 main question")
    done.set()
    assert chat.wait(10)
    assert [t.user["content"] for t in magics.session.threads.get("main").turns] == ["main question"]


def test_rerunning_the_same_chat_cell_replaces_its_chat(shell, magics, o4_emulator):
    """F10: the frontend sends the same cell id when a cell is re-run; the old chat closes and stops listening."""
    from IPython.utils.capture import capture_output

    with capture_output():
        for _ in range(30):
            shell.run_cell("%o4_chat", store_history=True, cell_id="chat-cell")
    live = [chat for chat in magics.session._o4_chats if not chat.closed]
    assert len(live) == 1
    hooks = [hook for hook in shell.events.callbacks["post_run_cell"] if type(hook).__name__ == "_WeakHook"]
    assert len(hooks) == 1
