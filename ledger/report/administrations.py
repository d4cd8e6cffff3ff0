"""Administrations and tenures as the export document records them, and whose each
commitment is.

A commitment made in a governing capacity belongs to the administration its
maker served when making it: a tenure they held then, else the administration
running the head-of-state or head-of-government office (as `policy-ledger
revisions` reads it). A campaign pledge (candidate, opposition) belongs to the
administration its maker formed next, which carried it into office; other
pledges belong to an administration only when their maker held office then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ledger.continuity import CAMPAIGN_CAPACITIES
from ledger.events import GOVERNING_CAPACITIES, subject_slug
from ledger.quantities import exact_arithmetic
from ledger.records import occurred_instant

RUNNING_KINDS = ("head-of-state", "head-of-government")


@dataclass(frozen=True)
class TenureRef:
    """One tenure of one office, with its instants for comparing."""

    office: str
    office_name: str
    office_kind: str
    number: int  # 1-based, in the office's order
    tenure: dict[str, Any]
    start: datetime
    end: datetime | None

    @property
    def page(self) -> str:
        """Its page, relative to the report's folder."""
        return f"tenures/{subject_slug(self.office)}-{self.number}.html"

    @property
    def holder(self) -> str:
        """The holder's actor subject."""
        return str(self.tenure["holder"])

    @property
    def administration(self) -> str:
        """The administration's slug."""
        return str(self.tenure["administration"])

    def covers(self, moment: datetime) -> bool:
        """Whether the tenure had begun and not ended at the moment."""
        return self.start <= moment and (self.end is None or moment < self.end)


@dataclass
class Administration:
    """An administration: its tenures, its commitments, and the money pledged and approved."""

    slug: str
    tenures: list[TenureRef] = field(default_factory=list)
    in_office: list[str] = field(default_factory=list)
    carried_in: list[str] = field(default_factory=list)
    pledged: dict[str, Decimal] = field(default_factory=dict)
    appropriated: dict[str, Decimal] = field(default_factory=dict)

    @property
    def page(self) -> str:
        """Its page, relative to the report's folder."""
        return f"administrations/{self.slug}.html"

    def units(self) -> list[str]:
        """Every unit pledged or appropriated in, sorted."""
        return sorted(self.pledged.keys() | self.appropriated.keys())


def tenure_refs(offices: Mapping[str, Any], tz: ZoneInfo) -> list[TenureRef]:
    """Every tenure of every office, offices sorted, tenures in the office's order."""
    refs = []
    for office in sorted(offices):
        state = offices[office]
        for number, tenure in enumerate(state["tenures"], start=1):
            ended = tenure["ended_at"]
            refs.append(
                TenureRef(
                    office,
                    state["name"],
                    state["kind"],
                    number,
                    tenure,
                    occurred_instant(tenure["began_at"], tz),
                    occurred_instant(ended, tz) if ended else None,
                )
            )
    return refs


def administration_of(
    commitment: Mapping[str, Any], tenures: list[TenureRef], tz: ZoneInfo
) -> tuple[str | None, bool]:
    """The administration a commitment belongs to, and whether it was carried in from a campaign."""
    made = occurred_instant(commitment["made_at"], tz)
    maker = commitment["by"]
    if commitment["capacity"] in CAMPAIGN_CAPACITIES:
        later = sorted(
            (t for t in tenures if t.holder == maker and t.start >= made), key=lambda t: t.start
        )
        return (later[0].administration, True) if later else (None, True)
    own = [t for t in tenures if t.holder == maker and t.covers(made)]
    if own:
        return own[0].administration, False
    if commitment["capacity"] in GOVERNING_CAPACITIES:
        running = [t for t in tenures if t.office_kind in RUNNING_KINDS and t.covers(made)]
        if running:
            return running[0].administration, False
    return None, False


def administrations(
    document: Mapping[str, Any], tenures: list[TenureRef], tz: ZoneInfo
) -> dict[str, Administration]:
    """Every administration with a tenure, with its commitments and their money, by slug."""
    found: dict[str, Administration] = {}
    for tenure in tenures:
        found.setdefault(
            tenure.administration, Administration(tenure.administration)
        ).tenures.append(tenure)
    commitments = document["commitments"]
    for subject in sorted(commitments):
        commitment = commitments[subject]
        slug, carried = administration_of(commitment, tenures, tz)
        if slug is None:
            continue
        administration = found.setdefault(slug, Administration(slug))
        (administration.carried_in if carried else administration.in_office).append(subject)
        add_money(administration, commitment)
    return dict(sorted(found.items()))


def add_money(administration: Administration, commitment: Mapping[str, Any]) -> None:
    """Add a commitment's targets (pledged) and approved funding (appropriated), by unit."""
    for target in commitment["targets"].values():
        unit = target["quantity"]["unit"]
        _add(administration.pledged, unit, Decimal(target["quantity"]["amount"]))
        approved = Decimal(target["funded"]["approved"])
        if approved:
            _add(administration.appropriated, unit, approved)
    # Money allocated to the commitment without naming one of its targets.
    for unit, phases in commitment["funded"].items():
        approved = Decimal(phases["approved"])
        if approved:
            _add(administration.appropriated, unit, approved)


@exact_arithmetic
def _add(totals: dict[str, Decimal], unit: str, amount: Decimal) -> None:
    totals[unit] = totals.get(unit, Decimal(0)) + amount
