"""Reasoning, live: o4-mini's summary replaces the thinking line and grows in place, then folds into a closed
"Reasoning · N tokens · S s" block above the answer, in %%o4, %o4, %o4_explain and the chat; encrypted
reasoning keeps the thinking line; the summary never enters the reply's text, -o, the thread, the cache or its
key; --no-reasoning and O4Magics.show_reasoning hide it (and ask OpenRouter to leave it out); the terminal
prints it dimmed, or not at all."""

from __future__ import annotations

import atexit
import io
import re
import sqlite3
from typing import Any

import pytest
from conftest import TEST_KEY, TestShell
from IPython.core.displaypub import DisplayPublisher
from traitlets.config import Config

import o4_magics
from o4_magics.display.view import DIMMED
from o4_magics.testing.reasoning import reasoning_text

#: A reply whose reasoning (30 words) streams slowly enough to be drawn several times, after a pause long
#: enough for the thinking line, then a short answer.
SLOW_REASONING = "Why? [[think:0.5]][[reasoning:30]][[slow:0.03]][[verbatim]]The answer is 42, as six times seven is forty-two."
SUMMARY = reasoning_text(30)
LIVE = f"<details open {DIMMED}><summary>Reasoning… "
FOLDED = f"<details {DIMMED}><summary>Reasoning · "
THINKING = re.compile(r"\*thinking… \d+ s\*")
#: Words of the summary that no answer and no prompt contains.
MARK = "Planning the answer"


class RecordingPublisher(DisplayPublisher):
    """Records every display, update and clear in order, as a frontend receives them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.events: list[tuple[str, str | None, dict[str, Any]]] = []

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):  # noqa: ANN001
        display_id = (transient or {}).get("display_id")
        self.events.append(("update" if update else "display", display_id, dict(data)))

    def clear_output(self, wait: bool = False) -> None:
        self.events.append(("clear", None, {"wait": wait}))

    def frames(self) -> list[list[str]]:
        """What the cell shows after each event: the markdown of each visible output, top to bottom."""
        outputs: list[list[Any]] = []
        shown: list[list[str]] = []
        clear_pending = False
        for kind, display_id, data in self.events:
            if kind == "clear":
                clear_pending = True
                continue
            if clear_pending:
                outputs, clear_pending = [], False
            markdown = data.get("text/markdown", "")
            if kind == "update":
                for output in outputs:
                    if output[0] == display_id:
                        output[1] = markdown
            else:
                outputs.append([display_id, markdown])
            shown.append([text for _, text in outputs if text])
        return shown


@pytest.fixture
def recorder(shell) -> RecordingPublisher:
    publisher = RecordingPublisher(shell=shell)
    shell.display_pub = publisher
    return publisher


def last_body(emulator) -> dict[str, Any]:
    return emulator.chat_requests[-1].body


def flat(text: str) -> str:
    """``text`` without bold marks, its whitespace normalized."""
    return " ".join(text.replace("**", "").split())


def reasoning_of(markdown: str) -> str:
    """The text inside a reasoning block, unquoted."""
    inside = markdown.split("</summary>", 1)[1].split("</details>", 1)[0]
    return " ".join(line.lstrip(">").strip() for line in inside.splitlines()).strip()


def test_the_summary_replaces_the_thinking_line_grows_then_folds_above_the_answer(
    shell, recorder, o4_emulator
):
    result = shell.run_cell(f"%%o4 -n\n{SLOW_REASONING}")
    assert result.success
    frames = recorder.frames()
    assert len(frames[0]) == 1 and THINKING.fullmatch(frames[0][0])
    live = [frame for frame in frames if frame[-1].startswith(LIVE)]
    assert len(live) >= 2 and all(len(frame) == 1 for frame in live)  # in place of the thinking line
    grown = [reasoning_of(frame[0]) for frame in live]
    assert grown == sorted(grown, key=len) and len(grown[0]) < len(grown[-1])
    whole = flat(SUMMARY)
    assert all(whole.startswith(flat(text)) for text in grown), grown
    assert all(
        line.startswith(">")
        for line in live[-1][0].split("</summary>")[1].split("</details>")[0].split("\n")
        if line.strip()
    )  # quoted: shown dimmed
    folded = frames[frames.index(live[-1]) + 1]  # as the answer starts: closed, where the summary was
    assert folded[0].startswith(FOLDED) and MARK in folded[0]
    answering = [frame for frame in frames[:-1] if any(text.startswith("The answer") for text in frame)]
    assert answering and all(len(frame) == 2 and frame[0] == folded[0] for frame in answering)  # above it
    final = frames[-1]
    assert len(final) == 1
    label, _, rest = final[0].partition("</summary>")
    assert label.startswith(FOLDED + "192 tokens · ") and label.endswith(" s")
    seconds = float(label.rsplit(" · ", 1)[1].removesuffix(" s"))
    assert 0.5 <= seconds < 10
    assert flat(reasoning_of(final[0])) == flat(SUMMARY)
    answer = rest.split("</details>", 1)[1]
    assert answer.lstrip().startswith("The answer is 42, as six") and MARK not in answer


def test_line_magic_and_explain_show_it_too(shell, recorder, o4_emulator):
    shell.run_cell("%o4 -n Why? [[reasoning:20]][[verbatim]]Because.")
    assert recorder.frames()[-1][0].startswith(FOLDED)
    recorder.events.clear()
    shell.user_ns["numbers"] = [1, 2, 3]
    o4_emulator.queue_reply("A short list.")
    o4_emulator.reasoning_summaries = 20  # %o4_explain writes its own prompt: the server's default reasoning
    shell.run_cell("%o4_explain numbers")
    final = recorder.frames()[-1][0]
    assert final.startswith(FOLDED) and "A short list." in final


def test_encrypted_reasoning_keeps_the_thinking_line(shell, recorder, o4_emulator):
    shell.run_cell("%%o4 -n\nWhy? [[think:1.3]][[reasoning:encrypted]][[verbatim]]Done here.")
    texts = [text for frame in recorder.frames() for text in frame]
    assert "*thinking… 0 s*" in texts and "*thinking… 1 s*" in texts
    assert not any("Reasoning" in text for text in texts)
    assert recorder.frames()[-1][0].startswith("Done here.")


def test_reasoning_text_items_of_other_models_show_the_same_way(shell, recorder, o4_emulator):
    shell.run_cell("%%o4 -n -m anthropic/claude-3.5-haiku\nWhy? [[reasoning:text:25]][[verbatim]]Fine.")
    final = recorder.frames()[-1][0]
    assert final.startswith(FOLDED)
    assert flat(reasoning_of(final)) == flat(reasoning_text(25))
    assert o4_emulator.chat_requests[-1].reasoning_details[0]["type"] == "reasoning.text"


def test_reasoning_stays_out_of_the_text_the_variable_the_thread_and_reply_reasoning_keeps_it(
    shell, magics, o4_emulator
):
    shell.run("%%o4 -n -o answer\nFirst question [[reasoning:30]][[verbatim]]First answer.")
    assert shell.user_ns["answer"] == "First answer."
    reply = magics.last_reply
    assert reply.text == "First answer." and reply.reasoning == SUMMARY and reply.reasoning_s is not None
    shell.run("%o4 A follow-up")
    sent = last_body(o4_emulator)["messages"]
    assert sent[-2] == {"role": "assistant", "content": "First answer."}
    assert MARK not in str(sent)
    reply = o4_magics.ask("Asked from Python [[reasoning:30]][[verbatim]]Python answer.", new=True)
    assert reply.text == "Python answer." and reply.reasoning == SUMMARY
    assert MARK not in str(reply) and MARK in repr(reply.reasoning)


def test_the_cache_key_ignores_how_reasoning_is_shown_and_stores_no_reasoning(
    shell, magics, o4_emulator, o4_home
):
    question = "Cache me [[reasoning:30]][[verbatim]]Cached answer."
    shell.run(f"%o4 -n --cache {question}")
    shell.run(f"%o4 -n --cache --no-reasoning {question}")
    assert len(o4_emulator.chat_requests) == 1  # the second was replayed: same key without the summary
    replayed = magics.last_reply
    assert replayed.status == "cached" and replayed.text == "Cached answer." and replayed.reasoning == ""
    with sqlite3.connect(o4_home / "cache.sqlite") as db:
        stored = " ".join(str(row) for row in db.execute("SELECT * FROM cache"))
    assert "Cached answer." in stored and MARK not in stored and "summary" not in stored


@pytest.mark.parametrize("how", ["--no-reasoning", "show_reasoning = False"])
def test_hidden_reasoning_shows_the_thinking_line_and_asks_openrouter_to_leave_it_out(
    shell, recorder, o4_emulator, how
):
    option = how if how.startswith("--") else ""
    if not option:
        shell.run_line_magic("config", f"O4Magics.{how}")
    shell.run_cell(f"%%o4 -n {option}\nWhy? [[think:0.5]][[reasoning:30]][[verbatim]]Hidden.")
    assert last_body(o4_emulator)["reasoning"] == {"effort": "medium", "exclude": True}
    texts = [text for frame in recorder.frames() for text in frame]
    assert any(THINKING.fullmatch(text) for text in texts)
    assert not any("Reasoning" in text or MARK in text for text in texts)
    shell.run_cell("%%o4 -n\nShown again? [[reasoning:5]][[verbatim]]Yes." if option else "pass")
    if option:  # the option is for one call: the next one asks for the summary again
        assert last_body(o4_emulator)["reasoning"] == {"effort": "medium", "summary": "auto"}


def test_a_view_told_not_to_show_reasoning_draws_the_thinking_line_instead():
    from o4_magics.display.view import ReplyView

    class Sink:
        shown: list[str] = []

        def show(self, bundle):
            self.shown.append(bundle["text/markdown"])

    view = ReplyView(Sink(), show_reasoning=False)
    view.reasoning("**Planning the answer** I need", 1.2)
    assert Sink.shown == ["*thinking… 1 s*"]


def test_the_chat_shows_it_live_then_folded(make_chat, o4_emulator):
    chat = make_chat()
    seen: list[str] = []
    chat.input.value = SLOW_REASONING
    chat.send_button.click()  # the reply's message exists now; its reasoning comes after half a second
    chat.last_view.sink.out.observe(
        lambda change: seen.extend(out["data"].get("text/markdown", "") for out in change["new"]), "outputs"
    )
    assert chat.wait(20)
    live = [text for text in seen if text.startswith(LIVE)]
    assert len(live) >= 2 and len(reasoning_of(live[0])) < len(reasoning_of(live[-1]))
    final = chat.last_view.sink.out.outputs[0]["data"]["text/markdown"]
    assert final.startswith(FOLDED + "192 tokens · ") and "The answer is 42, as" in final
    assert MARK in final.split("</details>")[0] and MARK not in final.split("</details>")[1]
    assert chat.last_view.sink.box.children[-1] is chat.last_view.sink.out  # one output holds it all


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def terminal_shell(keyed_env):
    """A shell the extension takes for terminal IPython (its class name), writing to a terminal."""
    TestShell.clear_instance()
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = type("TerminalInteractiveShell", (TestShell,), {}).instance(config=config)
    atexit.unregister(shell.atexit_operations)
    shell.run_line_magic("load_ext", "o4_magics")
    yield shell
    shell.run_line_magic("unload_ext", "o4_magics")
    type(shell).clear_instance()
    TestShell.clear_instance()


@pytest.mark.parametrize("shown", [True, False])
def test_terminal_prints_the_summary_dimmed_or_not_at_all(terminal_shell, monkeypatch, shown):
    tty = FakeTTY()
    monkeypatch.setattr("sys.stdout", tty)
    terminal_shell.run_line_magic("config", f"O4Magics.show_reasoning = {shown}")
    terminal_shell.run_cell("%%o4 -n\nWhy? [[reasoning:12]][[verbatim]]Terminal answer.")
    printed = tty.getvalue()
    assert "Terminal answer." in printed and TEST_KEY not in printed
    if shown:  # the whole summary, dimmed, before the answer
        dimmed = re.findall(r"\033\[2m(.*?)\033\[0m", printed, re.DOTALL)
        assert "".join(dimmed) == reasoning_text(12)
        assert printed.rindex("\033[0m") < printed.index("Terminal answer.")
    else:
        assert MARK not in printed and "\033[2m" not in printed


def test_terminal_prints_the_summary_of_a_reply_too_quick_for_any_redraw():
    from o4_magics.call.reply import Reply
    from o4_magics.display.terminal import TerminalView

    tty = FakeTTY()
    TerminalView(stream=tty).finish(Reply(text="Quick.", model="openai/o4-mini", reasoning="Brief thought."))
    assert tty.getvalue().startswith("\033[2mBrief thought.\033[0m\n\nQuick.\n\n")
    quiet = FakeTTY()
    TerminalView(stream=quiet, show_reasoning=False).finish(
        Reply(text="Quick.", model="openai/o4-mini", reasoning="Brief thought.")
    )
    assert quiet.getvalue().startswith("Quick.\n\n")


def test_a_chat_message_folds_its_reasoning_and_a_long_answer_in_short_lists_then_shows_one_output():
    import ipywidgets as w

    from o4_magics.call.reply import Reply
    from o4_magics.display.sinks import FROZEN_GROUP, WidgetSink
    from o4_magics.display.view import ReplyView
    from o4_magics.testing.replies import long_reply

    header, out = w.HTML("o4-mini"), w.Output()
    box = w.VBox([header, out])
    lists: list[int] = []
    box.observe(lambda change: lists.append(len(change["new"])), "children")
    view = ReplyView(WidgetSink(out, box=box))
    view.reasoning(SUMMARY, 2.0)
    view.begin_answer(SUMMARY, 2.0)
    answer = long_reply(6000)  # 100 paragraphs: about as many frozen parts
    for end in range(400, len(answer), 400):
        view.text(answer[:end])
    sink = view.sink
    assert len(sink._frozen) > 5 * FROZEN_GROUP
    assert max(lists) <= 2 + FROZEN_GROUP + len(sink._frozen) // FROZEN_GROUP + 1  # never one part per entry
    assert all(len(group.children) <= FROZEN_GROUP for group in sink._groups)
    frozen = list(sink._frozen)
    view.finish(Reply(text=answer, model="openai/o4-mini", reasoning=SUMMARY))
    assert box.children == (header, out) and all(part.comm is None for part in frozen)
    final = out.outputs[0]["data"]["text/markdown"]
    assert final.startswith(f"<details {DIMMED}><summary>Reasoning<") and flat(answer) in flat(final)
