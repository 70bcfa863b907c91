"""The SSE side of a chat exchange: chunk encoding, batched writes, and the mid-stream faults."""

from __future__ import annotations

import json
import time
from typing import Any

from .exchange import Exchange
from .httpd import ClientGone, Handler

#: chunks (reasoning, content or tool call) sent before a mid-stream fault (error, drop, malformed line, stall)
FEW_CHUNKS = 3
#: seconds between ``: OPENROUTER PROCESSING`` comments while "thinking"
THINK_INTERVAL = 0.2
PROCESSING = b": OPENROUTER PROCESSING\n\n"
#: buffered bytes that trigger a write
FLUSH_BYTES = 64 * 1024


class SSEWriter:
    """Buffers SSE bytes and writes them in batches, close-delimited or with chunked transfer encoding."""

    def __init__(self, handler: Handler, chunked: bool) -> None:
        self.handler, self.chunked = handler, chunked
        self._buffer: list[bytes] = []
        self._size = 0

    def write(self, data: bytes, flush: bool = False) -> None:
        self._buffer.append(data)
        self._size += len(data)
        if flush or self._size >= FLUSH_BYTES:
            self.flush()

    def event(self, payload: dict[str, Any], flush: bool = False) -> None:
        self.write(b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n", flush)

    def flush(self) -> None:
        if not self._buffer:
            return
        data = b"".join(self._buffer)
        self._buffer.clear()
        self._size = 0
        if self.chunked:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self.handler.wfile.write(data)

    def pause(self, seconds: float) -> None:
        """Flush, then wait; raises ClientGone if the client hangs up or the emulator stops meanwhile."""
        self.flush()
        if not self.handler.pause(seconds):
            raise ClientGone

    def close(self) -> None:
        """End the body normally (the terminating chunk when chunked; the connection closes after)."""
        self.flush()
        if self.chunked:
            self.handler.wfile.write(b"0\r\n\r\n")


def _content_encoder(exchange: Exchange) -> Any:
    """A fast encoder of content chunks: one ``json.dumps`` of the piece between two fixed byte strings."""
    sample = {**exchange.base(), "choices": [exchange.choice("\x00", None)]}
    prefix, suffix = json.dumps(sample, separators=(",", ":")).split('"\\u0000"')
    head, tail = b"data: " + prefix.encode(), suffix.encode() + b"\n\n"
    return lambda piece: head + json.dumps(piece).encode() + tail


def _start(exchange: Exchange) -> SSEWriter:
    handler = exchange.handler
    exchange.request.status = 200
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.send_header("Cache-Control", "no-cache")
    handler.send_header("X-Accel-Buffering", "no")
    if exchange.plan.chunked:
        handler.send_header("Transfer-Encoding", "chunked")
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.close_connection = True
    return SSEWriter(handler, exchange.plan.chunked)


def _think(writer: SSEWriter, seconds: float) -> None:
    end = time.monotonic() + seconds
    while (remaining := end - time.monotonic()) > 0:
        writer.pause(min(THINK_INTERVAL, remaining))
        writer.write(PROCESSING, flush=True)


def _midstream_fault(exchange: Exchange, writer: SSEWriter) -> bool:
    """Apply the plan's mid-stream faults; True when the stream must end here."""
    plan = exchange.plan
    if plan.stall:
        writer.pause(plan.stall)
    if plan.malformed:
        writer.write(b"data: {not json\n\n", flush=True)
    if plan.midstream_error:
        exchange.finish_generation("error", None)
        error = {
            "code": 502,
            "message": "Provider returned error",
            "metadata": {"provider_name": exchange.provider},
        }
        writer.event({**exchange.base(), "error": error, "choices": [exchange.choice("", "error")]})
        writer.flush()
        return True
    if plan.drop:
        writer.flush()
        exchange.cut_connection()
        return True
    return False


def send_stream(exchange: Exchange) -> None:
    """Stream the exchange's reply: processing comments, reasoning, content or tool calls, finish, usage,
    ``[DONE]``; a mid-stream fault strikes after the first few chunks (reasoning chunks count)."""
    plan = exchange.plan
    exchange.begin_generation(streamed=True)
    writer = _start(exchange)
    writer.write(PROCESSING, flush=True)
    _think(writer, plan.think)
    encode = _content_encoder(exchange)
    units = exchange.units()
    faulty = plan.stall or plan.malformed or plan.midstream_error or plan.drop
    cut = min(FEW_CHUNKS, len(units)) if faulty else -1
    first_at = None
    for index, unit in enumerate(units):
        if index == cut and _midstream_fault(exchange, writer):
            return
        if isinstance(unit, str):
            writer.write(encode(unit), flush=index == 0)
        else:
            writer.event({**exchange.base(), "choices": [exchange.delta_choice(unit)]}, flush=index == 0)
        first_at = first_at or time.monotonic()
        if plan.slow:
            writer.pause(plan.slow)
    if cut == len(units) and _midstream_fault(exchange, writer):
        return
    exchange.finish_generation(exchange.finish, first_at)
    writer.event({**exchange.base(), "choices": [exchange.choice("", exchange.finish)]})
    if not plan.no_usage:
        writer.event({**exchange.base(), "choices": [], "usage": exchange.usage})
    writer.write(b"data: [DONE]\n\n")
    writer.close()
