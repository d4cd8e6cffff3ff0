"""verify in two processes gives the report one process gives, fault for fault.

Every test forces the second process on a small ledger (`split=`), then
compares the whole report (position, problem, checked, checkpoints, root)
with the one-process report of the same file (`split=0`), and checks that
the scenario really has the fault it is about. Real SQLite files; the last
tests run on PostgreSQL.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from ledger import integrity, verification
from ledger.errors import StorageError
from ledger.records import StoredEvent, canonical_bytes, leaf_hash_of
from ledger.service import Ledger
from ledger.store.sql import SqlEventStore, decode_row
from ledger.synthetic import synthetic_lines
from tests.conftest import Clock

EVENTS = 300
CHECKPOINTS = (100, 200, 300)
# Where the second process starts: powers of two (the RFC 9162 split), and others whose
# lowest set bit is small (its walk reaches into the first part's subtrees often).
SPLITS = (1, 2, 64, 128, 150, 200, 255, 256, 299)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 300-event synthetic ledger with checkpoints at 100, 200 and 300 events."""
    path = tmp_path_factory.mktemp("verify-parallel") / "source.db"
    return checkpointed(path, list(synthetic_lines(EVENTS, 7)), CHECKPOINTS)


def checkpointed(path: Path, lines: list[bytes], sizes: tuple[int, ...]) -> Path:
    """A ledger of `lines` (Asia/Seoul) with a checkpoint recorded at each of `sizes` events."""
    ledger = Ledger.init(str(path), tz="Asia/Seoul", clock=Clock(), user="desk@test")
    for size in sizes:
        ledger.import_lines(lines[ledger.store.head() : size])
        integrity.make_checkpoint(ledger.store, ledger.origin, ledger.clock())
    assert ledger.store.head() == len(lines)
    ledger.close()
    return path


@pytest.fixture
def db(built: Path, tmp_path: Path) -> str:
    """A fresh copy of the built ledger, to tamper with."""
    target = tmp_path / "ledger.db"
    shutil.copy(built, target)
    return str(target)


def _reports(path: str, split: int, **options: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(one process, two processes) reports of the same file."""
    store = SqlEventStore.open(path)
    try:
        single = verification.verify_ledger(store, split=0).to_json()
        double = verification.verify_ledger(store, split=split, **options).to_json()
    finally:
        store.close()
    return single, double


def _same(path: str, split: int, **options: Any) -> dict[str, Any]:
    single, double = _reports(path, split, **options)
    assert double == single
    return single


def _tamper(path: str, *statements: str, params: tuple[Any, ...] = ()) -> None:
    """Edit the file behind the program's back, triggers dropped first."""
    conn = sqlite3.connect(path)
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]
    for name in names:
        conn.execute(f"DROP TRIGGER {name}")
    for statement in statements:
        conn.execute(statement, params if "?" in statement else ())
    conn.commit()
    conn.close()


def _rows(path: str) -> list[StoredEvent]:
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT * FROM events ORDER BY position").fetchall()
    conn.close()
    return [decode_row(row) for row in rows]


def _rewrite(path: str, position: int, **changes: Any) -> None:
    """Change an event's fields with a matching leaf hash and tree: only a deeper check can tell."""
    event = next(e for e in _rows(path) if e.position == position)
    stored = {**event.to_json(), **changes}
    leaf = leaf_hash_of(canonical_bytes(stored))
    columns = ", ".join(f"{name} = ?" for name in changes)
    values = tuple(orjson.dumps(v).decode() if name == "data" else v for name, v in changes.items())
    _tamper(
        path,
        f"UPDATE events SET {columns}, leaf_hash = ? WHERE position = ?",
        "DELETE FROM merkle_nodes",
        params=(*values, leaf, position),
    )
    Ledger.init(path).close()  # back-fills the tree from the rewritten rows


# --- intact --------------------------------------------------------------------------------


@pytest.mark.parametrize("split", SPLITS)
def test_an_intact_ledger_gives_the_one_process_report(db, split):
    report = _same(db, split)
    assert report["intact"] and report["checked"] == EVENTS
    assert report["checkpoints"] == len(CHECKPOINTS)
    store = SqlEventStore.open(db)
    assert report["root"] == integrity.tree_root(store)[1].hex()
    store.close()


def test_every_split_of_the_example_gives_the_same_root(ledger):
    """Splits 1..47 of a 48-event ledger: every shape of the first part's stack."""
    from cli.commands_demo import example_lines

    ledger.import_lines(example_lines())
    single = verification.verify_ledger(ledger.store, split=0).to_json()
    for split in range(1, 48):
        assert verification.verify_ledger(ledger.store, split=split).to_json() == single, split


def test_progress_counts_both_processes_events(db):
    told: list[int] = []
    store = SqlEventStore.open(db)
    report = verification.verify_ledger(store, progress=told.append, batch=7, split=150)
    store.close()
    assert report.intact and sum(told) == EVENTS


# --- faults on either side of the split ----------------------------------------------------


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("position", [5, 140, 210, 300])
def test_a_changed_byte_is_reported_as_one_process_reports_it(db, split, position):
    _tamper(
        db,
        f"UPDATE events SET data = substr(data, 1, 10) || 'Z' || substr(data, 12) "
        f"WHERE position = {position}",
    )
    report = _same(db, split)
    assert (report["position"], report["checked"]) == (position, position - 1)
    assert "altered" in report["problem"]


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize(
    ("level", "index"),
    [(0, 3), (0, 250), (1, 70), (3, 18), (7, 0), (7, 1), (8, 0)],
)
@pytest.mark.parametrize("damage", ["altered", "deleted"])
def test_a_stored_node_is_reported_as_one_process_reports_it(db, split, level, index, damage):
    where = f"WHERE level = {level} AND idx = {index}"
    _tamper(
        db,
        f"UPDATE merkle_nodes SET hash = 'ff' || substr(hash, 3) {where}"
        if damage == "altered"
        else f"DELETE FROM merkle_nodes {where}",
    )
    report = _same(db, split)
    first = index * 2**level + 1
    assert report["position"] == first
    assert report["problem"].startswith(f"the stored tree node over positions {first}-")


@pytest.mark.parametrize("split", [128, 150, 200])
@pytest.mark.parametrize("position", [10, 128, 129, 150, 151, 200, 201, 256, 257, 300])
def test_a_deleted_row_is_reported_as_one_process_reports_it(db, split, position):
    _tamper(db, f"DELETE FROM events WHERE position = {position}")
    report = _same(db, split)
    assert report["position"] == position and "missing" in report["problem"]


def test_a_log_cut_short_inside_the_first_part_is_reported_as_one_process_reports_it(db):
    _tamper(db, "DELETE FROM events WHERE position > 140")
    report = _same(db, 200)
    assert report["position"] == 141 and report["checked"] == 140
    assert report["problem"].startswith("missing: the tree has 300 leaves")


@pytest.mark.parametrize("split", SPLITS)
def test_faults_on_both_sides_report_the_first(db, split):
    _tamper(
        db,
        "UPDATE events SET data = substr(data, 1, 10) || 'Z' || substr(data, 12) WHERE position = 20",
        "UPDATE merkle_nodes SET hash = 'ff' || substr(hash, 3) WHERE level = 0 AND idx = 279",
    )
    report = _same(db, split)
    assert report["position"] == 20


def _later_version(events: list[StoredEvent], split: int, upper: bool) -> StoredEvent:
    """A subject's event at version 2 or later, on one side of the split.

    After the split: its subject's first event there, so the second process
    must defer the version check to the first part's last version.
    """
    seen: set[str] = set()
    for event in events:
        in_part = (event.position > split) == upper
        if in_part and event.version > 1 and (not upper or event.subject not in seen):
            return event
        if event.position > split:
            seen.add(event.subject)
    raise AssertionError("the synthetic ledger has no such event")


@pytest.mark.parametrize("split", [64, 128, 150, 200])
@pytest.mark.parametrize("upper", [False, True])
def test_a_rewritten_version_is_reported_as_one_process_reports_it(db, split, upper):
    event = _later_version(_rows(db), split, upper)
    _rewrite(db, event.position, version=event.version + 1000)  # unique (subject, version)
    report = _same(db, split)
    assert (report["position"], report["problem"]) == (
        event.position,
        f"{event.subject} version {event.version + 1000} follows version {event.version - 1}",
    )


@pytest.mark.parametrize("split", [64, 128, 150, 200])
@pytest.mark.parametrize("offset", [-3, 0, 1, 2])
def test_a_record_time_going_back_is_reported_as_one_process_reports_it(db, split, offset):
    """At split + 1 the first event after the split is compared with the last before it."""
    position = split + offset
    _rewrite(db, position, recorded_at="2001-01-01T00:00:00.000000Z")
    report = _same(db, split)
    assert report["position"] == position
    assert report["problem"].startswith("recorded at 2001-01-01T00:00:00.000000Z, before")


@pytest.mark.parametrize("split", [64, 128, 150, 200, 256])
@pytest.mark.parametrize("position", [50, 150, 250])
def test_a_consistent_rewrite_is_caught_by_the_next_checkpoint(db, split, position):
    event = next(e for e in _rows(db) if e.position == position)
    _rewrite(db, position, data={**event.data, "note": "rewritten"})
    report = _same(db, split)
    checkpoint = next(size for size in CHECKPOINTS if size >= position)
    assert (report["position"], report["problem"]) == (
        checkpoint,
        f"the tree of size {checkpoint} no longer has the root of its checkpoint",
    )
    assert report["checkpoints"] == CHECKPOINTS.index(checkpoint)


# --- the sort key of valid time, and the time zone it depends on ---------------------------


def _key_problem(event: StoredEvent, stored_key: str, zone: str = "Asia/Seoul") -> str:
    from zoneinfo import ZoneInfo

    from ledger.records import instant_key, occurred_instant

    key = instant_key(occurred_instant(event.occurred_at, ZoneInfo(zone)))
    return (
        f"its sort key (occurred_key) {stored_key} is not occurred_at {event.occurred_at} "
        f"in the ledger's time zone {zone} ({key}): the row or the time zone was altered"
    )


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("position", [1, 140, 151, 201, 300])
def test_an_altered_sort_key_is_reported_as_one_process_reports_it(db, split, position):
    event = next(e for e in _rows(db) if e.position == position)
    forged = "2099-12-31T15:00:00.000000Z"
    _tamper(db, "UPDATE events SET occurred_key = ? WHERE position = ?", params=(forged, position))
    report = _same(db, split)
    assert (report["position"], report["checked"], report["problem"]) == (
        position,
        position - 1,
        _key_problem(event, forged),
    )


@pytest.mark.parametrize("split", [1, 128, 150, 299])
@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_a_sort_key_after_the_split_is_checked_in_the_zone_of_the_ledger(db, split, start_method):
    """The second process reads the zone from the first: only the last row is altered."""
    event = next(e for e in _rows(db) if e.position == EVENTS)
    forged = event.occurred_key.replace("T15:", "T14:")
    _tamper(db, "UPDATE events SET occurred_key = ? WHERE position = ?", params=(forged, EVENTS))
    report = _same(db, split, start_method=start_method)
    assert (report["position"], report["problem"]) == (EVENTS, _key_problem(event, forged))


@pytest.mark.parametrize("split", [1, 150, 256])
@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        (
            "UPDATE ledger_settings SET value = 'UTC' WHERE key = 'timezone'",
            None,  # the first event's key, computed in UTC
        ),
        (
            "DELETE FROM ledger_settings WHERE key = 'timezone'",
            "the ledger's time zone setting is missing: "
            "the events' sort keys (occurred_key) cannot be checked",
        ),
        (
            "UPDATE ledger_settings SET value = 'Mars/Base' WHERE key = 'timezone'",
            "the ledger's time zone setting 'Mars/Base' is not a known time zone: "
            "the events' sort keys (occurred_key) cannot be checked",
        ),
    ],
)
def test_an_altered_time_zone_is_reported_as_one_process_reports_it(db, split, statement, problem):
    first = _rows(db)[0]
    _tamper(db, statement)
    report = _same(db, split)
    expected = problem or _key_problem(first, first.occurred_key, "UTC")
    assert (report["position"], report["checked"], report["problem"]) == (1, 0, expected)


# --- the stored text: canonical or not -----------------------------------------------------


@pytest.mark.parametrize("split", [128, 150])
def test_non_canonical_rows_on_both_sides_still_verify(db, split):
    import json

    intact_root = _same(db, split)["root"]
    for position in (3, 140, 151, 290):
        event = next(e for e in _rows(db) if e.position == position)
        loose = json.dumps(dict(reversed(list(event.data.items()))), indent=2)
        _tamper(db, "UPDATE events SET data = ? WHERE position = ?", params=(loose, position))
    report = _same(db, split)
    assert report["intact"] and report["root"] == intact_root


@pytest.mark.parametrize("split", [128, 150])
@pytest.mark.parametrize("position", [20, 220])
def test_a_leaf_forged_over_non_canonical_text_still_fails(db, split, position):
    import json

    from ledger.records import leaf_body

    event = next(e for e in _rows(db) if e.position == position)
    loose = json.dumps(event.data, indent=1)
    forged = leaf_hash_of(
        leaf_body(
            id=event.id,
            type=event.type,
            subject=event.subject,
            version=event.version,
            occurred_at=event.occurred_at,
            recorded_at=event.recorded_at,
            recorded_by=event.recorded_by,
            data_json=loose.encode(),
            sources_json=orjson.dumps(event.sources, option=orjson.OPT_SORT_KEYS),
            schema=event.schema,
        )
    )
    _tamper(
        db,
        "UPDATE events SET data = ?, leaf_hash = ? WHERE position = ?",
        params=(loose, forged, position),
    )
    report = _same(db, split)
    assert (report["position"], report["problem"]) == (
        position,
        "its fields do not match its leaf hash: the event was altered",
    )


# --- the second process itself -------------------------------------------------------------


def _fail_in_worker(monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    """Make only the second process fail: it opens the ledger by URL, in a pid of its own."""
    parent, real_open = os.getpid(), SqlEventStore.open

    def open_(target: str, **kwargs: Any) -> SqlEventStore:
        if os.getpid() != parent:
            if how == "raise":
                raise RuntimeError("disk on fire")
            os.kill(os.getpid(), signal.SIGKILL)
        return real_open(target, **kwargs)

    monkeypatch.setattr(SqlEventStore, "open", staticmethod(open_))


@pytest.mark.parametrize("how", ["raise", "die"])
def test_a_failed_second_process_is_an_error_never_intact(db, monkeypatch, how):
    store = SqlEventStore.open(db)
    _fail_in_worker(monkeypatch, how)
    try:
        with pytest.raises(StorageError) as raised:
            verification.verify_ledger(store, split=150, start_method="fork")
    finally:
        store.close()
    message = str(raised.value)
    assert message.startswith("verify's second process")
    assert "after position 150 were not verified" in message
    assert ("disk on fire" in message) if how == "raise" else ("exit code -9" in message)
    assert multiprocessing.active_children() == []


def test_the_cli_exits_non_zero_when_the_second_process_fails(db, monkeypatch):
    from click.testing import CliRunner

    from cli.app import cli

    monkeypatch.setattr(verification, "PARALLEL_FROM", 100)
    monkeypatch.setattr(verification, "_ALIGN", 1)
    monkeypatch.setattr(verification, "_START_METHOD", "fork")
    _fail_in_worker(monkeypatch, "die")
    result = CliRunner().invoke(cli, ["--db", db, "verify"])
    assert result.exit_code == 1
    assert "verify's second process ended without an answer" in result.output
    assert "intact" not in result.output


def test_the_second_process_after_a_fault_in_the_first_is_stopped(db):
    _tamper(db, "UPDATE events SET data = 'x' WHERE position = 2")
    report = _same(db, 150)
    assert report["position"] == 2
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("position", [None, 30, 220])
def test_a_spawned_second_process_gives_the_same_report(db, position):
    if position is not None:
        _tamper(
            db,
            f"UPDATE merkle_nodes SET hash = 'ff' || substr(hash, 3) WHERE level = 0 AND idx = {position - 1}",
        )
    report = _same(db, 150, start_method="spawn")
    assert report["position"] == position


@pytest.mark.parametrize("name", ["a b.db", "a?b.db", "a%41b.db"])
def test_the_second_process_opens_a_file_whatever_its_name(db, tmp_path, name):
    """It opens the ledger from the store's URL, where such names are quoted."""
    odd = tmp_path / name
    shutil.copy(db, odd)
    _tamper(
        str(odd),
        "UPDATE merkle_nodes SET hash = 'ff' || substr(hash, 3) WHERE level = 0 AND idx = 279",
    )
    assert _same(str(odd), 150)["position"] == 280


def test_small_ledgers_stay_in_one_process_and_large_ones_split_aligned():
    assert verification._split_point(verification.PARALLEL_FROM - 1) == 0
    split = verification._split_point(1_000_000)
    assert (
        split % verification._ALIGN == 0 and 1_000_000 // 2 - verification._ALIGN < split <= 500_000
    )
    assert verification._split_point(verification.PARALLEL_FROM) > 0


def test_a_store_another_process_cannot_open_is_verified_in_one_process(tmp_path):
    memory = SqlEventStore.open("sqlite://", create=True)
    assert memory.reader_url() is None
    assert verification.verify_ledger(memory, split=1).intact  # no second process asked for
    memory.close()
    store = SqlEventStore.open(str(tmp_path / "x.db"), create=True)
    with store.session():
        assert store.reader_url() is None  # it would not see the session's rows
    assert store.reader_url() is not None
    store.close()


# --- PostgreSQL ----------------------------------------------------------------------------


@pytest.fixture
def pg_ledger(make_ledger, pg_target):
    ledger = make_ledger(pg_target)
    lines = list(synthetic_lines(200, 7))
    ledger.import_lines(lines[:100])
    integrity.make_checkpoint(ledger.store, ledger.origin, ledger.clock())
    ledger.import_lines(lines[100:])
    engine = ledger.store.engine
    with engine.begin() as conn:
        for table in ("events", "merkle_nodes"):
            conn.exec_driver_sql(f"DROP TRIGGER {table}_no_update_delete ON {table}")
    return ledger


def _pg_same(ledger: Ledger, split: int) -> dict[str, Any]:
    single = verification.verify_ledger(ledger.store, split=0).to_json()
    assert verification.verify_ledger(ledger.store, split=split, batch=7).to_json() == single
    return single


def test_postgres_two_processes_give_the_one_process_report(pg_ledger):
    for split in (64, 100, 128, 150):
        report = _pg_same(pg_ledger, split)
        assert report["intact"] and (report["checked"], report["checkpoints"]) == (200, 1)
    with pg_ledger.store.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE merkle_nodes SET hash = '00' || substr(hash, 3) WHERE level = 2 AND idx = 40"
        )
    assert _pg_same(pg_ledger, 150)["position"] == 161
    with pg_ledger.store.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE events SET data = replace(data, '\"', ' \"') WHERE position = 170"
        )
    assert _pg_same(pg_ledger, 150)["position"] == 161  # the node before it comes first
    with pg_ledger.store.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE events SET data = substr(data, 1, 10) || 'Z' || substr(data, 12) "
            "WHERE position = 12"
        )
    report = _pg_same(pg_ledger, 150)
    assert report["position"] == 12 and "altered" in report["problem"]


def test_postgres_two_processes_check_the_sort_keys_as_one_does(pg_ledger):
    with pg_ledger.store.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE events SET occurred_key = '2099-01-01T00:00:00.000000Z' WHERE position = 180"
        )
    report = _pg_same(pg_ledger, 150)
    assert report["position"] == 180
    assert report["problem"].startswith(
        "its sort key (occurred_key) 2099-01-01T00:00:00.000000Z is not occurred_at "
    )
    with pg_ledger.store.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE ledger_settings SET value = 'Nowhere/Zone' WHERE key = 'timezone'"
        )
    report = _pg_same(pg_ledger, 150)
    assert (report["position"], report["problem"]) == (
        1,
        "the ledger's time zone setting 'Nowhere/Zone' is not a known time zone: "
        "the events' sort keys (occurred_key) cannot be checked",
    )
