"""Offline token counts for text and images, no tokenizer at run time: a best guess and a safe upper bound.

``estimate_tokens`` is a linear model over regex counts, fitted to OpenAI's o200k_base tokenizer (the one
o4-mini uses) on prose, code, JSON, CSV, numbers, markdown, ids, a dozen scripts, emoji and symbols.
``token_upper_bound`` is a second linear model fitted so that it is never below the real count on a corpus
of real and adversarial text (random strings from every Unicode range, 300,000 emoji, ...), capped by the
UTF-8 length (no token is shorter than a byte); use it where a count guards a refusal or a budget.
``tests/test_tokens.py`` measures both against the real tokenizer, per kind of text.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct

from .charclasses import CODE, LETTER_CLASSES, SYMBOL_CLASSES, class_codes
from .common_words import ONE_TOKEN_WORDS

# Features mirror o200k_base's pre-tokenizer: each letter run, digit group (<= 3 digits), punctuation run and
# newline run is about one token (a newline right after punctuation usually merges with it, a space before a
# number does not); long words, camelCase humps and non-Latin scripts cost extra. Non-ASCII characters are
# first replaced by a stand-in of their class (``charclasses``), so these regexes see words and symbols.
_WORDS = re.compile(r"[^\W\d_]+")
_DIGIT_RUNS = re.compile(r"\d+")
_PUNCT_RUNS = re.compile(r"[^\w\s]+|_+")
_NEWLINE_RUNS = re.compile(r"\n+")
_BARE_NEWLINE_RUNS = re.compile(r"(?<![^\w\s])\n+")
_SPACE_BEFORE_DIGIT = re.compile(r" (?=\d)")
_INDENT_RUNS = re.compile(r" {2,}|\t+")
_HUMPS = re.compile(r"[a-z][A-Z]")
_LONG_WORD = 10
# only the upper bound uses these: what makes random letters, symbols and blanks costlier than prose
_UPPER = re.compile(r"[A-Z]")
_CONSONANT_CLUSTERS = re.compile(r"[b-df-hj-np-tv-zB-DF-HJ-NP-TV-Z]{3,}")
_ASCII_PUNCT = re.compile(r"[!-/:-@\[-`{-~]")
_BLANK_RUNS = re.compile(r"[ \t]{2,}")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_DOUBLED = re.compile(r"([a-z])(?=\1)")
_ALTERNATING = re.compile(r"([a-z])(?=[a-z]\1)")
_DOUBLED_NON_ASCII = re.compile(r"([^\x00-\x7f])(?=\1)")
_SPACED_PUNCT = re.compile(r" [^\w\s]")
_WORDS_AFTER_OTHER = re.compile(r"(?<=[^\w ])[^\W\d_]+")  # after punctuation, a newline, a tab, a symbol
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_SPACED_SCRIPTS = ("greek", "cyrillic", "hebrew", "arabic", "indic", "hangul")  # words split by spaces
_CLASSES = LETTER_CLASSES + SYMBOL_CLASSES + ("space", "digit")
_RUN_PATTERNS = {name: re.compile(re.escape(CODE[name]) + "+") for name in _CLASSES}

# Fitted coefficients (``benchmarks/fit_tokens.py`` refits them against the real tokenizer when features change).
# Estimate: least squares on the relative error, each kind of text weighted equally; the ASCII part was
# fitted on English prose, code and data, the script and symbol parts on real translations and emoji text.
_ESTIMATE = {
    "words": 1.01,
    "digits": 0.32,
    "digit runs": 0.52,
    "punct runs": 0.93,
    "newline runs": 0.47,
    "bare newline runs": 0.38,
    "space before digit": 1.04,
    "indent runs": 0.49,
    "humps": 2.09,
    "long word chars": 0.09,
    "space chars": 1.0,
    "latin runs": 1.29,
    "greek runs": 0.549,
    "cyrillic chars": 0.1,
    "arabic chars": 0.115,
    "arabic runs": 0.041,
    "thai chars": 0.28,
    "thai runs": 0.701,
    "hangul chars": 0.047,
    "hangul runs": 0.838,
    "kana chars": 0.471,
    "kana runs": 0.184,
    "han chars": 0.635,
    "han runs": 0.12,
    "greek excess": 0.257,
    "cyrillic excess": 0.073,
    "hebrew excess": 0.62,
    "indic excess": 0.418,
    "hangul excess": 0.348,
    "emoji chars": 1.207,
    "skin chars": 1.383,
    "skin runs": 0.696,
    "joiner chars": 1.37,
    "regional chars": 1.812,
    "math chars": 1.613,
    "box chars": 0.582,
    "box runs": 0.228,
    "cjk_punct chars": 0.411,
    "sym2 chars": 0.803,
    "latin_rare chars": 1.508,
    "mark chars": 1.468,
    "greek_rare chars": 2.125,
    "cyrillic_rare chars": 1.752,
    "hebrew_rare chars": 1.179,
    "arabic_rare chars": 1.244,
    "indic_rare chars": 2.748,
    "hangul_rare chars": 3.896,
    "han_rare chars": 2.499,
    "letter2 chars": 0.17,
    "letter3 chars": 1.567,
    "letter4 chars": 2.464,
    "selector chars": 2.821,
    "sym3 chars": 2.166,
    "sym4 chars": 3.726,
    "digit chars": 0.101,
}
# Upper bound: a linear program, the least mean ratio on English prose, code and data such that the bound is
# at least 1.1x the real count on every fitted sample (real text and random strings of every Unicode range).
_UPPER_BOUND: dict[str, float] = {
    "alternating letters": 0.508,
    "arabic chars": 0.069,
    "arabic excess": 0.385,
    "arabic_rare chars": 1.876,
    "arabic_rare runs": 0.398,
    "ascii punct": 0.825,
    "bare newline runs": 0.932,
    "blank runs": 0.452,
    "blanks in runs": 0.008,
    "box chars": 2.108,
    "capitals": 0.02,
    "cjk_punct chars": 0.919,
    "cjk_punct runs": 2.055,
    "consonant excess": 0.64,
    "controls": 2.187,
    "cyrillic chars": 0.169,
    "cyrillic excess": 0.044,
    "cyrillic runs": 1.005,
    "cyrillic_rare chars": 1.95,
    "cyrillic_rare runs": 0.947,
    "digit chars": 0.113,
    "digit groups": 1.096,
    "digit runs": 0.08,
    "doubled letters": 0.055,
    "doubled non-ascii": 2.017,
    "emoji chars": 2.942,
    "emoji runs": 0.037,
    "greek chars": 0.21,
    "greek excess": 0.396,
    "greek_rare chars": 1.192,
    "greek_rare runs": 4.176,
    "han chars": 0.989,
    "han runs": 0.085,
    "han_rare chars": 3.871,
    "han_rare runs": 0.603,
    "hangul chars": 1.716,
    "hangul excess": 0.79,
    "hangul runs": 1.657,
    "hangul_rare chars": 2.751,
    "hangul_rare runs": 0.622,
    "hebrew excess": 0.25,
    "hebrew runs": 0.911,
    "hebrew_rare chars": 1.176,
    "hebrew_rare runs": 1.103,
    "humps": 0.593,
    "indent runs": 0.718,
    "indic chars": 0.519,
    "indic excess": 0.705,
    "indic runs": 1.76,
    "indic_rare chars": 1.176,
    "indic_rare runs": 1.103,
    "joiner runs": 0.785,
    "kana chars": 1.232,
    "kana runs": 1.042,
    "latin chars": 0.708,
    "latin runs": 0.465,
    "latin_rare chars": 1.907,
    "latin_rare runs": 0.372,
    "letter a": 0.293,
    "letter b": 0.101,
    "letter c": 0.086,
    "letter e": 0.281,
    "letter f": 0.045,
    "letter g": 0.174,
    "letter h": 0.153,
    "letter i": 0.364,
    "letter j": 0.803,
    "letter k": 0.231,
    "letter l": 0.103,
    "letter m": 0.079,
    "letter o": 0.453,
    "letter p": 0.188,
    "letter q": 0.464,
    "letter t": 0.003,
    "letter u": 0.564,
    "letter v": 0.424,
    "letter w": 0.33,
    "letter x": 0.192,
    "letter y": 0.106,
    "letter z": 0.348,
    "letter2 chars": 2.0,
    "letter3 chars": 3.0,
    "letter4 chars": 4.0,
    "letter4 runs": 0.473,
    "long word chars": 0.104,
    "mark chars": 2.059,
    "mark runs": 0.221,
    "math chars": 2.979,
    "newlines": 0.067,
    "punct runs": 0.267,
    "punct3 chars": 1.776,
    "punct3 runs": 1.197,
    "regional chars": 2.2,
    "selector chars": 3.767,
    "selector runs": 1.406,
    "skin chars": 1.627,
    "skin runs": 1.346,
    "space before digit": 1.017,
    "space chars": 0.175,
    "space runs": 2.017,
    "spaced punct": 0.048,
    "sym2 chars": 2.0,
    "sym3 chars": 3.233,
    "sym3 runs": 0.841,
    "sym4 chars": 4.27,
    "sym4 runs": 0.904,
    "tabs": 0.06,
    "thai chars": 0.325,
    "thai runs": 3.677,
    "words": 1.014,
    "words after other": 0.242,
}
_SHORT_TEXT = 16
# the fit keeps 10% above every fitted sample; held-out random text came within 1% of the real count
_HELD_OUT_SLACK = 1.03
_UPPER_CONSTANT = 2.759


def _features(text: str, for_bound: bool) -> dict[str, float]:
    """The regex counts both models use (``for_bound`` adds the bound's own)."""
    codes = class_codes(text)
    words = _WORDS.findall(codes)
    digit_runs = _DIGIT_RUNS.findall(codes)
    found: dict[str, float] = {
        "words": len(words),
        "digits": sum(map(len, digit_runs)),
        "digit runs": len(digit_runs),
        "punct runs": len(_PUNCT_RUNS.findall(codes)),
        "space before digit": len(_SPACE_BEFORE_DIGIT.findall(codes)) if digit_runs else 0,
        "indent runs": len(_INDENT_RUNS.findall(codes)),
        "humps": len(_HUMPS.findall(codes)),
        "long word chars": sum(len(word) - _LONG_WORD for word in words if len(word) > _LONG_WORD),
    }
    if "\n" in codes:
        found["newline runs"] = len(_NEWLINE_RUNS.findall(codes))
        found["bare newline runs"] = len(_BARE_NEWLINE_RUNS.findall(codes))
        found["newlines"] = codes.count("\n")
    if codes is not text:
        _add_class_counts(codes, found)
    if for_bound:
        _add_bound_counts(text, codes, words, digit_runs, found)
    return found


def _add_class_counts(codes: str, found: dict[str, float]) -> None:
    """Characters and runs of each class and, for spaced scripts, the letters past a run's third."""
    for name in _CLASSES:
        if CODE[name] not in codes:
            continue
        runs = _RUN_PATTERNS[name].findall(codes)
        found[f"{name} chars"] = sum(map(len, runs))
        found[f"{name} runs"] = len(runs)
        if name in _SPACED_SCRIPTS:
            found[f"{name} excess"] = sum(len(run) - 3 for run in runs if len(run) > 3)


def _add_bound_counts(
    text: str, codes: str, words: list[str], digit_runs: list[str], found: dict[str, float]
) -> None:
    """The upper bound's extra counts: letters one by one, capitals, consonant clusters, digit groups, blanks."""
    other_words = " ".join(word for word in words if word not in ONE_TOKEN_WORDS)
    found["other words"] = other_words.count(" ") + 1 if other_words else 0
    lowered = other_words.lower()
    for letter in _LETTERS:
        found[f"letter {letter}"] = lowered.count(letter)
    found["capitals"] = len(_UPPER.findall(other_words))
    found["doubled letters"] = len(_DOUBLED.findall(lowered))
    found["alternating letters"] = len(_ALTERNATING.findall(lowered))
    found["consonant excess"] = sum(len(run) - 2 for run in _CONSONANT_CLUSTERS.findall(lowered))
    found["digit groups"] = sum((len(run) + 2) // 3 for run in digit_runs)
    found["ascii punct"] = len(_ASCII_PUNCT.findall(codes))
    blank_runs = _BLANK_RUNS.findall(codes)
    found["blank runs"] = len(blank_runs)
    found["blanks in runs"] = sum(map(len, blank_runs)) - len(blank_runs)
    found["controls"] = len(_CONTROLS.findall(codes))
    found["tabs"] = codes.count("\t")
    found["words after other"] = len(_WORDS_AFTER_OTHER.findall(codes))
    found["spaced punct"] = len(_SPACED_PUNCT.findall(codes))
    if codes is not text:
        found["doubled non-ascii"] = len(_DOUBLED_NON_ASCII.findall(text))


def _weighted(found: dict[str, float], weights: dict[str, float]) -> float:
    return sum(weights.get(name, 0.0) * count for name, count in found.items())


def estimate_tokens(text: str) -> int:
    """Estimate o200k_base tokens in ``text`` without a tokenizer (the best guess; see README for accuracy)."""
    if not text:
        return 0
    return max(1, int(_weighted(_features(text, False), _ESTIMATE) + 0.5))


def token_upper_bound(text: str) -> int:
    """A count that o200k_base's real one does not exceed (measured on real and adversarial text).

    Use it where a count guards a refusal or a budget. About 1.6x the real count on English prose and code
    (1.1-1.5x on data), 1.2-5x on other scripts and symbols, and never more than the UTF-8 length.
    """
    if not text:
        return 0
    utf8_length = len(text.encode("utf-8", "surrogatepass"))
    if len(text) <= _SHORT_TEXT:  # too short for the fitted margins to average out: no token is under a byte
        return utf8_length
    bound = _UPPER_CONSTANT + _weighted(_features(text, True), _UPPER_BOUND)
    return min(utf8_length, max(1, math.ceil(bound * _HELD_OUT_SLACK)))


# Models billed by 32x32-pixel patches (OpenAI vision docs), with their token multiplier; others use tiles.
_PATCH_MULTIPLIERS = {"o4-mini": 1.72, "gpt-4.1-mini": 1.62, "gpt-4.1-nano": 2.46}
_MAX_PATCHES = 1536


def estimate_image_tokens(width: int, height: int, model: str = "openai/o4-mini") -> int:
    """Estimate one image's input tokens: o4-mini's 32 px patch formula, else the 512 px tile formula."""
    if width <= 0 or height <= 0:
        return 0
    multiplier = _PATCH_MULTIPLIERS.get(model.rsplit("/", 1)[-1])
    if multiplier is None:
        return _tile_tokens(width, height)
    return math.ceil(_patches(width, height) * multiplier)


def _patches(width: int, height: int) -> int:
    """32x32 patches covering the image after OpenAI scales it down to at most 1,536 patches."""
    raw = math.ceil(width / 32) * math.ceil(height / 32)
    if raw <= _MAX_PATCHES:
        return raw
    shrink = math.sqrt(32 * 32 * _MAX_PATCHES / (width * height))
    w_patches, h_patches = width * shrink / 32, height * shrink / 32
    shrink *= min(math.floor(w_patches) / w_patches, math.floor(h_patches) / h_patches)
    return min(_MAX_PATCHES, math.ceil(width * shrink / 32) * math.ceil(height * shrink / 32))


def _tile_tokens(width: int, height: int) -> int:
    """GPT-4o-style high-detail cost: fit in 2048 px, shortest side 768 px, 170 per 512 px tile plus 85."""
    scale = min(1.0, 2048 / max(width, height))
    w, h = width * scale, height * scale
    scale = min(1.0, 768 / min(w, h))
    w, h = w * scale, h * scale
    return 85 + 170 * math.ceil(w / 512) * math.ceil(h / 512)


# The image a data URL cannot be read for counts as the largest one we send (images are downscaled to 1024 px).
_WORST_CASE_SIDE = 1024
_DATA_URL_PREFIX_CHARS = 2_000_000  # base64 characters decoded at most while looking for the size
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/]+")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_JPEG_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD9)})


def image_url_tokens(url: str, model: str = "openai/o4-mini") -> int:
    """Input tokens of one ``image_url`` part: the real size of a PNG or JPEG ``data:`` URL, else 1024x1024."""
    size = image_size_from_data_url(url)
    width, height = size if size else (_WORST_CASE_SIDE, _WORST_CASE_SIDE)
    return estimate_image_tokens(width, height, model)


def image_size_from_data_url(url: str) -> tuple[int, int] | None:
    """(width, height) from a base64 PNG (IHDR) or JPEG (SOFn) data URL; None for anything else or garbage."""
    if not isinstance(url, str) or not url[:5].lower() == "data:":
        return None
    header, comma, payload = url[: _DATA_URL_PREFIX_CHARS + 256].partition(",")
    if not comma or not header.lower().endswith(";base64"):
        return None
    data = _b64_prefix(payload)
    if data.startswith(_PNG_SIGNATURE) and data[12:16] == b"IHDR" and len(data) >= 24:
        size = struct.unpack(">II", data[16:24])
    elif data.startswith(b"\xff\xd8"):
        size = _jpeg_size(data)
    else:
        return None
    if size is None or not (0 < size[0] < 2**31 and 0 < size[1] < 2**31):
        return None
    return size


def _b64_prefix(payload: str) -> bytes:
    """Decode a base64 payload up to its padding, skipping characters outside the alphabet (linear time)."""
    text = _NOT_BASE64.sub("", payload.partition("=")[0].replace("-", "+").replace("_", "/"))
    try:
        return base64.b64decode(text[: len(text) - len(text) % 4])
    except (binascii.Error, ValueError):
        return b""


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Walk a JPEG's marker segments (each step moves forward) to the first start-of-frame: (width, height)."""
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in _JPEG_STANDALONE_MARKERS:
            position += 2
            continue
        if marker == 0xD9 or marker == 0xDA:  # end of image, or entropy-coded data before any frame header
            return None
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        if length < 2:
            return None
        if marker in _JPEG_SOF_MARKERS:
            if position + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return width, height
        position += 2 + length
    return None
