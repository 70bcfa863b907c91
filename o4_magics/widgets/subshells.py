"""Kernel subshells: whether the kernel has them, and routing a widget's events to the subshell the frontend
sent them to, so a click is handled while a cell runs on the main shell (the chat's Stop and Send, the agent's
Run, Edit and Skip)."""

from __future__ import annotations

from typing import Any


def kernel_has_subshells(kernel: Any) -> bool:
    """Whether the kernel runs messages sent to a subshell apart from the running cell (ipykernel 7 lists
    "kernel subshells" among the ``supported_features`` of its kernel_info reply)."""
    try:
        info = kernel.kernel_info
    except Exception:
        return False
    return isinstance(info, dict) and "kernel subshells" in (info.get("supported_features") or ())


def route_to_sender(widget: Any) -> None:
    """Handle ``widget``'s events on the subshell the frontend sent them to (JupyterLab 4.4+ sends widget
    messages to a subshell of their own), so a click is handled while a cell runs on the main shell.

    Why a private hook: ipykernel 7.4's shell-channel thread does not route a ``comm_msg`` by its header's
    ``subshell_id`` but asks the comm, ``comm._reply_subshell_for(data, default)``, which answers with the
    subshell of the comm's last outgoing message (so a frontend's reply reaches the subshell that waits for it).
    The chat's controls are created, and often updated, by cells on the main shell, so their clicks went to the
    main shell and waited for the running cell. They never answer a kernel request, so the frontend's own
    choice (``default``) is right for them. There is no public switch for this; where the hook is missing
    (ipykernel 6, Colab, a kernel that routes by the header) this does nothing."""
    comm = getattr(widget, "comm", None)
    if comm is not None and callable(getattr(comm, "_reply_subshell_for", None)):
        comm._reply_subshell_for = _frontends_choice


def _frontends_choice(_data: Any, default: Any) -> Any:
    """The subshell the frontend sent a comm message to (``route_to_sender``)."""
    return default
