"""The emulator's HTTP server: request recording, routing, the GET endpoints, and the ``Emulator`` handle."""

from __future__ import annotations

import json
import logging
import select
import socket
import struct
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .faults import Fault, find_faults, make_plan

logger = logging.getLogger("o4_magics.testing")

API_PREFIX = "/api/v1"
KEY_LABEL = "sk-or-v1-emu..."


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


class _Server(ThreadingHTTPServer):
    """A threading HTTP server that tracks its connections so that it can stop fast and quietly."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.emulator = emulator
        self.stopping = threading.Event()
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._resets: set[socket.socket] = set()
        self._lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        TCPServer.server_bind(self)  # skips HTTPServer's getfqdn(), which can stall on a host without DNS
        self.server_name, self.server_port = self.server_address[:2]

    def track(self, connection: socket.socket, active: bool) -> None:
        with self._lock:
            if active:
                self._connections[connection] = threading.current_thread()
            else:
                self._connections.pop(connection, None)

    def reset_on_close(self, connection: socket.socket) -> None:
        """Make closing ``connection`` send a TCP reset instead of an orderly FIN."""
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with self._lock:
            self._resets.add(connection)

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            reset = request in self._resets
            self._resets.discard(request)
        if reset:
            self.close_request(request)
        else:
            super().shutdown_request(request)

    def wake(self) -> None:
        """Connect to ourselves so that ``serve_forever`` notices a shutdown now, not at its next poll."""
        host, port = self.server_address[:2]
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
        try:
            socket.create_connection((host, port), timeout=0.1).close()
        except OSError:
            pass

    def close_all(self, timeout: float) -> None:
        """Cut every open connection and wait up to ``timeout`` seconds for their threads."""
        with self._lock:
            connections = dict(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for thread in connections.values():
            thread.join(max(0.0, deadline - time.monotonic()))

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)) or self.stopping.is_set():
            logger.debug("connection from %s ended: %r", client_address, error)
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Parses and records each request, then dispatches it to the route for its method and path."""

    protocol_version = "HTTP/1.1"
    server_version = "o4-magics-emulator/0.1"
    timeout = 60
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        self.started = time.monotonic()
        request = self._read_request()
        self.server.emulator._record(request)
        from .routes import ROUTES  # routes import chat, which needs this module's types

        route = ROUTES.get((request.method, request.path))
        if route is None:
            self.send_error_json(request, 404, f"Not Found: {request.method} {request.path}")
        else:
            route(self, request)

    def _read_request(self) -> RecordedRequest:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        return RecordedRequest(
            method=self.command,
            path=split.path.rstrip("/") or "/",
            query={key: values[-1] for key, values in parse_qs(split.query).items()},
            headers={key.lower(): value for key, value in self.headers.items()},
            body=body if isinstance(body, dict) else None,
        )

    def send_json(
        self, request: RecordedRequest, status: int, payload: Any, headers: dict[str, str] | None = None
    ) -> None:
        """Send ``payload`` as a JSON response (keep-alive, with a Content-Length)."""
        data = json.dumps(payload).encode()
        request.status = status
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def send_error_json(
        self,
        request: RecordedRequest,
        status: int,
        message: str,
        metadata: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Send OpenRouter's error body: ``{"error": {"code", "message", "metadata"?}}``."""
        error: dict[str, Any] = {"code": status, "message": message}
        if metadata is not None:
            error["metadata"] = metadata
        self.send_json(request, status, {"error": error}, headers)

    def reject_unauthorized(self, request: RecordedRequest) -> bool:
        """Answer 401 and return True when the request's bearer key is missing or invalid."""
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        key = key.strip() if scheme.lower() == "bearer" else ""
        if not key:
            self.send_error_json(request, 401, "No auth credentials found")
        elif "invalid" in key:
            self.send_error_json(request, 401, "User not found.")
        return not key or "invalid" in key

    def pause(self, seconds: float) -> bool:
        """Wait ``seconds``; False (early) when the emulator stops or the client hangs up."""
        end = time.monotonic() + seconds
        while (remaining := end - time.monotonic()) > 0:
            if self.server.stopping.wait(min(0.05, remaining)) or self.client_gone():
                return False
        return True

    def client_gone(self) -> bool:
        """Whether the client closed its side of the connection."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True


class Emulator:
    """An offline, OpenRouter-compatible HTTP server on loopback, for tests, demos and CI."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, port
        #: reply text for the following chat requests (None: the default markdown reply)
        self.reply_text: str | None = None
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._queued: deque[str] = deque()
        self._marker_uses: dict[str, int] = {}
        self._generations: dict[str, dict[str, Any]] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Emulator:
        """Bind the port and serve in a daemon thread; returns self."""
        if self._server is None:
            self._server = _Server((self.host, self.port), self)
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
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """Only the ``POST /chat/completions`` requests."""
        return [r for r in self.requests if r.method == "POST" and r.path == API_PREFIX + "/chat/completions"]

    @property
    def generations(self) -> dict[str, dict[str, Any]]:
        """Generation id -> the stats ``/generation`` returns for it (copies)."""
        with self._lock:
            return {gen_id: dict(stats) for gen_id, stats in self._generations.items()}

    def queue_fault(self, markers: str) -> None:
        """Apply ``markers`` (e.g. ``"[[status:429]]"``) to the next chat request; each call queues one request."""
        faults = find_faults(markers)
        if not faults:
            raise ValueError(f"no fault marker in {markers!r}; expected e.g. '[[status:429]]'")
        make_plan(faults)  # raises FaultError (a ValueError) for a bad argument now, not at request time
        with self._lock:
            self._queued.append(markers)

    def clear(self) -> None:
        """Forget recorded requests, queued faults, marker counters, generations and the reply override."""
        with self._lock:
            self._requests.clear()
            self._queued.clear()
            self._marker_uses.clear()
            self._generations.clear()
            self.reply_text = None

    def __repr__(self) -> str:
        state = "running" if self._server is not None else "stopped"
        return f"<Emulator {self.base_url} {state}>"

    # -- used by the request handlers ------------------------------------------------------------------
    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_queued(self) -> str:
        with self._lock:
            return self._queued.popleft() if self._queued else ""

    def _admit(self, faults: list[Fault]) -> list[Fault]:
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

    def _store_generation(self, gen_id: str, **stats: Any) -> None:
        with self._lock:
            self._generations.setdefault(gen_id, {}).update(stats)
