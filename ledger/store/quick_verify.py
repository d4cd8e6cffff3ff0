"""`verify` on an SQLite ledger file without the service, SQLAlchemy or pydantic.

`SnapshotStore` reads what verify reads (ledger/verification.py's
`VerifyStore`) with the standard library's sqlite3, in one read transaction
opened by the quick read path (ledger/store/quick.py): the same statements
`SqlEventStore` runs on SQLite, so the same rows, in the same order, of the
same types (`data` and `sources` as bytes). verify then runs the very code it
runs on the service's store, and reports byte for byte what it reports there.

`answer` declines (None) whatever it does not answer alone, and the caller
then asks the service, which gives the same report or the proper error: a URL
rather than a file, a file that is not a ledger of this release's layout, a
zone or a recorder name the service would word an error about (all as
quick.py declines them), a ledger of `verification.PARALLEL_FROM` events or
more (the service verifies it in two processes; here `reader_url` is None,
so verify stays in one), and anything raised on the way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from ledger import verification

# quick.py's read transaction and the tables of the log's layout. `_snapshot` is
# private to quick.py; it is the one opening every quick read shares (the file
# checks, read-only, one snapshot), so it is reused rather than copied.
from ledger.store.quick import LOG_TABLES, _snapshot
from ledger.store.rows import EVENT_COLUMNS

_T = TypeVar("_T")

# SqlEventStore.verify_rows's statement on SQLite: every column, data and sources as bytes.
_ROWS = (
    "SELECT "
    + ", ".join(
        f"CAST({name} AS BLOB)" if name in ("data", "sources") else name for name in EVENT_COLUMNS
    )
    + " FROM events WHERE position > ? AND position <= ? ORDER BY position LIMIT ?"
)


class SnapshotStore:
    """`SqlEventStore`'s reads that verify makes, on one sqlite3 connection in a read transaction.

    Each method runs the statement `SqlEventStore`'s method of the same name
    runs on SQLite and converts the values as it does.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def checkpoints(self) -> list[dict[str, Any]]:
        """Every stored checkpoint, smallest size first."""
        rows = self._conn.execute(
            "SELECT size, root, recorded_at, note FROM checkpoints ORDER BY size"
        )
        return [
            {"size": int(size), "root": str(root), "recorded_at": str(at), "note": str(note)}
            for size, root, at, note in rows
        ]

    def reader_url(self) -> None:
        """None: no second process reads this snapshot (see the module's docstring)."""
        return None

    def head(self) -> int:
        """The last stored position (0 when empty)."""
        (head,) = self._conn.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()
        return int(head)

    def setting(self, key: str) -> str | None:
        """A ledger setting, or None."""
        row = self._conn.execute(
            "SELECT value FROM ledger_settings WHERE key = ?", (key,)
        ).fetchone()
        return None if row is None else str(row[0])

    def verify_rows(
        self, *, after: int = 0, upto: int | None = None, batch_size: int = 5000
    ) -> Iterator[Sequence[Sequence[Any]]]:
        """Rows of every column of `events` (EVENT_COLUMNS order) with after < position <= upto,
        in position order, one list per keyset batch (`SqlEventStore.verify_rows`)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        last = 2**63 - 1 if upto is None else upto  # a BIGINT's largest: no bound
        while True:
            rows: list[tuple[Any, ...]] = self._conn.execute(
                _ROWS, (after, last, batch_size)
            ).fetchall()
            if rows:
                yield rows
            if len(rows) < batch_size:
                return
            after = rows[-1][0]

    def level_nodes(self, level: int, after: int, limit: int) -> list[tuple[Any, Any]]:
        """Stored (idx, hash) of one tree level with idx > after, in idx order, at most `limit`."""
        rows: list[tuple[Any, Any]] = self._conn.execute(
            "SELECT idx, hash FROM merkle_nodes WHERE level = ? AND idx > ? ORDER BY idx LIMIT ?",
            (level, after, limit),
        ).fetchall()
        return rows

    def node_count(self, level: int) -> int:
        """How many nodes of a level are stored (level 0: the tree's leaves)."""
        (count,) = self._conn.execute(
            "SELECT count(*) FROM merkle_nodes WHERE level = ?", (level,)
        ).fetchone()
        return int(count)


def answer(target: str, user: str, compute: Callable[[SnapshotStore], _T]) -> _T | None:
    """`compute(store)` on the SQLite ledger at `target` read in one snapshot, or None.

    None when the quick path declines (see the module's docstring) or
    `compute` raised anything at all: the service then verifies and words
    any error itself.
    """
    try:
        with _snapshot(target, user, LOG_TABLES) as read:
            if read is None:
                return None
            store = SnapshotStore(read[0])
            if store.head() >= verification.PARALLEL_FROM:
                return None  # the service verifies it in two processes
            return compute(store)
    except Exception:  # whatever went wrong, the service answers and words the error
        return None
