"""The ``openai`` SDK pointed at OpenRouter: one client per configuration, reused for every call.

``openai`` is imported on the first call (or by the background warm-up after ``%load_ext``), never at load.
The SDK's own retries are off: ``call.retries`` decides, so that Stop can end a retry wait.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

APP_URL = "https://github.com/o4-magics/o4-magics"
APP_TITLE = "o4-magics"
ATTRIBUTION_HEADERS = {"HTTP-Referer": APP_URL, "X-Title": APP_TITLE}


@dataclass(frozen=True)
class ClientConfig:
    """What makes two calls share one SDK client."""

    base_url: str
    api_key: str
    timeout: float
    max_retries: int = 0

    def __repr__(self) -> str:  # never show the key
        return f"ClientConfig(base_url={self.base_url!r}, api_key='***', timeout={self.timeout}, max_retries={self.max_retries})"


class ClientPool:
    """Keeps one ``openai.OpenAI`` client per ``ClientConfig`` (connection reuse, no client per call)."""

    def __init__(self) -> None:
        self._clients: dict[ClientConfig, Any] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ClientPool({len(self._clients)} clients)"

    def get(self, config: ClientConfig) -> Any:
        with self._lock:
            client = self._clients.get(config)
            if client is None:
                import openai

                client = openai.OpenAI(
                    base_url=config.base_url,
                    api_key=config.api_key,
                    timeout=config.timeout,
                    max_retries=0,
                    default_headers=ATTRIBUTION_HEADERS,
                )
                self._clients[config] = client
            return client

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()


def sdk_chunks(stream: Any) -> Iterator[dict[str, Any]]:
    """The chunks of an SDK stream as the JSON objects the server sent (plain dicts).

    The events are read with the SDK's own SSE decoder (``Stream._iter_events``), and each event's data is
    checked as the SDK checks it (``[DONE]`` ends the stream; an object with an ``error`` raises
    ``openai.APIError``), but no pydantic model is built per chunk: that was most of the time a streamed reply
    spent in the kernel (a 500-word reply: 50 ms through the SDK's models, 6 ms this way). An SDK without
    ``_iter_events`` gets its own models, as dicts. A transport error mid-stream is raised as
    ``openai.APITimeoutError`` or ``openai.APIConnectionError``, as openai 3 raises it (openai 2, on Colab, lets
    httpx's own error out); httpx's classes are recognised by name: importing httpx here, from two request
    threads at once, could meet a half-imported module."""
    try:
        events = getattr(stream, "_iter_events", None)
        if events is None:
            for chunk in stream:
                yield chunk.to_dict() if hasattr(chunk, "to_dict") else chunk.model_dump()
            return
        for event in events():
            if event.data.startswith("[DONE]"):
                break
            data = json.loads(event.data)
            if isinstance(data, dict) and data.get("error"):
                raise _stream_error(data["error"], stream.response.request)
            yield data
    except Exception as error:
        kinds = {cls.__name__ for cls in type(error).__mro__ if cls.__module__.split(".")[0] in ("httpx", "httpx2")}
        if "TransportError" not in kinds:
            raise
        import openai

        request = stream.response.request
        if "TimeoutException" in kinds:
            raise openai.APITimeoutError(request=request) from error
        raise openai.APIConnectionError(request=request) from error
    finally:
        stream.response.close()  # read to its end, stopped or failed: the connection goes back to the pool


def _stream_error(error: Any, request: Any) -> Exception:
    """The ``openai.APIError`` the SDK raises for an error sent inside a stream (OpenRouter's mid-stream errors)."""
    import openai

    message = error.get("message") if isinstance(error, dict) else None
    if not message or not isinstance(message, str):
        message = "An error occurred during streaming"
    return openai.APIError(message=message, request=request, body=error)
