"""The event store, for SQLite (a file) and PostgreSQL (a URL).

Every statement is written once, as SQL text, and runs through
ledger/store/db.py's database: sqlite3 alone for a file (opening a ledger file
to read or write imports no SQLAlchemy), SQLAlchemy's engine and psycopg for
PostgreSQL. The tables themselves are declared in ledger/store/schema.py,
which only creating them loads.

Why appends are serialised: the global position must be gap-free and in commit
order, so that a reader following the log never sees position N+1 before N is
committed. SQLite gets this from `BEGIN IMMEDIATE` (one writer at a time);
PostgreSQL from a transaction-level advisory lock taken before the head is read.
Unique (subject, version) and unique id are the backstop: a writer that lost a
race fails, it never overwrites.

Why SQLite writers retry on their own: `PRAGMA busy_timeout` makes SQLite wait
for another process's lock, but not always. Where waiting could deadlock (two
connections switching a rollback-journal file to WAL at once, or one switching
while another holds the write lock) SQLite answers SQLITE_BUSY at once, busy
handler or not. So the WAL switch at connect and `BEGIN IMMEDIATE` are retried
after jittered, doubling pauses; the busy timeout is the time left, so a writer
waits for the lock `_LOCK_PATIENCE` seconds in all, then fails with a
StorageError that says so. A process killed while holding the lock loses it
with its file locks (SQLite) or its connection (PostgreSQL's advisory lock).

Stored events cannot be changed through SQL either: triggers on both databases
make UPDATE and DELETE of `events` fail (and TRUNCATE on PostgreSQL). SQLite's
`INSERT OR REPLACE` deletes the row it replaces without firing delete triggers,
so a third SQLite trigger refuses any insert that would collide with a stored
event.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from ledger.errors import ConcurrencyError, LedgerConfigError, StorageError
from ledger.merkle import nodes_added_by_append
from ledger.records import StoredEvent, canonical_json

# The store's databases and their drivers (sqlite3 alone for a file).
from ledger.store.db import (
    Database,
    ServerDatabase,
    SqliteDatabase,
    _LockWaitExpired,
    database_url,
    describe_target,
    sqlite_path,
)
from ledger.store.rows import EVENT_COLUMNS

# Rows are decoded by ledger/store/rows.py, which the quick read path
# (ledger/store/quick.py) shares: one decoding for both.
from ledger.store.rows import decode_history_row as _decode_history_row
from ledger.store.rows import decode_row as decode_row
from ledger.store.rows import decode_sourceless_row as _decode_sourceless_row
from ledger.store.rows import decoded as _decoded
from ledger.vocabulary import LOG_TABLES

__all__ = [
    "EVENT_COLUMNS",
    "AppendSession",
    "SqlEventStore",
    "chunks",
    "database_url",
    "decode_row",
    "describe_target",
]

_ALL_COLUMNS = ", ".join(EVENT_COLUMNS)

# The append lock is per ledger: the schema's name, hashed, so ledgers in other
# schemas of the same database do not queue behind each other.
_APPEND_LOCK = (
    "SELECT pg_advisory_xact_lock(hashtextextended('policy-ledger append ' || current_schema(), 0))"
)

_SQLITE_TRIGGERS = [
    "CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events "
    "BEGIN SELECT RAISE(ABORT, 'policy-ledger: stored events are append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events "
    "BEGIN SELECT RAISE(ABORT, 'policy-ledger: stored events are append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS events_no_replace BEFORE INSERT ON events "
    "WHEN EXISTS (SELECT 1 FROM events WHERE position = NEW.position OR id = NEW.id "
    "OR (subject = NEW.subject AND version = NEW.version)) "
    "BEGIN SELECT RAISE(ABORT, 'policy-ledger: an event with this position, id or "
    "subject version is already stored (stored events are append-only)'); END",
]
_APPEND_ONLY_TABLES = ("merkle_nodes", "checkpoints")
_SQLITE_TRIGGERS += [
    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{action.lower()} BEFORE {action} ON {table} "
    f"BEGIN SELECT RAISE(ABORT, 'policy-ledger: {table} is append-only'); END"
    for table in _APPEND_ONLY_TABLES
    for action in ("UPDATE", "DELETE")
]
_POSTGRES_TRIGGERS = [
    "CREATE OR REPLACE FUNCTION policy_ledger_append_only() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN "
    "RAISE EXCEPTION 'policy-ledger: stored events are append-only'; END $$",
    "CREATE OR REPLACE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE ON events "
    "FOR EACH ROW EXECUTE FUNCTION policy_ledger_append_only()",
    "CREATE OR REPLACE TRIGGER events_no_truncate BEFORE TRUNCATE ON events "
    "FOR EACH STATEMENT EXECUTE FUNCTION policy_ledger_append_only()",
]
_POSTGRES_TRIGGERS += [
    f"CREATE OR REPLACE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
    "FOR EACH ROW EXECUTE FUNCTION policy_ledger_append_only()"
    for table in _APPEND_ONLY_TABLES
]


def _marks(count: int) -> str:
    """`?, ?, ?`: the parameters of an IN list of `count` values."""
    return ", ".join(["?"] * count)


def _of_kind(kind: str | None) -> tuple[str, tuple[Any, ...]]:
    """A WHERE condition (and its parameter) keeping the subjects of one kind, or none."""
    if kind is None:
        return "", ()
    prefix = f"{kind}/"
    # substr, not LIKE: no escaping of the kind's characters, the same on both databases.
    return f"substr(subject, 1, {len(prefix)}) = ?", (prefix,)


class SqlEventStore:
    """The one store implementation, on SQLite or PostgreSQL."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.dialect = db.dialect
        # The connection of this thread's open write session, if any: reads made
        # during the session go through it, so they see what it wrote so far.
        self._local = threading.local()
        self._engine: Any = None

    def _connect(self) -> AbstractContextManager[Any]:
        bound = getattr(self._local, "conn", None)
        return nullcontext(bound) if bound is not None else self.db.connect()

    @contextmanager
    def _reading(self) -> Iterator[Any]:
        """A connection whose statements see one snapshot (the session's, during a write)."""
        bound = getattr(self._local, "conn", None)
        if bound is not None:
            yield bound
            return
        with self.db.connect() as conn:
            self.db.begin(conn, write=False)
            try:
                yield conn
            finally:
                self.db.end_read(conn)

    @property
    def engine(self) -> Any:
        """An SQLAlchemy engine on this ledger's database, for tools that go around the store.

        The store itself never uses it on SQLite (it runs on sqlite3); made on
        first use.
        """
        if isinstance(self.db, ServerDatabase):
            return self.db.engine
        if self._engine is None:
            url = self.db.url
            if url is None:  # a memory database lives in its one connection
                raise LedgerConfigError("no other connection can reach this database")
            from sqlalchemy import create_engine

            self._engine = create_engine(url)
        return self._engine

    # --- opening -------------------------------------------------------------

    @classmethod
    def open(cls, target: str, *, create: bool = False) -> SqlEventStore:
        """Open the ledger at a path or URL; with `create`, make its tables."""
        url = database_url(target)
        try:
            path = sqlite_path(url)
        except ValueError as exc:
            raise LedgerConfigError(str(exc)) from None
        db: Database
        if path is not None:
            if path != ":memory:":
                if not create and not Path(path).exists():
                    raise LedgerConfigError(
                        f"no ledger at {path}: run `policy-ledger init` first "
                        "(or pass --db / set POLICY_LEDGER_DB)"
                    )
                if create:
                    try:
                        Path(path).parent.mkdir(parents=True, exist_ok=True)
                    except OSError as exc:
                        raise LedgerConfigError(
                            f"cannot create a ledger at {path}: {exc.strerror or exc}"
                        ) from None
            db = SqliteDatabase(path)
        else:
            backend = url.split("://", 1)[0].split("+", 1)[0]
            if backend != "postgresql":
                raise LedgerConfigError(
                    f"unsupported database '{backend}': use a file or PostgreSQL"
                )
            try:
                db = ServerDatabase(url)
            except ModuleNotFoundError:
                raise LedgerConfigError(
                    "PostgreSQL needs psycopg: pip install 'policy-ledger[postgres]'"
                ) from None
        store = cls(db)
        try:
            if create:
                store._create_schema()
            else:
                with db.connect() as conn:
                    tables = db.table_names(conn)
                    if "events" not in tables:
                        raise LedgerConfigError(
                            f"no ledger in {describe_target(target)}: run `policy-ledger init` first"
                        )
                    columns = db.column_names(conn, "events")
                if "schema" not in columns:
                    # Made before events carried their schema: all of them are schema 1.
                    with store._writing() as conn:
                        conn.execute(
                            "ALTER TABLE events ADD COLUMN schema INTEGER NOT NULL DEFAULT 1"
                        )
                if not tables >= LOG_TABLES:
                    # Made by an earlier version: add what is missing (never
                    # alters stored events) and back-fill the tree nodes.
                    store._create_schema()
        except (LedgerConfigError, StorageError):
            store.close()
            raise
        except db.errors as exc:
            # OperationalError (no server, no file access), but also DatabaseError
            # for a file that is not an SQLite database.
            store.close()
            raise StorageError(
                f"cannot open {describe_target(target)}: {_storage_reason(exc)}"
                f"{_read_only_hint(db)}"
            ) from None
        return store

    def create_tables(self, which: str) -> None:
        """Create the tables of `log` or `readmodels` that are missing, under the append lock."""
        with self._writing() as conn:
            self._create_tables(conn, which)

    def _create_tables(self, conn: Any, which: str) -> None:
        # SQLAlchemy renders the DDL: only here, when tables are made.
        from ledger.store import schema

        metadata = schema.metadata if which == "log" else schema.readmodel_metadata
        for statement in schema.create_statements(self.dialect, metadata):
            conn.execute(statement)

    def table_names(self) -> set[str]:
        """The tables the database holds (in the ledger's schema, on PostgreSQL)."""
        with self._connect() as conn:
            return self.db.table_names(conn)

    def _create_schema(self) -> None:
        with self._writing() as conn:
            # The read models' tables too, so that no later command needs DDL
            # (and SQLAlchemy to render it).
            self._create_tables(conn, "log")
            self._create_tables(conn, "readmodels")
            triggers = _SQLITE_TRIGGERS if self.dialect == "sqlite" else _POSTGRES_TRIGGERS
            for statement in triggers:
                conn.execute(statement)
            self._backfill_nodes(conn)

    def _backfill_nodes(self, conn: Any) -> None:
        """Store tree nodes for events appended before the ledger stored them."""
        (done,) = conn.execute("SELECT count(*) FROM merkle_nodes WHERE level = 0").fetchone()
        position = int(done)
        cache: dict[tuple[int, int], bytes] = {}
        while True:
            rows = conn.execute(
                "SELECT position, leaf_hash FROM events WHERE position > ? "
                "ORDER BY position LIMIT 5000",
                (position,),
            ).fetchall()
            if not rows:
                return
            added = self._tree_nodes(conn, [(int(p), str(h)) for p, h in rows], cache)
            conn.executemany(_INSERT_NODES, added)
            position = int(rows[-1][0])

    def _tree_nodes(
        self,
        conn: Any,
        leaves: Sequence[tuple[int, str]],
        cache: dict[tuple[int, int], bytes],
    ) -> list[tuple[int, int, str]]:
        """The (level, idx, hash) rows that appending these (position, leaf hash) pairs adds."""

        def get_node(level: int, index: int) -> bytes:
            if (level, index) not in cache:
                row = conn.execute(
                    "SELECT hash FROM merkle_nodes WHERE level = ? AND idx = ?", (level, index)
                ).fetchone()
                if row is None:
                    raise StorageError(
                        f"the tree has no node at level {level}, index {index}; run init to repair"
                    )
                cache[(level, index)] = bytes.fromhex(str(row[0]))
            return cache[(level, index)]

        rows: list[tuple[int, int, str]] = []
        for position, leaf in leaves:
            added = nodes_added_by_append(position - 1, bytes.fromhex(leaf), get_node)
            for level, index, digest in added:
                rows.append((level, index, digest.hex()))
            # Keep only the right edge: the siblings this climb joined are inside
            # the new perfect subtree now, and no later leaf asks for them.
            for level, index, _ in added[:-1]:
                cache.pop((level, index - 1), None)
            level, index, digest = added[-1]
            cache[(level, index)] = digest
        return rows

    def close(self) -> None:
        """Release connections."""
        self.db.dispose()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _writing(self) -> Any:
        """A transaction that holds the append lock until it commits."""
        return _WriteTransaction(self)

    # --- settings ------------------------------------------------------------

    def setting(self, key: str) -> str | None:
        """A ledger setting, or None."""
        with self._connect() as conn:
            row = conn.execute("SELECT value FROM ledger_settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def put_setting(self, key: str, value: str) -> None:
        """Write a ledger setting (only `init` does, before events exist)."""
        with self._writing() as conn:
            conn.execute("DELETE FROM ledger_settings WHERE key = ?", (key,))
            conn.execute("INSERT INTO ledger_settings (key, value) VALUES (?, ?)", (key, value))

    def setting_once(self, key: str, value: str) -> str:
        """Set a setting unless it is set, under the write lock; return the value that stands.

        Two processes running `init` at once must agree on one value, not
        each report their own while the last write wins.
        """
        with self._writing() as conn:
            row = conn.execute("SELECT value FROM ledger_settings WHERE key = ?", (key,)).fetchone()
            if row is not None:
                return str(row[0])
            conn.execute("INSERT INTO ledger_settings (key, value) VALUES (?, ?)", (key, value))
            return value

    # --- writing -------------------------------------------------------------

    def append(
        self,
        events: Sequence[StoredEvent],
        expected: Mapping[str, int],
        *,
        keep_positions: bool = False,
        stamp: Callable[[], str] | None = None,
    ) -> list[StoredEvent]:
        """Append all events in one transaction, or none (see `EventStore.append`).

        A subject missing from `expected` must be at the version before its
        first event in the batch; each subject's versions in the batch must
        follow on without a gap (ValueError otherwise: the caller's mistake).
        With `keep_positions` (a mirror copying another ledger), the events keep
        the positions they carry, which must follow the head without a gap
        (ConcurrencyError when the log has moved on; nothing is written).
        With `stamp`, `recorded_at` is read from it once the append lock is held
        (and the leaf hashes recomputed), so record time never runs backwards
        along the log, whatever the writers' race.
        """
        if not events:
            return []
        required = _required_versions(events, expected)
        first = events[0].position
        if keep_positions and [e.position for e in events] != list(
            range(first, first + len(events))
        ):
            raise ValueError("events appended with keep_positions must have consecutive positions")
        with self.session(stamp) as session:
            self._check_versions(session.conn, required)
            if keep_positions and first != session.next_position:
                raise ConcurrencyError(
                    f"the events start at position {first} but the log's next position is "
                    f"{session.next_position}: another writer changed it; nothing was written"
                )
            if stamp is not None:
                events = [e.restamped(session.recorded_at) for e in events]
            return session.add(events)

    @contextmanager
    def session(self, stamp: Callable[[], str] | None = None) -> Iterator[AppendSession]:
        """One write transaction holding the append lock: all of it commits, or none.

        Writes too large to hold in memory (an import of millions of events)
        add their events a chunk at a time; reads on this store made in the
        session see what it added. With `stamp`, the session's record time is
        read from it once the lock is held, never earlier than the last
        stored one, so record time follows commit order.
        """
        try:
            with self._writing() as conn:
                self._local.conn = conn
                try:
                    yield AppendSession(self, conn, stamp)
                finally:
                    self._local.conn = None
        except self.db.integrity_error as exc:
            raise ConcurrencyError(
                "another writer appended to the same subject or event id first; "
                f"nothing was written ({_first_line(getattr(exc, 'orig', None) or exc)})"
            ) from None
        except self.db.errors as exc:
            # Anything else the driver refuses (a lock timeout, or on PostgreSQL a
            # NUL character or an over-long value) is reported, not leaked.
            raise StorageError(f"the database refused the append: {_storage_reason(exc)}") from None

    @staticmethod
    def _last_recorded_at(conn: Any) -> str:
        last = conn.execute(
            "SELECT recorded_at FROM events ORDER BY position DESC LIMIT 1"
        ).fetchone()
        return "" if last is None else str(last[0])

    def _check_versions(self, conn: Any, expected: Mapping[str, int]) -> None:
        subjects = sorted(expected)
        current = _versions_of(conn, subjects)
        for subject in subjects:
            if current.get(subject, 0) != expected[subject]:
                raise ConcurrencyError(
                    f"{subject} is at version {current.get(subject, 0)}, not "
                    f"{expected[subject]}: another writer changed it; nothing was written, "
                    "try again"
                )

    # --- reading -------------------------------------------------------------

    def read_subject(self, subject: str) -> list[StoredEvent]:
        """A subject's events in version order."""
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT {_ALL_COLUMNS} FROM events WHERE subject = ? ORDER BY version", (subject,)
            )
            return [decode_row(row) for row in rows]

    def read_subjects(self, subjects: Iterable[str]) -> dict[str, list[StoredEvent]]:
        """Several subjects' events at once, each in version order (absent ones map to [])."""
        wanted = sorted(set(subjects))
        found: dict[str, list[StoredEvent]] = {subject: [] for subject in wanted}
        with self._reading() as conn:
            for chunk in chunks(wanted, 500):
                rows = conn.execute(
                    f"SELECT {_ALL_COLUMNS} FROM events WHERE subject IN ({_marks(len(chunk))}) "
                    "ORDER BY subject, version",
                    tuple(chunk),
                )
                for row in rows:
                    stored = decode_row(row)
                    found[stored.subject].append(stored)
        return found

    def read_all(
        self,
        after: int = 0,
        *,
        batch_size: int = 5000,
        kinds: Sequence[str] | None = None,
        sources: bool = True,
    ) -> Iterator[StoredEvent]:
        """Every event after a position (of `kinds`, if given), in position order, streamed.

        With `sources=False` the events come without sources and leaf hash,
        which no fold reads: a replay of the whole log then neither decodes
        nor holds them.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        if sources:
            for row in self.scan(after=after, kinds=kinds, batch_size=batch_size):
                yield decode_row(row)
        else:
            for row in self.scan(
                _SOURCELESS_COLUMNS, after=after, kinds=kinds, batch_size=batch_size
            ):
                yield _decoded(row, _decode_sourceless_row)

    def scan(
        self,
        columns: Sequence[str] = EVENT_COLUMNS,
        *,
        after: int = 0,
        kinds: Sequence[str] | None = None,
        batch_size: int = 5000,
    ) -> Iterator[tuple[Any, ...]]:
        """Rows of `events` (the columns asked for, as stored) in position order, streamed.

        The bulk readers' path (verify, rebuild, continuity): one query read
        as it goes, no mapping objects, no decoding. `kinds` keeps only the
        subjects of those kinds (`commitment`, `budget`, ...).
        """
        unknown = set(columns) - set(EVENT_COLUMNS)
        if unknown:
            raise ValueError(f"no such event columns: {', '.join(sorted(unknown))}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        wanted = ", ".join(["position", *columns])  # the key of the next batch comes first
        conditions = [_of_kind(kind) for kind in kinds or ()]
        where = " OR ".join(condition for condition, _ in conditions)
        params: tuple[Any, ...] = tuple(p for _, values in conditions for p in values)
        sql = (
            f"SELECT {wanted} FROM events WHERE "
            + (f"({where}) AND " if where else "")
            + "position > ? ORDER BY position LIMIT ?"
        )
        with self._connect() as conn:
            while True:
                # Each batch is a new statement, so a reader following the log
                # sees events committed after it started (autocommit on SQLite).
                rows = conn.execute(sql, (*params, after, batch_size)).fetchall()
                for row in rows:
                    yield row[1:]
                if len(rows) < batch_size:
                    return
                after = rows[-1][0]

    def histories(self, upto: int, *, batch_size: int = 5000) -> Iterator[list[StoredEvent]]:
        """Every subject's events at positions up to `upto`, one subject at a time, without sources.

        Each list is one subject's every event (retracted ones and
        retractions included) in valid-time order, occurred_key then
        position; subjects come in the database's order of text. A full
        replay folds these as they come, holding one history instead of the
        whole log: the index on (subject, occurred_key) gives this order on
        SQLite without a sort (position is the rowid, the index's last
        column). One statement, so one snapshot; `upto` (the head read before)
        makes the result exactly that prefix of the log.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        sql = (
            f"SELECT {', '.join(_SOURCELESS_COLUMNS)} FROM events WHERE position <= ? "
            "ORDER BY subject, occurred_key, position"
        )
        decode, subject_at = _decode_history_row, _SOURCELESS_COLUMNS.index("subject")
        history: list[StoredEvent] = []
        subject: Any = None
        with self._connect() as conn:
            for batch in self.db.stream(conn, sql, (upto,), batch_size):
                for row in batch:
                    if row[subject_at] != subject:
                        if history:
                            yield history
                        history, subject = [], row[subject_at]
                    try:  # inline, not through `_decoded`: a call per row is a tenth of the read
                        history.append(decode(row))
                    except (ValueError, TypeError, KeyError):
                        history.append(_decoded(row, decode))  # raises CorruptRecord as everywhere
        if history:
            yield history

    def head(self) -> int:
        """The last committed position (0 when empty)."""
        with self._connect() as conn:
            (value,) = conn.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()
            return int(value)

    def size_known_at(self, recorded_key: str) -> int:
        """How many events were recorded at or before `recorded_key` (record time follows position)."""
        with self._connect() as conn:
            (value,) = conn.execute(
                "SELECT coalesce(max(position), 0) FROM events WHERE recorded_at <= ?",
                (recorded_key,),
            ).fetchone()
            return int(value)

    def versions(self, subjects: Iterable[str]) -> dict[str, int]:
        """Current version per subject that has events."""
        with self._reading() as conn:
            return _versions_of(conn, sorted(set(subjects)))

    def find(self, event_ids: Iterable[str]) -> dict[str, StoredEvent]:
        """Stored events by id."""
        found: dict[str, StoredEvent] = {}
        with self._reading() as conn:
            for chunk in chunks(sorted(set(event_ids)), 500):
                rows = conn.execute(
                    f"SELECT {_ALL_COLUMNS} FROM events WHERE id IN ({_marks(len(chunk))})",
                    tuple(chunk),
                )
                for row in rows:
                    stored = decode_row(row)
                    found[stored.id] = stored
        return found

    def referencing(self, subjects: Iterable[str]) -> list[StoredEvent]:
        """Events whose data names one of the subjects, in position order."""
        found: dict[int, StoredEvent] = {}
        with self._reading() as conn:
            for chunk in chunks(sorted(set(subjects)), 500):
                rows = conn.execute(
                    f"SELECT {_ALL_COLUMNS} FROM events WHERE position IN "
                    f"(SELECT position FROM event_refs WHERE ref IN ({_marks(len(chunk))}))",
                    tuple(chunk),
                )
                for row in rows:
                    stored = decode_row(row)
                    found[stored.position] = stored
        return [found[p] for p in sorted(found)]

    # --- the tree and checkpoints ---------------------------------------------

    def node(self, level: int, index: int) -> bytes | None:
        """A stored perfect-subtree hash."""
        return self.nodes([(level, index)]).get((level, index))

    def nodes(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """Stored perfect-subtree hashes by (level, index); missing ones are absent."""
        found: dict[tuple[int, int], bytes] = {}
        by_level: dict[int, list[int]] = {}
        for level, index in keys:
            by_level.setdefault(level, []).append(index)
        with self._reading() as conn:
            for level, indexes in by_level.items():
                for start in range(0, len(indexes), 500):
                    chunk = indexes[start : start + 500]
                    rows = conn.execute(
                        "SELECT idx, hash FROM merkle_nodes WHERE level = ? "
                        f"AND idx IN ({_marks(len(chunk))})",
                        (level, *chunk),
                    )
                    found.update({(level, int(i)): bytes.fromhex(str(h)) for i, h in rows})
        return found

    def level_nodes(self, level: int, after: int, limit: int) -> list[tuple[int, str]]:
        """Stored (idx, hash) of one tree level with idx > after, in idx order, at most `limit`.

        Verify reads each level this way, in keyset batches, as its streaming
        tree completes nodes.
        """
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT idx, hash FROM merkle_nodes WHERE level = ? AND idx > ? "
                "ORDER BY idx LIMIT ?",
                (level, after, limit),
            ).fetchall()
            # As stored: verify reports a node whose index or hash is not what it should be.
            return [(idx, digest) for idx, digest in rows]

    def node_count(self, level: int) -> int:
        """How many nodes of a level are stored (level 0: the tree's leaves)."""
        with self._connect() as conn:
            (count,) = conn.execute(
                "SELECT count(*) FROM merkle_nodes WHERE level = ?", (level,)
            ).fetchone()
            return int(count)

    def record_checkpoint(
        self, size: int, root: str, recorded_at: str, note: str
    ) -> dict[str, Any]:
        """Keep a checkpoint the ledger issued and return the stored one.

        The first checkpoint issued for a size stays: asking again returns it.
        """
        with self._writing() as conn:
            existing = conn.execute(
                "SELECT size, root, recorded_at, note FROM checkpoints WHERE size = ?", (size,)
            ).fetchone()
            if existing is None:
                conn.execute(
                    "INSERT INTO checkpoints (size, root, recorded_at, note) VALUES (?, ?, ?, ?)",
                    (size, root, recorded_at, note),
                )
                return {"size": size, "root": root, "recorded_at": recorded_at, "note": note}
            if str(existing[1]) != root:
                raise StorageError(
                    f"a checkpoint of size {size} with another root is stored: run verify"
                )
            return _checkpoint(existing)

    def checkpoints(self) -> list[dict[str, Any]]:
        """Every stored checkpoint, smallest size first."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT size, root, recorded_at, note FROM checkpoints ORDER BY size"
            ).fetchall()
            return [_checkpoint(row) for row in rows]

    def subjects(self, kind: str | None = None) -> list[str]:
        """Every subject (of one kind), sorted."""
        condition, params = _of_kind(kind)
        where = f" WHERE {condition}" if condition else ""
        with self._connect() as conn:
            rows = conn.execute(f"SELECT DISTINCT subject FROM events{where}", params)
            return sorted(str(s) for (s,) in rows)

    # --- verify's reads (ledger/integrity.py) ----------------------------------------

    def reader_url(self) -> str | None:
        """A URL another process can open to read this ledger as this store does, or None.

        None for an in-memory SQLite database (another process cannot see it)
        and during this thread's write session (another connection would not
        see the session's uncommitted rows). The URL carries the password:
        hand it to a process, never print it.
        """
        if getattr(self._local, "conn", None) is not None:
            return None
        return self.db.url

    def verify_rows(
        self, *, after: int = 0, upto: int | None = None, batch_size: int = 5000
    ) -> Iterator[Sequence[Sequence[Any]]]:
        """Rows of every column of `events` (EVENT_COLUMNS order) with after < position <= upto.

        In position order, one list per keyset batch (a new statement each, so
        a reader following the log sees events committed after it started).
        `data` and `sources` come as their UTF-8 bytes, which is what verify
        hashes: no decoding to text and encoding back (on SQLite, where a
        stored text is not checked as UTF-8, bytes that are not UTF-8 reach
        verify, whose JSON reader reports them, instead of failing the read).
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        last = 2**63 - 1 if upto is None else upto  # a BIGINT's largest: no bound
        as_bytes = "CAST({} AS BLOB)" if self.dialect == "sqlite" else "convert_to({}, 'UTF8')"
        columns = ", ".join(
            as_bytes.format(name) if name in ("data", "sources") else name for name in EVENT_COLUMNS
        )
        sql = (
            f"SELECT {columns} FROM events WHERE position > ? AND position <= ? "
            "ORDER BY position LIMIT ?"
        )
        with self._connect() as conn:
            while True:
                rows = conn.execute(sql, (after, last, batch_size)).fetchall()
                if rows:
                    yield rows
                if len(rows) < batch_size:
                    return
                after = rows[-1][0]


def _versions_of(conn: Any, subjects: Sequence[str]) -> dict[str, int]:
    """The current version of each of `subjects` that has events."""
    current: dict[str, int] = {}
    for chunk in chunks(subjects, 500):
        rows = conn.execute(
            f"SELECT subject, max(version) FROM events WHERE subject IN ({_marks(len(chunk))}) "
            "GROUP BY subject",
            tuple(chunk),
        )
        current.update({str(s): int(v) for s, v in rows})
    return current


def _checkpoint(row: Sequence[Any]) -> dict[str, Any]:
    size, root, recorded_at, note = row
    return {
        "size": int(size),
        "root": str(root),
        "recorded_at": str(recorded_at),
        "note": str(note),
    }


class AppendSession:
    """Appends inside one write transaction (see `SqlEventStore.session`)."""

    def __init__(self, store: SqlEventStore, conn: Any, stamp: Callable[[], str] | None) -> None:
        self.store = store
        self.conn = conn
        (head,) = conn.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()
        self.next_position = int(head) + 1
        self.recorded_at = max(stamp(), store._last_recorded_at(conn)) if stamp is not None else ""
        # The tree's right edge (the perfect subtrees a new leaf may join), kept
        # across chunks: O(log n) entries, read from the table when first needed.
        self._frontier: dict[tuple[int, int], bytes] = {}
        self._written = self._restated = 0  # rows written by this session; at the last ANALYZE

    def add(self, events: Sequence[StoredEvent]) -> list[StoredEvent]:
        """Place events at the next positions and write them, their tree nodes and refs.

        The caller has given each event its version (checked under this lock)
        and, when the session stamps, the session's `recorded_at`.
        """
        start = self.next_position
        placed = [
            e if e.position == start + i else e.placed_at(start + i) for i, e in enumerate(events)
        ]
        if not placed:
            return placed
        leaves = [(e.position, e.leaf_hash) for e in placed]
        nodes = self.store._tree_nodes(self.conn, leaves, self._frontier)
        refs = [(e.position, ref) for e in placed for ref in sorted(e.references())]
        rows = [_row_values(e) for e in placed]
        if self.store.dialect == "postgresql":
            self._copy(rows, nodes, refs)
            self._restate(len(rows))
        else:
            # The driver's executemany with tuples.
            self.conn.executemany(_INSERT_EVENTS, rows)
            self.conn.executemany(_INSERT_NODES, nodes)
            if refs:
                self.conn.executemany(_INSERT_REFS, refs)
        self.next_position = start + len(placed)
        return placed

    def _restate(self, added: int) -> None:
        """PostgreSQL: refresh the planner's statistics as a large write grows the log.

        Without statistics the planner guesses few distinct subjects and
        answers each chunk's lookup of 500 subjects with a scan of the whole
        table, so an import slowed down chunk after chunk. ANALYZE inside the
        transaction counts the rows it has written; it runs whenever the rows
        written have doubled (a dozen times for a million events).
        """
        self._written += added
        if self._written >= max(_RESTATE_AFTER, 2 * self._restated):
            self.conn.execute("ANALYZE events, event_refs")
            self._restated = self._written

    def _copy(
        self,
        rows: list[tuple[Any, ...]],
        nodes: list[tuple[int, int, str]],
        refs: list[tuple[int, str]],
    ) -> None:
        """PostgreSQL: COPY the rows in, inside the session's transaction.

        COPY skips per-statement parsing and per-row round trips; constraints
        and triggers still apply. The driver's errors are mapped here, since
        they do not pass through SQLAlchemy.
        """
        import psycopg

        cursor = self.conn.driver.cursor()
        try:
            for table, columns, values in (
                ("events", EVENT_COLUMNS, rows),
                ("merkle_nodes", ("level", "idx", "hash"), nodes),
                ("event_refs", ("position", "ref"), refs),
            ):
                if values:
                    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        for value in values:
                            copy.write_row(value)
        except psycopg.errors.IntegrityError as exc:
            raise ConcurrencyError(
                "another writer appended to the same subject or event id first; "
                f"nothing was written ({_first_line(exc)})"
            ) from None
        except psycopg.Error as exc:
            raise StorageError(f"the database refused the append: {_first_line(exc)}") from None
        finally:
            cursor.close()


_RESTATE_AFTER = 10_000  # rows a session writes before it first refreshes PostgreSQL's statistics


def _insert_sql(table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({_marks(len(columns))})"


_INSERT_EVENTS = _insert_sql("events", EVENT_COLUMNS)
_INSERT_NODES = _insert_sql("merkle_nodes", ("level", "idx", "hash"))
_INSERT_REFS = _insert_sql("event_refs", ("position", "ref"))


class _WriteTransaction:
    """Context manager: a transaction holding the append lock, committed on exit."""

    def __init__(self, store: SqlEventStore) -> None:
        self.store = store
        self.conn: Any = None
        self._connection: Any = None

    def __enter__(self) -> Any:
        db = self.store.db
        try:
            self._connection = db.connect()
            self.conn = self._connection.__enter__()
            db.begin(self.conn, write=True)
            if self.store.dialect == "postgresql":
                self.conn.execute(_APPEND_LOCK)
        except db.errors as exc:
            if self._connection is not None:
                self._connection.__exit__(None, None, None)
            raise StorageError(f"cannot start a write: {_storage_reason(exc)}") from None
        return self.conn

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        db = self.store.db
        try:
            if exc_type is None:
                db.commit(self.conn)
            else:
                db.rollback(self.conn)
        except BaseException as failure:
            self._connection.__exit__(type(failure), failure, failure.__traceback__)
            raise
        self._connection.__exit__(exc_type, exc, tb)


def _required_versions(
    events: Sequence[StoredEvent], expected: Mapping[str, int]
) -> dict[str, int]:
    """The version each subject must be at before the batch; refuses version gaps."""
    required = dict(expected)
    last: dict[str, int] = {}
    for stored in events:
        if stored.subject not in last:
            last[stored.subject] = required.setdefault(stored.subject, stored.version - 1)
        previous = last[stored.subject]
        if stored.version != previous + 1:
            raise ValueError(
                f"event {stored.id} of {stored.subject} has version {stored.version}, "
                f"but the version after {previous} is {previous + 1}"
            )
        last[stored.subject] = stored.version
    return required


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """Slices of at most `size` items (SQL IN lists stay under the drivers' limits)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _read_only_hint(db: Database) -> str:
    """Why an SQLite ledger in a read-only folder cannot be opened, and what to do."""
    if not isinstance(db, SqliteDatabase) or db.memory:
        return ""
    folder = os.path.dirname(os.path.abspath(db.path))
    if os.access(folder, os.W_OK):
        return ""
    # Every command may write beside the ledger: its write-ahead log, and the
    # read models that queries bring up to date first.
    return (
        f" ({folder} is read-only, and policy-ledger writes beside the ledger: "
        "copy the file to a writable folder to read it)"
    )


def _storage_reason(exc: BaseException) -> str:
    """The driver's reason; for a lock that outlasted the wait, what to do about it."""
    cause = getattr(exc, "orig", None) or exc
    if isinstance(cause, _LockWaitExpired):
        return f"{cause}; nothing was written, try again when it has finished"
    return _first_line(exc)


def _row_values(stored: StoredEvent) -> tuple[Any, ...]:
    """An event's row, in EVENT_COLUMNS order."""
    return (
        stored.position,
        stored.id,
        stored.type,
        stored.subject,
        stored.version,
        stored.occurred_at,
        stored.occurred_key,
        stored.recorded_at,
        stored.recorded_by,
        # Stored as canonical (RFC 8785) text, byte for byte the same on both
        # databases, so verify can hash the stored text as it stands.
        (stored.data_json or canonical_json(stored.data)).decode("utf-8"),
        (stored.sources_json or canonical_json(stored.sources)).decode("utf-8"),
        stored.leaf_hash,
        stored.schema,
    )


# Every column but `sources` and `leaf_hash`, in EVENT_COLUMNS order.
_SOURCELESS_COLUMNS = tuple(c for c in EVENT_COLUMNS if c not in ("sources", "leaf_hash"))
