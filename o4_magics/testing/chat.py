"""One ``POST /chat/completions`` exchange: validate, apply fault markers, answer as JSON or an SSE stream."""

from __future__ import annotations

import json
import secrets
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .catalog import MODEL_IDS
from .faults import FaultError, Plan, find_faults, make_plan
from .replies import default_reply, json_reply, last_user_text, long_reply, make_usage, quote, split_pieces

if TYPE_CHECKING:
    from .server import RecordedRequest, _Handler

#: content chunks sent before a mid-stream fault (error, drop, malformed line, stall)
FEW_CHUNKS = 3
#: seconds between ``: OPENROUTER PROCESSING`` comments while "thinking"
THINK_INTERVAL = 0.2
PROCESSING = b": OPENROUTER PROCESSING\n\n"
FLUSH_BYTES = 64 * 1024

_NATIVE_FINISH = {"stop": "completed", "length": "max_output_tokens", "error": "error"}


class ClientGone(Exception):
    """The client hung up, or the emulator is stopping: abandon the response quietly."""


def status_error(code: int, model: str, prompt: str) -> tuple[str, dict[str, Any] | None]:
    """A realistic OpenRouter error message and metadata for an HTTP status code."""
    provider = {"provider_name": "OpenAI"}
    table: dict[int, tuple[str, dict[str, Any] | None]] = {
        400: (
            "This endpoint's maximum context length is 200000 tokens. However, you requested about 250000 "
            "tokens (250000 of text input). Please reduce the length of either one, or use the "
            '"middle-out" transform to compress your prompt automatically.',
            None,
        ),
        401: ("User not found.", None),
        402: (
            "This request requires more credits, or fewer max_tokens. You requested up to 100000 tokens, "
            "but can only afford 1520. To increase, visit https://openrouter.ai/settings/credits and add more "
            "credits",
            None,
        ),
        403: (
            f'{model} requires moderation on OpenAI. Your input was flagged for "violence". No credits were charged.',
            {"reasons": ["violence"], "flagged_input": quote(prompt, 100), **provider, "model_slug": model},
        ),
        404: (f"No endpoints found for {model}.", None),
        408: ("Timed out", None),
        429: (
            f"{model} is temporarily rate-limited upstream. Please retry shortly, or add your own key to "
            "accumulate your rate limits: https://openrouter.ai/settings/integrations",
            {"raw": f"{model} is temporarily rate-limited upstream.", **provider},
        ),
        500: ("Internal Server Error", None),
        502: ("Provider returned error", {"raw": "upstream connect error or disconnect/reset", **provider}),
        503: ("No allowed providers are available for the selected model.", None),
    }
    return table.get(code, (f"Emulated error {code}", None))


def _invalid(request: RecordedRequest) -> tuple[int, str] | None:
    body = request.body
    if body is None:
        return 400, "Invalid JSON in request body"
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return 400, 'Input required: specify "prompt" or "messages"'
    if body.get("model") not in MODEL_IDS:
        return 404, f"No endpoints found for {body.get('model')}."
    return None


def handle_chat(handler: _Handler, request: RecordedRequest) -> None:
    """Answer one chat completion request, applying the markers of its last user message and the queue."""
    if handler.reject_unauthorized(request):
        return
    problem = _invalid(request)
    if problem is not None:
        handler.send_error_json(request, *problem)
        return
    emulator = handler.server.emulator
    assert request.body is not None
    prompt = last_user_text(request.body["messages"])
    queued = emulator._next_queued()
    try:
        plan = make_plan(emulator._admit(find_faults(prompt) + find_faults(queued)))
    except FaultError as error:
        handler.send_error_json(request, 400, f"Emulator: bad fault marker: {error}")
        return
    request.fault = plan.marker_text
    exchange = Exchange(handler, request, plan, prompt)
    try:
        if plan.delay and not handler.pause(plan.delay):
            raise ClientGone
        if plan.status is not None:
            exchange.send_status()
        elif request.body.get("stream"):
            exchange.stream()
        else:
            exchange.respond()
    except (ClientGone, OSError):
        handler.close_connection = True
        if request.gen_id is not None:
            emulator._store_generation(request.gen_id, cancelled=True)


class Exchange:
    """The reply to one chat request and the ways of sending it."""

    def __init__(self, handler: _Handler, request: RecordedRequest, plan: Plan, prompt: str) -> None:
        self.handler, self.request, self.plan, self.prompt = handler, request, plan, prompt
        self.body: dict[str, Any] = request.body or {}
        self.model = self.body["model"]
        self.provider = "OpenAI" if self.model.startswith("openai/") else self.model.split("/")[0].title()
        self.created = int(time.time())
        self.pieces = split_pieces(self._reply_text())
        self.finish = "stop"
        if plan.length:
            self.pieces = self.pieces[: max(1, len(self.pieces) // 2)] if self.pieces else []
            self.finish = "length"
        self.usage = make_usage(self.body, "".join(self.pieces))

    def _reply_text(self) -> str:
        override = self.handler.server.emulator.reply_text
        if self.plan.empty:
            return ""
        if self.plan.long_words is not None:
            return long_reply(self.plan.long_words)
        if override is not None:
            return override
        response_format = self.body.get("response_format")
        if isinstance(response_format, dict) and response_format.get("type") in (
            "json_object",
            "json_schema",
        ):
            return json_reply(self.prompt)
        return default_reply(self.prompt)

    def send_status(self) -> None:
        message, metadata = status_error(self.plan.status or 500, self.model, self.prompt)
        headers = {"Retry-After": self.plan.retry_after} if self.plan.retry_after else None
        self.handler.send_error_json(self.request, self.plan.status or 500, message, metadata, headers)

    def begin_generation(self, streamed: bool) -> str:
        gen_id = f"gen-{self.created}-{secrets.token_urlsafe(15).replace('-', 'x').replace('_', 'y')[:20]}"
        self.request.gen_id = gen_id
        usage = self.usage
        images = sum(
            1
            for message in self.body["messages"]
            if isinstance(message, dict) and isinstance(message.get("content"), list)
            for part in message["content"]
            if isinstance(part, dict) and part.get("type") == "image_url"
        )
        self.handler.server.emulator._store_generation(
            gen_id,
            id=gen_id,
            upstream_id=f"resp_{secrets.token_hex(12)}",
            total_cost=usage["cost"],
            usage=usage["cost"],
            cache_discount=None,
            upstream_inference_cost=None,
            is_byok=False,
            created_at=datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            model=self.model,
            app_id=None,
            origin=self.request.headers.get("http-referer", ""),
            streamed=streamed,
            cancelled=False,
            provider_name=self.provider,
            latency=None,
            moderation_latency=None,
            generation_time=None,
            finish_reason=None,
            native_finish_reason=None,
            tokens_prompt=usage["prompt_tokens"],
            tokens_completion=usage["completion_tokens"],
            native_tokens_prompt=usage["prompt_tokens"],
            native_tokens_completion=usage["completion_tokens"],
            native_tokens_reasoning=usage["completion_tokens_details"]["reasoning_tokens"],
            native_tokens_cached=0,
            num_media_prompt=images,
            num_media_completion=0,
            num_search_results=None,
        )
        return gen_id

    def finish_generation(self, finish: str | None, first_at: float | None) -> None:
        now = time.monotonic()
        first = first_at if first_at is not None else now
        self.request.finish_reason = finish
        self.request.completed = finish is not None
        self.handler.server.emulator._store_generation(
            self.request.gen_id or "",
            finish_reason=finish,
            native_finish_reason=_NATIVE_FINISH.get(finish or ""),
            latency=round((first - self.handler.started) * 1000),
            generation_time=round((now - first) * 1000),
        )

    def base(self) -> dict[str, Any]:
        return {
            "id": self.request.gen_id,
            "provider": self.provider,
            "model": self.model,
            "object": "chat.completion.chunk",
            "created": self.created,
        }

    def choice(self, content: str, finish: str | None) -> dict[str, Any]:
        return {
            "index": 0,
            "delta": {"role": "assistant", "content": content},
            "finish_reason": finish,
            "native_finish_reason": _NATIVE_FINISH.get(finish or ""),
            "logprobs": None,
        }

    def cut_connection(self) -> None:
        self.handler.close_connection = True
        if self.plan.drop == "reset":
            self.handler.server.reset_on_close(self.handler.connection)

    def respond(self) -> None:
        """Answer in one JSON body (``stream`` false)."""
        waited = self.plan.think + self.plan.stall
        if waited and not self.handler.pause(waited):
            raise ClientGone
        if self.plan.midstream_error:
            self.plan.status = 502
            self.send_status()
            return
        self.begin_generation(streamed=False)
        content = "".join(self.pieces)
        message = {"role": "assistant", "content": content, "refusal": None, "reasoning": None}
        choice = {**self.choice("", self.finish), "message": message}
        del choice["delta"]
        payload: dict[str, Any] = {**self.base(), "object": "chat.completion", "choices": [choice]}
        if not self.plan.no_usage:
            payload["usage"] = self.usage
        self.finish_generation(self.finish, None)
        if self.plan.drop or self.plan.malformed:
            self._send_broken(json.dumps(payload).encode())
        else:
            self.handler.send_json(self.request, 200, payload)

    def _send_broken(self, data: bytes) -> None:
        """A 200 whose body is cut short (``drop``) or not JSON (``malformed``)."""
        self.request.completed, self.request.finish_reason = False, None
        if self.plan.malformed and not self.plan.drop:
            data = b"{not json"
        self.request.status = 200
        self.handler.send_response(200)
        self.handler.send_header("Content-Type", "application/json")
        self.handler.send_header("Content-Length", str(len(data)))
        self.handler.end_headers()
        if self.plan.drop:
            data = data[: len(data) // 2]
            self.cut_connection()
        self.handler.wfile.write(data)

    def stream(self) -> None:
        """Answer as Server-Sent Events, applying the stream faults."""
        from .stream import send_stream

        send_stream(self)
