"""Present-tense reads of an SQLite ledger whose read models are current.

`show` and `list` without --as-of/--known-at read the read-model tables and
nothing else. When those tables already reflect the whole log, that takes the
standard library and orjson: no SQLAlchemy, no pydantic, no event catalogue,
which are most of a command's start-up on a small ledger (docs/performance.md).

A published copy in a folder nobody can write to is read in place this way
(see `_published`); every other command needs to write beside the ledger.

This module answers only that happy case, read-only, in one read transaction,
and says None for anything else: a URL rather than a file, a file that is not
a ledger of this release's layout, read models behind the log (they must be
caught up, which needs the folds), a subject it does not hold, a recorder name
it would have to judge. The caller then takes the full path through
`ledger.service.Ledger`, which gives the same answer or the proper error, so
nothing here words an error of its own.

The tables and their state column are documented in docs/readmodels.md and
written by ledger/store/readmodels.py; tests/test_quick_read.py holds every
answer here to the full path's.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from ledger.vocabulary import (
    MAX_SLUG,
    READ_MODEL_TRACKER,
    SLUG_PATTERN,
    SUBJECT_KINDS,
    TZ_SETTING,
    judged,
    with_status_inputs,
)

# Every table of the layout this release writes (ledger/store/sql.py's and
# ledger/store/readmodels.py's metadata; a test keeps the two lists equal).
# A ledger missing one was made by an earlier release and is upgraded by the
# full path on open.
TABLES = frozenset(
    {
        "events",
        "event_refs",
        "merkle_nodes",
        "checkpoints",
        "ledger_settings",
        "actors",
        "offices",
        "tenures",
        "commitments",
        "targets",
        "assessments",
        "budgets",
        "readmodel_tracking",
    }
)
SECTIONS = ("actors", "offices", "commitments", "budgets")
DISABLE_ENV = "POLICY_LEDGER_QUICK_READ"  # "0" sends every read through the full path

_SUBJECT_RE = re.compile(rf"({'|'.join(SUBJECT_KINDS)})/({SLUG_PATTERN})")
# What a damaged table or a file changed under us can raise while read here:
# the full path then reads the same rows and reports as it does.
_UNREADABLE = (sqlite3.Error, ValueError, KeyError, TypeError, IndexError)


def subject_state(target: str, user: str, subject: str) -> dict[str, Any] | None:
    """`Ledger.subject_state(subject, ledger.view())` when the read models are current, else None."""
    match = _SUBJECT_RE.fullmatch(subject)
    if match is None or len(match.group(2)) > MAX_SLUG:
        return None
    section = f"{match.group(1)}s"
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
    try:
        with _current(target, user) as read:
            if read is None:
                return None
            conn, zone = read
            return judged({name: _section(conn, name) for name in SECTIONS}, _today(zone))
    except _UNREADABLE:
        return None


@contextmanager
def _current(target: str, user: str) -> Iterator[tuple[sqlite3.Connection, ZoneInfo] | None]:
    """An open read transaction on the ledger at `target` and its zone, when the read models
    hold the whole log; None otherwise."""
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
        conn.execute("BEGIN")  # one snapshot: the check and the rows agree
        zone = _checked(conn)
        yield None if zone is None else (conn, zone)


def _checked(conn: sqlite3.Connection) -> ZoneInfo | None:
    """The ledger's zone when this is a current-layout ledger whose read models are current."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not tables >= TABLES:
        return None
    if "schema" not in {row[1] for row in conn.execute("PRAGMA table_info(events)")}:
        return None
    (head,) = conn.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()
    tracked = conn.execute(
        "SELECT position FROM readmodel_tracking WHERE name = ?", (READ_MODEL_TRACKER,)
    ).fetchone()
    if tracked is None or tracked[0] != head:
        return None
    zone = conn.execute("SELECT value FROM ledger_settings WHERE key = ?", (TZ_SETTING,)).fetchone()
    return ZoneInfo(zone[0] if zone else "UTC")


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
