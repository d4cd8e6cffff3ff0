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

from ledger.store.sql import SqlEventStore, chunks
from ledger.vocabulary import READ_MODEL_TRACKER, with_status_inputs

# Every read-model table's columns in the order ledger/store/schema.py declares
# them (tests/test_quick_read.py holds the two equal); a row is a tuple of these.
COLUMNS: dict[str, tuple[str, ...]] = {
    "actors": ("subject", "name", "kind", "parent", "state"),
    "offices": ("subject", "name", "jurisdiction", "kind", "holder", "state"),
    "tenures": (
        "office",
        "seq",
        "holder",
        "role",
        "administration",
        "began_at",
        "ended_at",
        "end_reason",
    ),
    "commitments": (
        "subject",
        "title",
        "made_by",
        "capacity",
        "made_at",
        "areas",
        "closed",
        "earliest_due",
        "active",
        "event_count",
        "state",
    ),
    "targets": (
        "commitment",
        "key",
        "unit",
        "quantity",
        "baseline",
        "due",
        "achieved",
        "funded_proposed",
        "funded_approved",
        "funded_executed",
    ),
    "assessments": ("commitment", "assessor", "rubric", "rating", "rationale", "occurred_at"),
    "budgets": ("subject", "body", "fiscal_year", "instrument", "unit", "state"),
    "readmodel_tracking": ("name", "position"),
}
TABLES = frozenset(COLUMNS)


class Table:
    """A read-model table's name and columns (what the rows and statements need)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.columns = COLUMNS[name]


actors, offices, tenures = Table("actors"), Table("offices"), Table("tenures")
commitments, targets = Table("commitments"), Table("targets")
assessments, budgets = Table("assessments"), Table("budgets")

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
        if not self.store.table_names() >= TABLES:
            self.store.create_tables("readmodels")
        self._ready = True

    def position(self) -> int:
        """The last log position the tables reflect (0: none)."""
        self.ensure()
        with self.store.db.connect() as conn:
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
                    conn.execute(f"DELETE FROM {table.name}")
                else:
                    for chunk in chunks(sorted(rows.subjects), 500):
                        marks = ", ".join(["?"] * len(chunk))
                        conn.execute(
                            f"DELETE FROM {table.name} WHERE {column} IN ({marks})", tuple(chunk)
                        )
            for name, table_rows in rows.tables.items():
                _insert(conn, name, table_rows)
            conn.execute("DELETE FROM readmodel_tracking WHERE name = ?", (READ_MODEL_TRACKER,))
            conn.execute(
                "INSERT INTO readmodel_tracking (name, position) VALUES (?, ?)",
                (READ_MODEL_TRACKER, position),
            )
        return True

    def section(
        self, name: str, subjects: Iterable[str] | None = None
    ) -> dict[str, dict[str, Any]]:
        """A section of the export form (actors, offices, commitments, budgets), by subject."""
        self.ensure()
        table = _SECTIONS[name]
        select = f"SELECT {', '.join(table.columns)} FROM {table.name}"
        wanted = None if subjects is None else sorted(set(subjects))
        out: dict[str, dict[str, Any]] = {}
        with self.store._reading() as conn:  # one snapshot across the chunks
            batches: Iterable[Sequence[str] | None] = (
                [None] if wanted is None else chunks(wanted, 500)
            )
            for chunk in batches:
                if chunk is None:
                    rows = conn.execute(f"{select} ORDER BY subject")
                else:
                    marks = ", ".join(["?"] * len(chunk))
                    rows = conn.execute(
                        f"{select} WHERE subject IN ({marks}) ORDER BY subject", tuple(chunk)
                    )
                for row in rows:
                    mapped = dict(zip(table.columns, row, strict=True))
                    out[str(mapped["subject"])] = _with_status_inputs(name, mapped)
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
        db = self.store.db
        with db.connect() as conn:
            # One snapshot for the tracker and every row (PostgreSQL: REPEATABLE
            # READ, since each statement of READ COMMITTED sees its own).
            db.begin(conn, write=False, snapshot=True)
            try:
                tracked = _tracked(conn)
                if tracked != position:
                    raise Stale(f"the read models are at position {tracked}, not {position}")
                for name in names:
                    yield from _parts_of(self.store, conn, name, chunk)
            finally:
                db.end_read(conn)


def _parts_of(
    store: SqlEventStore, conn: Any, name: str, chunk: int
) -> Iterator[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    """One section's rows in parts, subjects in the order of their code points.

    SQLite compares text as bytes (UTF-8: code point order, as Python sorts);
    a server's collation may not, so it is asked for the C collation's.
    """
    table = _SECTIONS[name]
    order = "subject" if store.dialect == "sqlite" else 'subject COLLATE "C"'
    sql = f"SELECT {', '.join(table.columns)} FROM {table.name} ORDER BY {order}"
    part: list[tuple[str, dict[str, Any]]] = []
    last = ""
    written = False
    rows = (
        dict(zip(table.columns, row, strict=True))
        for batch in store.db.stream(conn, sql, (), chunk)
        for row in batch
    )
    for row in rows:
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


def _with_status_inputs(section: str, row: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = orjson.loads(row["state"])
    if section == "commitments":
        # The caller judges the status for its day from these; see StatusInputs.
        return with_status_inputs(state, row["closed"], row["earliest_due"], row["active"])
    return state


def _insert(conn: Any, name: str, rows: list[tuple[Any, ...]]) -> None:
    """Insert rows through the driver's executemany, in batches of 5,000.

    Every row holds every column of its table in column order (see `Rows`),
    as plain str, int, bool or None, which both drivers take as they are.
    """
    columns = COLUMNS[name]
    sql = f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({', '.join(['?'] * len(columns))})"
    for start in range(0, len(rows), 5000):
        conn.executemany(sql, rows[start : start + 5000])


def _tracked(conn: Any) -> int:
    row = conn.execute(
        "SELECT position FROM readmodel_tracking WHERE name = ?", (READ_MODEL_TRACKER,)
    ).fetchone()
    return 0 if row is None else int(row[0])
