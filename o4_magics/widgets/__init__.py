"""The ipywidgets front ends: the ``%o4_usage`` panel (``usage_panel``) and the inline chat (``chat``).

Nothing is imported until a name is used, so ``%load_ext o4_magics`` never pulls in ipywidgets.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "ChatWidget": "chat",
    "UsagePanel": "usage_panel",
}
__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
