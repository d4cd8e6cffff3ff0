"""Reads of an SQLite ledger that need neither the service nor SQLAlchemy nor pydantic.

Two kinds of read, each answering a command the way `ledger.service.Ledger`
would, byte for byte:

* the present state (`show`, `list`, and `overdue`/`unfunded` without
  --as-of/--known-at) from the read-model tables, when those already reflect
  the whole log (the tracking row equals the head): catching them up needs
  the folds and a write, which is the service's job;
* the log itself (`history`, the audit queries, and on a small ledger
  `continuity`, `export` and any state asked of another moment), whose rows
  are decoded by ledger/store/rows.py, the decoding the SQL store uses, and
  handed to the same folds, reports and audit functions the service hands
  its events to (`answer`, `EventLog`).

Both take the standard library and orjson, plus the light ledger modules
(records, the folds, the audit queries: none imports pydantic): no
SQLAlchemy, no event catalogue, which are most of a command's start-up on a
small ledger (docs/performance.md).

A published copy in a folder nobody can write to is read in place this way
(see `_published`); every other command needs to write beside the ledger.

This module answers only the happy case, read-only, in one read transaction,
and says None for anything else: a URL rather than a file, a file that is not
a ledger of this release's layout, read models behind the log, a subject it
does not hold, an event stored under another schema than this release's, a
clock it cannot read, a recorder name it would have to judge, a row or a
history that does not read. The caller then takes the full path through
`ledger.service.Ledger`, which gives the same answer or the proper error, so
nothing here words an error of its own.

The tables and their state column are documented in docs/readmodels.md and
written by ledger/store/readmodels.py; tests/test_quick_read.py holds every
answer here to the full path's.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

import orjson

from ledger.vocabulary import (
    LOG_TABLES,
    READ_MODEL_TABLES,
    READ_MODEL_TRACKER,
    TZ_SETTING,
    check_subject,
    judged,
    subject_kind,
    with_status_inputs,
)

if TYPE_CHECKING:
    # Imported where the log is read: `show` and `list` read tables, not events.
    from ledger.projections.common import View
    from ledger.records import StoredEvent

# The tables of the layout this release writes. A ledger missing one was made
# by an earlier release and is upgraded by the full path on open.
TABLES = LOG_TABLES | READ_MODEL_TABLES
SECTIONS = ("actors", "offices", "commitments", "budgets")
DISABLE_ENV = "POLICY_LEDGER_QUICK_READ"  # "0" sends every read through the full path

# What a damaged table, a file changed under us or a bad zone setting can raise
# while read here: the full path then reads the same rows and reports as it does.
_UNREADABLE = (sqlite3.Error, ValueError, KeyError, TypeError, IndexError, OSError)
_T = TypeVar("_T")


def subject_state(target: str, user: str, subject: str) -> dict[str, Any] | None:
    """`Ledger.subject_state(subject, ledger.view())` when the read models are current, else None."""
    try:
        check_subject(subject)
    except ValueError:
        return None
    section = f"{subject_kind(subject)}s"
    try:
        with _current(target, user) as read:
            if read is None:
                return None
            conn, zone = read
            found = _section(conn, section, subject)
            if subject not in found:
                return None  # the full path says whether it has no events or none visible
            state: dict[str, Any] = judged({section: found}, _today(zone))[section][subject]
            return state
    except _UNREADABLE:
        return None


def state_sections(target: str, user: str) -> dict[str, dict[str, Any]] | None:
    """`Ledger.state_json(ledger.view())` when the read models are current, else None."""
    found = judged_sections(target, user)
    return None if found is None else found[0]


def judged_sections(target: str, user: str) -> tuple[dict[str, dict[str, Any]], date] | None:
    """`state_sections` and the day its statuses were judged on (the present view's
    `judged_on`, which `overdue` measures lateness from), or None."""
    try:
        with _current(target, user) as read:
            if read is None:
                return None
            conn, zone = read
            day = _today(zone)
            return judged({name: _section(conn, name) for name in SECTIONS}, day), day
    except _UNREADABLE:
        return None


class Declined(Exception):
    """The quick path cannot answer alone: the service must (raised inside `answer`)."""


class EventLog:
    """The log of an SQLite ledger in one read snapshot, read as the service reads it.

    Each method is the `ledger.service.Ledger` method of the same name on the
    same ledger, or raises `Declined` where that one would raise or do
    anything but read.
    """

    def __init__(self, conn: sqlite3.Connection, zone: ZoneInfo) -> None:
        self._conn = conn
        self.zone = zone

    def events(self) -> Iterator[StoredEvent]:
        """`Ledger.events()`: every stored event in position order, streamed."""
        return self._rows("ORDER BY position")

    def size(self) -> int:
        """How many events the log holds."""
        found = self._conn.execute("SELECT max(position) FROM events").fetchone()
        return int(found[0] or 0)

    def history(self, subject: str) -> list[StoredEvent]:
        """`Ledger.history(subject)`: the subject's events in version order."""
        try:
            check_subject(subject)
        except ValueError:
            raise Declined("a malformed subject") from None
        events = list(self._rows("WHERE subject = ? ORDER BY version", (subject,)))
        if not events:
            raise Declined("no events")  # the service says so
        return events

    def view(self, *, as_of: str | None = None, known_at: str | None = None) -> View:
        """`Ledger.view(as_of=..., known_at=...)`: the clocks read in the ledger's zone, and now."""
        from ledger.moments import normalise_occurred_at
        from ledger.projections.common import View
        from ledger.records import occurred_instant

        def moment(text: str) -> datetime:
            try:
                return occurred_instant(normalise_occurred_at(text), self.zone)
            except ValueError:
                raise Declined("a clock the service words an error about") from None

        return View(
            now=datetime.now(UTC),
            as_of=moment(as_of) if as_of else None,
            known_at=moment(known_at) if known_at else None,
            tz=self.zone,
        )

    def _rows(self, clause: str, parameters: tuple[Any, ...] = ()) -> Iterator[StoredEvent]:
        from ledger import upcasting
        from ledger.store.rows import EVENT_COLUMNS, decode_row

        current = upcasting.CURRENT_SCHEMA
        # The cursor reads as it is iterated, and closes with the connection.
        rows = self._conn.execute(
            f"SELECT {', '.join(EVENT_COLUMNS)} FROM events {clause}",  # no input in the text
            parameters,
        )
        for row in rows:
            stored = decode_row(row)
            if stored.schema != current:
                # Upcast through the catalogue, or refused as too new: the service's to do.
                raise Declined(f"an event stored under schema {stored.schema}")
            yield stored


def answer(target: str, user: str, compute: Callable[[EventLog], _T]) -> _T | None:
    """`compute(log)` on the log of the SQLite ledger at `target`, or None.

    None when the quick path cannot answer alone: the ledger is not one it
    reads (see the module's docstring), or `compute` raised anything at all,
    `Declined` or an error of the folds about a stored history (the service
    then raises its own). The log is read in one read transaction, so
    everything `compute` reads is one snapshot of it.
    """
    try:
        with _snapshot(target, user, LOG_TABLES) as read:
            if read is None:
                return None
            return compute(EventLog(*read))
    except Exception:  # whatever went wrong, the service answers and words the error
        return None


@contextmanager
def _current(target: str, user: str) -> Iterator[tuple[sqlite3.Connection, ZoneInfo] | None]:
    """`_snapshot` of every table, when the read models hold the whole log; None otherwise."""
    with _snapshot(target, user, TABLES) as read:
        yield read if read is not None and _tracking_head(read[0]) else None


@contextmanager
def _snapshot(
    target: str, user: str, tables: frozenset[str]
) -> Iterator[tuple[sqlite3.Connection, ZoneInfo] | None]:
    """An open read transaction on the ledger at `target` and its zone, when it is a ledger
    of the current layout (`tables`, the schema column) this path may read; None otherwise."""
    path = _ledger_file(target)
    if path is None or os.environ.get(DISABLE_ENV) == "0" or not _plain_name(user):
        yield None
        return
    try:
        # mode=rw: never create a file; query_only (below): never change one.
        # Not mode=ro: a read-only connection leaves the -wal and -shm files it
        # made beside the ledger, where the last read-write one removes them.
        conn = sqlite3.connect(_uri(path), uri=True, isolation_level=None)
    except sqlite3.Error:
        yield None
        return
    # Closing ends the read transaction (a rollback of nothing).
    with closing(conn):
        conn.execute("PRAGMA query_only=ON")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("BEGIN")  # one snapshot: the checks and the rows agree
        zone = _zone(conn, tables)
        yield None if zone is None else (conn, zone)


def _zone(conn: sqlite3.Connection, tables: frozenset[str]) -> ZoneInfo | None:
    """The ledger's zone when this is a current-layout ledger holding these tables."""
    present = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not present >= tables:
        return None
    if "schema" not in {row[1] for row in conn.execute("PRAGMA table_info(events)")}:
        return None
    zone = conn.execute("SELECT value FROM ledger_settings WHERE key = ?", (TZ_SETTING,)).fetchone()
    return ZoneInfo(zone[0] if zone else "UTC")


def _tracking_head(conn: sqlite3.Connection) -> bool:
    """Whether the read models reflect the whole log: the tracking row is at the head."""
    (head,) = conn.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()
    tracked = conn.execute(
        "SELECT position FROM readmodel_tracking WHERE name = ?", (READ_MODEL_TRACKER,)
    ).fetchone()
    return tracked is not None and tracked[0] == head


def _section(
    conn: sqlite3.Connection, name: str, subject: str | None = None
) -> dict[str, dict[str, Any]]:
    """readmodels.ReadModels.section: the states of a section by subject, in subject order."""
    columns = (
        "subject, state, closed, earliest_due, active"
        if name == "commitments"
        else ("subject, state")
    )
    query = f"SELECT {columns} FROM {name}"  # name is one of SECTIONS, never input
    rows = (
        conn.execute(f"{query} WHERE subject = ?", (subject,))
        if subject is not None
        else conn.execute(f"{query} ORDER BY subject")
    )
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        state: dict[str, Any] = orjson.loads(row[1])
        out[str(row[0])] = with_status_inputs(state, *row[2:]) if name == "commitments" else state
    return out


def _ledger_file(target: str) -> str | None:
    """The file a --db value names (as database_url reads it), or None for a URL or no file.

    os.path rather than pathlib and urllib: their imports alone cost a
    noticeable part of what this module saves.
    """
    if "://" in target or target in ("", ":memory:"):
        return None
    try:
        path = os.path.realpath(os.path.expanduser(target))
    except (OSError, ValueError):
        return None
    return path if os.path.isfile(path) else None


def _uri(path: str) -> str:
    """An SQLite URI for a file path: `%`, `?` and `#` escaped, nothing created (mode=rw),
    or read as immutable when the ledger is published read-only (see `_published`)."""
    escaped = path.replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    if _published(path):
        return f"file:{escaped}?mode=ro&immutable=1"
    return f"file:{escaped}?mode=rw"


def _published(path: str) -> bool:
    """A ledger in a folder this process cannot write to, with no write-ahead log beside it.

    A copy on read-only media, say. SQLite cannot make the shared-memory
    index a WAL-mode read needs there, so an ordinary open fails; read as
    immutable it needs none. That is sound only while nothing writes the
    file: with no -wal file no connection has it open (the last to close
    removes it), and a writer that opens it now writes to a new -wal, not to
    this file, until a checkpoint far beyond one read. With a -wal file,
    committed events may live only there: the ordinary path is taken.
    """
    if os.access(os.path.dirname(path), os.W_OK):
        return False
    return not os.path.lexists(f"{path}-wal")


def _plain_name(user: str) -> bool:
    """A recorder name the full path certainly accepts (service._checked_user): printable
    ASCII, 1 to 500 characters once stripped. Anything else is left to it to judge."""
    name = user.strip()
    return 1 <= len(name) <= 500 and name.isascii() and name.isprintable()


def _today(zone: ZoneInfo) -> Any:
    """The ledger-local day on which due dates are judged (View.judged_on with no --as-of)."""
    return datetime.now(UTC).astimezone(zone).date()
