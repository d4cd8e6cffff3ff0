"""A ledger edited behind the program's back: reads fail in one line that points at `verify`.

`verify` is the tool that says what was altered; the other commands, meeting
stored events that no longer make sense, must not fail with a traceback or a
bare internal error, and must say where to look.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from cli.commands_demo import example_lines
from ledger.service import Ledger
from tests.conftest import Clock
from tests.test_cli import Cli, one_error_line

HINT = "if the ledger was changed outside policy-ledger, `policy-ledger verify` says where"


@pytest.fixture
def tampered(tmp_path: Path):
    """The example ledger, and a way to edit its file with the triggers dropped."""
    path = tmp_path / "ledger.db"
    ledger = Ledger.init(str(path), tz="Asia/Seoul", clock=Clock())
    ledger.import_lines(example_lines())
    ledger.close()

    def edit(*statements: str) -> Cli:
        conn = sqlite3.connect(path)
        for (trigger,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
            conn.execute(f"DROP TRIGGER {trigger}")
        for statement in statements:
            conn.execute(statement)
        conn.commit()
        conn.close()
        return Cli(path)

    return edit


def test_a_stored_event_of_an_unknown_type_is_named_with_its_position(tampered):
    cli = tampered(
        "UPDATE events SET type = 'Bogus' WHERE position = "
        "(SELECT MIN(position) FROM events WHERE type = 'ProgressReported')"
    )
    for command in ("export", "rebuild", "list --kind commitment"):
        message = one_error_line(cli.run(command), exit_code=1)
        assert "internal error" not in message, command
        assert message.startswith("Error: the stored Bogus at position "), command
        assert message.endswith(f"({HINT})"), command


def test_a_stored_event_emptied_of_its_data_fails_in_one_line_pointing_at_verify(
    tampered, tmp_path
):
    cli = tampered(
        "UPDATE events SET data = '{}' WHERE position = "
        "(SELECT MIN(position) FROM events WHERE type = 'CommitmentMade')"
    )
    # As users run it (the console entry point, which turns the unexpected into one line).
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from cli.app import main; main()",
            "--db",
            str(tmp_path / "ledger.db"),
            "rebuild",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "POLICY_LEDGER_DEBUG": ""},
    )
    assert done.returncode == 1
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("Error: internal error: KeyError")  # a fold met what it cannot read
    assert line.endswith(f"({HINT}; set POLICY_LEDGER_DEBUG=1 for the traceback)")
    assert cli.run("verify").exit_code == 1  # and verify names the altered row
