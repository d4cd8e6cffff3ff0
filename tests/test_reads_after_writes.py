"""A write brings the read models up to date, so the query after it starts quickly.

A query on an SQLite file reads the read models without the service only when
they reflect the whole log (ledger/store/quick.py); behind it, the query starts
the service to catch them up first. The writing commands have started the
service already, so they catch up after a small write (cli/context.py
`keep_reads_quick`), and an editor's `show` after `pledge` is as quick as any.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import cli.context
from cli.app import cli as policy_ledger
from cli.commands_demo import example_lines
from ledger.errors import StorageError
from ledger.service import Ledger
from ledger.store import quick
from tests.builders import ev, lines
from tests.test_quick_read import _ledger, _without_service

SUBJECT = "commitment/kr-ai-gpus-10000"
REAFFIRMED = ev(
    "CommitmentReaffirmed",
    SUBJECT,
    "2025-09-01",
    {
        "by": "actor/lee-jae-myung",
        "capacity": "head-of-government",
        "statement": "Reaffirmed at the AI strategy meeting",
    },
)


def _invoke(db: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(policy_ledger, ["--db", db, "--user", "editor", *args])
    return result.exit_code, result.output


def _behind(db: str) -> int:
    ledger = Ledger.open(db, user="editor")
    try:
        return ledger.store.head() - ledger.readmodels.position()
    finally:
        ledger.close()


def _reads_quickly(db: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """`show SUBJECT --json` answered without the service (fails the test otherwise)."""
    with monkeypatch.context() as patched:
        _without_service(patched)
        code, output = _invoke(db, "show", SUBJECT, "--json")
    assert code == 0, output
    return output


@pytest.fixture
def example_db(tmp_path: Path) -> str:
    return _ledger(tmp_path / "ledger.db", list(example_lines()))


def test_an_import_leaves_the_read_models_current(example_db, tmp_path, monkeypatch):
    before = quick.subject_state(example_db, "editor", SUBJECT)
    assert before is not None
    events = tmp_path / "more.ndjson"
    events.write_bytes(b"".join(lines(REAFFIRMED)))
    code, output = _invoke(example_db, "import", str(events))
    assert (code, output) == (0, "added 1 events; skipped 0 already in the ledger (now 49 events)\n")
    assert _behind(example_db) == 0
    shown = _reads_quickly(example_db, monkeypatch)
    assert f'"event_count": {before["event_count"] + 1}' in shown


def test_a_large_import_leaves_the_catching_up_to_the_next_query(tmp_path, monkeypatch):
    # Catching up a large import is a rebuild's work and memory: the next query
    # (or `policy-ledger rebuild`) does it, not the import.
    monkeypatch.setattr(cli.context, "QUICK_REPLAY_EVENTS", 10)
    db = str(tmp_path / "ledger.db")
    events = tmp_path / "example.ndjson"
    events.write_bytes(b"\n".join(example_lines()))
    assert _invoke(db, "init", "--tz", "Asia/Seoul")[0] == 0
    code, output = _invoke(db, "import", str(events))
    assert code == 0, output
    assert _behind(db) == 48
    assert quick.subject_state(db, "editor", SUBJECT) is None
    assert _invoke(db, "show", SUBJECT)[0] == 0  # the service catches up
    assert _behind(db) == 0


def test_a_failed_catch_up_does_not_fail_the_write(example_db, tmp_path, monkeypatch):
    def broken(self: Ledger) -> int:
        raise StorageError("cannot write the ledger: database or disk is full")

    events = tmp_path / "more.ndjson"
    events.write_bytes(b"".join(lines(REAFFIRMED)))
    with monkeypatch.context() as patched:
        patched.setattr(Ledger, "catch_up", broken)
        result = CliRunner().invoke(
            policy_ledger, ["--db", example_db, "--user", "editor", "import", str(events)]
        )
    assert result.exit_code == 0
    assert result.stdout == "added 1 events; skipped 0 already in the ledger (now 49 events)\n"
    assert result.stderr == (
        "warning: the write is recorded, but the read models were not brought up to date "
        "(cannot write the ledger: database or disk is full); the next query will try again\n"
    )
    assert _behind(example_db) == 1  # recorded, not yet applied
    assert _invoke(example_db, "show", SUBJECT)[0] == 0  # the next query catches up
    assert _behind(example_db) == 0


def test_a_recorded_event_is_read_quickly_right_after(example_db, monkeypatch):
    before = quick.subject_state(example_db, "editor", SUBJECT)
    assert before is not None
    code, output = _invoke(
        example_db,
        "reaffirm",
        SUBJECT,
        "--by",
        "actor/lee-jae-myung",
        "--capacity",
        "head-of-government",
        "--statement",
        "Reaffirmed at the AI strategy meeting",
        "--on",
        "2025-09-01",
        "--source",
        "https://example.org/reaffirmed",
    )
    assert code == 0 and output.startswith("recorded CommitmentReaffirmed"), output
    assert _behind(example_db) == 0
    shown = _reads_quickly(example_db, monkeypatch)
    assert f'"event_count": {before["event_count"] + 1}' in shown
