"""Which notebook frontend draws this kernel's outputs, as far as the kernel can tell (it decides escaping).

How ``detect_frontend`` decides, first match wins:

1. no shell, or a shell that is neither terminal IPython nor ipykernel's ``ZMQInteractiveShell``: "unknown";
2. ``TerminalInteractiveShell``: "terminal" (plain text, nothing renders markdown);
3. ``google.colab`` already imported (Colab imports it into every kernel): "colab";
4. VS Code: ``__vsc_ipynb_file__`` in the user namespace (the Jupyter extension sets it) or ``VSCODE_PID`` /
   any ``VSCODE_*`` variable in the kernel's environment: "vscode";
5. any other Jupyter kernel: "jupyterlab". JupyterLab, Notebook 7 and classic Notebook cannot be told apart
   from the kernel, and render markdown outputs the same way (removeMath + marked + MathJax), so they share
   one escaping. "notebook7" and "classic" exist for callers that know better.

An "unknown" frontend gets JupyterLab's escaping (the common Jupyter pipeline). Nothing here imports more
than ``os`` and ``sys``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

FRONTENDS = ("jupyterlab", "notebook7", "classic", "colab", "vscode", "terminal", "unknown")


def _in_vscode(shell: Any) -> bool:
    user_ns = getattr(shell, "user_ns", None) or {}
    if "__vsc_ipynb_file__" in user_ns:
        return True
    return any(name == "VSCODE_PID" or name.startswith("VSCODE_") for name in os.environ)


def detect_frontend(shell: Any) -> str:
    """One of ``FRONTENDS`` for the IPython ``shell`` (see the module docstring for how it decides)."""
    if shell is None:
        return "unknown"
    kind = type(shell).__name__
    if kind == "TerminalInteractiveShell":
        return "terminal"
    if kind != "ZMQInteractiveShell":
        return "unknown"
    if "google.colab" in sys.modules:
        return "colab"
    if _in_vscode(shell):
        return "vscode"
    return "jupyterlab"
