"""The `policy-ledger` command: a thin adapter over the `ledger` library.

Every command builds a request, calls the service, and prints. Errors the
ledger raises on purpose become one line and exit code 1; click's usage errors
exit 2; nothing prints a traceback unless POLICY_LEDGER_DEBUG is set.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

# Pydantic looks for third-party plugins through every installed package's
# entry points when it builds its first model: a tenth of the start-up of a
# command such as `show`. The command line uses none (set it to "" to let
# pydantic look again).
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from cli.context import DEFAULT_DB, Env, default_user
from ledger.errors import HistoryError, LedgerError

# Where each command lives. A command's module is imported only when that
# command runs (or help lists them all), so `show` does not pay for
# cryptography, the continuity report or the HTML report at start-up.
COMMAND_MODULES = {
    "cli.commands_admin": (
        "init",
        "import",
        "export",
        "export-events",
        "schema",
        "rebuild",
        "backup",
    ),
    "cli.commands_query": ("show", "history", "list"),
    "cli.commands_record": (
        "register-actor",
        "create-office",
        "begin-tenure",
        "suspend-tenure",
        "resume-tenure",
        "end-tenure",
        "pledge",
        "revise",
        "reaffirm",
        "supersede",
        "withdraw",
        "report-progress",
        "assess",
        "appropriate",
        "retract",
    ),
    "cli.commands_audit": (
        "diff",
        "unfunded",
        "overdue",
        "stalled",
        "revisions",
        "by-actor",
        "sources",
        "search",
    ),
    "cli.commands_continuity": ("continuity",),
    "cli.commands_report": ("report",),
    "cli.commands_integrity": ("verify", "checkpoint", "keygen", "prove"),
    "cli.commands_demo": ("demo",),
}
MODULE_OF = {name: module for module, names in COMMAND_MODULES.items() for name in names}


class LedgerGroup(click.Group):
    """A group that loads commands on demand and turns ledger errors into one-line failures (exit 1)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(MODULE_OF))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in MODULE_OF:
            importlib.import_module(MODULE_OF[cmd_name])  # registers its commands on `cli`
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LedgerError as exc:
            # One line, whatever the message echoes back (a value with a line break in it).
            message = str(exc).replace("\r", "\\r").replace("\n", "\\n")
            raise click.ClickException(message) from None
        except HistoryError as exc:
            # Writes turn a broken rule into a RuleViolation naming the input line,
            # so one that reaches here broke while replaying what is stored.
            raise click.ClickException(_stored_history_broken(exc)) from None
        finally:
            if isinstance(ctx.obj, Env):
                ctx.obj.close()


@click.group(cls=LedgerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    envvar="POLICY_LEDGER_DB",
    default=DEFAULT_DB,
    show_default=True,
    help="Ledger file path or SQLAlchemy URL (postgresql+psycopg://user@host/db). "
    "Also POLICY_LEDGER_DB.",
)
@click.option(
    "--user",
    envvar="POLICY_LEDGER_USER",
    default=None,
    help="Who records events (recorded_by). Also POLICY_LEDGER_USER; default: login name.",
)
@click.version_option(package_name="policy-ledger")
@click.pass_context
def cli(ctx: click.Context, db: str, user: str | None) -> None:
    """An event-sourced ledger of policy commitments.

    Record what governments and politicians pledge, fund, revise and drop as
    immutable, sourced events; ask what became of them at any date.

    \b
    Start here:
      policy-ledger demo                      build the example ledger and show it
      policy-ledger init --tz Asia/Seoul      create a ledger in ./policy-ledger.db
      policy-ledger import events.ndjson      append events (all or nothing)
      policy-ledger list --kind commitment    what the ledger holds
    """
    ctx.obj = Env(db=db, user=user or default_user())


CHECK_HINT = "if the ledger was changed outside policy-ledger, `policy-ledger verify` says where"


def _stored_history_broken(exc: HistoryError) -> str:
    stored = exc.event
    where = f"{exc.field}: " if exc.field else ""
    reason = f"{where}{exc.reason}".replace("\r", "\\r").replace("\n", "\\n")
    return (
        f"the stored {stored.type} at position {stored.position} ({stored.subject}) breaks "
        f"a rule: {reason} ({CHECK_HINT})"
    )


def main() -> None:
    """Console entry point: run the CLI, never showing a traceback for expected errors."""
    try:
        cli.main(prog_name="policy-ledger")
    except KeyboardInterrupt:
        click.echo("interrupted; nothing was written by the unfinished command", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # a bug: one line unless debugging
        if os.environ.get("POLICY_LEDGER_DEBUG"):
            raise
        click.echo(
            f"Error: internal error: {type(exc).__name__}: {exc} ({CHECK_HINT}; "
            "set POLICY_LEDGER_DEBUG=1 for the traceback)",
            err=True,
        )
        sys.exit(1)
