"""The `policy-ledger` command: a thin adapter over the `ledger` library.

Every command builds a request, calls the service, and prints. Errors the
ledger raises on purpose become one line and exit code 1; click's usage errors
exit 2; nothing prints a traceback unless POLICY_LEDGER_DEBUG is set.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from cli.context import DEFAULT_DB, Env, default_user
from ledger.errors import LedgerError


class LedgerGroup(click.Group):
    """A group that turns ledger errors into clean one-line failures (exit 1)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LedgerError as exc:
            raise click.ClickException(str(exc)) from None
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
            f"Error: internal error: {type(exc).__name__}: {exc} "
            "(set POLICY_LEDGER_DEBUG=1 for the traceback)",
            err=True,
        )
        sys.exit(1)


# Register the commands (imported for their side effect on `cli`).
from cli import (  # noqa: E402, F401
    commands_admin,
    commands_audit,
    commands_continuity,
    commands_demo,
    commands_integrity,
    commands_query,
    commands_record,
)
