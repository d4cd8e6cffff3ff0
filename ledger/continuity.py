"""Continuity across administrations (spec section 3): what became of the live
commitments when an office passed to another administration.

Pure: it takes stored events and a `View` and returns values; no store, no
clock. Where the spec is terse, this module settles the reading:

- *Running tenure.* A tenure runs in segments: from its start (or a
  resumption) to its end (or a suspension). A transition is the start of a
  segment whose administration differs from that of the last segment before it
  (`by="tenure"`: whose holder or administration differs), at the instant the
  segment starts: the new tenure's `began_at`, or `resumed_at` when a suspended
  holder of another administration takes the office back. A vacancy is bridged:
  the office passes when the next holder starts. The first tenure passes from
  no one and is no transition; a segment of zero length never ran.
- *Suspensions.* An acting holder of the same administration while the elected
  one is suspended is no transition by administration; by tenure, the hand-over
  to the acting holder and the hand-back are transitions.
- *Window.* `(t, min(t + H x 24 h, next transition)]` on the UTC time line; the
  next transition is the next one of the same grouping. Events after the view's
  `as_of` are not seen, so a window still running is marked `complete: false`.
  Where `t + H` lies past what a datetime holds (a transition late in year 9998,
  or a long horizon), the window ends at `LAST_WINDOW_END`, 9999-12-31T00:00Z:
  every instant an event may name comes before it, so the window holds the same
  events as the spec's, and its end still prints in every time zone.
- *Deciding act.* The first governing withdrawal (`dropped`) or supersession
  (`replaced`); the last governing revision (it set the level compared); the
  first government act (`continued`); none (`silent`).
- *continuity_rate.* The exact fraction rounded half-to-even to four decimal
  places, trailing zeros dropped ("0.5", "0.6667", "1"); null when nothing is live.
- *carried_into_office.* The incoming holder's pledges made strictly before `t`
  as candidate or opposition, with the live set's status exclusions at `t`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise
from typing import Any, Literal
from zoneinfo import ZoneInfo

from ledger.amounts import exact_arithmetic, format_amount, format_total
from ledger.bulk import bulk
from ledger.errors import NotFound
from ledger.projections.budgets import latest_allocations
from ledger.projections.commitments import (
    CommitmentState,
    TargetState,
    apply_commitment_event,
    copy_commitment,
)
from ledger.projections.common import View, Visible, live_events
from ledger.projections.offices import OfficeState, Tenure, fold_office
from ledger.records import StoredEvent, instant_key, occurred_instant
from ledger.vocabulary import GOVERNING_CAPACITIES, subject_kind

__all__ = [
    "DEFAULT_HORIZON_DAYS",
    "FATES",
    "GROUPINGS",
    "LAST_WINDOW_END",
    "Act",
    "Cohort",
    "CommitmentFate",
    "ContinuityReport",
    "Holding",
    "OutOfOrder",
    "Transition",
    "TransitionReport",
    "Window",
    "compare_targets",
    "continuity_report",
    "continuity_streamed",
    "decide_fate",
    "transitions",
]

Grouping = Literal["administration", "tenure"]
GROUPINGS: tuple[str, ...] = ("administration", "tenure")
FATES: tuple[str, ...] = (
    "dropped",
    "replaced",
    "scaled-up",
    "scaled-down",
    "revised",
    "continued",
    "silent",
)
DEFAULT_HORIZON_DAYS = 365
RATE_PLACES = 4
CAMPAIGN_CAPACITIES: frozenset[str] = frozenset({"candidate", "opposition"})
ENDED_STATUSES: frozenset[str] = frozenset({"withdrawn", "superseded", "delivered"})
_UTC = ZoneInfo("UTC")
LAST_WINDOW_END = datetime(9999, 12, 31, tzinfo=_UTC)
"""The latest a window may end. Events name dates up to 9998-12-31 in offsets under a day,
so none occurs this late; and a UTC offset is under 24 hours, so this instant is a datetime
in every zone, where datetime.max itself is not."""


# --- transitions ---------------------------------------------------------------


@dataclass(frozen=True)
class Holding:
    """Who held an office, and for which administration."""

    holder: str
    administration: str
    role: str

    def to_json(self) -> dict[str, str]:
        """The report form."""
        return {"administration": self.administration, "holder": self.holder, "role": self.role}


@dataclass(frozen=True)
class Transition:
    """The instant an office's running tenure passed to another administration (or holder)."""

    office: str
    at: datetime
    key: str
    outgoing: Holding
    incoming: Holding


@dataclass(frozen=True)
class _Segment:
    start: datetime
    start_key: str
    end_key: str | None
    holding: Holding


def _segments(tenure: Tenure, tz: ZoneInfo) -> list[_Segment]:
    """The stretches in which a tenure ran: start or resumption to suspension or end."""
    holding = Holding(tenure.holder, tenure.administration, tenure.role)
    runs: list[_Segment] = []
    start: str | None = tenure.began_at
    for suspension in tenure.suspensions:
        assert start is not None  # a suspension follows a start or a resumption
        runs.append(_segment(start, str(suspension["suspended_at"]), holding, tz))
        start = suspension["resumed_at"]
        if start is None:
            break
    if start is not None:
        runs.append(_segment(start, tenure.ended_at, holding, tz))
    return [run for run in runs if run.end_key != run.start_key]


def _segment(start: str, end: str | None, holding: Holding, tz: ZoneInfo) -> _Segment:
    moment = occurred_instant(start, tz)
    end_key = instant_key(occurred_instant(end, tz)) if end is not None else None
    return _Segment(moment, instant_key(moment), end_key, holding)


def _group_of(holding: Holding, by: Grouping) -> tuple[str, ...]:
    if by == "administration":
        return (holding.administration,)
    return (holding.administration, holding.holder)


def transitions(
    office: OfficeState, by: Grouping = "administration", *, tz: ZoneInfo = _UTC
) -> list[Transition]:
    """The instants the office's running tenure passed to another administration (or holder).

    `tz` reads bare dates of suspensions and resumptions (the ledger's zone).
    """
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}, not '{by}'")
    runs = sorted(
        (run for tenure in office.tenures for run in _segments(tenure, tz)),
        key=lambda run: run.start_key,
    )
    found: list[Transition] = []
    for previous, run in pairwise(runs):
        if _group_of(previous.holding, by) != _group_of(run.holding, by):
            found.append(
                Transition(office.subject, run.start, run.start_key, previous.holding, run.holding)
            )
    return found


# --- what the ledger holds, indexed for windows --------------------------------


@dataclass
class _History:
    """One subject's live events in valid-time order, with their instants for bisecting."""

    events: list[StoredEvent]
    keys: list[str]
    # A running fold of the commitment: its state after the first `folded` events.
    folded: int = 0
    state: CommitmentState | None = None

    @classmethod
    def of(cls, events: list[StoredEvent]) -> _History:
        return cls(events, [e.occurred_key for e in events])

    def until(self, key: str) -> list[StoredEvent]:
        """Events at or before the instant `key`."""
        return self.events[: bisect_right(self.keys, key)]

    def within(self, start_key: str, end_key: str) -> list[StoredEvent]:
        """Events in the window (start, end]."""
        return self.events[bisect_right(self.keys, start_key) : bisect_right(self.keys, end_key)]

    def state_at(self, key: str) -> CommitmentState | None:
        """`fold_commitment(self.until(key))`, folding on from the last call when it can.

        The state returned is the running one: valid until the next call.
        """
        count = bisect_right(self.keys, key)
        if count < self.folded:
            self.folded, self.state = 0, None
        state = self.state
        for stored in self.events[self.folded : count]:
            state = apply_commitment_event(state, stored)
        self.folded, self.state = count, state
        return state

    def state_after(self, state: CommitmentState, key: str) -> CommitmentState:
        """The state `state_at(key)` would give, from the running state, leaving that as it is."""
        count = bisect_right(self.keys, key)
        later = self.events[self.folded : count]
        if not later:
            return state
        moved = copy_commitment(state)
        for stored in later:
            moved = apply_commitment_event(moved, stored)
        return moved


@dataclass
class _Ledger:
    commitments: dict[str, _History] = field(default_factory=dict)
    budget_lines: dict[str, _History] = field(default_factory=dict)
    offices: dict[str, OfficeState] = field(default_factory=dict)
    # Budget events allocating to each commitment, in valid-time order.
    allocating: dict[str, _History] = field(default_factory=dict)


def _index(histories: Mapping[str, Sequence[StoredEvent]], view: View) -> _Ledger:
    ledger = _Ledger()
    allocating: dict[str, list[StoredEvent]] = {}
    for subject in sorted(histories):
        kind = subject_kind(subject)
        if kind not in ("office", "commitment", "budget"):
            continue
        live = live_events(histories[subject], view)
        if not live:
            continue
        if kind == "office":
            office = fold_office(live)
            if office is not None:
                ledger.offices[subject] = office
        elif kind == "commitment":
            ledger.commitments[subject] = _History.of(live)
        else:
            ledger.budget_lines[subject] = _History.of(live)
            _index_allocations(allocating, live)
    ledger.allocating = _funding(allocating)
    return ledger


def _index_allocations(allocating: dict[str, list[StoredEvent]], line: list[StoredEvent]) -> None:
    """Add a line's events to the lists of the commitments they allocate to."""
    for stored in line:
        for named in {a["commitment"] for a in stored.data.get("allocations", [])}:
            allocating.setdefault(named, []).append(stored)


def _funding(allocating: dict[str, list[StoredEvent]]) -> dict[str, _History]:
    """Each commitment's allocating events in valid-time order."""
    return {
        subject: _History.of(sorted(events, key=lambda e: (e.occurred_key, e.position)))
        for subject, events in allocating.items()
    }


def _grouped(
    events: Iterable[StoredEvent] | Mapping[str, Sequence[StoredEvent]],
) -> Mapping[str, Sequence[StoredEvent]]:
    if isinstance(events, Mapping):
        return events
    grouped: dict[str, list[StoredEvent]] = {}
    for stored in events:
        grouped.setdefault(stored.subject, []).append(stored)
    return grouped


# --- fates ---------------------------------------------------------------------


@dataclass(frozen=True)
class Act:
    """The event that decided a fate."""

    subject: str
    id: str
    type: str
    occurred_at: str
    source: str | None

    @classmethod
    def of(cls, stored: StoredEvent) -> Act:
        """The act an event is."""
        url = stored.sources[0]["url"] if stored.sources else None
        return cls(stored.subject, stored.id, stored.type, stored.occurred_at, url)

    def to_json(self) -> dict[str, Any]:
        """The report form."""
        return {
            "id": self.id,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "subject": self.subject,
            "type": self.type,
        }


@dataclass(frozen=True)
class CommitmentFate:
    """One commitment's fate in a window, with the act that decided it."""

    subject: str
    title: str
    made_by: str
    made_at: str
    capacity: str
    fate: str
    act: Act | None

    def to_json(self) -> dict[str, Any]:
        """The report form."""
        return {
            "act": self.act.to_json() if self.act else None,
            "capacity": self.capacity,
            "fate": self.fate,
            "made_at": self.made_at,
            "made_by": self.made_by,
            "subject": self.subject,
            "title": self.title,
        }


def _is_government_act(stored: StoredEvent) -> bool:
    """On a commitment: progress reports, and events by a governing capacity (never assessments)."""
    if stored.type == "ProgressReported":
        return True
    capacity = stored.data.get("capacity")
    return stored.type != "AssessmentRecorded" and capacity in GOVERNING_CAPACITIES


def compare_targets(before: Mapping[str, TargetState], after: Mapping[str, TargetState]) -> str:
    """`scaled-up`, `scaled-down` or `revised`: targets at the window's end against those at t.

    A removed target counts as lowered, a new one as raised.
    """
    raised = lowered = False
    for key in before.keys() | after.keys():
        old, new = before.get(key), after.get(key)
        if new is None or (old is not None and new.quantity.amount < old.quantity.amount):
            lowered = True
        elif old is None or new.quantity.amount > old.quantity.amount:
            raised = True
    if raised and not lowered:
        return "scaled-up"
    if lowered and not raised:
        return "scaled-down"
    return "revised"


def decide_fate(
    acts: Sequence[StoredEvent],
    before: Mapping[str, TargetState],
    after: Mapping[str, TargetState],
) -> tuple[str, StoredEvent | None]:
    """The first matching fate for a window's government acts (in valid-time order)."""
    for kind, fate in (("CommitmentWithdrawn", "dropped"), ("CommitmentSuperseded", "replaced")):
        matching = [a for a in acts if a.type == kind]
        if matching:
            return fate, matching[0]
    revisions = [a for a in acts if a.type == "CommitmentRevised"]
    if revisions:
        return compare_targets(before, after), revisions[-1]
    if acts:
        return "continued", acts[0]
    return "silent", None


# --- one transition ------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """(start, end]: what the incoming government did with what it found."""

    start: datetime
    end: datetime
    tz: ZoneInfo
    complete: bool
    # The bounds as sortable UTC keys, compared with every event's occurred_key.
    start_key: str = field(init=False)
    end_key: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "start_key", instant_key(self.start))
        object.__setattr__(self, "end_key", instant_key(self.end))

    def to_json(self) -> dict[str, Any]:
        """The report form: instants in the ledger's zone."""
        return {
            "complete": self.complete,
            "end": self.end.astimezone(self.tz).isoformat(),
            "start": self.start.astimezone(self.tz).isoformat(),
        }


@dataclass(frozen=True)
class Cohort:
    """Commitments followed through one window: their fates and the money behind them."""

    commitments: list[CommitmentFate]
    pledged: dict[str, Decimal]
    appropriated: dict[str, Decimal]

    def fates(self) -> dict[str, int]:
        """How many commitments met each fate (every fate named, zeros included)."""
        return {fate: sum(1 for c in self.commitments if c.fate == fate) for fate in FATES}

    def continuity_rate(self) -> Decimal | None:
        """(live - dropped - silent) / live, half-even to four places; None when nothing is live."""
        live = len(self.commitments)
        if live == 0:
            return None
        fates = self.fates()
        exact = Fraction(live - fates["dropped"] - fates["silent"], live)
        return Decimal(round(exact * 10**RATE_PLACES)).scaleb(-RATE_PLACES)

    def to_json(self) -> dict[str, Any]:
        """The report form."""
        rate = self.continuity_rate()
        units = sorted(self.pledged.keys() | self.appropriated.keys())
        return {
            "commitments": [c.to_json() for c in sorted(self.commitments, key=_by_subject)],
            "continuity_rate": format_amount(rate) if rate is not None else None,
            "fates": self.fates(),
            "funding": {
                unit: {
                    "appropriated": format_total(self.appropriated.get(unit, Decimal(0))),
                    "pledged": format_total(self.pledged.get(unit, Decimal(0))),
                }
                for unit in units
            },
            "live": len(self.commitments),
        }


def _by_subject(fate: CommitmentFate) -> str:
    return fate.subject


@dataclass(frozen=True)
class TransitionReport:
    """One transition, its window, the live set's fates and what the newcomer carried in."""

    transition: Transition
    window: Window
    live: Cohort
    carried_into_office: Cohort

    def to_json(self) -> dict[str, Any]:
        """The report form."""
        return {
            **self.live.to_json(),
            "at": self.window.to_json()["start"],
            "carried_into_office": self.carried_into_office.to_json(),
            "from": self.transition.outgoing.to_json(),
            "to": self.transition.incoming.to_json(),
            "window": self.window.to_json(),
        }


@dataclass(frozen=True)
class _Followed:
    """A commitment in a cohort: its state at t, for the fate and the pledged sums."""

    subject: str
    targets: dict[str, TargetState]
    fate: CommitmentFate


def _follow(
    history: _History,
    funding: _History | None,
    window: Window,
    wanted: frozenset[str],
    by: str | None,
    area: str | None,
) -> _Followed | None:
    """A commitment's fate in the window, if it belongs to the cohort (`wanted` capacities).

    `funding` holds the budget events allocating to it. The targets returned
    are the running state's: valid until the history is asked again.
    """
    made = history.events[0].data
    if made.get("capacity") not in wanted or (by is not None and made.get("by") != by):
        return None
    if area is not None and area not in made.get("areas", []):
        return None
    state = history.state_at(window.start_key)
    # The status is one of ENDED_STATUSES exactly when it is closed (see StatusInputs).
    if state is None or _closed(state):
        return None
    own = [e for e in history.within(window.start_key, window.end_key) if _is_government_act(e)]
    money = funding.within(window.start_key, window.end_key) if funding else []
    acts = sorted([*own, *money], key=lambda e: (e.occurred_key, e.position))
    revised = any(a.type == "CommitmentRevised" for a in acts)
    at_end = history.state_after(state, window.end_key) if revised else state
    fate, act = decide_fate(acts, state.targets, at_end.targets if at_end else {})
    decided = CommitmentFate(
        history.events[0].subject,
        state.title,
        state.by,
        state.made_at,
        state.capacity,
        fate,
        _act(act),
    )
    return _Followed(decided.subject, state.targets, decided)


def _follow_in(
    history: _History, funding: _History | None, window: Window, incoming: str, area: str | None
) -> tuple[_Followed | None, _Followed | None]:
    """The commitment as a member of the window's live set, or else of what `incoming` carried in."""
    made_key = history.keys[0]
    if made_key > window.start_key:
        return None, None
    live = _follow(history, funding, window, GOVERNING_CAPACITIES, None, area)
    if live is not None or made_key == window.start_key:
        return live, None
    return None, _follow(history, funding, window, CAMPAIGN_CAPACITIES, incoming, area)


def _closed(state: CommitmentState) -> bool:
    """Whether `state.status(day)` is withdrawn, superseded or delivered, on any day."""
    if state.withdrawn is not None or state.superseded_by is not None:
        return True
    targets = state.targets
    return bool(targets) and all(t.reached for t in targets.values())


def _act(stored: StoredEvent | None) -> Act | None:
    return Act.of(stored) if stored is not None else None


@dataclass
class _Tally:
    """A cohort as its members are followed: their fates and the sums of their targets at t.

    The sums are taken as each member is added, so the running state its
    targets come from may move on.
    """

    fates: list[CommitmentFate] = field(default_factory=list)
    pledged: dict[str, Decimal] = field(default_factory=dict)

    def add(self, one: _Followed) -> None:
        self.fates.append(one.fate)
        pledged = self.pledged
        for target in one.targets.values():
            unit = target.quantity.unit
            pledged[unit] = pledged.get(unit, Decimal(0)) + target.quantity.amount

    def cohort(self, approved: Mapping[tuple[str, str | None, str], Decimal]) -> Cohort:
        """The cohort, its members' approved money in the window summed by unit."""
        members = {fate.subject for fate in self.fates}
        appropriated: dict[str, Decimal] = {}
        for (subject, _target, unit), amount in approved.items():
            if subject in members:
                appropriated[unit] = appropriated.get(unit, Decimal(0)) + amount
        return Cohort(sorted(self.fates, key=_by_subject), self.pledged, appropriated)


def _approved_in(
    lines: Iterable[_History], window: Window
) -> dict[tuple[str, str | None, str], Decimal]:
    """Latest approved-or-adjusted allocation per line and target inside the window, summed."""
    funded = latest_allocations(line.within(window.start_key, window.end_key) for line in lines)
    return {key: phases["approved"] for key, phases in funded.items() if "approved" in phases}


def _window(transition: Transition, end: datetime, view: View) -> Window:
    return Window(transition.at, end, view.tz, complete=end <= view.judged_at)


def _report_transition(
    ledger: _Ledger, transition: Transition, window: Window, area: str | None
) -> TransitionReport:
    live, carried = _Tally(), _Tally()
    incoming = transition.incoming.holder
    for subject in sorted(ledger.commitments):
        history, funding = ledger.commitments[subject], ledger.allocating.get(subject)
        member, carried_in = _follow_in(history, funding, window, incoming, area)
        if member is not None:
            live.add(member)
        if carried_in is not None:
            carried.add(carried_in)
    approved = _approved_in(ledger.budget_lines.values(), window)
    return TransitionReport(transition, window, live.cohort(approved), carried.cohort(approved))


# --- the report ----------------------------------------------------------------


@dataclass(frozen=True)
class ContinuityReport:
    """Every reported office's transitions, as one view sees the ledger."""

    offices: dict[str, list[TransitionReport]]
    by: str
    horizon_days: int
    area: str | None = None

    def to_json(self) -> dict[str, Any]:
        """`{office: {"transitions": [...]}}`, offices sorted, transitions in time order."""
        return {
            office: {"transitions": [t.to_json() for t in self.offices[office]]}
            for office in sorted(self.offices)
        }


def _check_options(horizon_days: int, by: str) -> None:
    if horizon_days < 1:
        raise ValueError(f"the horizon must be at least one day, not {horizon_days}")
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}, not '{by}'")


@dataclass(frozen=True)
class _Plan:
    """The windows a report covers: the offices chosen (sorted) and each one's, in time order."""

    offices: dict[str, list[tuple[Transition, Window]]]

    @property
    def slots(self) -> list[tuple[Transition, Window]]:
        """Every window, office after office."""
        return [slot for windows in self.offices.values() for slot in windows]

    def report(
        self, reported: Sequence[TransitionReport], by: str, horizon_days: int, area: str | None
    ) -> ContinuityReport:
        """The report of these windows, given each one's TransitionReport in `slots` order."""
        found = iter(reported)
        reports = {
            office: [next(found) for _ in windows] for office, windows in self.offices.items()
        }
        return ContinuityReport(reports, by, horizon_days, area)


def _plan(
    offices: Mapping[str, OfficeState],
    office: str | None,
    by: Grouping,
    horizon_days: int,
    view: View,
) -> _Plan:
    if office is not None and office not in offices:
        raise NotFound(f"{office} has no visible events in this view")
    horizon = timedelta(days=horizon_days)
    planned: dict[str, list[tuple[Transition, Window]]] = {}
    for subject in [office] if office is not None else sorted(offices):
        found = transitions(offices[subject], by, tz=view.tz)
        planned[subject] = [
            (t, _window(t, _window_end(t, found[i + 1 :], horizon), view))
            for i, t in enumerate(found)
        ]
    return _Plan(planned)


@bulk
@exact_arithmetic
def continuity_report(
    events: Iterable[StoredEvent] | Mapping[str, Sequence[StoredEvent]],
    view: View,
    *,
    office: str | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    by: Grouping = "administration",
    area: str | None = None,
) -> ContinuityReport:
    """The continuity report of every office (or one) for the events a view sees."""
    _check_options(horizon_days, by)
    ledger = _index(_grouped(events), view)
    plan = _plan(ledger.offices, office, by, horizon_days, view)
    reported = [_report_transition(ledger, t, window, area) for t, window in plan.slots]
    return plan.report(reported, by, horizon_days, area)


class OutOfOrder(Exception):
    """A budget line came after a commitment: `continuity_streamed` cannot follow that order."""


@bulk
@exact_arithmetic
def continuity_streamed(
    offices: Iterable[StoredEvent],
    histories: Iterable[Sequence[StoredEvent]],
    view: View,
    *,
    office: str | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    by: Grouping = "administration",
    area: str | None = None,
) -> ContinuityReport:
    """`continuity_report` of a log handed over one subject's history at a time.

    `continuity_report` holds every commitment's and budget line's events
    (2.9 GB at a million); this holds one commitment at a time. The offices'
    events come first, to know the windows; then `histories`, each a
    subject's every event, every budget line before any commitment (the order
    of text: "budget/" sorts before "commitment/"; other subjects are passed
    over). Of each line only the events inside some window are kept, which is
    all a window asks of it; each commitment is followed through every window
    as it comes, its cohorts' sums taken at once, and let go. The report is
    `continuity_report`'s, cohorts sorted by subject as always. A line after
    a commitment raises `OutOfOrder`; the caller runs `continuity_report`.
    """
    _check_options(horizon_days, by)
    known = _index(_grouped(offices), view)
    slots = (plan := _plan(known.offices, office, by, horizon_days, view)).slots
    tallies = [(_Tally(), _Tally()) for _ in slots]
    bounds = [(window.start_key, window.end_key) for _, window in slots]
    visible = Visible(view)
    lines: list[_History] = []
    allocating: dict[str, list[StoredEvent]] = {}
    funding: dict[str, _History] | None = None  # `allocating` indexed, once the lines are done
    for history in histories:
        subject = history[0].subject
        kind = subject_kind(subject)
        if kind == "budget":
            if funding is not None:
                raise OutOfOrder(f"{subject} came after a commitment")
            kept = [e for e in visible(history) if _inside(e.occurred_key, bounds)]
            if kept:
                lines.append(_History.of(kept))
                _index_allocations(allocating, kept)
        elif kind == "commitment":
            if funding is None:
                funding = _funding(allocating)
            live = visible(history)
            if not live:
                continue
            followed = _History.of(live)
            for (transition, window), (members, carried) in zip(slots, tallies, strict=True):
                member, carried_in = _follow_in(
                    followed, funding.get(subject), window, transition.incoming.holder, area
                )
                if member is not None:
                    members.add(member)
                if carried_in is not None:
                    carried.add(carried_in)
    reported = []
    for (transition, window), (members, carried) in zip(slots, tallies, strict=True):
        approved = _approved_in(lines, window)
        reported.append(
            TransitionReport(transition, window, members.cohort(approved), carried.cohort(approved))
        )
    return plan.report(reported, by, horizon_days, area)


def _inside(key: str, bounds: list[tuple[str, str]]) -> bool:
    """Whether an instant lies in some window (start, end]: the only events a window reads."""
    return any(start < key <= end for start, end in bounds)


def _window_end(
    transition: Transition, later: Sequence[Transition], horizon: timedelta
) -> datetime:
    # On the UTC time line: H days are H x 24 hours whatever the zone's clock changes.
    start = transition.at.astimezone(_UTC)
    # t + H past year 9999 would overflow: stop at LAST_WINDOW_END, after every event.
    room = max(LAST_WINDOW_END - start, timedelta(0))
    end = start + min(horizon, room)
    return min(end, later[0].at) if later else end
