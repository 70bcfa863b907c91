"""Many writers on one ledger: two kernels and a chat (1,000 calls, no row lost), and budget reservations from
threads and processes against one cap (never a cent past it, killed kernels included)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from datetime import datetime, timezone

import pytest

from o4_magics.store.ledger import USAGE_FILE, Ledger, LedgerWarning, UsageRow, to_timestamp

KERNEL = textwrap.dedent(
    """
    import sys, threading
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    from traitlets.config import Config
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    shell.run_line_magic("load_ext", "o4_magics")
    magics_calls, chat_calls = int(sys.argv[1]), int(sys.argv[2])

    def chat_loop():
        from o4_magics.widgets.chat import ChatWidget
        magics = next(c for c in shell.configurables if type(c).__name__ == "O4Magics")
        chat = ChatWidget(magics.session, thread="chat", user_ns={})
        for index in range(chat_calls):
            chat.send(f"chat {index}")
            assert chat.wait(30)

    worker = threading.Thread(target=chat_loop)
    worker.start()
    for index in range(magics_calls):
        with capture_output():
            shell.run_cell(f"%o4 -n -t t{index % 5} kernel call {index}")
    worker.join()
    """
)


@pytest.mark.timeout(300)
def test_two_kernels_and_a_chat_lose_no_row(keyed_env, o4_home):
    kernels = [
        subprocess.Popen(
            [sys.executable, "-c", KERNEL, "400", "200"], env={**os.environ, "JPY_SESSION_NAME": "a.ipynb"}
        ),
        subprocess.Popen(
            [sys.executable, "-c", KERNEL, "400", "0"], env={**os.environ, "JPY_SESSION_NAME": "b.ipynb"}
        ),
    ]
    assert [kernel.wait(280) for kernel in kernels] == [0, 0]
    ledger = Ledger(o4_home)
    assert ledger.totals()["calls"] == 1000 == len(keyed_env.chat_requests)
    by_notebook = {row["notebook"]: row["calls"] for row in ledger.per_notebook()}
    assert by_notebook == {"a.ipynb": 600, "b.ipynb": 400}
    assert ledger.totals()["cost_usd"] == pytest.approx(
        sum(g["total_cost"] for g in keyed_env.generations.values())
    )


# -- reservations: the budget's hold on money for calls in flight -------------------------------------------------

#: Binary fractions, so every sum is exact: exactly 80 calls fit under the cap.
AMOUNT, CAP, FIT = 0.125, 10.0, 80

SPENDER = textwrap.dedent(
    """
    import json, random, sys, threading, time
    from pathlib import Path
    from o4_magics.store.ledger import Ledger, UsageRow

    AMOUNT, CAP = 0.125, 10.0

    def spend_until_full(ledger, notebook, granted, seed):
        rnd = random.Random(seed)
        while True:
            held = ledger.reserve(notebook, AMOUNT, CAP, ttl_s=120)
            if not held.granted:
                if held.spent_usd + AMOUNT > CAP:  # what was spent leaves no room: the cap is reached
                    return
                time.sleep(0.001)  # calls in flight hold the rest; they may finish below their worst case
                continue
            if held.spent_usd + held.held_usd + AMOUNT > CAP:
                raise AssertionError(f"granted past the cap: {held}")
            granted.append(held.id)
            time.sleep(rnd.random() * 0.002)  # the call is in flight
            ledger.release(held, UsageRow(notebook=notebook, model="m", cost_usd=AMOUNT))

    def run(threads, notebook, shared=None):
        granted, errors = [], []
        def work(index):
            try:
                spend_until_full(shared or Ledger(), notebook, granted, index)
            except BaseException as exc:
                errors.append(repr(exc))
        workers = [threading.Thread(target=work, args=(index,)) for index in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return granted, errors

    if __name__ == "__main__":
        import warnings
        from o4_magics.store.ledger import LedgerWarning
        warnings.simplefilter("error", LedgerWarning)  # a fallback to memory would hold within this process only
        go = Path(sys.argv[1])
        while not go.exists():
            time.sleep(0.002)
        granted, errors = run(int(sys.argv[2]), sys.argv[3])
        print(json.dumps({"granted": len(granted), "errors": errors}))
    """
)


def spender_module():
    """SPENDER as a module, so the threads in this process run the very code the processes run."""
    namespace: dict = {"__name__": "spender"}
    exec(compile(SPENDER, "spender", "exec"), namespace)
    return namespace


def reservations_left(home) -> list[tuple]:
    with sqlite3.connect(home / USAGE_FILE) as db:
        return db.execute("SELECT id, notebook, amount_usd, expires_ts FROM reservations").fetchall()


def test_eight_threads_never_pass_the_cap_together(o4_home):
    spender = spender_module()
    results: list = []
    shared = Ledger()  # four threads share one connection; four open their own
    groups = [
        threading.Thread(target=lambda: results.append(spender["run"](4, "nb.ipynb", shared))),
        threading.Thread(target=lambda: results.append(spender["run"](4, "nb.ipynb"))),
    ]
    for group in groups:
        group.start()
    for group in groups:
        group.join()
    granted = [held for found, _ in results for held in found]
    assert [errors for _, errors in results] == [[], []]
    assert len(granted) == FIT and len(set(granted)) == FIT
    totals = Ledger().totals("nb.ipynb")
    assert totals["calls"] == FIT and totals["cost_usd"] == CAP  # never a cent past the cap
    assert reservations_left(o4_home) == []  # every hold settled


@pytest.mark.timeout(120)
def test_two_processes_never_pass_the_cap_together(o4_home, tmp_path):
    go = tmp_path / "go"
    spenders = [
        subprocess.Popen(
            [sys.executable, "-c", SPENDER, str(go), "3", "shared.ipynb"],
            env={**os.environ, "O4_MAGICS_HOME": str(o4_home)},
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    time.sleep(0.5)  # both wait on the go file, so they start together
    go.touch()
    results = [json.loads(spender.communicate(timeout=100)[0]) for spender in spenders]
    assert [result["errors"] for result in results] == [[], []]
    assert sum(result["granted"] for result in results) == FIT
    assert all(result["granted"] > 0 for result in results)  # both took part
    totals = Ledger().totals("shared.ipynb")
    assert totals["calls"] == FIT and totals["cost_usd"] == CAP
    assert reservations_left(o4_home) == []


HOLDER = textwrap.dedent(
    """
    import sys, time
    from o4_magics.store.ledger import Ledger
    held = Ledger().reserve("nb.ipynb", 6.0, 10.0, ttl_s=float(sys.argv[1]))
    print(held.granted, flush=True)
    time.sleep(600)  # a call in flight, until the kernel is killed
    """
)


def test_an_expired_reservation_of_a_killed_kernel_holds_no_money(o4_home):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, "2"],
        env={**os.environ, "O4_MAGICS_HOME": str(o4_home)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "True"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    ((_, _, amount, expires),) = reservations_left(o4_home)
    assert amount == 6.0
    ledger = Ledger()
    refused = ledger.reserve("nb.ipynb", 6.0, 10.0, ttl_s=60)
    if to_timestamp() < expires:  # (a very slow machine may already be past the ttl here)
        assert not refused.granted and refused.held_usd == 6.0
    while to_timestamp() <= expires:
        time.sleep(0.05)
    granted = ledger.reserve("nb.ipynb", 6.0, 10.0, ttl_s=60)
    assert granted.granted and granted.held_usd == 0.0
    assert [row[0] for row in reservations_left(o4_home)] == [granted.id]  # the dead kernel's hold is gone


LOCK_PROBE = textwrap.dedent(
    """
    import sqlite3, sys
    db = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        print(exc)
    else:
        print("took the write lock")
    """
)


def test_opening_the_ledger_keeps_the_locks_another_thread_of_this_process_holds(o4_home, monkeypatch):
    """Two threads of one kernel open a fresh ledger at once, and the second looked before the first made the
    file.  Closing any descriptor of a file drops every POSIX lock the process holds on it, so if the second
    made the file too, the first thread's lock was gone while it set the file up; two kernels then each kept
    their own WAL index and each spent the whole cap (80 + 80 calls under a cap of 80, in 1 run in 20)."""
    from pathlib import Path

    from o4_magics.store.schema import USAGE_MIGRATIONS, open_database

    o4_home.mkdir(mode=0o700)
    path = o4_home / USAGE_FILE
    first = sqlite3.connect(path, isolation_level=None)  # the first thread, setting the new file up
    first.execute("BEGIN EXCLUSIVE")
    exists = Path.exists
    monkeypatch.setattr(Path, "exists", lambda self: False if self == path else exists(self))  # a stale look
    opened: list = []
    second = threading.Thread(target=lambda: opened.append(open_database(path, USAGE_MIGRATIONS, 30.0)))
    second.start()  # waits for the first thread's lock
    time.sleep(0.5)
    probe = subprocess.run([sys.executable, "-c", LOCK_PROBE, str(path)], capture_output=True, text=True)
    first.execute("COMMIT")
    second.join(30)
    monkeypatch.undo()
    assert probe.stdout.strip() == "database is locked"  # another kernel still waits for the first thread
    assert len(opened) == 1
    opened[0].close()
    first.close()


def test_release_writes_the_row_and_drops_the_hold_in_one_transaction(o4_home):
    ledger = Ledger()
    held = ledger.reserve("nb.ipynb", 1.0, 10.0, ttl_s=60)
    db = ledger._db(USAGE_FILE)
    statements: list[str] = []
    db.set_trace_callback(statements.append)
    row_id = ledger.release(held, UsageRow(notebook="nb.ipynb", cost_usd=0.25))
    db.set_trace_callback(None)
    # the rollup trigger's statements are traced under the text of the INSERT that fired them
    statements = [sql for index, sql in enumerate(statements) if index == 0 or sql != statements[index - 1]]
    assert [sql.split()[0] for sql in statements] == ["BEGIN", "DELETE", "INSERT", "COMMIT"]
    assert statements[1] == f"DELETE FROM reservations WHERE id = {held.id}"
    assert statements[2].startswith("INSERT INTO usage")
    assert row_id > 0 and reservations_left(o4_home) == []
    assert Ledger().totals("nb.ipynb")["cost_usd"] == 0.25


def test_a_call_settling_after_its_hold_expired_leaves_newer_holds_alone(o4_home):
    ledger = Ledger()
    late = ledger.reserve("nb.ipynb", 4.0, 10.0, ttl_s=0.05)  # a call that runs past its ttl
    time.sleep(0.1)
    newer = ledger.reserve("nb.ipynb", 6.0, 10.0, ttl_s=60)  # clears the expired hold, takes its place
    assert newer.granted and newer.held_usd == 0.0 and newer.id != late.id
    ledger.release(late, UsageRow(notebook="nb.ipynb", cost_usd=4.0))  # the late call settles at last
    assert [row[0] for row in reservations_left(o4_home)] == [newer.id]
    assert not ledger.reserve("nb.ipynb", 0.5, 10.0, ttl_s=60).granted  # 4 spent + 6 held: nothing left


SETTLER = textwrap.dedent(
    """
    import sys
    from o4_magics.store.ledger import Ledger, UsageRow
    ledger, notebook = Ledger(), sys.argv[1]
    call = 0
    while True:
        call += 1
        held = ledger.reserve(notebook, float(call), 1e18, ttl_s=600)  # the amount names the call
        ledger.release(held, UsageRow(notebook=notebook, cell=call, cost_usd=0.0))
    """
)


@pytest.mark.timeout(120)
def test_a_kernel_killed_while_settling_leaves_each_call_held_or_recorded_never_both(o4_home):
    for round_ in range(4):
        notebook = f"killed{round_}.ipynb"
        settler = subprocess.Popen(
            [sys.executable, "-c", SETTLER, notebook], env={**os.environ, "O4_MAGICS_HOME": str(o4_home)}
        )
        time.sleep(1.0 + 0.37 * round_)  # import, open, then some hundreds of calls
        settler.send_signal(signal.SIGKILL)
        settler.wait()
        with sqlite3.connect(o4_home / USAGE_FILE) as db:
            held = {
                int(amount)
                for (amount,) in db.execute(
                    "SELECT amount_usd FROM reservations WHERE notebook = ?", (notebook,)
                )
            }
            recorded = {
                cell for (cell,) in db.execute("SELECT cell FROM usage WHERE notebook = ?", (notebook,))
            }
        assert recorded, "the settler made no call before it was killed"
        assert not held & recorded  # never both
        assert held | recorded == set(range(1, max(held | recorded) + 1))  # never neither
        assert len(held) <= 1  # only the call in flight


# -- reservations when the ledger file cannot be used: held in this kernel's memory ---------------------------


def test_memory_reservations_have_ids_that_are_never_reused(o4_home):
    o4_home.write_text("a file where the directory should be")
    ledger = Ledger()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LedgerWarning)
        first = ledger.reserve("nb.ipynb", 1.0, 3.0, ttl_s=60)
        second = ledger.reserve("nb.ipynb", 1.0, 3.0, ttl_s=60)
        ledger.release(first)
        third = ledger.reserve("nb.ipynb", 1.0, 3.0, ttl_s=60)
        assert first.granted and second.granted and third.granted
        assert len({first.id, second.id, third.id}) == 3 and all(
            held.id < 0 for held in (first, second, third)
        )
        ledger.release(second)  # must not let go of the third's money
        assert not ledger.reserve("nb.ipynb", 2.5, 3.0, ttl_s=60).granted
        ledger.release(third)
        assert ledger.reserve("nb.ipynb", 2.5, 3.0, ttl_s=60).granted

        # holds made within one millisecond (the clock read once): still distinct, whatever was released
        now = datetime.now(timezone.utc)
        same_ms = [ledger._reserve_in_memory("ms.ipynb", 1.0, 3.0, now, 60) for _ in range(2)]
        ledger.release(same_ms[0])
        same_ms.append(ledger._reserve_in_memory("ms.ipynb", 1.0, 3.0, now, 60))
        assert len({held.id for held in same_ms}) == 3
        ledger.release(same_ms[1])
        assert ledger._held_in_memory("ms.ipynb", now.timestamp()) == 1.0  # the third still holds its dollar


def test_eight_threads_hold_the_cap_in_memory_too(o4_home):
    o4_home.write_text("a file where the directory should be")
    spender = spender_module()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LedgerWarning)
        ledger = Ledger()
        granted, errors = spender["run"](8, "nb.ipynb", ledger)
        assert errors == [] and len(granted) == FIT
        assert ledger.totals("nb.ipynb")["cost_usd"] == CAP and len(ledger.pending) == FIT


def test_money_held_in_memory_still_counts_once_the_file_is_back(o4_home):
    o4_home.write_text("a file where the directory should be")
    ledger = Ledger()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LedgerWarning)
        in_memory = ledger.reserve("nb.ipynb", 6.0, 10.0, ttl_s=60)
    assert in_memory.granted and in_memory.id < 0
    o4_home.unlink()  # the user fixed the home; the call reserved in memory is still in flight
    again = ledger.reserve("nb.ipynb", 6.0, 10.0, ttl_s=60)
    assert not again.granted and again.held_usd == 6.0
    ledger.release(in_memory, UsageRow(notebook="nb.ipynb", cost_usd=1.0))
    assert ledger.reserve("nb.ipynb", 6.0, 10.0, ttl_s=60).granted
