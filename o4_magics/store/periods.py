"""Spending caps and their periods: a notebook's cap covers all time, a user's or the team's a UTC day or month.

A period starts at 00:00 UTC (a day) or on the 1st at 00:00 UTC (a month), the same instant for every member
of a team wherever they are; the ledger's daily and monthly totals (``usage_rollup``) line up with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .times import to_timestamp

PERIODS = ("day", "month")
SCOPES = ("notebook", "user", "team")
#: Sorts after every ledger time (years 1 to 9999): the end of a period that would fall past year 9999.
END_OF_TIME = "9999-99-99T00:00:00.000000Z"


@dataclass(frozen=True)
class Cap:
    """One cap a call is checked against: whose spend (``scope``), how much, and since when.

    ``since``/``until`` are ledger time text (None: all time, the notebook's cap); ``period`` is "day",
    "month" or "" (all time).
    """

    scope: str
    usd: float
    since: str | None = None
    until: str | None = None
    period: str = ""


def period_bounds(period: str, now: datetime | None = None) -> tuple[str, str]:
    """The start and end (ledger time text) of the UTC day or month holding ``now``."""
    if period not in PERIODS:
        raise ValueError(f"budget period must be one of {PERIODS}, not {period!r}")
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    if period == "day":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        try:
            end = to_timestamp(start + timedelta(days=1))
        except OverflowError:
            end = END_OF_TIME
        return to_timestamp(start), end
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if start.month == 12:
        end = END_OF_TIME if start.year == 9999 else to_timestamp(start.replace(year=start.year + 1, month=1))
    else:
        end = to_timestamp(start.replace(month=start.month + 1))
    return to_timestamp(start), end


def budget_caps(
    notebook_usd: float | None,
    user_usd: float | None = None,
    team_usd: float | None = None,
    period: str = "month",
    now: datetime | None = None,
) -> list[Cap]:
    """The caps in force, in the order they are checked (notebook, user, team); empty when none is set."""
    caps = []
    if notebook_usd is not None:
        caps.append(Cap("notebook", float(notebook_usd)))
    if user_usd is not None or team_usd is not None:
        since, until = period_bounds(period, now)
        for scope, usd in (("user", user_usd), ("team", team_usd)):
            if usd is not None:
                caps.append(Cap(scope, float(usd), since, until, period))
    return caps
