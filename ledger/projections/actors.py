"""Actors: people, parties, governments, ministries, legislatures, organisations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.projections.common import HistoryError, event_data
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
        data = event_data(stored)
        if stored.type != "ActorRegistered":
            raise HistoryError(stored, f"{stored.type} is not an actor event", "type")
        if state is not None:
            raise HistoryError(stored, f"{stored.subject} is already registered", "subject")
        state = ActorState(
            subject=stored.subject,
            name=data["name"],
            kind=data["kind"],
            names=dict(data.get("names") or {}),
            parent=data.get("parent"),
            registered_at=stored.occurred_at,
        )
    return state
