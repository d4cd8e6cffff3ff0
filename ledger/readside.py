"""Keeping the read models caught up with the log, and reading state from them.

Catch-up reads only the events after the tracked position, works out which
subjects they can change (their own, and for budget lines the commitments
they fund), refolds just those subjects from their whole histories (so a
back-filled or retracting event lands right), and writes their rows with the
new position in one transaction. A large gap (a fresh import, a rebuild)
replays everything once instead. The folds are the same pure functions a
full replay uses, so the two cannot disagree; a property test holds them to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import orjson

from ledger.bulk import bulk
from ledger.errors import NotFound
from ledger.events import subject_kind
from ledger.projections import (
    ActorState,
    BudgetState,
    CommitmentState,
    LedgerState,
    OfficeState,
    View,
    fold_actor,
    fold_budget,
    fold_office,
    live_events,
    project_commitment,
    project_ledger,
)
from ledger.projections.budgets import Funded, apply_funding
from ledger.projections.state import LedgerFold
from ledger.records import StoredEvent, format_recorded_at
from ledger.replay import streamed_state, with_fallback
from ledger.store.readmodels import (
    ReadModels,
    Rows,
    Stale,
    actors,
    assessments,
    budgets,
    commitments,
    offices,
    targets,
    tenures,
)
from ledger.store.sql import SqlEventStore
from ledger.vocabulary import judged

if TYPE_CHECKING:  # the continuity module loads only when a report is asked for (not for `show`)
    from ledger.continuity import ContinuityReport, Grouping

_position = attrgetter("position")
SECTIONS = ("actors", "offices", "commitments", "budgets")
# Past this many new events, one full replay beats refolding subject by subject.
FULL_REPLAY_AFTER = 20_000


def rows_of(
    state_actors: dict[str, ActorState],
    state_offices: dict[str, OfficeState],
    state_commitments: dict[str, CommitmentState],
    state_budgets: dict[str, BudgetState],
) -> Rows:
    """Table rows for folded states, each a tuple in its table's column order.

    Tuples, not dicts: the driver takes them as they are (a full rebuild
    writes a row for every few events), and tests/test_replay_rows.py holds
    each to the column names.
    """
    rows = Rows()
    for subject, actor in state_actors.items():
        _actor_rows(rows, subject, actor)
    for subject, office in state_offices.items():
        _office_rows(rows, subject, office)
    for subject, commitment in state_commitments.items():
        _commitment_rows(rows, subject, commitment)
    for subject, budget in state_budgets.items():
        _budget_rows(rows, subject, budget)
    return rows


def _actor_rows(rows: Rows, subject: str, actor: ActorState) -> None:
    document = actor.to_json()
    rows.add(
        actors, (subject, actor.name, actor.kind, actor.parent, orjson.dumps(document).decode())
    )


def _office_rows(rows: Rows, subject: str, office: OfficeState) -> None:
    document = office.to_json()
    rows.add(
        offices,
        (
            subject,
            office.name,
            office.jurisdiction,
            office.kind,
            document["holder"],
            orjson.dumps(document).decode(),
        ),
    )
    for seq, tenure in enumerate(office.tenures):
        rows.add(
            tenures,
            (
                subject,
                seq,
                tenure.holder,
                tenure.role,
                tenure.administration,
                tenure.began_at,
                tenure.ended_at,
                tenure.end_reason,
            ),
        )


def _commitment_rows(rows: Rows, subject: str, commitment: CommitmentState) -> None:
    add, dumps = rows.add, orjson.dumps
    # Status is judged on the day asked, from the three columns closed, earliest_due, active.
    document = commitment.json_with_status(None)
    inputs = commitment.status_inputs()
    add(
        commitments,
        (
            subject,
            commitment.title,
            commitment.by,
            commitment.capacity,
            commitment.made_at,
            dumps(commitment.areas).decode(),
            inputs.closed,
            inputs.earliest_due.isoformat() if inputs.earliest_due else None,
            inputs.active,
            commitment.event_count,
            dumps(document).decode(),
        ),
    )
    for key, target in document["targets"].items():
        funded = target["funded"]
        baseline = target["baseline"]
        add(
            targets,
            (
                subject,
                key,
                target["quantity"]["unit"],
                target["quantity"]["amount"],
                baseline["amount"] if baseline else None,
                target["due"],
                target["achieved"],
                funded["proposed"],
                funded["approved"],
                funded["executed"],
            ),
        )
    for assessor, assessment in document["assessments"].items():
        add(
            assessments,
            (
                subject,
                assessor,
                assessment["rubric"],
                assessment["rating"],
                assessment["rationale"],
                assessment["occurred_at"],
            ),
        )


def _budget_rows(rows: Rows, subject: str, budget: BudgetState) -> None:
    rows.add(
        budgets,
        (
            subject,
            budget.body,
            budget.fiscal_year,
            budget.instrument,
            budget.unit,
            orjson.dumps(budget.to_json()).decode(),
        ),
    )


def _current_view(tz: ZoneInfo) -> View:
    # No clock matters here: the rows hold nothing judged on a day.
    return View(now=datetime(2000, 1, 1, tzinfo=UTC), tz=tz)


def _folded_events(
    store: SqlEventStore, kinds: Sequence[str] | None = None
) -> Iterator[StoredEvent]:
    """Every event (of `kinds`) in position order, as the folds need them: without sources.

    No fold reads an event's sources or leaf hash; leaving them unread saves
    decoding a JSON text per event and holding it while the whole log is folded.
    """
    return store.read_all(kinds=kinds, sources=False)


class _Tracked:
    """Wraps an event stream, remembering the last position seen."""

    def __init__(self, events: Iterable[StoredEvent]) -> None:
        self.events = events
        self.last = 0

    def __iter__(self) -> Iterator[StoredEvent]:
        for stored in self.events:
            self.last = stored.position
            yield stored


@bulk
def rebuild(store: SqlEventStore, models: ReadModels, tz: ZoneInfo) -> int:
    """Drop every read-model row and replay the whole log; returns the position reached."""
    expected = models.position()
    rows, position = with_fallback(
        lambda: _streamed_rows(store, tz), lambda: _replayed_rows(store, tz)
    )
    if not models.apply(rows, expected=expected, position=position, full=True):
        return rebuild(store, models, tz)
    return position


class _OutOfOrder(Exception):
    """A budget line came after a commitment: the funding of those before was not known."""


def _streamed_rows(store: SqlEventStore, tz: ZoneInfo) -> tuple[Rows, int]:
    """The rows of a full replay, each subject's made as it is folded and its state let go.

    The histories come one subject at a time in the order of text, every
    budget line before any commitment ("budget/" sorts before
    "commitment/"), so a commitment's money is known when it is folded: its
    rows are made then, and only the rows are held, not a million events'
    states (1.5 GB). The rows are then put in the plain fold's order. A line
    after a commitment raises; the plain fold runs.
    """
    head = store.head()
    fold = LedgerFold(_current_view(tz))
    state = fold.state
    rows = Rows()
    funding: dict[str, Funded] | None = None
    first: dict[str, int] = {}
    for history in store.histories(head):
        subject = history[0].subject
        first[subject] = min(map(_position, history))
        folded = fold.add(subject, history)
        if folded is None:
            continue
        if isinstance(folded, CommitmentState):
            if funding is None:
                funding = fold.funding_by_commitment()
            apply_funding({subject: folded}, funding.get(subject, {}))
            _commitment_rows(rows, subject, state.commitments.pop(subject))
        elif isinstance(folded, BudgetState):
            if funding is not None:
                raise _OutOfOrder(f"{subject} came after a commitment")
            _budget_rows(rows, subject, state.budgets.pop(subject))
        elif isinstance(folded, ActorState):
            _actor_rows(rows, subject, state.actors.pop(subject))
        else:
            _office_rows(rows, subject, state.offices.pop(subject))
    # Rows in the plain fold's order, each table's by its subjects' first
    # positions (a browser of the tables shows them in the order of the log).
    in_log_order = first.__getitem__
    for table_rows in rows.tables.values():
        table_rows.sort(key=lambda row: in_log_order(row[0]))
    return rows, head


def _replayed_rows(store: SqlEventStore, tz: ZoneInfo) -> tuple[Rows, int]:
    """The rows of the plain fold of every event in position order."""
    stream = _Tracked(_folded_events(store))
    state = project_ledger(stream, _current_view(tz))
    return rows_of(state.actors, state.offices, state.commitments, state.budgets), stream.last


@bulk
def catch_up(store: SqlEventStore, models: ReadModels, tz: ZoneInfo) -> int:
    """Apply the events after the tracked position; returns how many were applied."""
    tracked = models.position()
    head = store.head()
    if head <= tracked:
        return 0
    if head - tracked > FULL_REPLAY_AFTER:
        return rebuild(store, models, tz) - tracked
    new = list(store.read_all(after=tracked, batch_size=5000))
    if not new:
        return 0
    affected = _affected_subjects(store, new)
    rows = _refold(store, affected, tz)
    if not models.apply(rows, expected=tracked, position=new[-1].position):
        return catch_up(store, models, tz)  # another process caught up first: start from there
    return len(new)


def _affected_subjects(store: SqlEventStore, new: list[StoredEvent]) -> set[str]:
    affected = {e.subject for e in new}
    lines = sorted(s for s in affected if subject_kind(s) == "budget")
    # A budget line's events (a retraction too) can move money on any commitment
    # the line ever named: refold them all.
    for history in store.read_subjects(lines).values():
        for stored in history:
            affected.update(a["commitment"] for a in stored.data.get("allocations", []))
    return affected


def _refold(store: SqlEventStore, subjects: set[str], tz: ZoneInfo) -> Rows:
    view = _current_view(tz)
    histories = store.read_subjects(subjects)
    folded_actors: dict[str, ActorState] = {}
    folded_offices: dict[str, OfficeState] = {}
    folded_commitments: dict[str, CommitmentState] = {}
    folded_budgets: dict[str, BudgetState] = {}
    commitment_subjects = sorted(s for s in subjects if subject_kind(s) == "commitment")
    funding_lines = {
        e.subject
        for e in store.referencing(commitment_subjects)
        if subject_kind(e.subject) == "budget"
    }
    line_events = [e for history in store.read_subjects(funding_lines).values() for e in history]
    # Which lines fund which commitment, found once (not one scan of every line per commitment).
    lines_of: dict[str, set[str]] = {}
    for stored in line_events:
        for allocation in stored.data.get("allocations", []):
            lines_of.setdefault(allocation.get("commitment", ""), set()).add(stored.subject)
    for subject, history in histories.items():
        kind = subject_kind(subject)
        if kind == "commitment":
            lines = lines_of.get(subject, set())
            commitment = project_commitment(
                history, [e for e in line_events if e.subject in lines], view
            )
            if commitment is not None:
                folded_commitments[subject] = commitment
            continue
        live = live_events(history, view)
        if kind == "actor" and (actor := fold_actor(live)) is not None:
            folded_actors[subject] = actor
        elif kind == "office" and (office := fold_office(live)) is not None:
            folded_offices[subject] = office
        elif kind == "budget" and (budget := fold_budget(live)) is not None:
            folded_budgets[subject] = budget
    rows = rows_of(folded_actors, folded_offices, folded_commitments, folded_budgets)
    rows.subjects = set(subjects)  # a subject that folds to nothing (all retracted) loses its rows
    return rows


CONTINUITY_KINDS = ("office", "commitment", "budget")


def continuity_from_store(
    store: SqlEventStore,
    view: View,
    *,
    office: str | None = None,
    horizon_days: int | None = None,
    by: Grouping = "administration",
    area: str | None = None,
    upto: int | None = None,
) -> ContinuityReport:
    """`continuity_report` of the log (up to `upto`), reading only what the report looks at.

    The same report as `continuity_report(store.read_all(), view, ...)`: the
    report folds offices, commitments and budget lines only (each subject's
    retractions are in its own history), so the scan leaves the other
    subjects' events undecoded or unheld; and it reads an event's sources only
    to name the source of an act, so those are read afterwards for the acts
    alone. It reads the offices first, then every history one subject at a
    time (`continuity_streamed`), holding one commitment's events at a time.
    Should that fail, the plain report of the whole log runs and says what is
    wrong, as it always has; an unknown office is known from the offices
    alone. `horizon_days` None is the report's default (DEFAULT_HORIZON_DAYS).
    """
    from ledger.continuity import DEFAULT_HORIZON_DAYS, continuity_report, continuity_streamed

    options: dict[str, Any] = {
        "office": office,
        "horizon_days": DEFAULT_HORIZON_DAYS if horizon_days is None else horizon_days,
        "by": by,
        "area": area,
    }
    head = store.head() if upto is None else upto

    def streamed() -> ContinuityReport:
        offices = _upto(_folded_events(store, ("office",)), head)
        return continuity_streamed(offices, store.histories(head), view, **options)

    def plain() -> ContinuityReport:
        events = _upto(_folded_events(store, CONTINUITY_KINDS), head)
        return continuity_report(events, view, **options)

    report = with_fallback(streamed, plain, final=(NotFound,))
    _name_act_sources(store, report)
    return report


def _upto(events: Iterable[StoredEvent], head: int) -> Iterator[StoredEvent]:
    """The events at positions up to `head`: the log as it stood when the report began."""
    for stored in events:
        if stored.position > head:
            return
        yield stored


def _name_act_sources(store: SqlEventStore, report: ContinuityReport) -> None:
    """Put each act's first source URL in, as `Act.of` takes it from the full event."""
    from ledger.continuity import Act

    cohorts = [
        cohort
        for found in report.offices.values()
        for transition in found
        for cohort in (transition.live, transition.carried_into_office)
    ]
    acts = {fate.act.id for c in cohorts for fate in c.commitments if fate.act is not None}
    if not acts:
        return
    full = store.find(acts)
    for cohort in cohorts:
        cohort.commitments[:] = [
            fate
            if fate.act is None
            else replace(fate, act=replace(fate.act, source=Act.of(full[fate.act.id]).source))
            for fate in cohort.commitments
        ]


@bulk
def state_sections(
    store: SqlEventStore, models: ReadModels, view: View
) -> dict[str, dict[str, Any]]:
    """The export document's state sections for a view: from the read models when the view
    is the present, else by replaying the log."""
    if view.as_of is None and view.known_at is None:
        catch_up(store, models, view.tz)
        return judged({name: models.section(name) for name in SECTIONS}, view.judged_on)
    return state_from_store(store, view).to_json()


def state_from_store(store: SqlEventStore, view: View, upto: int | None = None) -> LedgerState:
    """`project_ledger(store.read_all(), view)`: what `Ledger.state` calls.

    Folded one subject at a time (ledger/replay.py); when that fails, the
    plain fold of every event (read without sources, see `_folded_events`)
    runs and reports the failure. `upto`: the log up to that position only
    (default: all of it).
    """
    head = store.head() if upto is None else upto
    return with_fallback(
        lambda: streamed_state(store, view, head),
        lambda: project_ledger(_upto(_folded_events(store), head), view),
    )


# The state sections in the export document's order of keys.
EXPORT_SECTIONS = tuple(sorted(SECTIONS))
_PART = 2000  # subjects per part of a streamed export


def pinned_position(store: SqlEventStore, models: ReadModels, view: View) -> int:
    """The log position an export of `view` describes, all its parts alike.

    The present: the read models, caught up (what `show` and `list` read).
    A past record (`known_at`): the events recorded by then. Else the head.
    """
    if view.known_at is not None:
        return store.size_known_at(format_recorded_at(view.known_at))
    if view.as_of is None:
        catch_up(store, models, view.tz)
        return models.position()
    return store.head()


def section_parts(
    store: SqlEventStore, models: ReadModels, view: View, upto: int
) -> Iterator[tuple[str, list[tuple[str, Any]]]]:
    """The state sections of the log up to `upto` as a view sees them, in export order, in parts.

    The present comes from the read models in one snapshot; should another
    process have caught them up past `upto` meanwhile, or for any other view,
    the log up to `upto` is replayed and each subject's export form made as
    its part is written.
    """
    if view.as_of is None and view.known_at is None:
        rows = models.read_at(upto, EXPORT_SECTIONS, chunk=_PART)
        try:
            first = next(rows, None)
        except Stale:
            pass
        else:
            if first is not None:
                yield _judged_part(first, view)
            for part in rows:
                yield _judged_part(part, view)
            return
    yield from _replayed_parts(state_from_store(store, view, upto))


def _judged_part(
    part: tuple[str, list[tuple[str, dict[str, Any]]]], view: View
) -> tuple[str, list[tuple[str, Any]]]:
    name, pairs = part
    judged({name: dict(pairs)}, view.judged_on)  # sets each commitment's status in place
    return name, list(pairs)


def _replayed_parts(state: LedgerState) -> Iterator[tuple[str, list[tuple[str, Any]]]]:
    judged_on = state.view.judged_on
    for name in EXPORT_SECTIONS:
        folded: dict[str, Any] = getattr(state, name)
        subjects = sorted(folded)
        if not subjects:
            yield name, []
        for start in range(0, len(subjects), _PART):
            part = subjects[start : start + _PART]
            if name == "commitments":
                yield name, [(s, folded[s].to_json(judged_on)) for s in part]
            else:
                yield name, [(s, folded[s].to_json()) for s in part]
