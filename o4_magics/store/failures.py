"""Why a ledger or cache file cannot be used, and what to do about it: the words of a ``LedgerWarning``.

The cause is read from the error (errno, SQLite's error name or message) and from the files themselves.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

#: SQLite's primary error names (Python 3.11+ ``sqlite_errorname``) and, for older Pythons, their messages.
SQLITE_CAUSES = {
    "SQLITE_READONLY": "read_only",
    "SQLITE_CANTOPEN": "cannot_open",
    "SQLITE_PERM": "read_only",
    "SQLITE_FULL": "disk_full",
    "SQLITE_BUSY": "locked",
    "SQLITE_LOCKED": "locked",
    "SQLITE_NOTADB": "corrupt",
    "SQLITE_CORRUPT": "corrupt",
}
MESSAGE_CAUSES = {
    "readonly database": "read_only",
    "unable to open database file": "cannot_open",
    "database or disk is full": "disk_full",
    "database is locked": "locked",
    "database table is locked": "locked",
    "file is not a database": "corrupt",
    "database disk image is malformed": "corrupt",
}
ERRNO_CAUSES = {
    errno.EACCES: "read_only",
    errno.EPERM: "read_only",
    errno.EROFS: "read_only_fs",
    errno.ENOSPC: "disk_full",
    errno.EDQUOT: "disk_full",
}


@dataclass
class Failure:
    """What went wrong with a file (``cause`` is one word) and the sentences a user reads about it."""

    cause: str
    reason: str
    remedy: str


def explain_failure(exc: BaseException, path: Path, home: Path, busy_timeout_s: float) -> Failure:
    """Name the cause of ``exc`` (raised using ``path`` under ``home``) and say what to do about it.

    Causes: ``home_is_a_file``, ``is_a_directory``, ``read_only_fs``, ``read_only``, ``disk_full``, ``locked``,
    ``corrupt``, or ``other``.
    """
    blocker = _file_in_the_way(home)
    if blocker is not None:
        return Failure(
            "home_is_a_file",
            f"{blocker} is a file, not a directory",
            "Move that file away, or set O4_MAGICS_HOME to a directory.",
        )
    if path.is_dir():
        return Failure(
            "is_a_directory",
            f"{path} is a directory, not a database file",
            "Move it aside (rename it) and a new file is started.",
        )
    cause = _cause_of(exc)
    if cause in ("read_only", "cannot_open", "read_only_fs") and _on_read_only_fs(home):
        cause = "read_only_fs"
    elif cause == "cannot_open" and _not_writable(path, home) is not None:
        cause = "read_only"
    return _DESCRIBE.get(cause, _other)(exc, path, home, busy_timeout_s)


def _cause_of(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno in ERRNO_CAUSES:
        return ERRNO_CAUSES[exc.errno]
    name = getattr(exc, "sqlite_errorname", "") or ""
    primary = "_".join(name.split("_")[:2])  # SQLITE_BUSY_SNAPSHOT -> SQLITE_BUSY
    if primary in SQLITE_CAUSES:
        return SQLITE_CAUSES[primary]
    text = str(exc).lower()
    return next((cause for words, cause in MESSAGE_CAUSES.items() if words in text), "other")


def _file_in_the_way(home: Path) -> Path | None:
    """``home`` or one of its parents when it exists as something other than a directory."""
    for candidate in (home, *home.parents):
        if candidate.exists():
            return None if candidate.is_dir() else candidate
    return None


def _existing(path: Path) -> Path:
    return next((candidate for candidate in (path, *path.parents) if candidate.exists()), Path("/"))


def _on_read_only_fs(home: Path) -> bool:
    try:
        return bool(os.statvfs(_existing(home)).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # no statvfs (Windows)
        return False


def _not_writable(path: Path, home: Path) -> Path | None:
    """The file or directory this user may not write, if any (the database, else its directory)."""
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return path
    directory = _existing(home)
    if not os.access(directory, os.W_OK | os.X_OK):
        return directory
    return None


def _read_only(exc: BaseException, path: Path, home: Path, busy_timeout_s: float) -> Failure:
    blocker = _not_writable(path, home)
    if blocker is None:
        what = f"{path} is read-only"
    else:
        kind = "directory" if blocker.is_dir() else "file"
        what = f"the {kind} {blocker} is read-only for this user"
    return Failure(
        "read_only",
        f"{what} (permission denied)",
        f"Make it writable (chmod u+rw {path}; chmod u+rwx {home}), or set O4_MAGICS_HOME to a writable "
        "directory.",
    )


def _read_only_fs(exc: BaseException, path: Path, home: Path, busy_timeout_s: float) -> Failure:
    return Failure(
        "read_only_fs",
        f"{home} is on a read-only file system",
        "Set O4_MAGICS_HOME to a directory on a writable disk.",
    )


def _disk_full(exc: BaseException, path: Path, home: Path, busy_timeout_s: float) -> Failure:
    return Failure(
        "disk_full",
        f"the disk holding {home} is full",
        "Free some space on it, or set O4_MAGICS_HOME to a directory on another disk.",
    )


def _locked(exc: BaseException, path: Path, home: Path, busy_timeout_s: float) -> Failure:
    return Failure(
        "locked",
        f"another process kept it locked for over {busy_timeout_s:g} s",
        "It is tried again at the next call; if this lasts, close or restart the other kernels or programs "
        "using it.",
    )


def _corrupt(exc: BaseException, path: Path, home: Path, busy_timeout_s: float) -> Failure:
    return Failure(
        "corrupt",
        f"the file is damaged ({exc})",
        f"Move it aside (e.g. rename it to {path.name}.damaged) and a new one is started.",
    )


def _other(exc: BaseException, path: Path, home: Path, busy_timeout_s: float) -> Failure:
    return Failure(
        "other",
        str(exc) or type(exc).__name__,
        "Check the file and its directory, or set O4_MAGICS_HOME to another directory.",
    )


_DESCRIBE = {
    "read_only": _read_only,
    "read_only_fs": _read_only_fs,
    "disk_full": _disk_full,
    "locked": _locked,
    "corrupt": _corrupt,
}
