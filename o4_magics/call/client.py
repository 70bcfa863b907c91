"""The ``openai`` SDK pointed at OpenRouter: one client per configuration, request options, error mapping.

Nothing here is imported at ``%load_ext`` time; ``openai`` is imported on the first call.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from ..errors import APIError, StreamError

APP_URL = "https://github.com/o4-magics/o4-magics"
APP_TITLE = "o4-magics"
ATTRIBUTION_HEADERS = {"HTTP-Referer": APP_URL, "X-Title": APP_TITLE}


@dataclass(frozen=True)
class ClientConfig:
    """What makes two calls share one SDK client."""

    base_url: str
    api_key: str
    timeout: float
    max_retries: int

    def __repr__(self) -> str:  # never show the key
        return f"ClientConfig(base_url={self.base_url!r}, api_key='***', timeout={self.timeout}, max_retries={self.max_retries})"


class AttemptCounter:
    """Counts HTTP attempts per calling thread (the SDK retries internally), so messages can say "after N retries"."""

    def __init__(self) -> None:
        self._local = threading.local()

    def reset(self) -> None:
        self._local.count = 0

    @property
    def count(self) -> int:
        return getattr(self._local, "count", 0)

    def hook(self, request: Any) -> None:
        self._local.count = self.count + 1


class ClientPool:
    """Keeps one ``openai.OpenAI`` client per ``ClientConfig`` (connection reuse, no client per call)."""

    def __init__(self) -> None:
        self._clients: dict[ClientConfig, Any] = {}
        self.attempts = AttemptCounter()

    def __repr__(self) -> str:
        return f"ClientPool({len(self._clients)} clients)"

    def get(self, config: ClientConfig) -> Any:
        client = self._clients.get(config)
        if client is None:
            import openai

            http_client = openai.DefaultHttpxClient(event_hooks={"request": [self.attempts.hook]})
            client = openai.OpenAI(
                base_url=config.base_url,
                api_key=config.api_key,
                timeout=config.timeout,
                max_retries=config.max_retries,
                default_headers=ATTRIBUTION_HEADERS,
                http_client=http_client,
            )
            self._clients[config] = client
        return client

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()


def request_kwargs(
    *, model: str, messages: list[dict], stream: bool, effort: str, max_tokens: int | None, json_mode: bool
) -> dict[str, Any]:
    """Keyword arguments of ``client.chat.completions.create`` in OpenRouter's dialect."""
    kwargs: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "stream": stream,
        # OpenRouter-only fields go in the body as they are: reasoning effort and usage accounting.
        "extra_body": {"reasoning": {"effort": effort}, "usage": {"include": True}},
    }
    if stream:
        kwargs["stream_options"] = {"include_usage": True}
    if max_tokens:
        kwargs["max_tokens"] = max_tokens
    if json_mode:
        kwargs["response_format"] = {"type": "json_object"}
    return kwargs


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
    exc: BaseException, *, base_url: str, model: str, retries: int, timeout: float, waited: float = 0.0
) -> APIError:
    """Turn an ``openai`` SDK exception into a short, actionable ``APIError``."""
    import openai

    host = urlparse(base_url).netloc or base_url
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
            hint="What streamed is kept above; run the cell again.",
        )
    if isinstance(exc, ValueError):  # a data line that is not JSON
        return StreamError(
            "OpenRouter sent a malformed chunk and the reply stopped.",
            hint="What streamed is kept above; run the cell again.",
        )
    raise exc
