"""What the emulator remembers between requests: the recorded requests, queues, counters and settings."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

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


class EmulatorState:
    """The emulator's shared, thread-safe memory; the HTTP handlers read and update it through these methods."""

    def __init__(self) -> None:
        #: reply text for the following chat requests (None: the default markdown reply)
        self.reply_text: str | None = None
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._queued_faults: deque[str] = deque()
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
        """Forget recorded requests, queued faults, marker counters, generations and the reply override."""
        with self._lock:
            self._requests.clear()
            self._queued_faults.clear()
            self._marker_uses.clear()
            self._generations.clear()
            self.reply_text = None
