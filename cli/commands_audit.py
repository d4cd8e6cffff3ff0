"""Audit queries: diff, unfunded, overdue, stalled, revisions, by-actor, sources, search.

Each asks the quick read path first (ledger/store/quick.py: the log of an
SQLite file read with the standard library, handed to the same audit
functions) and the service when that declines, as `show` and `list` do; the
service then answers the same, or words the error.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cli.app import cli
from cli.context import (
    Env,
    from_log,
    json_option,
    make_view,
    not_empty,
    pass_env,
    print_json,
    quickly,
    subject_of_kind,
    view_options,
)
from cli.render import table
from ledger import audit
from ledger.store import quick

if TYPE_CHECKING:
    from ledger.projections import View
    from ledger.records import StoredEvent

_T = TypeVar("_T")


def _present(env: Env, compute: Callable[[dict[str, Any], date], _T]) -> _T | None:
    """`compute(sections, judged_on)` on the present state as the read models hold it, when they
    are current (the quick path), or None: the caller then asks the service."""
    found = quick.judged_sections(env.db, env.user)
    if found is None:
        return None
    try:
        return compute(*found)
    except Exception:  # the service reads the same rows and words the error
        return None


def _state_json(events: list[StoredEvent], view: View) -> dict[str, Any]:
    """`Ledger.state_json(view)` of another moment than the present: the log replayed."""
    from ledger.projections import project_ledger

    return project_ledger(events, view).to_json()


def _emit(as_json: bool, items: list[Any], headers: list[str], row: Any, empty: str) -> None:
    if as_json:
        print_json([item.to_json() for item in items])
    elif not items:
        click.echo(empty)
    else:
        click.echo(table(headers, [row(item.to_json()) for item in items]))


@cli.command()
@click.option(
    "--from",
    "start",
    required=True,
    metavar="TIME",
    callback=not_empty,
    help="The earlier moment.",
)
@click.option(
    "--to", "end", required=True, metavar="TIME", callback=not_empty, help="The later moment."
)
@click.option(
    "--known",
    is_flag=True,
    help="Compare what the ledger said (record time), not the world (valid time).",
)
@json_option
@pass_env
def diff(env: Env, start: str, end: str, known: bool, as_json: bool) -> None:
    """The commitments whose state changed between two moments, with the changes.

    \b
    Examples:
      policy-ledger diff --from 2025-06-03 --to 2026-06-03        # what happened in the world
      policy-ledger diff --known --from 2026-01-01 --to 2026-02-01  # what the ledger learned
    """
    key = "known_at" if known else "as_of"
    diffs = quick.answer(
        env.db,
        env.user,
        lambda log: audit.diff_states(
            list(log.events()), log.view(**{key: start}), log.view(**{key: end})
        ),
    )
    if diffs is None:
        ledger = env.ledger()
        clocks = {"as_of": None, "known_at": None}
        before = make_view(ledger, **{**clocks, key: start}, option="--from")
        after = make_view(ledger, **{**clocks, key: end}, option="--to")
        diffs = audit.diff_states(list(ledger.events()), before, after)
    if as_json:
        print_json([d.to_json() for d in diffs])
        return
    if not diffs:
        click.echo("no commitment changed")
    for d in diffs:
        click.echo(d.subject)
        for c in d.changes:
            click.echo(f"  {c.field}: {c.before!s} → {c.after!s}")


@cli.command()
@click.option(
    "--below",
    metavar="FRACTION",
    help="Also list targets with approved money below this fraction (0.5 = half).",
)
@view_options
@json_option
@pass_env
def unfunded(
    env: Env, below: str | None, as_of: str | None, known_at: str | None, as_json: bool
) -> None:
    """Live commitments whose monetary targets have no approved money (or less than --below).

    \b
    Example:
      policy-ledger unfunded --below 0.5 --as-of 2025-12-31
    """
    fraction = None
    if below is not None:
        try:
            fraction = Decimal(below)
        except InvalidOperation:
            raise click.BadParameter(f"'{below}' is not a number", param_hint="--below") from None
        # Decimal() reads "NaN", "sNaN" and "Infinity" too; none of them is a fraction to compare.
        if not fraction.is_finite():
            raise click.BadParameter(f"'{below}' is not a finite number", param_hint="--below")
    if as_of is None and known_at is None:
        found = _present(env, lambda sections, _: audit.unfunded(sections, fraction))
    else:
        found = quickly(
            env,
            lambda events, view: audit.unfunded(_state_json(events, view), fraction),
            as_of,
            known_at,
            replays=True,
        )
    if found is None:
        ledger = env.ledger()
        sections = ledger.state_json(make_view(ledger, as_of, known_at))
        found = audit.unfunded(sections, fraction)
    _emit(
        as_json,
        found,
        ["commitment", "target", "pledged", "approved", "share"],
        lambda j: [
            j["subject"],
            j["target"],
            f"{j['pledged']} {j['unit']}",
            j["approved"],
            j["fraction"],
        ],
        "every live monetary target has approved money",
    )


@cli.command()
@view_options
@json_option
@pass_env
def overdue(env: Env, as_of: str | None, known_at: str | None, as_json: bool) -> None:
    """Commitments past a due date and not delivered, most overdue first.

    \b
    Example:
      policy-ledger overdue --as-of 2026-01-01
    """
    if as_of is None and known_at is None:
        found = _present(env, audit.overdue)
    else:
        found = quickly(
            env,
            lambda events, view: audit.overdue(_state_json(events, view), view.judged_on),
            as_of,
            known_at,
            replays=True,
        )
    if found is None:
        ledger = env.ledger()
        view = make_view(ledger, as_of, known_at)
        found = audit.overdue(ledger.state_json(view), view.judged_on)
    _emit(
        as_json,
        found,
        ["commitment", "due", "days late", "title"],
        lambda j: [j["subject"], j["due"], j["days_late"], j["title"]],
        "nothing is overdue",
    )


@cli.command()
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=180,
    show_default=True,
    help="No government act for this many days.",
)
@view_options
@json_option
@pass_env
def stalled(env: Env, days: int, as_of: str | None, known_at: str | None, as_json: bool) -> None:
    """Live commitments with no government act (event by a governing actor, allocation,
    progress report) for --days days.

    \b
    Example:
      policy-ledger stalled --days 90 --as-of 2025-12-31
    """
    found = from_log(env, lambda events, view: audit.stalled(events, view, days), as_of, known_at)
    _emit(
        as_json,
        found,
        ["commitment", "last act", "type", "days"],
        lambda j: [j["subject"], j["last_act"], j["last_act_type"], j["days_since"]],
        f"no live commitment has been idle for {days} days",
    )


@cli.command()
@view_options
@json_option
@pass_env
def revisions(env: Env, as_of: str | None, known_at: str | None, as_json: bool) -> None:
    """Every target change with its size, who made it and in which administration, largest first.

    \b
    Example:
      policy-ledger revisions --json
    """
    found = from_log(env, audit.revisions, as_of, known_at)
    _emit(
        as_json,
        found,
        ["commitment", "target", "before", "after", "change", "by", "administration", "on"],
        lambda j: [
            j["subject"],
            j["target"],
            j["before"],
            j["after"],
            _change(j["relative"]) if j["relative"] else "new",
            j["by"],
            j["administration"],
            j["occurred_at"],
        ],
        "no revisions",
    )


def _change(relative: str) -> str:
    """A relative change ("-0.1667") as a signed percentage to one place ("-16.7%")."""
    # The point is moved in the text: Decimal * 100 rounds to the context's 28 digits, and
    # a change from a tiny amount to a 40-digit one is a ratio of 80 digits.
    return f"{Decimal(relative + 'E2'):+.1f}%"


@cli.command("by-actor")
@click.argument("actor", callback=subject_of_kind("actor"))
@view_options
@json_option
@pass_env
def by_actor(env: Env, actor: str, as_of: str | None, known_at: str | None, as_json: bool) -> None:
    """Everything ACTOR pledged, revised, withdrew or reaffirmed, and in which capacity.

    \b
    Example:
      policy-ledger by-actor actor/han-duck-soo
    """

    def acts(log: quick.EventLog) -> list[audit.Act]:
        log.history(actor)  # an actor the ledger never heard of: the service says so
        return audit.by_actor(log.events(), actor, log.view(as_of=as_of, known_at=known_at))

    found = quick.answer(env.db, env.user, acts)
    if found is None:
        ledger = env.ledger()
        ledger.history(actor)  # NotFound (exit 1) for a misspelt actor, not "did nothing"
        found = audit.by_actor(ledger.events(), actor, make_view(ledger, as_of, known_at))
    _emit(
        as_json,
        found,
        ["on", "verb", "subject", "capacity", "title"],
        lambda j: [j["occurred_at"], j["verb"], j["subject"], j["capacity"], j["title"]],
        f"{actor} did nothing recorded in this ledger",
    )


@cli.command()
@click.option("--domain", metavar="DOMAIN", help="Every source on this site (and its subdomains).")
@click.option("--publisher", metavar="NAME", help="Every source from this publisher.")
@json_option
@pass_env
def sources(env: Env, domain: str | None, publisher: str | None, as_json: bool) -> None:
    """Evidence audit: sources without an archive copy or hash; or everything citing a domain or publisher.

    \b
    Examples:
      policy-ledger sources                       # what still needs archiving
      policy-ledger sources --domain yna.co.kr    # everything resting on one outlet
    """
    found = quick.answer(
        env.db,
        env.user,
        lambda log: audit.sources_audit(log.events(), domain=domain, publisher=publisher),
    )
    if found is None:
        found = audit.sources_audit(env.ledger().events(), domain=domain, publisher=publisher)
    _emit(
        as_json,
        found,
        ["subject", "type", "url", "missing"],
        lambda j: [j["subject"], j["type"], j["url"], ", ".join(j["missing"]) or None],
        "every source has an archive copy and hash"
        if not (domain or publisher)
        else "no source matches",
    )


@cli.command()
@click.argument("text")
@json_option
@pass_env
def search(env: Env, text: str, as_json: bool) -> None:
    """Find TEXT in titles, summaries, statements, reasons and quotes (Korean and English).

    \b
    Examples:
      policy-ledger search GPU
      policy-ledger search 인공지능
    """
    found = quick.answer(env.db, env.user, lambda log: audit.search(log.events(), text))
    if found is None:
        found = audit.search(env.ledger().events(), text)
    _emit(
        as_json,
        found,
        ["subject", "type", "where", "text"],
        lambda j: [j["subject"], j["type"], j["where"], j["text"]],
        "no match",
    )
