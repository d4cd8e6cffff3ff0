"""`policy-ledger demo`: the founding example, built end to end in a fresh ledger."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import click

from cli.app import cli
from cli.commands_admin import write_atomically
from cli.commands_continuity import print_report
from cli.context import Env, pass_env
from cli.render import table
from ledger.export import event_line, export_bytes, export_document
from ledger.service import Ledger

EXAMPLE = "korea-ai-2025.ndjson"
DEMO_FILES = ("demo.db", "demo.db-wal", "demo.db-shm", "export.json", "events.ndjson")


def example_lines() -> list[bytes]:
    """The packaged example ledger: South Korea's AI policy across the 2025 transition."""
    return resources.files("ledger.examples").joinpath(EXAMPLE).read_bytes().splitlines()


@cli.command()
@click.option(
    "--dir",
    "directory",
    default="policy-ledger-demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for the demo ledger and its exports.",
)
@pass_env
def demo(env: Env, directory: str) -> None:
    """Build the example ledger (South Korea's AI pledges of 2025) and show what became of them.

    Writes a fresh SQLite ledger, its export and its events into DIR, replacing
    an earlier demo there; your own ledger (--db) is not touched.

    \b
    Examples:
      policy-ledger demo
      policy-ledger demo --dir /tmp/kr-ai && policy-ledger --db /tmp/kr-ai/demo.db continuity
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    for name in DEMO_FILES:
        (folder / name).unlink(missing_ok=True)
    db = folder / "demo.db"
    ledger = Ledger.init(str(db), tz="Asia/Seoul", user="demo@policy-ledger")
    try:
        result = ledger.import_lines(example_lines())
        view = ledger.view()
        sections = ledger.state_json(view)
        click.echo(
            f"Imported {len(result.added)} events of the example ledger "
            "(South Korea's AI policy, 2025).\n"
        )
        rows = [
            [subject, c["status"], c["by"].removeprefix("actor/"), c["title"]]
            for subject, c in sorted(sections["commitments"].items())
        ]
        click.echo(table(["commitment", "status", "made by", "title"], rows))
        click.echo("\nWhat became of them when power changed hands (continuity report):")
        print_report(ledger.continuity(view).to_json())
        document = export_document(ledger.events(), view, sections)
        write_atomically(str(folder / "export.json"), iter([export_bytes(document)]))
        write_atomically(str(folder / "events.ndjson"), (event_line(e) for e in ledger.events()))
        click.echo(
            f"\nledger:  {db}  ({document['ledger']['size']} events, root {document['ledger']['root'][:16]}…)"
        )
        click.echo(f"export:  {folder / 'export.json'}")
        click.echo(f"events:  {folder / 'events.ndjson'}")
        click.echo(
            f"\nTry:  policy-ledger --db {db} show commitment/kr-ai-gpus-10000\n"
            f"      policy-ledger --db {db} history commitment/kr-ai-gpus-10000"
        )
    finally:
        ledger.close()
