"""Model prices and the cost of one call's usage (used when OpenRouter's own ``usage.cost`` is missing)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
#: Built-in context lengths (tokens), used to refuse oversized prompts before sending.
BUILTIN_CONTEXT = {"openai/o4-mini": 200_000}


def fetch_model_catalog(client: Any) -> tuple[dict[str, Prices], dict[str, int]]:
    """Prices and context lengths of every model from OpenRouter's ``/models`` (one request)."""
    prices: dict[str, Prices] = {}
    contexts: dict[str, int] = {}
    for model in client.models.list():
        entry = {**(getattr(model, "model_extra", None) or {}), "id": model.id}
        found = prices_from_models_entry(entry)
        if found is not None:
            prices[model.id] = found
        if isinstance(entry.get("context_length"), int):
            contexts[model.id] = entry["context_length"]
    return prices, contexts


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


#: A fetched /models catalog is reused by new kernels for this long.
CATALOG_TTL_S = 24 * 3600


def save_catalog(path: Any, base_url: str, prices: dict[str, Prices], contexts: dict[str, int]) -> None:
    """Keep a fetched catalog beside the ledger (0600) so the next kernel does not fetch it again."""
    import json
    import os
    import time

    payload = {
        "base_url": base_url,
        "fetched_at": time.time(),
        "prices": {model: [p.prompt, p.completion, p.cached_prompt, p.image] for model, p in prices.items()},
        "contexts": contexts,
    }
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(payload, handle)


def load_catalog(path: Any, base_url: str) -> tuple[dict[str, Prices], dict[str, int]] | None:
    """A saved catalog for ``base_url`` younger than CATALOG_TTL_S, else None."""
    import json
    import time

    try:
        payload = json.loads(path.read_text())
        if payload["base_url"] != base_url or time.time() - payload["fetched_at"] > CATALOG_TTL_S:
            return None
        prices = {model: Prices(*values) for model, values in payload["prices"].items()}
        return prices, {model: int(n) for model, n in payload["contexts"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        return None
