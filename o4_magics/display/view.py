"""One streaming view for every front: a thinking clock, the reasoning summary, throttled markdown, then the
reply with its footer. Where it draws is a sink (``display.sinks``): a notebook output or a chat message widget.

Streaming at the limit: finished top-level blocks are frozen (drawn once, never sent again) and only the open
tail is redrawn, so a long reply keeps redrawing several times a second while the bytes sent stay within a small
multiple of its size. When the reply ends, one output holds the whole reply again (for ``-o``, copying and the
saved notebook).
"""

from __future__ import annotations

import time
from typing import Any

from .footer import footer_text
from .render import escape_money, render_markdown
from .sinks import WidgetSink
from .throttle import MIN_INTERVAL_S

EMPTY_REPLY = "*(the model returned an empty reply)*"
STOPPED_EARLY = "*(stopped before any text)*"
CURSOR = " ▌"
#: A settled stretch is frozen once it is at least this long (fewer, larger outputs).
FREEZE_MIN_CHARS = 200
#: A long paragraph's finished sentences are frozen once this long (see ``settle.sentence_cut``); a sink may
#: ask for longer parts (``cut_min_chars``) when each part costs it more than its text.
CUT_MIN_CHARS = 80
#: Put after a text ending in a blank line to ask whether a new block could start there.
BLOCK_PROBE = "x"
#: Bytes sent while streaming stay within this many times the text so far (plus BYTES_SLACK); the final
#: frame adds one more copy, so the total stays within about (BYTES_FACTOR + 1) times the reply.
BYTES_FACTOR = 1.0
BYTES_SLACK = 512
#: Past the byte budget (a huge block that cannot be frozen yet) a redraw waits this long and this much growth.
SLOW_INTERVAL_S = 0.21
GROWTH_STEP = 0.02
#: How a reasoning block is dimmed (frontends that drop style attributes still quote it and label it).
DIMMED = 'style="opacity:0.75"'
#: The "thinking… N s" line shows once the call has waited this long for its first token.
THINKING_AFTER_S = 0.3
#: The final output also carries a text/plain copy (for text-only frontends) up to this size.
PLAIN_COPY_MAX_CHARS = 4096


def reasoning_markdown(reasoning: str, label: str, *, frontend: str, open_: bool) -> str:
    """The reasoning summary as a collapsible block, quoted, dimmed and labelled; open while it streams."""
    body = render_markdown(reasoning, frontend=frontend, streaming=open_)
    quoted = "\n".join("> " + line if line else ">" for line in body.split("\n"))
    state = " open" if open_ else ""
    return f"<details{state} {DIMMED}><summary>{label}</summary>\n\n{quoted}\n\n</details>\n\n"


class ReplyView:
    """The engine's ``View``: draws into ``sink`` in ``mode`` ``markdown`` or ``text`` for ``frontend``.

    Throttling, freezing, math and money handling, the footer and the status marks live here, once for every
    front. ``updates`` and ``bytes_sent`` count what went to the frontend.
    """

    def __init__(
        self,
        sink: Any,
        *,
        mode: str = "markdown",
        frontend: str = "jupyterlab",
        host: str = "",
        show_reasoning: bool = True,
        stopped_word: str = "interrupted",
        allowed_image_hosts: tuple[str, ...] = (),
        freeze: bool = True,
    ) -> None:
        self.sink = sink
        self.mode = mode
        self.frontend = frontend
        self.host = host
        self.show_reasoning = show_reasoning
        self.stopped_word = stopped_word
        self.allowed_image_hosts = tuple(allowed_image_hosts)
        self.freezing = freeze
        self.updates = 0
        self.bytes_sent = 0
        self.final: dict[str, str] | None = None
        self.redraw_times: list[float] = []
        self._shown_second = -1
        self._size = 0  # text characters known at the last redraw
        self._live_drawn = 0  # characters of live text at the last redraw
        self._budget_from = 0  # bytes sent before the answer began (the reasoning's own are not its budget)
        self._frozen_chars = 0  # reply characters frozen so far
        self._frozen_source = ""  # those characters
        self._frozen: list[str] = []  # their rendering, in order (a cut paragraph's parts as one, once ended)
        #: where the parts of a paragraph frozen a sentence at a time begin: (index in _frozen, text offset)
        self._cut_from: tuple[int, int] | None = None
        self._reasoning_frozen = False

    # -- drawing -------------------------------------------------------------------------------------------
    def _markdown(self, text: str, *, streaming: bool) -> str:
        return render_markdown(
            text, frontend=self.frontend, streaming=streaming, allowed_image_hosts=self.allowed_image_hosts
        )

    def _count(self, bundle: dict[str, str]) -> None:
        self.updates += 1
        self.bytes_sent += sum(len(value) for value in bundle.values())
        self.redraw_times.append(time.monotonic())

    def _draw(self, bundle: dict[str, str]) -> None:
        self._count(bundle)
        self.sink.show(bundle)

    def _freeze(self, bundle: dict[str, str]) -> None:
        self._count(bundle)
        self.sink.freeze(bundle)

    # -- the engine's calls --------------------------------------------------------------------------------
    def thinking(self, elapsed: float) -> None:
        if elapsed < THINKING_AFTER_S:  # a reply that starts at once never shows the line
            return
        second = int(elapsed)
        if second != self._shown_second:
            self._shown_second = second
            self._draw({"text/markdown": f"*thinking… {second} s*"})

    def reasoning(self, text_so_far: str, elapsed: float) -> None:
        if not self.show_reasoning or self.mode == "text":
            self.thinking(elapsed)
            return
        self._live_drawn = len(text_so_far)
        label = f"Reasoning… {int(elapsed)} s"
        self._draw({"text/markdown": reasoning_markdown(text_so_far, label, frontend=self.frontend, open_=True)})

    def due(self, size: int, seconds_since: float) -> bool:
        """Redraw now? At most ~10 a second; past the byte budget only every 0.25 s on 2% growth of the live part."""
        if seconds_since < MIN_INTERVAL_S:
            return False
        live = max(0, size - self._frozen_chars)
        if self.bytes_sent - self._budget_from + 1.1 * live + 16 <= BYTES_FACTOR * size + BYTES_SLACK:
            return True
        return seconds_since >= SLOW_INTERVAL_S and live >= self._live_drawn * (1 + GROWTH_STEP)

    def _settle(self, text_so_far: str) -> None:
        """Freeze the finished blocks at the start of the live text: they are drawn one last time, in the live
        output, and the rest of the text goes on in a new one (so freezing costs no extra redraw).

        A long open paragraph is frozen a sentence at a time (``sentence_cut``): its parts show as separate
        paragraphs while it streams, and the final output renders it whole again."""
        from .markdown import settled_display_markdown, settled_prefix_length
        from .settle import sentence_cut

        tail = text_so_far[self._frozen_chars :]
        cut_min = getattr(self.sink, "cut_min_chars", CUT_MIN_CHARS)
        if len(tail) < min(cut_min, FREEZE_MIN_CHARS):
            return
        cut = False
        parsed = tail + BLOCK_PROBE if tail.endswith("\n\n") else tail  # the text whose blocks are judged
        if self.mode == "text":
            settled = tail.rfind("\n") + 1
        else:  # after a blank line, what comes before is settled if a block may start there (the probe)
            settled = settled_prefix_length(parsed)
            if parsed is tail and settled < FREEZE_MIN_CHARS:
                settled = sentence_cut(tail, cut_min)
                cut = settled > 0
        if settled < (cut_min if cut else FREEZE_MIN_CHARS):
            return
        part = tail[:settled]
        if self.mode == "text":
            self._freeze({"text/plain": part})
            self._frozen.append(part)
        else:
            if cut:
                rendered = self._markdown(part, streaming=False)
            else:  # from the parse that found the blocks' end (the blocks parse the same alone)
                rendered = settled_display_markdown(
                    parsed, settled, frontend=self.frontend, allowed_image_hosts=self.allowed_image_hosts
                )
            self._freeze({"text/markdown": rendered})
            if self._cut_from is not None and not cut:  # the cut paragraph ended: keep it whole for the end
                index, offset = self._cut_from
                whole = text_so_far[offset : self._frozen_chars + settled]
                self._frozen[index:] = [self._markdown(whole, streaming=False)]
                self._cut_from = None
            else:
                if cut and self._cut_from is None:
                    self._cut_from = (len(self._frozen), self._frozen_chars)
                self._frozen.append(rendered)
        self._frozen_chars += settled
        self._frozen_source += part

    def _unfreeze(self) -> None:
        """The text no longer starts with what was frozen (a front rewrote it): draw it whole from now on."""
        reset = getattr(self.sink, "reset", None)
        if reset is not None:
            reset()
        self._frozen = [part for part in self._frozen[:1] if self._reasoning_frozen]
        self._frozen_chars, self._frozen_source = 0, ""
        self._cut_from = None
        self.freezing = False

    def _fold_reasoning(self, reasoning: str, seconds: float | None, tokens: int) -> None:
        """When the answer starts, the reasoning becomes a closed block above it (frozen)."""
        if self._reasoning_frozen or not (self.show_reasoning and reasoning) or self.mode == "text":
            return
        self._reasoning_frozen = True
        header = reasoning_markdown(reasoning, self._reasoning_label(seconds, tokens), frontend=self.frontend, open_=False)
        self._freeze({"text/markdown": header})
        self._frozen.append(header)

    @staticmethod
    def _reasoning_label(seconds: float | None, tokens: int) -> str:
        parts = ["Reasoning"]
        if tokens:
            parts.append(f"{tokens:,} tokens")
        if seconds:
            parts.append(f"{seconds:.1f} s")
        return " · ".join(parts)

    def begin_answer(self, reasoning: str, seconds: float | None) -> None:
        """The first answer text arrived after a reasoning summary: fold the summary away; the answer streams
        with a budget of its own."""
        self._fold_reasoning(reasoning, seconds, 0)
        self._budget_from, self._live_drawn = self.bytes_sent, 0

    def text(self, text_so_far: str) -> None:
        self._size = len(text_so_far)
        if self._frozen_chars and not text_so_far.startswith(self._frozen_source):
            self._unfreeze()
        if self.freezing:
            self._settle(text_so_far)
        live = text_so_far[self._frozen_chars :]
        self._live_drawn = len(live)
        if self.mode == "text":
            self._draw({"text/plain": live})
        else:
            self._draw({"text/markdown": self._markdown(live, streaming=True) + CURSOR})

    def finish(self, reply: Any, budget_note: str = "") -> None:
        footer = footer_text(reply, host=self.host, budget_note=budget_note, stopped_word=self.stopped_word)
        text = reply.text
        body = text
        if not body and reply.status in ("ok", "cached"):
            body = EMPTY_REPLY
        elif not body and reply.status == "interrupted":
            body = STOPPED_EARLY
        plain = f"{text}\n\n{footer}".lstrip()
        if self.mode == "text":
            self.final = {"text/plain": f"{body}\n\n{footer}"}
        else:
            if getattr(reply, "reasoning", "") and not self._reasoning_frozen and self.show_reasoning:
                header = reasoning_markdown(
                    reply.reasoning,
                    self._reasoning_label(getattr(reply, "reasoning_s", None), reply.usage.reasoning_tokens),
                    frontend=self.frontend,
                    open_=False,
                )
            else:
                header = ""
            frozen_text = "".join(self._frozen)
            if self._reasoning_frozen and self._frozen:  # relabel with the final token count
                self._frozen[0] = reasoning_markdown(
                    reply.reasoning,
                    self._reasoning_label(getattr(reply, "reasoning_s", None), reply.usage.reasoning_tokens),
                    frontend=self.frontend,
                    open_=False,
                )
                frozen_text = "".join(self._frozen)
            if self._frozen_chars and not text.startswith(self._frozen_source):
                self._unfreeze()
                frozen_text = "".join(self._frozen)
            if text and body == text and self._frozen_chars <= len(text):
                start = self._frozen_chars
                if self._cut_from is not None:  # a paragraph still cut in parts: render it whole
                    index, start = self._cut_from
                    frozen_text = "".join(self._frozen[:index])
                rest = self._markdown(text[start:], streaming=False) if text[start:] else ""
                markdown = frozen_text + rest
            else:
                markdown = frozen_text + self._markdown(body, streaming=False)
            markdown = f"{header}{markdown}\n\n<sub>{escape_money(footer, self.frontend)}</sub>"
            self.final = {"text/markdown": markdown.lstrip()}
            if len(plain) <= PLAIN_COPY_MAX_CHARS:  # a long reply's markdown is its plain text already
                self.final["text/plain"] = plain
        self._count(self.final)
        self.sink.finish(self.final)

    def fail(self, message: str, partial: bool) -> None:
        """Show an error under what streamed (or alone when nothing did); for sinks that show errors."""
        error = {"text/markdown": f"⚠️ {escape_money(message, self.frontend)}", "text/plain": message}
        if isinstance(self.sink, WidgetSink) and partial and self.final is not None:
            self.sink.show(self.final, error)
        else:
            self.sink.show(error)
