"""The %o4_chat widget driven as a frontend would: type, click Send/Stop, read the transcript and the wire."""

from __future__ import annotations

import time

import pytest
from conftest import TEST_KEY, type_and_send, wait_for

from o4_magics.widgets.chat_view import LAST_IMAGE, NOTHING

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def user_contents(emulator):
    return [m["content"] for m in emulator.chat_requests[-1].body["messages"] if m["role"] == "user"]


def test_chat_continues_a_magic_conversation_and_the_magic_sees_the_chat(
    shell, magics, make_chat, o4_emulator
):
    shell.run("%%o4\nWhat is a p-value?")
    chat = make_chat()
    assert chat.messages()[0] == ("user", "What is a p-value?")  # the thread's turns are shown at creation
    assert chat.messages()[1][0] == "assistant" and chat.messages()[1][1].startswith("#")

    type_and_send(chat, "give an example")
    body = o4_emulator.chat_requests[-1].body
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]
    assert user_contents(o4_emulator) == ["What is a p-value?", "give an example"]
    assert body["stream"] is True and body["model"] == "openai/o4-mini"
    kinds = [kind for kind, _ in chat.messages()]
    assert kinds == ["user", "assistant", "user", "assistant"]
    reply = chat.messages()[-1][1]
    assert reply.startswith("#") and "<sub>" in reply and "\\$0.0" in reply and "▌" not in reply
    assert chat.input.value == "" and not chat.send_button.disabled and chat.stop_button.disabled

    history = magics.session.threads.history("main", 100_000)
    assert [m["content"] for m in history if m["role"] == "user"] == ["What is a p-value?", "give an example"]
    row = magics.session.ledger.recent(limit=1)[0]
    assert row.source == "chat" and row.thread == "main" and row.status == "ok"
    assert (
        "Last turn:" in chat.status.value and "2 calls" in chat.status.value
    )  # the magic's call counted too

    shell.run("%%o4\nAnd a counter-example?")  # the next cell continues the chat's conversation
    assert user_contents(o4_emulator) == ["What is a p-value?", "give an example", "And a counter-example?"]
    assert chat.messages()[-2] == ("user", "And a counter-example?")  # appended to the transcript live


def test_enter_sends_and_multiline_toggle(make_chat, o4_emulator):
    chat = make_chat()
    chat.line.value = "one line question"
    chat.line._handle_custom_msg({"event": "submit"}, [])  # what the browser sends on Enter
    assert chat.wait(10)
    assert user_contents(o4_emulator)[-1] == "one line question"

    chat.line.value = "first line"
    chat.multiline.value = True  # the ¶ toggle: a Textarea takes the text over
    assert chat.input is chat.box and chat.input_slot.children == (chat.box,)
    assert chat.box.value == "first line"
    chat.box.value += "\nsecond line"
    type_and_send(chat, chat.box.value)
    assert user_contents(o4_emulator)[-1] == "first line\nsecond line"
    chat.multiline.value = False
    assert chat.input is chat.line


def test_stop_keeps_the_partial_reply_and_the_kernel_stays_free(shell, magics, make_chat, o4_emulator):
    chat = make_chat(thread="slow")
    chat.input.value = "[[slow:0.2]][[long:200]] tell me a long story"
    chat.send_button.click()
    assert chat.busy and chat.send_button.disabled and not chat.stop_button.disabled
    wait_for(lambda: len(chat.messages()[-1][1].split()) >= 4)  # a few words have streamed

    result, _ = shell.run("x = 1")  # another cell runs while the reply streams
    assert result.success and shell.user_ns["x"] == 1 and chat.busy

    started = time.monotonic()
    chat.stop_button.click()
    assert chat.wait(1.0), "Stop did not end the reply within a second"
    assert time.monotonic() - started < 1.0
    partial = chat.messages()[-1][1]
    assert "⏹ stopped" in partial and "▌" not in partial
    assert len(partial.split("<sub>")[0].split()) > 1  # what streamed is kept
    assert chat.last_error == "" and not chat.send_button.disabled
    assert magics.session.threads.history("slow", 100_000) == []  # a stopped reply is not part of the thread
    assert magics.session.ledger.recent(limit=1)[0].status == "interrupted"

    type_and_send(chat, "short one")
    assert "stopped" not in chat.messages()[-1][1]


def test_redraws_are_throttled(make_chat):
    chat = make_chat()
    chat.input.value = "[[slow:0.01]][[long:120]] go"
    chat.send_button.click()
    view = chat.last_view
    started = time.monotonic()
    assert chat.wait(10)
    seconds = time.monotonic() - started
    assert view.updates <= seconds * 10 + 5  # at most ~10 redraws a second (plus thinking ticks and the end)
    assert len(chat.messages()[-1][1].split("<sub>")[0].split()) >= 100


def test_two_chats_are_independent_and_same_thread_chats_share(make_chat, o4_emulator):
    left, right = make_chat(thread="left"), make_chat(thread="right", effort="low")
    type_and_send(left, "left question")
    assert [kind for kind, _ in left.messages()] == ["user", "assistant"]
    assert right.messages() == []
    type_and_send(right, "right question")
    assert user_contents(o4_emulator) == ["right question"]  # nothing of the left thread
    assert o4_emulator.chat_requests[-1].body["reasoning"] == {"effort": "low", "summary": "auto"}

    twin = make_chat(thread="left")
    assert [text for _, text in twin.messages()][0] == "left question"
    type_and_send(left, "second left")
    assert twin.messages()[-2] == ("user", "second left")  # the twin saw the turn through the listener
    assert [text for kind, text in left.messages() if kind == "user"] == ["left question", "second left"]


def test_errors_are_transcript_messages_and_the_chat_stays_usable(make_chat, monkeypatch, o4_emulator):
    chat = make_chat()
    type_and_send(chat, "[[status:402]] hi")
    kind, text = chat.messages()[-1]
    assert kind == "assistant" and text.startswith("⚠️") and "Traceback" not in text
    assert chat.last_error and chat.last_error.split()[0] in text
    assert not chat.send_button.disabled

    monkeypatch.delenv("OPENROUTER_API_KEY")
    type_and_send(chat, "hello")
    assert "No OpenRouter API key" in chat.messages()[-1][1]

    monkeypatch.setenv("OPENROUTER_API_KEY", TEST_KEY)
    type_and_send(chat, "hello again")
    assert chat.messages()[-1][1].startswith("#") and chat.last_error == ""
    assert user_contents(o4_emulator) == ["hello again"]  # failed turns are not history


def test_new_conversation_resets_the_thread(magics, make_chat, o4_emulator):
    chat = make_chat()
    type_and_send(chat, "remember 42")
    chat.new_button.click()
    assert chat.messages() == [] and magics.session.threads.history("main", 100_000) == []
    type_and_send(chat, "what number?")
    assert [m["role"] for m in o4_emulator.chat_requests[-1].body["messages"]] == ["system", "user"]


def test_picker_attaches_a_dataframe_to_the_next_message_only(shell, make_chat, o4_emulator):
    pytest.importorskip("pandas")
    chat = make_chat()
    shell.run(
        "import pandas as pd\nimport os\n_hidden = 1\nn = 3\ndf = pd.DataFrame({'height': [1.5, 1.7, 1.9]})"
    )
    values = [value for _, value in chat.picker.options]  # refreshed after the cell ran
    assert values[:3] == [NOTHING, LAST_IMAGE, "df"]  # dataframes first
    assert "n" in values and "_hidden" not in values and "os" not in values and "pd" not in values
    assert "In" not in values and "get_ipython" not in values

    chat.picker.value = "df"
    type_and_send(chat, "What is in df?")
    sent = user_contents(o4_emulator)[-1]
    assert sent.startswith("What is in df?\n\n### df (") and "height" in sent
    assert chat.picker.value == NOTHING
    assert "📎 df" in chat.messages()[-2][1]
    type_and_send(chat, "and now?")
    assert user_contents(o4_emulator)[-1] == "and now?"


def test_picker_attaches_the_last_displayed_image(shell, magics, make_chat, o4_emulator):
    pytest.importorskip("PIL")
    if getattr(magics, "capture", None) is None:
        pytest.skip("display capture not installed")
    chat = make_chat()
    chat.picker.value = LAST_IMAGE
    type_and_send(chat, "describe the plot")  # nothing displayed yet: a notice, nothing sent
    assert o4_emulator.chat_requests == [] and "no cell has displayed an image" in chat.messages()[-1][1]
    assert chat.input.value == "describe the plot"

    shell.run(
        "import io\nfrom PIL import Image as _I\nfrom IPython.display import Image, display\n"
        "_buf = io.BytesIO(); _I.new('RGB', (40, 30), 'red').save(_buf, 'PNG')\ndisplay(Image(_buf.getvalue()))"
    )
    chat.picker.value = LAST_IMAGE
    type_and_send(chat, "describe the plot")
    content = o4_emulator.chat_requests[-1].body["messages"][-1]["content"]
    assert content[0] == {"type": "text", "text": "describe the plot"}
    assert content[1]["type"] == "image_url" and content[1]["image_url"]["url"].startswith("data:image/")
    assert "📎 last displayed image \\[image 40x30 PNG" in chat.messages()[-2][1]
    assert magics.session.ledger.recent(limit=1)[0].images == 1


def test_magic_displays_a_widget_and_rejects_bad_options(shell, magics, o4_emulator):
    result, captured = shell.run("%o4_chat -t side -e high")
    assert result.success
    assert any(WIDGET_MIME in out.data for out in captured.outputs)
    (chat,) = [chat for chat in magics.session._o4_chats if not chat.closed]
    assert chat.thread == "side" and chat.effort == "high"
    chat.close()

    result, captured = shell.run("%o4_chat --bogus")
    text = captured.stdout + captured.stderr
    assert not result.success and "unknown option '--bogus'; %o4_chat? lists the options" in text and "Traceback" not in text
    result, captured = shell.run("%o4_chat -e extreme")
    text = captured.stdout + captured.stderr
    assert not result.success and "invalid choice" in text and "Traceback" not in text
    assert o4_emulator.chat_requests == []


def test_message_view_draws_thinking_once_a_second_and_marks_stopped():
    import ipywidgets as w

    from o4_magics.call.reply import Reply
    from o4_magics.display.sinks import WidgetSink
    from o4_magics.display.view import ReplyView

    out = w.Output()
    view = ReplyView(WidgetSink(out), stopped_word="stopped")
    for elapsed in (0.1, 0.5, 0.9, 1.2):
        view.thinking(elapsed)
    assert view.updates == 2 and out.outputs[0]["data"]["text/markdown"] == "*thinking… 1 s*"
    view.finish(Reply(text="The answer costs $5", model="openai/o4-mini", status="interrupted"))
    final = out.outputs[0]["data"]["text/markdown"].replace("\\\\$", "$")
    assert final.startswith("The answer costs $5") and "⏹ stopped" in final and "interrupted" not in final
    view.fail("Out of credits: $0.00 left.", partial=True)
    assert [o["data"]["text/markdown"] for o in out.outputs][1] == "⚠️ Out of credits: \\\\$0.00 left."


def test_long_conversation_stays_bounded(make_chat, magics):
    """Past the thread's kept turns and the transcript's cap: no 'restarted' notice, a bounded transcript."""
    from o4_magics.call.threads import MAX_TURNS_KEPT
    from o4_magics.widgets.chat_view import MAX_BUBBLES

    chat = make_chat()
    threads = magics.session.threads
    for index in range(MAX_TURNS_KEPT + 50):
        threads.append("main", {"role": "user", "content": f"q{index}"}, {"role": "assistant", "content": f"a{index}"})
        chat._sync()
    messages = chat.messages()
    assert len(messages) <= MAX_BUBBLES
    assert not any("restarted" in text for _, text in messages)
    assert messages[-1][1].endswith(f"a{MAX_TURNS_KEPT + 49}")
    assert len(threads.get("main").turns) == MAX_TURNS_KEPT


class FakeKernel:
    """What the chat reads from ipykernel: kernel_info's features and the message being handled."""

    def __init__(self, features, subshell_id=None):
        self.kernel_info = {"supported_features": features}
        self.header = {"msg_type": "comm_msg", "subshell_id": subshell_id}

    def get_parent(self):
        return {"header": self.header}


@pytest.mark.parametrize(
    ("features", "note_shown"), [([], True), (["debugger"], True), (["kernel subshells", "debugger"], False)]
)
def test_the_chat_says_clicks_wait_when_the_kernel_has_no_subshells(shell, make_chat, monkeypatch, features, note_shown):
    from o4_magics.widgets.chat import NO_SUBSHELLS_NOTE

    monkeypatch.setattr(shell, "kernel", FakeKernel(features), raising=False)
    chat = make_chat()
    assert (NO_SUBSHELLS_NOTE in chat.note.value) is note_shown
    assert chat.note in chat.widget.children


def test_no_note_without_a_kernel(make_chat):
    assert make_chat().note.value == ""  # a plain IPython shell: no widget events to wait for


@pytest.mark.parametrize(("subshell_id", "note_shown"), [("a1b2", False), (None, True)])
def test_a_click_on_the_main_shell_shows_the_note(shell, make_chat, monkeypatch, o4_emulator, subshell_id, note_shown):
    """Subshells, but a frontend that sends widget events to the main shell (JupyterLab's "comms over
    subshells" off, VS Code): the first click says so."""
    from o4_magics.widgets.chat import NO_SUBSHELLS_NOTE

    monkeypatch.setattr(shell, "kernel", FakeKernel(["kernel subshells"], subshell_id), raising=False)
    chat = make_chat()
    assert chat.note.value == ""
    type_and_send(chat, "hello")
    assert (NO_SUBSHELLS_NOTE in chat.note.value) is note_shown


def test_controls_keep_the_subshell_the_frontend_chose():
    """ipykernel 7.4 asks a comm where its incoming messages go (the subshell of its last outgoing message):
    the chat's controls answer with the frontend's choice; comms without that hook are left alone."""
    from types import SimpleNamespace

    from o4_magics.widgets.chat import route_to_sender

    class Comm:
        def _reply_subshell_for(self, data, default):
            return None  # the main shell: where a cell last updated the widget

    widget = SimpleNamespace(comm=Comm())
    route_to_sender(widget)
    assert widget.comm._reply_subshell_for({"method": "update"}, "a1b2") == "a1b2"
    bare = SimpleNamespace(comm=SimpleNamespace())
    route_to_sender(bare)
    route_to_sender(SimpleNamespace())
    assert not hasattr(bare.comm, "_reply_subshell_for")


def test_a_proposed_cells_controls_keep_the_subshell_the_frontend_chose(monkeypatch):
    """Run, Edit, Skip, the opt-in and the editor of a proposed cell are routed like the chat's own controls:
    Edit and Skip answer while a cell runs (a proposal is made by a worker thread, not by a cell)."""
    from o4_magics.widgets import subshells
    from o4_magics.widgets.agent_view import CellRunner, Proposal

    routed: list = []
    monkeypatch.setattr(subshells, "route_to_sender", routed.append)
    proposal = Proposal(CellRunner(shell=None), "print(1)", "check")
    controls = (proposal.run_button, proposal.edit_button, proposal.skip_button, proposal.auto, proposal.editor)
    assert all(any(control is seen for seen in routed) for control in controls)
    proposal.box.close()


def test_a_message_goes_into_bubbles_made_while_the_chat_was_idle(make_chat, o4_emulator):
    """Send only fills the question's and reply's bubbles: they were made ahead (at creation, then after each
    reply once the chat is idle), so a message opens no widgets on its way out; closing the chat closes them."""
    chat = make_chat(thread="ahead")
    ready = dict(chat._spares)
    assert set(ready) == {("user", "You"), ("assistant", "o4-mini")}
    type_and_send(chat, "first question")
    question, reply = chat._bubbles[-2:]
    assert question is ready[("user", "You")][0] and reply is ready[("assistant", "o4-mini")][0]
    assert chat.messages()[-2] == ("user", "first question") and "<sub>" in chat.messages()[-1][1]
    wait_for(lambda: len(chat._spares) == 2)  # made again once the reply ended
    next_ready = dict(chat._spares)
    type_and_send(chat, "second question")
    assert chat._bubbles[-2] is next_ready[("user", "You")][0]
    wait_for(lambda: len(chat._spares) == 2)
    spares = [box for box, _ in chat._spares.values()]
    chat.close()
    assert all(box.comm is None and all(part.comm is None for part in box.children) for box in spares)
