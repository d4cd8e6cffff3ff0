"""Event stores: the contract and its SQL implementation."""

from ledger.store.base import EventStore
from ledger.store.sql import SqlEventStore, database_url, describe_target

__all__ = ["EventStore", "SqlEventStore", "database_url", "describe_target"]
