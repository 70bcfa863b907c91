"""The ipywidgets front ends: the ``%o4_usage`` panel (``usage_panel``) and the inline chat (``chat``).

Nothing is imported until a name is used, so ``%load_ext o4_magics`` never pulls in ipywidgets.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ChatWidget": "chat",
    "UsagePanel": "usage_panel",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(name)
