"""Tokens and cost of one call: OpenRouter's own ``usage`` (with ``cost``) when it came, else an estimate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .prices import estimate_cost, prices_for

#: For a reply stopped while the model was still reasoning (no usage came back): reasoning tokens assumed per
#: second of thinking, so the ledger does not record a call that ran as free.
REASONING_TOKENS_PER_S = 60


@dataclass
class Usage:
    """Tokens and cost of one call; ``completion_tokens`` includes ``reasoning_tokens``."""

    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    cost_source: str = "estimated"  # "openrouter" (usage.cost), "estimated" (price list) or "cached"


def _int(value: Any) -> int:
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


def from_server(raw: dict[str, Any]) -> tuple[int, int, int, int, Any]:
    """(prompt, cached, completion, reasoning, cost) from a ``usage`` object, tolerant of missing parts."""
    prompt = _int(raw.get("prompt_tokens"))
    completion = _int(raw.get("completion_tokens"))
    cached = _int((raw.get("prompt_tokens_details") or {}).get("cached_tokens"))
    reasoning = _int((raw.get("completion_tokens_details") or {}).get("reasoning_tokens"))
    return prompt, cached, completion, reasoning, raw.get("cost")


def usage_from(
    raw: dict[str, Any] | None,
    *,
    prompt_estimate: int,
    output_estimate: int,
    reasoning_estimate: int = 0,
    model: str,
    known: dict | None = None,
    sent: bool = True,
) -> Usage:
    """Usage from the server's record when present; else estimated and priced from the price list.

    ``sent=False`` (refused before any output: an HTTP error, no connection) means nothing was billed.
    """
    if raw:
        prompt, cached, completion, reasoning, cost = from_server(raw)
        if cost is not None:
            try:
                return Usage(prompt, cached, completion, reasoning, float(cost), "openrouter")
            except (TypeError, ValueError):
                pass
    elif not sent:
        return Usage()
    else:
        prompt, cached = prompt_estimate, 0
        reasoning = reasoning_estimate
        completion = output_estimate + reasoning
    cost = estimate_cost(prices_for(model, known), prompt, cached, completion)
    return Usage(prompt, cached, completion, reasoning, cost, "estimated")
