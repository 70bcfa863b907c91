"""The emulator's HTTP layer: a threading server that stops fast, and a handler that records and routes."""

from __future__ import annotations

import json
import logging
import select
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .state import EmulatorState, RecordedRequest

logger = logging.getLogger("o4_magics.testing")

API_PREFIX = "/api/v1"

#: a route is found by (method, path) and answers one request
RouteKey = tuple[str, str]
Route = Callable[["Handler", RecordedRequest], None]


class ClientGone(Exception):
    """The client hung up, or the emulator is stopping: abandon the response quietly."""


class Server(ThreadingHTTPServer):
    """A threading HTTP server that tracks its connections so that it can stop fast and quietly."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], state: EmulatorState, routes: dict[RouteKey, Route]) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.state, self.routes = state, routes
        self.stopping = threading.Event()
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._resets: set[socket.socket] = set()
        self._lock = threading.Lock()
        super().__init__(address, Handler)

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


class Handler(BaseHTTPRequestHandler):
    """Parses and records each request, then dispatches it to the route for its method and path."""

    protocol_version = "HTTP/1.1"
    server_version = "o4-magics-emulator/0.1"
    timeout = 60
    server: Server

    @property
    def state(self) -> EmulatorState:
        """The emulator's shared memory."""
        return self.server.state

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
        self.server.state.record(request)
        route = self.server.routes.get((request.method, request.path))
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
        # poll, not select: select() refuses descriptors past FD_SETSIZE (1024), which a long-lived process (a
        # kernel, a test session) reaches; the stream then looked hung up and ended early, without an error.
        try:
            poller = select.poll()
            poller.register(self.connection, select.POLLIN)
            readable = poller.poll(0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True
