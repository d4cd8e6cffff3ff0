"""The index page's figures: commitments by status, continuity per transition, money
per administration. Every number is read from the export document."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from markupsafe import Markup

from ledger.continuity import FATES
from ledger.quantities import is_currency
from ledger.report.administrations import Administration
from ledger.report.amounts import exact_amount, human_amount, percent, uses_korean_units
from ledger.report.charts import Bar, BarGroup, bar_chart, stacked_bar
from ledger.report.pages import ReportData, TransitionRef
from ledger.vocabulary import STATUSES


@dataclass(frozen=True)
class CohortView:
    """A cohort of one transition (the live set, or what the newcomer carried in), charted."""

    heading: str
    cohort: dict[str, Any]
    chart: Markup
    caption: str

    @property
    def legend(self) -> list[tuple[str, int]]:
        """(fate, count) of the fates that occurred, in the contract's order."""
        return [(fate, n) for fate in FATES if (n := self.cohort["fates"].get(fate, 0))]

    @property
    def rate(self) -> str | None:
        """The continuity rate as a percentage ("66.67%"), None when nothing was live."""
        rate = self.cohort["continuity_rate"]
        return percent(Decimal(rate)) if rate is not None else None


@dataclass(frozen=True)
class TransitionView:
    """One office transition with its cohorts."""

    ref: TransitionRef
    office_name: str
    cohorts: list[CohortView]


def status_counts(commitments: Mapping[str, Any]) -> list[tuple[str, int]]:
    """Commitments per status, in the contract's order of statuses."""
    counts = {status: 0 for status in STATUSES}
    for commitment in commitments.values():
        counts[commitment["status"]] = counts.get(commitment["status"], 0) + 1
    return list(counts.items())


def status_chart(counts: list[tuple[str, int]]) -> Markup:
    """Bars of commitments per status."""
    total = sum(n for _, n in counts)
    bars = [Bar(status, Decimal(n), str(n)) for status, n in counts]
    return bar_chart([BarGroup("", bars)], f"Commitments by status ({total} in all)")


def fate_segments(cohort: Mapping[str, Any]) -> list[Bar]:
    """The stacked bar's segments: one per fate with a count, in the contract's order of fates."""
    live = cohort["live"]
    return [
        Bar(fate, Decimal(n), str(n), f"{n} of {live}")
        for fate in FATES
        if (n := cohort["fates"].get(fate, 0))
    ]


def transitions(data: ReportData) -> list[TransitionView]:
    """Every transition of every office, with the fates of both cohorts charted."""
    views = []
    for ref in data.transitions():
        transition, name = ref.transition, data.office_name(ref.office)
        moment, to = transition["at"], transition["to"]
        cohorts = [
            _cohort_view(
                "The outgoing government's commitments",
                transition,
                f"Fates of the {transition['live']} commitments live when {name} passed to "
                f"{to['administration']} on {moment[:10]}",
            ),
            _cohort_view(
                "Campaign pledges carried into office",
                transition["carried_into_office"],
                f"Fates of the {transition['carried_into_office']['live']} campaign pledges "
                f"the incoming {to['holder']} carried into {name}",
            ),
        ]
        views.append(TransitionView(ref, name, cohorts))
    return views


def _cohort_view(heading: str, cohort: dict[str, Any], title: str) -> CohortView:
    rate = cohort["continuity_rate"]
    fates = ", ".join(f"{fate} {n}" for fate in FATES if (n := cohort["fates"].get(fate, 0)))
    caption = f"{cohort['live']} live; {fates or 'none'}."
    if rate is not None:
        caption += f" Continuity rate {percent(Decimal(rate))} ({rate})."
    return CohortView(heading, cohort, stacked_bar(fate_segments(cohort), title), caption)


@dataclass(frozen=True)
class MoneyRow:
    """One administration's pledged and appropriated amounts in one unit."""

    administration: Administration
    unit: str
    pledged: Decimal
    appropriated: Decimal | None  # None for units no budget is counted in (GPUs, people)

    @property
    def share(self) -> str:
        """Appropriated as a percentage of pledged, "—" when nothing was pledged in money."""
        if self.appropriated is None or self.pledged <= 0:
            return "—"
        # As a Fraction: a Decimal quotient would be rounded to the current context's digits.
        return percent(Fraction(self.appropriated) / Fraction(self.pledged))


def money_rows(administrations: Mapping[str, Administration]) -> list[MoneyRow]:
    """Per administration and unit, what its commitments pledged and what was approved for them."""
    rows = []
    for administration in administrations.values():
        for unit in administration.units():
            appropriated = administration.appropriated.get(unit, Decimal(0))
            rows.append(
                MoneyRow(
                    administration,
                    unit,
                    administration.pledged.get(unit, Decimal(0)),
                    appropriated if is_currency(unit) else None,
                )
            )
    return rows


def money_charts(rows: list[MoneyRow], names: Mapping[str, str]) -> list[tuple[str, Markup]]:
    """One chart per currency: pledged next to appropriated, per administration."""
    charts = []
    for unit in sorted({r.unit for r in rows if r.appropriated is not None}):
        groups = [
            BarGroup(
                names[r.administration.slug],
                [
                    _money_bar("pledged", r.pledged, unit),
                    _money_bar("appropriated", r.appropriated or Decimal(0), unit),
                ],
            )
            for r in rows
            if r.unit == unit
        ]
        charts.append(
            (unit, bar_chart(groups, f"Pledged and appropriated in {unit}, by administration"))
        )
    return charts


def _money_bar(series: str, amount: Decimal, unit: str) -> Bar:
    exact = exact_amount(amount, unit) if uses_korean_units(amount, unit) else ""
    return Bar(series, amount, human_amount(amount, unit), exact)


def index_context(data: ReportData) -> dict[str, Any]:
    """The index page."""
    document = data.document
    counts = status_counts(document["commitments"])
    rows = money_rows(data.administrations)
    names = {slug: data.administration_name(slug) for slug in data.administrations}
    return {
        "statuses": counts,
        "status_chart": status_chart(counts),
        "transitions": transitions(data),
        "money_rows": rows,
        "money_charts": money_charts(rows, names),
        "names": names,
    }
