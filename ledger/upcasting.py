"""Reading events stored by earlier releases: a chain of upcasters.

Every stored event carries the schema version it was written under
(`StoredEvent.schema`; 1 is the format of the interchange contract, and a
schema-1 event's stored form has no `schema` field, so its canonical bytes
are exactly the contract's). When a release changes an event's data shape it
raises CURRENT_SCHEMA and registers an upcaster from the previous version.
Reading applies the chain from the stored version up to the current one.
Upcasting never touches what is stored: hashes, export-events and mirrors
always use the stored form, so a ledger verifies forever.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ledger.errors import LedgerError

CURRENT_SCHEMA = 1

# from_version -> function(type, data at from_version) -> data at from_version + 1
Upcaster = Callable[[str, dict[str, Any]], dict[str, Any]]
UPCASTERS: dict[int, Upcaster] = {}


class SchemaTooNew(LedgerError):
    """An event written by a later release than this one."""


def upcast(event_type: str, schema: int, data: dict[str, Any]) -> dict[str, Any]:
    """An event's data as the current release reads it."""
    if schema > CURRENT_SCHEMA:
        raise SchemaTooNew(
            f"stored under schema {schema}, but this release reads up to {CURRENT_SCHEMA}: "
            "upgrade policy-ledger"
        )
    for version in range(schema, CURRENT_SCHEMA):
        step = UPCASTERS.get(version)
        if step is not None:
            data = step(event_type, data)
    return data


def upcast_data(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """Upcast data of an earlier schema, validated as stored data, in its stored JSON form.

    `ledger.events.upcast_data`, which validates through the event catalogue.
    Imported here on first use: events stored under an earlier schema are the
    only ones that need it, and a read of current events (the folds, the
    quick read path) must not pay for pydantic to be able to call it.
    """
    from ledger.events import upcast_data as validated

    return validated(event_type, data)
