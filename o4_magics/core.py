"""One call's life, shared by every front end: build the request, stream it, gather the reply, record it.

The front ends (magics, chat widget, ``ask()``) pass a ``CallSpec`` and a view; the view is told what to
draw (thinking time, text so far, the final reply) and never talks to the network itself.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from .budget import budget_note, check_budget, spent_by
from .client import map_error, request_kwargs
from .errors import ConfigError, IncompleteReply, Interrupted, O4Error
from .pricing import estimate_cost, prices_for
from .session import Session
from .streaming import StreamingCall
from .threads import MAIN_THREAD, message_tokens

JSON_INSTRUCTION = "Answer with a single JSON object and nothing else."
CODE_INSTRUCTION = "Answer with one fenced Python code block (comments inside it are fine) and no prose around it."


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
        from .markdown import jupyter_math

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


class View(Protocol):
    """What the core tells a front end while a call runs."""

    def thinking(self, elapsed: float) -> None: ...
    def text(self, text_so_far: str) -> None: ...
    def due(self, size: int, seconds_since: float) -> bool: ...
    def finish(self, reply: Reply) -> None: ...


class NullView:
    """A view that draws nothing (``ask()``)."""

    def thinking(self, elapsed: float) -> None:
        pass

    def text(self, text_so_far: str) -> None:
        pass

    def due(self, size: int, seconds_since: float) -> bool:
        return False

    def finish(self, reply: Reply) -> None:
        pass


def system_text(spec: CallSpec) -> str:
    extra = {"json": JSON_INSTRUCTION, "code": CODE_INSTRUCTION}.get(spec.format, "")
    return "\n\n".join(part for part in (spec.system, extra) if part)


def build_messages(session: Session, spec: CallSpec) -> list[dict[str, Any]]:
    """System prompt, the thread's bounded history, then the user's message."""
    messages: list[dict[str, Any]] = []
    system = system_text(spec)
    if system:
        messages.append({"role": "system", "content": system})
    if not spec.new:
        messages.extend(session.threads.history(spec.thread, session.settings.history_max_tokens))
    messages.append({"role": "user", "content": spec.content})
    return messages


def build_request(session: Session, spec: CallSpec) -> dict[str, Any]:
    """The keyword arguments of the SDK call for ``spec`` (the exact request, for sending or --dry-run)."""
    return request_kwargs(
        model=spec.model,
        messages=build_messages(session, spec),
        stream=spec.stream,
        effort=spec.effort,
        max_tokens=spec.max_tokens,
        json_mode=spec.format == "json",
    )


def prompt_estimate(messages: list[dict[str, Any]]) -> int:
    """Estimated prompt tokens of ``messages`` (offline)."""
    return 3 + sum(message_tokens(m) for m in messages)


def check_before_sending(session: Session, spec: CallSpec, prompt_tokens: int) -> None:
    """Refuse, before anything is sent, a prompt beyond the model's context or a call past the budget."""
    context = session.context_length(spec.model)
    if context and prompt_tokens > context:
        raise ConfigError(
            f"The prompt is about {prompt_tokens:,} tokens, beyond {spec.model}'s {context:,}-token context; "
            "nothing was sent.",
            hint="Attach less (lower O4Magics.context_max_tokens), start a fresh thread with -n, "
            "or lower O4Magics.history_max_tokens.",
        )
    if session.settings.budget_usd is not None:
        check_budget(session.settings.budget_usd, spent_by(session), spec.model, prompt_tokens,
                     spec.max_tokens, session.known_prices(spec.model))


def usage_from(
    raw: dict[str, Any] | None, *, messages: list[dict], text: str, model: str, known: dict | None = None
) -> Usage:
    """Usage from the server's record when present; else an offline estimate priced from the price list."""
    from .context.tokens import estimate_tokens

    if raw:
        prompt = int(raw.get("prompt_tokens") or 0)
        completion = int(raw.get("completion_tokens") or 0)
        cached = int((raw.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
        reasoning = int((raw.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0)
        cost = raw.get("cost")
        if cost is not None:
            return Usage(prompt, cached, completion, reasoning, float(cost), "openrouter")
    elif not text:  # refused before any output (HTTP error, no connection): nothing was billed
        return Usage()
    else:
        prompt, cached, reasoning = prompt_estimate(messages), 0, 0
        completion = estimate_tokens(text)
    cost = estimate_cost(prices_for(model, known), prompt, cached, completion)
    return Usage(prompt, cached, completion, reasoning, cost, "estimated")


class _CallFailed(Exception):
    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class _Stopped(Exception):
    """The caller's cancel event was set (the chat widget's Stop button)."""


def _consume(call: StreamingCall, view: View, started: float, cancel: threading.Event | None) -> None:
    """Pump the worker's events into the view: thinking ticks, throttled text redraws; returns at the end."""
    have_text = pending = False
    last_draw = 0.0
    while True:
        if cancel is not None and cancel.is_set():
            raise _Stopped
        try:
            kind, payload = call.events.get(timeout=0.1)
        except queue.Empty:
            kind, payload = "tick", None
        if kind == "text":
            have_text = pending = True
        elif kind == "done":
            return
        elif kind == "error":
            raise _CallFailed(payload)
        now = time.monotonic()
        if not have_text:
            view.thinking(now - started)
        elif pending and view.due(call.result.size, now - last_draw):
            view.text(call.result.text)
            pending, last_draw = False, now


def _usage(session: Session, spec: CallSpec, kwargs: dict[str, Any], result: Any) -> Usage:
    has_cost = bool(result.usage) and result.usage.get("cost") is not None
    known = None if has_cost or not result.text else session.known_prices(spec.model)
    return usage_from(result.usage, messages=kwargs["messages"], text=result.text, model=spec.model, known=known)


def _failure(session: Session, spec: CallSpec, call: StreamingCall, exc: BaseException) -> O4Error:
    if call.result.size and type(exc).__name__ == "APIConnectionError":  # cut mid-reply (e.g. a TCP reset)
        return IncompleteReply(
            "The connection was cut before the reply finished; it is incomplete.",
            hint="What streamed is kept above; run the cell again.",
        )
    error = map_error(
        exc,
        base_url=session.settings.resolved_base_url(),
        model=spec.model,
        retries=max(0, call.attempts - 1),
        timeout=session.settings.timeout,
    )
    error.message = session.scrub(error.message)
    return error


def run(
    session: Session, spec: CallSpec, view: View | None = None, cancel: threading.Event | None = None
) -> Reply:
    """Send ``spec``, stream into ``view``, record the call; return the Reply or raise an ``O4Error``.

    On any failure the view has already drawn what streamed, and the raised error carries ``.reply``.
    Setting ``cancel`` (from another thread) stops the call like Ctrl-C does, as status ``interrupted``.
    """
    view = view or NullView()
    if spec.new:
        session.threads.reset(spec.thread)
    kwargs = build_request(session, spec)
    cache_key = request_cache_key(kwargs)
    if spec.cache:
        replayed = replay_cached(session, spec, kwargs, cache_key, view)
        if replayed is not None:
            return replayed
    key = session.require_key()
    try:
        check_before_sending(session, spec, prompt_estimate(kwargs["messages"]))
    except ConfigError as refusal:  # the ledger shows refused calls too (cost 0), then the user sees why
        session.record(ledger_row(session, spec, Reply("", spec.model, status="refused", error=str(refusal))))
        raise
    started = time.monotonic()
    call = StreamingCall(session.client(key), kwargs, session.pool.attempts).start()
    error: O4Error | None = None
    try:
        _consume(call, view, started, cancel)
    except KeyboardInterrupt:
        call.cancel()
        error = Interrupted("Interrupted; the reply above is partial.", hint="Run the cell again for a full reply.")
    except _Stopped:
        call.cancel()
        error = Interrupted("Stopped; the reply is partial.", hint="Send the message again for a full reply.")
    except _CallFailed as failed:
        error = _failure(session, spec, call, failed.cause)
    result = call.result
    if error is None and result.finish_reason is None:
        error = IncompleteReply(
            "The connection closed before the reply finished; it is incomplete.",
            hint="What streamed is kept above; run the cell again.",
        )
    reply = Reply(
        text=result.text,
        model=result.model or spec.model,
        usage=_usage(session, spec, kwargs, result),
        generation_id=result.generation_id,
        provider=result.provider,
        finish_reason=result.finish_reason,
        latency_s=time.monotonic() - started,
        ttft_s=(result.first_token_at - started) if result.first_token_at else None,
        thread=spec.thread,
    )
    retries = max(0, call.attempts - 1)
    if retries:
        reply.notes.append(f"after {retries} {'retry' if retries == 1 else 'retries'}")
    if error is not None:
        reply.status, reply.error = error.status, str(error)
        error.partial_text = reply.text
    else:
        session.threads.append(spec.thread, kwargs["messages"][-1], {"role": "assistant", "content": reply.text})
        if reply.finish_reason == "stop":
            store_in_cache(session, cache_key, reply)
    session.record(ledger_row(session, spec, reply))
    _add_budget_note(session, reply)
    view.finish(reply)
    if error is not None:
        error.reply = reply  # type: ignore[attr-defined]
        raise error
    return reply


def _add_budget_note(session: Session, reply: Reply) -> None:
    budget = session.settings.budget_usd
    if budget is not None:
        note = budget_note(budget, spent_by(session))
        if note:
            reply.notes.append(note)


def request_cache_key(kwargs: dict[str, Any]) -> str:
    """The response cache's key: what decides the reply (streamed or not share one entry)."""
    from .ledger import cache_key

    decisive = {k: v for k, v in kwargs.items() if k not in ("stream", "stream_options")}
    return cache_key(decisive)


def store_in_cache(session: Session, key: str, reply: Reply) -> None:
    try:
        session.ledger.cache_put(key, {
            "text": reply.text, "model": reply.model, "provider": reply.provider,
            "generation_id": reply.generation_id, "finish_reason": reply.finish_reason,
            "usage": [reply.usage.prompt_tokens, reply.usage.cached_tokens,
                      reply.usage.completion_tokens, reply.usage.reasoning_tokens],
        })
    except Exception:  # a broken cache is a miss, never a failed call
        pass


def replay_cached(session: Session, spec: CallSpec, kwargs: dict[str, Any], key: str, view: View) -> Reply | None:
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


def ledger_row(session: Session, spec: CallSpec, reply: Reply) -> Any:
    """The ledger's record of one call."""
    from .ledger import UsageRow

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
