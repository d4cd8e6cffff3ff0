"""The event store on SQLAlchemy Core, for SQLite (a file) and PostgreSQL (a URL).

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

import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    create_engine,
    event,
    func,
    inspect,
    or_,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from ledger.errors import ConcurrencyError, LedgerConfigError, StorageError
from ledger.merkle import nodes_added_by_append
from ledger.records import StoredEvent, canonical_json

# Rows are decoded by ledger/store/rows.py, which the quick read path
# (ledger/store/quick.py) shares: one decoding for both.
from ledger.store.rows import decode_history_row as _decode_history_row
from ledger.store.rows import decode_row as decode_row
from ledger.store.rows import decode_sourceless_row as _decode_sourceless_row
from ledger.store.rows import decoded as _decoded

metadata = MetaData()
Position = BigInteger().with_variant(Integer, "sqlite")

events_table = Table(
    "events",
    metadata,
    Column("position", Position, primary_key=True, autoincrement=False),
    Column("id", String(36), nullable=False, unique=True),
    Column("type", String(64), nullable=False),
    Column("subject", String(120), nullable=False),
    Column("version", Integer, nullable=False),
    Column("occurred_at", String(40), nullable=False),
    Column("occurred_key", String(32), nullable=False),
    Column("recorded_at", String(32), nullable=False),
    Column("recorded_by", Text, nullable=False),
    Column("data", Text, nullable=False),
    Column("sources", Text, nullable=False),
    Column("leaf_hash", String(64), nullable=False),
    # The event schema it was written under (ledger/upcasting.py); 1 = the contract's format.
    Column("schema", Integer, nullable=False, server_default="1"),
    UniqueConstraint("subject", "version", name="events_subject_version"),
)
Index("events_by_subject_time", events_table.c.subject, events_table.c.occurred_key)

EVENT_COLUMNS = tuple(column.name for column in events_table.columns)

# Which events name which subjects in their data (by, holder, commitment, ...):
# lets a rule re-check the events that depend on a subject that changed.
refs_table = Table(
    "event_refs",
    metadata,
    Column("position", Position, nullable=False),
    Column("ref", String(120), nullable=False),
    UniqueConstraint("ref", "position", name="event_refs_ref_position"),
)

# The Merkle tree's perfect subtrees, (level, idx) -> hash, written with the
# events they cover (see ledger/merkle.py for the layout): a root or a proof
# reads O(log n) rows. Level 0 repeats each event's leaf hash, so moving an
# event row to another position shows as a mismatch at that position.
nodes_table = Table(
    "merkle_nodes",
    metadata,
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("idx", Position, primary_key=True, autoincrement=False),
    Column("hash", String(64), nullable=False),
)

# Checkpoints the ledger has issued: (size, root) at a time, and the C2SP text.
checkpoints_table = Table(
    "checkpoints",
    metadata,
    Column("size", Position, primary_key=True, autoincrement=False),
    Column("root", String(64), nullable=False),
    Column("recorded_at", String(32), nullable=False),
    Column("note", Text, nullable=False),
)

settings_table = Table(
    "ledger_settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

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


def database_url(target: str) -> str:
    """A `--db` value (a file path or an SQLAlchemy URL) as an SQLAlchemy URL."""
    if "://" not in target:
        # Quoted, because the URL parser reads `?` as the start of a query and
        # decodes `%XX`: a file named `a?b.db` must stay that file.
        return "sqlite:///" + quote(str(Path(target).expanduser().resolve()), safe="/")
    if target.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + target.split("://", 1)[1]
    return target


def describe_target(target: str) -> str:
    """A URL or path safe to print (password hidden)."""
    url = make_url(database_url(target))
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    return url.render_as_string(hide_password=True)


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" hook below issue BEGIN itself, so that
        # writers can ask for BEGIN IMMEDIATE (pysqlite would defer it).
        dbapi_connection.isolation_level = None
        # The timeout first: switching to WAL waits for other processes' locks.
        dbapi_connection.execute(f"PRAGMA busy_timeout={int(_LOCK_PATIENCE * 1000)}")
        _patiently(dbapi_connection, "PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode == "IMMEDIATE":
            _patiently(connection.connection.driver_connection, "BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


_LOCK_PATIENCE = 60.0  # seconds an SQLite writer waits, in all, for another's lock
_FIRST_PAUSE = 0.005  # seconds before the first retry; doubles up to _LONGEST_PAUSE
_LONGEST_PAUSE = 1.0
_log = logging.getLogger(__name__)


class _LockWaitExpired(sqlite3.OperationalError):
    """SQLite still reported the file busy after `_LOCK_PATIENCE` seconds."""


def _patiently(raw: Any, statement: str) -> None:
    """Run a statement that takes a lock, retrying while SQLite reports SQLITE_BUSY.

    Before each retry the writer sleeps a random part of a pause that doubles
    from _FIRST_PAUSE to _LONGEST_PAUSE (full jitter: waiting processes do not
    retry in step); SQLite's busy handler then waits for the time left.
    """
    patience = _LOCK_PATIENCE
    deadline = time.monotonic() + patience
    pause = _FIRST_PAUSE
    retries = 0
    try:
        while True:
            try:
                raw.execute(statement)
                return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                    raise
                if time.monotonic() >= deadline:
                    raise _LockWaitExpired(
                        f"another process kept the ledger file locked for over {patience:g} s"
                    ) from None
            retries += 1
            nap = min(random.uniform(0, pause), max(deadline - time.monotonic(), 0))
            _log.debug("SQLite busy on %s; retry %d after %.3f s", statement, retries, nap)
            time.sleep(nap)
            pause = min(pause * 2, _LONGEST_PAUSE)
            left_ms = int((deadline - time.monotonic()) * 1000)
            raw.execute(f"PRAGMA busy_timeout={max(left_ms, 1)}")
    finally:
        if retries:
            raw.execute(f"PRAGMA busy_timeout={int(patience * 1000)}")


class SqlEventStore:
    """The one store implementation, on SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        # The connection of this thread's open write session, if any: reads made
        # during the session go through it, so they see what it wrote so far.
        self._local = threading.local()

    def _connect(self) -> AbstractContextManager[Connection]:
        bound: Connection | None = getattr(self._local, "conn", None)
        return nullcontext(bound) if bound is not None else self.engine.connect()

    # --- opening -------------------------------------------------------------

    @classmethod
    def open(cls, target: str, *, create: bool = False) -> SqlEventStore:
        """Open the ledger at a path or URL; with `create`, make its tables."""
        url = database_url(target)
        parsed = make_url(url)
        backend = parsed.get_backend_name()
        if backend == "sqlite":
            path = parsed.database
            if path and path != ":memory:":
                if not create and not os.path.exists(path):
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
            engine = _sqlite_engine(url)
        elif backend == "postgresql":
            try:
                # No server-side prepared statements: psycopg prepares a query
                # after five runs, and PostgreSQL may then keep a generic plan
                # made while the table was small (a sequential scan). Inside a
                # long import the table grows by a million rows, and that plan
                # made each chunk's lookups scan all of them.
                engine = create_engine(
                    url, pool_pre_ping=True, connect_args={"prepare_threshold": None}
                )
            except ModuleNotFoundError:
                raise LedgerConfigError(
                    "PostgreSQL needs psycopg: pip install 'policy-ledger[postgres]'"
                ) from None
        else:
            raise LedgerConfigError(f"unsupported database '{backend}': use a file or PostgreSQL")
        store = cls(engine)
        try:
            if create:
                store._create_schema()
            else:
                tables = set(inspect(engine).get_table_names())
                if "events" not in tables:
                    raise LedgerConfigError(
                        f"no ledger in {describe_target(target)}: run `policy-ledger init` first"
                    )
                columns = {c["name"] for c in inspect(engine).get_columns("events")}
                if "schema" not in columns:
                    # Made before events carried their schema: all of them are schema 1.
                    with store._writing() as conn:
                        conn.exec_driver_sql(
                            "ALTER TABLE events ADD COLUMN schema INTEGER NOT NULL DEFAULT 1"
                        )
                if not set(metadata.tables) <= tables:
                    # Made by an earlier version: add what is missing (never
                    # alters stored events) and back-fill the tree nodes.
                    store._create_schema()
        except DBAPIError as exc:
            # OperationalError (no server, no file access), but also DatabaseError
            # for a file that is not an SQLite database.
            engine.dispose()
            raise StorageError(
                f"cannot open {describe_target(target)}: {_storage_reason(exc)}"
                f"{_read_only_hint(engine)}"
            ) from None
        except (LedgerConfigError, StorageError):
            engine.dispose()
            raise
        return store

    def _create_schema(self) -> None:
        with self._writing() as conn:
            metadata.create_all(conn)
            triggers = _SQLITE_TRIGGERS if self.dialect == "sqlite" else _POSTGRES_TRIGGERS
            for statement in triggers:
                conn.exec_driver_sql(statement)
            self._backfill_nodes(conn)

    def _backfill_nodes(self, conn: Connection) -> None:
        """Store tree nodes for events appended before the ledger stored them."""
        done = conn.execute(
            select(func.count()).select_from(nodes_table).where(nodes_table.c.level == 0)
        )
        position = int(done.scalar_one())
        cache: dict[tuple[int, int], bytes] = {}
        while True:
            rows = conn.execute(
                select(events_table.c.position, events_table.c.leaf_hash)
                .where(events_table.c.position > position)
                .order_by(events_table.c.position)
                .limit(5000)
            ).all()
            if not rows:
                return
            added = self._tree_nodes(conn, [(int(p), str(h)) for p, h in rows], cache)
            conn.execute(
                nodes_table.insert(), [{"level": lv, "idx": ix, "hash": h} for lv, ix, h in added]
            )
            position = int(rows[-1][0])

    def _tree_nodes(
        self,
        conn: Connection,
        leaves: Sequence[tuple[int, str]],
        cache: dict[tuple[int, int], bytes],
    ) -> list[tuple[int, int, str]]:
        """The (level, idx, hash) rows that appending these (position, leaf hash) pairs adds."""

        def get_node(level: int, index: int) -> bytes:
            if (level, index) not in cache:
                row = conn.execute(
                    select(nodes_table.c.hash).where(
                        nodes_table.c.level == level, nodes_table.c.idx == index
                    )
                ).first()
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
        self.engine.dispose()

    def _writing(self) -> Any:
        """A transaction that holds the append lock until it commits."""
        return _WriteTransaction(self)

    # --- settings ------------------------------------------------------------

    def setting(self, key: str) -> str | None:
        """A ledger setting, or None."""
        with self._connect() as conn:
            row = conn.execute(
                select(settings_table.c.value).where(settings_table.c.key == key)
            ).first()
        return None if row is None else str(row[0])

    def put_setting(self, key: str, value: str) -> None:
        """Write a ledger setting (only `init` does, before events exist)."""
        with self._writing() as conn:
            conn.execute(settings_table.delete().where(settings_table.c.key == key))
            conn.execute(settings_table.insert().values(key=key, value=value))

    def setting_once(self, key: str, value: str) -> str:
        """Set a setting unless it is set, under the write lock; return the value that stands.

        Two processes running `init` at once must agree on one value, not
        each report their own while the last write wins.
        """
        with self._writing() as conn:
            row = conn.execute(
                select(settings_table.c.value).where(settings_table.c.key == key)
            ).first()
            if row is not None:
                return str(row[0])
            conn.execute(settings_table.insert().values(key=key, value=value))
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
        except IntegrityError as exc:
            raise ConcurrencyError(
                "another writer appended to the same subject or event id first; "
                f"nothing was written ({_first_line(exc.orig or exc)})"
            ) from None
        except DBAPIError as exc:
            # Anything else the driver refuses (a lock timeout, or on PostgreSQL a
            # NUL character or an over-long value) is reported, not leaked.
            raise StorageError(f"the database refused the append: {_storage_reason(exc)}") from None

    @staticmethod
    def _last_recorded_at(conn: Connection) -> str:
        last = conn.execute(
            select(events_table.c.recorded_at).order_by(events_table.c.position.desc()).limit(1)
        ).first()
        return "" if last is None else str(last[0])

    def _check_versions(self, conn: Connection, expected: Mapping[str, int]) -> None:
        subjects = sorted(expected)
        current: dict[str, int] = {}
        for chunk in chunks(subjects, 500):
            rows = conn.execute(
                select(events_table.c.subject, func.max(events_table.c.version))
                .where(events_table.c.subject.in_(chunk))
                .group_by(events_table.c.subject)
            )
            current.update({str(s): int(v) for s, v in rows})
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
        query = (
            select(events_table)
            .where(events_table.c.subject == subject)
            .order_by(events_table.c.version)
        )
        with self._connect() as conn:
            return [decode_row(row) for row in conn.execute(query)]

    def read_subjects(self, subjects: Iterable[str]) -> dict[str, list[StoredEvent]]:
        """Several subjects' events at once, each in version order (absent ones map to [])."""
        wanted = sorted(set(subjects))
        found: dict[str, list[StoredEvent]] = {subject: [] for subject in wanted}
        with self._connect() as conn:
            for chunk in chunks(wanted, 500):
                query = (
                    select(events_table)
                    .where(events_table.c.subject.in_(chunk))
                    .order_by(events_table.c.subject, events_table.c.version)
                )
                for row in conn.execute(query):
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
        subjects of those kinds (`commitment`, `budget`, ...). On SQLite the
        driver's cursor reads lazily; on PostgreSQL a server-side cursor does.
        """
        unknown = set(columns) - set(EVENT_COLUMNS)
        if unknown:
            raise ValueError(f"no such event columns: {', '.join(sorted(unknown))}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        wanted = ["position", *columns]  # the key of the next batch comes first
        query = select(*(events_table.c[name] for name in wanted)).order_by(events_table.c.position)
        if kinds:
            query = query.where(
                or_(*(events_table.c.subject.startswith(f"{k}/", autoescape=True) for k in kinds))
            )
        query = query.where(events_table.c.position > bindparam("after")).limit(batch_size)
        with self._connect() as conn:
            fetch = self._fetcher(conn, query)
            while True:
                # Each batch is a new statement, so a reader following the log
                # sees events committed after it started.
                rows = fetch(after)
                for row in rows:
                    yield row[1:]
                if len(rows) < batch_size:
                    return
                after = rows[-1][0]

    def _fetcher(self, conn: Connection, query: Any) -> Callable[[int], list[Any]]:
        if self.dialect != "sqlite":
            return lambda after: list(conn.execute(query, {"after": after}))
        # SQLite: the driver's own cursor, without SQLAlchemy's row objects
        # (a third of the cost of reading a row). In autocommit, as the
        # engine's connections are, each statement sees the latest commit.
        compiled = query.compile(dialect=self.engine.dialect)
        sql = str(compiled)
        names = list(compiled.positiontup or ())
        params = compiled.construct_params({"after": 0})
        raw: Any = conn.connection.driver_connection

        def fetch(after: int) -> list[Any]:
            values = [after if name == "after" else params[name] for name in names]
            rows: list[Any] = raw.execute(sql, values).fetchall()
            return rows

        return fetch

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
        query = (
            select(*(events_table.c[name] for name in _SOURCELESS_COLUMNS))
            .where(events_table.c.position <= upto)
            .order_by(events_table.c.subject, events_table.c.occurred_key, events_table.c.position)
        )
        decode, subject_at = _decode_history_row, _SOURCELESS_COLUMNS.index("subject")
        history: list[StoredEvent] = []
        subject: Any = None
        for batch in self._batches(query, batch_size):
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

    def _batches(self, query: Any, size: int) -> Iterator[Sequence[Any]]:
        """One query's rows in batches, read as the caller goes (the driver's rows on SQLite)."""
        with self._connect() as conn:
            if self.dialect != "sqlite":
                # A server-side cursor, closed even when the caller stops early.
                result = conn.execution_options(yield_per=size).execute(query)
                try:
                    yield from result.partitions(size)
                finally:
                    result.close()
                return
            compiled = query.compile(dialect=self.engine.dialect)
            params = compiled.construct_params()
            values = [params[name] for name in compiled.positiontup or ()]
            raw: Any = conn.connection.driver_connection
            cursor = raw.execute(str(compiled), values)
            try:
                while batch := cursor.fetchmany(size):
                    yield batch
            finally:
                cursor.close()

    def head(self) -> int:
        """The last committed position (0 when empty)."""
        with self._connect() as conn:
            value = conn.execute(select(func.coalesce(func.max(events_table.c.position), 0)))
            return int(value.scalar_one())

    def size_known_at(self, recorded_key: str) -> int:
        """How many events were recorded at or before `recorded_key` (record time follows position)."""
        with self._connect() as conn:
            value = conn.execute(
                select(func.coalesce(func.max(events_table.c.position), 0)).where(
                    events_table.c.recorded_at <= recorded_key
                )
            )
            return int(value.scalar_one())

    def versions(self, subjects: Iterable[str]) -> dict[str, int]:
        """Current version per subject that has events."""
        result: dict[str, int] = {}
        with self._connect() as conn:
            for chunk in chunks(sorted(set(subjects)), 500):
                rows = conn.execute(
                    select(events_table.c.subject, func.max(events_table.c.version))
                    .where(events_table.c.subject.in_(chunk))
                    .group_by(events_table.c.subject)
                )
                result.update({str(s): int(v) for s, v in rows})
        return result

    def find(self, event_ids: Iterable[str]) -> dict[str, StoredEvent]:
        """Stored events by id."""
        found: dict[str, StoredEvent] = {}
        with self._connect() as conn:
            for chunk in chunks(sorted(set(event_ids)), 500):
                rows = conn.execute(select(events_table).where(events_table.c.id.in_(chunk)))
                for row in rows:
                    stored = decode_row(row)
                    found[stored.id] = stored
        return found

    def referencing(self, subjects: Iterable[str]) -> list[StoredEvent]:
        """Events whose data names one of the subjects, in position order."""
        found: dict[int, StoredEvent] = {}
        with self._connect() as conn:
            for chunk in chunks(sorted(set(subjects)), 500):
                positions = select(refs_table.c.position).where(refs_table.c.ref.in_(chunk))
                rows = conn.execute(
                    select(events_table).where(events_table.c.position.in_(positions))
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
        with self._connect() as conn:
            for level, indexes in by_level.items():
                for start in range(0, len(indexes), 500):
                    rows = conn.execute(
                        select(nodes_table.c.idx, nodes_table.c.hash).where(
                            nodes_table.c.level == level,
                            nodes_table.c.idx.in_(indexes[start : start + 500]),
                        )
                    )
                    found.update({(level, int(i)): bytes.fromhex(str(h)) for i, h in rows})
        return found

    def level_nodes(self, level: int, after: int, limit: int) -> list[tuple[int, str]]:
        """Stored (idx, hash) of one tree level with idx > after, in idx order, at most `limit`.

        Verify reads each level this way, in keyset batches, as its streaming
        tree completes nodes; on SQLite through the driver (no row objects).
        """
        with self._connect() as conn:
            if self.dialect == "sqlite":
                raw: Any = conn.connection.driver_connection
                rows: list[tuple[int, str]] = raw.execute(
                    "SELECT idx, hash FROM merkle_nodes WHERE level = ? AND idx > ? "
                    "ORDER BY idx LIMIT ?",
                    (level, after, limit),
                ).fetchall()
                return rows
            result = conn.execute(
                select(nodes_table.c.idx, nodes_table.c.hash)
                .where(nodes_table.c.level == level, nodes_table.c.idx > after)
                .order_by(nodes_table.c.idx)
                .limit(limit)
            )
            return [(idx, digest) for idx, digest in result]

    def node_count(self, level: int) -> int:
        """How many nodes of a level are stored (level 0: the tree's leaves)."""
        with self._connect() as conn:
            count = conn.execute(
                select(func.count()).select_from(nodes_table).where(nodes_table.c.level == level)
            )
            return int(count.scalar_one())

    def record_checkpoint(
        self, size: int, root: str, recorded_at: str, note: str
    ) -> dict[str, Any]:
        """Keep a checkpoint the ledger issued and return the stored one.

        The first checkpoint issued for a size stays: asking again returns it.
        """
        with self._writing() as conn:
            existing = (
                conn.execute(select(checkpoints_table).where(checkpoints_table.c.size == size))
                .mappings()
                .first()
            )
            if existing is None:
                row = {"size": size, "root": root, "recorded_at": recorded_at, "note": note}
                conn.execute(checkpoints_table.insert().values(**row))
                return row
            if str(existing["root"]) != root:
                raise StorageError(
                    f"a checkpoint of size {size} with another root is stored: run verify"
                )
            return {
                "size": int(existing["size"]),
                "root": str(existing["root"]),
                "recorded_at": str(existing["recorded_at"]),
                "note": str(existing["note"]),
            }

    def checkpoints(self) -> list[dict[str, Any]]:
        """Every stored checkpoint, smallest size first."""
        with self._connect() as conn:
            rows = conn.execute(
                select(checkpoints_table).order_by(checkpoints_table.c.size)
            ).mappings()
            return [
                {
                    "size": int(r["size"]),
                    "root": str(r["root"]),
                    "recorded_at": str(r["recorded_at"]),
                    "note": str(r["note"]),
                }
                for r in rows
            ]

    def subjects(self, kind: str | None = None) -> list[str]:
        """Every subject (of one kind), sorted."""
        query = select(events_table.c.subject).distinct()
        if kind is not None:
            query = query.where(events_table.c.subject.startswith(f"{kind}/", autoescape=True))
        with self._connect() as conn:
            return sorted(str(s) for (s,) in conn.execute(query))

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
        url = self.engine.url
        if self.dialect == "sqlite" and url.database in (None, "", ":memory:"):
            return None
        return url.render_as_string(hide_password=False)

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
        with self._connect() as conn:
            if self.dialect == "sqlite":
                raw: Any = conn.connection.driver_connection
                columns = ", ".join(
                    f"CAST({name} AS BLOB)" if name in ("data", "sources") else name
                    for name in EVENT_COLUMNS
                )
                sql = (
                    f"SELECT {columns} FROM events WHERE position > ? AND position <= ? "
                    "ORDER BY position LIMIT ?"
                )

                def fetch(after: int) -> Sequence[Sequence[Any]]:
                    rows: list[tuple[Any, ...]] = raw.execute(
                        sql, (after, last, batch_size)
                    ).fetchall()
                    return rows

            else:
                query = (
                    select(
                        *(
                            func.convert_to(events_table.c[name], "UTF8")
                            if name in ("data", "sources")
                            else events_table.c[name]
                            for name in EVENT_COLUMNS
                        )
                    )
                    .where(
                        events_table.c.position > bindparam("after"),
                        events_table.c.position <= last,
                    )
                    .order_by(events_table.c.position)
                    .limit(batch_size)
                )

                def fetch(after: int) -> Sequence[Sequence[Any]]:
                    return conn.execute(query, {"after": after}).all()

            while True:
                rows = fetch(after)
                if rows:
                    yield rows
                if len(rows) < batch_size:
                    return
                after = rows[-1][0]


class AppendSession:
    """Appends inside one write transaction (see `SqlEventStore.session`)."""

    def __init__(
        self, store: SqlEventStore, conn: Connection, stamp: Callable[[], str] | None
    ) -> None:
        self.store = store
        self.conn = conn
        head = conn.execute(select(func.coalesce(func.max(events_table.c.position), 0)))
        self.next_position = int(head.scalar_one()) + 1
        self.recorded_at = max(stamp(), store._last_recorded_at(conn)) if stamp is not None else ""
        # The tree's right edge (the perfect subtrees a new leaf may join), kept
        # across chunks: O(log n) entries, read from the table when first needed.
        self._frontier: dict[tuple[int, int], bytes] = {}
        self._written = self._restated = 0  # rows written by this session; at the last ANALYZE
        marks = "?" if store.dialect == "sqlite" else "%s"
        self._insert_events = _insert_sql("events", EVENT_COLUMNS, marks)
        self._insert_nodes = _insert_sql("merkle_nodes", ("level", "idx", "hash"), marks)
        self._insert_refs = _insert_sql("event_refs", ("position", "ref"), marks)

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
            # The driver's executemany with tuples: SQLAlchemy's per-row parameter
            # handling cost as much as SQLite's own insert.
            self.conn.exec_driver_sql(self._insert_events, rows)
            self.conn.exec_driver_sql(self._insert_nodes, nodes)
            if refs:
                self.conn.exec_driver_sql(self._insert_refs, refs)
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
            self.conn.exec_driver_sql("ANALYZE events, event_refs")
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

        cursor = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
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


def _insert_sql(table: str, columns: Sequence[str], mark: str) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"


class _WriteTransaction:
    """Context manager: a transaction holding the append lock, committed on exit."""

    def __init__(self, store: SqlEventStore) -> None:
        self.store = store
        self.conn: Connection | None = None
        self.transaction: Any = None

    def __enter__(self) -> Connection:
        try:
            conn = self.store.engine.connect()
            if self.store.dialect == "sqlite":
                conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            self.conn = conn
            self.transaction = conn.begin()
            if self.store.dialect == "postgresql":
                conn.execute(text(_APPEND_LOCK))
        except (SQLAlchemyError, sqlite3.Error) as exc:
            # sqlite3.Error: BEGIN IMMEDIATE is run on the driver's connection.
            if self.conn is not None:
                self.conn.close()
            raise StorageError(f"cannot start a write: {_storage_reason(exc)}") from None
        return conn

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        assert self.conn is not None and self.transaction is not None
        try:
            if exc_type is None:
                self.transaction.commit()
            else:
                self.transaction.rollback()
        finally:
            self.conn.close()


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


def chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    """Slices of at most `size` items (SQL IN lists stay under the drivers' limits)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _read_only_hint(engine: Engine) -> str:
    """Why an SQLite ledger in a read-only folder cannot be opened, and what to do."""
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:":
        return ""
    folder = os.path.dirname(os.path.abspath(path))
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
