"""Reading the ledger: show, history, list.

Each asks the quick read path first (ledger/store/quick.py: an SQLite file
read with the standard library) and the service when that declines; the
service then answers the same, or words the error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from cli.app import cli
from cli.context import Env, json_option, make_view, pass_env, print_json, view_options
from cli.render import table
from ledger.store import quick
from ledger.vocabulary import STATUSES, SUBJECT_KINDS

if TYPE_CHECKING:
    from ledger.records import StoredEvent


def _amount(quantity: dict[str, str] | None) -> str | None:
    return None if quantity is None else f"{quantity['amount']} {quantity['unit']}"


def _print_commitment(subject: str, state: dict[str, Any]) -> None:
    click.echo(f"{subject}  [{state['status']}]")
    click.echo(f"  {state['title']}")
    click.echo(
        f"  made {state['made_at']} by {state['by']} as {state['capacity']}; areas: {', '.join(state['areas'])}"
    )
    if state["summary"]:
        click.echo(f"  {state['summary']}")
    if state["withdrawn"]:
        click.echo(
            f"  withdrawn {state['withdrawn']['at']} by {state['withdrawn']['by']}: {state['withdrawn']['reason']}"
        )
    if state["superseded_by"]:
        click.echo(f"  superseded by {state['superseded_by']}")
    rows = [
        [
            key,
            _amount(t["quantity"]),
            _amount(t["baseline"]),
            t["due"],
            t["achieved"],
            t["funded"]["proposed"],
            t["funded"]["approved"],
            t["funded"]["executed"],
        ]
        for key, t in state["targets"].items()
    ]
    click.echo("")
    click.echo(
        table(
            [
                "target",
                "quantity",
                "baseline",
                "due",
                "achieved",
                "proposed",
                "approved",
                "executed",
            ],
            rows,
        )
    )
    for unit, phases in state["funded"].items():
        click.echo(
            f"  funded without a target ({unit}): proposed {phases['proposed']}, "
            f"approved {phases['approved']}, executed {phases['executed']}"
        )
    if state["assessments"]:
        click.echo("")
        click.echo(
            table(
                ["assessor", "rubric", "rating", "on"],
                [
                    [k, a["rubric"], a["rating"], a["occurred_at"]]
                    for k, a in state["assessments"].items()
                ],
            )
        )
    click.echo(f"\n{state['event_count']} events")


def _plain(value: Any) -> str:
    """A state value as text: a dash for nothing, KEY=VALUE for a mapping."""
    if value in (None, {}, []):
        return "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _print_generic(subject: str, state: dict[str, Any]) -> None:
    click.echo(subject)
    for key, value in state.items():
        if key == "tenures":
            continue
        if isinstance(value, dict) and value and key == "phases":
            for phase, record in value.items():
                click.echo(
                    f"  {phase}: {_amount(record['quantity'])} ({record['occurred_at']}), "
                    f"{len(record['allocations'])} allocations"
                )
        else:
            click.echo(f"  {key}: {_plain(value)}")
    if state.get("tenures"):
        click.echo("")
        click.echo(
            table(
                ["holder", "role", "administration", "began", "ended", "reason", "suspensions"],
                [
                    [
                        t["holder"],
                        t["role"],
                        t["administration"],
                        t["began_at"],
                        t["ended_at"],
                        t["end_reason"],
                        "; ".join(
                            f"{s['suspended_at']}→{s['resumed_at'] or '…'}"
                            for s in t["suspensions"]
                        )
                        or None,
                    ]
                    for t in state["tenures"]
                ],
            )
        )


@cli.command()
@click.argument("subject")
@view_options
@json_option
@pass_env
def show(env: Env, subject: str, as_of: str | None, known_at: str | None, as_json: bool) -> None:
    """The current state of SUBJECT (commitment/..., office/..., actor/..., budget/...).

    \b
    Examples:
      policy-ledger show commitment/kr-ai-gpus
      policy-ledger show commitment/kr-ai-gpus --as-of 2025-05-01
      policy-ledger show office/president-of-korea --json
    """
    state = None
    if as_of is None and known_at is None:
        state = quick.subject_state(env.db, env.user, subject)
    if state is None:
        ledger = env.ledger()
        state = ledger.subject_state(subject, make_view(ledger, as_of, known_at))
    if as_json:
        print_json({"subject": subject, **state})
    elif subject.startswith("commitment/"):
        _print_commitment(subject, state)
    else:
        _print_generic(subject, state)


@cli.command()
@click.argument("subject")
@click.option(
    "--diff",
    "with_diff",
    is_flag=True,
    help="Show what each event changed in the projected state (field, before, after), "
    "in valid-time order.",
)
@view_options
@json_option
@pass_env
def history(
    env: Env,
    subject: str,
    with_diff: bool,
    as_of: str | None,
    known_at: str | None,
    as_json: bool,
) -> None:
    """The events of SUBJECT in the order recorded, with sources and recorders.

    Retracted events are listed and marked; nothing is ever removed. With
    --diff, each event (in valid-time order) with the fields it changed.

    \b
    Examples:
      policy-ledger history commitment/kr-ai-gpus-10000
      policy-ledger history commitment/kr-ai-gpus-10000 --diff
      policy-ledger history commitment/kr-ai-gpus-10000 --json
    """
    if with_diff:
        from ledger.audit import history_diff

        steps = quick.answer(
            env.db,
            env.user,
            lambda log: history_diff(
                subject, log.history(subject), log.view(as_of=as_of, known_at=known_at)
            ),
        )
        if steps is None:
            ledger = env.ledger()
            steps = history_diff(
                subject, ledger.history(subject), make_view(ledger, as_of, known_at)
            )
        if as_json:
            print_json([step.to_json() for step in steps])
            return
        for step in steps:
            mark = "  [retracted]" if step.retracted else ""
            click.echo(f"v{step.event.version}  {step.event.occurred_at}  {step.event.type}{mark}")
            for change in step.changes:
                click.echo(f"    {change.field}: {_shown(change.before)} → {_shown(change.after)}")
        return
    # The events alone: the clocks are not read (nor checked) without --diff.
    found = quick.answer(env.db, env.user, lambda log: _with_retractions(log.history(subject)))
    events, retracted = found or _with_retractions(env.ledger().history(subject))
    if as_json:
        print_json(
            [
                {**e.to_json(), "retracted_by": retracted[e.id].id if e.id in retracted else None}
                for e in events
            ]
        )
        return
    for e in events:
        mark = f"  [retracted by v{retracted[e.id].version}]" if e.id in retracted else ""
        click.echo(f"v{e.version}  {e.occurred_at}  {e.type}{mark}")
        click.echo(
            f"    recorded {e.recorded_at} by {e.recorded_by}, position {e.position}, id {e.id}"
        )
        for source in e.sources:
            line = f"    source: {source['url']}"
            if source.get("publisher"):
                line += f" ({source['publisher']})"
            click.echo(line)
            if source.get("quote"):
                click.echo(f"      “{source['quote']}”")


@cli.command("list")
@click.option("--kind", type=click.Choice(SUBJECT_KINDS), help="Only subjects of this kind.")
@click.option("--status", type=click.Choice(STATUSES), help="Only commitments with this status.")
@click.option("--area", metavar="SLUG", help="Only commitments in this area.")
@click.option("--actor", metavar="ACTOR", help="Only commitments made by this actor (actor/...).")
@view_options
@json_option
@pass_env
def list_(
    env: Env,
    kind: str | None,
    status: str | None,
    area: str | None,
    actor: str | None,
    as_of: str | None,
    known_at: str | None,
    as_json: bool,
) -> None:
    """Subjects in the ledger, with filters.

    \b
    Examples:
      policy-ledger list --kind commitment --status overdue
      policy-ledger list --area ai --actor actor/han-duck-soo --as-of 2025-06-04
    """
    if status or area or actor:
        if kind not in (None, "commitment"):
            raise click.UsageError(
                "--status, --area and --actor filter commitments, not --kind " + kind
            )
        kind = "commitment"
    state = None
    if as_of is None and known_at is None:
        state = quick.state_sections(env.db, env.user)
    if state is None:
        ledger = env.ledger()
        state = ledger.state_json(make_view(ledger, as_of, known_at))
    rows: list[dict[str, Any]] = []
    for section, section_kind in (
        ("actors", "actor"),
        ("offices", "office"),
        ("commitments", "commitment"),
        ("budgets", "budget"),
    ):
        if kind and section_kind != kind:
            continue
        for subject, item in state[section].items():
            if section_kind == "commitment":
                if status and item["status"] != status:
                    continue
                if area and area not in item["areas"]:
                    continue
                if actor and item["by"] != actor:
                    continue
            rows.append(
                {
                    "subject": subject,
                    "kind": section_kind,
                    "title": item.get("title") or item.get("name") or item.get("body"),
                    "status": item.get("status"),
                    "by": item.get("by"),
                }
            )
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("nothing matches")
        return
    click.echo(
        table(
            ["subject", "status", "by", "title"],
            [[r["subject"], r["status"], r["by"], r["title"]] for r in rows],
        )
    )


def _with_retractions(
    events: list[StoredEvent],
) -> tuple[list[StoredEvent], dict[str, StoredEvent]]:
    """A history and its retractions by the id of the event each retracts."""
    return events, {str(e.data["event"]): e for e in events if e.type == "EventRetracted"}


def _shown(value: Any) -> str:
    """A changed value as a reader expects it: a dash for nothing, lists joined."""
    if value is None or value == {} or value == []:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
