"""Budget lines and the money they put behind commitments.

A budget subject is one line of one budget (e.g. the AI part of the 2025 first
supplementary budget) followed through its phases: proposed, approved,
adjusted, executed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ledger.events import Allocation, AppropriationRecorded
from ledger.projections.commitments import CommitmentState
from ledger.projections.common import HistoryError
from ledger.quantities import exact_arithmetic, format_amount, format_total
from ledger.records import StoredEvent

# The funding phase each recorded phase counts towards: an adjusted line
# replaces the approved amount (spec section 3).
FUNDING_PHASE_OF = {
    "proposed": "proposed",
    "approved": "approved",
    "adjusted": "approved",
    "executed": "executed",
}

AllocationCheck = Callable[[StoredEvent, Allocation, str], None]


@dataclass
class BudgetState:
    """A budget line and the latest record of each phase."""

    subject: str
    body: str
    fiscal_year: int
    instrument: str
    unit: str
    phases: dict[str, dict[str, Any]] = field(default_factory=dict)
    event_count: int = 0

    def to_json(self) -> dict[str, Any]:
        """The export form."""
        return {
            "body": self.body,
            "fiscal_year": self.fiscal_year,
            "instrument": self.instrument,
            "unit": self.unit,
            "phases": {p: self.phases[p] for p in sorted(self.phases)},
            "event_count": self.event_count,
        }


@exact_arithmetic
def fold_budget(
    events: Sequence[StoredEvent], check_allocation: AllocationCheck | None = None
) -> BudgetState | None:
    """A budget line from its live events in valid-time order, checking its sums and units."""
    state: BudgetState | None = None
    for stored in events:
        event = stored.event
        if not isinstance(event, AppropriationRecorded):
            raise HistoryError(stored, f"{stored.type} is not a budget event", "type")
        data = event.data
        unit = data.quantity.unit
        line = data.quantity.amount
        total = Decimal(0)
        for index, allocation in enumerate(data.allocations):
            where = f"data.allocations[{index}]"
            if allocation.quantity.unit != unit:
                raise HistoryError(
                    stored,
                    f"allocation in {allocation.quantity.unit} on a line in {unit}",
                    f"{where}.quantity",
                )
            # A negative allocation on a positive line would let the others exceed
            # the line; a negative line (a cut) takes only cuts.
            if (allocation.quantity.amount < 0) != (line < 0) and allocation.quantity.amount:
                sign = "negative" if line >= 0 else "positive"
                raise HistoryError(
                    stored,
                    f"an allocation of {format_amount(allocation.quantity.amount)} {unit} "
                    f"on a line of {format_amount(line)} {unit} cannot be {sign}",
                    f"{where}.quantity",
                )
            total += allocation.quantity.amount
            if check_allocation is not None:
                check_allocation(stored, allocation, where)
        if abs(total) > abs(line):
            raise HistoryError(
                stored,
                f"allocations add up to {format_total(total)} {unit}, "
                f"{'more than' if line >= 0 else 'beyond'} the line's "
                f"{format_amount(line)} {unit}",
                "data.allocations",
            )
        if state is None:
            state = BudgetState(stored.subject, data.body, data.fiscal_year, data.instrument, unit)
        state.body, state.fiscal_year, state.instrument = (
            data.body,
            data.fiscal_year,
            data.instrument,
        )
        state.unit = unit
        state.phases[data.phase] = {
            "quantity": data.quantity.model_dump(mode="json"),
            "occurred_at": stored.occurred_at,
            "allocations": [a.model_dump(mode="json", exclude_none=True) for a in data.allocations],
        }
        state.event_count += 1
    return state


@exact_arithmetic
def latest_allocations(
    budget_events: Iterable[Sequence[StoredEvent]],
) -> dict[tuple[str, str | None, str], dict[str, Decimal]]:
    """Per (commitment, target, unit): funding by phase, summed over lines.

    Each line contributes its latest allocation to the target in each funding
    phase (valid-time order), so a later adjusted line replaces the approved one.
    """
    funded: dict[tuple[str, str | None, str], dict[str, Decimal]] = {}
    for line in budget_events:
        latest: dict[tuple[str, str | None, str, str], Decimal] = {}
        for stored in line:
            event = stored.event
            if not isinstance(event, AppropriationRecorded):
                continue
            phase = FUNDING_PHASE_OF[event.data.phase]
            in_event: dict[tuple[str, str | None, str, str], Decimal] = {}
            for allocation in event.data.allocations:
                key = (allocation.commitment, allocation.target, allocation.quantity.unit, phase)
                in_event[key] = in_event.get(key, Decimal(0)) + allocation.quantity.amount
            latest.update(in_event)
        for (commitment, target, unit, phase), amount in latest.items():
            bucket = funded.setdefault((commitment, target, unit), {})
            bucket[phase] = bucket.get(phase, Decimal(0)) + amount
    return funded


@exact_arithmetic
def apply_funding(
    commitments: dict[str, CommitmentState],
    funded: dict[tuple[str, str | None, str], dict[str, Decimal]],
) -> None:
    """Put each line's money on the commitment's target (or on the commitment by unit)."""
    for (subject, target_key, unit), phases in funded.items():
        state = commitments.get(subject)
        if state is None:
            continue
        target = state.targets.get(target_key) if target_key is not None else None
        if target is not None and target.quantity.unit == unit:
            for phase, amount in phases.items():
                target.funded[phase] = target.funded.get(phase, Decimal(0)) + amount
        else:
            # No target named, or one since removed: the money still backs the commitment.
            bucket = state.funded.setdefault(unit, {})
            for phase, amount in phases.items():
                bucket[phase] = bucket.get(phase, Decimal(0)) + amount
