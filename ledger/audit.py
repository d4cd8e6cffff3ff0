"""The audit queries watchdogs ask, as pure functions over events and a view.

Each takes stored events (the whole log, or what the service chose to load)
and a `View`, and returns plain dataclasses whose `to_json()` is deterministic.
The service loads; this module only computes.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Context, Decimal, localcontext
from typing import Any
from urllib.parse import urlsplit

from ledger.amounts import exact_arithmetic, format_amount, format_total, is_currency
from ledger.projections import (
    LedgerState,
    View,
    fold_actor,
    fold_budget,
    fold_commitment,
    fold_office,
    live_events,
    project_ledger,
)
from ledger.projections.common import event_data
from ledger.projections.state import group_by_subject
from ledger.records import StoredEvent
from ledger.vocabulary import GOVERNING_CAPACITIES, subject_kind

CLOSED_STATUSES = frozenset({"withdrawn", "superseded", "delivered"})
# Differences of two 40-digit amounts need 81 digits; ratios are rounded to 4 places after.
# A ratio of two amounts reaches 10**80, so four places of it need 85 digits.
_WIDE = Context(prec=120)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """A nested JSON object as {dotted.path: leaf}; lists are leaves."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key in sorted(value):
            out.update(flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


@dataclass(frozen=True)
class Change:
    """One field that changed: its path, the value before and after."""

    field: str
    before: Any
    after: Any

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {"field": self.field, "before": self.before, "after": self.after}


def changes_between(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[Change]:
    """Every leaf that differs between two JSON states (None means absent)."""
    old, new = flatten(before or {}), flatten(after or {})
    return [
        Change(path, old.get(path), new.get(path))
        for path in sorted(set(old) | set(new))
        if path and _value(old.get(path)) != _value(new.get(path))
    ]


def _value(value: Any) -> Any:
    # An empty object or list is no value at all: absent and empty do not differ.
    return None if value in ({}, []) else value


# --- history --diff ----------------------------------------------------------------


@dataclass(frozen=True)
class HistoryStep:
    """An event of a subject and what it changed in the projected state."""

    event: StoredEvent
    retracted: bool
    changes: list[Change]

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "id": self.event.id,
            "type": self.event.type,
            "version": self.event.version,
            "occurred_at": self.event.occurred_at,
            "recorded_at": self.event.recorded_at,
            "retracted": self.retracted,
            "changes": [c.to_json() for c in self.changes],
        }


def _subject_json(subject: str, events: Sequence[StoredEvent], view: View) -> dict[str, Any] | None:
    kind = subject_kind(subject)
    if kind == "commitment":
        commitment = fold_commitment(events)
        return commitment.to_json(view.judged_on) if commitment else None
    folds: dict[str, Any] = {"actor": fold_actor, "office": fold_office, "budget": fold_budget}
    folded = folds[kind](events)
    return dict(folded.to_json()) if folded else None


def history_diff(subject: str, history: Sequence[StoredEvent], view: View) -> list[HistoryStep]:
    """For each event of a subject in valid-time order, the fields it changed."""
    live = live_events(history, view)
    live_ids = {e.id for e in live}
    steps: list[HistoryStep] = []
    before: dict[str, Any] | None = None
    for index, stored in enumerate(live):
        after = _subject_json(subject, live[: index + 1], view)
        steps.append(HistoryStep(stored, False, changes_between(before, after)))
        before = after
    shown = {s.event.id for s in steps}
    for stored in history:
        if stored.id not in live_ids and stored.id not in shown and stored.type != "EventRetracted":
            steps.append(HistoryStep(stored, True, []))
    return steps


# --- diff between two moments ----------------------------------------------------


@dataclass(frozen=True)
class SubjectDiff:
    """A commitment whose state differs between two views."""

    subject: str
    changes: list[Change]

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {"subject": self.subject, "changes": [c.to_json() for c in self.changes]}


def diff_states(events: Sequence[StoredEvent], before: View, after: View) -> list[SubjectDiff]:
    """The commitments whose state changed between two views, with the changes."""
    old = project_ledger(events, before).to_json()["commitments"]
    new = project_ledger(events, after).to_json()["commitments"]
    diffs = []
    for subject in sorted(set(old) | set(new)):
        changes = changes_between(old.get(subject), new.get(subject))
        if changes:
            diffs.append(SubjectDiff(subject, changes))
    return diffs


# --- money and time ------------------------------------------------------------------


@dataclass(frozen=True)
class FundingGap:
    """A live commitment's monetary target and how much of it is approved."""

    subject: str
    title: str
    target: str
    unit: str
    pledged: Decimal
    approved: Decimal

    @property
    def fraction(self) -> Decimal:
        """approved / pledged (0 when nothing is pledged).

        In the wide context wherever it is read: the default one keeps 28 digits,
        and approved money may be 10**80 times what was pledged.
        """
        with localcontext(_WIDE):
            return self.approved / self.pledged if self.pledged else Decimal(0)

    def to_json(self) -> dict[str, Any]:
        """The JSON form; the fraction to four places."""
        return {
            "subject": self.subject,
            "title": self.title,
            "target": self.target,
            "unit": self.unit,
            "pledged": format_total(self.pledged),
            "approved": format_total(self.approved),
            # format_total, not format_amount: a ratio is no amount, and may pass 40 digits.
            "fraction": _four_places(self.fraction),
        }


def _live(commitment: dict[str, Any]) -> bool:
    return commitment["status"] not in CLOSED_STATUSES


@exact_arithmetic
def unfunded(sections: dict[str, Any], below: Decimal | None = None) -> list[FundingGap]:
    """Live commitments' monetary targets with no approved money (or less than `below` of it).

    Works on the export form (`commitments` section), so it runs on an export
    file as well as on a ledger. Money allocated to the commitment without
    naming a target counts towards its monetary targets of the same unit, in
    target-key order.
    """
    if below is not None and not below.is_finite():
        # NaN compares with nothing (Decimal traps the comparison); Infinity is no fraction.
        raise ValueError(f"below must be a finite number, not {below}")
    gaps: list[FundingGap] = []
    for subject, commitment in sorted(sections["commitments"].items()):
        if not _live(commitment):
            continue
        spare = {unit: Decimal(phases["approved"]) for unit, phases in commitment["funded"].items()}
        for key, target in sorted(commitment["targets"].items()):
            unit = target["quantity"]["unit"]
            if not is_currency(unit):
                continue
            pledged = Decimal(target["quantity"]["amount"])
            approved = Decimal(target["funded"]["approved"])
            top_up = min(spare.get(unit, Decimal(0)), max(pledged - approved, Decimal(0)))
            spare[unit] = spare.get(unit, Decimal(0)) - top_up
            gap = FundingGap(subject, commitment["title"], key, unit, pledged, approved + top_up)
            short = gap.approved == 0 if below is None else gap.fraction < below
            if short:
                gaps.append(gap)
    return gaps


@dataclass(frozen=True)
class Overdue:
    """A commitment past a due date and not delivered."""

    subject: str
    title: str
    due: str
    days_late: int

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "subject": self.subject,
            "title": self.title,
            "due": self.due,
            "days_late": self.days_late,
        }


def overdue(sections: dict[str, Any], judged_on: date) -> list[Overdue]:
    """Commitments whose earliest passed due date lies behind them, most overdue first."""
    found = []
    for subject, commitment in sections["commitments"].items():
        if commitment["status"] != "overdue":
            continue
        dues = [commitment["due"], *(t["due"] for t in commitment["targets"].values())]
        passed = min(d for d in (date.fromisoformat(x) for x in dues if x) if d < judged_on)
        found.append(
            Overdue(subject, commitment["title"], passed.isoformat(), (judged_on - passed).days)
        )
    return sorted(found, key=lambda o: (-o.days_late, o.subject))


def is_government_act(stored: StoredEvent) -> bool:
    """An event on a commitment by a governing actor, or a progress report (assessments never)."""
    if stored.type == "ProgressReported":
        return True
    if stored.type == "AssessmentRecorded":
        return False
    return stored.data.get("capacity") in GOVERNING_CAPACITIES


@dataclass(frozen=True)
class Stalled:
    """A live commitment with no government act for a while."""

    subject: str
    title: str
    last_act: str | None
    last_act_type: str | None
    days_since: int

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "subject": self.subject,
            "title": self.title,
            "last_act": self.last_act,
            "last_act_type": self.last_act_type,
            "days_since": self.days_since,
        }


def stalled(events: Sequence[StoredEvent], view: View, days: int) -> list[Stalled]:
    """Live commitments with no government act in the last `days` days of the view."""
    state = project_ledger(events, view)
    grouped = group_by_subject(events)
    last: dict[str, StoredEvent] = {}

    def note(commitment: str, act: StoredEvent) -> None:
        earlier = last.get(commitment)
        if earlier is None or (earlier.occurred_key, earlier.position) < (
            act.occurred_key,
            act.position,
        ):
            last[commitment] = act

    for subject, history in grouped.items():
        for stored in live_events(history, view):
            if subject_kind(subject) == "commitment" and is_government_act(stored):
                note(subject, stored)
            elif stored.type == "AppropriationRecorded" and stored.data["phase"] != "proposed":
                for allocation in stored.data.get("allocations", []):
                    note(allocation["commitment"], stored)
    today = view.judged_on
    found = []
    for subject, commitment in sorted(state.commitments.items()):
        if commitment.status(view.judged_on) in CLOSED_STATUSES:
            continue
        act = last.get(subject)
        since = act.occurred_at[:10] if act else commitment.made_at[:10]
        idle = (today - _day(since)).days
        if idle >= days:
            found.append(
                Stalled(
                    subject,
                    commitment.title,
                    act.occurred_at if act else None,
                    act.type if act else None,
                    idle,
                )
            )
    return sorted(found, key=lambda s: (-s.days_since, s.subject))


def _day(text: str) -> date:
    return date.fromisoformat(text)


# --- revisions, actors, sources, search ------------------------------------------------


@dataclass(frozen=True)
class Revision:
    """One target's change by one revision."""

    subject: str
    event_id: str
    occurred_at: str
    by: str
    capacity: str
    administration: str | None
    target: str
    unit: str
    before: Decimal | None
    after: Decimal | None

    @property
    def absolute(self) -> Decimal:
        """after − before (a removed target goes to 0, a new one comes from 0), exactly."""
        with localcontext(_WIDE):
            return (self.after or Decimal(0)) - (self.before or Decimal(0))

    @property
    def relative(self) -> Decimal | None:
        """The change as a fraction of before; None for a new target."""
        if not self.before:
            return None
        with localcontext(_WIDE):
            return self.absolute / self.before

    def to_json(self) -> dict[str, Any]:
        """The JSON form; relative to four places."""
        relative = self.relative
        return {
            "subject": self.subject,
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "by": self.by,
            "capacity": self.capacity,
            "administration": self.administration,
            "target": self.target,
            "unit": self.unit,
            "before": format_amount(self.before) if self.before is not None else None,
            "after": format_amount(self.after) if self.after is not None else None,
            "absolute": format_total(self.absolute),
            "relative": _four_places(relative) if relative is not None else None,
        }


def _four_places(value: Decimal) -> str:
    with localcontext(_WIDE):
        return format_total(value.quantize(Decimal("0.0001")))


def administration_at(state: LedgerState, actor: str, key: str) -> str | None:
    """The administration an actor served at an instant: a tenure they held, else the
    administration running the head-of-state or head-of-government office then."""
    running = None
    for office in sorted(state.offices.values(), key=lambda o: o.subject):
        for tenure in office.tenures:
            began = tenure.began_key <= key
            not_ended = tenure.ended_key is None or key < tenure.ended_key
            if began and not_ended:
                if tenure.holder == actor:
                    return tenure.administration
                if office.kind in ("head-of-state", "head-of-government") and running is None:
                    running = tenure.administration
    return running


def revisions(events: Sequence[StoredEvent], view: View) -> list[Revision]:
    """Every target change made by a revision, largest relative change first."""
    state = project_ledger(events, view)
    found: list[Revision] = []
    for subject, history in group_by_subject(events).items():
        if subject_kind(subject) != "commitment":
            continue
        live = live_events(history, view)
        for index, stored in enumerate(live):
            if stored.type != "CommitmentRevised":
                continue
            # The stored data as the folds read it (upcast when written under an
            # earlier schema), not the typed event: no pydantic on this path.
            data = event_data(stored)
            before_state = fold_commitment(live[:index])
            after_state = fold_commitment(live[: index + 1])
            if before_state is None or after_state is None:
                continue
            admin = administration_at(state, data["by"], stored.occurred_key)
            keys = {c["key"] for c in data.get("targets", [])} | set(data.get("removed") or [])
            for key in sorted(keys):
                old = before_state.targets.get(key)
                new = after_state.targets.get(key)
                old_amount = old.quantity.amount if old else None
                new_amount = new.quantity.amount if new else None
                if old_amount == new_amount:
                    continue
                unit = (new or old).quantity.unit  # type: ignore[union-attr]
                found.append(
                    Revision(
                        subject,
                        stored.id,
                        stored.occurred_at,
                        data["by"],
                        data["capacity"],
                        admin,
                        key,
                        unit,
                        old_amount,
                        new_amount,
                    )
                )

    def size(revision: Revision) -> tuple[Decimal, Decimal, str, str]:
        relative = revision.relative
        return (
            -(abs(relative) if relative is not None else Decimal("Infinity")),
            -abs(revision.absolute),
            revision.subject,
            revision.target,
        )

    return sorted(found, key=size)


ACTED_TYPES = {
    "CommitmentMade": "pledged",
    "CommitmentRevised": "revised",
    "CommitmentWithdrawn": "withdrew",
    "CommitmentReaffirmed": "reaffirmed",
    "CommitmentSuperseded": "superseded",
    "ProgressReported": "reported progress on",
    "AssessmentRecorded": "assessed",
    "AppropriationRecorded": "appropriated",
    "TenureBegan": "took office",
    "TenureSuspended": "was suspended from",
    "TenureResumed": "resumed",
    "TenureEnded": "left",
}


@dataclass(frozen=True)
class Act:
    """Something an actor did, and in which capacity."""

    event: StoredEvent
    verb: str
    capacity: str | None

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "subject": self.event.subject,
            "id": self.event.id,
            "type": self.event.type,
            "verb": self.verb,
            "capacity": self.capacity,
            "occurred_at": self.event.occurred_at,
            "title": self.event.data.get("title"),
        }


def by_actor(events: Iterable[StoredEvent], actor: str, view: View) -> list[Act]:
    """Everything an actor pledged, revised, withdrew, reaffirmed (and more), in valid-time order."""
    acts = []
    for history in group_by_subject(events).values():
        for stored in live_events(history, view):
            named = (
                stored.data.get("by")
                or stored.data.get("holder")
                or stored.data.get("body")
                or stored.data.get("assessor")
            )
            if named == actor and stored.type in ACTED_TYPES:
                acts.append(Act(stored, ACTED_TYPES[stored.type], stored.data.get("capacity")))
    return sorted(acts, key=lambda a: (a.event.occurred_key, a.event.position))


@dataclass(frozen=True)
class SourceFinding:
    """A source of an event, and what is missing from it."""

    event: StoredEvent
    source: dict[str, Any]
    missing: list[str]

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "subject": self.event.subject,
            "id": self.event.id,
            "type": self.event.type,
            "url": self.source["url"],
            "publisher": self.source.get("publisher"),
            "missing": self.missing,
        }


def _domain(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def sources_audit(
    events: Iterable[StoredEvent], *, domain: str | None = None, publisher: str | None = None
) -> list[SourceFinding]:
    """Sources without an archive copy or hash; or, with a filter, every source citing it."""
    wanted_domain = domain.lower().removeprefix("www.") if domain else None
    findings = []
    for stored in events:
        for source in stored.sources:
            missing = [name for name in ("archive_url", "sha256") if not source.get(name)]
            if wanted_domain or publisher:
                host = _domain(source["url"])
                by_domain = wanted_domain and (
                    host == wanted_domain or host.endswith("." + wanted_domain)
                )
                by_publisher = publisher and _fold(publisher) in _fold(
                    source.get("publisher") or ""
                )
                if by_domain or by_publisher:
                    findings.append(SourceFinding(stored, source, missing))
            elif missing:
                findings.append(SourceFinding(stored, source, missing))
    return findings


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


SEARCHED_FIELDS = ("title", "summary", "statement", "reason", "rationale", "name")


@dataclass(frozen=True)
class Match:
    """An event whose text contains the query, and where."""

    event: StoredEvent
    where: str
    text: str

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "subject": self.event.subject,
            "id": self.event.id,
            "type": self.event.type,
            "where": self.where,
            "text": self.text,
        }


def search(events: Iterable[StoredEvent], query: str) -> list[Match]:
    """Events whose titles, summaries, statements, reasons or quotes contain the text."""
    needle = _fold(query.strip())
    if not needle:
        return []
    matches = []
    for stored in events:
        texts = [(f"data.{name}", stored.data.get(name)) for name in SEARCHED_FIELDS]
        texts += [(f"sources[{i}].quote", s.get("quote")) for i, s in enumerate(stored.sources)]
        texts += [(f"sources[{i}].title", s.get("title")) for i, s in enumerate(stored.sources)]
        for where, text in texts:
            if isinstance(text, str) and needle in _fold(text):
                matches.append(Match(stored, where, text))
    return matches
