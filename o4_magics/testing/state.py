"""What the emulator remembers between requests: the recorded requests, queues, counters and settings."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .directives import ReasoningSpec
from .faults import Fault


@dataclass
class RecordedRequest:
    """One request the emulator received, recorded before its response was sent."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    status: int | None = None
    fault: str | None = None
    gen_id: str | None = None
    completed: bool = False
    finish_reason: str | None = None
    #: text of the user message whose markers and directives steered the reply
    prompt: str | None = None
    #: the directives applied (``[[reasoning:...]]``, ``[[call:...]]``), joined
    directives: str | None = None
    #: the reply's whole content as planned (a fault may cut what reached the client)
    reply: str | None = None
    #: the readable reasoning sent (None when there was none, or only encrypted items)
    reasoning: str | None = None
    #: the reasoning items, as the non-streamed message carries them
    reasoning_details: list[dict[str, Any]] = field(default_factory=list)
    #: the tool calls the reply made: ``{"id", "type": "function", "function": {"name", "arguments"}}``
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    #: ``reasoning_details`` items the request's assistant messages carried back
    received_reasoning_details: list[dict[str, Any]] = field(default_factory=list)
    #: the cost billed for this request (None when nothing was billed)
    cost: float | None = None


class EmulatorState:
    """The emulator's shared, thread-safe memory; the HTTP handlers read and update it through these methods."""

    def __init__(self, key_limit: float | None = None, reasoning: ReasoningSpec | None = None) -> None:
        #: reply text for the following chat requests (None: the default markdown reply)
        self.reply_text: str | None = None
        #: the key's credit limit in USD (None: no limit)
        self.key_limit = key_limit
        #: the reasoning reasoning models send when the request has no ``[[reasoning...]]`` directive
        self.reasoning_default = reasoning
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._queued_faults: deque[str] = deque()
        self._queued_replies: deque[str] = deque()
        self._key_usage = 0.0
        self._marker_uses: dict[str, int] = {}
        self._generations: dict[str, dict[str, Any]] = {}

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order (a copy of the list)."""
        with self._lock:
            return list(self._requests)

    def queue_fault(self, markers: str) -> None:
        with self._lock:
            self._queued_faults.append(markers)

    def next_fault(self) -> str:
        """The markers queued for the next chat request ("" when none), removed from the queue."""
        with self._lock:
            return self._queued_faults.popleft() if self._queued_faults else ""

    def queue_reply(self, text: str) -> None:
        with self._lock:
            self._queued_replies.append(text)

    def next_reply(self) -> str | None:
        """The verbatim reply queued for the next text answer (None when none), removed from the queue."""
        with self._lock:
            return self._queued_replies.popleft() if self._queued_replies else None

    def bill(self, cost: float) -> None:
        """Add a call's cost to the key's usage."""
        with self._lock:
            self._key_usage += cost

    @property
    def key_usage(self) -> float:
        """USD billed to the key so far (since the start or the last ``clear``)."""
        return round(self._key_usage, 10)

    @property
    def key_remaining(self) -> float | None:
        """What is left under the key's limit (None without a limit; may go below zero)."""
        return None if self.key_limit is None else round(self.key_limit - self._key_usage, 10)

    def admit(self, faults: list[Fault]) -> list[Fault]:
        """The faults that still apply: a ``times=N`` marker applies to its first N requests only."""
        admitted = []
        with self._lock:
            for fault in faults:
                times = fault.times
                if times is not None:
                    self._marker_uses[fault.marker] = uses = self._marker_uses.get(fault.marker, 0) + 1
                    if uses > times:
                        continue
                admitted.append(fault)
        return admitted

    def store_generation(self, gen_id: str, **stats: Any) -> None:
        with self._lock:
            self._generations.setdefault(gen_id, {}).update(stats)

    def generations(self) -> dict[str, dict[str, Any]]:
        """Generation id -> its stats (copies)."""
        with self._lock:
            return {gen_id: dict(stats) for gen_id, stats in self._generations.items()}

    def clear(self) -> None:
        """Forget recorded requests, queued faults and replies, marker counters, generations, the key's usage
        and the reply override (the key limit and the reasoning default stay)."""
        with self._lock:
            self._requests.clear()
            self._queued_faults.clear()
            self._queued_replies.clear()
            self._key_usage = 0.0
            self._marker_uses.clear()
            self._generations.clear()
            self.reply_text = None
