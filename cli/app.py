"""The `policy-ledger` command: a thin adapter over the `ledger` library.

Every command builds a request, calls the service, and prints. Errors the
ledger raises on purpose become one line and exit code 1; click's usage errors
exit 2; nothing prints a traceback unless POLICY_LEDGER_DEBUG is set.
"""

from __future__ import annotations

import importlib
import os
import sys
from gettext import gettext as _
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
# command runs, so `show` does not pay for cryptography, the continuity report
# or the HTML report at start-up, and `--help` imports none (see SUMMARIES).
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

# What `policy-ledger --help` says of each command: the first sentence of its
# help, whole (click shortens it to fit the terminal as it would the command's
# own). Listing the commands from here spares `--help` importing every command
# module, pydantic and cryptography with them. tests/test_cli_startup.py holds
# each line to its command's docstring: change both together.
SUMMARIES = {
    "appropriate": "Record a budget line in one phase, with its allocations to commitments.",
    "assess": "Record a watchdog's rating of a commitment.",
    "backup": "Write a consistent backup of the ledger to FILE, even while others write.",
    "begin-tenure": "Record that a holder took office.",
    "by-actor": "Everything ACTOR pledged, revised, withdrew or reaffirmed, and in which capacity.",
    "checkpoint": "Record a checkpoint of the current tree (size, root, time) and print it "
    "(C2SP tlog-checkpoint).",
    "continuity": "When power changed hands, what happened to what the previous administration "
    "promised.",
    "create-office": "Create an office whose tenures the ledger follows.",
    "demo": "Build the example ledger (South Korea's AI pledges of 2025) and show what became "
    "of them.",
    "diff": "The commitments whose state changed between two moments, with the changes.",
    "end-tenure": "Record that a tenure ended.",
    "export": "The derived state as one JSON document: the same events give the same bytes.",
    "export-events": "The stored events as NDJSON with every stored field, in position order.",
    "history": "The events of SUBJECT in the order recorded, with sources and recorders.",
    "import": "Append the NDJSON events in FILE (or - for standard input): all of them or none.",
    "init": "Create the ledger (harmless when it exists).",
    "keygen": "Write an Ed25519 key pair for signing checkpoints (Go sumdb/note key format).",
    "list": "Subjects in the ledger, with filters.",
    "overdue": "Commitments past a due date and not delivered, most overdue first.",
    "pledge": "Record a commitment (CommitmentMade).",
    "prove": "RFC 9162 proofs that any Certificate-Transparency verifier can check.",
    "reaffirm": "Record that a commitment was reaffirmed (for instance by a new administration).",
    "rebuild": "Drop the read models (the derived tables) and replay the whole log into them.",
    "register-actor": "Register a person, party, government, ministry, legislature or "
    "organisation.",
    "report": "Write the ledger as a static HTML site: an overview, a page per commitment, "
    "administration, tenure and actor, the sources, and the checkpoint.",
    "report-progress": "Record progress on a target: the cumulative level reached.",
    "resume-tenure": "Record that a suspended holder resumed office.",
    "retract": "Retract an earlier event of SUBJECT.",
    "revise": "Record a revision: new quantities or due dates for targets, new targets, "
    "removed ones.",
    "revisions": "Every target change with its size, who made it and in which administration, "
    "largest first.",
    "schema": "Print the JSON Schema of the export document.",
    "search": "Find TEXT in titles, summaries, statements, reasons and quotes (Korean and "
    "English).",
    "show": "The current state of SUBJECT (commitment/..., office/..., actor/..., budget/...).",
    "sources": "Evidence audit: sources without an archive copy or hash; or everything citing "
    "a domain or publisher.",
    "stalled": "Live commitments with no government act (event by a governing actor, "
    "allocation, progress report) for --days days.",
    "supersede": "Record that a commitment was replaced by another.",
    "suspend-tenure": "Record that the holder's powers were suspended (for instance by "
    "impeachment).",
    "unfunded": "Live commitments whose monetary targets have no approved money (or less than "
    "--below).",
    "verify": "Recompute every leaf hash, tree node and checkpoint root from the stored events.",
    "withdraw": "Record that a commitment was withdrawn (dropped).",
}


def listed_command(name: str) -> click.Command:
    """A stand-in that carries only a command's summary, for the listing in `--help`.

    click shortens it as it would the command's own help (the first sentence, cut
    to the width left), so the listing is the same byte for byte.
    """
    return click.Command(name, help=SUMMARIES[name])


class LedgerGroup(click.Group):
    """A group that loads commands on demand and turns ledger errors into one-line failures (exit 1)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(MODULE_OF))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in MODULE_OF:
            importlib.import_module(MODULE_OF[cmd_name])  # registers its commands on `cli`
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's own listing (click.Group.format_commands, same widths and shortening),
        with the commands not loaded yet listed from SUMMARIES instead of imported."""
        commands: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            if name in self.commands or name not in SUMMARIES:
                command = self.get_command(ctx, name)
            else:
                command = listed_command(name)
            if command is None or command.hidden:
                continue
            commands.append((name, command))
        if commands:
            # allow for 3 times the default spacing, as click does
            limit = formatter.width - 6 - max(len(name) for name, _command in commands)
            rows = [(name, command.get_short_help_str(limit)) for name, command in commands]
            with formatter.section(_("Commands")):
                formatter.write_dl(rows)

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
