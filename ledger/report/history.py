"""What the report shows from the events themselves: timelines, actors' records, sources.

The export document holds the derived state; the events hold the story (who
said what, when, and where it is documented). Both come from one view: a
subject's events here are the `live_events` the export's projections fold, so
a page never shows an event the state did not count, nor misses one it did.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger.audit import ACTED_TYPES
from ledger.events import subject_kind
from ledger.projections import View, live_events
from ledger.projections.state import group_by_subject
from ledger.records import StoredEvent, occurred_instant

LABELS = {
    "ActorRegistered": "Registered",
    "OfficeCreated": "Office created",
    "TenureBegan": "Took office",
    "TenureSuspended": "Suspended",
    "TenureResumed": "Resumed",
    "TenureEnded": "Left office",
    "CommitmentMade": "Pledged",
    "CommitmentRevised": "Revised",
    "CommitmentReaffirmed": "Reaffirmed",
    "CommitmentSuperseded": "Superseded",
    "CommitmentWithdrawn": "Withdrawn",
    "ProgressReported": "Progress reported",
    "AssessmentRecorded": "Assessed",
    "AppropriationRecorded": "Budget",
}
# The colour series of a timeline mark, by event type.
KINDS = {
    "CommitmentMade": "pledge",
    "CommitmentRevised": "revision",
    "CommitmentReaffirmed": "reaffirmation",
    "CommitmentSuperseded": "replaced",
    "CommitmentWithdrawn": "dropped",
    "ProgressReported": "progress",
    "AssessmentRecorded": "assessment",
    "AppropriationRecorded": "funding",
}
ACTOR_FIELDS = ("by", "holder", "body", "assessor")


@dataclass(frozen=True)
class EventRow:
    """An event as a page lists it; on a commitment's page, a budget event keeps only the
    allocations to that commitment."""

    stored: StoredEvent
    at: datetime
    allocations: tuple[dict[str, Any], ...] = ()

    @property
    def id(self) -> str:
        """The event id."""
        return self.stored.id

    @property
    def anchor(self) -> str:
        """The id of the event's entry on its page."""
        return f"event-{self.stored.id}"

    @property
    def day(self) -> str:
        """The day it occurred, as given."""
        return self.stored.occurred_at[:10]

    @property
    def label(self) -> str:
        """What happened, in a word or two: "Pledged", "Budget approved"."""
        label = LABELS.get(self.stored.type, self.stored.type)
        if self.stored.type == "AppropriationRecorded":
            return f"{label} {self.stored.data['phase']}"
        return label

    @property
    def kind(self) -> str:
        """The colour series of its mark."""
        return KINDS.get(self.stored.type, "other")

    @property
    def actor(self) -> str | None:
        """Who acted: the pledger, holder, legislature or assessor."""
        return named_actor(self.stored)


@dataclass(frozen=True)
class Act:
    """Something an actor did, in the words of `policy-ledger by-actor`."""

    row: EventRow
    verb: str
    capacity: str | None


@dataclass
class SourceEntry:
    """One cited document (one archived copy of it), and the events citing it."""

    url: str
    archive_url: str | None
    sha256: str | None
    title: str | None = None
    publisher: str | None = None
    published_on: str | None = None
    citations: list[EventRow] = field(default_factory=list)


def named_actor(stored: StoredEvent) -> str | None:
    """The actor an event names as acting, as `by-actor` reads it."""
    for name in ACTOR_FIELDS:
        value = stored.data.get(name)
        if isinstance(value, str):
            return value
    return None


class Histories:
    """Every subject's live events in one view, indexed the ways the pages read them."""

    def __init__(self, events: Iterable[StoredEvent], view: View) -> None:
        self.live: dict[str, list[StoredEvent]] = {}
        for subject, history in group_by_subject(events).items():
            live = live_events(history, view)
            if live:
                self.live[subject] = live
        self._rows = {
            e.id: EventRow(e, occurred_instant(e.occurred_at, view.tz))
            for live in self.live.values()
            for e in live
        }
        self._allocating: dict[str, list[StoredEvent]] = {}
        self._acts: dict[str, list[Act]] = {}
        for subject in sorted(self.live):
            for stored in self.live[subject]:
                self._index(stored)

    def _index(self, stored: StoredEvent) -> None:
        if subject_kind(stored.subject) == "budget":
            named = {a["commitment"] for a in stored.data.get("allocations", [])}
            for commitment in sorted(named):
                self._allocating.setdefault(commitment, []).append(stored)
        actor = named_actor(stored)
        if actor is not None and stored.type in ACTED_TYPES:
            act = Act(self._rows[stored.id], ACTED_TYPES[stored.type], stored.data.get("capacity"))
            self._acts.setdefault(actor, []).append(act)

    def rows(self, events: Sequence[StoredEvent]) -> list[EventRow]:
        """The rows of events, in valid-time order."""
        ordered = sorted(events, key=lambda e: (e.occurred_key, e.position))
        return [self._rows[e.id] for e in ordered]

    def commitment_rows(self, subject: str) -> list[EventRow]:
        """A commitment's events and the budget events allocating to it, in valid-time order."""
        own = self.rows(self.live.get(subject, []))
        funding = [
            EventRow(
                row.stored,
                row.at,
                tuple(a for a in row.stored.data["allocations"] if a["commitment"] == subject),
            )
            for row in self.rows(self._allocating.get(subject, []))
        ]
        return sorted(own + funding, key=lambda r: (r.stored.occurred_key, r.stored.position))

    def acts_of(self, actor: str) -> list[Act]:
        """What an actor pledged, revised, funded, assessed (and more), in valid-time order."""
        acts = self._acts.get(actor, [])
        return sorted(acts, key=lambda a: (a.row.stored.occurred_key, a.row.stored.position))

    def latest(self) -> EventRow | None:
        """The visible event last appended to the log."""
        return max(self._rows.values(), key=lambda r: r.stored.position, default=None)

    def allocated_commitments(self, stored: StoredEvent) -> list[str]:
        """The commitments a budget event allocates to."""
        return sorted({a["commitment"] for a in stored.data.get("allocations", [])})

    def sources(self) -> list[SourceEntry]:
        """Every cited document, once per archived copy, in order of first citation."""
        entries: dict[tuple[str, str | None, str | None], SourceEntry] = {}
        rows = sorted(self._rows.values(), key=lambda r: r.stored.position)
        for row in rows:
            for source in row.stored.sources:
                key = (source["url"], source.get("archive_url"), source.get("sha256"))
                entry = entries.setdefault(key, SourceEntry(*key))
                entry.title = entry.title or source.get("title")
                entry.publisher = entry.publisher or source.get("publisher")
                entry.published_on = entry.published_on or source.get("published_on")
                # An event may cite one document twice (two quotes from it): list it once.
                if not entry.citations or entry.citations[-1].id != row.id:
                    entry.citations.append(row)
        return list(entries.values())
