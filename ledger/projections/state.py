"""The whole ledger's derived state, and one subject's, for a view."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ledger.bulk import bulk
from ledger.projections.actors import ActorState, fold_actor
from ledger.projections.budgets import (
    BudgetState,
    Funded,
    apply_funding,
    fold_budget,
    latest_allocations,
)
from ledger.projections.commitments import CommitmentState, fold_commitment
from ledger.projections.common import View, Visible, live_events
from ledger.projections.offices import OfficeState, fold_office
from ledger.records import StoredEvent
from ledger.vocabulary import subject_kind


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
    fold = LedgerFold(view, hold_lines=True)
    for subject, history in group_by_subject(events).items():
        fold.add(subject, history)
    return fold.finish()


Folded = ActorState | OfficeState | CommitmentState | BudgetState


class LedgerFold:
    """`project_ledger` fed one subject's whole history at a time, subjects in any order.

    A reader that returns the log already grouped by subject can fold it
    holding one history at a time instead of the whole log. A subject's
    state lands in the state's dicts in the order of `add`; money reaches the
    commitments in `finish`, once every budget line has been added (the sums
    are exact, so the order of the lines does not matter).

    Each line's allocations are summed as it is added, unless `hold_lines`:
    then the live lines are kept and summed in `finish`, after every fold, as
    `project_ledger` always has (a line whose allocations cannot be read then
    fails after the folds, not before a later subject's own error).
    """

    def __init__(self, view: View, *, hold_lines: bool = False) -> None:
        self.state = LedgerState(view=view)
        self._visible = Visible(view)
        self._funded: dict[tuple[str, str | None, str], dict[str, Decimal]] = {}
        self._lines: list[list[StoredEvent]] | None = [] if hold_lines else None

    def add(self, subject: str, history: Sequence[StoredEvent]) -> Folded | None:
        """Fold one subject's every event (any order); its state, None when nothing is visible."""
        live = self._visible(history)
        if not live:
            return None
        kind = subject_kind(subject)
        state = self.state
        if kind == "actor":
            actor = fold_actor(live)
            if actor is not None:
                state.actors[subject] = actor
            return actor
        if kind == "office":
            office = fold_office(live)
            if office is not None:
                state.offices[subject] = office
            return office
        if kind == "commitment":
            commitment = fold_commitment(live)
            if commitment is not None:
                state.commitments[subject] = commitment
            return commitment
        if kind == "budget":
            if self._lines is not None:
                budget = fold_budget(live)
                self._lines.append(live)
            else:
                budget = fold_budget(live, funded=self._funded)
            if budget is not None:
                state.budgets[subject] = budget
            return budget
        return None

    def funding_by_commitment(self) -> dict[str, Funded]:
        """The money the lines added so far put on each commitment, by commitment.

        For a reader that folds every budget line before any commitment and
        lets each commitment go once folded: `apply_funding` of a commitment
        with its own entries gives what `finish` gives it (the sums are exact).
        Not with `hold_lines`, whose lines are summed only in `finish`.
        """
        if self._lines is not None:
            raise ValueError("the lines are held until finish(): no funding yet")
        found: dict[str, Funded] = {}
        for key, phases in self._funded.items():
            found.setdefault(key[0], {})[key] = phases
        return found

    def finish(self) -> LedgerState:
        """The state, funding applied; call once, after the last `add`."""
        if self._lines is not None:
            self._funded = latest_allocations(self._lines)
        apply_funding(self.state.commitments, self._funded)
        return self.state


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
