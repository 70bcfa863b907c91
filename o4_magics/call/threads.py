"""Conversation threads: each notebook's named histories of user/assistant turns, bounded by tokens."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

MAIN_THREAD = "main"
#: Turns kept per thread (only the newest that fit history_max_tokens are sent); older ones are dropped.
MAX_TURNS_KEPT = 200


def message_tokens(message: dict[str, Any]) -> int:
    """Estimated prompt tokens of one chat message (text parts and images; 4 tokens of framing)."""
    from ..context.tokens import estimate_image_tokens, estimate_tokens  # not at %load_ext time

    content = message.get("content")
    if isinstance(content, str):
        return 4 + estimate_tokens(content)
    total = 4
    for part in content or []:
        if part.get("type") == "text":
            total += estimate_tokens(part.get("text", ""))
        elif part.get("type") == "image_url":
            total += estimate_image_tokens(1024, 1024)
    return total


@dataclass
class Turn:
    """One exchange: the user's message and the assistant's reply, as sent and received."""

    user: dict[str, Any]
    assistant: dict[str, Any]
    tokens: int = 0


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
        """Start the thread afresh: its history is no longer sent."""
        thread = self.get(name)
        with self._lock:
            thread.turns = []
            thread.version += 1
            thread.epoch += 1

    def append(self, name: str, user: dict[str, Any], assistant: dict[str, Any]) -> None:
        thread = self.get(name)
        turn = Turn(user=user, assistant=assistant, tokens=message_tokens(user) + message_tokens(assistant))
        with self._lock:
            thread.turns.append(turn)
            del thread.turns[:-MAX_TURNS_KEPT]
            thread.version += 1

    def history(self, name: str, max_tokens: int) -> list[dict[str, Any]]:
        """The newest whole turns of thread ``name`` that fit in ``max_tokens``, oldest first.

        Images are re-sent with the newest turn only (a follow-up about the plot just asked about still sees
        it); older turns carry a one-line note instead, so a long thread does not pay for its images again
        and again.
        """
        thread = self.get(name)
        with self._lock:
            turns = list(thread.turns)
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
            newest = index == len(chosen) - 1
            messages.extend([turn.user if newest else without_images(turn.user), turn.assistant])
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
    return message_tokens(without_images(turn.user)) + message_tokens(turn.assistant)
