"""One request in flight: the SDK call runs in a worker thread and gathers the reply; the caller polls it.

Why a worker thread: the cell's own thread stays free to redraw the display (the "thinking… N s" line, the
reasoning summary, throttled markdown) and to receive Ctrl-C at once. The worker does not wake the caller
for every chunk: it only sets ``wake`` when something the caller must act on happens (first text, first
reasoning, the end, an error); the caller redraws on its own clock. Retries are ours, not the SDK's, so a
Stop during a retry wait ends the call before another request is sent.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .client import sdk_chunks
from .retries import RetryPolicy


@dataclass
class ToolCall:
    """One function call the model asked for, assembled from streamed pieces."""

    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass
class StreamResult:
    """What the server told us about one reply, gathered from its chunks (or its single JSON body)."""

    text_parts: list[str] = field(default_factory=list)
    reasoning_parts: list[str] = field(default_factory=list)
    reasoning_details: list[dict[str, Any]] = field(default_factory=list)
    tool_calls: dict[int, ToolCall] = field(default_factory=dict)
    finish_reason: str | None = None
    generation_id: str | None = None
    provider: str | None = None
    model: str | None = None
    usage: dict[str, Any] | None = None
    first_token_at: float | None = None
    first_reasoning_at: float | None = None
    size: int = 0  # characters of text received so far
    reasoning_size: int = 0

    def add(self, content: str) -> None:
        self.text_parts.append(content)
        self.size += len(content)

    def add_reasoning(self, piece: str) -> None:
        self.reasoning_parts.append(piece)
        self.reasoning_size += len(piece)

    @property
    def text(self) -> str:
        return "".join(self.text_parts)

    @property
    def reasoning(self) -> str:
        return "".join(self.reasoning_parts)


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _as_dict(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return obj
    if hasattr(obj, "model_dump"):
        return obj.model_dump()
    return dict(obj)


def reasoning_piece(delta: dict[str, Any]) -> str:
    """The readable reasoning in one delta or message: its ``reasoning_details`` summary/text items, else its
    ``reasoning`` string (the two carry the same text, so one is used); encrypted items hold none."""
    details = delta.get("reasoning_details")
    if isinstance(details, list) and details:
        pieces = []
        for item in details:
            if not isinstance(item, dict):
                continue
            kind = item.get("type")
            if kind == "reasoning.summary" and isinstance(item.get("summary"), str):
                pieces.append(item["summary"])
            elif kind == "reasoning.text" and isinstance(item.get("text"), str):
                pieces.append(item["text"])
        return "".join(pieces)
    reasoning = delta.get("reasoning")
    return reasoning if isinstance(reasoning, str) else ""


class StreamingCall:
    """Runs ``client.chat.completions.create(**kwargs)`` in a daemon thread, retrying by ``policy``.

    The caller waits on ``wake`` and reads ``result``; ``done`` is set at the end and ``error`` holds the
    exception that ended it, if any. ``attempts`` counts requests sent; ``retry_wait`` the seconds waited.
    """

    def __init__(self, client: Any, kwargs: dict[str, Any], policy: RetryPolicy | None = None) -> None:
        self._client = client
        self._kwargs = kwargs
        self.policy = policy or RetryPolicy()
        self.result = StreamResult()
        self.wake = threading.Event()
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.attempts = 0
        self.retry_wait = 0.0
        self._cancelled = threading.Event()
        self._response: Any = None
        self._thread = threading.Thread(target=self._run, name="o4-request", daemon=True)

    def start(self) -> StreamingCall:
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Stop: no new request starts, and the open response is closed so the server stops generating soon."""
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

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            self._with_retries()
        except BaseException as exc:  # handed to the caller, who maps it to a user message
            if not self._cancelled.is_set():
                self.error = exc
        finally:
            self.done.set()
            self.wake.set()

    def _with_retries(self) -> None:
        while True:
            if self._cancelled.is_set():
                return
            self.attempts += 1
            try:
                if self._kwargs.get("stream"):
                    self._run_stream()
                else:
                    self._run_whole()
                return
            except Exception as exc:
                if self._cancelled.is_set() or self.result.size or self.result.tool_calls:
                    raise  # a reply already under way is never sent again
                delay = self.policy.delay(exc, self.attempts)
                if delay is None:
                    raise
                started = time.monotonic()
                if self._cancelled.wait(delay):
                    return
                self.retry_wait += time.monotonic() - started

    def _note_meta(self, obj: Any) -> None:
        """The generation id, model and provider from a chunk (a dict) or a whole completion (the SDK's model)."""
        if isinstance(obj, dict):
            found = obj
        else:
            found = {**(getattr(obj, "model_extra", None) or {}), "id": getattr(obj, "id", None),
                     "model": getattr(obj, "model", None)}
        result = self.result
        result.generation_id = result.generation_id or _text_or_none(found.get("id"))
        result.model = result.model or _text_or_none(found.get("model"))
        result.provider = result.provider or _text_or_none(found.get("provider"))

    def _take_reasoning(self, delta: dict[str, Any]) -> None:
        details = delta.get("reasoning_details")
        if isinstance(details, list):
            self.result.reasoning_details.extend(item for item in details if isinstance(item, dict))
        piece = reasoning_piece(delta)
        if piece:
            result = self.result
            if result.first_reasoning_at is None:
                result.first_reasoning_at = time.monotonic()
                self.wake.set()
            result.add_reasoning(piece)

    def _take_text(self, content: str) -> None:
        result = self.result
        if result.first_token_at is None:
            result.first_token_at = time.monotonic()
            self.wake.set()
        result.add(content)

    def _take_tool_calls(self, calls: Any) -> None:
        for position, raw in enumerate(calls or []):
            call = _as_dict(raw)
            index = call.get("index", position)
            found = self.result.tool_calls.setdefault(index if isinstance(index, int) else position, ToolCall())
            found.id = found.id or str(call.get("id") or "")
            function = _as_dict(call.get("function"))
            found.name = found.name or str(function.get("name") or "")
            found.arguments += str(function.get("arguments") or "")

    def _run_stream(self) -> None:
        stream = self._client.chat.completions.create(**self._kwargs)
        self._response = stream.response
        if self._cancelled.is_set():
            stream.close()
            return
        result = self.result
        for chunk in sdk_chunks(stream):  # the JSON the server sent, chunk by chunk
            if self._cancelled.is_set():
                break
            if not isinstance(chunk, dict):
                continue
            if result.generation_id is None:
                self._note_meta(chunk)
            usage = chunk.get("usage")
            if isinstance(usage, dict):
                result.usage = usage
            for choice in chunk.get("choices") or ():
                if not isinstance(choice, dict):
                    continue
                delta = choice.get("delta")
                if isinstance(delta, dict):
                    if "reasoning" in delta or "reasoning_details" in delta:
                        self._take_reasoning(delta)
                    if isinstance(delta.get("tool_calls"), list):
                        self._take_tool_calls(delta["tool_calls"])
                    content = delta.get("content")
                    if content and isinstance(content, str):
                        self._take_text(content)
                finish = choice.get("finish_reason")
                if finish:
                    result.finish_reason = str(finish)

    def _run_whole(self) -> None:
        completion = self._client.chat.completions.create(**self._kwargs)
        result = self.result
        self._note_meta(completion)
        result.usage = _as_dict(completion.usage) or None
        if completion.choices:
            choice = completion.choices[0]
            result.finish_reason = choice.finish_reason
            message = choice.message
            if message is not None:
                self._take_reasoning(getattr(message, "model_extra", None) or {})
                if message.tool_calls:
                    self._take_tool_calls(
                        [{**_as_dict(call), "index": index} for index, call in enumerate(message.tool_calls)]
                    )
                if message.content:
                    self._take_text(message.content)
        if result.first_token_at is None:
            result.first_token_at = time.monotonic()

