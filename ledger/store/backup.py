"""Backups: SQLite's online backup for a ledger file, or the event log for any database.

A file backup is a consistent copy even while others write (SQLite copies
pages under its own locks and restarts if the source changes). The event log
backup (`export-events` form) works for PostgreSQL too and is restored with
`import --mirror`, which checks every leaf hash and the root.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ledger.errors import LedgerConfigError
from ledger.store.sql import SqlEventStore


def backup_sqlite(store: SqlEventStore, target: str) -> None:
    """Copy a SQLite ledger to a new file with the online backup API."""
    if store.dialect != "sqlite":
        raise LedgerConfigError(
            "a file backup needs a SQLite ledger; use --format events for PostgreSQL"
        )
    destination = Path(target)
    if destination.exists():
        raise LedgerConfigError(f"{destination} exists; a backup never overwrites a file")
    partial = destination.with_name(f".{destination.name}.partial")
    try:
        with store.db.connect() as raw:
            copy = sqlite3.connect(partial)
            try:
                raw.backup(copy)
            finally:
                copy.close()
        _publish(partial, destination)
    finally:
        partial.unlink(missing_ok=True)


def _publish(partial: Path, destination: Path) -> None:
    """Give the finished copy its name, refusing a file that appeared there meanwhile.

    A hard link fails when the name exists, where a rename would replace it;
    on a file system without hard links, the rename after one more check.
    """
    try:
        os.link(partial, destination)
    except FileExistsError:
        raise LedgerConfigError(f"{destination} exists; a backup never overwrites a file") from None
    except OSError:
        if destination.exists():
            raise LedgerConfigError(
                f"{destination} exists; a backup never overwrites a file"
            ) from None
        os.replace(partial, destination)
