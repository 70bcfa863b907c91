"""One chat reply being made: reasoning, text pieces or tool calls, usage, generation stats, its chunks."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .catalog import provider_name, supports_reasoning
from .directives import Directives, ReasoningSpec
from .faults import Plan
from .httpd import Handler
from .reasoning import Reasoning
from .replies import default_reply, json_reply, long_reply, split_anywhere, split_pieces
from .state import RecordedRequest
from .tools import ToolCall, answered_steps, tool_names, tool_results, tools_answer
from .usage import image_urls, make_usage, within_cap

#: OpenAI's Responses API status behind each finish reason (OpenRouter's ``native_finish_reason``)
NATIVE_FINISH = {
    "stop": "completed",
    "length": "max_output_tokens",
    "error": "error",
    "tool_calls": "completed",
}


@dataclass
class Turn:
    """What the request asks for: its steering user message, read once by the chat route."""

    messages: list[Any]
    #: index of the steering user message (None when the request has no user message)
    index: int | None
    #: its text before ``[[verbatim]]``, where markers and directives are read
    prompt: str
    #: its text after ``[[verbatim]]`` (None without the marker)
    verbatim: str | None
    directives: Directives


class Exchange:
    """The reply to one chat request: what it carries, and the chunks and message that carry it."""

    def __init__(self, handler: Handler, request: RecordedRequest, plan: Plan, turn: Turn) -> None:
        self.handler, self.request, self.plan, self.turn = handler, request, plan, turn
        self.prompt = turn.prompt
        self.body: dict[str, Any] = request.body or {}
        self.model = self.body["model"]
        self.provider = provider_name(self.model)
        self.created = int(time.time())
        self.reasoning = Reasoning.build(self._reasoning_spec(), self.model)
        step = self._next_step()
        self.tool_calls = ToolCall.make(step) if step else []
        self.pieces = [] if self.tool_calls else self._reply_pieces()
        self.finish = "tool_calls" if self.tool_calls else "stop"
        if plan.length and not self.tool_calls:
            self.pieces = self.pieces[: max(1, len(self.pieces) // 2)] if self.pieces else []
            self.finish = "length"
        if not self.tool_calls:
            self.pieces, cut = within_cap(self.body, self.pieces)
            if cut:
                self.finish = "length"
        calls_text = " ".join(f"{call.name} {call.arguments}" for call in self.tool_calls)
        self.usage = make_usage(self.body, "".join(self.pieces) + calls_text)
        request.reply = "".join(self.pieces)
        request.tool_calls = [call.record() for call in self.tool_calls]
        if self.reasoning is not None:
            request.reasoning, request.reasoning_details = self.reasoning.readable, self.reasoning.details()

    def _reasoning_spec(self) -> ReasoningSpec | None:
        """The directive's reasoning, else the emulator's default for reasoning models; none if excluded."""
        reasoning = self.body.get("reasoning")
        if (isinstance(reasoning, dict) and reasoning.get("exclude") is True) or self.body.get(
            "include_reasoning"
        ) is False:
            return None
        spec = self.turn.directives.reasoning
        if spec is None and supports_reasoning(self.model):
            spec = self.handler.state.reasoning_default
        return spec

    def _next_step(self) -> list[Any] | None:
        """The calls of the first step of ``[[call:...]]`` directives not made yet (None: answer in text)."""
        turn = self.turn
        if turn.index is None or not tool_names(self.body) or self.body.get("tool_choice") == "none":
            return None
        done = answered_steps(turn.messages, turn.index)
        return turn.directives.steps[done] if done < len(turn.directives.steps) else None

    def _reply_pieces(self) -> list[str]:
        state, turn = self.handler.state, self.turn
        if self.plan.empty:
            return []
        if self.plan.long_words is not None:
            return split_pieces(long_reply(self.plan.long_words))
        queued = state.next_reply()
        if queued is not None:
            return split_anywhere(queued)
        if turn.verbatim is not None:
            return split_anywhere(turn.verbatim)
        if state.reply_text is not None:
            return split_pieces(state.reply_text)
        results = tool_results(turn.messages, turn.index) if turn.index is not None else []
        if results:
            assert turn.index is not None
            return split_pieces(tools_answer(results, len(image_urls(turn.messages[turn.index + 1 :]))))
        response_format = self.body.get("response_format")
        if isinstance(response_format, dict) and response_format.get("type") in (
            "json_object",
            "json_schema",
        ):
            return split_pieces(json_reply(self.prompt))
        return split_pieces(default_reply(self.prompt))

    def units(self) -> list[dict[str, Any] | str]:
        """What the stream sends before its finish chunk, in order: reasoning and tool-call deltas (dicts)
        and content pieces (strings; one empty piece when there is neither content nor a tool call)."""
        units: list[dict[str, Any] | str] = list(self.reasoning.deltas()) if self.reasoning else []
        for call in self.tool_calls:
            units.extend(call.deltas())
        if not self.tool_calls:
            units.extend(self.pieces or [""])
        return units

    def message(self) -> dict[str, Any]:
        """The non-streamed reply's ``message``."""
        reasoning = self.reasoning
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(self.pieces),
            "refusal": None,
            "reasoning": reasoning.readable if reasoning else None,
        }
        if reasoning is not None:
            message["reasoning_details"] = reasoning.details()
        if self.tool_calls:
            message["tool_calls"] = [call.message_item() for call in self.tool_calls]
        return message

    def begin_generation(self, streamed: bool) -> str:
        gen_id = f"gen-{self.created}-{secrets.token_urlsafe(15).replace('-', 'x').replace('_', 'y')[:20]}"
        self.request.gen_id = gen_id
        usage = self.usage
        images = len(image_urls(self.body["messages"]))
        self.request.cost = usage["cost"]
        self.handler.state.bill(usage["cost"])
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
        """A streamed choice whose delta carries ``content`` (the finish chunk's content is "")."""
        return self.delta_choice({"role": "assistant", "content": content}, finish)

    def delta_choice(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "index": 0,
            "delta": delta,
            "finish_reason": finish,
            "native_finish_reason": NATIVE_FINISH.get(finish or ""),
            "logprobs": None,
        }

    def cut_connection(self) -> None:
        self.handler.close_connection = True
        if self.plan.drop == "reset":
            self.handler.server.reset_on_close(self.handler.connection)
