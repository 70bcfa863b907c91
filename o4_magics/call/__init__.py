"""One request's life: the validated spec (the one door), the request, the engine, streaming with our own
retries, the client and error mapping, threads, tools and the agent loop.

The names below are imported on first use, so importing this package stays light.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "Ask": "spec",
    "CallSpec": "spec",
    "prepare": "spec",
    "run": "engine",
    "run_agent": "agent",
    "Session": "session",
    "Reply": "reply",
}
__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
