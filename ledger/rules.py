"""The rules an event must pass (spec section 2), checked over whole histories.

Pure: the caller (the service) gathers the histories involved, stored events
and the new ones together, and this module checks them as they would stand
once the new events are added. Checking the whole valid-time history, not just
the new event, is what catches a back-filled event that makes a later part of
the history invalid. The folds of `ledger.projections` carry the per-subject
state machines, so the rules and the derived state cannot disagree.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.events import subject_kind, unreachable_target
from ledger.projections.actors import fold_actor
from ledger.projections.budgets import AllocationCheck, fold_budget
from ledger.projections.commitments import (
    TargetState,
    apply_commitment_event,
    fold_commitment,
    targets_at,
)
from ledger.projections.common import HistoryError, event_data, live_events
from ledger.projections.offices import fold_office
from ledger.records import StoredEvent

# Events of these types, when new, can break events of *other* subjects that
# refer to the one they change (a removed target, a retracted registration).
TYPES_THAT_AFFECT_REFERRERS = frozenset({"EventRetracted", "CommitmentRevised"})

CREATION_TYPES = {
    "actor": "ActorRegistered",
    "office": "OfficeCreated",
    "commitment": "CommitmentMade",
    "budget": "AppropriationRecorded",
}


def check_retractions(
    histories: Mapping[str, Sequence[StoredEvent]], new: Iterable[StoredEvent]
) -> None:
    """A retraction names an earlier event of its own subject, not a retraction, not twice."""
    for stored in new:
        # By type and stored data: a new event decoded in another process has
        # no typed event to ask, and decoding one per event would cost more
        # than the whole check.
        if stored.type != "EventRetracted":
            continue
        target_id = str(stored.data["event"])
        history = histories.get(stored.subject, [])
        target = next((e for e in history if e.id == target_id), None)
        if target is None:
            raise HistoryError(
                stored, f"no event {target_id} in {stored.subject} to retract", "data.event"
            )
        if target.type == "EventRetracted":
            raise HistoryError(stored, "a retraction cannot be retracted", "data.event")
        earlier = [
            e
            for e in history
            if e.type == "EventRetracted"
            and e.id != stored.id
            and str(e.data["event"]) == target_id
            and e.position < stored.position
        ]
        if earlier:
            raise HistoryError(stored, f"event {target_id} is already retracted", "data.event")


@dataclass
class Lookups:
    """What the checks of one batch look up again and again, over the same histories.

    An actor named by a thousand events is found once; a commitment's targets
    at an instant are folded once for all the allocations made then.
    """

    exists: dict[str, bool] = field(default_factory=dict)
    # The ids of the events being written: rules for new input only apply to these.
    new_ids: frozenset[str] = frozenset()
    # A commitment's live events in valid-time order and their instants.
    live: dict[str, tuple[list[StoredEvent], list[str]]] = field(default_factory=dict)
    # Its targets after its first N live events, by (commitment, N).
    targets: dict[tuple[str, int], dict[str, TargetState]] = field(default_factory=dict)

    def targets_at(
        self, commitment: str, key: str, histories: Mapping[str, Sequence[StoredEvent]]
    ) -> dict[str, TargetState]:
        """`targets_at(live_events(history), key)`, folded once per prefix of the history.

        Allocations made at different instants between the same two events of
        a commitment see the same targets, so they share one fold.
        """
        if commitment not in self.live:
            events = live_events(list(histories.get(commitment, [])))
            self.live[commitment] = (events, [e.occurred_key for e in events])
        events, keys = self.live[commitment]
        count = bisect_right(keys, key)
        found = self.targets.get((commitment, count))
        if found is None:
            found = self.targets[(commitment, count)] = targets_at(events[:count], key)
        return found


def _exists(subject: str, histories: Mapping[str, Sequence[StoredEvent]], lookups: Lookups) -> bool:
    if subject not in lookups.exists:
        creation = CREATION_TYPES[subject_kind(subject)]
        history = list(histories.get(subject, []))
        lookups.exists[subject] = any(e.type == creation for e in live_events(history))
    return lookups.exists[subject]


def check_subject(
    subject: str,
    histories: Mapping[str, Sequence[StoredEvent]],
    lookups: Lookups | None = None,
) -> None:
    """One subject's live history, as it would stand, against every rule."""
    lookups = Lookups() if lookups is None else lookups
    live = live_events(list(histories.get(subject, [])))
    for stored in live:
        for ref in sorted(stored.references()):
            if not _exists(ref, histories, lookups):
                raise HistoryError(
                    stored, f"{ref} does not exist in the ledger", _field_naming(stored, ref)
                )
    kind = subject_kind(subject)
    if kind == "actor":
        fold_actor(live)
    elif kind == "office":
        fold_office(live)
    elif kind == "commitment":
        fold_commitment(live)
    elif kind == "budget":
        fold_budget(live, _allocation_checker(histories, lookups))
    if any(e.id in lookups.new_ids for e in live):
        check_new_events(kind, live, histories, lookups.new_ids)


# --- rules for new input ----------------------------------------------------------
#
# Checked for the events being written, not for stored ones: a ledger written
# before a rule existed must still replay. Each is a rule the typed event
# cannot judge alone, because it depends on the subject's history.


def check_new_events(
    kind: str,
    live: Sequence[StoredEvent],
    histories: Mapping[str, Sequence[StoredEvent]],
    new_ids: frozenset[str],
) -> None:
    """The rules for new input over one subject's live history (`new_ids`: the new events)."""
    if kind == "commitment":
        _check_revised_targets(live, new_ids)
    elif kind == "budget":
        _check_line_identity(live, new_ids)
    elif kind == "actor":
        for stored in live:
            if stored.id in new_ids:
                _check_parent_chain(stored, histories)


def _check_revised_targets(live: Sequence[StoredEvent], new_ids: frozenset[str]) -> None:
    """A target a new revision changes stays reachable, as a pledged one must be (events.Target).

    Checked after the revision and after every later event too: a back-dated
    revision (a new baseline, say) may make a stored later one's quantity
    reachable by any progress.
    """
    if not any(e.id in new_ids and e.type == "CommitmentRevised" for e in live):
        return
    state = None
    watched: dict[str, tuple[StoredEvent, int]] = {}  # target key -> (new revision, index)
    for stored in live:
        state = apply_commitment_event(state, stored)
        if stored.id in new_ids and stored.type == "CommitmentRevised":
            for index, change in enumerate(stored.data.get("targets", ())):
                watched[change["key"]] = (stored, index)
        for key, (revision, index) in watched.items():
            target = state.targets.get(key)
            if target is None:
                continue
            baseline = target.baseline.amount if target.baseline is not None else None
            problem = unreachable_target(target.quantity.amount, target.quantity.unit, baseline)
            if problem is not None:
                raise HistoryError(revision, problem, f"data.targets[{index}].quantity")


def _check_line_identity(live: Sequence[StoredEvent], new_ids: frozenset[str]) -> None:
    """A budget line keeps its unit through its phases.

    Its instrument may change (a line of the main budget adjusted by a
    supplementary one), and so, as recorded today, may its fiscal year.
    """
    # The line is what is stored already (or, for a new line, its first event):
    # a new phase, back-filled or not, must be in its unit.
    first = next((e for e in live if e.id not in new_ids), live[0] if live else None)
    if first is None:
        return
    first_unit = event_data(first)["quantity"]["unit"]  # a stored event may be of an older schema
    for stored in live:
        if stored.id not in new_ids or stored is first:
            continue
        unit = event_data(stored)["quantity"]["unit"]
        if unit != first_unit:
            raise HistoryError(
                stored,
                f"{stored.subject} is a line in {first_unit} (since {first.occurred_at}), "
                f"not {unit}: record another line",
                "data.quantity",
            )


def _check_parent_chain(
    stored: StoredEvent, histories: Mapping[str, Sequence[StoredEvent]]
) -> None:
    """An actor is not its own parent, nor its own ancestor (as far as the histories reach)."""
    seen = {stored.subject}
    parent = stored.data.get("parent")
    while parent is not None:
        if parent in seen:
            direct = parent == stored.subject and len(seen) == 1
            where = "its own parent" if direct else "its own ancestor"
            raise HistoryError(stored, f"{stored.subject} would be {where}", "data.parent")
        seen.add(parent)
        registered = [e for e in histories.get(parent, ()) if e.type == "ActorRegistered"]
        parent = event_data(registered[-1]).get("parent") if registered else None


def _allocation_checker(
    histories: Mapping[str, Sequence[StoredEvent]], lookups: Lookups
) -> AllocationCheck:
    def check(stored: StoredEvent, allocation: dict[str, Any], where: str) -> None:
        key = allocation.get("target")
        if key is None:
            return
        commitment, unit = allocation["commitment"], allocation["quantity"]["unit"]
        targets = lookups.targets_at(commitment, stored.occurred_key, histories)
        target = targets.get(key)
        if target is None:
            raise HistoryError(
                stored,
                f"target '{key}' does not exist on {commitment} at {stored.occurred_at}",
                f"{where}.target",
            )
        if target.quantity.unit != unit:
            raise HistoryError(
                stored,
                f"unit {unit} does not match target '{target.key}' in {target.quantity.unit}",
                f"{where}.quantity",
            )

    return check


def _field_naming(stored: StoredEvent, ref: str) -> str:
    for name, value in stored.data.items():
        if value == ref:
            return f"data.{name}"
    for index, allocation in enumerate(stored.data.get("allocations", [])):
        if allocation.get("commitment") == ref:
            return f"data.allocations[{index}].commitment"
    return "data"


def subjects_to_check(
    new: Sequence[StoredEvent], referrers: Mapping[str, Sequence[str]]
) -> list[str]:
    """The subjects whose histories a batch can change: its own, and their referrers."""
    touched = {e.subject for e in new}
    affected = set(touched)
    for stored in new:
        if stored.type in TYPES_THAT_AFFECT_REFERRERS:
            affected.update(referrers.get(stored.subject, ()))
    return sorted(affected)


def check_batch(
    new: Sequence[StoredEvent],
    histories: Mapping[str, Sequence[StoredEvent]],
    referrers: Mapping[str, Sequence[str]],
    *,
    same_write: Callable[[StoredEvent], bool] | None = None,
    new_input: bool = True,
) -> None:
    """Raise HistoryError at the first rule the ledger would break with `new` added.

    `histories` holds, for every subject involved (those of `new`, those they
    name, and their referrers), its stored events plus the new ones.
    `same_write` tells events of the same write that are already in the store
    (its earlier chunks) from those stored before it: a fault in one of them is
    its own, not one a new event causes in a stored event. `new_input`: hold
    `new` to the rules for new input too (`check_new_events`).
    """
    check_retractions(histories, new)
    lookups = Lookups(new_ids=frozenset(e.id for e in new) if new_input else frozenset())
    for subject in subjects_to_check(new, referrers):
        try:
            check_subject(subject, histories, lookups)
        except HistoryError as exc:
            if same_write is not None and same_write(exc.event):
                raise
            raise _blamed_on_new_event(exc, subject, new, histories) from None


def _blamed_on_new_event(
    exc: HistoryError,
    subject: str,
    new: Sequence[StoredEvent],
    histories: Mapping[str, Sequence[StoredEvent]],
) -> HistoryError:
    """The error as the fault of the new event that breaks a stored one.

    When a stored event became invalid, the culprit is a new event whose
    addition, after the new events before it (in input order), turns a valid
    history into an invalid one; a bisection over the input finds it, so the
    message names that line rather than the first line of the input.
    """
    new_ids = {e.id for e in new}
    if exc.event.id in new_ids:
        return exc
    relevant = {subject} | {ref for e in histories.get(subject, []) for ref in e.references()}
    candidates = [e for e in new if e.subject in relevant]

    def breaks_with_first(count: int) -> bool:
        left_out = new_ids - {e.id for e in candidates[:count]}
        partial = {s: [e for e in histories.get(s, []) if e.id not in left_out] for s in relevant}
        try:
            check_subject(subject, partial)
        except HistoryError:
            return True
        return False

    valid, invalid = 0, len(candidates)  # with no new event it held; with all it breaks
    while invalid - valid > 1:
        middle = (valid + invalid) // 2
        if breaks_with_first(middle):
            invalid = middle
        else:
            valid = middle
    culprit = candidates[invalid - 1] if candidates else new[0]
    broken = exc.event
    where = f"{exc.field}: " if exc.field else ""
    return HistoryError(
        culprit,
        f"{culprit.type} of {culprit.occurred_at} would make the stored {broken.type} of "
        f"{broken.occurred_at} (position {broken.position}, {broken.subject}) invalid: "
        f"{where}{exc.reason}",
    )
