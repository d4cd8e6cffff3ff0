"""Recording commands: every event type from flags, with human amounts.

Each command builds the same JSON object an import line would hold and sends
it through the same decoder and rules, so a flag and a file can never disagree.

The decoder (ledger.events) and the amount reader (ledger.quantities) bring
pydantic and the event catalogue: they are imported where a value is read, so
`--help` and the usage errors (a missing option, a bad choice) cost about
what Python and click cost to start.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from cli.app import cli
from cli.context import Env, json_option, keep_reads_quick, pass_env, print_json
from ledger.errors import InvalidEvent
from ledger.vocabulary import shown

F = TypeVar("F", bound=Callable[..., Any])
CAPACITIES = ("head-of-government", "government", "legislature", "opposition", "candidate", "other")
ACTOR_KINDS = ("person", "party", "government", "ministry", "legislature", "organization", "other")
OFFICE_KINDS = ("head-of-government", "head-of-state", "minister", "other")
ROLES = ("elected", "acting", "interim", "appointed")
END_REASONS = ("term-end", "removed", "resigned", "died", "superseded", "other")
PHASES = ("proposed", "approved", "adjusted", "executed")
INSTRUMENTS = ("main", "supplementary")
# Envelope fields as the flags that set them, for error messages.
ENVELOPE_FLAGS = {"occurred_at": "--on", "id": "--id"}


def _interactive() -> bool:
    """Whether someone at a terminal can answer prompts (tests replace this)."""
    return sys.stdin.isatty()


def ask(value: Any, flag: str, text: str, value_type: Any = None) -> Any:
    """A required value: the flag's, else a prompt on a terminal, else a usage error."""
    if value not in (None, "", ()):
        return value
    if _interactive():
        return click.prompt(text, type=value_type)
    raise click.UsageError(f"Missing option '{flag}'.")


def quantity(text: str, flag: str) -> dict[str, str]:
    """A human amount from a flag ("1.8조 원", "10,000 GPU") as a stored quantity."""
    from ledger.quantities import QuantityError, parse_quantity

    try:
        return parse_quantity(text).model_dump(mode="json")
    except QuantityError as exc:
        raise InvalidEvent(str(exc), field=flag) from None


def pairs(values: Sequence[str], flag: str, *, repeatable: bool = False) -> list[tuple[str, str]]:
    """KEY=VALUE flags as pairs; a KEY given twice is refused unless `repeatable`.

    A repeated key would otherwise keep only its last value, silently.
    """
    out = []
    seen: set[str] = set()
    for value in values:
        key, sep, rest = value.partition("=")
        # KEY lands in later messages ("--target KEY"): no line breaks may ride along.
        if not sep or not key.strip() or not rest.strip() or not key.strip().isprintable():
            raise InvalidEvent(f"{shown(value)} is not KEY=VALUE", field=flag)
        key = key.strip()
        if key in seen and not repeatable:
            raise InvalidEvent(f"{shown(key)} is given twice; give each once", field=flag)
        seen.add(key)
        out.append((key, rest.strip()))
    return out


def event_options(*, sources_required: bool = True, default_now: bool = False) -> Callable[[F], F]:
    """--on, the --source family and --id: the envelope of every recording command."""

    def decorate(func: F) -> F:
        for option in reversed(
            [
                click.option(
                    "--on",
                    "occurred_at",
                    metavar="DATE",
                    help="When it happened: YYYY-MM-DD or RFC 3339 date-time."
                    + (" Default: now." if default_now else ""),
                ),
                click.option(
                    "--source",
                    "urls",
                    multiple=True,
                    metavar="URL",
                    help="Source URL (repeatable)."
                    + (" At least one." if sources_required else ""),
                ),
                click.option(
                    "--quote", multiple=True, help="Quote from the i-th --source (repeatable)."
                ),
                click.option("--publisher", multiple=True, help="Publisher of the i-th --source."),
                click.option("--source-title", multiple=True, help="Title of the i-th --source."),
                click.option(
                    "--published-on",
                    multiple=True,
                    metavar="DATE",
                    help="Publication date of the i-th --source.",
                ),
                click.option(
                    "--archive-url",
                    multiple=True,
                    metavar="URL",
                    help="Archived copy of the i-th --source.",
                ),
                click.option(
                    "--sha256",
                    multiple=True,
                    metavar="HEX",
                    help="SHA-256 of the i-th archived copy.",
                ),
                click.option(
                    "--id",
                    "event_id",
                    metavar="UUID",
                    help="Event id (default: derived from content).",
                ),
                json_option,
            ]
        ):
            func = option(func)
        func.__dict__["sources_required"] = sources_required
        func.__dict__["default_now"] = default_now
        return func

    return decorate


def envelope(
    opts: dict[str, Any], *, sources_required: bool = True, default_now: bool = False
) -> dict[str, Any]:
    """The envelope fields from the shared options (prompting for what is missing)."""
    occurred_at = opts.get("occurred_at")
    if not occurred_at and default_now:
        from ledger.records import format_recorded_at

        occurred_at = format_recorded_at(click.get_current_context().obj.ledger().clock())
    occurred_at = ask(occurred_at, "--on", "When did it happen (YYYY-MM-DD)")
    urls = list(opts.get("urls") or ())
    if sources_required and not urls:
        urls = [ask(None, "--source", "Source URL")]
    extras = {
        "quote": "quote",
        "publisher": "publisher",
        "source_title": "title",
        "published_on": "published_on",
        "archive_url": "archive_url",
        "sha256": "sha256",
    }
    sources: list[dict[str, Any]] = [{"url": url} for url in urls]
    for option_name, field_name in extras.items():
        values = opts.get(option_name) or ()
        if len(values) > len(sources):
            flag = "--" + option_name.replace("_", "-")
            raise click.UsageError(f"{flag} given {len(values)} times for {len(sources)} --source")
        for source, value in zip(sources, values, strict=False):
            source[field_name] = value
    result: dict[str, Any] = {"occurred_at": occurred_at, "sources": sources}
    if opts.get("event_id"):
        result["id"] = opts["event_id"]
    return result


def record(
    env: Env,
    event_type: str,
    subject: str,
    data: dict[str, Any],
    opts: dict[str, Any],
    **envelope_options: bool,
) -> None:
    """Decode, record and report one event."""
    kept = {k: v for k, v in data.items() if v is not None and (v not in ([], {}) or k == "areas")}
    raw = {
        "type": event_type,
        "subject": subject,
        "data": kept,
        **envelope(opts, **envelope_options),
    }
    from ledger.events import decode_event

    ledger = env.ledger()
    try:
        result = ledger.record(decode_event(raw))
    except InvalidEvent as exc:
        # The service numbers input lines; a command has none, only flags.
        raise type(exc)(exc.reason, field=ENVELOPE_FLAGS.get(exc.field or "", exc.field)) from None
    if opts.get("as_json"):
        print_json({"added": [e.to_json() for e in result.added], "skipped": list(result.skipped)})
    elif result.added:
        e = result.added[0]
        click.echo(
            f"recorded {e.type} on {e.subject} (version {e.version}, position {e.position}, id {e.id})"
        )
    else:
        click.echo(f"already recorded (id {result.skipped[0]}); nothing added")
    keep_reads_quick(ledger)


def _subject_of(kind: str) -> Callable[[click.Context, click.Parameter, str], str]:
    def callback(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
        return value if "/" in value else f"{kind}/{value}"

    return callback


def targets_from(
    targets: Sequence[str],
    baselines: Sequence[str],
    dues: Sequence[str],
    descriptions: Sequence[str],
    *,
    require_quantity: bool,
) -> list[dict[str, Any]]:
    """--target KEY=QUANTITY with --baseline/--target-due/--describe KEY=... into target objects."""
    by_key: dict[str, dict[str, Any]] = {}
    for key, text in pairs(targets, "--target"):
        by_key.setdefault(key, {"key": key})["quantity"] = quantity(text, f"--target {key}")
    for flag, values, field_name in (
        ("--baseline", baselines, "baseline"),
        ("--target-due", dues, "due"),
        ("--describe", descriptions, "description"),
    ):
        for key, text in pairs(values, flag):
            if require_quantity and key not in by_key:
                raise InvalidEvent(f"'{key}' has no --target {key}=QUANTITY", field=flag)
            value: Any = quantity(text, f"{flag} {key}") if field_name == "baseline" else text
            by_key.setdefault(key, {"key": key})[field_name] = value
    return list(by_key.values())


# --- actors and offices ---------------------------------------------------------


@cli.command("register-actor")
@click.argument("subject", callback=_subject_of("actor"))
@click.option("--name", help="Name in the ledger's main language.")
@click.option(
    "--kind",
    type=click.Choice(ACTOR_KINDS),
)
@click.option(
    "--name-in", multiple=True, metavar="LANG=NAME", help="Name in another language (repeatable)."
)
@click.option("--parent", metavar="ACTOR", help="Parent actor (a ministry's government).")
@event_options(sources_required=False)
@pass_env
def register_actor(
    env: Env,
    /,
    subject: str,
    name: str | None,
    kind: str | None,
    name_in: Sequence[str],
    parent: str | None,
    **opts: Any,
) -> None:
    """Register a person, party, government, ministry, legislature or organisation.

    \b
    Example:
      policy-ledger register-actor actor/han-duck-soo --name "Han Duck-soo" \\
        --kind person --name-in ko=한덕수 --on 2025-04-24
    """
    data = {
        "name": ask(name, "--name", "Name"),
        "kind": ask(kind, "--kind", "Kind", click.Choice(ACTOR_KINDS)),
        "names": dict(pairs(name_in, "--name-in")) or None,
        "parent": parent,
    }
    record(env, "ActorRegistered", subject, data, opts, sources_required=False)


@cli.command("create-office")
@click.argument("subject", callback=_subject_of("office"))
@click.option("--name")
@click.option("--jurisdiction", metavar="CODE", help="e.g. KR")
@click.option("--kind", type=click.Choice(OFFICE_KINDS))
@event_options(sources_required=False)
@pass_env
def create_office(
    env: Env,
    /,
    subject: str,
    name: str | None,
    jurisdiction: str | None,
    kind: str | None,
    **opts: Any,
) -> None:
    """Create an office whose tenures the ledger follows.

    \b
    Example:
      policy-ledger create-office office/president-of-korea --name "President of the Republic of Korea" \\
        --jurisdiction KR --kind head-of-state --on 1948-07-24
    """
    data = {
        "name": ask(name, "--name", "Name"),
        "jurisdiction": ask(jurisdiction, "--jurisdiction", "Jurisdiction"),
        "kind": ask(kind, "--kind", "Kind", click.Choice(OFFICE_KINDS)),
    }
    record(env, "OfficeCreated", subject, data, opts, sources_required=False)


def _tenure_command(
    name: str,
    event_type: str,
    doc: str,
    *,
    reason_choices: Sequence[str] | None = None,
    extra: Callable[[Callable[..., None]], Callable[..., None]] | None = None,
) -> None:
    @click.argument("subject", callback=_subject_of("office"))
    @click.option("--holder", metavar="ACTOR", help="Who holds the office (actor/...).")
    @event_options()
    @pass_env
    def command(
        env: Env, /, subject: str, holder: str | None, reason: str | None = None, **opts: Any
    ) -> None:
        data: dict[str, Any] = {"holder": ask(holder, "--holder", "Holder (actor/...)")}
        if reason_choices:
            data["reason"] = ask(reason, "--reason", "Reason", click.Choice(reason_choices))
        elif reason:
            data["reason"] = reason
        for key in ("role", "administration"):
            if opts.get(key):
                data[key] = opts.pop(key)
            else:
                opts.pop(key, None)
        if event_type == "TenureBegan":
            data["role"] = ask(data.get("role"), "--role", "Role", click.Choice(ROLES))
        record(env, event_type, subject, data, opts)

    command.__doc__ = doc
    if event_type != "TenureBegan":  # a tenure's start has no reason field
        command = click.option(
            "--reason",
            type=click.Choice(reason_choices) if reason_choices else None,
            help="Why." + (" Required." if reason_choices else ""),
        )(command)
    if extra is not None:
        command = extra(command)
    cli.command(name)(command)


def _began_options(func: F) -> F:
    func = click.option(
        "--administration",
        metavar="SLUG",
        help="Administration the tenure belongs to (default: the holder's slug).",
    )(func)
    return click.option("--role", type=click.Choice(ROLES))(func)


_tenure_command(
    "begin-tenure",
    "TenureBegan",
    """Record that a holder took office.

    \b
    Example:
      policy-ledger begin-tenure office/president-of-korea --holder actor/lee-jae-myung \\
        --role elected --on 2025-06-04 --source https://example.org/inauguration
    """,
    extra=_began_options,
)
_tenure_command(
    "suspend-tenure",
    "TenureSuspended",
    """Record that the holder's powers were suspended (for instance by impeachment).

    \b
    Example:
      policy-ledger suspend-tenure office/president-of-korea --holder actor/yoon-suk-yeol \\
        --reason impeachment --on 2024-12-14 --source https://example.org/impeachment
    """,
)
_tenure_command(
    "resume-tenure",
    "TenureResumed",
    """Record that a suspended holder resumed office.

    \b
    Example:
      policy-ledger resume-tenure office/prime-minister-of-korea --holder actor/han-duck-soo \\
        --on 2025-03-24 --source https://example.org/reinstated
    """,
)
_tenure_command(
    "end-tenure",
    "TenureEnded",
    """Record that a tenure ended.

    \b
    Example:
      policy-ledger end-tenure office/president-of-korea --holder actor/yoon-suk-yeol \\
        --reason removed --on 2025-04-04 --source https://example.org/ruling
    """,
    reason_choices=END_REASONS,
)


# --- commitments ----------------------------------------------------------------


def actor_options(func: F) -> F:
    """--by and --capacity: who acted and in which capacity."""
    func = click.option(
        "--capacity", type=click.Choice(CAPACITIES), help="In which capacity they acted."
    )(func)
    return click.option("--by", metavar="ACTOR", help="Who acted (actor/...).")(func)


def target_options(func: F) -> F:
    """The repeatable target flags shared by pledge and revise."""
    for option in reversed(
        [
            click.option(
                "--target",
                "targets",
                multiple=True,
                metavar="KEY=QUANTITY",
                help='A target and its quantity, e.g. "gpus=10,000 GPU" or "budget=1.8조 원" (repeatable).',
            ),
            click.option(
                "--baseline",
                "baselines",
                multiple=True,
                metavar="KEY=QUANTITY",
                help="Starting level of a target (repeatable).",
            ),
            click.option(
                "--target-due",
                "target_dues",
                multiple=True,
                metavar="KEY=DATE",
                help="Due date of a target.",
            ),
            click.option(
                "--describe",
                "descriptions",
                multiple=True,
                metavar="KEY=TEXT",
                help="Description of a target.",
            ),
        ]
    ):
        func = option(func)
    return func


def _by(by: str | None, capacity: str | None) -> dict[str, Any]:
    return {
        "by": ask(by, "--by", "By (actor/...)"),
        "capacity": ask(capacity, "--capacity", "Capacity", click.Choice(CAPACITIES)),
    }


@cli.command()
@click.argument("subject", callback=_subject_of("commitment"))
@actor_options
@click.option("--title", help="What was promised, in one line.")
@click.option("--summary", help="Longer description.")
@click.option(
    "--area", "areas", multiple=True, metavar="SLUG", help="Policy area (repeatable), e.g. ai."
)
@target_options
@click.option("--due", metavar="DATE", help="Due date of the whole commitment.")
@event_options()
@pass_env
def pledge(
    env: Env,
    /,
    subject: str,
    by: str | None,
    capacity: str | None,
    title: str | None,
    summary: str | None,
    areas: Sequence[str],
    targets: Sequence[str],
    baselines: Sequence[str],
    target_dues: Sequence[str],
    descriptions: Sequence[str],
    due: str | None,
    **opts: Any,
) -> None:
    """Record a commitment (CommitmentMade). A qualitative pledge is a target of 1.

    \b
    Examples:
      policy-ledger pledge commitment/kr-ai-supp-budget --by actor/han-duck-soo \\
        --capacity head-of-government --title "1.8 trillion won supplementary AI budget" \\
        --area ai --target "budget=1.8조 원" --on 2025-04-24 \\
        --source https://example.org/budget-address --quote "1조 8천억 원"
      policy-ledger pledge commitment/kr-ai-model ... --target "model=1 model"
    """
    if not targets:
        targets = (ask(None, "--target", "Target (KEY=QUANTITY, e.g. gpus=10,000 GPU)"),)
    data = {
        **_by(by, capacity),
        "title": ask(title, "--title", "Title"),
        "summary": summary,
        "areas": list(areas),
        "due": due,
        "targets": targets_from(
            targets, baselines, target_dues, descriptions, require_quantity=True
        ),
    }
    record(env, "CommitmentMade", subject, data, opts)


@cli.command()
@click.argument("subject", callback=_subject_of("commitment"))
@actor_options
@target_options
@click.option(
    "--remove", "removed", multiple=True, metavar="KEY", help="Remove a target (repeatable)."
)
@click.option("--due", metavar="DATE", help="New due date of the whole commitment.")
@click.option("--reason", help="Why it was revised.")
@event_options()
@pass_env
def revise(
    env: Env,
    /,
    subject: str,
    by: str | None,
    capacity: str | None,
    targets: Sequence[str],
    baselines: Sequence[str],
    target_dues: Sequence[str],
    descriptions: Sequence[str],
    removed: Sequence[str],
    due: str | None,
    reason: str | None,
    **opts: Any,
) -> None:
    """Record a revision: new quantities or due dates for targets, new targets, removed ones.

    \b
    Example:
      policy-ledger revise commitment/kr-ai-startup-fund --by actor/lee-jae-myung \\
        --capacity head-of-government --target "fund=3000억 원" --on 2025-09-01 --source URL
    """
    data = {
        **_by(by, capacity),
        "targets": targets_from(
            targets, baselines, target_dues, descriptions, require_quantity=False
        ),
        "removed": list(removed) or None,
        "due": due,
        "reason": reason,
    }
    record(env, "CommitmentRevised", subject, data, opts)


@cli.command()
@click.argument("subject", callback=_subject_of("commitment"))
@actor_options
@click.option("--statement", help="What was said.")
@event_options()
@pass_env
def reaffirm(
    env: Env,
    /,
    subject: str,
    by: str | None,
    capacity: str | None,
    statement: str | None,
    **opts: Any,
) -> None:
    """Record that a commitment was reaffirmed (for instance by a new administration).

    \b
    Example:
      policy-ledger reaffirm commitment/kr-ai-gpus --by actor/lee-jae-myung \\
        --capacity head-of-government --statement "we will secure the GPUs" \\
        --on 2025-06-10 --source URL
    """
    record(
        env, "CommitmentReaffirmed", subject, {**_by(by, capacity), "statement": statement}, opts
    )


@cli.command()
@click.argument("subject", callback=_subject_of("commitment"))
@actor_options
@click.option("--successor", metavar="COMMITMENT", help="The commitment that replaces it.")
@event_options()
@pass_env
def supersede(
    env: Env,
    /,
    subject: str,
    by: str | None,
    capacity: str | None,
    successor: str | None,
    **opts: Any,
) -> None:
    """Record that a commitment was replaced by another.

    \b
    Example:
      policy-ledger supersede commitment/kr-ai-gpus --by actor/lee-jae-myung \\
        --capacity head-of-government --successor commitment/kr-ai-gpus-50000 \\
        --on 2025-07-01 --source URL
    """
    data = {
        **_by(by, capacity),
        "successor": ask(successor, "--successor", "Successor (commitment/...)"),
    }
    record(env, "CommitmentSuperseded", subject, data, opts)


@cli.command()
@click.argument("subject", callback=_subject_of("commitment"))
@actor_options
@click.option("--reason", help="Why it was withdrawn.")
@event_options()
@pass_env
def withdraw(
    env: Env, /, subject: str, by: str | None, capacity: str | None, reason: str | None, **opts: Any
) -> None:
    """Record that a commitment was withdrawn (dropped).

    \b
    Example:
      policy-ledger withdraw commitment/kr-ai-world-best-llm --by actor/lee-jae-myung \\
        --capacity head-of-government --reason "folded into AI for All" \\
        --on 2025-08-01 --source URL
    """
    data = {**_by(by, capacity), "reason": ask(reason, "--reason", "Reason")}
    record(env, "CommitmentWithdrawn", subject, data, opts)


@cli.command("report-progress")
@click.argument("subject", callback=_subject_of("commitment"))
@click.option("--target", "target_key", metavar="KEY", help="Which target.")
@click.option("--achieved", metavar="QUANTITY", help='Cumulative level reached, e.g. "13,000 GPU".')
@click.option("--by", metavar="ACTOR", help="Who reported it (optional).")
@event_options()
@pass_env
def report_progress(
    env: Env,
    /,
    subject: str,
    target_key: str | None,
    achieved: str | None,
    by: str | None,
    **opts: Any,
) -> None:
    """Record progress on a target: the cumulative level reached.

    \b
    Example:
      policy-ledger report-progress commitment/kr-ai-gpus --target gpus \\
        --achieved "260,000 GPU" --on 2025-10-31 --source URL
    """
    data = {
        "target": ask(target_key, "--target", "Target key"),
        "achieved": quantity(
            ask(achieved, "--achieved", "Achieved (e.g. 5,000 GPU)"), "--achieved"
        ),
        "by": by,
    }
    record(env, "ProgressReported", subject, data, opts)


@cli.command()
@click.argument("subject", callback=_subject_of("commitment"))
@click.option("--assessor", metavar="ACTOR", help="Who rates (actor/...).")
@click.option("--rubric", metavar="SLUG", help="politifact, polimetre, pledge-3, or your own.")
@click.option("--rating", metavar="SLUG", help="A rating of the rubric, e.g. in-the-works.")
@click.option("--rationale", help="Why.")
@event_options()
@pass_env
def assess(
    env: Env,
    /,
    subject: str,
    assessor: str | None,
    rubric: str | None,
    rating: str | None,
    rationale: str | None,
    **opts: Any,
) -> None:
    """Record a watchdog's rating of a commitment.

    \b
    Example:
      policy-ledger assess commitment/kr-ai-gpus --assessor actor/watchdog \\
        --rubric politifact --rating in-the-works --rationale "orders placed" \\
        --on 2025-09-01 --source URL
    """
    data = {
        "assessor": ask(assessor, "--assessor", "Assessor (actor/...)"),
        "rubric": ask(rubric, "--rubric", "Rubric"),
        "rating": ask(rating, "--rating", "Rating"),
        "rationale": rationale,
    }
    record(env, "AssessmentRecorded", subject, data, opts)


# --- budgets and retractions ----------------------------------------------------


@cli.command()
@click.argument("subject", callback=_subject_of("budget"))
@click.option("--body", metavar="ACTOR", help="Who proposed, approved or executed it (actor/...).")
@click.option("--fiscal-year", type=int)
@click.option("--phase", type=click.Choice(PHASES))
@click.option("--instrument", type=click.Choice(INSTRUMENTS))
@click.option("--total", metavar="QUANTITY", help='The line\'s total, e.g. "13.8조 원".')
@click.option(
    "--allocate",
    "allocations",
    multiple=True,
    metavar="COMMITMENT[:TARGET]=QUANTITY",
    help='Money for a commitment (and target), e.g. "commitment/kr-ai-supp-budget:budget=1.8조 원".',
)
@event_options()
@pass_env
def appropriate(
    env: Env,
    /,
    subject: str,
    body: str | None,
    fiscal_year: int | None,
    phase: str | None,
    instrument: str | None,
    total: str | None,
    allocations: Sequence[str],
    **opts: Any,
) -> None:
    """Record a budget line in one phase, with its allocations to commitments.

    \b
    Example:
      policy-ledger appropriate budget/kr-2025-supp-1 --body actor/national-assembly \\
        --fiscal-year 2025 --phase approved --instrument supplementary --total "13.8조 원" \\
        --allocate "commitment/kr-ai-supp-budget:budget=1.8조 원" --on 2025-05-01 --source URL
    """
    allocated = []
    for name, text in pairs(allocations, "--allocate", repeatable=True):
        commitment, _, target = name.partition(":")
        if "/" not in commitment:
            commitment = f"commitment/{commitment}"
        entry: dict[str, Any] = {"commitment": commitment, "quantity": quantity(text, "--allocate")}
        if target:
            entry["target"] = target
        allocated.append(entry)
    data = {
        "body": ask(body, "--body", "Body (actor/...)"),
        "fiscal_year": ask(fiscal_year, "--fiscal-year", "Fiscal year", int),
        "phase": ask(phase, "--phase", "Phase", click.Choice(PHASES)),
        "instrument": ask(instrument, "--instrument", "Instrument", click.Choice(INSTRUMENTS)),
        "quantity": quantity(ask(total, "--total", "Total (e.g. 13.8조 원)"), "--total"),
        "allocations": allocated,
    }
    record(env, "AppropriationRecorded", subject, data, opts)


@cli.command()
@click.argument("subject")
@click.argument("retracted_id", metavar="EVENT_ID")
@click.option("--reason", help="Why the event is retracted.")
@event_options(default_now=True)
@pass_env
def retract(env: Env, /, subject: str, retracted_id: str, reason: str | None, **opts: Any) -> None:
    """Retract an earlier event of SUBJECT. Nothing is deleted: projections skip it,
    and `--known-at` before the retraction still shows it.

    \b
    Example:
      policy-ledger retract commitment/kr-ai-gpus 6f1c2e0a-... --reason "misquoted figure" --source URL
    """
    data = {"event": retracted_id, "reason": ask(reason, "--reason", "Reason")}
    record(env, "EventRetracted", subject, data, opts, default_now=True)
