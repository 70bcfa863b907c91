"""The API base URL: checked before any request (one clear message, never an httpx traceback), shown safely.

A URL with ``user:password@`` is refused: httpx would send Basic auth instead of the Bearer key, and the
password would show in footers, ledger rows and reprs.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ..errors import ConfigError

_WHERE = "O4Magics.base_url (or $OPENROUTER_BASE_URL)"


def _without_userinfo(netloc: str) -> str:
    return netloc.rpartition("@")[2]


def display_host(url: str) -> str:
    """The host (and port) of ``url`` for messages and footers; never a user name or password."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return "the configured server"
    return _without_userinfo(parts.netloc) or "the configured server"


def safe_url(url: str) -> str:
    """``url`` with any ``user:password@`` removed, for display."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return "(an invalid URL)"
    return parts._replace(netloc=_without_userinfo(parts.netloc)).geturl()


def check_base_url(url: str) -> str:
    """The base URL to send to, trimmed; a ``ConfigError`` saying what is wrong if it cannot be used."""
    url = url.strip().rstrip("/")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise ConfigError(
            f"The base URL in {_WHERE} contains spaces or control characters; nothing was sent.",
            hint="Set it to a URL such as https://openrouter.ai/api/v1.",
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading it validates the port
    except ValueError as exc:
        raise ConfigError(
            f"The base URL in {_WHERE} is not a valid URL ({exc}); nothing was sent.",
            hint="Set it to a URL such as https://openrouter.ai/api/v1.",
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"The base URL in {_WHERE} must start with http:// or https:// and name a host, not "
            f"{safe_url(url)!r}; nothing was sent.",
            hint="Set it to a URL such as https://openrouter.ai/api/v1.",
        )
    if "@" in parts.netloc:
        raise ConfigError(
            f"The base URL in {_WHERE} holds a user name or password ({parts.scheme}://…@"
            f"{_without_userinfo(parts.netloc)}); they would be sent instead of the API key. Nothing was sent.",
            hint="Remove the user:password@ part; the API key authenticates (OPENROUTER_API_KEY or %o4_key).",
        )
    return url
