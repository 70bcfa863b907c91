"""Model prices and the cost of one call's usage (used when OpenRouter's own ``usage.cost`` is missing)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Prices:
    """USD per token (and per image) for one model."""

    prompt: float
    completion: float
    cached_prompt: float
    image: float = 0.0


#: Built-in prices, the offline fallback when /models cannot be read.
BUILTIN_PRICES: dict[str, Prices] = {
    "openai/o4-mini": Prices(prompt=1.10e-6, completion=4.40e-6, cached_prompt=0.275e-6, image=0.000842),
}


def prices_from_models_entry(entry: dict) -> Prices | None:
    """Read an OpenRouter ``/models`` entry's pricing (strings of USD per token); None if unusable."""
    pricing = entry.get("pricing") or {}
    try:
        prompt = float(pricing["prompt"])
        completion = float(pricing["completion"])
    except (KeyError, TypeError, ValueError):
        return None
    cached = pricing.get("input_cache_read")
    try:
        cached_price = float(cached) if cached not in (None, "") else prompt
    except (TypeError, ValueError):
        cached_price = prompt
    return Prices(prompt=prompt, completion=completion, cached_prompt=cached_price)


def estimate_cost(prices: Prices, prompt_tokens: int, cached_tokens: int, completion_tokens: int) -> float:
    """Cost in USD; ``completion_tokens`` already includes reasoning tokens (billed as output)."""
    uncached = max(0, prompt_tokens - cached_tokens)
    return uncached * prices.prompt + cached_tokens * prices.cached_prompt + completion_tokens * prices.completion


def prices_for(model: str, known: dict[str, Prices] | None = None) -> Prices:
    """The prices of ``model``: fetched ones first, then built-in, else o4-mini's as a stated guess."""
    if known and model in known:
        return known[model]
    return BUILTIN_PRICES.get(model, BUILTIN_PRICES["openai/o4-mini"])
