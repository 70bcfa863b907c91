"""Streaming at the limit, on a real kernel: a long reply streamed at a realistic speed into ``%%o4`` and the
chat; redraws a second from its first word to its last, bytes sent to the frontend (display_data,
update_display_data and clear_output contents; the chat's widget messages), against the final reply's size,
and whether one output holds the whole reply at the end.

Run: .venv/bin/python benchmarks/bench_streaming.py            (20,000 words at 125 w/s, 2,000 at 100 and 150)
     .venv/bin/python benchmarks/bench_streaming.py --case 2000:125 --front magic    (one case, one front)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import textwrap
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))
from _common import report  # noqa: E402
from _kernel import (  # noqa: E402
    DISPLAY_TYPES,
    CellRun,
    EmulatorProcess,
    Kernel,
    bench_env,
    content_bytes,
    data_bytes,
    precompile,
)

DEFAULT_CASES = ("20000:125", "2000:100", "2000:150")
#: Messages this close together are one redraw (freezing updates one output and creates the next at once).
SAME_REDRAW_S = 0.005
CHAT_SETUP = """
    from o4_magics.widgets.chat import ChatWidget
    magics = next(c for c in get_ipython().configurables if type(c).__name__ == "O4Magics")
    chat = ChatWidget(magics.session, capture=magics.capture, user_ns=get_ipython().user_ns)
"""


def prompt(words: int, rate: float) -> str:
    return f"A long answer [[slow:{1 / rate:.6f}]][[long:{words}]]"


def sent_at(msg: dict[str, Any]) -> float:
    """When the kernel sent ``msg`` (its header's date), in seconds."""
    date = msg["header"]["date"]
    return date.timestamp() if hasattr(date, "timestamp") else float(date)


def redraw_times(times: list[float]) -> list[float]:
    """Arrival times of redraws: messages within SAME_REDRAW_S of the previous one are the same redraw."""
    out: list[float] = []
    for at in times:
        if not out or at - out[-1] > SAME_REDRAW_S:
            out.append(at)
    return out


def per_second(times: list[float]) -> list[int]:
    """Redraws in each whole second from the first to the last (the last partial second left out)."""
    if len(times) < 2:
        return []
    start, seconds = times[0], int(times[-1] - times[0])
    counts = [0] * max(1, seconds)
    for at in times:
        index = int(at - start)
        if index < seconds:
            counts[index] += 1
    return counts


def rate_summary(times: list[float]) -> dict[str, object]:
    counts = per_second(times)
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    late = [
        f"{later - times[0]:.1f}s+{later - earlier:.2f}"
        for earlier, later in zip(times, times[1:], strict=False)
        if later - earlier > 0.25
    ]
    if late:
        print("gaps over 0.25 s (at s + gap):", " ".join(late[:20]), file=sys.stderr)
    return {
        "redraws/s min": min(counts) if counts else 0,
        "median": statistics.median(counts) if counts else 0,
        "max gap s": f"{max(gaps):.2f}" if gaps else "-",
        "over time": " ".join(str(count) for count in _sampled(counts)),
    }


def _sampled(counts: list[int], points: int = 12) -> list[int]:
    """About ``points`` of the per-second counts, evenly spread (the shape over time)."""
    if len(counts) <= points:
        return counts
    step = len(counts) / points
    return [counts[int(index * step)] for index in range(points)]


def plain(markdown: str) -> str:
    """The reply's words as the final frame shows them (footer cut off), whitespace normalized."""
    return " ".join(markdown.split("<sub>")[0].split())


def expected_words(words: int) -> str:
    from o4_magics.testing.replies import long_reply

    return " ".join(long_reply(words).split())


def measure_magic(kernel: Kernel, words: int, rate: float) -> dict[str, object]:
    run = kernel.run(f"%%o4 -n\n{prompt(words, rate)}")
    shown = run.of_type(*DISPLAY_TYPES)
    streaming = [(at, msg) for at, msg in shown if "thinking…" not in str(msg["content"].get("data", ""))]
    final = streaming[-1][1]
    times = redraw_times([sent_at(msg) for _, msg in streaming])
    outputs = frontend_outputs(run)
    whole = len(outputs) == 1 and plain(outputs[0].get("text/markdown", "")) == expected_words(words)
    return summary("%%o4", words, rate, times, shown, final, whole)


def frontend_outputs(run: CellRun) -> list[dict[str, Any]]:
    """The cell's outputs as a notebook frontend would hold them at the end (display ids, updates, clears)."""
    outputs: list[tuple[str | None, dict[str, Any]]] = []
    clear_pending = False
    for _, msg in run.messages:
        kind, content = msg["msg_type"], msg["content"]
        if kind == "clear_output":
            if content.get("wait"):
                clear_pending = True
            else:
                outputs = []
            continue
        if kind not in ("display_data", "update_display_data", "execute_result", "stream"):
            continue
        if clear_pending:
            outputs, clear_pending = [], False
        display_id = (content.get("transient") or {}).get("display_id")
        if kind == "update_display_data":
            outputs = [(i, content["data"] if i == display_id else data) for i, data in outputs]
        else:
            outputs.append((display_id, content.get("data") or {"text": content.get("text", "")}))
    return [data for _, data in outputs if data]


def measure_chat(kernel: Kernel, words: int, rate: float) -> dict[str, object]:
    """The chat's widget messages for the reply: its Output widgets' outputs (the live one and the frozen parts,
    opened, updated and closed) and the bubble's children lists; the bubbles' own widgets are left out."""
    run = kernel.run(f"chat.send({prompt(words, rate)!r}); chat.wait(900)")
    comms = run.of_type("comm_open", "comm_msg", "comm_close")
    asked = prompt(words, rate)[:12]
    replies = [
        (at, msg)
        for at, msg in comms
        if _has_outputs(msg)
        and asked not in _outputs_markdown(msg)
        and _outputs_markdown(msg)
        and "thinking…" not in _outputs_markdown(msg)
    ]
    started = replies[0][0]
    final = replies[-1][1]
    reply_comms = {msg["content"]["comm_id"] for _, msg in replies}
    opened = {
        msg["content"]["comm_id"] for at, msg in comms if msg["msg_type"] == "comm_open" and at >= started
    }
    closed = {msg["content"]["comm_id"] for _, msg in comms if msg["msg_type"] == "comm_close"}
    traffic = [
        (at, msg)
        for at, msg in comms
        if at >= started - SAME_REDRAW_S
        and (
            msg["content"].get("comm_id") in reply_comms | opened
            or "children" in msg["content"].get("data", {}).get("state", {})
        )
    ]
    live = final["content"]["comm_id"]
    left = [comm for comm in reply_comms - closed if comm != live and _last_outputs(comms, comm)]
    whole = not left and plain(_outputs_markdown(final)) == expected_words(words)
    times = redraw_times([sent_at(msg) for _, msg in replies])
    return summary("chat", words, rate, times, traffic, final, whole)


def _has_outputs(msg: dict[str, Any]) -> bool:
    return "outputs" in msg["content"].get("data", {}).get("state", {})


def _outputs_markdown(msg: dict[str, Any]) -> str:
    outputs = msg["content"].get("data", {}).get("state", {}).get("outputs") or []
    return "".join(out.get("data", {}).get("text/markdown", "") for out in outputs)


def _last_outputs(comms: list[tuple[float, dict[str, Any]]], comm_id: str) -> str:
    found = ""
    for _, msg in comms:
        if msg["content"].get("comm_id") == comm_id and "outputs" in msg["content"].get("data", {}).get(
            "state", {}
        ):
            found = _outputs_markdown(msg)
    return found


def summary(
    front: str,
    words: int,
    rate: float,
    times: list[float],
    sent: list[tuple[float, dict]],
    final: dict,
    whole: bool,
) -> dict[str, object]:
    total = sum(content_bytes(msg) for _, msg in sent)
    total_data = sum(data_bytes(msg) for _, msg in sent)
    final_bytes = content_bytes(final)
    final_data = data_bytes(final) or len(_outputs_markdown(final).encode())
    if front == "chat":
        total_data = sum(len(_outputs_markdown(msg).encode()) for _, msg in sent)
    return {
        "front": front,
        "reply": f"{words:,} w @ {rate:g} w/s",
        "seconds": f"{times[-1] - times[0]:.1f}",
        **rate_summary(times),
        "bytes sent": f"{total:,}",
        "final": f"{final_bytes:,}",
        "sent/final": f"{total / final_bytes:.2f}x",
        "markdown sent/final": f"{total_data / final_data:.2f}x",
        "one output": "yes" if whole else "NO",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", help="WORDS:RATE (words a second); repeatable")
    parser.add_argument("--front", action="append", choices=("magic", "chat"), help="default: both")
    args = parser.parse_args()
    cases = [tuple(float(part) for part in case.split(":")) for case in (args.case or DEFAULT_CASES)]
    fronts = args.front or ["magic", "chat"]
    precompile()
    rows = []
    with EmulatorProcess() as emulator, Kernel(bench_env(emulator.base_url)) as kernel:
        kernel.run("%load_ext o4_magics")
        kernel.run(textwrap.dedent(CHAT_SETUP))
        kernel.run("%%o4 -n\nwarm up")
        for words, rate in cases:
            for front in fronts:
                measure = measure_magic if front == "magic" else measure_chat
                row = measure(kernel, int(words), rate)
                print(row, file=sys.stderr)
                rows.append(row)
    report("streaming", rows)


if __name__ == "__main__":
    main()
