"""Plain Python values as blocks: collections (bounded structural repr), strings, bytes, anything else (repr)."""

from __future__ import annotations

import re
from collections import deque
from itertools import islice
from typing import Any

from .blocks import Block, Section, fit_block, fit_text, make_label, plural, short, type_name
from .tokens import estimate_tokens

NESTED_ITEMS = 5  # items shown inside a nested container
MAX_DEPTH = 3
HEAD_ITEMS = 100  # top-level items listed from the start (and TAIL_ITEMS from the end of sequences)
TAIL_ITEMS = 20
TALLY_ITEMS = 10_000  # items whose types are tallied
SORT_LIMIT = 100_000  # sets up to this size are sorted so their output is deterministic
LINE_CHARS = 300
_BRACKETS = {list: "[]", tuple: "()", set: "{}", frozenset: "{}", deque: "[]"}


def safe_repr(value: Any, limit: int | None = 200) -> str:
    """``repr(value)`` cut to ``limit`` characters; a repr that raises is reported, not propagated."""
    try:
        text = repr(value)
    except Exception as error:  # noqa: BLE001 - any user __repr__ may fail
        text = f"<{type_name(type(value))} object; repr() failed: {type(error).__name__}: {short(str(error), 80)}>"
    return text if limit is None else short(text, limit)


def ordered_items(value: Any, limit: int | None = None) -> list[Any]:
    """A container's items in a stable order: sequences as they are, sets sorted (when not huge)."""
    if isinstance(value, (set, frozenset)) and len(value) <= SORT_LIMIT:
        try:
            items = sorted(value)
        except TypeError:
            items = sorted(value, key=lambda item: (type(item).__name__, safe_repr(item, 100)))
        return items if limit is None else items[:limit]
    return list(islice(iter(value), limit))


def brief(value: Any, depth: int = 0, width: int = 80) -> str:
    """A short, bounded repr: nested containers show a few items and their size, long text is cut."""
    if isinstance(value, (str, bytes, bytearray)):
        if len(value) <= width:
            return safe_repr(value, width + 10)
        return f"{safe_repr(value[:width], width + 10)}…(+{len(value) - width:,})"
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            return f"{{…{len(value):,} keys}}"
        shown = list(islice(value.items(), NESTED_ITEMS))
        inner = ", ".join(f"{brief(k, depth + 1, 30)}: {brief(v, depth + 1, 40)}" for k, v in shown)
        more = f", …+{len(value) - len(shown):,} more" if len(value) > len(shown) else ""
        return "{" + inner + more + "}"
    brackets = next((b for kind, b in _BRACKETS.items() if isinstance(value, kind)), None)
    if brackets and not hasattr(value, "_fields"):
        if depth >= MAX_DEPTH:
            return f"{brackets[0]}…{len(value):,} items{brackets[1]}"
        shown = ordered_items(value, NESTED_ITEMS)
        inner = ", ".join(brief(item, depth + 1, 40) for item in shown)
        more = f", …+{len(value) - len(shown):,} more" if len(value) > len(shown) else ""
        return brackets[0] + inner + more + brackets[1]
    shape = getattr(value, "shape", None)
    if shape is not None and type(value).__module__.split(".")[0] not in ("builtins", "PIL"):
        return f"<{type_name(type(value))} shape {tuple(shape) if not isinstance(shape, tuple) else shape}>"
    return safe_repr(value, max(width, 60))


def type_tally(values: Any, total: int) -> str:
    """``int 998, str 2``: types among the first ``TALLY_ITEMS`` values, commonest first."""
    counts: dict[str, int] = {}
    for value in islice(values, TALLY_ITEMS):
        key = type_name(type(value))
        counts[key] = counts.get(key, 0) + 1
    text = ", ".join(f"{k} {n:,}" for k, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    return text + (f" (first {TALLY_ITEMS:,} of {total:,})" if total > TALLY_ITEMS else "")


def describe_collection(value: Any, name: str, max_tokens: int, private: bool) -> Block:
    """A dict, list, tuple, set or deque: length, item types, and a bounded item-per-line repr."""
    kind = type_name(type(value))
    if isinstance(value, dict):
        label = make_label(name, f"{kind}, {plural(len(value), 'key')}")
        notes = [
            f"key types: {type_tally(iter(value), len(value))}",
            f"value types: {type_tally(iter(value.values()), len(value))}",
        ]
        if private:
            return fit_block(name, label, [Section("", notes)], max_tokens)
        lines = [
            short(f"{brief(k, 1, 60)}: {brief(v, 1, 200)}", LINE_CHARS)
            for k, v in islice(value.items(), HEAD_ITEMS)
        ]
        items = Section("items:", lines, rank=1, what="keys", omitted=len(value) - len(lines))
        return fit_block(name, label, [Section("", notes), items], max_tokens)
    label = make_label(name, f"{kind}, {plural(len(value), 'item')}")
    notes = [f"item types: {type_tally(iter(value), len(value))}"]
    if private:
        return fit_block(name, label, [Section("", notes)], max_tokens)
    fields = getattr(value, "_fields", None)
    if fields:
        lines = [
            short(f"{field}={brief(item, 1, 200)}", LINE_CHARS)
            for field, item in zip(fields, value, strict=False)
        ]
        return fit_block(
            name, label, [Section("", notes), Section("fields:", lines, rank=1, what="fields")], max_tokens
        )
    if isinstance(value, (set, frozenset)) or len(value) <= HEAD_ITEMS + TAIL_ITEMS:
        shown = list(enumerate(ordered_items(value, HEAD_ITEMS + TAIL_ITEMS)))
        split = len(shown)
    else:
        tail_start = len(value) - TAIL_ITEMS
        if isinstance(value, (list, tuple)):
            tail = list(value[tail_start:])
        else:  # a deque: walk from the right end rather than through the middle
            tail = list(islice(reversed(value), TAIL_ITEMS))[::-1]
        shown = list(enumerate(islice(value, HEAD_ITEMS))) + [(tail_start + i, v) for i, v in enumerate(tail)]
        split = HEAD_ITEMS
    is_set = isinstance(value, (set, frozenset))
    lines = [
        short(brief(item, 1, 200) if is_set else f"[{i}] {brief(item, 1, 200)}", LINE_CHARS)
        for i, item in shown
    ]
    items = Section("items:", lines, rank=1, what="items", split=split, omitted=len(value) - len(lines))
    return fit_block(name, label, [Section("", notes), items], max_tokens)


def fence_for(text: str) -> str:
    """A markdown code fence longer than any backtick run inside ``text``."""
    runs = [len(run) for run in re.findall(r"`{3,}", text)]
    return "`" * max(3, max(runs, default=0) + 1)


def text_block(
    name: str, label: str, notes: list[str], text: str, max_tokens: int, language: str = ""
) -> Block:
    """A label, a few note lines and ``text`` fenced, cut to head and tail so the whole fits the budget."""
    overhead = estimate_tokens(
        "\n".join([label, *notes, "```" + language, "```", "[... 1,000,000 more chars not shown]"])
    )
    body, omitted = fit_text(text, max(1, max_tokens - overhead - 2))
    fence = fence_for(body)
    section = Section("", body.split("\n"), what="lines", header=[fence + language], footer=[fence])
    return fit_block(name, label, [Section("", notes), section], max_tokens, truncated=omitted > 0)


def describe_string(value: str, name: str, max_tokens: int, private: bool) -> Block:
    """A string: its length and line count, then its text (head and tail when long); private: lengths only."""
    lines = value.count("\n") + 1 if value else 0
    label = make_label(
        name, f"{type_name(type(value))}, {plural(len(value), 'char')}, {plural(lines, 'line')}"
    )
    if private:
        return fit_block(name, label, [Section("", ["[private: text not shown]"])], max_tokens)
    return text_block(name, label, [], value, max_tokens)


_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF8", "GIF image"),
    (b"%PDF", "PDF document"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\x1f\x8b", "gzip data"),
    (b"BM", "BMP image"),
)


def sniff_bytes(data: bytes) -> str:
    """What a byte string looks like: an image or archive format, UTF-8 text, or binary."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP image"
    head = data[:65536]
    for cut in range(4):  # a multi-byte character may straddle the cut
        try:
            head[: len(head) - cut].decode("utf-8")
            return "UTF-8 text"
        except UnicodeDecodeError:
            continue
    return "binary data"


def describe_bytes(value: bytes | bytearray, name: str, max_tokens: int, private: bool) -> Block:
    """Bytes: length and sniffed kind; the text when it is UTF-8, else the first and last bytes."""
    kind = sniff_bytes(bytes(value[:65536]))
    label = make_label(name, f"{type_name(type(value))}, {plural(len(value), 'byte')}, {kind}")
    if private:
        return fit_block(name, label, [Section("", ["[private: content not shown]"])], max_tokens)
    if kind == "UTF-8 text":
        return text_block(
            name, label, [], bytes(value[: max_tokens * 24]).decode("utf-8", "replace"), max_tokens
        )
    lines = [f"first bytes: {bytes(value[:96])!r}"]
    if len(value) > 96:
        lines.append(f"last bytes: {bytes(value[-32:])!r}")
    return fit_block(name, label, [Section("", lines)], max_tokens, truncated=len(value) > 96)


def describe_generic(value: Any, name: str, max_tokens: int, private: bool) -> Block:
    """Any other object: its type, shape/dtype/length when it has them, and its repr (cut to the budget)."""
    notes = []
    for attribute in ("shape", "dtype"):
        try:
            found = getattr(value, attribute, None)
        except Exception:  # noqa: BLE001 - properties of arbitrary objects may raise
            found = None
        if found is not None and not callable(found) and (not private or _structural(attribute, found)):
            notes.append(f"{attribute}: {short(str(found), 80)}")
    try:
        notes.append(f"length: {len(value):,}")
    except Exception:  # noqa: BLE001 - __len__ may be missing or fail
        pass
    label = make_label(name, type_name(type(value)))
    if private:
        return fit_block(name, label, [Section("", [*notes, "[private: repr not shown]"])], max_tokens)
    return text_block(name, label, notes, safe_repr(value, None), max_tokens)


def _structural(attribute: str, found: Any) -> bool:
    """Whether a ``shape``/``dtype`` attribute is structure (ints, a library dtype), safe to show in private mode."""
    if attribute == "shape":
        return isinstance(found, tuple) and all(isinstance(n, int) for n in found)
    module = type(found).__module__.split(".")[0]
    return module in ("numpy", "pandas", "polars", "torch", "jax", "tensorflow", "cupy")
