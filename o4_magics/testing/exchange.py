"""One chat reply being made: its text pieces, usage, generation stats and the chunks that carry it."""

from __future__ import annotations

import secrets
import time
from datetime import datetime, timezone
from typing import Any

from .faults import Plan
from .httpd import Handler
from .replies import default_reply, json_reply, long_reply, make_usage, split_pieces
from .state import RecordedRequest

#: OpenAI's Responses API status behind each finish reason (OpenRouter's ``native_finish_reason``)
NATIVE_FINISH = {"stop": "completed", "length": "max_output_tokens", "error": "error"}


class Exchange:
    """The reply to one chat request and the ways of sending it."""

    def __init__(self, handler: Handler, request: RecordedRequest, plan: Plan, prompt: str) -> None:
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
        override = self.handler.state.reply_text
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
        self.handler.state.store_generation(
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
        self.handler.state.store_generation(
            self.request.gen_id or "",
            finish_reason=finish,
            native_finish_reason=NATIVE_FINISH.get(finish or ""),
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
            "native_finish_reason": NATIVE_FINISH.get(finish or ""),
            "logprobs": None,
        }

    def cut_connection(self) -> None:
        self.handler.close_connection = True
        if self.plan.drop == "reset":
            self.handler.server.reset_on_close(self.handler.connection)
