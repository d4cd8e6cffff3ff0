"""Event stores: the contract and its SQL implementation.

Names are imported on first use: the quick read path (ledger/store/quick.py)
lives in this package and must not pull in SQLAlchemy through it.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledger.store.base import EventStore
    from ledger.store.sql import SqlEventStore, database_url, describe_target

_HOMES = {
    "EventStore": "ledger.store.base",
    "SqlEventStore": "ledger.store.sql",
    "database_url": "ledger.store.sql",
    "describe_target": "ledger.store.sql",
}
__all__ = ["EventStore", "SqlEventStore", "database_url", "describe_target"]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'ledger.store' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_HOMES[name]), name)
