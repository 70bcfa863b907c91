"""One request's life: the validated spec (the one door), the request, the engine, streaming with our own
retries, the client and error mapping, threads, tools and the agent loop.

The names below are imported on first use, so importing this package stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Ask": "spec",
    "CallSpec": "spec",
    "prepare": "spec",
    "run": "engine",
    "run_agent": "agent",
    "Session": "session",
    "Reply": "reply",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(name)
