"""The ledger's time text: fixed-width ISO 8601 UTC, from year 1 to 9999, so text order is time order."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

#: Timestamps are stored as fixed-width ISO 8601 UTC text, so text order is time order.
TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
UTC_MIN = datetime.min.replace(tzinfo=timezone.utc)
UTC_MAX = datetime.max.replace(tzinfo=timezone.utc)


def to_timestamp(moment: str | date | float | None = None) -> str:
    """The ledger's time text for ``moment``: None (now), a datetime or date (naive: local), ISO text or epoch.

    Any valid ISO 8601 date or datetime is accepted, year 1 and year 9999 included: a time that falls outside
    datetime's range once moved to UTC is clamped to its first or last microsecond.  Text that is not a date
    raises ``ValueError`` (with datetime's reason, e.g. "month must be in 1..12").
    """
    if moment is None:
        moment = datetime.now(timezone.utc)
    elif isinstance(moment, str):
        moment = _parse_iso(moment)
    elif isinstance(moment, (int, float)) and not isinstance(moment, bool):
        moment = _from_epoch(float(moment))
    elif isinstance(moment, date) and not isinstance(moment, datetime):
        moment = datetime.combine(moment, datetime.min.time())
    elif not isinstance(moment, datetime):
        raise TypeError(f"not a time: {moment!r}")
    utc = _as_utc(moment)
    # by hand: strftime("%Y") writes year 1 as "1" on glibc, which would break text order
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"
        f".{utc.microsecond:06d}Z"
    )


def _parse_iso(text: str) -> datetime:
    text = text.strip()
    if text[-1:] in ("Z", "z"):  # Python 3.10's fromisoformat knows no "Z"
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


def _from_epoch(seconds: float) -> datetime:
    if seconds != seconds:
        raise ValueError("not a time: NaN")
    try:
        return datetime.fromtimestamp(seconds, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return UTC_MIN if seconds < 0 else UTC_MAX


def _as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; naive means local time.  Clamped to datetime's range instead of overflowing."""
    offset = moment.utcoffset()
    if offset is None:
        try:
            offset = moment.astimezone().utcoffset()
        except (OverflowError, OSError, ValueError):  # local time via the C library stops short of year 1
            offset = datetime.now().astimezone().utcoffset()
    offset = offset or timedelta(0)
    try:
        return (moment.replace(tzinfo=None) - offset).replace(tzinfo=timezone.utc)
    except OverflowError:
        return UTC_MIN if offset > timedelta(0) else UTC_MAX
