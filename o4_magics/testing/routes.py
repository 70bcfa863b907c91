"""The emulator's routes: ``/models``, ``/generation``, ``/key`` and ``/chat/completions``."""

from __future__ import annotations

from .catalog import MODELS
from .chat import handle_chat
from .httpd import API_PREFIX, Handler, Route, RouteKey
from .state import RecordedRequest

#: the key label ``/key`` reports (OpenRouter shows the key's start, never the whole key)
KEY_LABEL = "sk-or-v1-emu..."


def _models(handler: Handler, request: RecordedRequest) -> None:
    handler.send_json(request, 200, {"data": MODELS})


def _generation(handler: Handler, request: RecordedRequest) -> None:
    if handler.reject_unauthorized(request):
        return
    stats = handler.state.generations().get(request.query.get("id", ""))
    if stats is None:
        handler.send_error_json(request, 404, f"Generation {request.query.get('id', '')!r} not found")
    else:
        handler.send_json(request, 200, {"data": stats})


def _key(handler: Handler, request: RecordedRequest) -> None:
    if handler.reject_unauthorized(request):
        return
    state = handler.state
    usage = state.key_usage
    data = {
        "label": KEY_LABEL,
        "usage": usage,
        "limit": state.key_limit,
        "limit_remaining": state.key_remaining,
        "limit_reset": None,
        "include_byok_in_limit": False,
        "is_free_tier": False,
        "is_provisioning_key": False,
        "usage_daily": usage,
        "usage_weekly": usage,
        "usage_monthly": usage,
        "byok_usage": 0,
        "rate_limit": {"requests": 100, "interval": "10s"},
    }
    handler.send_json(request, 200, {"data": data})


ROUTES: dict[RouteKey, Route] = {
    ("GET", API_PREFIX + "/models"): _models,
    ("GET", API_PREFIX + "/generation"): _generation,
    ("GET", API_PREFIX + "/key"): _key,
    ("GET", API_PREFIX + "/auth/key"): _key,
    ("POST", API_PREFIX + "/chat/completions"): handle_chat,
}
