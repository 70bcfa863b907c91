"""What of a reply's HTML, links and images may reach the page: nothing that loads by itself or runs.

Raw HTML keeps only a small allow-list of tags, with no attributes at all (nh3, the ammonia sanitizer: a
real HTML5 parser, linear time); script/style/template... are dropped with their content. Links keep
http(s)/mailto/relative URLs; other schemes (javascript:, vbscript:, data:, file:...) make plain text. A
link whose text names another host gets the real host shown next to it. An image is shown only from an
allowed host, or as a small ``data:`` PNG/JPEG/GIF/WebP; otherwise it becomes a link the user can open.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

#: Tags raw HTML may keep (no attributes): text formatting, lists, tables, details.
ALLOWED_TAGS = frozenset(
    "b i em strong u s del ins mark small sub sup kbd code pre samp var tt br wbr hr p div span blockquote "
    "ul ol li dl dt dd table thead tbody tfoot tr th td caption h1 h2 h3 h4 h5 h6 details summary abbr q "
    "cite dfn figure figcaption".split()
)
VOID_TAGS = frozenset({"br", "wbr", "hr"})
#: Tags an inline HTML tag in a paragraph may keep: phrasing content only, never a tag that starts an HTML
#: block in CommonMark (a kept ``<div>`` at a line start would make the rest of the block raw HTML).
INLINE_TAGS = frozenset(
    "b i em strong u s del ins mark small sub sup kbd code samp var tt br wbr abbr q cite dfn span".split()
)
#: Tags removed together with everything inside them.
DROPPED_WITH_CONTENT = frozenset(
    "script style template noscript noembed noframes xmp iframe object embed textarea title select "
    "option math svg audio video frame frameset applet".split()
)
SAFE_SCHEMES = ("http", "https", "mailto")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/jpg", "image/gif", "image/webp")


#: Deeper HTML is shown as escaped text: html5ever's time grows with the square of the nesting depth.
MAX_DEPTH = 100
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())


def _nesting_depth(fragment: str) -> int:
    """The deepest tag nesting in ``fragment``, roughly (one linear pass over its "<"s)."""
    depth = deepest = 0
    position = fragment.find("<")
    while position != -1:
        following = fragment[position + 1 : position + 2]
        if following == "/":
            depth = max(0, depth - 1)
        elif following.isalpha():
            end = position + 1
            while end < len(fragment) and fragment[end].isalnum():
                end += 1
            if fragment[position + 1 : end].lower() not in _VOID:
                depth += 1
                deepest = max(deepest, depth)
        position = fragment.find("<", position + 1)
    return deepest


def safe_html(fragment: str) -> str:
    """``fragment`` reduced to ``ALLOWED_TAGS`` without attributes or comments (for our widgets' HTML too)."""
    import nh3

    if _nesting_depth(fragment) > MAX_DEPTH:
        import html

        return html.escape(fragment, quote=False)
    return nh3.clean(
        fragment,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={},
        strip_comments=True,
        link_rel=None,
        url_schemes=set(),
    )


def url_scheme(url: str) -> str:
    """The scheme of ``url`` as a browser would read it (control characters and spaces ignored), or ""."""
    cleaned = "".join(ch for ch in url[:64] if ch > " " and ch != "\x7f").lower()
    colon = cleaned.find(":")
    if colon <= 0 or any(sep in cleaned[:colon] for sep in "/?#"):
        return ""
    return cleaned[:colon]


def link_is_safe(url: str) -> bool:
    """http(s), mailto, or a relative URL / anchor; never javascript:, vbscript:, data:, file: and the like."""
    scheme = url_scheme(url)
    return scheme == "" or scheme in SAFE_SCHEMES


def url_host(url: str) -> str:
    """The host a URL goes to (lowercase, punycode as markdown-it normalized it), or "" for relative ones."""
    if url_scheme(url) == "mailto":
        return url.rpartition("@")[2].split("?")[0].lower()
    try:
        return (urlsplit(url.strip()).hostname or "").lower()
    except ValueError:
        return ""


def _hostlike(word: str) -> str:
    """The host named by one word of a link's text ("paypal.com", "https://x.org/a", "me@bank.com"), or ""."""
    word = word.strip("()[]<>\"'.,;:!?*_`").lower()
    if "://" in word:
        return url_host(word)
    word = word.rpartition("@")[2].split("/")[0]
    name, dot, tld = word.rpartition(".")
    if not dot or not name or not (2 <= len(tld) <= 24) or not tld.isalpha():
        return ""
    if not all(ch.isalnum() or ch in ".-" for ch in word):
        return ""
    try:
        return word.encode("idna").decode("ascii")
    except UnicodeError:
        return word


def _same_site(named: str, host: str) -> bool:
    named, host = named.removeprefix("www."), host.removeprefix("www.")
    return host == named or host.endswith("." + named)


def deceptive_host(text: str, url: str) -> str:
    """The real host to show next to a link whose text names a different one; "" when the text is honest."""
    host = url_host(url)
    named = [found for found in map(_hostlike, text.split()) if found]
    if not named or (host and all(_same_site(name, host) for name in named)):
        return ""
    return host or "local link"


def image_verdict(src: str, allowed_hosts: tuple[str, ...], data_max_bytes: int) -> str:
    """ "show" (an allowed host, or a small data: raster image), "link" (other http(s)) or "text"."""
    scheme = url_scheme(src)
    if scheme == "data":
        head, _, payload = src.partition(",")
        kind = head[5:].split(";")[0].strip().lower()
        size = len(payload) * 3 // 4 if ";base64" in head.lower() else len(payload)
        return "show" if kind in IMAGE_TYPES and size <= data_max_bytes else "text"
    if scheme not in ("http", "https"):
        return "text"
    return "show" if image_host_allowed(src, allowed_hosts) else "link"


def _allowed_entry(entry: str) -> tuple[str, int | None]:
    """``(host, port or None)`` of one ``allowed_image_hosts`` entry: "example.com", "127.0.0.1:8000",
    "[::1]:8000", or a URL ("https://example.com/"); ("", None) when it names no host."""
    text = entry.strip().lower()
    text = text.split("://", 1)[1] if "://" in text else text
    try:
        parts = urlsplit("//" + text)
        return parts.hostname or "", parts.port
    except ValueError:
        return "", None


def image_host_allowed(src: str, allowed_hosts: tuple[str, ...]) -> bool:
    """Whether an http(s) image URL goes to an allowed host: the entry's host or a subdomain of it, and, when
    the entry names a port ("127.0.0.1:8000"), that port only (an entry without a port allows any port)."""
    if "\\" in src or any(ch <= " " or ch == "\x7f" for ch in src):
        return False  # browsers read "\\" as "/" and drop tabs and newlines: the host they see could differ
    host = url_host(src)
    try:
        port = urlsplit(src.strip()).port or (443 if url_scheme(src) == "https" else 80)
    except ValueError:  # a port that is not a number: not an image we load
        return False
    if not host:
        return False
    for entry in allowed_hosts:
        name, only_port = _allowed_entry(entry)
        if name and (host == name or host.endswith("." + name)) and only_port in (None, port):
            return True
    return False


class _TagReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tag = ""
        self.closing = False
        self.attrs: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self.tag:
            self.tag, self.attrs = tag, {name: value or "" for name, value in attrs}

    def handle_endtag(self, tag: str) -> None:
        if not self.tag:
            self.tag, self.closing = tag, True


def read_tag(source: str) -> tuple[str, bool, dict[str, str]]:
    """``(name, is_closing, attributes)`` of one inline HTML tag (entities in values decoded); name "" if none."""
    reader = _TagReader()
    try:
        reader.feed(source)
        reader.close()
    except Exception:  # a malformed tag is simply not a tag we keep
        return "", False, {}
    return reader.tag.lower(), reader.closing, reader.attrs


def tag_name(source: str) -> tuple[str, bool]:
    """``(name in lowercase, is_closing)`` of an inline HTML tag's source, without parsing its attributes."""
    closing = source.startswith("</")
    start = 2 if closing else 1
    end = start
    while end < len(source) and (source[end].isalnum() or source[end] == "-"):
        end += 1
    return source[start:end].lower(), closing


def inline_tag(source: str) -> str:
    """One inline HTML tag from a reply, kept bare if allowed (``<b>``, ``</sub>``, ``<br>``), else ""."""
    name, closing = tag_name(source)
    if name not in INLINE_TAGS or (closing and name in VOID_TAGS):
        return ""
    return f"</{name}>" if closing else f"<{name}>"
