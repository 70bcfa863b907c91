"""The reply's asked-for format, checked before the call is recorded: ``-f json`` / ``format="json"`` parses it
(the whole reply, or its first JSON block) and a reply that is not JSON is a failed call, in every front."""

from __future__ import annotations

from typing import Any

from ..errors import ReplyFormatError


def parse_json_text(text: str) -> Any:
    """The JSON in ``text``; ``ValueError`` when there is none."""
    from ..markdown.extract import parse_json_reply

    return parse_json_reply(text)


def check_format(fmt: str, text: str, source: str) -> tuple[Any, ReplyFormatError | None]:
    """(parsed value, None) when ``text`` is in format ``fmt``, else (None, the error to raise)."""
    if fmt != "json":
        return None, None
    try:
        return parse_json_text(text), None
    except ValueError as exc:
        hint = "Call ask() again, or use format='text'." if source == "ask" else "The text is shown above; ask again or use -f text."
        return None, ReplyFormatError(f"The reply is not valid JSON ({exc}).", hint=hint)
