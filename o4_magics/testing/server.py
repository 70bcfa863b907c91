"""The ``Emulator`` handle: start and stop the server, read what it recorded, steer the next replies."""

from __future__ import annotations

import threading
from typing import Any

from .directives import ReasoningSpec
from .faults import find_faults, make_plan
from .httpd import API_PREFIX, Server
from .routes import KEY_LABEL, ROUTES
from .state import EmulatorState, RecordedRequest

__all__ = ["API_PREFIX", "KEY_LABEL", "Emulator", "RecordedRequest"]


class Emulator:
    """An offline, OpenRouter-compatible HTTP server on loopback, for tests, demos and CI."""

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        key_limit: float | None = None,
        reasoning_summaries: bool | int | str | None = False,
    ) -> None:
        self.host, self.port = host, port
        #: the shared memory the request handlers read and update
        self.state = EmulatorState(key_limit=key_limit)
        self.reasoning_summaries = reasoning_summaries
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def key_limit(self) -> float | None:
        """The key's credit limit in USD that ``/key`` reports; once spent, chat requests get 402 (None: none)."""
        return self.state.key_limit

    @key_limit.setter
    def key_limit(self, limit: float | None) -> None:
        self.state.key_limit = None if limit is None else float(limit)

    @property
    def key_usage(self) -> float:
        """USD billed to the key so far, as ``/key`` reports it (``clear()`` resets it)."""
        return self.state.key_usage

    @property
    def reasoning_summaries(self) -> bool | int | str | None:
        """Reasoning that reasoning models (o4-mini) send when a request has no ``[[reasoning...]]`` directive:
        False/None none; True a 40-word summary; N an N-word summary; or a directive's argument such as
        ``"encrypted"``, ``"text:30"``, ``"summary:60"``."""
        return self._reasoning_summaries

    @reasoning_summaries.setter
    def reasoning_summaries(self, setting: bool | int | str | None) -> None:
        self.state.reasoning_default = reasoning_setting(setting)
        self._reasoning_summaries = setting

    @property
    def reply_text(self) -> str | None:
        """Reply text for the following chat requests (None: the default markdown reply)."""
        return self.state.reply_text

    @reply_text.setter
    def reply_text(self, text: str | None) -> None:
        self.state.reply_text = text

    def start(self) -> Emulator:
        """Bind the port and serve in a daemon thread; returns self."""
        if self._server is None:
            self._server = Server((self.host, self.port), self.state, ROUTES)
            self.port = self._server.server_address[1]
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="o4-emulator",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cutting streams in flight; returns within about a second."""
        server, self._server = self._server, None
        if server is None:
            return
        server.stopping.set()
        stopper = threading.Thread(target=server.shutdown, daemon=True)
        stopper.start()
        while stopper.is_alive():
            server.wake()
            stopper.join(0.01)
        server.server_close()
        server.close_all(timeout=0.8)
        if self._thread is not None:
            self._thread.join(0.2)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The OpenRouter-style base URL, e.g. ``http://127.0.0.1:PORT/api/v1``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{API_PREFIX}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order (a copy of the list)."""
        return self.state.requests()

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """Only the ``POST /chat/completions`` requests."""
        return [r for r in self.requests if r.method == "POST" and r.path == API_PREFIX + "/chat/completions"]

    @property
    def generations(self) -> dict[str, dict[str, Any]]:
        """Generation id -> the stats ``/generation`` returns for it (copies)."""
        return self.state.generations()

    def queue_fault(self, markers: str) -> None:
        """Apply ``markers`` (e.g. ``"[[status:429]]"``) to the next chat request; each call queues one request."""
        faults = find_faults(markers)
        if not faults:
            raise ValueError(f"no fault marker in {markers!r}; expected e.g. '[[status:429]]'")
        make_plan(faults)  # raises FaultError (a ValueError) for a bad argument now, not at request time
        self.state.queue_fault(markers)

    def queue_reply(self, text: str) -> None:
        """Make the next chat request that answers in text reply exactly ``text``, streamed in pieces of 1 to 8
        characters cut anywhere; each call queues one reply (tool-call steps and error statuses skip it)."""
        if not isinstance(text, str):
            raise TypeError(f"queue_reply() takes the reply text, not {type(text).__name__}")
        self.state.queue_reply(text)

    def clear(self) -> None:
        """Forget recorded requests, queued faults and replies, marker counters, generations, the key's usage
        and the reply override (the key limit and the reasoning default stay)."""
        self.state.clear()

    def __repr__(self) -> str:
        state = "running" if self._server is not None else "stopped"
        return f"<Emulator {self.base_url} {state}>"


def reasoning_setting(setting: bool | int | str | None) -> ReasoningSpec | None:
    """Read ``Emulator(reasoning_summaries=...)``; raises ValueError for a setting that makes no sense."""
    if setting is None or setting is False:
        return None
    if setting is True:
        return ReasoningSpec()
    if isinstance(setting, int):
        return ReasoningSpec("summary", setting)
    if isinstance(setting, str):
        return ReasoningSpec.parse(setting)
    raise ValueError(f"reasoning_summaries={setting!r}: expected a bool, a word count or e.g. 'encrypted'")
