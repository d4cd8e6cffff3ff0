"""Commitments: what was pledged, how it was revised, how far it got, and its status."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

from ledger.amounts import StoredQuantity, format_amount, format_total, stored_quantity
from ledger.projections.common import HistoryError, event_data
from ledger.records import StoredEvent
from ledger.vocabulary import StatusInputs

_fromisoformat = date.fromisoformat

FUNDING_PHASES = ("proposed", "approved", "executed")


@dataclass
class TargetState:
    """One target of a commitment, with how far it got and the money behind it."""

    key: str
    quantity: StoredQuantity
    description: str | None = None
    baseline: StoredQuantity | None = None
    due: date | None = None
    achieved: Decimal | None = None
    funded: dict[str, Decimal] = field(default_factory=dict)

    @property
    def reached(self) -> bool:
        """Whether the achieved level reaches the quantity (from above, for a reduction)."""
        if self.achieved is None:
            return False
        if self.baseline is not None and self.baseline.amount > self.quantity.amount:
            # "Cut to 100 from 200" is reached at 100 or below, not at 150.
            return self.achieved <= self.quantity.amount
        return self.achieved >= self.quantity.amount

    def to_json(self) -> dict[str, Any]:
        """The export form; amounts as decimal strings in the target's unit."""
        return {
            "description": self.description,
            "quantity": _quantity_json(self.quantity),
            "baseline": _quantity_json(self.baseline) if self.baseline else None,
            "due": self.due.isoformat() if self.due else None,
            "achieved": _amount_text(self.achieved) if self.achieved is not None else None,
            "funded": {
                "proposed": _funded_total(self.funded, "proposed"),
                "approved": _funded_total(self.funded, "approved"),
                "executed": _funded_total(self.funded, "executed"),
            },
        }


def _funded_total(funded: dict[str, Decimal], phase: str) -> str:
    """`format_total(funded.get(phase, Decimal(0)))`: every target of a rebuild writes three."""
    amount = funded.get(phase)
    return "0" if amount is None else format_total(amount)


@dataclass
class CommitmentState:
    """A commitment as its events made it."""

    subject: str
    title: str
    by: str
    capacity: str
    areas: list[str]
    made_at: str
    made_key: str
    summary: str | None = None
    due: date | None = None
    targets: dict[str, TargetState] = field(default_factory=dict)
    assessments: dict[str, dict[str, Any]] = field(default_factory=dict)
    withdrawn: dict[str, str] | None = None
    superseded_by: str | None = None
    progressed: bool = False
    event_count: int = 0
    # Allocations naming no target, by unit and phase.
    funded: dict[str, dict[str, Decimal]] = field(default_factory=dict)

    def due_dates(self) -> list[date]:
        """Every due date of the commitment and its targets."""
        dates = [t.due for t in self.targets.values() if t.due is not None]
        return [*dates, self.due] if self.due is not None else dates

    def is_funded_in_force(self) -> bool:
        """An approved, adjusted or executed allocation names it."""
        in_force = ("approved", "executed")
        by_target = any(t.funded.get(p) for t in self.targets.values() for p in in_force)
        return by_target or any(v.get(p) for v in self.funded.values() for p in in_force)

    def status_inputs(self) -> StatusInputs:
        """Everything status depends on except the day it is judged on."""
        closed = None
        if self.withdrawn is not None:
            closed = "withdrawn"
        elif self.superseded_by is not None:
            closed = "superseded"
        elif self.targets and all(t.reached for t in self.targets.values()):
            closed = "delivered"
        dues = self.due_dates()
        return StatusInputs(
            closed=closed,
            earliest_due=min(dues) if dues else None,
            active=self.progressed or self.is_funded_in_force(),
        )

    def status(self, judged_on: date) -> str:
        """The status of the contract, first match, with due dates judged on `judged_on`."""
        return self.status_inputs().status(judged_on)

    def to_json(self, judged_on: date) -> dict[str, Any]:
        """The export form (spec section 5, `commitments`)."""
        return self.json_with_status(self.status(judged_on))

    def json_with_status(self, status: str | None) -> dict[str, Any]:
        """The export form with the status given (the read models store it as null)."""
        return {
            "title": self.title,
            "summary": self.summary,
            "by": self.by,
            "capacity": self.capacity,
            "areas": list(self.areas),
            "status": status,
            "made_at": self.made_at,
            "due": self.due.isoformat() if self.due else None,
            "targets": {k: self.targets[k].to_json() for k in sorted(self.targets)},
            "funded": {
                unit: {p: format_total(phases.get(p, Decimal(0))) for p in FUNDING_PHASES}
                for unit, phases in sorted(self.funded.items())
            },
            "assessments": {k: self.assessments[k] for k in sorted(self.assessments)},
            "withdrawn": self.withdrawn,
            "superseded_by": self.superseded_by,
            "event_count": self.event_count,
        }


def _quantity_json(quantity: StoredQuantity) -> dict[str, str]:
    """The export form of a quantity: what the typed model dumps, `{"amount": ..., "unit": ...}`."""
    return {"amount": _amount_text(quantity.amount), "unit": quantity.unit}


# A ledger names the same amounts again and again (13,000 distinct quantities
# among the 81,000 targets of a 200,000-event synthetic ledger), and a replay
# builds and formats each: both are pure, so each is done once. Bounded:
# cleared when full.
_MEMO_SIZE = 1 << 16
_QUANTITIES: dict[tuple[str, str], StoredQuantity] = {}
_AMOUNT_TEXTS: dict[Decimal, str] = {}


def _quantity(raw: dict[str, Any]) -> StoredQuantity:
    """`stored_quantity(raw)`, one shared instance per stored amount and unit (it is frozen)."""
    amount, unit = raw["amount"], raw["unit"]
    if type(amount) is not str or type(unit) is not str:
        return stored_quantity(raw)  # not the stored form: as it was, errors included
    key = (amount, unit)
    found = _QUANTITIES.get(key)
    if found is None:
        if len(_QUANTITIES) >= _MEMO_SIZE:
            _QUANTITIES.clear()
        found = _QUANTITIES[key] = stored_quantity(raw)
    return found


def _amount_text(value: Decimal) -> str:
    """`format_amount(value)`, remembered: equal values format alike (1.50 and 1.5 as "1.5")."""
    if not value.is_finite():
        return format_amount(value)  # refused, as always
    found = _AMOUNT_TEXTS.get(value)
    if found is None:
        if len(_AMOUNT_TEXTS) >= _MEMO_SIZE:
            _AMOUNT_TEXTS.clear()
        found = _AMOUNT_TEXTS[value] = format_amount(value)
    return found


def fold_commitment(events: Sequence[StoredEvent]) -> CommitmentState | None:
    """A commitment's state from its live events in valid-time order, checking the rules."""
    state: CommitmentState | None = None
    for stored in events:
        state = apply_commitment_event(state, stored)
    return state


def apply_commitment_event(state: CommitmentState | None, stored: StoredEvent) -> CommitmentState:
    """One step of `fold_commitment`: the state after `stored` (the state given is changed)."""
    data = event_data(stored)
    if stored.type == "CommitmentMade":
        if state is not None:
            raise HistoryError(stored, f"{stored.subject} was already made", "type")
        due = data.get("due")
        state = CommitmentState(
            subject=stored.subject,
            title=data["title"],
            summary=data.get("summary"),
            by=data["by"],
            capacity=data["capacity"],
            areas=list(data["areas"]),
            made_at=stored.occurred_at,
            made_key=stored.occurred_key,
            due=_fromisoformat(due) if due is not None else None,
            targets={t["key"]: _new_target(t) for t in data["targets"]},
        )
    elif state is None:
        raise HistoryError(
            stored,
            f"{stored.subject} has no CommitmentMade at or before {stored.occurred_at}",
            "subject",
        )
    else:
        _apply(state, stored, data)
    state.event_count += 1
    return state


def copy_commitment(state: CommitmentState) -> CommitmentState:
    """A copy that later steps of a fold cannot change (targets and their funding copied)."""
    return replace(
        state,
        areas=list(state.areas),
        targets={
            key: replace(target, funded=dict(target.funded))
            for key, target in state.targets.items()
        },
        assessments=dict(state.assessments),
        withdrawn=dict(state.withdrawn) if state.withdrawn is not None else None,
        funded={unit: dict(phases) for unit, phases in state.funded.items()},
    )


def _new_target(target: dict[str, Any]) -> TargetState:
    baseline = target.get("baseline")
    due = target.get("due")
    return TargetState(
        key=target["key"],
        quantity=_quantity(target["quantity"]),
        description=target.get("description"),
        baseline=_quantity(baseline) if baseline is not None else None,
        due=_fromisoformat(due) if due is not None else None,
    )


def _apply(state: CommitmentState, stored: StoredEvent, data: dict[str, Any]) -> None:
    type_ = stored.type
    if type_ == "CommitmentRevised":
        _revise(state, stored, data)
    elif type_ == "ProgressReported":
        target = _existing_target(state, stored, data["target"], "data.target")
        achieved = data["achieved"]
        _same_unit(stored, target, achieved["unit"], "data.achieved")
        target.achieved = Decimal(achieved["amount"])
        state.progressed = True
    elif type_ == "CommitmentWithdrawn":
        state.withdrawn = {
            "by": data["by"],
            "reason": data["reason"],
            "at": stored.occurred_at,
        }
    elif type_ == "CommitmentSuperseded":
        if data["successor"] == state.subject:
            raise HistoryError(stored, "a commitment cannot supersede itself", "data.successor")
        state.superseded_by = data["successor"]
    elif type_ == "AssessmentRecorded":
        state.assessments[data["assessor"]] = {
            "rubric": data["rubric"],
            "rating": data["rating"],
            "rationale": data.get("rationale"),
            "occurred_at": stored.occurred_at,
        }
    elif type_ != "CommitmentReaffirmed":
        raise HistoryError(stored, f"{stored.type} is not a commitment event", "type")


def _revise(state: CommitmentState, stored: StoredEvent, data: dict[str, Any]) -> None:
    for index, change in enumerate(data.get("targets", ())):
        where = f"data.targets[{index}]"
        key = change["key"]
        quantity = change.get("quantity")
        current = state.targets.get(key)
        if current is None:
            if quantity is None:
                raise HistoryError(
                    stored,
                    f"target '{key}' does not exist at {stored.occurred_at}; "
                    "a new target needs a quantity",
                    f"{where}.key",
                )
            state.targets[key] = _new_target(change)
            continue
        if quantity is not None:
            _same_unit(stored, current, quantity["unit"], f"{where}.quantity")
            current.quantity = _quantity(quantity)
        baseline = change.get("baseline")
        if baseline is not None:
            _same_unit(stored, current, baseline["unit"], f"{where}.baseline")
            current.baseline = _quantity(baseline)
        description = change.get("description")
        if description is not None:
            current.description = description
        due = change.get("due")
        if due is not None:
            current.due = _fromisoformat(due)
    for index, key in enumerate(data.get("removed") or ()):
        _existing_target(state, stored, key, f"data.removed[{index}]")
        del state.targets[key]
    due = data.get("due")
    if due is not None:
        state.due = _fromisoformat(due)
    if not state.targets:
        raise HistoryError(stored, "a revision may not remove every target", "data.removed")


def _existing_target(
    state: CommitmentState, stored: StoredEvent, key: str, field_name: str
) -> TargetState:
    target = state.targets.get(key)
    if target is None:
        known = ", ".join(sorted(state.targets)) or "none"
        raise HistoryError(
            stored,
            f"target '{key}' does not exist on {state.subject} at {stored.occurred_at} "
            f"(targets then: {known})",
            field_name,
        )
    return target


def _same_unit(stored: StoredEvent, target: TargetState, unit: str, field_name: str) -> None:
    if unit != target.quantity.unit:
        raise HistoryError(
            stored,
            f"unit {unit} does not match target '{target.key}' in {target.quantity.unit}",
            field_name,
        )


def targets_at(events: Sequence[StoredEvent], key: str) -> dict[str, TargetState]:
    """A commitment's targets as they stood at the instant `key` (events up to it)."""
    state = fold_commitment([e for e in events if e.occurred_key <= key])
    return state.targets if state is not None else {}
