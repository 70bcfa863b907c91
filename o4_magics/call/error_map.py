"""Turn an ``openai`` SDK exception into a short, actionable ``APIError`` (never a traceback)."""

from __future__ import annotations

from typing import Any

from ..errors import APIError, StreamError
from .endpoint import display_host

#: What to do after a failure, in each front's words.
AGAIN = {
    "magic": "What streamed is kept above; run the cell again.",
    "explain": "What streamed is kept above; run the cell again.",
    "chat": "What streamed is kept; send the message again.",
    "ask": "Call ask() again.",
    "agent": "What streamed is kept; ask again.",
}


def again(source: str) -> str:
    """The "try again" hint for ``source`` (magic, explain, chat, ask, agent)."""
    return AGAIN.get(source, AGAIN["ask"])

def _body_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body["error"] if isinstance(body.get("error"), dict) else body
        if inner.get("message"):
            return str(inner["message"])
    return str(getattr(exc, "message", "") or exc)


def _flag_reasons(exc: Any) -> str:
    body = getattr(exc, "body", None)
    metadata = body.get("metadata") if isinstance(body, dict) else None
    reasons = metadata.get("reasons") if isinstance(metadata, dict) else None
    return ", ".join(map(str, reasons)) if reasons else ""


def _status_error(status: int, message: str, *, model: str, retries: int, waited: float, exc: Any) -> APIError:
    after = f" after {retries} {'retry' if retries == 1 else 'retries'} over {waited:.1f} s" if retries else ""
    if status == 400 and "context" in message.lower():
        return APIError(
            f"The request is too long for the model's context (400): {message}",
            hint="Start a fresh thread with -n, attach less, or lower O4Magics.history_max_tokens.",
            status_code=status,
        )
    table: dict[int, tuple[str, str]] = {
        400: (f"OpenRouter rejected the request (400): {message}", "Check the options of the call (%o4? lists them)."),
        401: (
            f"OpenRouter rejected the API key (401: {message}).",
            "Check OPENROUTER_API_KEY, or enter a key with %o4_key.",
        ),
        402: (
            "Your OpenRouter account has too few credits for this request (402).",
            "Add credits at https://openrouter.ai/settings/credits, or lower --max-tokens.",
        ),
        403: (
            "OpenRouter's moderation flagged the input (403"
            + (f": {_flag_reasons(exc)}" if _flag_reasons(exc) else "")
            + ").",
            "Rephrase the prompt or remove the flagged content.",
        ),
        404: (
            f"Model {model!r} was not found on OpenRouter (404: {message}).",
            "Pick a valid model id with -m (see https://openrouter.ai/models).",
        ),
        408: (f"OpenRouter timed out the request (408){after}.", "Try again, or lower the reasoning effort with -e low."),
        429: (f"Rate limited by OpenRouter (429){after}.", "Wait a little and run the cell again."),
    }
    if status in table:
        message_text, hint = table[status]
        return APIError(message_text, hint=hint, status_code=status)
    if status >= 500:
        return APIError(
            f"The model's provider failed ({status}: {message}){after}.",
            hint="Try again shortly, or choose another model with -m.",
            status_code=status,
        )
    return APIError(f"OpenRouter answered {status}: {message}", hint="", status_code=status)


def map_error(
    exc: BaseException,
    *,
    base_url: str,
    model: str,
    retries: int,
    timeout: float,
    waited: float = 0.0,
    source: str = "magic",
) -> APIError:
    """Turn an ``openai`` SDK exception into a short, actionable ``APIError``; the cause stays chained."""
    import openai

    host = display_host(base_url)
    if isinstance(exc, openai.APITimeoutError):
        return APIError(
            f"No answer from {host} within {timeout:g} s.",
            hint="Try again, or raise O4Magics.timeout.",
        )
    if isinstance(exc, openai.APIConnectionError):
        return APIError(
            f"Could not connect to {host}.",
            hint="Check the network, or O4Magics.base_url / OPENROUTER_BASE_URL.",
        )
    if isinstance(exc, openai.APIStatusError):
        return _status_error(exc.status_code, _body_message(exc), model=model, retries=retries, waited=waited, exc=exc)
    if isinstance(exc, openai.APIError):  # an error chunk inside a 200 stream
        return StreamError(
            f"The reply failed part-way: {_body_message(exc)}.",
            hint=again(source),
        )
    if isinstance(exc, ValueError):  # a data line that is not JSON
        return StreamError(
            "OpenRouter sent a malformed chunk and the reply stopped.",
            hint=again(source),
        )
    return APIError(
        f"The request to {host} failed unexpectedly ({type(exc).__name__}).",
        hint="Set O4Magics.debug = True to see the cause; " + again(source)[0].lower() + again(source)[1:],
    )
