"""The ledger's tables as SQLAlchemy metadata: what `init` creates, and the documented layout.

Only creating tables reads this module (`init`, a ledger of an earlier
release gaining what is new, the read-model tables on first use): the store
runs its statements as SQL text (ledger/store/sql.py), so opening an SQLite
ledger to read or write never imports SQLAlchemy. The column lists the store
writes by (`rows.EVENT_COLUMNS`, `readmodels.COLUMNS`) are held equal to these
tables by tests/test_quick_read.py.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateIndex, CreateTable

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


def create_statements(dialect: str, which: MetaData) -> list[str]:
    """`CREATE TABLE/INDEX IF NOT EXISTS` for every table of `which`, in the dialect's SQL.

    Run inside the store's write transaction, so two processes creating the
    tables at once queue on the append lock instead of racing.
    """
    engine_dialect: Dialect = (
        sqlite.dialect() if dialect == "sqlite" else postgresql.dialect()  # type: ignore[no-untyped-call]
    )
    statements: list[str] = []
    for table in which.sorted_tables:
        statements.append(
            str(CreateTable(table, if_not_exists=True).compile(dialect=engine_dialect))
        )
        for index in sorted(table.indexes, key=_index_name):
            statements.append(
                str(CreateIndex(index, if_not_exists=True).compile(dialect=engine_dialect))
            )
    return statements


def _index_name(index: Index) -> str:
    return str(index.name)
