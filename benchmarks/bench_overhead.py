"""Overhead per call on a real kernel: ``%%o4``, ``ask()`` and the chat against the raw ``openai`` SDK streaming
the same request and the same reply (a markdown reply with headings, lists, code, math and a table, streamed
in token-sized pieces), for 50-, 500- and 5,000-word replies, interleaved in one run; seconds from sending
the cell to the kernel's idle, as a notebook user waits for them.

o4-magics reads a stream's chunks as plain JSON (the SDK's own SSE decoder, no pydantic model per chunk), which
is most of the raw SDK's time. So the table also shows a second baseline, "SDK events": the same request read
the way o4-magics reads it, with nothing drawn or recorded; the last column is each front's time over it, the
fixed cost of validating, drawing, recording and (for the chat) its widgets.

Run: .venv/bin/python benchmarks/bench_overhead.py [--repeat 9] [--words 50 500 5000]
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap

sys.path.insert(0, os.path.dirname(__file__))
from _common import report  # noqa: E402
from _kernel import Kernel, bench_env, median_ms, precompile, spread_ms  # noqa: E402

PROMPT = "Explain the method, with code"
SETUP = """
    import time, openai, o4_magics
    from o4_magics.call.client import sdk_chunks
    from o4_magics.call.settings import DEFAULT_SYSTEM_PROMPT
    from o4_magics.widgets.chat import ChatWidget
    magics = next(c for c in get_ipython().configurables if type(c).__name__ == "O4Magics")
    raw_client = openai.OpenAI(base_url={base_url!r}, api_key={key!r}, max_retries=0)

    def raw_sdk(prompt):
        stream = raw_client.chat.completions.create(
            model="openai/o4-mini", stream=True, stream_options={{"include_usage": True}},
            messages=[{{"role": "system", "content": DEFAULT_SYSTEM_PROMPT}}, {{"role": "user", "content": prompt}}],
            extra_body={{"reasoning": {{"effort": "medium", "summary": "auto"}}, "usage": {{"include": True}}}},
        )
        parts = []
        for chunk in stream:
            for choice in chunk.choices:
                if choice.delta and choice.delta.content:
                    parts.append(choice.delta.content)
        return "".join(parts)

    def raw_events(prompt):  # the same request, read by o4-magics' own chunk reader (call.client.sdk_chunks)
        stream = raw_client.chat.completions.create(
            model="openai/o4-mini", stream=True, stream_options={{"include_usage": True}},
            messages=[{{"role": "system", "content": DEFAULT_SYSTEM_PROMPT}}, {{"role": "user", "content": prompt}}],
            extra_body={{"reasoning": {{"effort": "medium", "summary": "auto"}}, "usage": {{"include": True}}}},
        )
        parts = []
        for chunk in sdk_chunks(stream):
            for choice in chunk.get("choices") or ():
                content = (choice.get("delta") or {{}}).get("content")
                if content:
                    parts.append(content)
        return "".join(parts)
"""
#: What each front's cell runs (the same prompt; each starts a fresh conversation, as the raw call has none).
CELLS = {
    "raw openai SDK": "_text = raw_sdk({prompt!r})",
    "SDK events": "_text = raw_events({prompt!r})",
    "%%o4": "%%o4 -n\n{prompt}",
    "ask()": "_reply = o4_magics.ask({prompt!r}, new=True)",
    "chat": "chat.send({prompt!r}); chat.wait(60)",
}
#: An open chat follows the notebook's thread (it shows %%o4's turns too): it lives only around its own cells.
BEFORE = {"chat": "chat = ChatWidget(magics.session, capture=magics.capture, user_ns=get_ipython().user_ns)"}
AFTER = {"chat": "chat.close(); chat.wait(5)"}

_TOPICS = ("the estimator", "the residuals", "the variance", "the bootstrap", "the likelihood", "the prior")


def rich_reply(words: int) -> str:
    """A deterministic o4-mini-like markdown reply of about ``words`` words: sections with a paragraph
    (inline code, math, bold), a bullet list, a fenced code block, display math and a small table."""
    parts: list[str] = []
    count, section = 0, 0
    while count < words:
        topic = _TOPICS[section % len(_TOPICS)]
        block = [
            f"## {section + 1}. On {topic}",
            f"We estimate **{topic}** with `fit(x, y)`; its error is \\( \\sigma^2 / n \\) when the samples are "
            f"independent, and the cost is $5 per run. In practice {topic} converges quickly for large n.",
            f"- check {topic} on held-out data\n- plot the residuals against `x`\n- report the interval",
            f"```python\ndef step_{section}(x, y):\n    beta = (x @ y) / (x @ x)\n    return beta\n```",
            f"\\[ \\hat\\beta_{{{section}}} = \\frac{{\\sum_i x_i y_i}}{{\\sum_i x_i^2}} \\]",
            "| n | error |\n| --- | --- |\n| 10 | 0.31 |\n| 100 | 0.10 |",
        ]
        text = "\n\n".join(block)
        parts.append(text)
        count += len(text.split())
        section += 1
    return "\n\n".join(parts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9, help="runs of each cell per size (default 9)")
    parser.add_argument("--words", type=int, nargs="+", default=[50, 500, 5000])
    args = parser.parse_args()
    precompile()
    from o4_magics.testing import Emulator

    samples: dict[tuple[int, str], list[float]] = {}
    with Emulator() as emulator:
        env = bench_env(emulator.base_url)
        with Kernel(env) as kernel:
            kernel.run("%load_ext o4_magics")
            setup = SETUP.format(base_url=emulator.base_url, key=env["OPENROUTER_API_KEY"])
            kernel.run(textwrap.dedent(setup))
            for words in args.words:
                reply = rich_reply(words)
                for round_ in range(args.repeat + 1):  # the first round warms every path and is left out
                    for front, cell in CELLS.items():
                        if front in BEFORE:
                            kernel.run(BEFORE[front])
                        emulator.state.queue_reply(reply)
                        seconds = kernel.run(cell.format(prompt=PROMPT)).seconds
                        if front in AFTER:
                            kernel.run(AFTER[front])
                        if round_:
                            samples.setdefault((words, front), []).append(seconds)
                print(f"{words} words done", file=sys.stderr)
    rows: list[dict[str, object]] = []
    for words in args.words:
        raw = samples[(words, "raw openai SDK")]
        events = samples[(words, "SDK events")]
        for front in CELLS:
            values = samples[(words, front)]
            ours = front not in ("raw openai SDK", "SDK events")
            rows.append(
                {
                    "reply": f"{words:,} words",
                    "front": front,
                    "ms median (min-max)": spread_ms(values),
                    "vs raw SDK": f"{median_ms(values) / median_ms(raw):.2f}x" + (" (target <= 1.1x)" if ours else ""),
                    "over SDK events": f"+{median_ms(values) - median_ms(events):.1f} ms" if ours else "",
                }
            )
    report("overhead", rows)


if __name__ == "__main__":
    main()
