"""One request in flight: the SDK call runs in a worker thread and hands events to the caller through a queue.

Why a worker thread: the cell's own thread stays free to redraw the display (the "thinking… Ns" line while
the model reasons, throttled markdown updates) and to receive Ctrl-C at once; on interrupt or Stop the
caller closes the response and leaves, and the worker's late events are dropped.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StreamResult:
    """What the server told us about one reply, gathered from its chunks (or its single JSON body)."""

    text_parts: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    generation_id: str | None = None
    provider: str | None = None
    model: str | None = None
    usage: dict[str, Any] | None = None
    first_token_at: float | None = None
    size: int = 0  # characters received so far

    def add(self, content: str) -> None:
        self.text_parts.append(content)
        self.size += len(content)

    @property
    def text(self) -> str:
        return "".join(self.text_parts)


def _usage_dict(usage: Any) -> dict[str, Any] | None:
    if usage is None:
        return None
    if hasattr(usage, "model_dump"):
        return usage.model_dump()
    return dict(usage)


class StreamingCall:
    """Runs ``client.chat.completions.create(**kwargs)`` in a daemon thread; events arrive on ``self.events``.

    Events are ``("text", str)``, ``("done", None)`` and ``("error", BaseException)``; the caller reads
    ``self.result`` after ``done``.
    """

    def __init__(self, client: Any, kwargs: dict[str, Any], attempts: Any = None) -> None:
        self._client = client
        self._attempt_counter = attempts
        self._kwargs = kwargs
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.result = StreamResult()
        self.attempts = 0
        self._cancelled = threading.Event()
        self._response: Any = None
        self._thread = threading.Thread(target=self._run, name="o4-request", daemon=True)

    def start(self) -> StreamingCall:
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Stop reading: close the HTTP response so the server stops generating (and billing) soon."""
        self._cancelled.set()
        response = self._response
        if response is not None:
            try:
                response.close()
            except Exception:  # closing a half-read response from another thread may complain; it is closed
                pass

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def _emit(self, kind: str, payload: Any) -> None:
        if not self._cancelled.is_set():
            self.events.put((kind, payload))

    def _run(self) -> None:
        if self._attempt_counter is not None:
            self._attempt_counter.reset()
        try:
            if self._kwargs.get("stream"):
                self._run_stream()
            else:
                self._run_whole()
        except BaseException as exc:  # handed to the caller, who maps it to a user message
            self._emit("error", exc)
        else:
            self._emit("done", None)
        finally:
            if self._attempt_counter is not None:
                self.attempts = self._attempt_counter.count

    def _note_meta(self, obj: Any) -> None:
        result = self.result
        result.generation_id = result.generation_id or getattr(obj, "id", None)
        result.model = result.model or getattr(obj, "model", None)
        extra = getattr(obj, "model_extra", None) or {}
        result.provider = result.provider or extra.get("provider")

    def _run_stream(self) -> None:
        stream = self._client.chat.completions.create(**self._kwargs)
        self._response = stream.response
        if self._cancelled.is_set():
            stream.close()
            return
        result = self.result
        for chunk in stream:
            if self._cancelled.is_set():
                break
            if result.generation_id is None:
                self._note_meta(chunk)
            if chunk.usage is not None:
                result.usage = _usage_dict(chunk.usage)
            for choice in chunk.choices:
                content = choice.delta.content if choice.delta is not None else None
                if content:
                    if result.first_token_at is None:
                        result.first_token_at = time.monotonic()
                    result.add(content)
                    self._emit("text", content)
                if choice.finish_reason:
                    result.finish_reason = choice.finish_reason

    def _run_whole(self) -> None:
        completion = self._client.chat.completions.create(**self._kwargs)
        result = self.result
        self._note_meta(completion)
        result.first_token_at = time.monotonic()
        result.usage = _usage_dict(completion.usage)
        if completion.choices:
            choice = completion.choices[0]
            result.finish_reason = choice.finish_reason
            content = choice.message.content if choice.message is not None else None
            if content:
                result.add(content)
                self._emit("text", content)
