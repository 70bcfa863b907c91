"""The OpenRouter key's own credit (``GET /key``): what the key has spent, and what is left of its limit.

Fetched through the session's SDK client with a short timeout, at most once a minute, and again in the
background after calls when the key has a limit; kept per endpoint and key (under a hash: the key itself is
never kept here, shown or logged). A failed fetch never fails a call: the check is skipped, the
panel shows nothing, and the next try waits a minute.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ..errors import BudgetExceeded
from .money import format_usd

#: A fetched credit is used for this long; after each billed call it is fetched again in the background.
FRESH_S = 60.0
#: The longest a call waits for ``/key`` (connect and read) before it goes on without it.
FETCH_TIMEOUT_S = 3.0
KEYS_URL = "https://openrouter.ai/settings/keys"


@dataclass(frozen=True)
class KeyCredit:
    """The key's figures as ``/key`` gave them, less what this kernel's calls cost since (``usage_usd`` up,
    ``remaining_usd`` down)."""

    usage_usd: float
    limit_usd: float | None
    remaining_usd: float | None
    is_free_tier: bool = False

    @property
    def has_limit(self) -> bool:
        return self.limit_usd is not None

    def line(self) -> str:
        """What the panel says: ``OpenRouter key: $1.20 spent, $3.80 left of its $5.00 limit``; "" without a
        limit (nothing extra is shown)."""
        if self.limit_usd is None or self.remaining_usd is None:
            return ""
        return (
            f"OpenRouter key: {format_usd(self.usage_usd)} spent, {format_usd(max(self.remaining_usd, 0.0))} left "
            f"of its {format_usd(self.limit_usd)} limit"
        )


def credit_from(payload: Any) -> KeyCredit | None:
    """A ``KeyCredit`` from ``/key``'s JSON (``{"data": {...}}``), or None if it is not that shape."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        return None

    def number(name: str) -> float | None:
        value = data.get(name)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    usage, limit, remaining = number("usage") or 0.0, number("limit"), number("limit_remaining")
    if limit is not None and remaining is None:
        remaining = limit - usage
    if limit is None:
        remaining = None
    return KeyCredit(usage, limit, remaining, data.get("is_free_tier") is True)


@dataclass
class _Entry:
    credit: KeyCredit | None = None
    #: monotonic time of the last fetch that ended (succeeded or not); 0: never
    checked_at: float = 0.0
    #: what this notebook had spent (the ledger) when the figures were fetched
    spent_at_fetch: float = 0.0
    fetching: bool = False
    again: bool = False
    #: new figures the watchers have not been told about (told when no further fetch is due)
    untold: bool = False


class CreditTracker:
    """One session's view of its keys' credit; ``credit_for(session)`` makes and finds it.

    Between fetches the figures are brought forward by what this notebook spent since (from the ledger), and a
    call made since the last fetch starts a new one in the background: the figures are fetched after each call.
    """

    def __init__(self, session: Any) -> None:
        self._session = session
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], _Entry] = {}
        #: fetches started (tests and figures), background ones included
        self.fetches = 0
        #: called (no arguments) when a fetch brought new figures: the usage panels redraw
        self.watchers: list[Callable[[], None]] = []

    def _where(self) -> tuple[tuple[str, str], str] | None:
        key = self._session.api_key()
        if not key:
            return None
        try:
            base_url = self._session.base_url()
        except Exception:  # an unusable base URL: the call itself says so
            return None
        return (base_url, hashlib.sha256(key.encode()).hexdigest()[:16]), key

    def _entry(self, where: tuple[str, str]) -> _Entry:
        with self._lock:
            return self._entries.setdefault(where, _Entry())

    def _spent(self) -> float:
        try:
            return float(self._session.spent())
        except Exception:  # a ledger that cannot be read: the figures as fetched
            return 0.0

    def current(self, max_age: float | None = None, wait: bool | None = True) -> KeyCredit | None:
        """The key's credit: the figures fetched within ``max_age`` seconds (``FRESH_S``), else fetched now (at most
        ``FETCH_TIMEOUT_S``; ``wait=False`` fetches in the background instead, ``wait=None`` waits only for a key
        never looked at), else the last known; None when unknown (no key, no ``/key`` on this server, a failed
        fetch)."""
        found = self._where()
        if found is None:
            return None
        where, key = found
        entry = self._entry(where)
        if wait is None:
            wait = entry.checked_at == 0
        fetched = False
        max_age = FRESH_S if max_age is None else max_age
        if time.monotonic() - entry.checked_at >= max_age and not entry.fetching:
            if wait:
                self._fetch(where, key, entry)
                fetched = True
            else:
                self._start(where, key, entry)
        with self._lock:
            credit, base = entry.credit, entry.spent_at_fetch
        if credit is None or not credit.has_limit:
            return credit
        since = max(0.0, self._spent() - base)
        if since > 0 and not fetched:
            self._start(where, key, entry)  # calls were made since the last fetch: fetch again
        if since <= 0:
            return credit
        remaining = None if credit.remaining_usd is None else credit.remaining_usd - since
        return replace(credit, usage_usd=credit.usage_usd + since, remaining_usd=remaining)

    def _start(self, where: tuple[str, str], key: str, entry: _Entry) -> None:
        """Fetch in a background thread (once more after a running fetch, if one is running)."""
        with self._lock:
            if entry.fetching:
                entry.again = True
                return
        threading.Thread(
            target=self._fetch, args=(where, key, entry), name="o4-key-credit", daemon=True
        ).start()

    def _fetch(self, where: tuple[str, str], key: str, entry: _Entry) -> None:
        with self._lock:
            if entry.fetching:
                return
            entry.fetching, entry.again = True, False
            self.fetches += 1
        credit = None
        try:
            spent = self._spent()  # before asking: a call billed meanwhile is counted twice, never missed
            credit = fetch_credit(self._session, key, where[0])
        finally:
            with self._lock:
                entry.fetching = False
                entry.checked_at = time.monotonic()
                if credit is not None:
                    entry.untold |= (credit, spent) != (entry.credit, entry.spent_at_fetch)
                    entry.credit, entry.spent_at_fetch = credit, spent
                again = entry.again
                tell, entry.untold = entry.untold and not again, entry.untold and again
        if again:
            self._start(where, key, entry)
        elif tell:
            for watcher in list(self.watchers):
                try:
                    watcher()
                except Exception:  # a broken panel must not break the fetch
                    pass


def fetch_credit(session: Any, key: str, base_url: str, timeout: float | None = None) -> KeyCredit | None:
    """``GET {base_url}/key`` through the session's SDK client (the client for ``base_url``, which is the
    session's), waiting at most ``timeout`` (``FETCH_TIMEOUT_S``); None on any failure (never raises)."""
    timeout = FETCH_TIMEOUT_S if timeout is None else timeout
    try:
        client = session.client(key)
        payload = client.get("/key", cast_to=object, options={"timeout": timeout, "max_retries": 0})
    except Exception:
        return None
    return credit_from(payload)


def credit_for(session: Any) -> CreditTracker:
    """The session's ``CreditTracker`` (made on first use)."""
    tracker = session.__dict__.get("_o4_credit")
    if tracker is None:
        tracker = session.__dict__.setdefault("_o4_credit", CreditTracker(session))
    return tracker


def check_key_credit(session: Any, model: str, prompt_tokens: int, max_tokens: int | None) -> None:
    """Refuse (``BudgetExceeded``, with the figures) a call whose worst case is more than the key has left.

    Only a key never looked at is looked at before the call (at most ``FETCH_TIMEOUT_S``; in a kernel the
    warm-up has done it); older figures, brought forward by what this notebook spent since, are used while
    fresh ones are fetched in the background, so a call never waits a round trip to ``/key`` for them."""
    credit = credit_for(session).current(wait=None)
    if credit is None or credit.remaining_usd is None or credit.limit_usd is None:
        return
    from .budget import worst_case

    worst = worst_case(model, prompt_tokens, max_tokens, session.known_prices(model))
    if worst.usd <= credit.remaining_usd:
        return
    cap_note = (
        "--max-tokens"
        if worst.capped
        else f"no --max-tokens, so {worst.output_tokens:,} output tokens assumed"
    )
    left = max(credit.remaining_usd, 0.0)
    raise BudgetExceeded(
        f"Key credit: this call could cost up to {format_usd(worst.usd)} (~{worst.prompt_tokens:,} input tokens, "
        f"{cap_note}) and the OpenRouter key has {format_usd(left)} left of its {format_usd(credit.limit_usd)} "
        f"limit ({format_usd(credit.usage_usd)} spent); nothing was sent.",
        hint=f"Set a lower --max-tokens, or raise the key's limit at {KEYS_URL}.",
    )
