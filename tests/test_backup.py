"""Backups restore to a ledger with the same root."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cli.app import cli
from cli.commands_demo import example_lines
from ledger import integrity, verification
from ledger.service import Ledger


@pytest.fixture
def source(tmp_path, db_target):
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", db_target, "init", "--tz", "Asia/Seoul"]).exit_code == 0
    events = tmp_path / "example.ndjson"
    events.write_bytes(b"\n".join(example_lines()))
    assert runner.invoke(cli, ["--db", db_target, "import", str(events)]).exit_code == 0
    return db_target


def _root(target: str) -> bytes:
    ledger = Ledger.open(target)
    try:
        assert verification.verify_ledger(ledger.store).intact
        return integrity.tree_root(ledger.store)[1]
    finally:
        ledger.close()


def test_an_events_backup_restores_through_import_mirror_with_the_same_root(source, tmp_path):
    runner = CliRunner()
    backup = tmp_path / "log.ndjson"
    assert (
        runner.invoke(cli, ["--db", source, "backup", "--format", "events", str(backup)]).exit_code
        == 0
    )
    restored = str(tmp_path / "restored.db")
    assert runner.invoke(cli, ["--db", restored, "init", "--tz", "Asia/Seoul"]).exit_code == 0
    result = runner.invoke(cli, ["--db", restored, "import", "--mirror", str(backup)])
    assert result.exit_code == 0, result.output
    assert _root(restored) == _root(source)


def test_a_sqlite_file_backup_is_a_ledger_with_the_same_root(tmp_path, sqlite_target):
    runner = CliRunner()
    runner.invoke(cli, ["--db", sqlite_target, "init", "--tz", "Asia/Seoul"])
    events = tmp_path / "example.ndjson"
    events.write_bytes(b"\n".join(example_lines()))
    runner.invoke(cli, ["--db", sqlite_target, "import", str(events)])
    copy = str(tmp_path / "copy.db")
    result = runner.invoke(cli, ["--db", sqlite_target, "backup", copy])
    assert result.exit_code == 0, result.output
    assert _root(copy) == _root(sqlite_target)


def test_a_backup_never_overwrites_a_file(tmp_path, sqlite_target):
    runner = CliRunner()
    runner.invoke(cli, ["--db", sqlite_target, "init"])
    existing = tmp_path / "precious.db"
    existing.write_bytes(b"do not touch")
    for form in ("sqlite", "events"):
        result = runner.invoke(
            cli, ["--db", sqlite_target, "backup", "--format", form, str(existing)]
        )
        assert result.exit_code == 1 and "exists" in result.output
    assert existing.read_bytes() == b"do not touch"


def test_a_backup_never_overwrites_a_file_that_appears_while_it_copies(
    tmp_path, sqlite_target, monkeypatch
):
    # The name was free when the backup started; another program takes it meanwhile.
    import sqlite3

    from ledger.store import backup as backup_module

    Ledger.init(sqlite_target).close()
    target = tmp_path / "precious.db"
    real_connect = sqlite3.connect

    def connect_and_race(path, *args, **kwargs):
        target.write_bytes(b"written meanwhile")
        return real_connect(path, *args, **kwargs)

    monkeypatch.setattr(backup_module.sqlite3, "connect", connect_and_race)
    result = CliRunner().invoke(cli, ["--db", sqlite_target, "backup", str(target)])
    assert result.exit_code == 1
    assert "exists; a backup never overwrites a file" in result.output
    assert target.read_bytes() == b"written meanwhile"
    assert not list(tmp_path.glob(".precious.db*"))  # no partial copy left behind
