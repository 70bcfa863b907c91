"""Totals over many notebooks, users or months read from ``usage_rollup``, the ledger's daily and monthly sums.

A trigger adds every new usage row to two rollup rows (its UTC day and its UTC month, per user, notebook and
model), so "every notebook", ``--team`` and the user and team budgets read a few thousand sums instead of a
million rows.  A ``--since`` that is not on a day boundary is answered exactly: whole months, then whole days,
then the rows of the partial day.  The SQL is written once for SQLite and PostgreSQL (``Dialect``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from .periods import END_OF_TIME

TOKEN_COLUMNS = ("prompt_tokens", "cached_tokens", "completion_tokens", "reasoning_tokens")
#: The columns a rollup row sums (after ``calls``), in order.
SUMMED = (*TOKEN_COLUMNS, "cost_usd")
KEYS = ("user", "notebook", "model")
DAY_SUFFIX = "T00:00:00.000000Z"


@dataclass(frozen=True)
class Dialect:
    """What differs between SQLite and PostgreSQL in these queries: the parameter mark and typed sums."""

    name: str
    param: str

    def int_sum(self, column: str) -> str:
        cast = "::bigint" if self.name == "postgresql" else ""
        return f"COALESCE(SUM({column}), 0){cast}"

    def cost_sum(self, column: str) -> str:
        return f"TOTAL({column})" if self.name == "sqlite" else f"COALESCE(SUM({column}), 0)::float8"


SQLITE = Dialect("sqlite", "?")
POSTGRESQL = Dialect("postgresql", "%s")


def quoted(column: str) -> str:
    """A column name as SQL: ``user`` is a reserved word in PostgreSQL, so it is always quoted."""
    return '"user"' if column == "user" else column


def day_bucket(ts: str) -> str:
    return ts[:10] + DAY_SUFFIX


def month_bucket(ts: str) -> str:
    return ts[:7] + "-01" + DAY_SUFFIX


def _next_day(ts: str) -> str:
    try:
        return (date.fromisoformat(ts[:10]) + timedelta(days=1)).isoformat() + DAY_SUFFIX
    except (ValueError, OverflowError):
        return END_OF_TIME


def _next_month(ts: str) -> str:
    year, month = int(ts[:4]), int(ts[5:7])
    if (year, month) == (9999, 12):
        return END_OF_TIME
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return f"{year:04d}-{month:02d}-01{DAY_SUFFIX}"


def boundaries(since: str) -> tuple[str, str]:
    """The first day start and the first month start at or after ``since`` (ledger time text)."""
    day = since if since == day_bucket(since) else _next_day(since)
    month = since if since == month_bucket(since) else _next_month(since)
    return day, month


def grouped(
    dialect: Dialect,
    keys: Sequence[str] = (),
    since: str | None = None,
    user: str | None = None,
    order: str = "",
    last: bool = True,
) -> tuple[str, list[Any]]:
    """SQL and parameters for calls, token sums, cost (and the last call's time) per ``keys``.

    Rows: ``(*keys, calls, prompt, cached, completion, reasoning, cost_usd[, last_ts])``. ``since`` limits to
    calls from that time on, ``user`` to one user's calls; ``order`` is an ORDER BY clause over the output.
    """
    mark = dialect.param
    selected = "".join(f"{quoted(key)}, " for key in keys)
    summed = ", ".join(SUMMED)
    user_filter = f' AND "user" = {mark}' if user is not None else ""
    parts: list[tuple[str, list[Any]]] = []
    month_where, month_params = "span = 'month'", []
    if since is not None:
        day, month = boundaries(since)
        month_where += f" AND bucket >= {mark}"
        month_params.append(month)
    rollup = f"SELECT {selected}calls, {summed}, last_ts FROM usage_rollup WHERE "
    parts.append((rollup + month_where + user_filter, month_params))
    if since is not None:
        if day < month:
            parts.append(
                (
                    rollup + f"span = 'day' AND bucket >= {mark} AND bucket < {mark}" + user_filter,
                    [day, month],
                )
            )
        if since < day:
            tokens = ", ".join(TOKEN_COLUMNS)
            parts.append(
                (
                    f"SELECT {selected}1, {tokens}, COALESCE(cost_usd, 0), ts FROM usage "
                    f"WHERE ts >= {mark} AND ts < {mark}{user_filter}",
                    [since, day],
                )
            )
    params: list[Any] = []
    for _, part_params in parts:
        params.extend(part_params)
        if user is not None:
            params.append(user)
    sums = ", ".join(
        [
            dialect.int_sum("calls"),
            *(dialect.int_sum(name) for name in TOKEN_COLUMNS),
            dialect.cost_sum("cost_usd"),
        ]
    )
    last_ts = ", MAX(last_ts)" if last else ""
    union = " UNION ALL ".join(sql for sql, _ in parts)
    group = f" GROUP BY {', '.join(quoted(key) for key in keys)}" if keys else ""
    sql = f"SELECT {selected}{sums}{last_ts} FROM ({union}) AS parts{group}{(' ' + order) if order else ''}"
    return sql, params


def period_spent(dialect: Dialect, span: str, bucket: str, user: str | None = None) -> tuple[str, list[Any]]:
    """SQL and parameters for what was spent in one whole UTC day or month (by one user, or by everyone)."""
    mark = dialect.param
    sql = f"SELECT {dialect.cost_sum('cost_usd')} FROM usage_rollup WHERE span = {mark} AND bucket = {mark}"
    params: list[Any] = [span, bucket]
    if user is not None:
        sql += f' AND "user" = {mark}'
        params.append(user)
    return sql, params


def daily(
    dialect: Dialect, since: str, user: str | None = None, notebook: str | None = None
) -> tuple[str, list[Any]]:
    """SQL and parameters for calls and cost per UTC day from the day holding ``since`` on (by one user, in one
    notebook, or everyone's): rows ``(day bucket, calls, cost_usd)``, oldest first, from the rollup's key."""
    mark = dialect.param
    sql = (
        f"SELECT bucket, {dialect.int_sum('calls')}, {dialect.cost_sum('cost_usd')} FROM usage_rollup "
        f"WHERE span = 'day' AND bucket >= {mark}"
    )
    params: list[Any] = [day_bucket(since)]
    for column, value in (("user", user), ("notebook", notebook)):
        if value is not None:
            sql += f" AND {quoted(column)} = {mark}"
            params.append(value)
    return sql + " GROUP BY bucket ORDER BY bucket", params


def rows_as_dicts(
    found: Sequence[Sequence[Any]], keys: Sequence[str], last: bool = True
) -> list[dict[str, Any]]:
    """Rows from ``grouped`` as dicts: keys, ``calls``, the token sums, ``cost_usd`` and ``last_ts``."""
    names = (*keys, "calls", *SUMMED, *(("last_ts",) if last else ()))
    return [dict(zip(names, row, strict=True)) for row in found]
