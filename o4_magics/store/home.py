"""Where o4-magics keeps its files: ``O4_MAGICS_HOME``, else ``<jupyter data dir>/o4_magics``."""

from __future__ import annotations

import os
from pathlib import Path


def default_home() -> Path:
    """``O4_MAGICS_HOME`` if set, else ``<jupyter data dir>/o4_magics``."""
    configured = os.environ.get("O4_MAGICS_HOME")
    if configured:
        return Path(configured).expanduser()
    try:
        from jupyter_core.paths import jupyter_data_dir

        data_dir = Path(jupyter_data_dir())
    except Exception:  # jupyter_core missing or broken: use its usual answer on Linux
        data_dir = Path.home() / ".local" / "share" / "jupyter"
    return data_dir / "o4_magics"
