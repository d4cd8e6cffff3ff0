"""Stored events cannot be changed through SQL: the database itself refuses.

These tests go around the program, with a plain SQLAlchemy engine (no pragmas,
no advisory lock), as anyone with the database file or URL could.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from ledger.records import StoredEvent
from ledger.service import Ledger
from ledger.store.sql import SqlEventStore, database_url
from tests.builders import actor, lines, made

REFUSED = "append-only"


@pytest.fixture
def stored(db_target: str, make_ledger: Callable[..., Ledger]) -> list[StoredEvent]:
    """Two events recorded through the ledger."""
    ledger = make_ledger(db_target)
    return ledger.import_lines(lines(actor("han"), made("gpus", by="actor/han"))).added


@pytest.fixture
def raw_sql(db_target: str) -> Iterator[Engine]:
    """A plain engine on the same database, outside the program."""
    engine = create_engine(database_url(db_target))
    yield engine
    engine.dispose()


def events_now(target: str) -> list[StoredEvent]:
    """Every stored event, read by a fresh store."""
    store = SqlEventStore.open(target)
    try:
        return list(store.read_all())
    finally:
        store.close()


def refuse(engine: Engine, statement: str) -> None:
    """Run a statement and expect the database to refuse it."""
    with pytest.raises(DBAPIError, match=REFUSED), engine.begin() as conn:
        conn.execute(text(statement))


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET data = '{}' WHERE position = 1",
        "UPDATE events SET recorded_at = '2000-01-01T00:00:00.000000Z'",
        "UPDATE events SET leaf_hash = leaf_hash",
    ],
)
def test_updating_a_stored_event_through_sql_fails_and_changes_nothing(
    db_target: str, stored: list[StoredEvent], raw_sql: Engine, statement: str
) -> None:
    refuse(raw_sql, statement)
    assert events_now(db_target) == stored


@pytest.mark.parametrize(
    "statement", ["DELETE FROM events WHERE position = 2", "DELETE FROM events"]
)
def test_deleting_a_stored_event_through_sql_fails_and_changes_nothing(
    db_target: str, stored: list[StoredEvent], raw_sql: Engine, statement: str
) -> None:
    refuse(raw_sql, statement)
    assert events_now(db_target) == stored


def test_truncating_the_events_table_fails_on_postgresql(
    pg_target: str, make_ledger: Callable[..., Ledger]
) -> None:
    ledger = make_ledger(pg_target)
    stored = ledger.import_lines(lines(actor("han"))).added
    engine = create_engine(database_url(pg_target))
    try:
        refuse(engine, "TRUNCATE events")
        refuse(engine, "TRUNCATE events CASCADE")
    finally:
        engine.dispose()
    assert events_now(pg_target) == stored


def test_replacing_a_stored_event_through_an_insert_fails_on_sqlite(
    sqlite_target: str, make_ledger: Callable[..., Ledger]
) -> None:
    # INSERT OR REPLACE deletes the old row without firing delete triggers.
    ledger = make_ledger(sqlite_target)
    stored = ledger.import_lines(lines(actor("han"), actor("kim"))).added
    engine = create_engine(database_url(sqlite_target))
    try:
        for statement in (
            "INSERT OR REPLACE INTO events SELECT position, id, type, subject, version, "
            "occurred_at, occurred_key, recorded_at, 'mallory', data, sources, leaf_hash, schema "
            "FROM events WHERE position = 1",
            "REPLACE INTO events SELECT 1, 'forged-id', type, subject, version + 5, "
            "occurred_at, occurred_key, recorded_at, recorded_by, data, sources, leaf_hash, schema "
            "FROM events WHERE position = 2",
            "INSERT INTO events SELECT position, id, type, subject, version, occurred_at, "
            "occurred_key, recorded_at, recorded_by, '{}', sources, leaf_hash, schema FROM events "
            "WHERE position = 1 ON CONFLICT (position) DO UPDATE SET data = excluded.data",
        ):
            refuse(engine, statement)
    finally:
        engine.dispose()
    assert events_now(sqlite_target) == stored


def test_an_upsert_over_a_stored_event_fails_on_postgresql(
    pg_target: str, make_ledger: Callable[..., Ledger]
) -> None:
    ledger = make_ledger(pg_target)
    stored = ledger.import_lines(lines(actor("han"))).added
    engine = create_engine(database_url(pg_target))
    try:
        refuse(
            engine,
            "INSERT INTO events SELECT position, id, type, subject, version, occurred_at, "
            "occurred_key, recorded_at, recorded_by, '{}', sources, leaf_hash, schema FROM events "
            "WHERE position = 1 ON CONFLICT (position) DO UPDATE SET data = excluded.data",
        )
    finally:
        engine.dispose()
    assert events_now(pg_target) == stored


def test_the_ledger_still_appends_after_a_refused_change(
    db_target: str, stored: list[StoredEvent], raw_sql: Engine, make_ledger: Callable[..., Ledger]
) -> None:
    refuse(raw_sql, "DELETE FROM events")
    ledger = make_ledger(db_target)
    (kim,) = ledger.import_lines(lines(actor("kim"))).added
    assert kim.position == 3
    assert events_now(db_target) == [*stored, kim]
