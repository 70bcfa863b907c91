"""%%o4 / %o4 end to end: what is rendered, and what the emulator received over real HTTP."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import TEST_KEY, final_markdown, markdown_outputs


def last_body(emu):
    return emu.chat_requests[-1].body


def test_cell_magic_streams_markdown_with_footer(shell, o4_emulator):
    result, captured = shell.run("%%o4\nWhat is a p-value?")
    assert result.success
    rendered = final_markdown(captured)
    assert rendered.startswith("#")  # the emulator's reply opens with a heading
    assert "```python" in rendered
    footer = rendered.rsplit("<sub>", 1)[1]
    assert "openai/o4-mini" in footer and "$0.0" in footer and " in (" in footer and "reasoning" in footer
    assert "via 127.0.0.1" in footer  # clearly not OpenRouter
    # one display, updated in place: the first output is new, all others are updates of the same display id
    assert [out.update for out in captured.outputs] == [False] + [True] * (len(captured.outputs) - 1)
    assert len({out.transient["display_id"] for out in captured.outputs}) == 1


def test_request_on_the_wire(shell, o4_emulator):
    shell.run("%%o4\nWhat is a p-value?")
    request = o4_emulator.chat_requests[-1]
    body = request.body
    assert request.path.endswith("/chat/completions")
    assert body["model"] == "openai/o4-mini"
    assert body["stream"] is True
    assert body["usage"] == {"include": True}
    assert body["stream_options"] == {"include_usage": True}
    assert body["reasoning"] == {"effort": "medium", "summary": "auto"}
    assert "temperature" not in body and "top_p" not in body
    assert body["messages"][0]["role"] == "system"
    assert body["messages"][-1] == {"role": "user", "content": "What is a p-value?"}
    assert request.headers["http-referer"].startswith("https://")
    assert request.headers["x-title"] == "o4-magics"
    assert request.headers["authorization"] == f"Bearer {TEST_KEY}"


def test_line_magic_keeps_prompt_verbatim(shell, o4_emulator):
    result, captured = shell.run("%o4 -e low what's the difference between a \"t-test\" and -1 {{x}}?")
    assert result.success
    body = last_body(o4_emulator)
    assert body["messages"][-1]["content"] == "what's the difference between a \"t-test\" and -1 {x}?"
    assert body["reasoning"] == {"effort": "low", "summary": "auto"}


def test_options_reach_the_wire(shell, o4_emulator):
    shell.run('%%o4 -m openai/gpt-4o-mini -e high -s "Be terse." --max-tokens 300 --no-stream\nHi')
    body = last_body(o4_emulator)
    assert body["model"] == "openai/gpt-4o-mini"
    assert body["reasoning"] == {"effort": "high", "summary": "auto"}
    assert body["messages"][0] == {"role": "system", "content": "Be terse."}
    assert body["max_tokens"] == 300
    assert body["stream"] is False and "stream_options" not in body


def test_config_traits_apply(shell, o4_emulator):
    shell.run("%config O4Magics.model = 'anthropic/claude-3.5-haiku'")
    shell.run("%config O4Magics.effort = 'low'")
    shell.run("%o4 hello")
    body = last_body(o4_emulator)
    assert body["model"] == "anthropic/claude-3.5-haiku"
    assert body["reasoning"] == {"effort": "low", "summary": "auto"}


def test_threads_follow_up_new_and_named(shell, o4_emulator):
    shell.run("%%o4\nWhat is a p-value?")
    shell.run("%%o4\nGive an example.")
    messages = last_body(o4_emulator)["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1]["content"] == "What is a p-value?"
    assert messages[2]["content"].startswith("#")
    shell.run("%%o4 -t stats\nSeparate topic")
    assert [m["role"] for m in last_body(o4_emulator)["messages"]] == ["system", "user"]
    shell.run("%%o4 -n\nFresh start")
    assert [m["role"] for m in last_body(o4_emulator)["messages"]] == ["system", "user"]
    shell.run("%%o4\nAnd then?")
    contents = [m["content"] for m in last_body(o4_emulator)["messages"] if m["role"] == "user"]
    assert contents == ["Fresh start", "And then?"]


def test_history_is_bounded(shell, magics, o4_emulator):
    magics.history_max_tokens = 600
    for index in range(6):
        shell.run(f"%%o4\nQuestion {index} [[long:150]]")
    messages = last_body(o4_emulator)["messages"]
    assert len(messages) < 1 + 2 * 5 + 1
    assert messages[-1]["content"].startswith("Question 5")


def test_a_turn_counts_the_reply_as_the_server_counted_it(shell, magics, o4_emulator):
    """The history budget counts a reply's tokens from the server's usage (no estimate over a long reply);
    a reply with no usage is estimated."""
    from o4_magics.call.threads import message_tokens

    shell.run("%%o4 -n\nQuestion [[long:300]]")
    turn = magics.session.threads.get("main").turns[-1]
    usage = magics.last_reply.usage
    assert usage.completion_tokens > 0
    assert turn.tokens == message_tokens(turn.user) + 4 + usage.completion_tokens - usage.reasoning_tokens
    shell.run("%%o4 -n\nAgain [[long:300]][[no-usage]]")
    turn = magics.session.threads.get("main").turns[-1]
    assert turn.tokens == message_tokens(turn.user) + message_tokens(turn.assistant)


def test_thinking_line_then_reply(shell, o4_emulator):
    result, captured = shell.run("%%o4\nThink first [[think:1.3]][[verbatim]]A short answer.")
    texts = markdown_outputs(captured)
    assert any("thinking… 1 s" in text for text in texts)
    assert "thinking" not in texts[-1]


def test_latex_is_converted_outside_code(shell, o4_emulator):
    o4_emulator.reply_text = "Euler: \\( e^{i\\pi}+1=0 \\) and\n\\[ a^2 \\]\n\n```latex\n\\( kept \\)\n```\n`\\(also kept\\)`"
    _, captured = shell.run("%o4 math")
    rendered = final_markdown(captured)
    assert "$e^{i\\pi}+1=0$" in rendered and "$$ a^2 $$" in rendered
    assert "\\( kept \\)" in rendered  # a fence keeps its text
    assert "<code>&#92;&#40;also kept&#92;&#41;</code>" in rendered  # inline code too, as inert HTML


def test_long_reply_is_throttled(shell, magics, o4_emulator):
    _, captured = shell.run("%%o4\nWrite a lot [[long:3000]]")
    texts = markdown_outputs(captured)
    reply_words = len(texts[-1].split())
    assert reply_words > 2900
    assert len(texts) < 100  # ~3,000 chunks arrived; a per-token re-render would publish thousands


def test_format_json_returns_parsed_and_out(shell, o4_emulator):
    result, _ = shell.run("%%o4 -f json -o answer\nList three primes as JSON")
    assert isinstance(result.result, dict)
    assert shell.user_ns["answer"] == result.result
    assert last_body(o4_emulator)["response_format"] == {"type": "json_object"}


def test_format_code_goes_to_next_cell(shell, o4_emulator):
    shell.run("%%o4 -f code\nPlot a sine")
    assert (shell.rl_next_input or "").startswith("def triangle(n: int)")


def test_format_text_and_out(shell, o4_emulator):
    _, captured = shell.run("%o4 -f text -o txt hello")
    assert not markdown_outputs(captured)
    assert shell.user_ns["txt"].startswith("#")


def test_refused_call_leaves_no_stale_thinking_line(shell, o4_emulator, monkeypatch):
    monkeypatch.delenv("OPENROUTER_API_KEY")
    _, captured = shell.run("%o4 hello")
    assert captured.outputs == []


def test_dry_run_sends_nothing(shell, o4_emulator):
    _, captured = shell.run("%%o4 --dry-run --max-tokens 1000\nExplain PCA")
    assert o4_emulator.chat_requests == []
    text = final_markdown(captured)
    assert "Dry run: nothing was sent" in text
    assert '"model": "openai/o4-mini"' in text and "Explain PCA" in text
    assert "up to 1,000 output tokens" in text and "$" in text
    assert TEST_KEY not in text


def test_help_documents_every_option(shell):
    doc = shell.find_line_magic("o4").__doc__ or ""
    from IPython.core.magic_arguments import construct_parser  # noqa: F401

    help_text = shell.find_line_magic("o4").parser.format_help()
    for option in ["--model", "--effort", "--system", "--var", "--image", "--new", "--thread", "--max-tokens",
                   "--format", "--out", "--no-stream", "--dry-run", "--cache", "--no-cache", "--private", "--no-interp"]:
        assert option in help_text or option in doc, option


def test_bad_option_is_a_one_line_usage_error(shell, o4_emulator):
    result, captured = shell.run("%o4 --frobnicate hi")
    assert not result.success
    assert "unknown option '--frobnicate'" in captured.stdout + captured.stderr
    assert "Traceback" not in captured.stdout + captured.stderr
    assert o4_emulator.chat_requests == []
    result, captured = shell.run("%o4 -e extreme hi")
    assert not result.success and "Traceback" not in captured.stdout + captured.stderr


def test_ask_returns_reply_without_display(shell, o4_emulator):
    import o4_magics

    reply = o4_magics.ask("What is 2+2?")
    assert reply.text.startswith("#")
    assert reply.generation_id.startswith("gen-")
    assert reply.usage.prompt_tokens > 0 and reply.usage.reasoning_tokens == 192
    assert reply.cost == reply.usage.cost_usd > 0
    assert reply.usage.cost_source == "openrouter"
    assert TEST_KEY not in repr(reply)


def test_cost_estimated_when_usage_missing(shell, o4_emulator):
    import o4_magics

    reply = o4_magics.ask("no usage please [[no-usage]]")
    assert reply.usage.cost_source == "estimated"
    assert reply.cost > 0


def test_load_ext_imports_nothing_heavy():
    code = (
        "import sys; from IPython.core.interactiveshell import InteractiveShell;"
        "sh = InteractiveShell.instance(); sh.run_line_magic('load_ext', 'o4_magics');"
        "print(sorted(m for m in ('openai','ipywidgets','pandas','matplotlib','PIL','numpy','httpx2') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_question_mark_line_is_a_question_not_help(shell, o4_emulator):
    result, captured = shell.run("%o4 What is a p-value?")
    assert result.success
    assert o4_emulator.chat_requests[-1].body["messages"][-1]["content"] == "What is a p-value?"
    result, captured = shell.run("x = 1\n%o4 Why is x set?\ny = 2")
    assert result.success and shell.user_ns["y"] == 2
    assert o4_emulator.chat_requests[-1].body["messages"][-1]["content"] == "Why is x set?"


def test_ask_attaches_vars_and_images(shell, o4_emulator):
    import numpy as np

    import o4_magics

    picture = np.zeros((40, 60, 3), dtype="uint8")
    reply = o4_magics.ask("Describe these", vars={"scores": [0.9, 0.8, 0.95]}, images=[picture])
    content = o4_emulator.chat_requests[-1].body["messages"][-1]["content"]
    assert content[0]["text"].startswith("Describe these\n\n### scores (list")
    assert content[1]["type"] == "image_url" and content[1]["image_url"]["url"].startswith("data:image/png")
    assert reply.status == "ok"


def test_terminal_ipython_prints_plain_text(shell, o4_emulator, monkeypatch):
    monkeypatch.setattr("o4_magics.ipython.views.is_terminal", lambda shell: True)
    result, captured = shell.run("%o4 hello")
    assert result.success and captured.outputs == []
    assert captured.stdout.startswith("## Offline answer")
    assert "openai/o4-mini" in captured.stdout.splitlines()[-1] and "$0.0" in captured.stdout


def test_retry_message_says_how_long_it_waited(shell, magics, o4_emulator):
    magics.max_retries = 1
    result, captured = shell.run("%o4 [[status:429:retry-after=1]]")
    assert "after 1 retry over 1." in captured.stdout + captured.stderr


@pytest.mark.parametrize("options, output_tokens", [("", 2000), ("-e high", 6000), ("--max-tokens 1234", 1234)])
def test_dry_run_estimate_is_the_priced_request(shell, magics, o4_emulator, options, output_tokens):
    """The dry run's figures are the exact request's estimated input plus the stated output, at the model's prices."""
    from o4_magics.accounting.prices import BUILTIN_PRICES
    from o4_magics.call.request import build_request, prompt_estimate
    from o4_magics.call.spec import Ask, prepare

    _, captured = shell.run(f"%o4 --dry-run {options} Explain PCA in one line")
    shown = final_markdown(captured)
    effort = "high" if "high" in options else "medium"
    max_tokens = 1234 if "1234" in options else None
    spec = prepare(magics.session, Ask("Explain PCA in one line", source="magic", effort=effort, max_tokens=max_tokens))
    prompt_tokens = prompt_estimate(build_request(magics.session, spec)["messages"])
    prices = BUILTIN_PRICES["openai/o4-mini"]
    total = prompt_tokens * prices.prompt + output_tokens * prices.completion
    assert f"~{prompt_tokens:,} input tokens (${prompt_tokens * prices.prompt:.5f})" in shown
    assert f"{output_tokens:,} output tokens" in shown
    assert f"**${total:.5f}**" in shown
    assert o4_emulator.chat_requests == []
