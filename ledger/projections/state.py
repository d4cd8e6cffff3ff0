"""The whole ledger's derived state, and one subject's, for a view."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.bulk import bulk
from ledger.events import subject_kind
from ledger.projections.actors import ActorState, fold_actor
from ledger.projections.budgets import BudgetState, apply_funding, fold_budget, latest_allocations
from ledger.projections.commitments import CommitmentState, fold_commitment
from ledger.projections.common import View, live_events
from ledger.projections.offices import OfficeState, fold_office
from ledger.records import StoredEvent


@dataclass
class LedgerState:
    """Every subject's state as one view sees it."""

    view: View
    actors: dict[str, ActorState] = field(default_factory=dict)
    offices: dict[str, OfficeState] = field(default_factory=dict)
    commitments: dict[str, CommitmentState] = field(default_factory=dict)
    budgets: dict[str, BudgetState] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The state sections of the export document."""
        judged_on = self.view.judged_on
        return {
            "actors": {k: self.actors[k].to_json() for k in sorted(self.actors)},
            "offices": {k: self.offices[k].to_json() for k in sorted(self.offices)},
            "commitments": {
                k: self.commitments[k].to_json(judged_on) for k in sorted(self.commitments)
            },
            "budgets": {k: self.budgets[k].to_json() for k in sorted(self.budgets)},
        }


def group_by_subject(events: Iterable[StoredEvent]) -> dict[str, list[StoredEvent]]:
    """Events per subject, in the order given."""
    grouped: dict[str, list[StoredEvent]] = defaultdict(list)
    for stored in events:
        grouped[stored.subject].append(stored)
    return grouped


@bulk
def project_ledger(events: Iterable[StoredEvent], view: View) -> LedgerState:
    """Fold every subject's events as the view sees them."""
    state = LedgerState(view=view)
    budget_lines: list[list[StoredEvent]] = []
    for subject, history in group_by_subject(events).items():
        live = live_events(history, view)
        if not live:
            continue
        kind = subject_kind(subject)
        if kind == "actor":
            actor = fold_actor(live)
            if actor is not None:
                state.actors[subject] = actor
        elif kind == "office":
            office = fold_office(live)
            if office is not None:
                state.offices[subject] = office
        elif kind == "commitment":
            commitment = fold_commitment(live)
            if commitment is not None:
                state.commitments[subject] = commitment
        elif kind == "budget":
            budget = fold_budget(live)
            if budget is not None:
                state.budgets[subject] = budget
                budget_lines.append(live)
    apply_funding(state.commitments, latest_allocations(budget_lines))
    return state


def project_commitment(
    history: Sequence[StoredEvent], allocating: Sequence[StoredEvent], view: View
) -> CommitmentState | None:
    """One commitment from its own events and the budget events that allocate to it."""
    state = fold_commitment(live_events(history, view))
    if state is None:
        return None
    lines = group_by_subject(e for e in allocating if subject_kind(e.subject) == "budget")
    # Retractions live in the line's own history; a line's retraction of an
    # allocation must be seen, so the caller passes whole lines when it can.
    funded = latest_allocations(live_events(line, view) for line in lines.values())
    apply_funding({state.subject: state}, funded)
    return state
