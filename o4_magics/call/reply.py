"""What a call produced: ``Reply`` (text, reasoning, usage, how it ended) and its ledger row."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..accounting.usage import Usage
from .threads import MAIN_THREAD

__all__ = ["Reply", "Usage", "ledger_row"]


@dataclass
class Reply:
    """What a call produced: the text, its usage and cost, and how it ended.

    ``reasoning`` is the summary o4-mini streamed while thinking (empty when none came); it is never part of
    ``text``, the thread's history or the response cache.
    """

    text: str
    model: str
    usage: Usage = field(default_factory=Usage)
    generation_id: str | None = None
    provider: str | None = None
    finish_reason: str | None = None
    status: str = "ok"  # ok | error | incomplete | interrupted | cached | refused
    error: str = ""
    latency_s: float = 0.0
    ttft_s: float | None = None
    thread: str = MAIN_THREAD
    parsed: Any = None
    cached: bool = False
    reasoning: str = ""
    reasoning_s: float | None = None
    #: credentials redacted from the request and the reply
    redactions: int = 0
    notes: list[str] = field(default_factory=list)  # extra footer marks, e.g. the budget warning
    #: the functions the model called (``call.streaming.ToolCall``: id, name, arguments); for an agent
    #: question's reply, every call of every step, in order
    tool_calls: list[Any] = field(default_factory=list)
    #: OpenRouter's ``reasoning_details`` items, streamed fragments merged; passed back with tool calls
    reasoning_details: list[dict[str, Any]] = field(default_factory=list)

    @property
    def cost(self) -> float:
        return self.usage.cost_usd

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        preview = self.text[:60] + ("…" if len(self.text) > 60 else "")
        return f"Reply({preview!r}, model={self.model!r}, cost=${self.cost:.6f}, status={self.status!r})"


def merge_reasoning_details(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Streamed ``reasoning_details`` fragments joined into whole items, in order, as a non-streamed reply
    carries them: consecutive pieces of one item (same type and index, no other id) have their text, summary
    or data concatenated; other fields come from the latest piece that has them (a signature arrives last).
    Items without an index are never merged."""
    merged: list[dict[str, Any]] = []
    for item in items:
        last = merged[-1] if merged else None
        if (
            last is not None
            and item.get("index") is not None
            and (last.get("type"), last.get("index")) == (item.get("type"), item.get("index"))
            and item.get("id") in (None, last.get("id"))
        ):
            for key, value in item.items():
                if key in ("text", "summary", "data") and isinstance(value, str):
                    last[key] = (last.get(key) or "") + value
                elif value is not None:
                    last[key] = value
            continue
        merged.append(dict(item))
    return merged


def ledger_row(session: Any, spec: Any, reply: Reply) -> Any:
    """The ledger's record of one call."""
    from ..store.ledger import UsageRow

    usage = reply.usage
    return UsageRow(
        notebook=session.notebook(),
        cell=spec.cell,
        thread=spec.thread,
        model=reply.model,
        provider=reply.provider or "",
        generation_id=reply.generation_id or "",
        prompt_tokens=usage.prompt_tokens,
        cached_tokens=usage.cached_tokens,
        completion_tokens=usage.completion_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        images=spec.images,
        cost_usd=usage.cost_usd,
        cost_source=usage.cost_source,
        latency_s=round(reply.latency_s, 4),
        ttft_s=round(reply.ttft_s, 4) if reply.ttft_s is not None else None,
        status=reply.status,
        error=session.scrub(reply.error)[:500],
        source=spec.source,
    )
