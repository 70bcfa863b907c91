"""One call as the ledger keeps it (``UsageRow``), its columns and SQL, and a reservation's answer; shared by the
SQLite ledger and the team's PostgreSQL one."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .periods import Cap
from .rollup import quoted
from .times import to_timestamp
from .user import current_user

if TYPE_CHECKING:
    from .reserving import Judged

USAGE_FILE = "usage.sqlite"
CACHE_FILE = "cache.sqlite"
BUSY_TIMEOUT_S = 10.0
ERROR_MAX_CHARS = 2000

STATUSES = ("ok", "error", "incomplete", "interrupted", "cached", "refused")
COST_SOURCES = ("openrouter", "estimated", "cached")
SOURCES = ("magic", "explain", "chat", "ask", "agent")
TOKEN_COLUMNS = ("prompt_tokens", "cached_tokens", "completion_tokens", "reasoning_tokens")
INT_FIELDS = ("cell", *TOKEN_COLUMNS, "images")
FLOAT_FIELDS = ("cost_usd", "latency_s", "ttft_s")
NULLABLE_FIELDS = ("cell", "cost_usd", "latency_s", "ttft_s")

@dataclass
class Reservation:
    """The answer to ``Ledger.reserve``: granted or not, and the figures it was judged on (USD)."""

    granted: bool
    spent_usd: float
    held_usd: float
    amount_usd: float
    id: int | None = None
    #: the cap these figures are about: the one that refused the call, else the first checked
    cap: Cap | None = None
    #: where the money is held: "local" (this machine's SQLite ledger) or "team" (the shared database)
    store: str = "local"

class LedgerWarning(UserWarning):
    """The ledger or cache file could not be used; the call itself went on."""

@dataclass
class UsageRow:
    """One call as the ledger keeps it.  ``ts`` is filled in (UTC text) and ``id`` set by ``Ledger.record``."""

    notebook: str = ""
    cell: int | None = None
    thread: str = "main"
    model: str = ""
    provider: str = ""
    generation_id: str = ""
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    images: int = 0
    cost_usd: float | None = 0.0
    cost_source: str = "estimated"  # one of COST_SOURCES
    latency_s: float | None = None
    ttft_s: float | None = None
    status: str = "ok"  # one of STATUSES
    error: str = ""
    source: str = "magic"  # one of SOURCES
    #: who made the call (``JUPYTERHUB_USER``, else the login name); filled in when recorded
    user: str = ""
    #: the row's unique id (uuid4 hex), filled in when recorded: a team ledger keeps each row exactly once
    uid: str = ""
    ts: str | datetime | float | None = None
    id: int | None = None

COLUMNS = tuple(field.name for field in fields(UsageRow) if field.name != "id")
COLUMNS_SQL = ", ".join(quoted(name) for name in COLUMNS)
UID_INDEX = COLUMNS.index("uid")
INSERT_SQL = f"INSERT INTO usage ({COLUMNS_SQL}) VALUES ({', '.join('?' * len(COLUMNS))})"
SELECT_ROWS = f"SELECT {COLUMNS_SQL}, id FROM usage"
SUMS_SQL = ", ".join(f"COALESCE(SUM({name}), 0)" for name in TOKEN_COLUMNS) + ", TOTAL(cost_usd)"



def clean_row(row: UsageRow) -> None:
    """Give every field the plain type SQLite stores (numpy ints, Decimals...), so no row can fail to bind."""
    for name in COLUMNS:
        value = getattr(row, name)
        if name == "ts":
            value = to_timestamp(value)
        elif name in INT_FIELDS or name in FLOAT_FIELDS:
            kind = int if name in INT_FIELDS else float
            value = None if value is None and name in NULLABLE_FIELDS else kind(value or 0)
        else:
            value = "" if value is None else str(value)
        setattr(row, name, value)
    row.error = row.error[:ERROR_MAX_CHARS]
    if not row.user:
        row.user = current_user()
    if not row.uid:
        row.uid = uuid.uuid4().hex


def row_values(row: UsageRow) -> tuple[Any, ...]:
    """The row's column values; a missing uid (a row inserted without ``_clean``) is stored as NULL."""
    values = [getattr(row, name) for name in COLUMNS]
    values[UID_INDEX] = values[UID_INDEX] or None
    return tuple(values)




def where_sql(notebook: str | None, since: Any) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if notebook is not None:
        clauses.append("notebook = ?")
        params.append(notebook)
    if since is not None:
        clauses.append("ts >= ?")
        params.append(to_timestamp(since))
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params




def since_text(since: Any) -> str | None:
    return None if since is None else to_timestamp(since)


def brief(found: dict[str, Any], key: str) -> dict[str, Any]:
    """A per-notebook row as ``per_notebook`` answers it: the key, calls, cost and the last call's time."""
    return {
        key: found[key],
        "calls": found["calls"],
        "cost_usd": found["cost_usd"],
        "last_ts": found["last_ts"],
    }




def reservation_from(judged: Sequence[Judged], amount: float, row_id: int | None, store: str) -> Reservation:
    """The answer of a reservation from each cap's figures: the first refusing cap's, else the first cap's."""
    refused = next((found for found in judged if not found.fits), None)
    shown = refused or (judged[0] if judged else None)
    return Reservation(
        refused is None,
        shown.spent_usd if shown else 0.0,
        shown.held_usd if shown else 0.0,
        float(amount),
        row_id,
        cap=shown.cap if shown else None,
        store=store,
    )
