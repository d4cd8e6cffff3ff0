"""Offices and their tenures: who held the office, in which administration, when."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.projections.common import HistoryError, event_data
from ledger.records import StoredEvent


@dataclass
class Tenure:
    """One continuous appointment of a holder to an office (suspensions inside it)."""

    holder: str
    role: str
    administration: str
    began_at: str
    began_key: str
    ended_at: str | None = None
    ended_key: str | None = None
    end_reason: str | None = None
    suspensions: list[dict[str, str | None]] = field(default_factory=list)

    @property
    def suspended(self) -> bool:
        """Whether the tenure is suspended now (its last suspension not resumed)."""
        return bool(self.suspensions) and self.suspensions[-1]["resumed_at"] is None

    @property
    def open(self) -> bool:
        """Not ended."""
        return self.ended_at is None

    def to_json(self) -> dict[str, Any]:
        """The export form."""
        return {
            "holder": self.holder,
            "role": self.role,
            "administration": self.administration,
            "began_at": self.began_at,
            "ended_at": self.ended_at,
            "end_reason": self.end_reason,
            "suspensions": [dict(s) for s in self.suspensions],
        }


@dataclass
class OfficeState:
    """An office with every tenure in it."""

    subject: str
    name: str
    jurisdiction: str
    kind: str
    tenures: list[Tenure] = field(default_factory=list)

    def open_tenure_of(self, holder: str) -> Tenure | None:
        """The holder's tenure that has not ended."""
        for tenure in reversed(self.tenures):
            if tenure.holder == holder and tenure.open:
                return tenure
        return None

    def active_tenure(self) -> Tenure | None:
        """The tenure neither suspended nor ended, if any."""
        for tenure in reversed(self.tenures):
            if tenure.open and not tenure.suspended:
                return tenure
        return None

    def to_json(self) -> dict[str, Any]:
        """The export form."""
        active = self.active_tenure()
        return {
            "name": self.name,
            "jurisdiction": self.jurisdiction,
            "kind": self.kind,
            "holder": active.holder if active else None,
            "tenures": [t.to_json() for t in self.tenures],
        }


def fold_office(events: Sequence[StoredEvent]) -> OfficeState | None:
    """An office's state from its live events in valid-time order, checking the tenure rules."""
    state: OfficeState | None = None
    for stored in events:
        data = event_data(stored)
        if stored.type == "OfficeCreated":
            if state is not None:
                raise HistoryError(stored, f"{stored.subject} was already created", "subject")
            state = OfficeState(
                subject=stored.subject,
                name=data["name"],
                jurisdiction=data["jurisdiction"],
                kind=data["kind"],
            )
            continue
        if state is None:
            raise HistoryError(
                stored, f"{stored.subject} has no OfficeCreated before {stored.occurred_at}"
            )
        _apply_tenure_event(state, stored, data)
    return state


def _apply_tenure_event(state: OfficeState, stored: StoredEvent, data: dict[str, Any]) -> None:
    type_ = stored.type
    holder = str(data.get("holder", ""))
    current = state.open_tenure_of(holder)
    active = state.active_tenure()
    when = stored.occurred_at
    if type_ == "TenureBegan":
        if current is not None:
            raise HistoryError(
                stored, f"{holder} already holds {state.subject} at {when}", "data.holder"
            )
        if active is not None:
            raise HistoryError(
                stored,
                f"{state.subject} already has an active tenure ({active.holder}) at {when}; "
                "end or suspend it first",
                "data.holder",
            )
        state.tenures.append(
            Tenure(
                holder=holder,
                role=data["role"],
                administration=str(data.get("administration")),
                began_at=when,
                began_key=stored.occurred_key,
            )
        )
    elif type_ == "TenureSuspended":
        if current is None or current.suspended:
            raise HistoryError(
                stored, f"{holder} has no active tenure in {state.subject} at {when}", "data.holder"
            )
        current.suspensions.append(
            {"suspended_at": when, "resumed_at": None, "reason": data.get("reason")}
        )
    elif type_ == "TenureResumed":
        if current is None or not current.suspended:
            raise HistoryError(
                stored,
                f"{holder} has no suspended tenure in {state.subject} at {when}",
                "data.holder",
            )
        if active is not None:
            raise HistoryError(
                stored,
                f"{state.subject} already has an active tenure ({active.holder}) at {when}",
                "data.holder",
            )
        current.suspensions[-1]["resumed_at"] = when
    elif type_ == "TenureEnded":
        if current is None:
            raise HistoryError(
                stored, f"{holder} has no tenure to end in {state.subject} at {when}", "data.holder"
            )
        current.ended_at = when
        current.ended_key = stored.occurred_key
        current.end_reason = data["reason"]
    else:
        raise HistoryError(stored, f"{stored.type} is not an office event", "type")
