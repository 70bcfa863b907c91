"""One ``POST /chat/completions`` exchange: validate, apply fault markers, answer as JSON or an SSE stream."""

from __future__ import annotations

import json
from typing import Any

from .catalog import MODEL_IDS, provider_name
from .directives import DirectiveError, find_directives, split_verbatim
from .exchange import Exchange, Turn
from .faults import FaultError, Plan, find_faults, make_plan
from .httpd import ClientGone, Handler
from .replies import message_text_at, quote, steering_index
from .state import RecordedRequest
from .stream import send_stream
from .tools import check_tool_messages, check_tools, received_reasoning

#: OpenRouter's answer once a key has spent its credit limit
KEY_LIMIT_MESSAGE = "Key limit exceeded (total limit). Manage it using https://openrouter.ai/settings/keys"


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


def send_status(handler: Handler, request: RecordedRequest, plan: Plan, prompt: str) -> None:
    """Answer with the plan's HTTP error status and OpenRouter's error body for it."""
    assert request.body is not None
    code = plan.status or 500
    message, metadata = status_error(code, request.body["model"], prompt)
    headers = {"Retry-After": plan.retry_after} if plan.retry_after else None
    handler.send_error_json(request, code, message, metadata, headers)


def _invalid(request: RecordedRequest) -> tuple[int, str, dict[str, Any] | None] | None:
    """The status, message and metadata of a request OpenRouter (or its provider) would refuse."""
    body = request.body
    if body is None:
        return 400, "Invalid JSON in request body", None
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return 400, 'Input required: specify "prompt" or "messages"', None
    if body.get("model") not in MODEL_IDS:
        return 404, f"No endpoints found for {body.get('model')}.", None
    tools_problem = check_tools(body)
    if tools_problem is not None:
        return 400, tools_problem, None
    messages_problem = check_tool_messages(body["messages"])
    if messages_problem is not None:
        return 400, *provider_error(body["model"], *messages_problem)
    return None


def provider_error(model: str, message: str, param: str) -> tuple[str, dict[str, Any]]:
    """OpenRouter's wrapping of a provider's 400: "Provider returned error", the provider's body in ``raw``."""
    raw = {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": None}}
    return "Provider returned error", {
        "raw": json.dumps(raw, indent=2),
        "provider_name": provider_name(model),
    }


def read_turn(messages: list[Any]) -> Turn:
    """The steering user message: its text (split at ``[[verbatim]]``) and its directives."""
    index = steering_index(messages)
    prompt, verbatim = split_verbatim(message_text_at(messages, index))
    return Turn(messages, index, prompt, verbatim, find_directives(prompt))


def handle_chat(handler: Handler, request: RecordedRequest) -> None:
    """Answer one chat completion request, steered by its last user message's markers and the queue."""
    if handler.reject_unauthorized(request):
        return
    problem = _invalid(request)
    if problem is not None:
        handler.send_error_json(request, *problem)
        return
    state = handler.state
    assert request.body is not None
    request.received_reasoning_details = received_reasoning(request.body["messages"])
    remaining = state.key_remaining
    if remaining is not None and remaining <= 0:
        handler.send_error_json(request, 402, KEY_LIMIT_MESSAGE)
        return
    try:
        turn = read_turn(request.body["messages"])
    except DirectiveError as error:
        handler.send_error_json(request, 400, f"Emulator: bad directive: {error}")
        return
    request.prompt, request.directives = turn.prompt, turn.directives.marker_text
    queued = state.next_fault()
    try:
        plan = make_plan(state.admit(find_faults(turn.prompt) + find_faults(queued)))
    except FaultError as error:
        handler.send_error_json(request, 400, f"Emulator: bad fault marker: {error}")
        return
    request.fault = plan.marker_text
    try:
        if plan.delay and not handler.pause(plan.delay):
            raise ClientGone
        if plan.status is not None:
            send_status(handler, request, plan, turn.prompt)
            return
        exchange = Exchange(handler, request, plan, turn)
        if request.body.get("stream"):
            send_stream(exchange)
        else:
            send_reply(exchange)
    except (ClientGone, OSError):
        handler.close_connection = True
        if request.gen_id is not None:
            state.store_generation(request.gen_id, cancelled=True)


def send_reply(exchange: Exchange) -> None:
    """Answer in one JSON body (``stream`` false)."""
    waited = exchange.plan.think + exchange.plan.stall
    if waited and not exchange.handler.pause(waited):
        raise ClientGone
    if exchange.plan.midstream_error:
        exchange.plan.status = 502
        send_status(exchange.handler, exchange.request, exchange.plan, exchange.prompt)
        return
    exchange.begin_generation(streamed=False)
    choice = {**exchange.choice("", exchange.finish), "message": exchange.message()}
    del choice["delta"]
    payload: dict[str, Any] = {**exchange.base(), "object": "chat.completion", "choices": [choice]}
    if not exchange.plan.no_usage:
        payload["usage"] = exchange.usage
    exchange.finish_generation(exchange.finish, None)
    if exchange.plan.drop or exchange.plan.malformed:
        _send_broken(exchange, json.dumps(payload).encode())
    else:
        exchange.handler.send_json(exchange.request, 200, payload)


def _send_broken(exchange: Exchange, data: bytes) -> None:
    """A 200 whose body is cut short (``drop``) or not JSON (``malformed``)."""
    exchange.request.completed, exchange.request.finish_reason = False, None
    if exchange.plan.malformed and not exchange.plan.drop:
        data = b"{not json"
    exchange.request.status = 200
    exchange.handler.send_response(200)
    exchange.handler.send_header("Content-Type", "application/json")
    exchange.handler.send_header("Content-Length", str(len(data)))
    exchange.handler.end_headers()
    if exchange.plan.drop:
        data = data[: len(data) // 2]
        exchange.cut_connection()
    exchange.handler.wfile.write(data)
