"""What a call is asked to do and what it produced: ``CallSpec``, ``Usage``, ``Reply``, and its ledger row."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .threads import MAIN_THREAD


@dataclass
class Usage:
    """Tokens and cost of one call; ``completion_tokens`` includes ``reasoning_tokens``."""

    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    cost_source: str = "estimated"  # "openrouter" (usage.cost), "estimated" (price list) or "cached"


@dataclass
class Reply:
    """What a call produced: the text, its usage and cost, and how it ended."""

    text: str
    model: str
    usage: Usage = field(default_factory=Usage)
    generation_id: str | None = None
    provider: str | None = None
    finish_reason: str | None = None
    status: str = "ok"  # ok | error | incomplete | interrupted | cached
    error: str = ""
    latency_s: float = 0.0
    ttft_s: float | None = None
    thread: str = MAIN_THREAD
    parsed: Any = None
    cached: bool = False
    notes: list[str] = field(default_factory=list)  # extra footer marks, e.g. the budget warning

    @property
    def cost(self) -> float:
        return self.usage.cost_usd

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        preview = self.text[:60] + ("…" if len(self.text) > 60 else "")
        return f"Reply({preview!r}, model={self.model!r}, cost=${self.cost:.6f}, status={self.status!r})"

    def _repr_markdown_(self) -> str:
        from ..markdown import jupyter_math

        return jupyter_math(self.text)


@dataclass
class CallSpec:
    """Everything a front end decided about one call."""

    content: str | list[dict[str, Any]]
    model: str
    effort: str = "medium"
    system: str = ""
    max_tokens: int | None = None
    stream: bool = True
    format: str = "markdown"  # markdown | text | code | json
    thread: str = MAIN_THREAD
    new: bool = False
    source: str = "magic"  # magic | explain | chat | ask
    cell: int | None = None
    images: int = 0
    cache: bool = False  # replay an identical earlier request from the response cache


def ledger_row(session: Any, spec: CallSpec, reply: Reply) -> Any:
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
        error=reply.error[:500],
        source=spec.source,
    )
