"""Per-kernel state shared by every front end: settings, the key, threads, SDK clients, ledger, listeners."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

from ..errors import MissingKeyError
from .client import ClientConfig, ClientPool
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
        self.pool = ClientPool()
        self._api_key: str | None = None
        self._ledger: Any = None
        self._catalog: tuple[dict, dict] | None = None
        self.listeners: list[Callable[[Any], None]] = []

    def __repr__(self) -> str:
        return f"<o4_magics Session base_url={self.settings.resolved_base_url()!r} threads={self.threads.names()}>"

    # -- the key ---------------------------------------------------------------------------------------
    def set_api_key(self, key: str | None) -> None:
        """Keep ``key`` in memory only (``%o4_key``); it wins over $OPENROUTER_API_KEY."""
        self._api_key = key.strip() if key else None

    def api_key(self) -> str | None:
        return self._api_key or os.environ.get("OPENROUTER_API_KEY") or None

    def require_key(self) -> str:
        key = self.api_key()
        if not key:
            raise MissingKeyError(
                "No OpenRouter API key is set, so nothing was sent.",
                hint="Set OPENROUTER_API_KEY in the environment that starts Jupyter, or run %o4_key to enter one.",
            )
        return key

    def secrets(self) -> list[str]:
        """Strings that must never be shown (the key in use), for scrubbing messages."""
        key = self.api_key()
        return [key] if key else []

    def scrub(self, text: str) -> str:
        for secret in self.secrets():
            if secret and secret in text:
                text = text.replace(secret, mask_key(secret))
        return text

    # -- the SDK client --------------------------------------------------------------------------------
    def client(self, key: str) -> Any:
        settings = self.settings
        config = ClientConfig(
            base_url=settings.resolved_base_url(),
            api_key=key,
            timeout=float(settings.timeout),
            max_retries=int(settings.max_retries),
        )
        return self.pool.get(config)

    # -- prices and context lengths ---------------------------------------------------------------------
    def _model_catalog(self, model: str) -> tuple[dict, dict]:
        """/models, only for a model the built-in table lacks: fetched once, kept a day in O4_MAGICS_HOME."""
        from ..accounting.prices import BUILTIN_PRICES, fetch_model_catalog, load_catalog, save_catalog
        from ..store.ledger import default_home

        if self._catalog is None and model not in BUILTIN_PRICES:
            base_url = self.settings.resolved_base_url()
            saved_path = default_home() / "models.json"
            self._catalog = load_catalog(saved_path, base_url) or ({}, {})
            if not self._catalog[0]:
                try:
                    client = self.client(self.api_key() or "no-key").with_options(max_retries=0, timeout=5.0)
                    self._catalog = fetch_model_catalog(client)
                    save_catalog(saved_path, base_url, *self._catalog)
                except Exception:  # offline: built-in prices (o4-mini's for unknown models) are the fallback
                    pass
        return self._catalog or ({}, {})

    def known_prices(self, model: str) -> dict:
        """Prices known for ``model`` beyond the built-in table (for ``pricing.prices_for``)."""
        return self._model_catalog(model)[0]

    def context_length(self, model: str) -> int | None:
        from ..accounting.prices import BUILTIN_CONTEXT

        return BUILTIN_CONTEXT.get(model) or self._model_catalog(model)[1].get(model)

    # -- the ledger and listeners ------------------------------------------------------------------------
    @property
    def ledger(self) -> Any:
        if self._ledger is None:
            from ..store.ledger import Ledger

            self._ledger = Ledger()
        return self._ledger

    def notebook(self) -> str:
        from ..store.identity import notebook_identity

        return notebook_identity(self.shell)

    def record(self, row: Any) -> None:
        """Write one usage row to the ledger and tell the listeners (usage panels); never fails the call."""
        try:
            self.ledger.record(row)
        except Exception as exc:  # the ledger warns and keeps rows itself; this is the last safety net
            warnings.warn(f"o4: could not write the usage ledger ({type(exc).__name__}: {exc})", stacklevel=2)
        for listener in list(self.listeners):
            try:
                listener(row)
            except Exception:  # a broken panel must not break a call
                pass
