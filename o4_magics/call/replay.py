"""The response cache: identical requests (same model, messages, images, options) replayed at no cost."""

from __future__ import annotations

from typing import Any

from .reply import CallSpec, Reply, Usage, ledger_row


def request_cache_key(kwargs: dict[str, Any]) -> str:
    """The response cache's key: what decides the reply (streamed or not share one entry)."""
    from ..store.ledger import cache_key

    decisive = {k: v for k, v in kwargs.items() if k not in ("stream", "stream_options")}
    return cache_key(decisive)


def store_in_cache(session: Any, key: str, reply: Reply) -> None:
    try:
        session.ledger.cache_put(key, {
            "text": reply.text, "model": reply.model, "provider": reply.provider,
            "generation_id": reply.generation_id, "finish_reason": reply.finish_reason,
            "usage": [reply.usage.prompt_tokens, reply.usage.cached_tokens,
                      reply.usage.completion_tokens, reply.usage.reasoning_tokens],
        })
    except Exception:  # a broken cache is a miss, never a failed call
        pass


def replay_cached(session: Any, spec: CallSpec, kwargs: dict[str, Any], key: str, view: Any) -> Reply | None:
    """Replay an identical earlier reply at no cost (status ``cached``), or None on a miss."""
    try:
        payload = session.ledger.cache_get(key)
    except Exception:
        payload = None
    if not payload:
        return None
    prompt, cached, completion, reasoning = payload.get("usage") or (0, 0, 0, 0)
    reply = Reply(
        text=payload.get("text", ""), model=payload.get("model") or spec.model,
        usage=Usage(prompt, cached, completion, reasoning, 0.0, "cached"),
        generation_id=payload.get("generation_id"), provider=payload.get("provider"),
        finish_reason=payload.get("finish_reason"), status="cached", thread=spec.thread, cached=True,
    )
    session.threads.append(spec.thread, kwargs["messages"][-1], {"role": "assistant", "content": reply.text})
    session.record(ledger_row(session, spec, reply))
    view.text(reply.text)
    view.finish(reply)
    return reply
