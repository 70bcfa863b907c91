"""A magic's parsed options as an ``Ask``: what the user typed, with None wherever a setting should decide."""

from __future__ import annotations

from typing import Any

from ..call.spec import MAGIC_NAMES, Ask
from .capture import current_cell


def ask_from_args(args: Any, prompt: str, *, source: str, shell: Any, values: dict, images: list) -> Ask:
    """The ``Ask`` for ``%%o4``/``%o4``/``%o4_explain`` options (an empty ``-m ''`` stays empty: an error)."""
    return Ask(
        prompt=prompt,
        source=source,
        model=args.model,
        effort=args.effort,
        system=args.system,
        max_tokens=args.max_tokens,
        thread=args.thread,
        new=bool(args.new),
        stream=False if args.no_stream else None,
        format=args.format,
        cache=args.cache,
        private=args.private,
        values=values or None,
        images=images or None,
        cell=current_cell(shell),
        show_reasoning=False if getattr(args, "no_reasoning", False) else None,
        tools=True if getattr(args, "tools", None) else None,
        names=dict(MAGIC_NAMES),
    )
