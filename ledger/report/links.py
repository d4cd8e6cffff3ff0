"""Links between the report's pages, relative to the page they are on, so the folder
works from file:// wherever it is copied. Each returns escaped HTML."""

from __future__ import annotations

from typing import TYPE_CHECKING

from markupsafe import Markup, escape

from ledger.events import subject_kind, subject_slug
from ledger.report.amounts import language_of
from ledger.report.history import EventRow

if TYPE_CHECKING:  # pages imports nothing from here; the hint is for mypy only
    from ledger.report.administrations import TenureRef
    from ledger.report.pages import ReportData


def text(value: str) -> Markup:
    """Escaped text, marked as Korean when it mostly is."""
    language = language_of(value)
    if language:
        return Markup('<span lang="{}">{}</span>').format(language, value)
    return escape(value)


class Links:
    """Links from one page (`root` leads back to the report's folder) to the others."""

    def __init__(self, data: ReportData, root: str) -> None:
        self.data = data
        self.root = root

    def href(self, path: str) -> str:
        """A page's address from this page."""
        return self.root + path

    def _a(self, path: str, label: Markup) -> Markup:
        return Markup('<a href="{}">{}</a>').format(self.href(path), label)

    def actor(self, subject: str | None) -> Markup:
        """The actor's name, linked to its page when the view has it."""
        if subject is None:
            return Markup("—")
        if subject not in self.data.document["actors"]:
            return Markup("<code>{}</code>").format(subject)
        return self._a(f"actors/{subject_slug(subject)}.html", text(self.data.actor_name(subject)))

    def commitment(self, subject: str) -> Markup:
        """The commitment's title, linked to its page when the view has it."""
        commitment = self.data.document["commitments"].get(subject)
        if commitment is None:
            return Markup("<code>{}</code>").format(subject)
        return self._a(f"commitments/{subject_slug(subject)}.html", text(commitment["title"]))

    def administration(self, slug: str) -> Markup:
        """The administration's name, linked to its page."""
        name = escape(self.data.administration_name(slug))
        if slug not in self.data.administrations:
            return name
        return self._a(self.data.administrations[slug].page, name)

    def tenure(self, tenure: TenureRef) -> Markup:
        """ "Acting, 2024-12-14 – 2025-05-02", linked to the tenure's page."""
        t = tenure.tenure
        began = t["began_at"][:10]
        span = f"{began} – {t['ended_at'][:10]}" if t["ended_at"] else f"since {began}"
        return self._a(tenure.page, escape(f"{t['role']}, {span}"))

    def subject(self, subject: str) -> Markup:
        """Any subject, by name, linked where it has a page."""
        kind = subject_kind(subject)
        if kind == "actor":
            return self.actor(subject)
        if kind == "commitment":
            return self.commitment(subject)
        office = self.data.document["offices"].get(subject)
        if office is not None:
            return text(office["name"])
        return Markup("<code>{}</code>").format(subject)

    def event(self, row: EventRow) -> str | None:
        """Where the event is shown: its entry on a commitment page, or its subject's page."""
        stored = row.stored
        kind = subject_kind(stored.subject)
        if kind == "commitment" and stored.subject in self.data.document["commitments"]:
            return self.href(f"commitments/{subject_slug(stored.subject)}.html#{row.anchor}")
        if kind == "budget":
            named = [
                c
                for c in self.data.histories.allocated_commitments(stored)
                if c in self.data.document["commitments"]
            ]
            if named:
                return self.href(f"commitments/{subject_slug(named[0])}.html#{row.anchor}")
        if kind == "actor" and stored.subject in self.data.document["actors"]:
            return self.href(f"actors/{subject_slug(stored.subject)}.html")
        if kind == "office":
            holder = stored.data.get("holder")
            held = [
                t
                for t in self.data.tenures
                if t.office == stored.subject and t.holder == holder and t.start <= row.at
            ]
            if held:
                return self.href(held[-1].page)
        return None

    def external(self, url: str, label: str | None = None) -> Markup:
        """A link to a cited page (never loaded by the report itself)."""
        shown = text(label) if label else Markup('<span class="url">{}</span>').format(url)
        # Event sources are validated as http(s); anything else is shown, not linked.
        if not url.lower().startswith(("http://", "https://")):
            return shown
        return Markup('<a href="{}" rel="external noopener noreferrer">{}</a>').format(url, shown)
