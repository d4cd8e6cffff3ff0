"""`verify` on an SQLite ledger file without the service, SQLAlchemy or pydantic.

The quick read path (ledger/store/quick.py) opens the file read-only in one
read transaction; that connection is lent to the store itself
(`SqlEventStore` on a `SnapshotDatabase`), so verify reads the same rows
through the same statements as through the service, and runs the very same
code on them: the report is byte for byte the service's.

`answer` declines (None) whatever it does not answer alone, and the caller
then asks the service, which gives the same report or the proper error: a URL
rather than a file, a file that is not a ledger of this release's layout, a
zone or a recorder name the service would word an error about (all as
quick.py declines them), a ledger of `verification.PARALLEL_FROM` events or
more (the service verifies it in two processes; a lent snapshot has no URL
for a second process, so verify would stay in one), and anything raised on
the way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ledger import verification
from ledger.store.db import SnapshotDatabase

# quick.py's read transaction. `_snapshot` is private to quick.py; it is the one
# opening every quick read shares (the file checks, read-only, one snapshot), so
# it is reused rather than copied.
from ledger.store.quick import _snapshot
from ledger.store.sql import SqlEventStore
from ledger.vocabulary import LOG_TABLES

_T = TypeVar("_T")


def answer(target: str, user: str, compute: Callable[[SqlEventStore], _T]) -> _T | None:
    """`compute(store)` on the SQLite ledger at `target` read in one snapshot, or None.

    None when the quick path declines (see the module's docstring) or
    `compute` raised anything at all: the service then verifies and words
    any error itself.
    """
    try:
        with _snapshot(target, user, LOG_TABLES) as read:
            if read is None:
                return None
            store = SqlEventStore(SnapshotDatabase(read[0]))
            if store.head() >= verification.PARALLEL_FROM:
                return None  # the service verifies it in two processes
            return compute(store)
    except Exception:  # whatever went wrong, the service answers and words the error
        return None
