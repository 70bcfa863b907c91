"""Which ledger a session writes to: this machine's SQLite files, or a team's PostgreSQL database by URL.

A ledger URL may hold a password; ``LedgerURL`` keeps it out of every ``str()``, ``repr()`` and f-string
(only ``.secret`` gives the whole URL, to connect), and ``safe_ledger_url`` is the form messages show.
Nothing here imports psycopg.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import unquote, urlsplit

SCHEMES = ("postgresql", "postgres")
#: A password shorter than this is not searched for in messages (it would match ordinary words).
MIN_SCRUBBED_CHARS = 4


class LedgerURL(str):
    """A ledger URL whose password never shows: ``str()``, ``repr()`` and formatting give the safe form.

    ``.secret`` is the URL as given, for connecting; comparisons and hashing use it too.
    """

    __slots__ = ()

    def __new__(cls, value: str) -> LedgerURL:
        # str(value) would be the safe form of a LedgerURL: copy its secret instead
        return super().__new__(cls, value.secret if isinstance(value, LedgerURL) else value)

    @property
    def secret(self) -> str:
        return str.__str__(self)

    @property
    def safe(self) -> str:
        return safe_ledger_url(self.secret)

    def __str__(self) -> str:
        return self.safe

    def __repr__(self) -> str:
        return repr(self.safe)

    def __format__(self, spec: str) -> str:
        return format(self.safe, spec)


def _parts(url: str) -> Any:
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - reading it validates the port
    except ValueError:
        return None
    return parts


def safe_ledger_url(url: str) -> str:
    """``url`` as messages show it: scheme, user, host, port and database; never a password or the query."""
    parts = _parts(str.__str__(url) if isinstance(url, LedgerURL) else url)
    if parts is None or not parts.scheme:
        return "(a ledger URL that cannot be read)"
    user = unquote(parts.username or "")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    where = f"{host}:{parts.port}" if parts.port else host
    return f"{parts.scheme}://{user + '@' if user else ''}{where}{parts.path}"


def url_secrets(url: str) -> list[str]:
    """The password of ``url`` (as written and decoded, and any ``password=`` in its query), to scrub."""
    parts = _parts(str.__str__(url) if isinstance(url, LedgerURL) else url)
    if parts is None:
        return []
    found = []
    raw = parts.netloc.rpartition("@")[0].partition(":")[2] if "@" in parts.netloc else ""
    found += [raw, unquote(raw)]
    for pair in parts.query.split("&"):
        name, _, value = pair.partition("=")
        if name.lower() in ("password", "sslpassword"):
            found += [value, unquote(value)]
    return sorted({secret for secret in found if len(secret) >= MIN_SCRUBBED_CHARS}, key=len, reverse=True)


def scrub(text: str, url: str) -> str:
    """``text`` with the URL's password (in any form it was given) replaced by ``***``."""
    for secret in url_secrets(url):
        text = text.replace(secret, "***")
    return text


def check_ledger_url(url: str | None) -> LedgerURL | None:
    """The URL to use (None: the SQLite ledger), or ``ValueError`` saying, without the password, what is wrong."""
    text = (str.__str__(url) if isinstance(url, LedgerURL) else (url or "")).strip()
    if not text:
        return None
    parts = _parts(text)
    if parts is None or parts.scheme.lower() not in SCHEMES:
        raise ValueError(
            f"the ledger URL must look like postgresql://user@host:5432/database (or be empty for this "
            f"machine's SQLite ledger), not {safe_ledger_url(text)!r}"
        )
    return LedgerURL(text)


def target_id(url: str) -> str:
    """A short id of the database a URL names (not its password): what queued rows are waiting for."""
    return hashlib.sha256(safe_ledger_url(url).encode()).hexdigest()[:16]


def open_ledger(url: str | None = None, home: Any = None) -> Any:
    """This machine's ``Ledger`` (no URL), or a ``TeamLedger`` on the PostgreSQL database ``url`` names."""
    checked = check_ledger_url(url)
    if checked is None:
        from .ledger import Ledger

        return Ledger(home)
    from .postgres import TeamLedger

    return TeamLedger(checked, home)
