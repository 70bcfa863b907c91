"""Lazy exports for the floors' ``__init__`` modules: a name is imported from its module on first use, so
importing a floor stays light (a leaf: imports nothing of the package)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[list[str], Callable[[str], Any]]:
    """``__all__`` and a module ``__getattr__`` for ``package`` that imports ``name`` from its submodule
    ``exports[name]`` when first asked for it."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(f".{exports[name]}", package), name)
        raise AttributeError(name)

    return sorted(exports), __getattr__
