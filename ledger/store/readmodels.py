"""Persisted read models: the derived state in tables, caught up from the log.

Analysts can open these tables directly (Datasette on the SQLite file, or SQL on
PostgreSQL); docs/readmodels.md describes every column. They are derived data:
`policy-ledger rebuild` drops their rows and replays the log, and nothing here
is ever the source of truth. `readmodel_tracking` holds the last log position
applied; it is written in the same transaction as the rows, so the tables
always show the state after exactly that prefix of the log.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Integer,
    MetaData,
    RowMapping,
    String,
    Table,
    Text,
    delete,
    inspect,
    select,
)

from ledger.store.sql import Position, SqlEventStore, chunks
from ledger.vocabulary import READ_MODEL_TRACKER, with_status_inputs

readmodel_metadata = MetaData()

actors = Table(
    "actors",
    readmodel_metadata,
    Column("subject", String(120), primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("parent", String(120)),
    Column("state", Text, nullable=False),
)
offices = Table(
    "offices",
    readmodel_metadata,
    Column("subject", String(120), primary_key=True),
    Column("name", Text, nullable=False),
    Column("jurisdiction", String(20), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("holder", String(120)),
    Column("state", Text, nullable=False),
)
tenures = Table(
    "tenures",
    readmodel_metadata,
    Column("office", String(120), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("holder", String(120), nullable=False),
    Column("role", String(20), nullable=False),
    Column("administration", String(120), nullable=False),
    Column("began_at", String(40), nullable=False),
    Column("ended_at", String(40)),
    Column("end_reason", String(20)),
)
commitments = Table(
    "commitments",
    readmodel_metadata,
    Column("subject", String(120), primary_key=True),
    Column("title", Text, nullable=False),
    Column("made_by", String(120), nullable=False, index=True),
    Column("capacity", String(30), nullable=False),
    Column("made_at", String(40), nullable=False),
    Column("areas", Text, nullable=False),
    # Status is judged on the day asked: these three columns decide it
    # (see ledger.projections.commitments.StatusInputs).
    Column("closed", String(20)),
    Column("earliest_due", String(10)),
    Column("active", Boolean, nullable=False),
    Column("event_count", Integer, nullable=False),
    Column("state", Text, nullable=False),
)
targets = Table(
    "targets",
    readmodel_metadata,
    Column("commitment", String(120), primary_key=True),
    Column("key", String(120), primary_key=True),
    Column("unit", String(40), nullable=False),
    Column("quantity", String(100), nullable=False),
    Column("baseline", String(100)),
    Column("due", String(10)),
    Column("achieved", String(100)),
    Column("funded_proposed", String(100), nullable=False),
    Column("funded_approved", String(100), nullable=False),
    Column("funded_executed", String(100), nullable=False),
)
assessments = Table(
    "assessments",
    readmodel_metadata,
    Column("commitment", String(120), primary_key=True),
    Column("assessor", String(120), primary_key=True),
    Column("rubric", String(120), nullable=False),
    Column("rating", String(120), nullable=False),
    Column("rationale", Text),
    Column("occurred_at", String(40), nullable=False),
)
budgets = Table(
    "budgets",
    readmodel_metadata,
    Column("subject", String(120), primary_key=True),
    Column("body", String(120), nullable=False),
    Column("fiscal_year", Integer, nullable=False),
    Column("instrument", String(20), nullable=False),
    Column("unit", String(40), nullable=False),
    Column("state", Text, nullable=False),
)
tracking = Table(
    "readmodel_tracking",
    readmodel_metadata,
    Column("name", String(40), primary_key=True),
    Column("position", Position, nullable=False),
)

# Tables keyed by a subject column, and the column naming it.
_BY_SUBJECT: tuple[tuple[Table, str], ...] = (
    (actors, "subject"),
    (offices, "subject"),
    (tenures, "office"),
    (commitments, "subject"),
    (targets, "commitment"),
    (assessments, "commitment"),
    (budgets, "subject"),
)
_SECTIONS = {"actors": actors, "offices": offices, "commitments": commitments, "budgets": budgets}


@dataclass
class Rows:
    """Rows to write per table, and the subjects whose old rows they replace.

    A row is a tuple of every column of its table, in the table's column order.
    """

    subjects: set[str] = field(default_factory=set)
    tables: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)

    def add(self, table: Table, row: tuple[Any, ...]) -> None:
        """Queue one row."""
        rows = self.tables.get(table.name)
        if rows is None:
            rows = self.tables[table.name] = []
        rows.append(row)


class ReadModels:
    """The read-model tables of one ledger."""

    def __init__(self, store: SqlEventStore) -> None:
        self.store = store
        self._ready = False

    def ensure(self) -> None:
        """Create the tables when missing (additive: ledgers made before them gain them)."""
        if self._ready:
            return
        existing = set(inspect(self.store.engine).get_table_names())
        if not set(readmodel_metadata.tables) <= existing:
            with self.store._writing() as conn:
                readmodel_metadata.create_all(conn)
        self._ready = True

    def position(self) -> int:
        """The last log position the tables reflect (0: none)."""
        self.ensure()
        with self.store.engine.connect() as conn:
            return _tracked(conn)

    def apply(self, rows: Rows, *, expected: int, position: int, full: bool = False) -> bool:
        """Replace the rows of `rows.subjects` (all rows when `full`) and move the tracker.

        One transaction under the append lock. Returns False, writing nothing,
        when another process moved the tracker from `expected` first.
        """
        self.ensure()
        with self.store._writing() as conn:
            if _tracked(conn) != expected:
                return False
            for table, column in _BY_SUBJECT:
                if full:
                    conn.execute(delete(table))
                else:
                    for chunk in chunks(sorted(rows.subjects), 500):
                        conn.execute(delete(table).where(table.c[column].in_(chunk)))
            for name, table_rows in rows.tables.items():
                _insert(conn, readmodel_metadata.tables[name], table_rows)
            conn.execute(delete(tracking).where(tracking.c.name == READ_MODEL_TRACKER))
            conn.execute(tracking.insert().values(name=READ_MODEL_TRACKER, position=position))
        return True

    def section(
        self, name: str, subjects: Iterable[str] | None = None
    ) -> dict[str, dict[str, Any]]:
        """A section of the export form (actors, offices, commitments, budgets), by subject."""
        self.ensure()
        table = _SECTIONS[name]
        query = select(table).order_by(table.c.subject)
        wanted = None if subjects is None else sorted(set(subjects))
        out: dict[str, dict[str, Any]] = {}
        with self.store.engine.connect() as conn:
            batches: Iterable[Sequence[str] | None] = (
                [None] if wanted is None else chunks(wanted, 500)
            )
            for chunk in batches:
                selected = query if chunk is None else query.where(table.c.subject.in_(chunk))
                for row in conn.execute(selected).mappings():
                    out[str(row["subject"])] = _with_status_inputs(name, row)
        return out

    def read_at(
        self, position: int, names: Sequence[str], *, chunk: int = 2000
    ) -> Iterator[tuple[str, list[tuple[str, dict[str, Any]]]]]:
        """Every row of the named sections as of log position `position`, in one read snapshot.

        Yields `(section, [(subject, state), ...])`, sections in the order
        given, subjects sorted, at most `chunk` at a time, and one empty list
        for an empty section; commitments carry `_status_inputs` as in
        `section`. Raises `Stale`, before yielding anything, when the tables
        do not show exactly the log up to `position` (another process has
        caught them up since): the rows would not match the tree of that size.
        """
        self.ensure()
        with self.store.engine.connect() as conn:
            if self.store.dialect != "sqlite":
                # Each statement of a READ COMMITTED transaction sees its own
                # snapshot; the tracker and every row must come from one.
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            tracked = _tracked(conn)  # begins the snapshot (SQLite: the store's BEGIN hook)
            if tracked != position:
                raise Stale(f"the read models are at position {tracked}, not {position}")
            for name in names:
                yield from _parts_of(conn, name, chunk)


def _parts_of(
    conn: Connection, name: str, chunk: int
) -> Iterator[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    """One section's rows in parts, subjects in the order of their code points.

    SQLite compares text as bytes (UTF-8: code point order, as Python sorts);
    a server's collation may not, so it is asked for the C collation's.
    """
    table = _SECTIONS[name]
    subject = table.c.subject
    order = subject if conn.dialect.name == "sqlite" else subject.collate("C")
    rows = conn.execution_options(yield_per=chunk).execute(select(table).order_by(order))
    part: list[tuple[str, dict[str, Any]]] = []
    last = ""
    written = False
    for row in rows.mappings():
        key = str(row["subject"])
        if key <= last:  # the order promised above is what the export's bytes rely on
            raise RuntimeError(f"read-model rows of {name} out of order at {key!r}")
        last = key
        part.append((key, _with_status_inputs(name, row)))
        if len(part) == chunk:
            yield name, part
            part, written = [], True
    if part or not written:
        yield name, part


class Stale(Exception):
    """The read models moved past the position asked for."""


def _with_status_inputs(section: str, row: RowMapping) -> dict[str, Any]:
    state: dict[str, Any] = orjson.loads(row["state"])
    if section == "commitments":
        # The caller judges the status for its day from these; see StatusInputs.
        return with_status_inputs(state, row["closed"], row["earliest_due"], row["active"])
    return state


def _insert(conn: Connection, table: Table, rows: list[tuple[Any, ...]]) -> None:
    """Insert rows through the driver's executemany, in batches.

    The statement is compiled once; SQLAlchemy's per-row parameter processing
    (a third of a read-model rebuild's writing) is skipped. Every row holds
    every column of the table in column order (see `Rows`), as plain str,
    int, bool or None, which both drivers take as they are: SQLite's
    positional parameters take the tuples themselves.
    """
    compiled = table.insert().compile(dialect=conn.dialect)
    names = [column.name for column in table.columns]
    sql = str(compiled)
    params: Sequence[Any]
    if compiled.positional:
        order = list(compiled.positiontup or ())
        if order == names:
            params = rows
        else:
            at = [names.index(name) for name in order]
            params = [tuple(row[i] for i in at) for row in rows]
    else:
        params = [dict(zip(names, row, strict=True)) for row in rows]
    for start in range(0, len(params), 5000):
        conn.exec_driver_sql(sql, params[start : start + 5000])


def _tracked(conn: Connection) -> int:
    row = conn.execute(
        select(tracking.c.position).where(tracking.c.name == READ_MODEL_TRACKER)
    ).first()
    return 0 if row is None else int(row[0])
