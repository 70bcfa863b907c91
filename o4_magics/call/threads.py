"""Conversation threads: each notebook's named histories of user/assistant turns, bounded by tokens.

A turn belongs to the conversation it was sent from and to its place there: ``begin`` takes a ticket when a
call is sent (its epoch and send order) and ``complete`` files the turn at that place. A reset (``-n``, "New
conversation") starts a new epoch, and a late reply from before it is dropped instead of leaking into the
fresh conversation.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

MAIN_THREAD = "main"
#: Turns kept per thread (only the newest that fit history_max_tokens are sent); older ones are dropped.
MAX_TURNS_KEPT = 200


def _image_tokens(url: str, known: dict[str, int] | None) -> int:
    if known and url in known:
        return known[url]
    from ..context.tokens import image_url_tokens

    return image_url_tokens(url)


#: Texts up to this long have their counts remembered (the system prompt and recent turns recur every call).
_MEMO_MAX_CHARS = 20_000


def _text_tokens(text: str, upper: bool) -> int:
    if len(text) <= _MEMO_MAX_CHARS:
        return _memo_tokens(text, upper)
    return _count_tokens(text, upper)


@lru_cache(maxsize=256)
def _memo_tokens(text: str, upper: bool) -> int:
    return _count_tokens(text, upper)


def _count_tokens(text: str, upper: bool) -> int:
    from ..context.tokens import estimate_tokens  # not at %load_ext time

    if upper:
        from ..context.tokens import token_upper_bound

        return token_upper_bound(text)
    return estimate_tokens(text)


def message_tokens(message: dict[str, Any], image_tokens: dict[str, int] | None = None, upper: bool = False) -> int:
    """Estimated prompt tokens of one chat message (text parts and images; 4 tokens of framing).

    ``upper=True`` gives a safe upper bound instead of the best guess (for refusals and the budget).
    """
    content = message.get("content")
    total = 4
    for call in message.get("tool_calls") or []:  # an assistant's function calls: names and arguments
        function = call.get("function") or {}
        total += 4 + _text_tokens(f"{function.get('name', '')} {function.get('arguments', '')}", upper)
    if isinstance(content, str):
        return total + _text_tokens(content, upper)
    for part in content or []:
        if part.get("type") == "text":
            total += _text_tokens(part.get("text", ""), upper)
        elif part.get("type") == "image_url":
            total += _image_tokens(str((part.get("image_url") or {}).get("url", "")), image_tokens)
    return total


@dataclass
class Turn:
    """One exchange: the user's message and the assistant's reply, as sent and received."""

    user: dict[str, Any]
    assistant: dict[str, Any]
    tokens: int = 0
    #: made by a --private call (so it holds no cell value and may be sent with later private calls)
    private: bool = False
    #: send order within the thread
    seq: int = 0
    #: the model that answered (the chat labels turns by it)
    model: str = ""
    #: an agent question's tool calls and their results, between ``user`` and ``assistant`` (truncated)
    exchange: list[dict[str, Any]] = field(default_factory=list)

    def messages(self, newest: bool = True) -> list[dict[str, Any]]:
        """The turn as chat messages: user, the tool exchange, assistant (images only in the newest)."""
        user = self.user if newest else without_images(self.user)
        return [user, *self.exchange, self.assistant]


#: Characters of each tool result a thread keeps for later questions (the rest is cut, and says so).
EXCHANGE_RESULT_CHARS = 2000
EXCHANGE_CUT = "\n[… cut here in the thread's history]"
EXCHANGE_IMAGE_NOTE = "[images from the tools were shown here; not sent again]"


def compact_exchange(exchange: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """An agent question's exchange as a thread keeps it: tool results cut to ``EXCHANGE_RESULT_CHARS``,
    images replaced by a note, reasoning items dropped (they only matter within the question)."""
    kept: list[dict[str, Any]] = []
    for message in exchange or []:
        message = {key: value for key, value in message.items() if key != "reasoning_details"}
        content = message.get("content")
        if message.get("role") == "user" and not isinstance(content, str):
            texts = [part.get("text", "") for part in content or [] if part.get("type") == "text"]
            message["content"] = "\n".join([*texts, EXCHANGE_IMAGE_NOTE])
        elif isinstance(content, str) and len(content) > EXCHANGE_RESULT_CHARS:
            message["content"] = content[:EXCHANGE_RESULT_CHARS] + EXCHANGE_CUT
        kept.append(message)
    return kept


@dataclass
class Ticket:
    """A call's place in a thread, taken when it is sent."""

    thread: str
    epoch: int
    seq: int


@dataclass
class Thread:
    """A named conversation; ``version`` grows at every change and ``epoch`` at every reset (``-n``), so
    widgets can tell new turns from a restarted conversation (old turns also leave past MAX_TURNS_KEPT)."""

    name: str
    turns: list[Turn] = field(default_factory=list)
    version: int = 0
    epoch: int = 0


class ThreadStore:
    """All threads of one notebook (one kernel), shared by the magics, the chat widget and ``ask()``."""

    def __init__(self) -> None:
        self._threads: dict[str, Thread] = {}
        self._lock = threading.Lock()
        self._seq = itertools.count(1)

    def get(self, name: str = MAIN_THREAD) -> Thread:
        with self._lock:
            thread = self._threads.get(name)
            if thread is None:
                thread = self._threads[name] = Thread(name)
            return thread

    def names(self) -> list[str]:
        with self._lock:
            return list(self._threads)

    def reset(self, name: str = MAIN_THREAD) -> None:
        """Start the thread afresh: its history is no longer sent, and replies still on their way are dropped."""
        thread = self.get(name)
        with self._lock:
            thread.turns = []
            thread.version += 1
            thread.epoch += 1

    def begin(self, name: str) -> Ticket:
        """Take a place in thread ``name`` for a call being sent now."""
        thread = self.get(name)
        with self._lock:
            return Ticket(name, thread.epoch, next(self._seq))

    def complete(
        self, ticket: Ticket, user: dict[str, Any], assistant: dict[str, Any], *, private: bool = False,
        model: str = "", exchange: list[dict[str, Any]] | None = None, assistant_tokens: int | None = None,
    ) -> bool:
        """File a finished exchange at its ticket's place; False (dropped) if the thread was reset since.

        ``exchange``: an agent question's tool calls and results, kept truncated (``compact_exchange``).
        ``assistant_tokens``: the reply's tokens as the server counted them (else they are estimated)."""
        thread = self.get(ticket.thread)
        kept = compact_exchange(exchange)
        answer = message_tokens(assistant) if assistant_tokens is None else 4 + assistant_tokens
        turn = Turn(
            user=user,
            assistant=assistant,
            tokens=message_tokens(user) + answer + sum(message_tokens(m) for m in kept),
            private=private,
            seq=ticket.seq,
            model=model,
            exchange=kept,
        )
        with self._lock:
            if thread.epoch != ticket.epoch:
                return False
            index = len(thread.turns)
            while index and thread.turns[index - 1].seq > turn.seq:
                index -= 1
            thread.turns.insert(index, turn)
            del thread.turns[:-MAX_TURNS_KEPT]
            thread.version += 1
            return True

    def append(
        self, name: str, user: dict[str, Any], assistant: dict[str, Any], *, private: bool = False, model: str = ""
    ) -> None:
        """Add a finished exchange at the end of thread ``name`` (a call with no ticket)."""
        self.complete(self.begin(name), user, assistant, private=private, model=model)

    def history(self, name: str, max_tokens: int, *, private_only: bool = False) -> list[dict[str, Any]]:
        """The newest whole turns of thread ``name`` that fit in ``max_tokens``, oldest first.

        Images are re-sent with the newest turn only (a follow-up about the plot just asked about still sees
        it); older turns carry a one-line note instead, so a long thread does not pay for its images again
        and again. ``private_only`` keeps only turns made by private calls.
        """
        thread = self.get(name)
        with self._lock:
            turns = [turn for turn in thread.turns if turn.private or not private_only]
        chosen: list[Turn] = []
        used = 0
        for index, turn in enumerate(reversed(turns)):
            cost = turn.tokens if index == 0 else without_images_tokens(turn)
            if used + cost > max_tokens:
                break
            chosen.append(turn)
            used += cost
        messages: list[dict[str, Any]] = []
        for index, turn in enumerate(reversed(chosen)):
            messages.extend(turn.messages(newest=index == len(chosen) - 1))
        return messages


IMAGE_NOTE = "[an image was attached here earlier; not sent again]"


def without_images(message: dict[str, Any]) -> dict[str, Any]:
    """``message`` with its image parts replaced by a short text note (the same object if it has none)."""
    content = message.get("content")
    if isinstance(content, str) or not any(part.get("type") == "image_url" for part in content or []):
        return message
    parts = [part if part.get("type") != "image_url" else {"type": "text", "text": IMAGE_NOTE} for part in content]
    return {**message, "content": parts}


def without_images_tokens(turn: Turn) -> int:
    exchange = sum(message_tokens(message) for message in turn.exchange)
    return message_tokens(without_images(turn.user)) + message_tokens(turn.assistant) + exchange
