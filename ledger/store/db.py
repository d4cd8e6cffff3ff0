"""The databases the store runs on, behind one small interface (`Database`).

`SqlEventStore` (ledger/store/sql.py) writes every statement once, as SQL text
with `?` parameters, and runs it through one of these:

- `SqliteDatabase`: a ledger file (or `:memory:`) through the standard
  library's sqlite3. Nothing else is imported, so a command that writes one
  event to a file costs Python, click, pydantic and SQLite, not SQLAlchemy.
- `ServerDatabase`: PostgreSQL through SQLAlchemy's engine (its pool and
  pre-ping) and psycopg; `?` becomes psycopg's `%s`.
- `SnapshotDatabase`: an SQLite connection its owner holds in a read
  transaction, lent to the store (the quick verify's snapshot).

A connection from either answers `execute(sql, params)` and
`executemany(sql, rows)` with DB-API cursors (`fetchone`, `fetchall`,
`fetchmany`, iteration), so the store's code and statements are the same on
both. Each database also names the driver's errors (`integrity_error`,
`errors`), which the store turns into ConcurrencyError and StorageError.
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, unquote


class Database(Protocol):
    """What `SqlEventStore` needs of a database: connections that run `?` SQL text."""

    dialect: str
    integrity_error: type[Exception]
    errors: tuple[type[Exception], ...]

    @property
    def url(self) -> str | None:
        """A URL another process can open to read the same database, or None."""
        ...

    def connect(self) -> AbstractContextManager[Any]: ...

    def begin(self, conn: Any, *, write: bool, snapshot: bool = False) -> None: ...

    def commit(self, conn: Any) -> None: ...

    def rollback(self, conn: Any) -> None: ...

    def end_read(self, conn: Any) -> None: ...

    def table_names(self, conn: Any) -> set[str]: ...

    def column_names(self, conn: Any, table: str) -> set[str]: ...

    def stream(
        self, conn: Any, sql: str, params: Sequence[Any], size: int
    ) -> Iterator[Sequence[Any]]: ...

    def dispose(self) -> None: ...


_LOCK_PATIENCE = 60.0  # seconds an SQLite writer waits, in all, for another's lock
_FIRST_PAUSE = 0.005  # seconds before the first retry; doubles up to _LONGEST_PAUSE
_LONGEST_PAUSE = 1.0
_log = logging.getLogger(__name__)

SQLITE_PREFIX = "sqlite:///"


def database_url(target: str) -> str:
    """A `--db` value (a file path or an SQLAlchemy URL) as a URL."""
    if "://" not in target:
        # Quoted, because a URL parser reads `?` as the start of a query and
        # decodes `%XX`: a file named `a?b.db` must stay that file.
        return SQLITE_PREFIX + quote(str(Path(target).expanduser().resolve()), safe="/")
    if target.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + target.split("://", 1)[1]
    return target


def sqlite_path(url: str) -> str | None:
    """The file an `sqlite://` URL names (`:memory:` for none), or None for another database.

    Raises ValueError for an SQLite URL that names no file the way the store
    reads them: a host (`sqlite://name.db`, two slashes) or a query string.
    """
    scheme = url.split("://", 1)[0]
    if scheme not in ("sqlite", "sqlite+pysqlite"):
        return None
    rest = url.split("://", 1)[1]
    if rest == "":
        return ":memory:"
    if not rest.startswith("/"):
        raise ValueError(
            f"{url} names no file: write sqlite:///relative/path.db or "
            "sqlite:////absolute/path.db, or give the path itself"
        )
    if "?" in rest:
        raise ValueError(
            f"{url}: an SQLite URL takes no options (?...); give the file's path "
            "(a ? in a file name is written %3F in a URL)"
        )
    return unquote(rest[1:]) or ":memory:"


def describe_target(target: str) -> str:
    """A URL or path safe to print (password hidden)."""
    url = database_url(target)
    try:
        path = sqlite_path(url)
    except ValueError:
        return url
    if path is not None:
        return path
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


class _LockWaitExpired(sqlite3.OperationalError):
    """SQLite still reported the file busy after `_LOCK_PATIENCE` seconds."""


def _patiently(raw: Any, statement: str) -> None:
    """Run a statement that takes a lock, retrying while SQLite reports SQLITE_BUSY.

    `PRAGMA busy_timeout` makes SQLite wait for another process's lock, but
    not always: where waiting could deadlock (two connections switching a
    rollback-journal file to WAL at once, or one switching while another
    holds the write lock) SQLite answers SQLITE_BUSY at once. So before each
    retry the writer sleeps a random part of a pause that doubles from
    _FIRST_PAUSE to _LONGEST_PAUSE (full jitter: waiting processes do not
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


class SqliteDatabase:
    """A ledger file through sqlite3: autocommit connections, transactions begun explicitly.

    Connections are pooled (an idle one is reused, as SQLAlchemy's pool did),
    so a command's many small reads do not each open the file and switch it
    to WAL. `:memory:` has one connection per thread, as a memory database
    lives only in its connection.
    """

    dialect = "sqlite"
    integrity_error: type[Exception] = sqlite3.IntegrityError
    errors: tuple[type[Exception], ...] = (sqlite3.Error,)

    def __init__(self, path: str) -> None:
        self.path = path
        self.memory = path == ":memory:"
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._local = threading.local()
        self._pid = os.getpid()

    @property
    def url(self) -> str | None:
        """The `sqlite:///` URL of the file; None in memory (no other process sees it)."""
        return None if self.memory else SQLITE_PREFIX + quote(self.path, safe="/")

    def _new(self) -> sqlite3.Connection:
        # isolation_level None: the driver begins nothing; the store says
        # BEGIN (IMMEDIATE for writers) itself.
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            # The timeout first: switching to WAL waits for other processes' locks.
            conn.execute(f"PRAGMA busy_timeout={int(_LOCK_PATIENCE * 1000)}")
            if not self.memory:
                _patiently(conn, "PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def connect(self) -> Iterator[Any]:
        """A connection in autocommit, back to the pool afterwards (rolled back if left open)."""
        if self.memory:
            single: sqlite3.Connection | None = getattr(self._local, "conn", None)
            if single is None:
                single = self._local.conn = self._new()
            yield single
            return
        self._forget_if_forked()
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._new()
        try:
            yield conn
        except BaseException:
            self.rollback(conn)
            conn.close()
            raise
        self.rollback(conn)
        with self._lock:
            self._idle.append(conn)

    def _forget_if_forked(self) -> None:
        # A forked child (verify's second process) must not use or close the
        # parent's connections: SQLite's POSIX locks belong to the process.
        if os.getpid() != self._pid:
            self._idle = []
            self._lock = threading.Lock()
            self._pid = os.getpid()

    def begin(self, conn: Any, *, write: bool, snapshot: bool = False) -> None:
        """Begin a transaction; a writer's (IMMEDIATE) takes the file's write lock now.

        Every SQLite transaction reads one snapshot, so `snapshot` asks nothing
        more. A memory database's one connection may be in a transaction
        already (a read inside another); nothing else writes to it, so its
        reads need no transaction of their own.
        """
        if write:
            _patiently(conn, "BEGIN IMMEDIATE")
        elif not self.memory:
            conn.execute("BEGIN")

    @staticmethod
    def commit(conn: Any) -> None:
        conn.execute("COMMIT")

    @staticmethod
    def rollback(conn: Any) -> None:
        if conn.in_transaction:
            conn.execute("ROLLBACK")

    def end_read(self, conn: Any) -> None:
        """End what `begin(write=False)` began."""
        if not self.memory:
            self.rollback(conn)

    @staticmethod
    def table_names(conn: Any) -> set[str]:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {str(name) for (name,) in rows}

    @staticmethod
    def column_names(conn: Any, table: str) -> set[str]:
        return {str(row[1]) for row in conn.execute(f"PRAGMA table_info({table})")}

    @staticmethod
    def stream(conn: Any, sql: str, params: Sequence[Any], size: int) -> Iterator[list[Any]]:
        """One statement's rows in batches of `size`, read as the caller goes."""
        cursor = conn.execute(sql, params)
        try:
            while batch := cursor.fetchmany(size):
                yield batch
        finally:
            cursor.close()

    def dispose(self) -> None:
        """Close every pooled connection."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
        single: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if single is not None:
            single.close()
            self._local.conn = None


class SnapshotDatabase:
    """A connection its owner holds in a read transaction, lent to the store to read through.

    The quick verify (ledger/store/quick_verify.py) opens an SQLite ledger
    file read-only in one snapshot and verifies it with the store's own
    statements. The owner begins and ends the transaction; nothing here
    writes, and no other process is pointed at it (`url` is None).
    """

    dialect = "sqlite"
    integrity_error: type[Exception] = sqlite3.IntegrityError
    errors: tuple[type[Exception], ...] = (sqlite3.Error,)
    url = None

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    @contextmanager
    def connect(self) -> Iterator[Any]:
        yield self._conn

    def begin(self, conn: Any, *, write: bool, snapshot: bool = False) -> None:
        if write:
            raise sqlite3.OperationalError("a lent snapshot is read-only")

    def commit(self, conn: Any) -> None:
        """Nothing: the owner ends the transaction."""

    def rollback(self, conn: Any) -> None:
        """Nothing: the owner ends the transaction."""

    def end_read(self, conn: Any) -> None:
        """Nothing: the owner ends the transaction."""

    # SQLite's own: staticmethods, so they take the connection, not this database.
    table_names = staticmethod(SqliteDatabase.table_names)
    column_names = staticmethod(SqliteDatabase.column_names)
    stream = staticmethod(SqliteDatabase.stream)

    def dispose(self) -> None:
        """Nothing: the owner closes the connection."""


def for_psycopg(sql: str) -> str:
    """The store's SQL text in psycopg's form: `?` parameters as `%s`, a literal `%` as `%%`.

    psycopg reads `%` as the start of a parameter in every statement SQLAlchemy
    hands it, with parameters or without. The store's statements hold no
    literal `?` (every value is a parameter), so each `?` is one.
    """
    return sql.replace("%", "%%").replace("?", "%s")


class _ServerConnection:
    """An SQLAlchemy connection to PostgreSQL that runs the store's `?` SQL text."""

    def __init__(self, conn: Any) -> None:
        self.sa = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.sa.exec_driver_sql(for_psycopg(sql), tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        return self.sa.exec_driver_sql(for_psycopg(sql), list(rows))

    @property
    def driver(self) -> Any:
        """psycopg's connection (for COPY)."""
        return self.sa.connection.driver_connection


class ServerDatabase:
    """PostgreSQL through SQLAlchemy's engine and psycopg."""

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

        # No server-side prepared statements: psycopg prepares a query after
        # five runs, and PostgreSQL may then keep a generic plan made while
        # the table was small (a sequential scan). Inside a long import the
        # table grows by a million rows, and that plan made each chunk's
        # lookups scan all of them.
        self.engine = create_engine(
            url, pool_pre_ping=True, connect_args={"prepare_threshold": None}
        )
        self.integrity_error: type[Exception] = IntegrityError
        self.errors: tuple[type[Exception], ...] = (DBAPIError, SQLAlchemyError)

    @property
    def url(self) -> str:
        """The URL with its password: for another process, never for printing."""
        return str(self.engine.url.render_as_string(hide_password=False))

    @contextmanager
    def connect(self) -> Iterator[Any]:
        with self.engine.connect() as conn:
            yield _ServerConnection(conn)

    @staticmethod
    def begin(conn: Any, *, write: bool, snapshot: bool = False) -> None:
        if snapshot:
            # Each statement of a READ COMMITTED transaction sees its own
            # snapshot; one that must see a single state asks for more.
            conn.sa.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")

    @staticmethod
    def commit(conn: Any) -> None:
        conn.sa.commit()

    @staticmethod
    def rollback(conn: Any) -> None:
        conn.sa.rollback()

    @staticmethod
    def end_read(conn: Any) -> None:
        """End what `begin(write=False)` began."""
        conn.sa.rollback()

    @staticmethod
    def table_names(conn: Any) -> set[str]:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
        return {str(name) for (name,) in rows}

    @staticmethod
    def column_names(conn: Any, table: str) -> set[str]:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ?",
            (table,),
        )
        return {str(name) for (name,) in rows}

    @staticmethod
    def stream(conn: Any, sql: str, params: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
        """One statement's rows in batches through a server-side cursor, closed however left."""
        result = conn.sa.execution_options(yield_per=size).exec_driver_sql(
            for_psycopg(sql), tuple(params)
        )
        try:
            yield from result.partitions(size)
        finally:
            result.close()

    def dispose(self) -> None:
        self.engine.dispose()
