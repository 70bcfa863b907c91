"""The IPython fronts: magics, option parsing, the input transformer, interpolation, attachments, explain,
display capture, dry run, and %load_ext / %unload_ext."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "O4Magics": "magics",
    "load": "extension",
    "unload": "extension",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(name)
