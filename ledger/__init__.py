"""policy-ledger: an event-sourced, tamper-evident ledger of policy commitments.

The library works without the command line:

    from ledger import Ledger
    ledger = Ledger.init("policy-ledger.db", tz="Asia/Seoul")
    ledger.import_lines(open("events.ndjson", "rb"))
    state = ledger.commitment("commitment/kr-ai-gpus", ledger.view(as_of="2025-06-04"))
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledger.errors import (
        ConcurrencyError,
        DuplicateEventConflict,
        InvalidEvent,
        LedgerConfigError,
        LedgerError,
        NotFound,
        RuleViolation,
        StorageError,
    )
    from ledger.events import Event, decode_event
    from ledger.export import export_bytes, export_document
    from ledger.projections import View
    from ledger.quantities import Quantity, parse_quantity
    from ledger.records import StoredEvent
    from ledger.service import Ledger
    from ledger.writing import AppendResult

# Imported on first use: a command that needs only the store should not pay
# for pydantic, the continuity report or cryptography at start-up.
_HOMES = {
    "ConcurrencyError": "ledger.errors",
    "DuplicateEventConflict": "ledger.errors",
    "InvalidEvent": "ledger.errors",
    "LedgerConfigError": "ledger.errors",
    "LedgerError": "ledger.errors",
    "NotFound": "ledger.errors",
    "RuleViolation": "ledger.errors",
    "StorageError": "ledger.errors",
    "Event": "ledger.events",
    "decode_event": "ledger.events",
    "export_bytes": "ledger.export",
    "export_document": "ledger.export",
    "View": "ledger.projections",
    "Quantity": "ledger.quantities",
    "parse_quantity": "ledger.quantities",
    "StoredEvent": "ledger.records",
    "AppendResult": "ledger.writing",
    "Ledger": "ledger.service",
}
__all__ = [
    "AppendResult",
    "ConcurrencyError",
    "DuplicateEventConflict",
    "Event",
    "InvalidEvent",
    "Ledger",
    "LedgerConfigError",
    "LedgerError",
    "NotFound",
    "Quantity",
    "RuleViolation",
    "StorageError",
    "StoredEvent",
    "View",
    "decode_event",
    "export_bytes",
    "export_document",
    "parse_quantity",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'ledger' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_HOMES[name]), name)
