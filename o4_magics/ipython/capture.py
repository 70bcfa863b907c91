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
    """The last cell that raised: the exception, its formatted traceback and the cell's source."""

    cell: int | None
    exception: BaseException
    source: str
    traceback_text: str


def current_cell(shell: Any) -> int | None:
    """The execution count of the running cell (IPython counts ahead by one while a cell runs)."""
    count = getattr(shell, "execution_count", None)
    return count - 1 if isinstance(count, int) and count > 0 else None


class DisplayCapture:
    """Hooks a shell's display publisher and post-run events; one per extension load."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.images: deque[DisplayedImage] = deque()
        self._bytes = 0
        self.last_failure: FailedCell | None = None
        self.last_cell_failed = False
        self.last_cell_images = 0
        self._cell_images = 0
        self._hooked_publisher: Any = None

    # -- hooks -------------------------------------------------------------------------------------------
    def install(self) -> None:
        self.shell.events.register("pre_run_cell", self._pre_run_cell)
        self.shell.events.register("post_run_cell", self._post_run_cell)
        self._hook_publisher()

    def _hook_publisher(self) -> None:
        publisher = getattr(self.shell, "display_pub", None)
        if publisher is None or publisher is self._hooked_publisher:
            return
        original = publisher.publish

        def publish(data: dict, *args: Any, **kwargs: Any) -> Any:
            try:
                self._observe(data)
            except Exception:  # recording must never break a display
                pass
            return original(data, *args, **kwargs)

        publisher.publish = publish
        self._hooked_publisher = publisher

    def _pre_run_cell(self, info: Any) -> None:
        self._cell_images = 0
        self._hook_publisher()  # the kernel may have swapped publishers

    def _post_run_cell(self, result: Any) -> None:
        self.last_cell_images = self._cell_images
        error = result.error_in_exec
        self.last_cell_failed = error is not None
        if error is not None:
            self.last_failure = FailedCell(
                cell=result.execution_count,
                exception=error,
                source=getattr(result.info, "raw_cell", "") or "",
                traceback_text="".join(traceback.format_exception(type(error), error, error.__traceback__)),
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
            cell = current_cell(self.shell)
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
        found = [image for image in self.images if image.cell == cell]
        if found:
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
