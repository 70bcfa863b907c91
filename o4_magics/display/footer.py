"""The line under a reply: model, tokens by kind, cost, seconds, status marks, notes (plain text)."""

from __future__ import annotations

from typing import Any

STATUS_MARKS = {
    "error": "⚠️ reply failed",
    "incomplete": "⚠️ reply incomplete",
    "interrupted": "⏹ interrupted",
    "cached": "cached",
}


def footer_text(reply: Any, *, host: str = "", budget_note: str = "", stopped_word: str = "interrupted") -> str:
    """One line: model, tokens by kind, cost, seconds, any status mark, the server when it is not OpenRouter.

    ``host`` is shown as "via HOST" (empty for OpenRouter itself); ``stopped_word`` names an interruption
    the way the front does ("stopped" in the chat).
    """
    usage = reply.usage
    parts = [
        reply.model,
        f"{usage.prompt_tokens:,} in ({usage.cached_tokens:,} cached)",
        f"{usage.completion_tokens:,} out ({usage.reasoning_tokens:,} reasoning)",
        f"${usage.cost_usd:.5f}" + (" estimated" if usage.cost_source == "estimated" else ""),
        f"{reply.latency_s:.1f} s",
    ]
    if reply.finish_reason == "length":
        parts.append("⚠️ cut at the token limit: raise --max-tokens")
    mark = STATUS_MARKS.get(reply.status)
    if reply.status == "interrupted":
        mark = f"⏹ {stopped_word}"
    if mark:
        parts.append(mark)
    redactions = getattr(reply, "redactions", 0)
    if redactions:
        parts.append(f"🔒 {redactions} credential{'s' if redactions != 1 else ''} redacted")
    if host:
        parts.append(f"via {host}")
    if budget_note:
        parts.append(budget_note)
    parts.extend(getattr(reply, "notes", []))
    return " · ".join(parts)
