"""One credential redactor for everything sent, shown, cached or recorded: secrets become ``[redacted: <kind>]``.

Linear time: literal anchors found in one pass pick where a credential may start, and one combined pattern decides
there (no nested quantifiers; each unbounded run is a single class the next element cannot match). Streamed text
is redacted whole at each redraw, so a secret split over two calls is caught once both halves have arrived.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

KINDS: tuple[str, ...] = (
    "api key",  # the configured key(s): whole, or a cut piece keeping its first or last 12 characters
    "openrouter key",
    "openai key",
    "anthropic key",
    "aws access key id",
    "aws secret key",
    "github token",
    "slack token",
    "slack webhook",
    "huggingface token",
    "google api key",
    "stripe key",
    "jwt",
    "private key",
    "url password",
    "bearer token",
    "password",
    "token",
    "secret",
)

MIN_SECRET_CHARS = 8  # configured secrets shorter than this are ignored (they would match ordinary text)
# a cut piece of a configured secret that keeps this many of its first or last characters goes too
PIECE_CHARS = 12
#: ``redact_value`` remembers this many recent strings of MEMO_MIN_CHARS to MEMO_MAX_CHARS characters (a
#: request's system prompt and history recur on every call of a conversation).
MEMO_ENTRIES = 64
MEMO_MIN_CHARS = 200
MEMO_MAX_CHARS = 50_000
_RUN_CHARS = "A-Za-z0-9_-"  # the characters of a key-like token; a token starts where the previous one is not

# ---- the combined scan ------------------------------------------------------------------------------------------
# Each alternative starts with a literal or behind a "token start" lookbehind, so failing positions cost O(1); its
# unbounded parts are single classes followed by something outside the class (no backtracking into them pays more
# than one step per character); a rejected candidate resumes the scan right after its anchor.
_KEYWORDS = (
    r"(?P<pwkw>passw(?:or)?d|passphrase)(?P<tail>(?:[_0-9][a-z0-9_]{0,23})?)"
    r"|(?P<kw>secret[_-]?access[_-]?key|(?:api|secret|access|private|auth|client|signing|encryption|master)"
    r"[ _-]?key|apikey|secret|token)"
)
_VALUE = (
    r"(?:\"(?P<dq>(?:[^\"\\\n]|\\.){1,512})\""
    r"|'(?P<sq>(?:[^'\\\n]|\\.){1,512})'"
    r"|\\\"(?P<eq>[^\"\\\n]{1,512})\\\""  # \"value\" inside a JSON string
    r"|\"\"(?P<cq>[^\"\s\\]{1,512})"  # ""value"" in a CSV cell
    r"|(?P<oq>[\"'])(?P<ov>[^\"'\s\\]{8,512})"
    r"|(?P<uv>[^\s\"'`,;()\[\]{}<>&]{1,512}))"
)
_SCAN = re.compile(
    r"(?P<data>data:[A-Za-z0-9.+/-]{1,80};base64,[A-Za-z0-9+/=]*)"
    r"|(?P<pem>-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----)"
    r"|(?P<url>://[^\s:/@?#\"'<>]*:(?P<pw>[^\s/?#\"'<>…]+)(?:@|…))"
    r"|(?P<hook>hooks\.slack\.com/(?:services|workflows|triggers)/(?P<hookpath>[A-Za-z0-9_/-]{8,}))"
    rf"|(?<![{_RUN_CHARS}])(?:"
    rf"(?P<jwt>eyJ[{_RUN_CHARS}]{{10,}}\.eyJ[{_RUN_CHARS}]*(?:\.[{_RUN_CHARS}]*)?)"
    rf"|(?P<tok>(?:sk-|[sr]k_(?:live|test)_|gh[pousr]_|github_pat_|xox[abposr]-|xapp-|hf_|AIza|AKIA|ASIA)"
    rf"[{_RUN_CHARS}]+)"
    r"|(?P<bearer>(?i:bearer)[ \t]+(?P<bval>[A-Za-z0-9._~+/-]{12,}=*)))"
    rf"|(?P<label>(?i:{_KEYWORDS})(?P<q1>(?:\\?[\"']|\"\")?)\]?(?P<sp1>[ \t]{{0,8}})(?P<sep>[:=])(?P<sp2>[ \t]{{0,8}}){_VALUE})"
)

# Where a credential may start, found in an ASCII-lowered copy (same length) by literals only, which is many times
# faster than trying every branch of _SCAN at every position; _SCAN then decides at each anchor.
_TOKEN_ANCHORS = "eyj sk[-_] rk_ gh[pousr]_ github_pat_ xox xapp- hf_ aiza akia asia bearer".split()
_ANCHORS = re.compile(
    r"data:|-----begin|://|hooks\.slack\.com/|passw|passphrase|secret|access|api|private|auth|client|signing"
    r"|encryption|master|token|"
    # key prefixes count only where a token starts; the check sits after the first letter so that every branch
    # begins with a literal and the regex engine can skip all other characters fast
    + "|".join(f"{a[0]}(?<![a-z0-9_-]{a[0]}){a[1:]}" for a in _TOKEN_ANCHORS)
)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_PEM_GAP = re.compile(r"(?:[ \t\r\n]|\\[nrt])*")
_PEM_END = re.compile(r"-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----")
_PEM_CHUNK = re.compile(r"(?:Proc-Type|DEK-Info|Comment|Version|Hash):[^\n\\]{0,200}|[A-Za-z0-9+/=]+")
_RUN = re.compile(rf"[{_RUN_CHARS}]*")
_NAME_BACKWARDS = re.compile(r"[A-Za-z0-9_.-]{0,64}")
_JWT = re.compile(rf"eyJ[{_RUN_CHARS}]{{10,}}\.eyJ")
_PLAIN_WORDS = re.compile(r"[A-Za-z][a-z]*(?:[_-][a-z]+)*\.?")  # authentication, access_token.
_TEMPLATE = re.compile(r"%[sdr]|\{\w*\}")
_TEMPLATE_REST = re.compile(r"[A-Za-z :@/._-]*")  # what a format template may hold besides its fields
_SECRET_WORD = re.compile(r"(?i)(?:^|[_.])(?:pass(?:word|wd)?|pwd|token|secret|key)(?:$|[_\d])")
_IDENTIFIER_CHAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
# x-ed out, <your key>, [...], {...}, $VAR, %VAR% (and, below, a key prefix trailed by dots: sk-or-v1-...)
_PLACEHOLDER = re.compile(r"[xX*•._-]+|<.*>|\[.*\]|\{.*\}|\$\{?\w+\}?|%\w+%")
_WORDS = re.compile(r"[A-Za-z_ -]+")  # "your-api-key-here", "YOUR_TOKEN": placeholders when they say "your"
_NOT_SECRETS = frozenset(
    "none null nil true false undefined nan required optional changeme password passwd secret token "
    "example redacted str bytes int string any secretstr".split()
)

_Check = Callable[[str], bool]


_CLASS_TESTS = {"digit": str.isdigit, "upper": str.isupper, "lower": str.islower}


def _has(body: str, *classes: str) -> bool:
    """Whether ``body`` holds at least one character of each of ``classes`` ("digit", "upper", "lower")."""
    return all(any(map(_CLASS_TESTS[name], body)) for name in classes)


def _random_looking(min_len: int) -> _Check:
    """A body of at least ``min_len`` characters with a digit or a capital (so ``sk-proj-management`` is not)."""
    return lambda body: len(body) >= min_len and (_has(body, "digit") or _has(body, "upper"))


def _alnum_mixed(min_len: int, extra: str = "") -> _Check:
    """Only ASCII letters, digits (and ``extra``), at least ``min_len`` of them, with a digit or a capital."""
    allowed = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789" + extra)
    return lambda body: (
        len(body) >= min_len and allowed.issuperset(body) and (_has(body, "digit") or _has(body, "upper"))
    )


_SEGMENT = re.compile(r"[A-Za-z0-9]{12,}")


def _legacy_openai(body: str) -> bool:
    """``sk-`` + a segment of 12+ letters and digits mixing digits and letters, or cases (not ``sk-learn``)."""
    for segment in _SEGMENT.finditer(body):
        word = segment.group()
        if (_has(word, "digit") and not word.isdigit()) or _has(word, "upper", "lower"):
            return True
    return False


def _aws_key_id(body: str) -> bool:
    """AWS access key ids: 16 more capitals and digits (a cut one: 12 to 15, holding a digit)."""
    if not 12 <= len(body) <= 16 or not (body.isalnum() and body.upper() == body):
        return False
    return len(body) == 16 or _has(body, "digit")


def _slack(body: str) -> bool:
    return len(body) >= 12 and _has(body, "digit")


# (prefix, kind, test of what follows the prefix), longer prefixes before their own prefixes
_TOKEN_RULES: tuple[tuple[str, str, _Check], ...] = (
    ("sk-or-v1-", "openrouter key", _random_looking(8)),
    ("sk-or-", "openrouter key", _random_looking(16)),
    ("sk-ant-", "anthropic key", _random_looking(8)),
    ("sk-proj-", "openai key", _random_looking(8)),
    ("sk-svcacct-", "openai key", _random_looking(8)),
    ("sk-admin-", "openai key", _random_looking(8)),
    ("sk-None-", "openai key", _random_looking(8)),
    ("sk-", "openai key", _legacy_openai),
    *((p, "stripe key", _alnum_mixed(12)) for p in ("sk_live_", "sk_test_", "rk_live_", "rk_test_")),
    ("github_pat_", "github token", _alnum_mixed(12, "_")),
    *((p, "github token", _alnum_mixed(12)) for p in ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),
    *((p, "slack token", _slack) for p in ("xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxo-", "xapp-")),
    ("hf_", "huggingface token", _alnum_mixed(12)),
    ("AIza", "google api key", _random_looking(12)),
    ("AKIA", "aws access key id", _aws_key_id),
    ("ASIA", "aws access key id", _aws_key_id),
)


_RULE_BY_PREFIX = {prefix: (kind, check) for prefix, kind, check in _TOKEN_RULES}
# sk-or-v1-... is a placeholder; a value a preview cut (p0RLa!i8cB-…) is not
_PREFIX_DOTS = re.compile(
    "(?:" + "|".join(re.escape(prefix) for prefix in _RULE_BY_PREFIX) + r")?(?:\.\.\.|…)"
)
_TOKEN_PREFIX = re.compile("|".join(re.escape(prefix) for prefix, _, _ in _TOKEN_RULES))  # longest first


def _token_kind(token: str) -> str | None:
    """The kind of a key-shaped token (a whole run of key characters), or None."""
    prefix = _TOKEN_PREFIX.match(token)
    if prefix is None:
        return None
    kind, check = _RULE_BY_PREFIX[prefix.group()]
    return kind if check(token[prefix.end() :]) else None


def _shape_kind(value: str) -> str | None:
    """The kind of a key or JWT at the start of ``value`` (a labelled value or bearer credential), or None."""
    if _JWT.match(value):
        return "jwt"
    return _token_kind(_RUN.match(value).group())


def _marker(kind: str) -> str:
    return f"[redacted: {kind}]"


# A handler gets the text and the match; it returns where to resume and the span to redact (or None).
_Span = tuple[int, int, str]
_Result = tuple[int, "_Span | None"]


def _skip(text: str, match: re.Match[str]) -> _Result:
    """Base64 data URLs (images) pass untouched, and nothing inside them is scanned."""
    return match.end(), None


def _pem(text: str, match: re.Match[str]) -> _Result:
    """A private-key block: the header, its base64 lines (real or escaped newlines) and the END line if any.

    Without END the block ends where the base64-ish lines do; a header with no body at all is left alone.
    """
    pos, body = match.end(), 0
    while True:
        gap_end = _PEM_GAP.match(text, pos).end()
        end = _PEM_END.match(text, gap_end)
        if end:
            return end.end(), (match.start(), end.end(), "private key")
        chunk = _PEM_CHUNK.match(text, gap_end)
        if chunk is None or not _pem_piece_ok(text, pos, gap_end, chunk):
            break
        body += chunk.end() - chunk.start()
        pos = chunk.end()
    if body < 8:
        return match.end(), None
    return pos, (match.start(), pos, "private key")


def _pem_piece_ok(text: str, pos: int, gap_end: int, chunk: re.Match[str]) -> bool:
    """Long or padded base64 chunks belong to the block; a short one only when it starts a line and no word follows.

    So a last line cut short (``...\\nAbC'…``) is taken, and a question on the line after a cut block is not.
    """
    piece = chunk.group()
    if len(piece) >= 16 or piece.endswith("=") or ":" in piece:
        return True
    gap = text[pos:gap_end]
    starts_line = "\n" in gap or "\\n" in gap or "\\r" in gap
    return starts_line and text[chunk.end() : chunk.end() + 1] not in (" ", "\t")


def _url(text: str, match: re.Match[str]) -> _Result:
    """``scheme://user:password@host``: only the password goes (also when a preview cut it: ``user:pa…``)."""
    password = match.group("pw")
    if (match.group().endswith("…") and password.isdigit()) or "[redacted" in password:
        return match.end(), None  # host:8080… is a port; a marker is redacted already
    return match.end(), (match.start("pw"), match.end("pw"), "url password")


def _hook(text: str, match: re.Match[str]) -> _Result:
    """Slack webhook URLs keep their host and path kind; the secret path goes."""
    return match.end(), (match.start("hookpath"), match.end("hookpath"), "slack webhook")


def _jwt(text: str, match: re.Match[str]) -> _Result:
    return match.end(), (match.start(), match.end(), "jwt")


def _tok(text: str, match: re.Match[str]) -> _Result:
    kind = _token_kind(match.group())
    if kind is None:  # not key-shaped: rescan the rest of the run (a labelled name may hide in it)
        return match.start() + 2, None
    return match.end(), (match.start(), match.end(), kind)


def _bearer(text: str, match: re.Match[str]) -> _Result:
    """``Bearer <credential>``: 12+ characters that are not plain words ("bearer authentication.") go."""
    value = match.group("bval")
    kind = _shape_kind(value)
    if kind is None and not _PLAIN_WORDS.fullmatch(value):
        kind = "bearer token"
    if kind is None:
        return match.start("bval"), None
    return match.end(), (match.start("bval"), match.end(), kind)


def _label_kind(match: re.Match[str]) -> str:
    if match.group("pwkw"):
        return "password"
    keyword = match.group("kw").lower()
    if "access" in keyword and "secret" in keyword:
        return "aws secret key"
    return "token" if keyword == "token" else "secret"


def _label(text: str, match: re.Match[str]) -> _Result:
    """``NAME = value`` / ``"name": "value"`` where the name says secret; the value goes when it looks like one."""
    group = next(g for g in ("dq", "sq", "eq", "cq", "ov", "uv") if match.group(g) is not None)
    value, resume = match.group(group), match.start("sep")
    kind = _label_kind(match)
    if len(value) < (3 if kind == "password" else 8) or "-----BEGIN" in value or "[redacted" in value:
        return resume, None  # too short for a secret, a PEM block that _pem redacts whole, or done already
    if value.lower() in _NOT_SECRETS or _PLACEHOLDER.fullmatch(value) or _PREFIX_DOTS.fullmatch(value):
        return resume, None  # None, true, str, <your key>, ${VAR}, sk-or-v1-...
    keyword_start = match.start("pwkw") if match.group("pwkw") else match.start("kw")
    behind = text[max(0, keyword_start - 64) : keyword_start][::-1]
    name_start = keyword_start - _NAME_BACKWARDS.match(behind).end()
    before = text[name_start - 1] if name_start else ""
    opening = match.group("oq") or {"dq": '"', "sq": "'", "eq": '"', "cq": '"'}.get(group, "")
    if group == "cq" and not _csv_quoted(text, match, value):
        return resume, None  # PASSWORD_SAFE = "".join(...) is code, not a CSV-quoted value
    in_string = before and before in "\"'" and match.group("q1")[-1:] != before and opening == before
    if in_string and value[0] in " \t)],;}+.%":
        return resume, None  # input("Password: ") - the quote after the colon closes the string, code follows
    if kind == "token" and name_start == keyword_start:
        # a bare "token" is usually a tokenizer's (logprobs, vocabularies), not a credential
        return resume, None
    shaped = _shape_kind(value)
    name = text[name_start : match.start("q1")]
    if shaped is None and not _value_ok(text, match, group, value, kind, name):
        return resume, None
    start, end = match.span(group)
    return end, (start, end, shaped or kind)


def _csv_quoted(text: str, match: re.Match[str], value: str) -> bool:
    """``""value""`` in a CSV cell: after a ``""NAME""``, closed by ``""``, or cut by a preview (``…``)."""
    end = match.end("cq")
    return match.group("q1") == '""' or text[end : end + 2] == '""' or value.endswith("…")


def _value_ok(text: str, match: re.Match[str], group: str, value: str, kind: str, name: str) -> bool:
    """Whether a labelled value looks like a secret rather than code, a placeholder or a type."""
    if "your" in value.lower() and _WORDS.fullmatch(value):
        return False  # your-api-key-here
    if _TEMPLATE.search(value) and _TEMPLATE_REST.fullmatch(_TEMPLATE.sub("", value)):
        return False  # "%s:%s" % (USER, PASSWD), "Bearer {token}": fields and separators only
    if kind != "password" and any(char.isspace() for char in value):
        return False
    if group != "uv":
        return True
    if value.isdigit() and len(value) <= 8:
        return False  # a setting such as MAX_PASSWORD_LENGTH=128
    if not _IDENTIFIER_CHAIN.fullmatch(value):
        return True
    following = text[match.end() : match.end() + 1]
    if following in ("(", "[") or _SECRET_WORD.search(value):
        return False  # a call or subscript, or a variable such as password1 or api_key2: code
    if _has(value, "digit"):
        return True
    # A bare word: a secret in a dotenv line (NAME=word) or a YAML password line, else a variable in code.
    dotenv = (
        match.group("sep") == "="
        and not (match.group("q1") or match.group("sp1") or match.group("sp2"))
        and name.upper() == name
    )
    yaml_password = (
        kind == "password"
        and match.group("sep") == ":"
        and not match.group("q1")
        and value[0].islower()
        and "." not in value
        and following in ("", "\n", "\r")
    )
    return dotenv or yaml_password


_HANDLERS: dict[str, Callable[[str, re.Match[str]], _Result]] = {
    "data": _skip,
    "pem": _pem,
    "url": _url,
    "hook": _hook,
    "jwt": _jwt,
    "tok": _tok,
    "bearer": _bearer,
    "label": _label,
}


def _scan(text: str) -> tuple[str, int]:
    """Replace every credential the patterns find; (new text, how many were replaced)."""
    pieces: list[str] = []
    count = copied = pos = 0
    find, detail = _ANCHORS.search, _SCAN.match
    lowered = text.translate(_ASCII_LOWER)
    while (anchor := find(lowered, pos)) is not None:
        match = detail(text, anchor.start())
        if match is None:
            pos = anchor.start() + 1
            continue
        pos, span = _HANDLERS[match.lastgroup or ""](text, match)
        if span is not None:
            start, end, kind = span
            pieces += (text[copied:start], _marker(kind))
            copied = end
            count += 1
    if not count:
        return text, 0
    pieces.append(text[copied:])
    return "".join(pieces), count


def _common_prefix(left: str, right: str) -> int:
    for index, (a, b) in enumerate(zip(left, right, strict=False)):
        if a != b:
            return index
    return min(len(left), len(right))


def _cut_pieces(text: str, secret: str) -> tuple[str, int]:
    """Redact the pieces of ``secret`` in ``text`` that begin with its head or end with its tail."""
    head, tail, spans = secret[:PIECE_CHARS], secret[-PIECE_CHARS:], []
    at = text.find(head)
    while at != -1:
        end = at + _common_prefix(text[at : at + len(secret)], secret)
        spans.append((at, end))
        at = text.find(head, end)
    at = text.find(tail)
    while at != -1:
        end = at + PIECE_CHARS
        start = end - _common_prefix(text[max(0, end - len(secret)) : end][::-1], secret[::-1])
        spans.append((start, end))
        at = text.find(tail, end)
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    pieces, copied = [], 0
    for start, end in merged:
        pieces += (text[copied:start], _marker("api key"))
        copied = end
    pieces.append(text[copied:])
    return "".join(pieces), len(merged)


class Redactor:
    """Redacts the configured secrets (whole or cut) and anything shaped like a credential, in text and values."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        #: recent long texts and their redaction: a conversation's system prompt and history go out on every
        #: call, and each would be scanned again
        self._recent = lru_cache(maxsize=MEMO_ENTRIES)(self.redact)
        for secret in secrets:
            self.add_secret(secret)

    def add_secret(self, secret: str) -> None:
        """Always redact ``secret`` (surrounding whitespace stripped) as ``api key``; short ones are ignored."""
        secret = (secret or "").strip()
        if len(secret) >= MIN_SECRET_CHARS and secret not in self._secrets:
            self._secrets.append(secret)
            self._secrets.sort(key=len, reverse=True)  # a secret inside another one must not split it
            self._recent.cache_clear()

    def redact(self, text: str) -> tuple[str, int]:
        """``text`` with every credential replaced by ``[redacted: <kind>]``, and how many were replaced.

        A configured secret goes whole, and so does a piece of it that keeps its first or last
        ``PIECE_CHARS`` characters (a preview that cut it: ``sk-or-v1-3f9a…``).
        """
        count = 0
        for secret in self._secrets:
            found = text.count(secret)
            if found:
                text = text.replace(secret, _marker("api key"))
                count += found
        for secret in self._secrets:
            if len(secret) > PIECE_CHARS:
                text, found = _cut_pieces(text, secret)
                count += found
        text, found = _scan(text)
        return text, count + found

    def redact_value(self, value: Any) -> tuple[Any, int]:
        """A copy of ``value`` with every string in it (lists, tuples, dict keys and values) redacted.

        Other leaves are kept as they are; base64 data URLs (images in chat messages) pass untouched.
        """
        if isinstance(value, str):
            return self._recent(value) if MEMO_MIN_CHARS <= len(value) <= MEMO_MAX_CHARS else self.redact(value)
        if isinstance(value, dict):
            total, result = 0, {}
            for key, item in value.items():
                new_key, found_key = self.redact_value(key)
                new_item, found_item = self.redact_value(item)
                result[new_key] = new_item
                total += found_key + found_item
            return result, total
        if isinstance(value, (list, tuple)):
            pairs = [self.redact_value(item) for item in value]
            items = [item for item, _ in pairs]
            total = sum(found for _, found in pairs)
            if isinstance(value, list):
                return items, total
            return (type(value)._make(items) if hasattr(value, "_fields") else tuple(items)), total
        return value, 0

    def contains_secret(self, text: str) -> bool:
        """Whether ``redact`` would change ``text``."""
        return self.redact(text)[1] > 0


_DEFAULT = Redactor()


def redact(text: str, secrets: Iterable[str] = ()) -> tuple[str, int]:
    """``Redactor(secrets).redact(text)``: credentials in ``text`` become ``[redacted: <kind>]``; (text, count)."""
    secrets = tuple(secrets)
    return (Redactor(secrets) if secrets else _DEFAULT).redact(text)
