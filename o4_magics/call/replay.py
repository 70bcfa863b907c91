"""The response cache in a call's life: identical requests (same endpoint, model, messages, images, options)
replayed at no cost. Only calls made with caching on are stored; replays count no tokens and no generation."""

from __future__ import annotations

from typing import Any

from .reply import Reply, Usage
from .request import cache_fields


def request_cache_key(kwargs: dict[str, Any], base_url: str) -> str:
    """The response cache's key: what decides the reply, the endpoint included (streamed or not share one)."""
    from ..store.ledger import cache_key

    return cache_key(cache_fields(kwargs, base_url))


def store_in_cache(session: Any, key: str, reply: Reply) -> None:
    """Keep a finished reply (text only: never its reasoning) under ``key``."""
    try:
        session.ledger.cache_put(key, {
            "text": reply.text, "model": reply.model, "provider": reply.provider,
            "finish_reason": reply.finish_reason,
        })
    except Exception:  # a broken cache is a miss, never a failed call
        pass


def replay_cached(session: Any, spec: Any, key: str) -> Reply | None:
    """An identical earlier reply at no cost (status ``cached``), or None on a miss."""
    try:
        payload = session.ledger.cache_get(key)
    except Exception:
        payload = None
    if not payload or not isinstance(payload.get("text"), str):
        return None
    return Reply(
        text=payload["text"], model=payload.get("model") or spec.model,
        usage=Usage(0, 0, 0, 0, 0.0, "cached"), provider=payload.get("provider"),
        finish_reason=payload.get("finish_reason"), status="cached", thread=spec.thread, cached=True,
    )
