"""The chat widget's look: its widgets, message bubbles, status line and picker entries (replies stream through
the shared ``display.view.ReplyView`` into a bubble's ``Output``).

Everything here draws by assigning an ``Output`` widget's ``outputs`` trait (never ``with out:``), because a
reply streams from a worker thread, where ``with out:`` would capture the wrong cell's output or none at all.
"""

from __future__ import annotations

import html
import re
import threading
import types
from typing import Any

import ipywidgets as w

from ..display.render import escape_money
from ..display.sinks import body_showing
from .static import preformatted

#: The transcript keeps this many messages; older ones are dropped (the thread itself is bounded too).
MAX_BUBBLES = 200

#: Bubble look by kind: header colour, border, alignment in the transcript, margin (users right, replies left).
BUBBLES = {
    "user": ("#1f5fa8", "1px solid #9ec5f0", "flex-end", "4px 0 4px 15%"),
    "assistant": ("#2e7d32", "1px solid #cfd8dc", "flex-start", "4px 15% 4px 0"),
    "notice": ("#6d6d6d", "1px dashed #bdbdbd", "center", "4px 0"),
}
#: How much of a user message the transcript shows (attached blocks can be long; all of it is sent).
ELSEWHERE_MAX_CHARS = 3000
#: Picker entries that are not variables.
NOTHING = ""
LAST_IMAGE = "\x00last-image"
_HIDDEN_NAMES = {"In", "Out", "exit", "quit", "get_ipython", "open"}
_MISSING = object()
_FIRST_KINDS = ("DataFrame", "Series", "LazyFrame", "Figure", "SubFigure", "Axes", "Image")
_TAG = re.compile(r"<[^<>]*>")


def markdown_output(markdown: str, plain: str = "") -> dict[str, Any]:
    """One ``display_data`` output (as an ``Output`` widget stores it) showing ``markdown``."""
    data = {"text/markdown": markdown}
    if plain:
        data["text/plain"] = plain
    return {"output_type": "display_data", "data": data, "metadata": {}}


def error_markdown(message: str) -> str:
    return f"⚠️ {escape_money(message)}"


#: ipywidgets 7 (Colab's, classic Notebook's): bubbles draw their markdown as HTML (see ``HTMLOutput``).
WIDGETS_7 = w.__version__.split(".")[0] == "7"
#: Longer markdown is shown as typed: markdown-it-py is linear, but up to ~12 µs a character on hostile input.
MARKDOWN_MAX_CHARS = 50_000
_MARKDOWN: list[Any] = []


def bundle_html(data: dict[str, Any]) -> str:
    """One output bundle as safe HTML: its markdown rendered (markdown-it-py, then nh3 keeps only harmless
    tags), or, without those packages, its text as typed."""
    markdown = data.get("text/markdown")
    if markdown is not None and len(markdown) > MARKDOWN_MAX_CHARS:
        markdown = None
    try:
        import nh3
        from markdown_it import MarkdownIt
    except ImportError:
        markdown = None
    if markdown is None:
        return preformatted(data.get("text/plain") or data.get("text/markdown", ""))
    if not _MARKDOWN:
        _MARKDOWN.append(MarkdownIt("commonmark", {"html": True}).enable("table"))
    return nh3.clean(_MARKDOWN[0].render(markdown))


class HTMLOutput(w.HTMLMath):
    """A bubble's body on ipywidgets 7: the ``outputs`` of an Output widget, drawn as HTML in Python (math by
    the frontend's MathJax, ``\\$`` shown as "$"). Classic Notebook 6.5's widgetsnbextension 3.6 cannot create
    Output models (its OutputModel has no ``_deserialize_state``), so ipywidgets 7 bubbles do without them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._outputs: tuple[dict[str, Any], ...] = ()

    @property
    def outputs(self) -> tuple[dict[str, Any], ...]:
        return self._outputs

    @outputs.setter
    def outputs(self, outputs: Any) -> None:
        self._outputs = tuple(outputs)
        self.value = "".join(bundle_html(output.get("data", {})) for output in self._outputs)


def bubble(
    kind: str, title: str, looks: dict[str, Any] | None = None, outputs: tuple[dict[str, Any], ...] = ()
) -> tuple[w.VBox, Any]:
    """A message: a small coloured header (``You`` / ``o4-mini``) over an Output holding ``outputs``.

    ``looks`` keeps the Layout and style widgets per kind of message, shared by every message of that kind: a
    message then opens 3 widgets, not 7 (a Layout or style is a widget of its own, with its own comm). Its
    outputs and class go in the widgets' opening state, not in updates right after (fewer messages)."""
    looks = {} if looks is None else looks
    if kind not in looks:
        color, border, align, margin = BUBBLES[kind]
        width = "100%" if kind == "notice" else "85%"
        # flex 0 0 auto: in the fixed-height transcript, bubbles must not shrink to fit (their text would be cut)
        box_look = w.Layout(
            border=border, padding="2px 8px", margin=margin, align_self=align, max_width=width, flex="0 0 auto"
        )
        looks[kind] = box_look
    if "body" not in looks:
        looks["body"] = w.Layout(padding="0 4px")
        looks["header"] = w.Layout()
        looks["header style"] = w.HTML.class_traits()["style"].klass()  # HTMLStyle (ipywidgets 8), 7's own
    color = BUBBLES[kind][0]
    header = w.HTML(
        f'<b style="color:{color};font-size:0.85em">{html.escape(title)}</b>',
        layout=looks["header"],
        style=looks["header style"],
    )
    body = body_showing(HTMLOutput if WIDGETS_7 else w.Output, looks["body"], tuple(outputs))
    box = w.VBox([header, body], layout=looks[kind], _dom_classes=(f"o4-chat-{kind}",))
    return box, body


def model_label(model: str) -> str:
    """``openai/o4-mini`` → ``o4-mini``."""
    return model.rsplit("/", 1)[-1] or model


class ChatLayout:
    """The chat's widgets and their look; ``ChatWidget`` adds the behaviour (send, stop, new conversation)."""

    def __init__(self, title: str, choices: list[tuple[str, str]], idle_status: str) -> None:
        self._lock = threading.RLock()
        #: the transcript changed since its static copy was last sent (checked after each cell)
        self.static_dirty = True
        self._title = title
        self._bubbles: list[w.Box] = []
        self._looks: dict[str, Any] = {}  # Layouts and styles shared by messages (see ``bubble``)
        #: the next messages' bubbles, made ahead while the chat is idle (see ``make_spares``): (kind, title) ->
        #: (box, body), not in the transcript yet
        self._spares: dict[tuple[str, str], tuple[w.VBox, Any]] = {}
        # The transcript is a scrolling column laid out bottom-up (column-reverse, children newest first):
        # browsers keep such a box scrolled to its newest message, which ipywidgets cannot do otherwise.
        self.transcript = w.VBox(
            layout=w.Layout(flex_flow="column-reverse", overflow="auto", max_height="460px", padding="4px")
        )
        # Enter sends: ipywidgets 8 gives Python no key events, and a Textarea reports none at all. A one-line
        # Text does send a "submit" message on Enter, which we receive with on_msg (Text.on_submit wraps the
        # same message but is deprecated). We do not use continuous_update=False + observe, the documented
        # replacement, because it also fires when the box loses focus: picking a variable to attach would
        # send the half-written question. For several lines, the ¶ toggle swaps in a Textarea, where Enter
        # adds a line and the Send button sends. Both boxes sync every keystroke, so Send sees the text.
        grow = w.Layout(flex="1 1 auto", width="auto")
        self.line = w.Text(placeholder="Ask o4-mini… Enter sends · ¶ for several lines", layout=grow)
        self.line.on_msg(self._on_line_msg)
        self.box = w.Textarea(
            placeholder="Several lines: Enter adds a line, the Send button sends · ¶ back to one line",
            rows=4,
            layout=w.Layout(flex="1 1 auto", width="auto"),
        )
        self.multiline = w.ToggleButton(
            description="¶", tooltip="Write several lines", layout=w.Layout(width="40px")
        )
        self.multiline.observe(self._on_multiline, "value")
        self.input_slot = w.HBox([self.line], layout=w.Layout(flex="1 1 auto"))
        self.send_button = w.Button(description="Send", button_style="primary", icon="paper-plane")
        self.stop_button = w.Button(description="Stop", icon="stop", disabled=True)
        self.new_button = w.Button(
            description="New conversation", icon="refresh", tooltip="Start this thread afresh"
        )
        for button, width in (
            (self.send_button, "90px"),
            (self.stop_button, "80px"),
            (self.new_button, "auto"),
        ):
            button.layout.width = width
        self.send_button.on_click(lambda _: self.from_frontend(self.send))
        self.stop_button.on_click(lambda _: self.from_frontend(self.stop))
        self.new_button.on_click(lambda _: self.from_frontend(self.new_conversation))
        self.agent = w.ToggleButton(
            description="Agent",
            icon="wrench",
            tooltip="Agent mode: o4-mini may look at your variables and propose cells; nothing runs until you click Run",
            layout=w.Layout(width="90px"),
        )
        self.picker = w.Dropdown(options=choices, value=NOTHING, layout=w.Layout(width="300px"))
        if self.picker.has_trait("tooltip"):  # ipywidgets 8 (7 has tooltips on buttons only)
            self.picker.tooltip = "Attach to the next message"
        self.status = w.HTML(idle_status)
        #: empty, or why Stop and Send wait for a running cell here (no kernel subshells)
        self.note = w.HTML("")
        for no_math in ("tex2jax_ignore", "mathjax_ignore"):  # classic Notebook typesets "$1 … $2" as math
            self.status.add_class(no_math)
        self.widget = w.VBox(
            [
                w.HTML(f'<span style="font-size:0.85em;color:#555">{title}</span>'),
                self.transcript,
                w.HBox([self.input_slot, self.multiline, self.send_button, self.stop_button]),
                w.HBox([self.picker, self.agent, self.new_button]),
                self.status,
                self.note,
            ],
            layout=w.Layout(border="1px solid #e0e0e0", padding="6px", width="100%"),
        )

    # -- what subclasses do --------------------------------------------------------------------------------
    def send(self) -> Any:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def new_conversation(self) -> None:
        raise NotImplementedError

    def from_frontend(self, action: Any) -> Any:
        """Run ``action`` for a widget event the frontend sent (``frontend_event`` first)."""
        self.frontend_event()
        return action()

    def frontend_event(self) -> None:
        """Called as a widget event from the frontend is handled (``ChatWidget`` looks at how it arrived)."""

    # -- input -----------------------------------------------------------------------------------------------
    @property
    def input(self) -> w.Text | w.Textarea:
        """The text box in use (one line, or several after the ¶ toggle)."""
        return self.box if self.multiline.value else self.line

    def _on_multiline(self, change: dict) -> None:
        source, target = (self.line, self.box) if change["new"] else (self.box, self.line)
        target.value, source.value = source.value, ""
        self.input_slot.children = (target,)

    def _on_line_msg(self, _widget: Any, content: dict, _buffers: Any) -> None:
        if content.get("event") == "submit":
            self.from_frontend(self.send)

    def controls(self) -> tuple[w.Widget, ...]:
        """The widgets that send the user's input and clicks to the kernel."""
        return (
            self.line,
            self.box,
            self.multiline,
            self.send_button,
            self.stop_button,
            self.new_button,
            self.agent,
            self.picker,
        )

    def set_busy(self, busy: bool) -> None:
        """While a reply streams: Send and New conversation off, Stop on."""
        self.send_button.disabled = self.new_button.disabled = busy
        self.stop_button.disabled = not busy

    def set_choices(self, choices: list[tuple[str, str]]) -> None:
        """New picker entries, keeping the pick if it is still there."""
        if choices != list(self.picker.options):
            keep = self.picker.value
            self.picker.options = choices
            self.picker.value = keep if keep in {value for _, value in choices} else NOTHING

    # -- the transcript --------------------------------------------------------------------------------------
    def add(self, kind: str, title: str, *outputs: dict[str, Any], show: bool = True) -> w.Output:
        """Append a message (``user``, ``assistant`` or ``notice``); return its Output for later drawing.

        ``show=False`` leaves the transcript as it is until the next ``add`` (two messages, one update)."""
        with self._lock:
            spare = self._spares.pop((kind, title), None)
        if spare is not None:  # made ahead: only its text goes out now
            box, out = spare
            if outputs:
                out.outputs = tuple(outputs)
        else:
            box, out = bubble(kind, title, self._looks, outputs)
        box._o4_title = title  # for the static copy
        with self._lock:
            self.static_dirty = True
            self._bubbles.append(box)
            while len(self._bubbles) > MAX_BUBBLES:  # bounded: the oldest messages leave the transcript
                for part in (*self._bubbles[0].children, self._bubbles[0]):
                    part.close()
                del self._bubbles[0]
            if show:
                self.transcript.children = tuple(reversed(self._bubbles))
        return out

    def make_spares(self, *messages: tuple[str, str]) -> None:
        """Make the bubbles of the next messages, ``(kind, title)`` each, ahead of time, while the chat is idle:
        Send then only fills them (a bubble is three widgets, each opened with a message of its own)."""
        for kind, title in messages:
            with self._lock:
                if (kind, title) in self._spares or self.widget.comm is None:
                    continue
            made = bubble(kind, title, self._looks)
            with self._lock:
                if (kind, title) in self._spares or self.widget.comm is None:  # made meanwhile, or closed
                    for part in (*made[0].children, made[0]):
                        part.close()
                else:
                    self._spares[(kind, title)] = made

    def add_box(self, box: w.Box) -> None:
        """Append a ready-made message (a proposed cell); bounded like ``add``."""
        with self._lock:
            self._bubbles.append(box)
            while len(self._bubbles) > MAX_BUBBLES:
                for part in (*self._bubbles[0].children, self._bubbles[0]):
                    part.close()
                del self._bubbles[0]
            self.transcript.children = tuple(reversed(self._bubbles))

    def remove(self, out: w.Output) -> None:
        """Take the message showing ``out`` out of the transcript (a reply that gave way to a proposed cell)."""
        with self._lock:
            for box in self._bubbles:
                if out in box.children:
                    self._bubbles.remove(box)
                    for part in (*box.children, box):
                        part.close()
                    break
            self.transcript.children = tuple(reversed(self._bubbles))

    def notice(self, markdown: str) -> None:
        """A short grey message (an attachment that failed, a restart elsewhere)."""
        self.add("notice", "o4", markdown_output(markdown))

    def clear(self) -> None:
        with self._lock:
            self.static_dirty = True
            for box in self._bubbles:
                for part in (*box.children, box):
                    part.close()
            self._bubbles = []
            self.transcript.children = ()

    def messages(self) -> list[tuple[str, str]]:
        """The transcript as (kind, markdown) pairs, oldest first (for tests and scripts)."""
        found = []
        for box in list(self._bubbles):
            kind = next(c for c in box._dom_classes if c.startswith("o4-chat-")).removeprefix("o4-chat-")
            texts = [out["data"].get("text/markdown", "") for out in box.children[1].outputs if "data" in out]
            found.append((kind, "\n\n".join(texts)))
        return found

    def static_messages(self) -> list[tuple[str, str, str]]:
        """The transcript as (kind, title, plain text) triples, oldest first, for the static copy: each
        message's text/plain when it has one (costs with a plain "$"), else its markdown as typed."""
        found = []
        for box in list(self._bubbles):
            kind = next(c for c in box._dom_classes if c.startswith("o4-chat-")).removeprefix("o4-chat-")
            texts = []
            for out in box.children[1].outputs:
                data = out.get("data", {})
                plain = data.get("text/plain") or data.get("text/markdown", "").replace("  \n", "\n")
                texts.append(plain.replace("\\\\$", "$"))
            found.append((kind, getattr(box, "_o4_title", kind), "\n\n".join(texts)))
        return found

    def static_html(self) -> str:
        """The chat as a static transcript (title, messages, status line) for viewers without widgets."""
        parts = [f'<div style="font-size:0.85em;color:#555">{self._title}</div>']
        for kind, title, text in self.static_messages():
            color, border, _, margin = BUBBLES[kind]
            parts.append(
                f'<div style="border:{border};padding:2px 8px;margin:{margin}">'
                f'<b style="color:{color};font-size:0.85em">{html.escape(title)}</b>{preformatted(text)}</div>'
            )
        if not self._bubbles:
            parts.append('<div style="color:#555">No messages yet.</div>')
        parts.append(self.status.value)
        return f'<div style="border:1px solid #e0e0e0;padding:6px">{"".join(parts)}</div>'

    def static_text(self) -> str:
        """The same transcript as plain text."""
        lines = [html.unescape(_TAG.sub("", self._title))]
        lines += [f"{title}: {text}" for _, title, text in self.static_messages()]
        lines.append(html.unescape(_TAG.sub("", self.status.value)))
        return "\n\n".join(lines)

    def close_widgets(self) -> None:
        self.clear()
        self.widget.close()  # first: no spare is made after this (``make_spares`` checks it)
        with self._lock:
            spares, self._spares = list(self._spares.values()), {}
        for box, _ in spares:
            for part in (*box.children, box):
                part.close()
        for look in self._looks.values():  # the messages' shared Layouts and style
            look.close()
        self._looks.clear()


def status_line(row: Any, total_usd: float, calls: int) -> str:
    """The status line's HTML: the last call's tokens and cost, and the conversation's total."""
    last = (
        f"Last turn: {row.prompt_tokens:,} in · {row.completion_tokens:,} out "
        f"({row.reasoning_tokens:,} reasoning) · ${(row.cost_usd or 0.0):.5f}"
    )
    if row.status not in ("ok", "cached"):
        last += f" · {row.status}"
    plural = "s" if calls != 1 else ""
    return small(f"{last} — this conversation: ${total_usd:.5f} over {calls} call{plural}")


def small(text: str) -> str:
    """Status-line HTML for ``text``."""
    return f'<span style="font-size:0.85em;color:#555">{html.escape(text)}</span>'


def idle_status(turns: int) -> str:
    return small(
        f"{turns} earlier turn{'s' if turns != 1 else ''} in this thread." if turns else "No calls yet."
    )


def content_text(content: Any) -> str:
    """A user message's content as markdown for the transcript: line breaks kept, images as a short note."""
    if isinstance(content, str):
        text = content
    else:
        pieces = []
        for part in content or []:
            if part.get("type") == "text":
                pieces.append(part.get("text", ""))
            elif part.get("type") == "image_url":
                pieces.append("*📎 image*")
        text = "\n\n".join(pieces)
    if len(text) > ELSEWHERE_MAX_CHARS:
        text = text[:ELSEWHERE_MAX_CHARS] + "\n\n*… (cut here; the whole message was sent)*"
    return text.replace("\n", "  \n")  # keep the user's line breaks (markdown would join the lines)


def _kind_rank(value: Any) -> int:
    """0 for dataframes, series and figures (listed first), 1 for everything else."""
    return 0 if any(cls.__name__ in _FIRST_KINDS for cls in type(value).__mro__) else 1


def _describe_kind(value: Any) -> str:
    """The type's name only: after every cell no ``.shape`` or ``len()`` is read (a Spark job, a slow
    property); the block sent when the value is attached says the rest."""
    return type(value).__name__


def _listable(name: str, value: Any, hidden: dict[str, Any]) -> bool:
    """Like ``%who``: no ``_`` names, nothing IPython put there itself, no modules, classes or builtins."""
    if name.startswith("_") or name in _HIDDEN_NAMES or hidden.get(name, _MISSING) is value:
        return False
    return not isinstance(value, (types.ModuleType, type, types.BuiltinFunctionType))


def variable_choices(
    user_ns: dict[str, Any] | None, hidden: dict[str, Any] | None = None
) -> list[tuple[str, str]]:
    """The picker's entries: nothing, the last displayed image, then the notebook's variables."""
    found = [
        (_kind_rank(value), name, _describe_kind(value))
        for name, value in list((user_ns or {}).items())
        if _listable(name, value, hidden or {})
    ]
    found.sort(key=lambda item: (item[0], item[1].lower()))
    return [("attach to the next message…", NOTHING), ("last displayed image", LAST_IMAGE)] + [
        (f"{name} ({kind})", name) for _, name, kind in found
    ]
