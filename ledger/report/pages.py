"""What each page shows, as template context: read from the export document, with the
events for timelines, records and sources."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from markupsafe import Markup

from ledger.events import subject_slug
from ledger.export import export_document
from ledger.projections import View
from ledger.quantities import is_currency
from ledger.records import StoredEvent, format_recorded_at, occurred_instant
from ledger.report.administrations import Administration, TenureRef, administrations, tenure_refs
from ledger.report.amounts import amount_text, percent
from ledger.report.charts import progress_bar
from ledger.report.history import EventRow, Histories
from ledger.report.timeline import Mark, Rule, timeline_svg
from ledger.report.tree_head import CheckedCheckpoint, check_checkpoint


def known_prefix(events: Sequence[StoredEvent], view: View) -> list[StoredEvent]:
    """The log prefix the ledger held at `known_at`, as `export_document` cuts it."""
    if view.known_at is None:
        return list(events)
    known = format_recorded_at(view.known_at)
    prefix = []
    for stored in events:
        if stored.recorded_at > known:
            break
        prefix.append(stored)
    return prefix


@dataclass(frozen=True)
class ReportData:
    """Everything the pages read: the export document, the events by subject, and indexes."""

    document: dict[str, Any]
    histories: Histories
    view: View
    tenures: list[TenureRef]
    administrations: dict[str, Administration]
    tree: CheckedCheckpoint | None
    # Indexes, so that a page per commitment or actor does not scan them all again.
    owners: dict[str, Administration] = field(default_factory=dict)
    made_by: dict[str, list[str]] = field(default_factory=dict)
    fates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def build(cls, events: Sequence[StoredEvent], view: View, checkpoint: str | None) -> ReportData:
        """The data for events in position order, as the view sees them."""
        document = export_document(events, view)
        tenures = tenure_refs(document["offices"], view.tz)
        data = cls(
            document,
            Histories(known_prefix(events, view), view),
            view,
            tenures,
            administrations(document, tenures, view.tz),
            check_checkpoint(checkpoint, events) if checkpoint is not None else None,
        )
        for administration in data.administrations.values():
            for subject in administration.in_office + administration.carried_in:
                data.owners[subject] = administration
        for subject in sorted(document["commitments"]):
            data.made_by.setdefault(document["commitments"][subject]["by"], []).append(subject)
        for ref in data.transitions():
            cohorts = (
                ("outgoing government's", ref.transition),
                ("carried into office", ref.transition["carried_into_office"]),
            )
            for cohort_name, cohort in cohorts:
                for item in cohort["commitments"]:
                    entry = {"ref": ref, "cohort": cohort_name, "item": item}
                    data.fates.setdefault(item["subject"], []).append(entry)
        return data

    def actor_name(self, subject: str) -> str:
        """The actor's registered name, or the subject when the view has no such actor."""
        actor = self.document["actors"].get(subject)
        return str(actor["name"]) if actor else subject

    def administration_name(self, slug: str) -> str:
        """The administration's name, after the actor of the same slug if there is one."""
        actor = self.document["actors"].get(f"actor/{slug}")
        return f"{actor['name'] if actor else slug} administration"

    def administration_of(self, commitment: str) -> Administration | None:
        """The administration a commitment belongs to (in office or carried in)."""
        return self.owners.get(commitment)

    def office_name(self, office: str) -> str:
        """The office's name, or its subject when the view has no such office."""
        state = self.document["offices"].get(office)
        return str(state["name"]) if state else office

    def transitions(self) -> list[TransitionRef]:
        """Every transition of every office in the continuity section, offices sorted."""
        continuity = self.document["continuity"]
        return [
            TransitionRef(office, number, transition)
            for office in sorted(continuity)
            for number, transition in enumerate(continuity[office]["transitions"], start=1)
        ]


@dataclass(frozen=True)
class TransitionRef:
    """One transition of the export's continuity section, and where the index shows it."""

    office: str
    number: int  # 1-based, in the office's order
    transition: dict[str, Any]

    @property
    def anchor(self) -> str:
        """The id of its section on the index page."""
        return f"transition-{subject_slug(self.office)}-{self.number}"


# --- a commitment ---------------------------------------------------------------


@dataclass(frozen=True)
class TargetView:
    """A target with how far it got."""

    key: str
    target: dict[str, Any]
    share: Fraction | None
    bar: Markup

    @property
    def percent(self) -> str | None:
        """The share reached as a percentage."""
        return percent(self.share) if self.share is not None else None


def progress_share(target: dict[str, Any]) -> Fraction | None:
    """How far the achieved level went from the baseline (or zero) to the quantity."""
    if target["achieved"] is None:
        return None
    goal = Fraction(Decimal(target["quantity"]["amount"]))
    achieved = Fraction(Decimal(target["achieved"]))
    base = Fraction(Decimal(target["baseline"]["amount"])) if target["baseline"] else Fraction(0)
    if goal == base:
        return None
    # A reduction (baseline above the quantity) gives two negatives: still a share.
    return (achieved - base) / (goal - base)


def target_views(commitment: dict[str, Any]) -> list[TargetView]:
    """Each target, with a progress bar."""
    views = []
    for key in sorted(commitment["targets"]):
        target = commitment["targets"][key]
        share = progress_share(target)
        unit = target["quantity"]["unit"]
        goal = amount_text(Decimal(target["quantity"]["amount"]), unit)
        reached = (
            f"{amount_text(Decimal(target['achieved']), unit)} of {goal} ({percent(share)})"
            if target["achieved"] is not None and share is not None
            else f"no progress reported towards {goal}"
        )
        views.append(TargetView(key, target, share, progress_bar(share, f"{key}: {reached}")))
    return views


def funding_rows(commitment: dict[str, Any]) -> list[dict[str, Any]]:
    """Funding by phase: per target that has money or is money, then money tied to no target."""
    rows = []
    for key in sorted(commitment["targets"]):
        target = commitment["targets"][key]
        funded = target["funded"]
        unit = target["quantity"]["unit"]
        if is_currency(unit) or any(Decimal(v) for v in funded.values()):
            rows.append(
                {"target": key, "unit": unit, "pledged": target["quantity"]["amount"], **funded}
            )
    for unit, phases in sorted(commitment["funded"].items()):
        rows.append({"target": None, "unit": unit, "pledged": None, **phases})
    return rows


def commitment_timeline(
    data: ReportData, commitment: dict[str, Any], rows: list[EventRow]
) -> Markup:
    """The events on a date axis, with due dates and the transitions while it ran."""
    tz = data.view.tz
    marks = [
        Mark(row.at, row.day, row.label, _mark_detail(data, row), row.kind, row.anchor)
        for row in rows
    ]
    dues = {commitment["due"]} | {t["due"] for t in commitment["targets"].values()}
    rules = [
        Rule(occurred_instant(due, tz), f"due {due}", "due") for due in sorted(d for d in dues if d)
    ]
    if marks:
        first, last = marks[0].at, max([m.at for m in marks] + [r.at for r in rules])
        for ref in data.transitions():
            transition = ref.transition
            moment = occurred_instant(transition["at"], tz)
            if first <= moment <= last:
                label = f"{data.administration_name(transition['to']['administration'])} begins"
                rules.append(Rule(moment, label, "transition"))
    title = f"Timeline of {len(rows)} events on “{commitment['title']}”"
    return timeline_svg(marks, rules, tz, title)


def _mark_detail(data: ReportData, row: EventRow) -> str:
    actor = row.actor
    return f"{row.day} {row.label}" + (f" by {data.actor_name(actor)}" if actor else "")


def commitment_context(data: ReportData, subject: str) -> dict[str, Any]:
    """The commitment page."""
    commitment = data.document["commitments"][subject]
    rows = data.histories.commitment_rows(subject)
    return {
        "subject": subject,
        "c": commitment,
        "rows": rows,
        "timeline": commitment_timeline(data, commitment, rows),
        "targets": target_views(commitment),
        "funding": funding_rows(commitment),
        "continuity": data.fates.get(subject, []),
        "administration": data.administration_of(subject),
    }


# --- actors, administrations, tenures ----------------------------------------------


def actor_context(data: ReportData, subject: str) -> dict[str, Any]:
    """The actor page."""
    return {
        "subject": subject,
        "actor": data.document["actors"][subject],
        "tenures": [t for t in data.tenures if t.holder == subject],
        "commitments": data.made_by.get(subject, []),
        "acts": data.histories.acts_of(subject),
    }


def administration_context(data: ReportData, slug: str) -> dict[str, Any]:
    """The administration page."""
    administration = data.administrations[slug]
    transitions = [
        ref
        for ref in data.transitions()
        if slug
        in (ref.transition["from"]["administration"], ref.transition["to"]["administration"])
    ]
    return {
        "administration": administration,
        "name": data.administration_name(slug),
        "transitions": transitions,
    }


def tenure_context(data: ReportData, tenure: TenureRef) -> dict[str, Any]:
    """The tenure page: the holder's pledges and acts while holding the office."""
    commitments = data.document["commitments"]
    made = [
        s
        for s in data.made_by.get(tenure.holder, [])
        if tenure.covers(occurred_instant(commitments[s]["made_at"], data.view.tz))
    ]
    acts = [a for a in data.histories.acts_of(tenure.holder) if tenure.covers(a.row.at)]
    return {"tenure": tenure, "t": tenure.tenure, "commitments": made, "acts": acts}


# --- sources and the checkpoint ----------------------------------------------------


def sources_context(data: ReportData) -> dict[str, Any]:
    """The sources page: every cited document and the events citing it."""
    entries = data.histories.sources()
    return {
        "entries": entries,
        "archived": sum(1 for e in entries if e.archive_url),
        "hashed": sum(1 for e in entries if e.sha256),
        "citing": len({row.id for e in entries for row in e.citations}),
    }


def checkpoint_context(data: ReportData) -> dict[str, Any]:
    """The checkpoint page: size and root, a given checkpoint checked, and how to verify."""
    return {"tree": data.tree, "example": data.histories.latest()}
