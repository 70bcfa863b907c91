"""A real PostgreSQL server for the team ledger's tests: ``initdb`` into a temporary directory, on a free port.

The server runs as an unprivileged user (``postgres`` through ``runuser`` when the tests run as root), listens
on 127.0.0.1 only, keeps its socket in its own directory, and is stopped and deleted at the end.  Where
PostgreSQL, ``runuser`` or psycopg is missing, the tests that need it are skipped with the reason.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

#: The role the tests connect as, with a password (scram-sha-256 over TCP), like a team's shared account.
ROLE = "o4team"
SERVER_USER = "postgres"


def find_binary(name: str) -> str | None:
    """``name`` (initdb, pg_ctl) on PATH, else in the newest ``/usr/lib/postgresql/*/bin`` (Debian's layout)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    return candidates[-1] if candidates else None


def why_not_available() -> str | None:
    """The reason a PostgreSQL server cannot be started here, or None when it can."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install 'o4-magics[team]' or the test extra)"
    for name in ("initdb", "pg_ctl"):
        if find_binary(name) is None:
            return (
                f"PostgreSQL's {name} was not found on PATH or in /usr/lib/postgresql/*/bin "
                "(apt-get install postgresql)"
            )
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "running as root, and runuser (util-linux) is missing to start PostgreSQL as another user"
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root, and there is no {SERVER_USER!r} user to start PostgreSQL as"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    """One throwaway PostgreSQL cluster: ``start()``, ``stop()``, ``start()`` again (same data, same port)."""

    def __init__(self) -> None:
        self.password = secrets.token_urlsafe(18)
        self.port = free_port()
        # as root the server's user must reach it: /tmp, not a private $TMPDIR (the socket path stays short too)
        self.root = Path(tempfile.mkdtemp(prefix="o4-pg-", dir="/tmp" if os.geteuid() == 0 else None))
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.log = self.root / "server.log"
        self.sockets.mkdir()
        self._as_root = os.geteuid() == 0
        if self._as_root:
            owner = pwd.getpwnam(SERVER_USER)
            for path in (self.root, self.sockets):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        self.root.chmod(0o755)  # root (the tests) reaches the socket directory inside
        self._databases = 0
        self._initdb()

    # -- running the server's programs as its user -------------------------------------------------------
    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        argv = list(command)
        if self._as_root:
            argv = ["runuser", "-u", SERVER_USER, "--", *argv]
        return subprocess.run(argv, capture_output=True, text=True, check=check, cwd=self.root, timeout=120)

    def _initdb(self) -> None:
        pwfile = self.root / "superuser.pw"
        pwfile.write_text(self.password + "\n")
        if self._as_root:
            owner = pwd.getpwnam(SERVER_USER)
            os.chown(pwfile, owner.pw_uid, owner.pw_gid)
        pwfile.chmod(0o600)
        self._run(
            find_binary("initdb") or "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--pwfile",
            str(pwfile),
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        )
        pwfile.unlink()

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60 -c shared_buffers=128MB"
        )
        done = self._run(
            find_binary("pg_ctl") or "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start: {done.stdout}{done.stderr}\n{self.log_tail()}")

    def stop(self, mode: str = "fast") -> None:
        self._run(
            find_binary("pg_ctl") or "pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False
        )

    def running(self) -> bool:
        return (
            self._run(
                find_binary("pg_ctl") or "pg_ctl", "-D", str(self.data), "status", check=False
            ).returncode
            == 0
        )

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def remove(self) -> None:
        if self.data.exists():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    # -- the tests' role and databases -------------------------------------------------------------------
    def admin(self, dbname: str = "postgres"):
        """A superuser connection through the server's own socket (trust), in autocommit mode."""
        import psycopg

        return psycopg.connect(
            host=str(self.sockets), port=self.port, user="postgres", dbname=dbname, autocommit=True
        )

    def create_role(self) -> None:
        with self.admin() as db:
            db.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{self.password}'")

    def create_database(self, name: str | None = None) -> str:
        """A fresh database owned by the tests' role; return its URL (with the password)."""
        self._databases += 1
        name = name or f"team_{self._databases}"
        with self.admin() as db:
            db.execute(f"CREATE DATABASE {name} OWNER {ROLE}")
        return self.url(name)

    def url(self, dbname: str) -> str:
        return f"postgresql://{ROLE}:{self.password}@127.0.0.1:{self.port}/{dbname}"


def start_server() -> PostgresServer:
    """A started server with the tests' role, or a skip saying why there cannot be one."""
    reason = why_not_available()
    if reason is not None:
        pytest.skip(f"team ledger tests need a PostgreSQL server: {reason}")
    server = PostgresServer()
    try:
        server.start()
        server.create_role()
    except BaseException:
        server.remove()
        raise
    return server


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole test session (started on first use)."""
    server = start_server()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
def team_url(pg_server: PostgresServer) -> str:
    """The URL of a fresh, empty database on the session's server (password included)."""
    if not pg_server.running():
        pg_server.start()
    return pg_server.create_database()
