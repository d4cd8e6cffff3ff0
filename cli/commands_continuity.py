"""`policy-ledger continuity`: what happened to the previous administration's commitments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import click

from cli.app import cli
from cli.context import (
    Env,
    json_option,
    make_view,
    pass_env,
    print_json,
    quickly,
    subject_of_kind,
    view_options,
)
from cli.render import table
from ledger.continuity import ContinuityReport, Grouping, continuity_report

if TYPE_CHECKING:
    from ledger.projections.common import View
    from ledger.records import StoredEvent


def _print_cohort(heading: str, cohort: dict[str, Any]) -> None:
    rate = cohort["continuity_rate"]
    click.echo(
        f"{heading}: {cohort['live']} live, continuity rate {rate if rate is not None else '—'}"
    )
    counts = ", ".join(f"{fate} {n}" for fate, n in cohort["fates"].items() if n)
    if counts:
        click.echo(f"  {counts}")
    rows = []
    for item in cohort["commitments"]:
        act = item["act"] or {}
        rows.append(
            [
                item["subject"].removeprefix("commitment/"),
                item["made_by"].removeprefix("actor/"),
                item["fate"],
                act.get("type"),
                (act.get("occurred_at") or "")[:10] or None,
                act.get("source"),
            ]
        )
    if rows:
        click.echo(table(["commitment", "made by", "fate", "deciding act", "on", "source"], rows))
    money = [[unit, f["pledged"], f["appropriated"]] for unit, f in cohort["funding"].items()]
    if money:
        click.echo(table(["unit", "pledged at transition", "appropriated in window"], money))


@cli.command()
@click.option(
    "--office",
    metavar="OFFICE",
    callback=subject_of_kind("office"),
    help="Only this office (office/...); default every office.",
)
@click.option(
    "--horizon",
    "horizon_days",
    # A century at most; a window that would run past year 9999 ends at LAST_WINDOW_END.
    type=click.IntRange(min=1, max=36_500),
    default=365,
    show_default=True,
    metavar="DAYS",
    help="Window after each transition in which acts count.",
)
@click.option(
    "--by",
    "grouping",
    type=click.Choice(["administration", "tenure"]),
    default="administration",
    show_default=True,
    help="A transition is a change of administration, or of any holder.",
)
@click.option("--area", metavar="SLUG", help="Only commitments in this area.")
@view_options
@json_option
@pass_env
def continuity(
    env: Env,
    office: str | None,
    horizon_days: int,
    grouping: str,
    area: str | None,
    as_of: str | None,
    known_at: str | None,
    as_json: bool,
) -> None:
    """When power changed hands, what happened to what the previous administration promised.

    For each transition of an office, every commitment the outgoing government
    left live gets one fate: dropped, replaced, scaled-up, scaled-down,
    revised, continued or silent (no government act within the horizon).

    \b
    Examples:
      policy-ledger continuity
      policy-ledger continuity --office office/president-of-korea --horizon 180
      policy-ledger continuity --by tenure --known-at 2025-09-01 --json
    """
    options: dict[str, Any] = {
        "office": office,
        "horizon_days": horizon_days,
        "by": cast(Grouping, grouping),
        "area": area,
    }

    def report_of(events: list[StoredEvent], view: View) -> ContinuityReport:
        return continuity_report(events, view, **options)

    # A small SQLite ledger is read without the service (ledger/store/quick.py);
    # a large one, any other store and every error go through it.
    found = quickly(env, report_of, as_of, known_at, replays=True)
    if found is None:
        ledger = env.ledger()
        found = ledger.continuity(make_view(ledger, as_of, known_at), **options)
    report = found.to_json()
    if as_json:
        print_json(report)
        return
    print_report(report)


def print_report(report: dict[str, Any]) -> None:
    """The continuity report as a readable table per transition."""
    if not any(entry["transitions"] for entry in report.values()):
        click.echo("no transition between administrations in this view")
    for office_subject, entry in report.items():
        for transition in entry["transitions"]:
            before, after = transition["from"], transition["to"]
            window = transition["window"]
            click.echo(f"\n{office_subject}  {transition['at']}")
            click.echo(
                f"  {before['holder']} ({before['administration']}) → {after['holder']} "
                f"({after['administration']})"
            )
            click.echo(
                f"  window {window['start']} → {window['end']}"
                + ("" if window.get("complete", True) else "  (still open: fates may change)")
            )
            _print_cohort("  previous government's commitments", transition)
            carried = transition["carried_into_office"]
            if carried["live"]:
                _print_cohort("  carried into office by the incoming holder", carried)
