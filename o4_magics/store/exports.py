"""The ledger's CSV export: UTF-8 with a byte-order mark, and no cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from typing import Any

from .rows import COLUMNS

#: A spreadsheet runs a text cell starting with one of these as a formula (OWASP: CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def write_csv(path: str | os.PathLike[str], found: Iterable[Sequence[Any]]) -> int:
    """Write ledger rows (``COLUMNS`` then ``id``) as CSV with a header, formula-safe; return how many."""
    count = 0
    with open(path, "w", newline="", encoding="utf-8-sig") as out:
        writer = csv.writer(out)
        writer.writerow((*COLUMNS, "id"))
        for values in found:
            writer.writerow([spreadsheet_safe(value) for value in values])
            count += 1
    return count


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell no spreadsheet runs as a formula: text starting with ``FORMULA_STARTS`` gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
