"""Inputs that once could break a ledger for good are refused before anything is stored."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cli.app import cli
from ledger.errors import InvalidEvent, LedgerConfigError
from ledger.service import Ledger
from tests.builders import actor, lines


@pytest.mark.parametrize("user", ["   ", "x" * 501, "desk\x00null", "line\nbreak", "\u200b\ufeff"])
def test_a_recorder_name_that_stored_events_could_not_hold_is_refused(sqlite_target, user):
    Ledger.init(sqlite_target).close()
    with pytest.raises(LedgerConfigError):
        Ledger.open(sqlite_target, user=user)
    result = CliRunner().invoke(
        cli,
        [
            "--db",
            sqlite_target,
            "--user",
            user,
            "register-actor",
            "actor/a",
            "--name",
            "A",
            "--kind",
            "person",
            "--on",
            "2020-01-01",
        ],
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    reopened = Ledger.open(sqlite_target)
    assert reopened.store.head() == 0
    reopened.close()


def test_a_recorder_name_is_stored_in_nfc(sqlite_target):
    import unicodedata

    ledger = Ledger.init(sqlite_target, user=unicodedata.normalize("NFD", "편집자"))
    ledger.import_lines(lines(actor("a")))
    assert next(iter(ledger.events())).recorded_by == unicodedata.normalize("NFC", "편집자")
    ledger.close()


@pytest.mark.parametrize("text", ["a\x00b", "bell\x07", "esc\x1b[31m"])
def test_control_characters_in_event_text_are_refused_on_every_database(any_ledger, text):
    event = actor("a")
    event["data"]["name"] = text
    with pytest.raises(InvalidEvent, match="control character"):
        any_ledger.import_lines(lines(event))
    assert any_ledger.store.head() == 0


def test_begin_tenure_offers_no_reason_flag():
    result = CliRunner().invoke(cli, ["begin-tenure", "--help"])
    assert "--reason" not in result.output
    assert "--reason" in CliRunner().invoke(cli, ["end-tenure", "--help"]).output


def test_concurrent_inits_agree_on_one_origin(tmp_path):
    """Eight processes running init at once all report the origin that stands."""
    import subprocess
    import sys

    db = str(tmp_path / "race.db")
    code = "import sys; from ledger.service import Ledger; l = Ledger.init(sys.argv[1]); print(l.origin); l.close()"
    runs = [
        subprocess.Popen([sys.executable, "-c", code, db], stdout=subprocess.PIPE, text=True)
        for _ in range(8)
    ]
    origins = {run.communicate(timeout=120)[0].strip() for run in runs}
    assert all(run.returncode == 0 for run in runs)
    standing = Ledger.open(db)
    assert origins == {standing.origin}
    standing.close()
