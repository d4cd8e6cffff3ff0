"""Actors: people, parties, governments, ministries, legislatures, organisations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.events import ActorRegistered
from ledger.projections.common import HistoryError
from ledger.records import StoredEvent


@dataclass
class ActorState:
    """An actor as registered."""

    subject: str
    name: str
    kind: str
    names: dict[str, str] = field(default_factory=dict)
    parent: str | None = None
    registered_at: str = ""

    def to_json(self) -> dict[str, Any]:
        """The export form."""
        return {
            "name": self.name,
            "kind": self.kind,
            "names": dict(sorted(self.names.items())),
            "parent": self.parent,
            "registered_at": self.registered_at,
        }


def fold_actor(events: Sequence[StoredEvent]) -> ActorState | None:
    """An actor's state from its live events in valid-time order."""
    state: ActorState | None = None
    for stored in events:
        event = stored.event
        if not isinstance(event, ActorRegistered):
            raise HistoryError(stored, f"{stored.type} is not an actor event", "type")
        if state is not None:
            raise HistoryError(stored, f"{stored.subject} is already registered", "subject")
        state = ActorState(
            subject=stored.subject,
            name=event.data.name,
            kind=event.data.kind,
            names=dict(event.data.names or {}),
            parent=event.data.parent,
            registered_at=stored.occurred_at,
        )
    return state
