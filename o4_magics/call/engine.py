"""One call's life, shared by every front end: build the request, stream it, gather the reply, record it.

The front ends (magics, chat widget, ``ask()``) pass a ``CallSpec`` and a view; the view is told what to
draw (thinking time, text so far, the final reply) and never talks to the network itself.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any, Protocol

from ..accounting.budget import budget_note, check_budget, spent_by
from ..accounting.prices import estimate_cost, prices_for
from ..errors import ConfigError, IncompleteReply, Interrupted, O4Error
from .client import map_error, request_kwargs
from .replay import replay_cached, request_cache_key, store_in_cache
from .reply import CallSpec, Reply, Usage, ledger_row
from .session import Session
from .streaming import StreamingCall
from .threads import message_tokens

__all__ = ["CallSpec", "Reply", "Usage", "View", "NullView", "run", "build_request", "prompt_estimate"]

JSON_INSTRUCTION = "Answer with a single JSON object and nothing else."
CODE_INSTRUCTION = "Answer with one fenced Python code block (comments inside it are fine) and no prose around it."


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
    from ..context.tokens import estimate_tokens

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


def _failure(session: Session, spec: CallSpec, call: StreamingCall, exc: BaseException, waited: float) -> O4Error:
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
        waited=waited,
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
        error = _failure(session, spec, call, failed.cause, time.monotonic() - started)
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
