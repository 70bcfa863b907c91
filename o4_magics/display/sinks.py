"""Where a streaming view draws: a sink.  ``NotebookSink`` draws into the running cell's outputs (``display_id``),
``WidgetSink`` into a chat message's ``Output`` widget; both keep frozen parts above the live one and fold them
back into one output when the reply ends."""

from __future__ import annotations

from typing import Any, Protocol

#: Frozen parts per group in a chat message (see ``WidgetSink``).
FROZEN_GROUP = 10


def body_showing(kind: Any, layout: Any, outputs: tuple[dict[str, Any], ...]) -> Any:
    """A new message body of widget class ``kind`` showing ``outputs``: an ``Output`` opens with them in its state
    (one comm message, not an empty widget and then an update); a body whose ``outputs`` is not a trait
    (ipywidgets 7's ``HTMLOutput``, which draws them as HTML) gets them after."""
    if "outputs" in kind.class_traits():
        return kind(layout=layout, outputs=outputs)
    body = kind(layout=layout)
    if outputs:
        body.outputs = outputs
    return body


class Sink(Protocol):
    """Where a view draws: ``show`` replaces the live part, ``freeze`` keeps a finished part above it for good,
    ``finish`` shows one bundle as the whole output (frozen parts folded back in)."""

    def show(self, bundle: dict[str, str]) -> None: ...
    def freeze(self, bundle: dict[str, str]) -> None: ...
    def finish(self, bundle: dict[str, str], *extra: dict[str, str]) -> None: ...


class NotebookSink:
    """Outputs of the running cell that grow in place; the first is created at the first draw, so a call
    refused up front leaves no output. Frozen parts stay in their outputs; the live part gets a new one."""

    def __init__(self, may_clear: Any = None) -> None:
        self._handles: list[Any] = []
        self._live: Any = None
        #: ``may_clear(n)`` says whether the cell shows nothing but our ``n`` outputs (then the frozen parts are
        #: cleared and one output is left); without it, the parts are emptied in place
        self._may_clear = may_clear

    def _display(self, bundle: dict[str, str]) -> Any:
        from IPython.display import display

        handle = display(bundle, raw=True, display_id=True)
        self._handles.append(handle)
        return handle

    def show(self, bundle: dict[str, str]) -> None:
        if self._live is None:
            self._live = self._display(bundle)
        else:
            self._live.update(bundle, raw=True)

    def freeze(self, bundle: dict[str, str]) -> None:
        if self._live is None:
            self._display(bundle)
        else:
            self._live.update(bundle, raw=True)
            self._live = None

    def finish(self, bundle: dict[str, str], *extra: dict[str, str]) -> None:
        if not self._handles:
            self._display(bundle)
            return
        if len(self._handles) > 1 and self._may_clear is not None and self._may_clear(len(self._handles)):
            from IPython.display import clear_output

            clear_output(wait=True)  # the cell showed only this reply: leave exactly one output
            self._handles, self._live = [], None
            self._live = self._display(bundle)
            return
        first, *rest = self._handles
        first.update(bundle, raw=True)
        for handle in rest:  # folded into the first: nothing left to show here
            handle.update({}, raw=True)
        self._handles, self._live = [first], first


class WidgetSink:
    """A chat message: an ``ipywidgets.Output`` (outputs assigned, safe from a worker thread), and the message's
    box, where frozen parts go as their own ``Output`` widgets above the live one.

    After the first ``FROZEN_GROUP`` parts, frozen parts go in groups of ``FROZEN_GROUP`` (a ``VBox`` each), so a
    long reply's freezes send short children lists, not one list growing with every part (quadratic traffic).
    Each part is a new widget (its state, about 700 bytes, on top of its text), so a paragraph is cut into
    fewer, longer parts here than in a notebook output (``cut_min_chars``)."""

    cut_min_chars = 160

    def __init__(self, out: Any, box: Any = None) -> None:
        self.out = out
        self.box = box
        self.shown: tuple[dict[str, Any], ...] = ()
        self._frozen: list[Any] = []
        self._groups: list[Any] = []
        self._group_layout: Any = None

    @staticmethod
    def _outputs(*bundles: dict[str, str]) -> tuple[dict[str, Any], ...]:
        return tuple({"output_type": "display_data", "data": data, "metadata": {}} for data in bundles)

    def show(self, bundle: dict[str, str], *extra: dict[str, str]) -> None:
        self.shown = self._outputs(bundle, *extra)
        self.out.outputs = self.shown

    def freeze(self, bundle: dict[str, str]) -> None:
        if self.box is None:  # no box to grow: the live output keeps everything
            return
        frozen = body_showing(type(self.out), self.out.layout, self._outputs(bundle))  # a body like the live one
        self._frozen.append(frozen)
        if len(self._frozen) <= FROZEN_GROUP:  # the first parts go in the message itself
            self._insert(frozen)
            return
        group = self._groups[-1] if self._groups else None
        if group is None or len(group.children) >= FROZEN_GROUP:
            import ipywidgets

            if self._group_layout is None:
                self._group_layout = ipywidgets.Layout(margin="0", padding="0")
            group = ipywidgets.VBox(layout=self._group_layout)
            self._groups.append(group)
            self._insert(group)
        group.children = (*group.children, frozen)

    def _insert(self, widget: Any) -> None:
        """Put ``widget`` in the message, right above the live output."""
        children = list(self.box.children)
        children.insert(children.index(self.out), widget)
        self.box.children = tuple(children)

    def _drop_frozen(self) -> None:
        if self.box is not None and self._frozen:
            dropped = (*self._frozen, *self._groups)
            self.box.children = tuple(child for child in self.box.children if child not in dropped)
        for widget in (*self._frozen, *self._groups):
            widget.close()
        self._frozen, self._groups = [], []

    def reset(self) -> None:
        """Remove the frozen parts (the text they showed was replaced)."""
        self._drop_frozen()

    def finish(self, bundle: dict[str, str], *extra: dict[str, str]) -> None:
        self.show(bundle, *extra)
        self._drop_frozen()
