"""``%load_ext`` / ``%unload_ext``: install the magics and their hooks, and take every one of them away again."""

from __future__ import annotations

from typing import Any

REPLY_CLASS = ("o4_magics.call.reply", "Reply")


def _find(ipython: Any) -> Any:
    return next((c for c in getattr(ipython, "configurables", []) if type(c).__name__ == "O4Magics"), None)


def reply_markdown(reply: Any) -> str:
    """How a ``Reply`` shows when it is a cell's value (``r = ask(...)``, then ``r``): its rendered text."""
    from ..display.render import render_markdown

    return render_markdown(reply.text)


def load(ipython: Any) -> None:
    """Register the magics, the display capture, the question-mark transformer and the Reply formatter."""
    from .capture import DisplayCapture
    from .inputs import protect_questions, rescue_loading_cell
    from .magics import O4Magics

    if _find(ipython) is not None:
        unload(ipython)  # a second %load_ext (or %reload_ext) starts clean
    magics = O4Magics(shell=ipython)
    magics.capture = DisplayCapture(ipython)
    magics.capture.install()
    ipython.register_magics(magics)
    if protect_questions not in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.append(protect_questions)
    ipython.configurables.append(magics)
    rescue_loading_cell(ipython)
    formatter = getattr(getattr(ipython, "display_formatter", None), "formatters", {}).get("text/markdown")
    if formatter is not None:
        formatter.for_type_by_name(*REPLY_CLASS, reply_markdown)
    start_warm_up(magics)


def start_warm_up(magics: Any, *, force: bool = False) -> Any:
    """Prepare the first call in the background once the kernel is idle (``O4Magics.warm_up``), in kernels and
    terminal IPython (``force``: in any shell); returns the ``WarmUp`` or None."""
    from ..call.warmup import WarmUp, warm_up_steps, warm_up_wanted

    if not magics.warm_up or not (force or warm_up_wanted(magics.shell)):
        return None
    steps = [*warm_up_steps(magics.session), ("markdown", _warm_display), ("front", _warm_front)]
    magics.warmup = WarmUp(magics.shell, magics.session, steps=steps).start()
    return magics.warmup


def _warm_display() -> None:
    """The renderer's parser, sanitizer and patterns, built once on a sample reply."""
    from ..call.warmup import SAMPLE_REPLY
    from ..display.markdown import settled_prefix_length
    from ..display.render import render_markdown
    from ..display.view import reasoning_markdown

    render_markdown(SAMPLE_REPLY, streaming=True)
    render_markdown(SAMPLE_REPLY)
    reasoning_markdown("**Planning**\n\nA thought.", "Reasoning", frontend="jupyterlab", open_=True)
    settled_prefix_length(SAMPLE_REPLY)


def _warm_front() -> None:
    """The modules a magic goes through between its line and the engine."""
    from ..display import footer, frontends  # noqa: F401
    from . import asking, attachments, interp, results, views  # noqa: F401


def unload(ipython: Any) -> None:
    """Remove what ``load`` installed; a later ``%load_ext o4_magics`` works again."""
    from .inputs import protect_questions

    magics = _find(ipython)
    if magics is not None:
        if getattr(magics, "warmup", None) is not None:
            magics.warmup.stop()
        if magics.capture is not None:
            magics.capture.uninstall()
        manager = ipython.magics_manager
        for kind in ("line", "cell"):
            table = manager.magics[kind]
            for name in [name for name, func in table.items() if getattr(func, "__self__", None) is magics]:
                del table[name]
        manager.registry.pop(type(magics).__name__, None)
        magics.session.pool.close()
        for chat in list(getattr(magics.session, "_o4_chats", ())):
            chat.close()
    ipython.configurables[:] = [c for c in ipython.configurables if type(c).__name__ != "O4Magics"]
    while protect_questions in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.remove(protect_questions)
    formatter = getattr(getattr(ipython, "display_formatter", None), "formatters", {}).get("text/markdown")
    if formatter is not None:
        formatter.deferred_printers.pop(REPLY_CLASS, None)
        for cls in [
            cls
            for cls in formatter.type_printers
            if f"{cls.__module__}.{cls.__name__}" == ".".join(REPLY_CLASS)
        ]:
            formatter.type_printers.pop(cls, None)
