"""Which notebook is this kernel running? The name the ledger files its calls under."""

from __future__ import annotations

import os
import sys
from pathlib import Path, PurePosixPath
from typing import Any


def _starting_directory() -> str:
    try:
        return os.getcwd()
    except OSError:  # the directory was removed
        return ""


#: The kernel's working directory when o4-magics was loaded: Jupyter starts a kernel in its notebook's folder.
START_DIRECTORY = _starting_directory()


def notebook_identity(shell: Any = None) -> str:
    """The notebook's path if it can be known, else ``kernel:<id>``, else ``ipython:<pid>`` (or ``python:<pid>``).

    Looked up in order: ``JPY_SESSION_NAME`` (set by Jupyter Server to the notebook's path), VS Code's
    ``__vsc_ipynb_file__`` in the user namespace, the kernel's connection file, the process id.
    """
    if shell is None:
        shell = _current_shell()
    for lookup in (_from_jupyter_server, _from_vscode, _from_kernel):
        found = lookup(shell)
        if found:
            return found
    return f"{'python' if shell is None else 'ipython'}:{os.getpid()}"


def _current_shell() -> Any:
    if "IPython" not in sys.modules:
        return None
    from IPython import get_ipython

    return get_ipython()


def _from_jupyter_server(shell: Any) -> str:
    return os.environ.get("JPY_SESSION_NAME", "").strip()


def _from_vscode(shell: Any) -> str:
    user_ns = getattr(shell, "user_ns", None) or {}
    found = user_ns.get("__vsc_ipynb_file__")
    return str(found).strip() if found else ""


_KERNEL_ID: list[Any] = []  # (ipykernel module, its kernel's id): a running kernel's connection file is fixed


def _from_kernel(shell: Any) -> str:
    """``kernel:<id>`` from ``kernel-<id>.json``; only when ipykernel is already loaded (it is heavy)."""
    module = sys.modules.get("ipykernel")
    if module is None:
        return ""
    if _KERNEL_ID and _KERNEL_ID[0] is module:
        return _KERNEL_ID[1]
    try:
        from ipykernel import get_connection_file

        name = Path(get_connection_file()).name
    except Exception:  # no running kernel app, or an ipykernel without this helper
        return ""
    kernel_id = name.removeprefix("kernel-").removesuffix(".json")
    if not kernel_id:
        return ""
    _KERNEL_ID[:] = [module, f"kernel:{kernel_id}"]
    return _KERNEL_ID[1]


def server_root() -> str | None:
    """The Jupyter server's root directory when it can be known, else None.

    ``JUPYTER_SERVER_ROOT`` if set; else, when ``JPY_SESSION_NAME`` is relative (the notebook's path from the
    root, as some Jupyter Servers set it), the kernel's starting directory (the notebook's folder) less the
    folders of that path.  A Jupyter Server that sets an absolute ``JPY_SESSION_NAME`` does not say its root.
    """
    configured = os.environ.get("JUPYTER_SERVER_ROOT", "").strip()
    if configured:
        return str(Path(configured).expanduser())
    session = os.environ.get("JPY_SESSION_NAME", "").strip()
    if not session or not START_DIRECTORY or Path(session).is_absolute() or session.startswith("~"):
        return None
    folders = PurePosixPath(session.replace("\\", "/")).parent.parts
    start = Path(START_DIRECTORY)
    if not folders:
        return str(start)
    if len(start.parts) > len(folders) and start.parts[-len(folders) :] == folders:
        return str(Path(*start.parts[: -len(folders)]))
    return None
