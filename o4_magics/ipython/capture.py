"""Remembers what cells displayed and how they failed, so ``-i last``, ``-i N`` and ``%o4_explain`` work later.

Images are recorded as they are published (matplotlib inline plots included) into a bounded buffer; after a
kernel restart they are read back from the saved notebook with nbformat when its path is known.
"""

from __future__ import annotations

import base64
import os
import traceback
from collections import deque
from dataclasses import dataclass
from typing import Any

IMAGE_MIMES = ("image/png", "image/jpeg")
#: The buffer keeps at most this many images and this many bytes (oldest dropped first).
MAX_IMAGES = 32
MAX_BYTES = 64 * 1024 * 1024


@dataclass
class DisplayedImage:
    """One image a cell displayed."""

    cell: int | None
    mime: str
    data: bytes


@dataclass
class FailedCell:
    """The last cell that raised (or did not compile): the exception and the cell's source.

    The traceback is formatted only when someone asks (``traceback_text``): most failures are never explained,
    and a deep recursion's traceback can be a megabyte.
    """

    cell: int | None
    exception: BaseException
    source: str
    before_exec: bool = False  # a SyntaxError/IndentationError: the cell never ran

    @property
    def traceback_text(self) -> str:
        error = self.exception
        return "".join(traceback.format_exception(type(error), error, error.__traceback__))


@dataclass
class WarnedCell:
    """The warnings the last cell emitted (it did not fail)."""

    cell: int | None
    messages: list[str]
    source: str


def current_cell(shell: Any) -> int | None:
    """The execution count of the running cell (IPython 9.8 and later count ahead by one while a cell runs;
    earlier ones, Colab's 7.34 among them, count the cell when it has run)."""
    count = getattr(shell, "execution_count", None)
    if not isinstance(count, int):
        return None
    from IPython import version_info

    count -= version_info[:2] >= (9, 8)
    return count if count > 0 else None


class DisplayCapture:
    """Hooks a shell's display publisher and post-run events; one per extension load."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.images: deque[DisplayedImage] = deque()
        self._bytes = 0
        self.last_failure: FailedCell | None = None
        self.last_cell_failed = False
        self.last_warnings: WarnedCell | None = None
        self._cell_warnings: list[str] = []
        self._original_showwarning: Any = None
        self.cell_displays = 0
        self.cell_writes = 0
        self.cell_id: str | None = None
        self._hooked_streams: list[tuple[Any, Any]] = []
        self.last_cell_images = 0
        self._cell_images = 0
        self._hooked_publisher: Any = None
        self._running_cell: int | None = None  # set before each cell: its post-execute displays are its own

    # -- hooks -------------------------------------------------------------------------------------------
    def install(self) -> None:
        self.shell.events.register("pre_run_cell", self._pre_run_cell)
        self.shell.events.register("post_run_cell", self._post_run_cell)
        self._hook_publisher()
        self._hook_warnings()

    def uninstall(self) -> None:
        """Undo ``install``: the shell's events, its display publisher and ``warnings.showwarning``."""
        for event, callback in (("pre_run_cell", self._pre_run_cell), ("post_run_cell", self._post_run_cell)):
            try:
                self.shell.events.unregister(event, callback)
            except ValueError:
                pass
        for stream, original in self._hooked_streams:
            try:
                if getattr(stream.write, "_o4_hook", False):
                    stream.write = original
            except (AttributeError, TypeError):
                pass
        self._hooked_streams = []
        publisher = self._hooked_publisher
        if publisher is not None and "publish" in vars(publisher):
            del publisher.publish  # the instance attribute we set; the class's method shows through again
        self._hooked_publisher = None
        import warnings

        if self._original_showwarning is not None and getattr(warnings.showwarning, "_o4_hook", False):
            warnings.showwarning = self._original_showwarning
        self._original_showwarning = None

    def _hook_warnings(self) -> None:
        import warnings

        original = warnings.showwarning
        if getattr(original, "_o4_hook", False):
            return

        def showwarning(message: Any, category: Any, filename: str, lineno: int, *args: Any, **kwargs: Any) -> Any:
            try:
                if len(self._cell_warnings) < 20:
                    self._cell_warnings.append(f"{category.__name__}: {message} ({os.path.basename(filename)}:{lineno})")
            except Exception:  # recording must never break a warning
                pass
            return original(message, category, filename, lineno, *args, **kwargs)

        showwarning._o4_hook = True  # type: ignore[attr-defined]
        self._original_showwarning = original
        warnings.showwarning = showwarning

    def _hook_publisher(self) -> None:
        publisher = getattr(self.shell, "display_pub", None)
        if publisher is None or publisher is self._hooked_publisher:
            return
        original = publisher.publish

        def publish(data: dict, *args: Any, **kwargs: Any) -> Any:
            try:
                self._observe(data)
                if not kwargs.get("update"):
                    self.cell_displays += 1
            except Exception:  # recording must never break a display
                pass
            return original(data, *args, **kwargs)

        publisher.publish = publish
        self._hooked_publisher = publisher

    def _pre_run_cell(self, info: Any) -> None:
        self.cell_id = getattr(info, "cell_id", None)  # the frontend's id of the running cell, when it sends one
        self._running_cell = current_cell(self.shell)
        self._cell_images = 0
        self._cell_warnings = []
        self.cell_displays = 0
        self.cell_writes = 0
        self._hook_publisher()  # the kernel may have swapped publishers
        self._hook_streams()

    def _hook_streams(self) -> None:
        """Count what the cell writes to stdout/stderr (so a reply knows whether the cell showed anything else)."""
        import sys

        for name in ("stdout", "stderr"):
            stream = getattr(sys, name, None)
            if stream is None or getattr(getattr(stream, "write", None), "_o4_hook", False):
                continue
            original = stream.write

            def write(text: Any, _original: Any = original) -> Any:
                self.cell_writes += 1
                return _original(text)

            write._o4_hook = True  # type: ignore[attr-defined]
            try:
                stream.write = write
            except (AttributeError, TypeError):  # a stream whose methods cannot be replaced: not counted
                continue
            self._hooked_streams.append((stream, original))

    def only_this_call_showed(self, displays: int) -> bool:
        """Whether the running cell displayed nothing but ``displays`` outputs of ours and wrote no text."""
        return self.cell_writes == 0 and self.cell_displays <= displays

    def _post_run_cell(self, result: Any) -> None:
        self.last_cell_images = self._cell_images
        before = getattr(result, "error_before_exec", None)
        error = result.error_in_exec or before
        source = getattr(result.info, "raw_cell", "") or ""
        self.last_cell_failed = error is not None
        if error is not None:
            self.last_failure = FailedCell(
                cell=result.execution_count, exception=error, source=source, before_exec=error is before
            )
        self.last_warnings = (
            WarnedCell(result.execution_count, list(self._cell_warnings), source)
            if self._cell_warnings and error is None
            else None
        )

    def _observe(self, data: dict) -> None:
        for mime in IMAGE_MIMES:
            if mime in data:
                self.add(mime, data[mime])
                return

    # -- the buffer ----------------------------------------------------------------------------------------
    def add(self, mime: str, payload: str | bytes, cell: int | None = None) -> None:
        raw = payload if isinstance(payload, bytes) else base64.b64decode(payload)
        if cell is None:
            # The cell that ran last: matplotlib's inline figures come after it, when IPython before 9.8 has
            # already counted the next one.
            cell = self._running_cell if self._running_cell is not None else current_cell(self.shell)
        self.images.append(DisplayedImage(cell, mime, raw))
        self._cell_images += 1
        self._bytes += len(raw)
        while self.images and (len(self.images) > MAX_IMAGES or self._bytes > MAX_BYTES):
            self._bytes -= len(self.images.popleft().data)

    def last_image(self) -> DisplayedImage | None:
        if self.images:
            return self.images[-1]
        saved = saved_notebook_images(notebook_path(self.shell))
        return saved[-1] if saved else None

    def images_of_cell(self, cell: int) -> list[DisplayedImage]:
        """The images cell ``cell`` displayed; the saved notebook is asked only for cells this session has not
        run yet (after a restart, cell [3] of this session is not the saved file's cell [3])."""
        found = [image for image in self.images if image.cell == cell]
        ran_here = cell < (getattr(self.shell, "execution_count", 1) or 1)
        if found or ran_here:
            return found
        return [image for image in saved_notebook_images(notebook_path(self.shell)) if image.cell == cell]


def notebook_path(shell: Any) -> str | None:
    """The saved notebook's path when Jupyter Server or VS Code tells it, else None."""
    candidates = [os.environ.get("JPY_SESSION_NAME", "")]
    user_ns = getattr(shell, "user_ns", {}) or {}
    candidates.append(str(user_ns.get("__vsc_ipynb_file__", "")))
    for candidate in candidates:
        if candidate.endswith(".ipynb") and os.path.isfile(candidate):
            return candidate
    return None


def saved_notebook_images(path: str | None) -> list[DisplayedImage]:
    """Images in a saved notebook's outputs, in execution order (for use after a kernel restart)."""
    if not path:
        return []
    try:
        import nbformat

        notebook = nbformat.read(path, as_version=4)
    except Exception:
        return []
    found: list[DisplayedImage] = []
    for cell in notebook.cells:
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            for mime in IMAGE_MIMES:
                if mime in data:
                    payload = data[mime]
                    text = "".join(payload) if isinstance(payload, list) else payload
                    found.append(DisplayedImage(cell.get("execution_count"), mime, base64.b64decode(text)))
                    break
    found.sort(key=lambda image: image.cell or 0)
    return found
