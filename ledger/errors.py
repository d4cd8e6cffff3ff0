"""Every error the ledger raises on purpose.

    LedgerError                  base; the CLI prints str(error) and exits 1
    ├── InvalidEvent             input that cannot become an event (names line and field)
    │   └── RuleViolation        a well-formed event that breaks a rule of the history
    ├── DuplicateEventConflict   an event id already stored with other content
    ├── ConcurrencyError         another writer appended to the subject first
    ├── NotFound                 an unknown subject or event id
    ├── LedgerConfigError        a database URL, time zone or ledger setting that cannot work
    └── StorageError             the database refused or failed (message from the driver)
        └── CorruptRecord        a stored row that cannot be read back: altered behind the ledger's back

Nothing is written when any of these is raised during an append: the store
commits a whole batch or nothing.

HistoryError is not a LedgerError: the pure folds raise it about a stored
event, and the service turns it into a RuleViolation naming the input line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ledger.records import StoredEvent


class LedgerError(Exception):
    """Base class: a one-line, user-facing reason."""


class InvalidEvent(LedgerError):
    """An input event that cannot be read or does not fit the format."""

    def __init__(self, reason: str, *, line: int | None = None, field: str | None = None) -> None:
        self.reason = reason
        self.line = line
        self.field = field
        super().__init__(self._render())

    def _render(self) -> str:
        parts = []
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.field:
            parts.append(self.field)
        parts.append(self.reason)
        return ": ".join(parts)

    def at_line(self, line: int) -> InvalidEvent:
        """The same error, attributed to an input line."""
        clone = type(self)(self.reason, line=line, field=self.field)
        return clone


class RuleViolation(InvalidEvent):
    """A well-formed event that would make a subject's history invalid."""


class DuplicateEventConflict(LedgerError):
    """The same event id is already stored with different content."""


class ConcurrencyError(LedgerError):
    """The subject's version moved on since it was read: re-read and try again."""


class NotFound(LedgerError):
    """A subject or event that the ledger does not hold."""


class LedgerConfigError(LedgerError):
    """A setting (database URL, time zone) that cannot work."""


class StorageError(LedgerError):
    """The database failed; the message says how."""


class CorruptRecord(StorageError):
    """A stored event row that cannot be read: someone edited the database directly."""

    def __init__(self, position: int, reason: str) -> None:
        self.position = position
        self.reason = reason
        super().__init__(
            f"position {position}: {reason}; the ledger was altered outside the program (run verify)"
        )


class HistoryError(Exception):
    """A history that breaks a rule at one event (pure-domain; the service names the line)."""

    def __init__(self, event: StoredEvent, reason: str, field: str | None = None) -> None:
        self.event = event
        self.reason = reason
        self.field = field
        super().__init__(reason)
