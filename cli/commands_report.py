"""`policy-ledger report`: the ledger as a static HTML site that works from file://."""

from __future__ import annotations

import os
from pathlib import Path

import click

from cli.app import cli
from cli.context import Env, make_view, pass_env, view_options
from cli.output import OutputError, reason
from ledger.report import render_report


@cli.command()
@click.option(
    "-o",
    "--output",
    "out_dir",
    required=True,
    metavar="DIR",
    type=click.Path(file_okay=False),
    help="Folder for the site (created if missing; earlier report pages there are replaced).",
)
@click.option(
    "--checkpoint",
    "checkpoint_file",
    metavar="FILE",
    type=click.Path(exists=True, dir_okay=False),
    help="A published checkpoint note (signed or not) to show and check against the log.",
)
@view_options
@pass_env
def report(
    env: Env,
    out_dir: str,
    checkpoint_file: str | None,
    as_of: str | None,
    known_at: str | None,
) -> None:
    """Write the ledger as a static HTML site: an overview, a page per commitment,
    administration, tenure and actor, the sources, and the checkpoint.

    The pages show the export document of the same clocks (`policy-ledger
    export`), with the events for timelines and sources. Charts are inline
    SVG; nothing is fetched when a page is viewed, so the folder can be opened
    from disk, copied, or published as it is.

    \b
    Examples:
      policy-ledger report -o site && open site/index.html
      policy-ledger report -o site-2025 --as-of 2025-12-31
      policy-ledger report -o site --checkpoint checkpoint.txt
    """
    ledger = env.ledger()
    view = make_view(ledger, as_of, known_at)
    note = Path(checkpoint_file).read_text("utf-8") if checkpoint_file else None
    try:
        written = render_report(ledger.events(), view, Path(out_dir), checkpoint=note)
    except OSError as exc:  # the folder or a page in it cannot be written: say which, and why
        inner = os.fspath(exc.filename) if exc.filename is not None else None
        where = f"{inner}: " if inner and inner != out_dir else ""
        raise OutputError(out_dir, where + reason(exc)) from None
    click.echo(f"wrote {len(written)} pages to {out_dir}; open {Path(out_dir) / 'index.html'}")
