"""Who is making the calls: the name the ledger files them under (``JUPYTERHUB_USER``, else the login name)."""

from __future__ import annotations

import getpass
import os
from functools import lru_cache


def current_user() -> str:
    """``JUPYTERHUB_USER`` when JupyterHub started this kernel, else the login name, else ``uid:<n>``."""
    hub_user = os.environ.get("JUPYTERHUB_USER", "").strip()
    if hub_user:
        return hub_user
    return _login_name(*(os.environ.get(name) for name in ("LOGNAME", "USER", "LNAME", "USERNAME")))


@lru_cache(maxsize=4)
def _login_name(*environment: str | None) -> str:
    """The login name (looked up once per set of the variables getpass reads first: the uid's name is not)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError, ImportError):  # no name for this uid (containers), or no pwd module
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"
