"""The store contract: what the service needs from any event store."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Protocol

from ledger.records import StoredEvent


class EventStore(Protocol):
    """An append-only log of events with a global position and per-subject versions."""

    def append(
        self, events: Sequence[StoredEvent], expected: Mapping[str, int]
    ) -> list[StoredEvent]:
        """Append all events in one transaction, or none.

        `expected` gives, for every subject in `events`, the version the caller
        read (0 for a new subject). If another writer moved a subject on,
        `ConcurrencyError` is raised and nothing is written. Returns the events
        with their positions.
        """
        ...

    def read_subject(self, subject: str) -> list[StoredEvent]:
        """A subject's events in version order."""
        ...

    def read_all(self, after: int = 0, *, batch_size: int = 1000) -> Iterator[StoredEvent]:
        """Every event with position > `after`, in position order, streamed in batches."""
        ...

    def head(self) -> int:
        """The position of the last committed event (0 when empty)."""
        ...

    def versions(self, subjects: Iterable[str]) -> dict[str, int]:
        """The current version of each subject that has events."""
        ...

    def find(self, event_ids: Iterable[str]) -> dict[str, StoredEvent]:
        """Stored events by id (missing ids are absent from the result)."""
        ...

    def referencing(self, subjects: Iterable[str]) -> list[StoredEvent]:
        """Events of any subject whose data names one of `subjects`, in position order."""
        ...

    def subjects(self, kind: str | None = None) -> list[str]:
        """Every subject (of one kind, if given), sorted."""
        ...

    def setting(self, key: str) -> str | None:
        """A ledger setting (such as the time zone), or None."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
