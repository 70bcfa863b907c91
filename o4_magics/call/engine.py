"""The engine: runs one validated ``CallSpec`` for every front end, and records it.

In order: the thread's place is taken (send order), the exact request is built, the response cache is asked,
the prompt is checked against the model's context, the budget's worst case is reserved, the request streams
in a worker while the view draws, and then the reply is gathered, redacted, recorded with its cost (the
reservation settled in the same transaction), filed in its thread and, when caching is on, cached.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from ..errors import ConfigError, IncompleteReply, Interrupted, O4Error
from .reply import Reply, ledger_row
from .request import build_request, prompt_estimate, prompt_upper_bound, tools_tokens
from .session import Session
from .spec import CallSpec
from .streaming import StreamingCall
from .threads import Ticket

__all__ = ["View", "NullView", "run", "TICK_S"]

#: How often the cell's thread looks at a streaming call: the "thinking" clock, redraws, Stop and Ctrl-C.
TICK_S = 0.02


class View(Protocol):
    """What the engine tells a front end while a call runs; ``display.view.ReplyView`` is the one we ship."""

    def thinking(self, elapsed: float) -> None: ...
    def reasoning(self, text_so_far: str, elapsed: float) -> None: ...
    def text(self, text_so_far: str) -> None: ...
    def due(self, size: int, seconds_since: float) -> bool: ...
    def finish(self, reply: Reply) -> None: ...


class NullView:
    """A view that draws nothing (``ask()``)."""

    def thinking(self, elapsed: float) -> None:
        pass

    def reasoning(self, text_so_far: str, elapsed: float) -> None:
        pass

    def text(self, text_so_far: str) -> None:
        pass

    def due(self, size: int, seconds_since: float) -> bool:
        return False

    def finish(self, reply: Reply) -> None:
        pass


class _Stopped(Exception):
    """The caller's cancel event was set (the chat widget's Stop button)."""


def _pump(
    call: StreamingCall, view: Any, spec: CallSpec, started: float, cancel: threading.Event | None, redact: Any
) -> None:
    """Draw while the worker streams: thinking clock, reasoning summary, throttled text (credentials redacted
    before anything is drawn); return at the end."""
    drawn_text = drawn_reasoning = 0
    last_draw = started  # the first frame waits like any other: a reply done within it is drawn once, whole
    answering = False
    result = call.result
    while not call.done.is_set():
        if cancel is not None and cancel.is_set():
            raise _Stopped
        call.wake.wait(TICK_S)
        call.wake.clear()
        if call.done.is_set() or (cancel is not None and cancel.is_set()):
            continue
        now = time.monotonic()
        if result.size:
            if not answering:
                answering = True
                begin = getattr(view, "begin_answer", None)
                if begin is not None and spec.show_reasoning and result.reasoning_size:
                    begin(redact(result.reasoning)[0], (result.first_token_at or now) - started)
            if result.size != drawn_text and view.due(result.size, now - last_draw):
                view.text(redact(result.text)[0])
                drawn_text, last_draw = result.size, now
        elif spec.show_reasoning and result.reasoning_size:
            if result.reasoning_size != drawn_reasoning and view.due(result.reasoning_size, now - last_draw):
                view.reasoning(redact(result.reasoning)[0], now - started)
                drawn_reasoning, last_draw = result.reasoning_size, now
            elif now - last_draw >= 1.0:
                view.reasoning(redact(result.reasoning)[0], now - started)  # keeps the label's clock moving
                last_draw = now
        else:
            view.thinking(now - started)


def _refuse(session: Session, spec: CallSpec, error: O4Error) -> O4Error:
    """Record a call refused before sending (cost 0), so the ledger shows it, and return the error."""
    session.record(ledger_row(session, spec, Reply("", spec.model, status="refused", error=str(error))))
    return error


def _check_context(session: Session, spec: CallSpec, prompt_tokens: int) -> None:
    context = session.context_length(spec.model)
    if context and prompt_tokens > context:
        raise ConfigError(
            f"The prompt is about {prompt_tokens:,} tokens, beyond {spec.model}'s {context:,}-token context; "
            "nothing was sent.",
            hint="Attach less (lower O4Magics.context_max_tokens), start a fresh thread with -n, "
            "or lower O4Magics.history_max_tokens.",
        )


def _reserve(session: Session, spec: CallSpec, prompt_tokens: int) -> Any:
    """Hold the call's worst case against the budgets (None when none is set): the notebook's, the user's
    and the team's for the period (the stricter of the setting and the hub policy), judged together in one
    transaction; refuse past any of them, or past what the OpenRouter key has left."""
    from ..accounting.budget import period_refusal, refusal, reservation_ttl, worst_case
    from ..accounting.credit import check_key_credit
    from ..store.periods import budget_caps
    from .policy import effective_budgets, name_the_policy

    settings = session.settings
    check_key_credit(session, spec.model, prompt_tokens, spec.max_tokens)
    caps = budget_caps(*effective_budgets(settings))
    if not caps:
        return None
    worst = worst_case(spec.model, prompt_tokens, spec.max_tokens, session.known_prices(spec.model))
    held = session.ledger.reserve_caps(session.notebook(), worst.usd, caps, reservation_ttl(settings))
    if not held.granted:
        cap = held.cap
        if cap.scope == "notebook":
            raise refusal(cap.usd, held.spent_usd, held.held_usd, worst)
        until = cap.until or ""
        error = period_refusal(cap.scope, cap.usd, held.spent_usd, held.held_usd, worst, cap.period, until)
        raise name_the_policy(error, cap.scope, cap.usd)
    return held


def _replayed(session: Session, spec: CallSpec, reply: Reply, view: Any, ticket: Ticket, messages: list) -> Reply:
    session.threads.complete(
        ticket, messages[-1], {"role": "assistant", "content": reply.text}, private=spec.private, model=reply.model
    )
    session.record(ledger_row(session, spec, reply))
    _add_budget_note(session, reply)
    view.text(reply.text)
    view.finish(reply)
    return reply


def run(
    session: Session,
    spec: CallSpec,
    view: Any = None,
    cancel: threading.Event | None = None,
    ticket: Ticket | None = None,
) -> Reply:
    """Send ``spec``, stream into ``view``, record the call; return the Reply or raise an ``O4Error``.

    On any failure the view has already drawn what streamed, and the raised error carries ``.reply``.
    Setting ``cancel`` (from another thread) stops the call like Ctrl-C does, as status ``interrupted``:
    no request starts after it, a retry wait included.
    """
    view = view or NullView()
    try:
        base_url = session.base_url()
    except ConfigError as error:
        raise _refuse(session, spec, error) from None
    if spec.new:
        session.threads.reset(spec.thread)
    ticket = ticket or session.threads.begin(spec.thread)
    kwargs = build_request(session, spec)
    messages = kwargs["messages"]
    cache_key = None
    if spec.cache:
        from .replay import replay_cached, request_cache_key

        cache_key = request_cache_key(kwargs, base_url)
        replayed = replay_cached(session, spec, cache_key)
        if replayed is not None:
            replayed.redactions = spec.redactions
            return _replayed(session, spec, replayed, view, ticket, messages)
    session.require_key()
    upper = prompt_upper_bound(messages, spec.image_tokens) + tools_tokens(spec.tools, upper=True)
    try:
        _check_context(session, spec, upper)
        reservation = _reserve(session, spec, upper)
    except ConfigError as refusal_error:  # the ledger shows refused calls too (cost 0), then the user sees why
        raise _refuse(session, spec, refusal_error) from None
    return _send(session, spec, view, cancel, ticket, kwargs, reservation, cache_key)


def _send(
    session: Session,
    spec: CallSpec,
    view: Any,
    cancel: threading.Event | None,
    ticket: Ticket,
    kwargs: dict[str, Any],
    reservation: Any,
    cache_key: str | None,
) -> Reply:
    from .retries import RetryPolicy

    started = time.monotonic()
    call: StreamingCall | None = None
    error: O4Error | None = None
    cause: BaseException | None = None
    try:
        if cancel is not None and cancel.is_set():
            raise _Stopped
        client = session.client(session.require_key())  # may import openai (the first call): Stop during it sends nothing
        if cancel is not None and cancel.is_set():
            raise _Stopped
        call = StreamingCall(client, kwargs, RetryPolicy(int(session.settings.max_retries))).start()
        _pump(call, view, spec, started, cancel, session.redactor.redact)
        if cancel is not None and cancel.is_set() and call.result.finish_reason is None:
            raise _Stopped  # Stop came as the stream ended unfinished: it was stopped, whatever closed it
        if call.error is not None:
            cause = call.error
            error = _failure(session, spec, call, call.error, time.monotonic() - started)
    except KeyboardInterrupt:
        error = Interrupted("Interrupted; the reply above is partial.", hint="Run the cell again for a full reply.")
    except _Stopped:
        error = Interrupted("Stopped; the reply is partial.", hint="Send the message again for a full reply.")
    finally:
        if call is not None and not call.done.is_set():
            call.cancel()
    return _conclude(session, spec, view, ticket, kwargs, call, started, error, cause, reservation, cache_key)


def _failure(session: Session, spec: CallSpec, call: StreamingCall, exc: BaseException, waited: float) -> O4Error:
    from .error_map import again, map_error

    if call.result.size and type(exc).__name__ == "APIConnectionError":  # cut mid-reply (e.g. a TCP reset)
        return IncompleteReply("The connection was cut before the reply finished; it is incomplete.", hint=again(spec.source))
    error = map_error(
        exc,
        base_url=session.settings.resolved_base_url(),
        model=spec.model,
        retries=max(0, call.attempts - 1),
        timeout=session.settings.timeout,
        waited=call.retry_wait or waited,
        source=spec.source,
    )
    error.message = session.scrub(error.message)
    return error


def _usage(session: Session, spec: CallSpec, messages: list, call: StreamingCall | None, error: O4Error | None,
           text: str, started: float) -> Any:
    from ..accounting.usage import REASONING_TOKENS_PER_S, usage_from
    from ..context import estimate_tokens

    result = call.result if call is not None else None
    raw = result.usage if result is not None else None
    has_cost = bool(raw) and raw.get("cost") is not None
    streamed = result is not None and (result.size or result.reasoning_size or result.tool_calls)
    if result is not None and result.tool_calls:  # function calls are output too
        text += "".join(f" {found.name} {found.arguments}" for found in result.tool_calls.values())
    reached = call is not None and (streamed or getattr(call, "_response", None) is not None)
    billed = bool(streamed) or (isinstance(error, Interrupted) and reached)
    thinking_s = 0.0
    if result is not None and not result.size:
        thinking_s = time.monotonic() - started
    reasoning_guess = 0
    if billed and not result.size and isinstance(error, Interrupted):
        reasoning_guess = int(thinking_s * REASONING_TOKENS_PER_S)
        if spec.max_tokens:
            reasoning_guess = min(reasoning_guess, spec.max_tokens)
    known = None if has_cost or not billed else session.known_prices(spec.model)
    if raw:  # the server counted: estimates would go unused (and a long reply's costs milliseconds)
        return usage_from(raw, prompt_estimate=0, output_estimate=0, model=spec.model, known=known, sent=billed)
    return usage_from(
        raw,
        prompt_estimate=prompt_estimate(messages, spec.image_tokens) + tools_tokens(spec.tools),
        output_estimate=estimate_tokens(text),
        reasoning_estimate=reasoning_guess,
        model=spec.model,
        known=known,
        sent=billed,
    )


def _conclude(
    session: Session,
    spec: CallSpec,
    view: Any,
    ticket: Ticket,
    kwargs: dict[str, Any],
    call: StreamingCall | None,
    started: float,
    error: O4Error | None,
    cause: BaseException | None,
    reservation: Any,
    cache_key: str | None,
) -> Reply:
    result = call.result if call is not None else None
    redactor = session.redactor
    text, found_in_text = redactor.redact(result.text if result is not None else "")
    reasoning, found_in_reasoning = redactor.redact(result.reasoning if result is not None else "")
    if error is None and result is not None and result.finish_reason is None:
        error = IncompleteReply("The connection closed before the reply finished; it is incomplete.",
                                hint=_again(spec.source))
    reply = Reply(
        text=text,
        model=(result.model if result is not None else None) or spec.model,
        usage=_usage(session, spec, kwargs["messages"], call, error, text, started),
        generation_id=result.generation_id if result is not None else None,
        provider=result.provider if result is not None else None,
        finish_reason=result.finish_reason if result is not None else None,
        latency_s=time.monotonic() - started,
        ttft_s=(result.first_token_at - started) if result is not None and result.first_token_at else None,
        thread=spec.thread,
        reasoning=reasoning,
        reasoning_s=_reasoning_seconds(result, started),
        redactions=spec.redactions + found_in_text + found_in_reasoning,
    )
    if result is not None and result.tool_calls:  # an agent step: the functions called, and what to pass back
        from .reply import merge_reasoning_details

        reply.tool_calls = [result.tool_calls[index] for index in sorted(result.tool_calls)]
        reply.reasoning_details = merge_reasoning_details(result.reasoning_details)
    if error is None and not reply.tool_calls:
        from .formats import check_format

        reply.parsed, error = check_format(spec.format, reply.text, spec.source)
    retries = max(0, call.attempts - 1) if call is not None else 0
    if retries:
        reply.notes.append(f"after {retries} {'retry' if retries == 1 else 'retries'}")
    if error is not None:
        reply.status, reply.error = error.status, session.scrub(str(error))
        error.partial_text = reply.text
    if error is None and spec.file_turn:
        from .request import user_message_index

        user_at = user_message_index(kwargs, spec)  # an agent's exchange follows the user's message
        counted = result is not None and bool(result.usage) and reply.usage.completion_tokens > 0
        session.threads.complete(
            ticket, kwargs["messages"][user_at], {"role": "assistant", "content": reply.text}, private=spec.private,
            model=reply.model, exchange=kwargs["messages"][user_at + 1 :],
            # the server counted the reply (a long reply's estimate costs milliseconds); its reasoning is not kept
            assistant_tokens=max(0, reply.usage.completion_tokens - reply.usage.reasoning_tokens) if counted else None,
        )
        if cache_key is not None and reply.finish_reason == "stop":
            from .replay import store_in_cache

            store_in_cache(session, cache_key, reply)
    row = ledger_row(session, spec, reply)
    if reservation is not None:
        session.ledger.release(reservation, row)
        session.record_listeners(row)
    else:
        session.record(row)
    _add_budget_note(session, reply)
    view.finish(reply)
    if error is not None:
        error.reply = reply  # type: ignore[attr-defined]
        raise error from cause
    return reply


def _again(source: str) -> str:
    from .error_map import again

    return again(source)


def _reasoning_seconds(result: Any, started: float) -> float | None:
    if result is None or result.first_reasoning_at is None:
        return None
    end = result.first_token_at or time.monotonic()
    return max(0.0, end - started)


def _add_budget_note(session: Session, reply: Reply) -> None:
    from ..accounting.budget import budget_note

    budget = session.settings.budget_usd
    if budget is not None:
        note = budget_note(budget, session.spent())
        if note:
            reply.notes.append(note)
