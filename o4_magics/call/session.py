"""Per-kernel state shared by every front end: settings, the key, its redactor, threads, SDK clients, ledger."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

from ..errors import ConfigError, MissingKeyError
from .settings import O4Settings
from .threads import ThreadStore


def mask_key(key: str) -> str:
    """A recognisable but harmless form of a key: ``sk-or-v1-…a1b2``."""
    return f"{key[:8]}…{key[-4:]}" if len(key) > 16 else "***"


class Session:
    """Everything one notebook's calls share. The magics, the chat widget and ``ask()`` all use one."""

    def __init__(self, settings: O4Settings | None = None, shell: Any = None) -> None:
        self.settings = settings if settings is not None else O4Settings()
        self.shell = shell
        self.threads = ThreadStore()
        self._pool: Any = None
        self._api_key: str | None = None
        self._ledger: Any = None
        self._ledger_url: str | None = None
        self._catalog: Any = None
        self._redactor_for: str | None = None
        self._redactor: Any = None
        #: called with each recorded row (usage panels, chats); each entry removes itself when its widget closes
        self.listeners: list[Callable[[Any], None]] = []

    def __repr__(self) -> str:
        from .endpoint import safe_url

        url = safe_url(self.settings.resolved_base_url())
        return f"<o4_magics Session base_url={url!r} threads={self.threads.names()}>"

    # -- the key ---------------------------------------------------------------------------------------
    def set_api_key(self, key: str | None) -> None:
        """Keep ``key`` in memory only (``%o4_key``); it wins over $OPENROUTER_API_KEY."""
        self._api_key = key.strip() if key and key.strip() else None

    def api_key(self) -> str | None:
        key = self._api_key or os.environ.get("OPENROUTER_API_KEY", "").strip()
        return key or None

    def require_key(self) -> str:
        key = self.api_key()
        if not key:
            raise MissingKeyError(
                "No OpenRouter API key is set, so nothing was sent.",
                hint="Set OPENROUTER_API_KEY in the environment that starts Jupyter, or run %o4_key to enter one.",
            )
        if any(ch.isspace() for ch in key) or not key.isascii() or not key.isprintable():
            raise ConfigError(
                "The OpenRouter API key is malformed (it holds spaces, line breaks or other characters a key "
                "never has); nothing was sent.",
                hint="Copy the key again from https://openrouter.ai/settings/keys, or enter it with %o4_key.",
            )
        return key

    @property
    def redactor(self) -> Any:
        """The redactor for this session's key (rebuilt when the key changes) and credential-shaped values."""
        from ..redact import Redactor

        key = self.api_key() or ""
        if key != self._redactor_for or self._redactor is None:
            self._redactor = Redactor([key] if key else [])
            self._redactor_for = key
        return self._redactor

    def scrub(self, text: str) -> str:
        """``text`` with the key and credential-shaped values redacted."""
        return self.redactor.redact(text)[0]

    # -- the endpoint and the SDK client ---------------------------------------------------------------
    def base_url(self) -> str:
        """The checked base URL (a ``ConfigError`` if it cannot be used)."""
        from .endpoint import check_base_url

        return check_base_url(self.settings.resolved_base_url())

    @property
    def pool(self) -> Any:
        """The SDK clients, one per configuration (made on first use)."""
        if self._pool is None:
            from .client import ClientPool

            self._pool = ClientPool()
        return self._pool

    def client(self, key: str) -> Any:
        from .client import ClientConfig

        config = ClientConfig(base_url=self.base_url(), api_key=key, timeout=float(self.settings.timeout))
        return self.pool.get(config)

    # -- prices and context lengths ---------------------------------------------------------------------
    @property
    def catalog(self) -> Any:
        if self._catalog is None:
            from ..accounting.catalog import ModelCatalog
            from ..store.home import default_home

            self._catalog = ModelCatalog(
                base_url=self.settings.resolved_base_url,
                client=lambda: self.client(self.api_key() or "no-key"),
                home=default_home,
            )
        return self._catalog

    def known_prices(self, model: str) -> dict:
        """Prices known for ``model`` beyond the built-in table (for ``prices.prices_for``)."""
        return self.catalog.known_prices(model)

    def context_length(self, model: str) -> int | None:
        return self.catalog.context_length(model)

    # -- the ledger and listeners ------------------------------------------------------------------------
    @property
    def ledger(self) -> Any:
        """This machine's SQLite ledger, or the team's on PostgreSQL when a ledger URL is set (reopened when
        the URL changes)."""
        url = self.settings.resolved_ledger_url()
        if self._ledger is None or url != self._ledger_url:
            from ..store.backend import open_ledger

            old, self._ledger_url = self._ledger, url
            try:
                self._ledger = open_ledger(url)
            except ValueError as exc:  # $O4_MAGICS_LEDGER_URL is not a PostgreSQL URL
                from ..store.ledger import LedgerWarning

                warnings.warn(
                    f"o4: O4_MAGICS_LEDGER_URL: {exc}; this machine's ledger is used.",
                    LedgerWarning,
                    stacklevel=3,
                )
                self._ledger = open_ledger(None)
            if old is not None:
                old.close()
        return self._ledger

    def notebook(self) -> str:
        from ..store.identity import notebook_identity

        return notebook_identity(self.shell)

    def record(self, row: Any) -> None:
        """Write one usage row to the ledger and tell the listeners (usage panels); never fails the call."""
        try:
            self.ledger.record(row)
        except Exception as exc:  # the ledger warns and keeps rows itself; this is the last safety net
            warnings.warn(f"o4: could not write the usage ledger ({type(exc).__name__})", stacklevel=2)
        self.record_listeners(row)

    def record_listeners(self, row: Any) -> None:
        """Tell the listeners (usage panels, chats) about a row already written."""
        for listener in list(self.listeners):
            try:
                listener(row)
            except Exception:  # a broken panel must not break a call
                pass

    def spent(self) -> float:
        """What this notebook has spent so far, from the ledger."""
        return float(self.ledger.totals(notebook=self.notebook())["cost_usd"] or 0.0)
