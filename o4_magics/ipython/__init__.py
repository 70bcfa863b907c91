"""The IPython fronts: magics, option parsing, the input transformer, interpolation, attachments, explain,
display capture, dry run, and %load_ext / %unload_ext."""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "O4Magics": "magics",
    "load": "extension",
    "unload": "extension",
}
__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
