"""policy-ledger: an event-sourced, tamper-evident ledger of policy commitments.

The library works without the command line:

    from ledger import Ledger
    ledger = Ledger.init("policy-ledger.db", tz="Asia/Seoul")
    ledger.import_lines(open("events.ndjson", "rb"))
    state = ledger.commitment("commitment/kr-ai-gpus", ledger.view(as_of="2025-06-04"))
"""

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
from ledger.service import AppendResult, Ledger

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
