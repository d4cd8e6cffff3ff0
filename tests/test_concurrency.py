"""Writers in separate OS processes, on SQLite and on PostgreSQL.

Workers are started with the "spawn" context, so each is a fresh interpreter
with its own connections, as two `policy-ledger` commands run at once would be.
Workers report through a queue; anything unexpected in a worker is reported as
an error, never swallowed.
"""

from __future__ import annotations

import multiprocessing
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any
from zoneinfo import ZoneInfo

from ledger.errors import ConcurrencyError
from ledger.events import decode_event
from ledger.records import StoredEvent, instant_key, occurred_instant, seal
from ledger.service import Ledger
from ledger.store.sql import SqlEventStore
from tests.builders import actor, ev, lines, made

SPAWN = multiprocessing.get_context("spawn")
WAIT = 60  # seconds: generous, so a slow machine fails on a real hang only
SUBJECT = "commitment/gpus"


def reaffirmed(statement: str, version: int) -> StoredEvent:
    """A sealed CommitmentReaffirmed of the test commitment at a version."""
    event = decode_event(
        ev(
            "CommitmentReaffirmed",
            SUBJECT,
            "2025-06-01",
            {"by": "actor/han", "capacity": "government", "statement": statement},
        )
    )
    return seal(
        event,
        event_id=str(uuid.uuid4()),
        version=version,
        recorded_at="2026-01-01T00:00:00.000000Z",
        recorded_by="desk@test",
        occurred_key=instant_key(occurred_instant(event.occurred_at, ZoneInfo("UTC"))),
    )


# --- workers (run in child processes) ----------------------------------------


def append_after_reading(target: str, name: str, barrier: Barrier, results: Queue[Any]) -> None:
    """Read the subject's version, wait for the other writer to read it too, then append."""
    try:
        store = SqlEventStore.open(target)
        try:
            version = store.versions([SUBJECT])[SUBJECT]
            event = reaffirmed(f"{name} says so", version + 1)
            barrier.wait(WAIT)
            try:
                (placed,) = store.append([event], {SUBJECT: version})
                results.put(("won", name, placed.id, placed.position))
            except ConcurrencyError as exc:
                results.put(("lost", name, event.id, str(exc)))
        finally:
            store.close()
    except BaseException:
        results.put(("error", name, "", traceback.format_exc()))


def record_actors(
    target: str, worker: int, count: int, barrier: Barrier, results: Queue[Any]
) -> None:
    """Record `count` new actors through the service, one event per append."""
    try:
        ledger = Ledger.open(target, user=f"worker-{worker}")
        try:
            barrier.wait(WAIT)
            added: list[tuple[str, int]] = []
            for k in range(count):
                (stored,) = ledger.record(decode_event(actor(f"w{worker}-{k}"))).added
                added.append((stored.id, stored.position))
            results.put(("ok", worker, added))
        finally:
            ledger.close()
    except BaseException:
        results.put(("error", worker, traceback.format_exc()))


def record_or_follow(
    target: str, worker: int, count: int, barrier: Barrier, results: Queue[Any]
) -> None:
    """Worker -1 follows the log while the others record `count` actors each.

    The follower polls for what comes after the last position it saw, as a
    consumer of the log does, and notes any position that arrives before the
    one before it (a gap it would have skipped for ever).
    """
    if worker >= 0:
        record_actors(target, worker, count, barrier, results)
        return
    try:
        store = SqlEventStore.open(target)
        try:
            barrier.wait(WAIT)
            total, last, skipped, polls = 4 * count, 0, [], 0
            while last < total and polls < 200_000:
                polls += 1
                for stored in store.read_all(after=last, batch_size=7, sources=False):
                    if stored.position != last + 1:
                        skipped.append((last, stored.position))
                    last = stored.position
            results.put(("ok", worker, last, skipped))
        finally:
            store.close()
    except BaseException:
        results.put(("error", worker, traceback.format_exc()))


def reaffirm_with_retries(
    target: str, worker: int, count: int, barrier: Barrier, results: Queue[Any]
) -> None:
    """Record `count` events on the one commitment, retrying when another writer won."""
    try:
        ledger = Ledger.open(target, user=f"worker-{worker}")
        try:
            barrier.wait(WAIT)
            added: list[str] = []
            conflicts = 0
            for k in range(count):
                event = decode_event(
                    ev(
                        "CommitmentReaffirmed",
                        SUBJECT,
                        "2025-06-01",
                        {"by": "actor/han", "capacity": "government", "statement": f"{worker}/{k}"},
                    )
                )
                while True:
                    try:
                        (stored,) = ledger.record(event).added
                        break
                    except ConcurrencyError:
                        conflicts += 1
                added.append(stored.id)
            results.put(("ok", worker, added, conflicts))
        finally:
            ledger.close()
    except BaseException:
        results.put(("error", worker, traceback.format_exc()))


def run_workers(
    worker: Callable[..., None], args: list[tuple[Any, ...]], barrier: Barrier
) -> list[tuple[Any, ...]]:
    """Start one process per argument tuple and collect what each reports."""
    results: Queue[Any] = SPAWN.Queue()
    processes = [SPAWN.Process(target=worker, args=(*a, barrier, results)) for a in args]
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
    errors = [r for r in reports if r[0] == "error"]
    assert not errors, "\n".join(str(r[-1]) for r in errors)
    assert all(process.exitcode == 0 for process in processes)
    return reports


def stored_events(target: str) -> list[StoredEvent]:
    """Every stored event, read by a fresh store."""
    store = SqlEventStore.open(target)
    try:
        return list(store.read_all(batch_size=37))
    finally:
        store.close()


def assert_gap_free(events: list[StoredEvent]) -> None:
    """Positions run 1..n and no id is stored twice."""
    assert [e.position for e in events] == list(range(1, len(events) + 1))
    assert len({e.id for e in events}) == len(events)


# --- tests -------------------------------------------------------------------


def test_two_processes_appending_at_the_same_version_leave_exactly_one_winner(
    db_target: str, make_ledger: Callable[..., Ledger]
) -> None:
    ledger = make_ledger(db_target)
    before = ledger.import_lines(lines(actor("han"), made("gpus", by="actor/han"))).added

    reports = run_workers(
        append_after_reading, [(db_target, "first"), (db_target, "second")], SPAWN.Barrier(2)
    )

    outcomes = Counter(r[0] for r in reports)
    assert outcomes == {"won": 1, "lost": 1}
    (won,) = [r for r in reports if r[0] == "won"]
    (lost,) = [r for r in reports if r[0] == "lost"]
    assert "nothing was written" in lost[3]
    events = stored_events(db_target)
    assert_gap_free(events)
    assert events[:2] == before
    assert [(e.id, e.position) for e in events[2:]] == [(won[2], won[3])]
    history = ledger.history(SUBJECT)
    assert [e.version for e in history] == [1, 2]
    assert history[1].data["statement"] == f"{won[1]} says so"
    assert lost[2] not in {e.id for e in events}


def test_four_processes_appending_to_distinct_subjects_leave_no_gap(
    db_target: str, make_ledger: Callable[..., Ledger]
) -> None:
    make_ledger(db_target)
    workers, count = 4, 50

    reports = run_workers(
        record_actors, [(db_target, w, count) for w in range(workers)], SPAWN.Barrier(workers)
    )

    total = workers * count
    reported = {event_id: position for r in reports for event_id, position in r[2]}
    assert len(reported) == total
    events = stored_events(db_target)
    assert len(events) == total
    assert_gap_free(events)
    assert {e.id: e.position for e in events} == reported
    assert Counter(e.recorded_by for e in events) == {f"worker-{w}": count for w in range(workers)}
    assert {e.version for e in events} == {1}
    store = SqlEventStore.open(db_target)
    try:
        assert store.head() == total
        assert len(store.subjects("actor")) == total
    finally:
        store.close()


def test_a_reader_following_the_log_never_sees_a_position_before_the_one_before_it(
    db_target: str, make_ledger: Callable[..., Ledger]
) -> None:
    # Four writers commit while a fifth process reads what follows the last
    # position it saw: were position N+1 visible before N, it would skip N.
    make_ledger(db_target)
    count = 40
    reports = run_workers(
        record_or_follow,
        [(db_target, w, count) for w in (-1, 0, 1, 2, 3)],
        SPAWN.Barrier(5),
    )
    [follower] = [r for r in reports if r[1] == -1]
    assert follower[2] == 4 * count  # it saw every event
    assert follower[3] == []  # and never one before the one before it
    assert_gap_free(stored_events(db_target))


def test_writers_racing_on_one_subject_through_the_ledger_lose_cleanly_and_can_retry(
    db_target: str, make_ledger: Callable[..., Ledger]
) -> None:
    ledger = make_ledger(db_target)
    ledger.import_lines(lines(actor("han"), made("gpus", by="actor/han")))
    workers, count = 3, 10

    reports = run_workers(
        reaffirm_with_retries,
        [(db_target, w, count) for w in range(workers)],
        SPAWN.Barrier(workers),
    )

    recorded = [event_id for r in reports for event_id in r[2]]
    events = stored_events(db_target)
    assert_gap_free(events)
    assert len(events) == 2 + workers * count
    assert sorted(e.id for e in events[2:]) == sorted(recorded)
    assert [e.version for e in ledger.history(SUBJECT)] == list(range(1, 2 + workers * count))
