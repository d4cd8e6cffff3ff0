"""The fast read paths against the plain ones, on the synthetic and the example ledgers.

- The folds read stored data dicts; the typed folds they replaced (kept below,
  verbatim but renamed, as the reference) read `stored.event`. Both must give
  the same states, byte for byte in their export forms.
- `continuity_from_store` (a filtered scan) must give the report
  `continuity_report(ledger.events(), view)` gives.
- The continuity report's running commitment folds (`_History.state_at`,
  `state_after`) must equal `fold_commitment(history.until(key))` at any key,
  in any order of keys.
- The read-model rebuild (driver executemany) must write what a full replay says.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest

from cli.commands_demo import example_lines
from ledger.continuity import _History, continuity_report
from ledger.events import (
    AppropriationRecorded,
    AssessmentRecorded,
    CommitmentMade,
    CommitmentReaffirmed,
    CommitmentRevised,
    CommitmentSuperseded,
    CommitmentWithdrawn,
    ProgressReported,
    Target,
)
from ledger.projections import View, fold_budget, fold_commitment, live_events, project_ledger
from ledger.projections.budgets import (
    FUNDING_PHASE_OF,
    AllocationCheck,
    BudgetState,
    latest_allocations,
)
from ledger.projections.commitments import CommitmentState, TargetState
from ledger.projections.common import HistoryError
from ledger.projections.state import group_by_subject
from ledger.quantities import Quantity, exact_arithmetic, format_amount, format_total
from ledger.readside import continuity_from_store, state_from_store
from ledger.records import StoredEvent, instant_key
from ledger.service import Ledger
from ledger.synthetic import synthetic_lines
from tests.conftest import Clock

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def ledgers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Ledger]:
    """A synthetic ledger of 3,000 events and the example ledger."""
    folder = tmp_path_factory.mktemp("read-speed")
    built: dict[str, Ledger] = {}
    for name, lines in (
        ("synthetic", list(synthetic_lines(3000, 7))),
        ("example", list(example_lines())),
    ):
        ledger = Ledger.init(
            str(folder / f"{name}.db"), tz="Asia/Seoul", user="test", clock=Clock()
        )
        ledger.import_lines(lines)
        built[name] = ledger
    yield built  # type: ignore[misc]
    for ledger in built.values():
        ledger.close()


def _views(ledger: Ledger) -> list[View]:
    tz = ledger.tz
    return [
        View(now=NOW, tz=tz),
        View(now=NOW, as_of=datetime(2012, 3, 1, tzinfo=UTC), tz=tz),
        View(now=NOW, as_of=datetime(2021, 7, 9, 12, tzinfo=UTC), tz=tz),
        View(now=NOW, as_of=datetime(2025, 6, 10, tzinfo=UTC), tz=tz),
    ]


def _bytes(value: object) -> bytes:
    return orjson.dumps(value, default=str)


@pytest.mark.parametrize("name", ["synthetic", "example"])
def test_dict_folds_equal_the_typed_folds(ledgers: dict[str, Ledger], name: str) -> None:
    ledger = ledgers[name]
    events = list(ledger.events())
    for view in _views(ledger):
        lines: list[list[StoredEvent]] = []
        for subject, history in group_by_subject(events).items():
            live = live_events(history, view)
            if not live:
                continue
            if subject.startswith("commitment/"):
                fast, plain = fold_commitment(live), typed_fold_commitment(_fresh(live))
                assert fast is not None and plain is not None
                assert _bytes(fast.to_json(view.judged_on)) == _bytes(plain.to_json(view.judged_on))
                assert fast.status_inputs() == plain.status_inputs()
            elif subject.startswith("budget/"):
                lines.append(live)
                fast_line, plain_line = fold_budget(live), typed_fold_budget(_fresh(live))
                assert fast_line is not None and plain_line is not None
                # Key order too: the read models store this JSON unsorted.
                assert _bytes(fast_line.to_json()) == _bytes(plain_line.to_json())
        assert latest_allocations(lines) == typed_latest_allocations(lines)


def _fresh(events: Sequence[StoredEvent]) -> list[StoredEvent]:
    """The same events without their cached typed models (the typed folds decode them)."""
    return [
        StoredEvent(**{k: getattr(e, k) for k in e.__dataclass_fields__ if k != "_event"})
        for e in events
    ]


@pytest.mark.parametrize("name", ["synthetic", "example"])
def test_continuity_from_store_equals_the_report_of_every_event(
    ledgers: dict[str, Ledger], name: str
) -> None:
    ledger = ledgers[name]
    for view in _views(ledger):
        for by in ("administration", "tenure"):
            for horizon in (365, 30):
                plain = continuity_report(ledger.events(), view, by=by, horizon_days=horizon)  # type: ignore[arg-type]
                fast = continuity_from_store(ledger.store, view, by=by, horizon_days=horizon)  # type: ignore[arg-type]
                assert _bytes(fast.to_json()) == _bytes(plain.to_json())
        area = continuity_from_store(ledger.store, view, area="ai").to_json()
        assert _bytes(area) == _bytes(
            continuity_report(list(ledger.events()), view, area="ai").to_json()
        )


def test_running_commitment_folds_equal_folding_each_prefix(ledgers: dict[str, Ledger]) -> None:
    ledger = ledgers["synthetic"]
    view = View(now=NOW, tz=ledger.tz)
    rng = random.Random(5)
    histories = [
        _History.of(live_events(history, view))
        for subject, history in group_by_subject(ledger.events()).items()
        if subject.startswith("commitment/")
    ]
    assert len(histories) > 50
    start = datetime(2006, 1, 1, tzinfo=UTC)
    keys = [
        instant_key(start + timedelta(days=rng.randrange(7300), hours=rng.randrange(24)))
        for _ in range(12)
    ]
    for history in histories:
        for key in [*keys, *sorted(keys)]:  # backwards and forwards
            running = history.state_at(key)
            plain = fold_commitment(history.until(key))
            assert (running is None) == (plain is None)
            if running is None or plain is None:
                continue
            assert _bytes(running.to_json(view.judged_on)) == _bytes(plain.to_json(view.judged_on))
            later = max(keys)
            moved = history.state_after(running, later)
            assert _bytes(moved.to_json(view.judged_on)) == _bytes(
                fold_commitment(history.until(later)).to_json(view.judged_on)  # type: ignore[union-attr]
            )
            # state_after leaves the running state where it was
            assert _bytes(running.to_json(view.judged_on)) == _bytes(plain.to_json(view.judged_on))


@pytest.mark.parametrize("name", ["synthetic", "example"])
def test_read_model_rebuild_equals_a_full_replay(ledgers: dict[str, Ledger], name: str) -> None:
    ledger = ledgers[name]
    ledger.rebuild()
    view = View(now=NOW, tz=ledger.tz)
    replayed = project_ledger(ledger.events(), view).to_json()
    assert _bytes(ledger.state_json(view)) == _bytes(replayed)
    for past in _views(ledger):
        assert _bytes(state_from_store(ledger.store, past).to_json()) == _bytes(
            project_ledger(ledger.events(), past).to_json()
        )
    for past in _views(ledger)[1:]:  # another moment replays the log without sources
        assert _bytes(ledger.state_json(past)) == _bytes(
            project_ledger(ledger.events(), past).to_json()
        )


# --- the typed folds the dict folds replaced (reference) ----------------------------


def typed_fold_commitment(events: Sequence[StoredEvent]) -> CommitmentState | None:
    """A commitment's state from its live events in valid-time order, checking the rules."""
    state: CommitmentState | None = None
    for stored in events:
        event = stored.event
        if isinstance(event, CommitmentMade):
            if state is not None:
                raise HistoryError(stored, f"{stored.subject} was already made", "type")
            data = event.data
            state = CommitmentState(
                subject=stored.subject,
                title=data.title,
                summary=data.summary,
                by=data.by,
                capacity=data.capacity,
                areas=list(data.areas),
                made_at=stored.occurred_at,
                made_key=stored.occurred_key,
                due=data.due,
                targets={t.key: _typed_new_target(t) for t in data.targets},
            )
        elif state is None:
            raise HistoryError(
                stored,
                f"{stored.subject} has no CommitmentMade at or before {stored.occurred_at}",
                "subject",
            )
        else:
            _typed_apply(state, stored)
        state.event_count += 1
    return state


def _typed_new_target(target: Target) -> TargetState:
    return TargetState(
        key=target.key,
        quantity=target.quantity,
        description=target.description,
        baseline=target.baseline,
        due=target.due,
    )


def _typed_apply(state: CommitmentState, stored: StoredEvent) -> None:
    event = stored.event
    if isinstance(event, CommitmentRevised):
        _typed_revise(state, stored, event)
    elif isinstance(event, ProgressReported):
        target = _typed_existing_target(state, stored, event.data.target, "data.target")
        _typed_same_unit(stored, target, event.data.achieved, "data.achieved")
        target.achieved = event.data.achieved.amount
        state.progressed = True
    elif isinstance(event, CommitmentWithdrawn):
        state.withdrawn = {
            "by": event.data.by,
            "reason": event.data.reason,
            "at": stored.occurred_at,
        }
    elif isinstance(event, CommitmentSuperseded):
        if event.data.successor == state.subject:
            raise HistoryError(stored, "a commitment cannot supersede itself", "data.successor")
        state.superseded_by = event.data.successor
    elif isinstance(event, AssessmentRecorded):
        state.assessments[event.data.assessor] = {
            "rubric": event.data.rubric,
            "rating": event.data.rating,
            "rationale": event.data.rationale,
            "occurred_at": stored.occurred_at,
        }
    elif not isinstance(event, CommitmentReaffirmed):
        raise HistoryError(stored, f"{stored.type} is not a commitment event", "type")


def _typed_revise(state: CommitmentState, stored: StoredEvent, event: CommitmentRevised) -> None:
    for index, change in enumerate(event.data.targets):
        where = f"data.targets[{index}]"
        current = state.targets.get(change.key)
        if current is None:
            if change.quantity is None:
                raise HistoryError(
                    stored,
                    f"target '{change.key}' does not exist at {stored.occurred_at}; "
                    "a new target needs a quantity",
                    f"{where}.key",
                )
            state.targets[change.key] = TargetState(
                key=change.key,
                quantity=change.quantity,
                description=change.description,
                baseline=change.baseline,
                due=change.due,
            )
            continue
        if change.quantity is not None:
            _typed_same_unit(stored, current, change.quantity, f"{where}.quantity")
            current.quantity = change.quantity
        if change.baseline is not None:
            _typed_same_unit(stored, current, change.baseline, f"{where}.baseline")
            current.baseline = change.baseline
        if change.description is not None:
            current.description = change.description
        if change.due is not None:
            current.due = change.due
    for index, key in enumerate(event.data.removed or []):
        _typed_existing_target(state, stored, key, f"data.removed[{index}]")
        del state.targets[key]
    if event.data.due is not None:
        state.due = event.data.due
    if not state.targets:
        raise HistoryError(stored, "a revision may not remove every target", "data.removed")


def _typed_existing_target(
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


def _typed_same_unit(
    stored: StoredEvent, target: TargetState, quantity: Quantity, field_name: str
) -> None:
    if quantity.unit != target.quantity.unit:
        raise HistoryError(
            stored,
            f"unit {quantity.unit} does not match target '{target.key}' in {target.quantity.unit}",
            field_name,
        )


@exact_arithmetic
def typed_fold_budget(
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
def typed_latest_allocations(
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
