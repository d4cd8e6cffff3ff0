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

from ledger.amounts import exact_arithmetic, format_amount, format_total
from ledger.projections.commitments import CommitmentState
from ledger.projections.common import HistoryError, event_data
from ledger.records import StoredEvent

# The funding phase each recorded phase counts towards: an adjusted line
# replaces the approved amount (spec section 3).
FUNDING_PHASE_OF = {
    "proposed": "proposed",
    "approved": "approved",
    "adjusted": "approved",
    "executed": "executed",
}

_ZERO = Decimal(0)

# (the event, one allocation in stored form: commitment, target?, quantity{amount, unit}, where)
AllocationCheck = Callable[[StoredEvent, dict[str, Any], str], None]


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


Funded = dict[tuple[str, str | None, str], dict[str, Decimal]]


@exact_arithmetic
def fold_budget(
    events: Sequence[StoredEvent],
    check_allocation: AllocationCheck | None = None,
    funded: Funded | None = None,
) -> BudgetState | None:
    """A budget line from its live events in valid-time order, checking its sums and units.

    With `funded`, the line's latest allocations are added to it as
    `add_line_funding` adds them, in the same pass (a replay folds every line).
    """
    state: BudgetState | None = None
    latest: dict[tuple[str, str | None, str, str], Decimal] = {}
    for stored in events:
        data = event_data(stored)
        if stored.type != "AppropriationRecorded":
            raise HistoryError(stored, f"{stored.type} is not a budget event", "type")
        quantity = data["quantity"]
        unit = quantity["unit"]
        line = Decimal(quantity["amount"])
        line_negative = line < _ZERO
        total = _ZERO
        allocations = data.get("allocations", ())
        in_event: dict[tuple[str, str | None, str, str], Decimal] = {}
        phase = FUNDING_PHASE_OF[data["phase"]] if funded is not None else ""
        for index, allocation in enumerate(allocations):
            allocated = allocation["quantity"]
            if allocated["unit"] != unit:
                raise HistoryError(
                    stored,
                    f"allocation in {allocated['unit']} on a line in {unit}",
                    f"data.allocations[{index}].quantity",
                )
            amount = Decimal(allocated["amount"])
            # A negative allocation on a positive line would let the others exceed
            # the line; a negative line (a cut) takes only cuts.
            if amount and (amount < _ZERO) != line_negative:
                sign = "negative" if line >= 0 else "positive"
                raise HistoryError(
                    stored,
                    f"an allocation of {format_amount(amount)} {unit} "
                    f"on a line of {format_amount(line)} {unit} cannot be {sign}",
                    f"data.allocations[{index}].quantity",
                )
            total += amount
            if check_allocation is not None:
                # The stored form, not the typed event: events decoded by the
                # import's worker carry none, and building one costs more than
                # the check.
                check_allocation(stored, allocation, f"data.allocations[{index}]")
            if funded is not None:
                key = (allocation["commitment"], allocation.get("target"), unit, phase)
                in_event[key] = in_event.get(key, _ZERO) + amount
        if abs(total) > abs(line):
            raise HistoryError(
                stored,
                f"allocations add up to {format_total(total)} {unit}, "
                f"{'more than' if line >= 0 else 'beyond'} the line's "
                f"{format_amount(line)} {unit}",
                "data.allocations",
            )
        if state is None:
            state = BudgetState(
                stored.subject, data["body"], data["fiscal_year"], data["instrument"], unit
            )
        state.body, state.fiscal_year, state.instrument = (
            data["body"],
            data["fiscal_year"],
            data["instrument"],
        )
        state.unit = unit
        state.phases[data["phase"]] = {
            "quantity": {"amount": quantity["amount"], "unit": unit},
            "occurred_at": stored.occurred_at,
            "allocations": [_allocation_json(a) for a in allocations],
        }
        state.event_count += 1
        latest.update(in_event)
    if funded is not None:
        _add_latest(funded, latest)
    return state


def _allocation_json(allocation: dict[str, Any]) -> dict[str, Any]:
    """An allocation's export form, keys in the order the typed stored model dumps them.

    `decode_stored` builds a model's fields with defaults first, then the stored
    (sorted) keys, and pydantic dumps in that order: target, commitment, quantity.
    """
    out: dict[str, Any] = {}
    target = allocation.get("target")
    if target is not None:
        out["target"] = target
    out["commitment"] = allocation["commitment"]
    quantity = allocation["quantity"]
    out["quantity"] = {"amount": quantity["amount"], "unit": quantity["unit"]}
    return out


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
        add_line_funding(funded, line)
    return funded


@exact_arithmetic
def add_line_funding(
    funded: dict[tuple[str, str | None, str], dict[str, Decimal]], line: Sequence[StoredEvent]
) -> None:
    """Add one line's latest allocations to `funded` (see `latest_allocations`).

    The sums are exact, so the lines may come in any order: a replay that reads
    the log one subject at a time adds each line as it is folded.
    """
    latest: dict[tuple[str, str | None, str, str], Decimal] = {}
    for stored in line:
        if stored.type != "AppropriationRecorded":
            continue
        data = event_data(stored)
        phase = FUNDING_PHASE_OF[data["phase"]]
        in_event: dict[tuple[str, str | None, str, str], Decimal] = {}
        for allocation in data.get("allocations", ()):
            quantity = allocation["quantity"]
            key = (allocation["commitment"], allocation.get("target"), quantity["unit"], phase)
            amount = Decimal(quantity["amount"])
            in_event[key] = in_event.get(key, _ZERO) + amount
        latest.update(in_event)
    _add_latest(funded, latest)


def _add_latest(funded: Funded, latest: dict[tuple[str, str | None, str, str], Decimal]) -> None:
    for (commitment, target, unit, phase), amount in latest.items():
        bucket = funded.setdefault((commitment, target, unit), {})
        bucket[phase] = bucket.get(phase, _ZERO) + amount


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
