"""Creating, filling and exporting a ledger: init, import, export, export-events, schema, demo."""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from stat import S_ISREG
from typing import BinaryIO

import click

from cli.app import cli
from cli.context import (
    Env,
    json_option,
    keep_reads_quick,
    make_view,
    pass_env,
    print_json,
    quickly,
    view_options,
    write_bytes,
)
from cli.output import Output, OutputError, check_new_file, reason
from cli.output import write_atomically as write_atomically  # used by commands_demo
from ledger.export import ExportStream, event_line, export_bytes, export_document, export_schema

PROGRESS_THRESHOLD_BYTES = 4 << 20  # a progress bar for files above 4 MiB (about 5,000 events)


def _reported(lines: Iterator[bytes], update: Callable[[int], None]) -> Iterator[bytes]:
    for line in lines:
        update(len(line))
        yield line


def _regular_file_size(stream: BinaryIO) -> int:
    try:
        stat = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return 0  # a pipe or an in-memory stream: no size to show progress against
    return stat.st_size if S_ISREG(stat.st_mode) else 0


@cli.command()
@click.option(
    "--origin",
    metavar="NAME",
    help="The log's name in its checkpoints, unique to this ledger, e.g. watchdog.example/kr-ai "
    "(default: a random policy-ledger.local/... name). Set once.",
)
@click.option(
    "--tz", metavar="ZONE", help="IANA time zone for bare dates (default UTC), e.g. Asia/Seoul."
)
@pass_env
def init(env: Env, origin: str | None, tz: str | None) -> None:
    """Create the ledger (harmless when it exists).

    \b
    Examples:
      policy-ledger init --tz Asia/Seoul --origin watchdog.example/kr-ai
      policy-ledger --db postgresql+psycopg://postgres@localhost/newsroom init
    """
    from ledger.service import Ledger, load_zone

    if tz is not None:
        load_zone(tz)  # before anything is created: a typo must not leave a file behind
    ledger = Ledger.init(env.db, tz=tz, origin=origin, user=env.user)
    try:
        click.echo(
            f"ledger ready at {env.db} (time zone {ledger.tz.key}, origin {ledger.origin}, "
            f"{ledger.store.head()} events)"
        )
    finally:
        ledger.close()


@cli.command("import")
@click.argument("file", type=click.File("rb"))
@click.option(
    "--mirror",
    is_flag=True,
    help="FILE is another ledger's export-events output: copy it verbatim (ids, versions, "
    "times, positions), checking every leaf hash, so the copy's root equals the original's.",
)
@json_option
@pass_env
def import_(env: Env, file: BinaryIO, mirror: bool, as_json: bool) -> None:
    """Append the NDJSON events in FILE (or - for standard input): all of them or none.

    An event already in the ledger (same id, or same content when it has no
    id) is skipped, so importing a file twice adds nothing. With --mirror,
    the ledger becomes (or extends) a verifiable copy of another ledger;
    initialise it with the source's --tz so bare dates mean the same days.

    \b
    Examples:
      policy-ledger import examples/korea-ai-2025.ndjson
      cat events.ndjson | policy-ledger import -
      policy-ledger --db mirror.db import --mirror source-events.ndjson
    """
    from ledger.decoding import read_lines

    ledger = env.ledger()
    if mirror:
        result = ledger.import_mirror(read_lines(file))
    else:
        size = _regular_file_size(file)
        if size > PROGRESS_THRESHOLD_BYTES and sys.stderr.isatty():
            with click.progressbar(length=size, label="importing", file=sys.stderr) as bar:
                result = ledger.import_lines(_reported(read_lines(file), bar.update))
        else:
            result = ledger.import_lines(read_lines(file))
    keep_reads_quick(ledger)
    if as_json:
        print_json(
            {
                "added": len(result.added),
                "skipped": len(result.skipped),
                "head": ledger.store.head(),
            }
        )
    else:
        click.echo(
            f"added {len(result.added)} events; skipped {len(result.skipped)} already in the ledger "
            f"(now {ledger.store.head()} events)"
        )


@cli.command()
@click.option("-o", "--output", metavar="FILE", help="Write to FILE instead of standard output.")
@view_options
@pass_env
def export(env: Env, output: str | None, as_of: str | None, known_at: str | None) -> None:
    """The derived state as one JSON document: the same events give the same bytes.

    \b
    Examples:
      policy-ledger export -o state.json
      policy-ledger export --as-of 2025-06-03 --known-at 2025-12-31
    """

    def exported() -> ExportStream:
        # A small SQLite ledger is replayed whole without the service (the
        # reference document, ledger/store/quick.py); anything else is
        # written as the service reads the state: the whole document of a
        # large ledger would be gigabytes.
        document = quickly(env, export_document, as_of, known_at, replays=True)
        if document is not None:
            ledger = document["ledger"]
            return ExportStream(ledger["size"], ledger["root"], iter([export_bytes(document)]))
        service = env.ledger()
        return service.export_stream(make_view(service, as_of, known_at))

    if output:
        # A file appears only once complete; a bad path fails before the work.
        with Output(output, make_folders=True) as out:
            stream = exported()
            out.write_all(stream.chunks)
            out.commit()
        click.echo(f"wrote {output} ({stream.size} events)", err=True)
    else:
        write_bytes(exported().chunks)


@cli.command("export-events")
@click.option("-o", "--output", metavar="FILE", help="Write to FILE instead of standard output.")
@pass_env
def export_events(env: Env, output: str | None) -> None:
    """The stored events as NDJSON with every stored field, in position order.

    This is the form mirrors import and from which anyone can recompute the
    leaf hashes and the root.

    \b
    Examples:
      policy-ledger export-events -o events.ndjson
      policy-ledger export-events | head -1
    """
    lines = (event_line(e) for e in env.ledger().events())
    if output:
        with Output(output, make_folders=True) as out:
            out.write_all(lines)
            out.commit()
        click.echo(f"wrote {output}", err=True)
    else:
        write_bytes(lines)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the export document.

    \b
    Example:
      policy-ledger schema > export.schema.json
    """
    print_json(export_schema())


@cli.command()
@json_option
@pass_env
def rebuild(env: Env, as_json: bool) -> None:
    """Drop the read models (the derived tables) and replay the whole log into them.

    Never needed for correctness: every query catches the read models up
    first. Use it after upgrading, or to check that the tables match the log.

    \b
    Example:
      policy-ledger rebuild --json
    """
    ledger = env.ledger()
    position = ledger.rebuild()
    if as_json:
        print_json({"position": position})
    else:
        click.echo(f"read models rebuilt from {position} events")


@cli.command()
@click.argument("file", metavar="FILE")
@click.option(
    "--format",
    "form",
    type=click.Choice(["auto", "sqlite", "events"]),
    default="auto",
    show_default=True,
    help="sqlite: a copy of the ledger file (SQLite only); events: the log as export-events "
    "NDJSON (any database); auto: sqlite for a SQLite ledger, events otherwise.",
)
@pass_env
def backup(env: Env, file: str, form: str) -> None:
    """Write a consistent backup of the ledger to FILE, even while others write.

    A SQLite backup is itself a ledger (open it with --db FILE). An events
    backup is restored with `import --mirror`, which checks every leaf hash,
    so the restored ledger has the same root.

    \b
    Examples:
      policy-ledger backup ledger-2026-11-28.db
      policy-ledger --db postgresql+psycopg://localhost/newsroom backup log.ndjson
      policy-ledger --db restored.db init --tz Asia/Seoul && \\
        policy-ledger --db restored.db import --mirror log.ndjson
    """
    from ledger.store.backup import backup_sqlite

    ledger = env.ledger()
    if form == "auto":
        form = "sqlite" if ledger.store.dialect == "sqlite" else "events"
    if os.path.lexists(file):
        raise click.ClickException(f"{file} exists; a backup never overwrites a file")
    check_new_file(file)  # no folder, no permission: said before anything is written
    if form == "sqlite":
        try:
            backup_sqlite(ledger.store, file)
        except OSError as exc:
            raise OutputError(file, reason(exc)) from None
        except sqlite3.Error as exc:
            raise OutputError(file, str(exc) or type(exc).__name__) from None
    else:
        write_atomically(file, (event_line(e) for e in ledger.events()))
    click.echo(f"backed up {ledger.store.head()} events to {file} ({form})")
