"""The ``Emulator`` handle: start and stop the server, read what it recorded, steer the next replies."""

from __future__ import annotations

import threading
from typing import Any

from .faults import find_faults, make_plan
from .httpd import API_PREFIX, Server
from .routes import KEY_LABEL, ROUTES
from .state import EmulatorState, RecordedRequest

__all__ = ["API_PREFIX", "KEY_LABEL", "Emulator", "RecordedRequest"]


class Emulator:
    """An offline, OpenRouter-compatible HTTP server on loopback, for tests, demos and CI."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, port
        #: the shared memory the request handlers read and update
        self.state = EmulatorState()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

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

    def clear(self) -> None:
        """Forget recorded requests, queued faults, marker counters, generations and the reply override."""
        self.state.clear()

    def __repr__(self) -> str:
        state = "running" if self._server is not None else "stopped"
        return f"<Emulator {self.base_url} {state}>"
