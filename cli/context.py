"""What every command shares: where the ledger is, who is recording, and how to print."""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import click
import orjson

from cli.output import batches
from ledger.errors import InvalidEvent

if TYPE_CHECKING:
    # Imported when a command first opens the ledger: the service brings
    # pydantic and the event catalogue (and SQLAlchemy for PostgreSQL), which the quick reads
    # (`show`, `list`, `history` and the audit queries) do without
    # (ledger/store/quick.py).
    from ledger.projections.common import View
    from ledger.records import StoredEvent
    from ledger.service import Ledger

F = TypeVar("F", bound=Callable[..., Any])
_T = TypeVar("_T")
DEFAULT_DB = "policy-ledger.db"
# The service replays a state one subject at a time, without sources; the
# quick path holds the whole log. Past this many events that costs more than
# the start-up the quick path saves, so a replayed state is left to the service.
QUICK_REPLAY_EVENTS = 20_000


def default_user() -> str:
    """Who records: POLICY_LEDGER_USER, else the login name."""
    configured = os.environ.get("POLICY_LEDGER_USER")
    if configured:
        return configured
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


class Env:
    """The command's environment, carried on ctx.obj."""

    def __init__(self, db: str, user: str) -> None:
        self.db = db
        self.user = user
        self._ledger: Ledger | None = None

    def ledger(self) -> Ledger:
        """The ledger at --db, opened once per command."""
        if self._ledger is None:
            from ledger.service import Ledger

            self._ledger = Ledger.open(self.db, user=self.user)
        return self._ledger

    def close(self) -> None:
        """Close the ledger if a command opened it."""
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None


pass_env = click.make_pass_decorator(Env)


def json_option(func: F) -> F:
    """--json: machine output instead of a table."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(
        func
    )


MOMENT_FORMS = "a date YYYY-MM-DD or an RFC 3339 date-time with offset"


def not_empty(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Refuse a moment option given as '' or blank (a usage error naming it); absent is None.

    The service reads an empty clock as no clock at all, so `--as-of ''` (an unset
    shell variable) would quietly show today instead of the moment asked for.
    """
    if value is not None and not value.strip():
        # The hint unquoted, as make_view names the option for a malformed moment.
        raise click.BadParameter(
            f"{value!r} names no moment: give {MOMENT_FORMS}", param_hint=param.opts[0]
        )
    return value


def subject_of_kind(kind: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A callback reading a query's subject of one kind: a bare slug is prefixed with
    `kind/`; a malformed subject or one of another kind is a usage error naming the
    parameter. None (an option not given) stays None."""
    from ledger.vocabulary import check_subject

    def callback(_ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        if value is None:
            return None
        try:
            return check_subject(value if "/" in value else f"{kind}/{value}", kind)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None

    return callback


def view_options(func: F) -> F:
    """--as-of and --known-at, the two clocks of every state query."""
    func = click.option(
        "--known-at",
        metavar="TIME",
        callback=not_empty,
        help="What the ledger said at TIME: only events recorded by then (date or RFC 3339).",
    )(func)
    return click.option(
        "--as-of",
        metavar="TIME",
        callback=not_empty,
        help="The world at TIME: only events that occurred by then (date or RFC 3339).",
    )(func)


def make_view(
    ledger: Ledger, as_of: str | None, known_at: str | None, *, option: str | None = None
) -> Any:
    """A projection view from the two clock options; a bad value is a usage error.

    `option`: the name the user gave the clock (`diff --from`), when not --as-of/--known-at.
    """
    try:
        return ledger.view(as_of=as_of, known_at=known_at)
    except InvalidEvent as exc:
        raise click.BadParameter(exc.reason, param_hint=option or exc.field) from None


def write_bytes(chunks: Iterable[bytes], *, batch: int = 1 << 16) -> None:
    """Write bytes to stdout as they are, in batches (click.echo finds the binary stream)."""
    for gathered in batches(chunks, batch):
        click.echo(gathered, nl=False)


def print_json(value: Any) -> None:
    """Write a JSON document to stdout, keys sorted, with a newline."""
    write_bytes([orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"])


def quickly(
    env: Env,
    compute: Callable[[list[StoredEvent], View], _T],
    as_of: str | None = None,
    known_at: str | None = None,
    *,
    replays: bool = False,
) -> _T | None:
    """`compute(events, view)` on the whole log and the view of these clocks, read by the quick
    path (ledger/store/quick.py); None when it declines (the caller then asks the service).
    `replays`: `compute` folds the whole state, which the quick path does only for a small log."""
    from ledger.store import quick

    def run(log: quick.EventLog) -> _T:
        if replays and log.size() > QUICK_REPLAY_EVENTS:
            raise quick.Declined("a large log: the service replays it subject by subject")
        return compute(list(log.events()), log.view(as_of=as_of, known_at=known_at))

    return quick.answer(env.db, env.user, run)


def keep_reads_quick(ledger: Ledger, *, most: int | None = None) -> None:
    """After a write, bring the read models up to the log's head when few events are behind.

    A query finds them current and reads them without the service
    (ledger/store/quick.py); else it starts the service only to catch them up,
    which costs a command several times its start-up. The write has paid that
    start-up already. More than `most` events behind (default
    QUICK_REPLAY_EVENTS: a large import) is left to the next query or
    `policy-ledger rebuild`, as catching up is then the rebuild's work.

    The write is committed by now: a failure here is a warning, never the
    write's failure; the next query catches up and reports it.
    """
    from ledger.errors import HistoryError, LedgerError

    limit = QUICK_REPLAY_EVENTS if most is None else most
    try:
        if ledger.store.head() - ledger.readmodels.position() <= limit:
            ledger.catch_up()
    except (LedgerError, HistoryError) as exc:
        reason = str(exc).replace("\r", "\\r").replace("\n", "\\n")
        click.echo(
            f"warning: the write is recorded, but the read models were not brought up to "
            f"date ({reason}); the next query will try again",
            err=True,
        )


def from_log(
    env: Env,
    compute: Callable[[list[StoredEvent], View], _T],
    as_of: str | None = None,
    known_at: str | None = None,
) -> _T:
    """`compute(events, view)` on the whole log, read by the quick path, else by the service
    (which then gives the same answer, or words the error)."""
    found = quickly(env, compute, as_of, known_at)
    if found is None:
        ledger = env.ledger()
        found = compute(list(ledger.events()), make_view(ledger, as_of, known_at))
    return found
