"""Prices and context lengths of models beyond the built-in table: OpenRouter's ``/models``, fetched once and
kept a day in ``O4_MAGICS_HOME``; offline, o4-mini's built-in prices are the stated fallback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .prices import BUILTIN_CONTEXT, BUILTIN_PRICES, Prices, fetch_model_catalog, load_catalog, save_catalog


class ModelCatalog:
    """Lazily fetched ``/models`` data for one endpoint; ``client()`` gives an SDK client to fetch with."""

    def __init__(self, base_url: Callable[[], str], client: Callable[[], Any], home: Callable[[], Path]) -> None:
        self._base_url = base_url
        self._client = client
        self._home = home
        self._data: tuple[dict[str, Prices], dict[str, int]] | None = None

    def _load(self, model: str) -> tuple[dict[str, Prices], dict[str, int]]:
        if self._data is None and model not in BUILTIN_PRICES:
            base_url = self._base_url()
            saved_path = self._home() / "models.json"
            self._data = load_catalog(saved_path, base_url) or ({}, {})
            if not self._data[0]:
                try:
                    self._data = fetch_model_catalog(self._client().with_options(max_retries=0, timeout=5.0))
                    save_catalog(saved_path, base_url, *self._data)
                except Exception:  # offline: built-in prices (o4-mini's for unknown models) are the fallback
                    pass
        return self._data or ({}, {})

    def known_prices(self, model: str) -> dict[str, Prices]:
        """Prices known for ``model`` beyond the built-in table (for ``prices.prices_for``)."""
        return self._load(model)[0]

    def context_length(self, model: str) -> int | None:
        return BUILTIN_CONTEXT.get(model) or self._load(model)[1].get(model)
