"""Edits on a reply's source, and maps from an inline token's text back to the reply's offsets.

``to_display_markdown`` changes a reply only where it must: it collects (start, end, replacement) edits on
the source and applies them once. markdown-it gives inline text without its container prefixes ("> ", list
indentation); ``Mapping`` turns offsets in that text back into offsets in the reply.
"""

from __future__ import annotations

from bisect import bisect_right


class OverlappingEdits(Exception):
    """Two edits touch the same text: a bug, and to_display_markdown then fails closed."""


class Source:
    """The reply split in lines, and the edits (start, end, replacement) collected on it."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.split("\n")
        self.starts = [0] * len(self.lines)
        offset = 0
        for index, line in enumerate(self.lines):
            self.starts[index] = offset
            offset += len(line) + 1
        self.edits: list[tuple[int, int, str]] = []

    def edit(self, start: int, end: int, replacement: str) -> None:
        self.edits.append((start, end, replacement))

    def result(self) -> str:
        pieces, last = [], 0
        for start, end, replacement in sorted(self.edits, key=lambda edit: (edit[0], edit[1])):
            if start < last:  # a bug: fail closed (to_display_markdown then shows the reply as plain text)
                raise OverlappingEdits(f"edits overlap at {start}")
            pieces.append(self.text[last:start])
            pieces.append(replacement)
            last = end
        pieces.append(self.text[last:])
        return "".join(pieces)


class Mapping:
    """Offsets in an inline token's ``content`` → offsets in the reply (content lines lose container prefixes)."""

    def __init__(self) -> None:
        self.content_starts: list[int] = []
        self.source_starts: list[int] = []
        self.skips: list[int] = []  # leading content characters that have no source (tab expansion)

    def add(self, content_start: int, source_start: int, skip: int = 0) -> None:
        self.content_starts.append(content_start)
        self.source_starts.append(source_start)
        self.skips.append(skip)

    def __call__(self, position: int) -> int:
        line = max(0, bisect_right(self.content_starts, position) - 1)
        within = position - self.content_starts[line] - self.skips[line]
        return self.source_starts[line] + max(0, within)


def line_mapping(source: Source, first_line: int, content: str) -> Mapping:
    """Map a paragraph's content lines onto source lines ``first_line``...: each is a suffix of its line."""
    mapping = Mapping()
    offset = 0
    pieces = content.split("\n")
    for index, piece in enumerate(pieces):
        line = source.lines[first_line + index] if first_line + index < len(source.lines) else ""
        base = line.rstrip() if index == len(pieces) - 1 else line
        skip = 0
        if not base.endswith(piece):
            stripped = piece.lstrip(" ")
            skip = len(piece) - len(stripped)
            piece_in_source = stripped
        else:
            piece_in_source = piece
        mapping.add(offset, source.starts[first_line + index] + len(base) - len(piece_in_source), skip)
        offset += len(piece) + 1
    return mapping
