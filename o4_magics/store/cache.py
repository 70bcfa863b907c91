"""The response cache: keys (sha256 of a request's canonical JSON) and the ledger's ``cache.sqlite`` methods."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .sqlite import db_errors
from .times import to_timestamp

CACHE_FILE = "cache.sqlite"


def cache_key(request: dict[str, Any]) -> str:
    """sha256 of the request's canonical JSON (keys sorted, bytes by digest): same request, same key.

    Pass only what decides the reply (model, messages with their image data, sampling options).
    """
    canonical = json.dumps(
        request, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_jsonable
    )
    return hashlib.sha256(f"o4-cache-v1\n{canonical}".encode()).hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"bytes_sha256": hashlib.sha256(value).hexdigest()}
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=lambda item: json.dumps(item, sort_keys=True, default=_jsonable))
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cache_key cannot encode {type(value).__name__}")




class ResponseCache:
    """The ledger's cache methods (mixed into ``Ledger``): replies stored under their request's key."""

    def cache_get(self, key: str) -> dict[str, Any] | None:
        """The reply stored under ``key``, or None (also when the cache file cannot be used)."""
        with self._lock:
            try:
                db = self._db(CACHE_FILE)
                found = db.execute("SELECT payload FROM cache WHERE key = ?", (key,)).fetchone()
            except db_errors() as exc:
                self._fail(CACHE_FILE, exc, "replies are not cached")
                return None
            if found is None:
                return None
            try:  # bookkeeping only: a read-only cache still answers
                db.execute(
                    "UPDATE cache SET hits = hits + 1, used_ts = ? WHERE key = ?", (to_timestamp(), key)
                )
            except db_errors():
                pass
        try:
            return json.loads(found[0])
        except ValueError:
            return None

    def cache_put(self, key: str, payload: dict[str, Any]) -> None:
        """Store a reply (a JSON-able dict) under ``key``, replacing any older one."""
        text = json.dumps(payload, ensure_ascii=False)
        now = to_timestamp()
        with self._lock:
            try:
                self._db(CACHE_FILE).execute(
                    "INSERT OR REPLACE INTO cache (key, payload, created_ts, used_ts, hits) VALUES (?, ?, ?, ?, 0)",
                    (key, text, now, now),
                )
            except db_errors() as exc:
                self._fail(CACHE_FILE, exc, "replies are not cached")

    def cache_clear(self) -> int:
        """Delete every cached reply; return how many there were."""
        with self._lock:
            try:
                return self._db(CACHE_FILE).execute("DELETE FROM cache").rowcount
            except db_errors() as exc:
                self._fail(CACHE_FILE, exc, "nothing was cleared")
                return 0
