"""Eight processes writing one SQLite ledger at once: none of them sees "database is locked".

SQLite lets one writer in at a time. A writer waits for the lock (the busy
timeout) and, where SQLite answers SQLITE_BUSY without waiting (switching a
rollback-journal file to WAL while another connection writes), retries after a
jittered pause (see ledger/store/db.py). Workers are separate OS processes, as
eight `policy-ledger` commands would be; each counts the retries it needed.
Run with `-s` to see the figures.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import select
import sqlite3
import subprocess
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest

from ledger.errors import ConcurrencyError, StorageError
from ledger.events import decode_event
from ledger.records import StoredEvent
from ledger.service import Ledger
from ledger.store import db
from ledger.store.sql import SqlEventStore
from ledger.verification import verify_ledger
from tests.builders import actor, ev, lines, made

SPAWN = multiprocessing.get_context("spawn")
WAIT = 120  # seconds: generous, so a slow shared machine fails on a real hang only
WORKERS = 8
CALLS = 25  # distinct-subject writes per worker: record() and import_lines() in turn
SHARED_EVERY = 5  # after every fifth of those, one write to the shared commitment
SUBJECT = "commitment/gpus"
ACTOR_OPTIONS = ("--name", "An actor", "--kind", "person", "--on", "2025-01-01")


class RetryCounter(logging.Handler):
    """Counts the store's "SQLite busy" retries."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.retries = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.retries += 1


def time_lock_waits() -> list[float]:
    """Record, in this process, how long each BEGIN IMMEDIATE waited for the write lock."""
    waits: list[float] = []
    begin = db._patiently

    def timed(raw: Any, statement: str) -> None:
        started = time.monotonic()
        begin(raw, statement)
        if statement == "BEGIN IMMEDIATE":
            waits.append(time.monotonic() - started)

    db._patiently = timed
    return waits


def count_retries() -> RetryCounter:
    """Start counting this process's retries."""
    counter = RetryCounter()
    logger = logging.getLogger(db.__name__)
    logger.setLevel(logging.DEBUG)
    logger.addHandler(counter)
    return counter


def reaffirmation(statement: str) -> dict[str, Any]:
    """A CommitmentReaffirmed of the shared commitment."""
    return ev(
        "CommitmentReaffirmed",
        SUBJECT,
        "2025-06-01",
        {"by": "actor/han", "capacity": "government", "statement": statement},
    )


# --- the worker (runs in a child process) ------------------------------------------


def record_all_at_once(target: str, worker: int, barrier: Barrier, results: Queue[Any]) -> None:
    """Open the ledger with the others, then write distinct subjects and the shared one."""
    counter = count_retries()
    waits = time_lock_waits()
    try:
        barrier.wait(WAIT)
        ledger = Ledger.open(target, user=f"worker-{worker}")
        try:
            added: list[str] = []
            conflicts = 0
            for call in range(CALLS):
                slug = f"w{worker}-{call}"
                if call % 2:
                    batch = lines(actor(f"{slug}-a"), actor(f"{slug}-b"))
                    added += [e.id for e in ledger.import_lines(batch).added]
                else:
                    added += [e.id for e in ledger.record(decode_event(actor(slug))).added]
                if call % SHARED_EVERY == SHARED_EVERY - 1:
                    event = decode_event(reaffirmation(f"{worker}/{call}"))
                    while True:
                        try:
                            added += [e.id for e in ledger.record(event).added]
                            break
                        except ConcurrencyError:
                            conflicts += 1
        finally:
            ledger.close()
        results.put(("ok", worker, added, conflicts, counter.retries, max(waits)))
    except BaseException:
        results.put(("error", worker, traceback.format_exc()))


# --- helpers ------------------------------------------------------------------------


def run_workers(target: str) -> list[tuple[Any, ...]]:
    """Run the eight workers; what each reports (any error fails the test)."""
    results: Queue[Any] = SPAWN.Queue()
    barrier = SPAWN.Barrier(WORKERS)
    processes = [
        SPAWN.Process(target=record_all_at_once, args=(target, w, barrier, results))
        for w in range(WORKERS)
    ]
    for process in processes:
        process.start()
    try:
        reports = [results.get(timeout=WAIT) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=WAIT)
            if process.is_alive():
                process.terminate()
                process.join()
    errors = [str(r[-1]) for r in reports if r[0] == "error"]
    assert not errors, "\n".join(errors)
    assert all(process.exitcode == 0 for process in processes)
    return reports


def to_rollback_journal(target: str) -> None:
    """Switch the file out of WAL, as a copy restored by another tool may be."""
    conn = sqlite3.connect(target)
    try:
        assert conn.execute("PRAGMA journal_mode=DELETE").fetchone() == ("delete",)
    finally:
        conn.close()


def journal_mode(target: str) -> str:
    """The file's journal mode, read without changing it."""
    conn = sqlite3.connect(target)
    try:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        conn.close()


def stored_and_verified(target: str) -> list[StoredEvent]:
    """Every stored event, after checking the ledger verifies and positions have no gap."""
    store = SqlEventStore.open(target)
    try:
        report = verify_ledger(store)
        assert report.intact, f"position {report.position}: {report.problem}"
        events = list(store.read_all())
    finally:
        store.close()
    assert [e.position for e in events] == list(range(1, len(events) + 1))
    assert report.checked == len(events)
    assert len({e.id for e in events}) == len(events)
    versions: dict[str, list[int]] = {}
    for stored in events:
        versions.setdefault(stored.subject, []).append(stored.version)
    assert all(v == list(range(1, len(v) + 1)) for v in versions.values())
    return events


def policy_ledger(target: str, *args: str) -> list[str]:
    """The command line of `policy-ledger --db TARGET ARGS`, from this interpreter's install."""
    script = Path(sys.executable).with_name("policy-ledger")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "cli"]
    return [*command, "--db", target, *args]


def cli_env() -> dict[str, str]:
    """The environment for a command: no ledger settings inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLICY_LEDGER_")}
    env["POLICY_LEDGER_USER"] = "cli@test"
    return env


HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO ledger_settings VALUES ('held-by', 'another process')")
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


def hold_write_lock(target: str, seconds: float) -> subprocess.Popen[bytes]:
    """Another process that holds the file's write lock for a while, then commits."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, target, str(seconds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert holder.stdout is not None
    ready, _, _ = select.select([holder.stdout], [], [], WAIT)
    if not ready or holder.stdout.readline() != b"holding\n":
        holder.kill()
        pytest.fail(f"the holder never took the lock: {holder.communicate()[1].decode()}")
    return holder


# --- tests --------------------------------------------------------------------------


@pytest.mark.parametrize("journal", ["wal", "rollback"])
def test_eight_processes_recording_at_once_lose_nothing_and_never_see_a_lock_error(
    sqlite_target: str, make_ledger: Callable[..., Ledger], journal: str
) -> None:
    ledger = make_ledger(sqlite_target)
    ledger.import_lines(lines(actor("han"), made("gpus", by="actor/han")))
    ledger.close()
    if journal == "rollback":
        to_rollback_journal(sqlite_target)  # the eight race to switch it back to WAL

    started = time.monotonic()
    reports = run_workers(sqlite_target)
    elapsed = time.monotonic() - started

    shared = WORKERS * (CALLS // SHARED_EVERY)
    distinct = WORKERS * (CALLS + CALLS // 2)
    reported = [event_id for r in reports for event_id in r[2]]
    events = stored_and_verified(sqlite_target)
    assert len(reported) == len(set(reported)) == distinct + shared
    assert len(events) == 2 + distinct + shared
    assert {e.id for e in events[2:]} == set(reported)
    assert Counter(e.recorded_by for e in events[2:]) == {
        f"worker-{w}": CALLS + CALLS // 2 + CALLS // SHARED_EVERY for w in range(WORKERS)
    }
    assert [e.version for e in events if e.subject == SUBJECT] == list(range(1, shared + 2))
    assert journal_mode(sqlite_target) == "wal"
    print(
        f"\n[{journal}] {WORKERS} processes wrote {len(events) - 2} events in {elapsed:.1f} s; "
        f"busy retries {sum(r[4] for r in reports)}, longest wait for the write lock "
        f"{max(r[5] for r in reports) * 1000:.0f} ms, version conflicts retried "
        f"{sum(r[3] for r in reports)}"
    )


@pytest.mark.parametrize("journal", ["wal", "rollback"])
def test_eight_register_actor_commands_at_once_all_succeed(
    sqlite_target: str, make_ledger: Callable[..., Ledger], journal: str
) -> None:
    make_ledger(sqlite_target).close()
    if journal == "rollback":
        to_rollback_journal(sqlite_target)
    commands = [
        policy_ledger(sqlite_target, "register-actor", f"actor/cli-{n}", *ACTOR_OPTIONS)
        for n in range(WORKERS)
    ]

    started = time.monotonic()
    processes = [
        subprocess.Popen(c, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for c in commands
    ]
    outputs = [p.communicate(timeout=WAIT) for p in processes]
    elapsed = time.monotonic() - started

    for process, (out, err) in zip(processes, outputs, strict=True):
        assert (process.returncode, err.decode()) == (0, "")
        assert out.decode().startswith("recorded ActorRegistered on actor/cli-")
    events = stored_and_verified(sqlite_target)
    assert sorted(e.subject for e in events) == sorted(f"actor/cli-{n}" for n in range(WORKERS))
    print(f"\n[{journal}] {WORKERS} register-actor commands at once took {elapsed:.1f} s")


def test_opening_a_rollback_journal_ledger_while_another_process_writes_waits_for_it(
    sqlite_target: str, make_ledger: Callable[..., Ledger], caplog: pytest.LogCaptureFixture
) -> None:
    # SQLite refuses the switch to WAL at once here, busy timeout or not.
    make_ledger(sqlite_target).close()
    to_rollback_journal(sqlite_target)
    caplog.set_level(logging.DEBUG, logger=db.__name__)
    holder = hold_write_lock(sqlite_target, 1.0)
    try:
        started = time.monotonic()
        ledger = Ledger.open(sqlite_target, user="patient@test")
        try:
            (stored,) = ledger.record(decode_event(actor("han"))).added
        finally:
            ledger.close()
        waited = time.monotonic() - started
    finally:
        holder.communicate(timeout=WAIT)

    assert holder.returncode == 0
    assert any(r.getMessage().startswith("SQLite busy") for r in caplog.records)
    assert waited >= 0.5
    assert [e.id for e in stored_and_verified(sqlite_target)] == [stored.id]
    assert journal_mode(sqlite_target) == "wal"


def test_a_writer_kept_out_longer_than_its_patience_is_told_so_and_writes_nothing(
    sqlite_target: str, make_ledger: Callable[..., Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_ledger(sqlite_target).close()
    monkeypatch.setattr(db, "_LOCK_PATIENCE", 0.5)
    ledger = Ledger.open(sqlite_target, user="impatient@test")
    try:
        holder = hold_write_lock(sqlite_target, 3.0)
        try:
            started = time.monotonic()
            with pytest.raises(StorageError) as refused:
                ledger.record(decode_event(actor("han")))
            waited = time.monotonic() - started
        finally:
            holder.communicate(timeout=WAIT)
        assert stored_and_verified(sqlite_target) == []
        (stored,) = ledger.record(decode_event(actor("han"))).added  # the lock is free again
    finally:
        ledger.close()

    message = str(refused.value)
    assert "locked for over 0.5 s" in message
    assert "nothing was written" in message
    assert "database is locked" not in message
    assert 0.4 <= waited < 3.0
    assert [e.id for e in stored_and_verified(sqlite_target)] == [stored.id]
