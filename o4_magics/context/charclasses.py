"""Unicode character classes for the token estimates: each non-ASCII character becomes one class code.

``class_codes(text)`` maps every non-ASCII character to a stand-in character of its class (a letter of a
script, an emoji, a box-drawing symbol, ...) in one ``str.translate``, so the estimators count classes with
C-speed regexes and ``str.count``. Letter classes get letter stand-ins and symbol classes punctuation
stand-ins, so regexes over ``\\w`` and ``[^\\w\\s]`` keep seeing words and punctuation runs where o200k_base's
pre-tokenizer does. Scripts are split into common and rare letters by a legacy code page (letters outside
it are rare in real text and cost more tokens).
"""

from __future__ import annotations

import bisect
import unicodedata

# Letter classes: stand-ins are lowercase letters of Latin Extended-A (U+0101, U+0103, ...), all ``\w``.
LETTER_CLASSES = (
    "latin",
    "latin_rare",
    "mark",
    "greek",
    "greek_rare",
    "cyrillic",
    "cyrillic_rare",
    "hebrew",
    "hebrew_rare",
    "arabic",
    "arabic_rare",
    "indic",
    "indic_rare",
    "thai",
    "hangul",
    "hangul_rare",
    "kana",
    "han",
    "han_rare",
    "letter2",
    "letter3",
    "letter4",
)
# Symbol classes: stand-ins are Latin-1 punctuation (not ``\w``, not ``\s``).
SYMBOL_CLASSES = (
    "emoji",
    "skin",
    "joiner",
    "selector",
    "regional",
    "punct3",
    "math",
    "box",
    "cjk_punct",
    "sym2",
    "sym3",
    "sym4",
)
CODE: dict[str, str] = {name: chr(0x101 + 2 * index) for index, name in enumerate(LETTER_CLASSES)}
CODE.update(zip(SYMBOL_CLASSES, "¡¢£¤¥¦§¨©«¬®", strict=True))
CODE["space"] = "\xa0"  # ``\s``
CODE["digit"] = "\u0660"  # ARABIC-INDIC DIGIT ZERO: ``\d``

# (first, last, class) of script blocks; a letter or mark inside one belongs to that script.
_SCRIPTS = sorted(
    [
        (0x00C0, 0x024F, "latin"),
        (0x0250, 0x02AF, "latin"),
        (0x1E00, 0x1EFF, "latin"),
        (0x2C60, 0x2C7F, "latin"),
        (0xA720, 0xA7FF, "latin"),
        (0x0370, 0x03FF, "greek"),
        (0x1F00, 0x1FFF, "greek"),
        (0x0400, 0x052F, "cyrillic"),
        (0x1C80, 0x1C8F, "cyrillic"),
        (0x2DE0, 0x2DFF, "cyrillic"),
        (0xA640, 0xA69F, "cyrillic"),
        (0x0590, 0x05FF, "hebrew"),
        (0xFB1D, 0xFB4F, "hebrew"),
        (0x0600, 0x06FF, "arabic"),
        (0x0750, 0x077F, "arabic"),
        (0x08A0, 0x08FF, "arabic"),
        (0xFB50, 0xFDFF, "arabic"),
        (0xFE70, 0xFEFF, "arabic"),
        (0x0900, 0x0DFF, "indic"),
        (0xA8E0, 0xA8FF, "indic"),
        (0x0E00, 0x0EFF, "thai"),
        (0x1000, 0x109F, "thai"),
        (0x1780, 0x17FF, "thai"),
        (0x1100, 0x11FF, "hangul"),
        (0x3130, 0x318F, "hangul"),
        (0xA960, 0xA97F, "hangul"),
        (0xAC00, 0xD7FF, "hangul"),
        (0x3040, 0x30FF, "kana"),
        (0x31F0, 0x31FF, "kana"),
        (0xFF66, 0xFF9F, "kana"),
        (0x3400, 0x4DBF, "han"),
        (0x4E00, 0x9FFF, "han"),
        (0xF900, 0xFAFF, "han"),
        (0x20000, 0x3FFFF, "han"),
    ]
)
# (first, last, class) of symbol blocks, for characters that are not letters, marks, digits or spaces.
_SYMBOLS = sorted(
    [
        (0x1F1E6, 0x1F1FF, "regional"),
        (0x1F3FB, 0x1F3FF, "skin"),
        (0x200C, 0x200D, "joiner"),
        (0xFE00, 0xFE0F, "selector"),
        (0xE0000, 0xE007F, "selector"),
        (0x1F000, 0x1F1E5, "emoji"),
        (0x1F200, 0x1F3FA, "emoji"),
        (0x1F400, 0x1FAFF, "emoji"),
        (0x2600, 0x27BF, "emoji"),
        (0x2B00, 0x2BFF, "emoji"),
        (0x2000, 0x200B, "punct3"),
        (0x200E, 0x206F, "punct3"),
        (0x20A0, 0x20CF, "punct3"),
        (0x2100, 0x218F, "math"),
        (0x2190, 0x23FF, "math"),
        (0x27C0, 0x27FF, "math"),
        (0x2900, 0x2AFF, "math"),
        (0x2500, 0x25FF, "box"),
        (0x3000, 0x303F, "cjk_punct"),
        (0xFF00, 0xFFEF, "cjk_punct"),
    ]
)
_SCRIPT_STARTS = [first for first, _, _ in _SCRIPTS]
_SYMBOL_STARTS = [first for first, _, _ in _SYMBOLS]
# scripts whose combining marks are ordinary parts of words (vowel signs); elsewhere marks are their own class
_MARKED_SCRIPTS = ("indic", "thai")


def _in_common_code_page(char: str, script: str) -> bool:
    """Whether ``char`` is a common letter of ``script``: one its legacy code pages (or frequency levels) hold."""
    for codec, highest in _COMMON[script]:
        try:
            encoded = char.encode(codec)
        except UnicodeEncodeError:
            continue
        if len(encoded) == 1 or int.from_bytes(encoded[:2], "big") <= highest:
            return True
    return False


# script -> (codec, highest two-byte code still counted common); 0xFFFF = the whole code page
_COMMON: dict[str, tuple[tuple[str, int], ...]] = {
    "latin": (("cp1252", 0xFFFF), ("cp1250", 0xFFFF), ("cp1254", 0xFFFF), ("cp1257", 0xFFFF)),
    "greek": (("cp1253", 0xFFFF),),
    "cyrillic": (("cp1251", 0xFFFF),),
    "hebrew": (("cp1255", 0xFFFF),),
    "arabic": (("cp1256", 0xFFFF),),
    "hangul": (("euc_kr", 0xFFFF),),  # the 2,350 syllables of KS X 1001
    # level 1 (frequent) hanzi/kanji of GB 2312, Big5 and JIS X 0208
    "han": (("gb2312", 0xD7FE), ("big5", 0xC67E), ("shift_jis", 0x9872)),
}


def _common_indic(codepoint: int) -> bool:
    """Letters, vowel signs and virama of an Indic block (ISCII layout, same offsets in each 128-point block)."""
    offset = codepoint & 0x7F
    return 0x01 <= offset <= 0x39 or 0x3C <= offset <= 0x4D or offset == 0x50 or 0x58 <= offset <= 0x63


def _find(table: list[tuple[int, int, str]], starts: list[int], codepoint: int) -> str | None:
    """The class of the (non-overlapping) range holding ``codepoint``, if any."""
    index = bisect.bisect_right(starts, codepoint) - 1
    if index >= 0 and table[index][0] <= codepoint <= table[index][1]:
        return table[index][2]
    return None


def classify(codepoint: int) -> str:
    """The class name of one non-ASCII code point."""
    char = chr(codepoint)
    category = unicodedata.category(char)
    size = 4 if codepoint > 0xFFFF else 3 if codepoint > 0x7FF else 2
    if category[0] == "Z" or codepoint == 0x85:
        return "space"
    if category == "Nd" and size < 4:
        return "digit"
    if category[0] in "LM":
        script = _find(_SCRIPTS, _SCRIPT_STARTS, codepoint)
        if script == "indic" and not _common_indic(codepoint):
            return "indic_rare"
        if script in _MARKED_SCRIPTS or script == "kana":
            return script
        if category[0] == "M":
            return "mark"
        if script is not None:
            if script in _COMMON:
                return script if _in_common_code_page(char, script) else f"{script}_rare"
            return script
        return f"letter{size}"
    return _find(_SYMBOLS, _SYMBOL_STARTS, codepoint) or f"sym{size}"


_CACHE_LIMIT = 200_000


class _ClassTable(dict):  # type: ignore[type-arg]
    """``str.translate`` table: ASCII maps to itself, anything else to its class code (cached as met)."""

    def __missing__(self, codepoint: int) -> str:
        code = CODE[classify(codepoint)]
        if len(self) < _CACHE_LIMIT:
            self[codepoint] = code
        return code


_TABLE = _ClassTable({codepoint: codepoint for codepoint in range(128)})


def class_codes(text: str) -> str:
    """``text`` with each non-ASCII character replaced by its class code (ASCII text is returned as is)."""
    return text if text.isascii() else text.translate(_TABLE)
