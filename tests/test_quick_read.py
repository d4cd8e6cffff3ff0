"""`show` and `list` read current read models without the service (ledger/store/quick.py).

On an SQLite ledger whose read models hold the whole log, the present-tense
`show` and `list` read the tables with the standard library alone, so the
command starts about as fast as Python, click and SQLite do. Everything else
(another moment, a URL, read models behind the log, an unknown subject, an
older layout) goes through the service. These tests hold the quick answers
to the full path's, byte for byte, and show which path each case took.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from freezegun import freeze_time

from cli.app import cli
from cli.commands_demo import example_lines
from cli.context import Env
from ledger.service import Ledger
from ledger.store import quick, readmodels, rows, sql
from ledger.store.schema import metadata, readmodel_metadata
from ledger.synthetic import synthetic_lines
from tests.builders import actor, lines, made
from tests.test_architecture import command_loading

ROOT = Path(__file__).resolve().parents[1]


def _ledger(path: Path, lines: list[bytes], *, caught_up: bool = True) -> str:
    ledger = Ledger.init(str(path), tz="Asia/Seoul", user="editor")
    ledger.import_lines(lines)
    if caught_up:
        ledger.catch_up()
    ledger.close()
    return str(path)


@pytest.fixture(scope="module")
def example_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _ledger(tmp_path_factory.mktemp("example") / "ledger.db", list(example_lines()))


@pytest.fixture(scope="module")
def synthetic_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _ledger(tmp_path_factory.mktemp("synthetic") / "ledger.db", list(synthetic_lines(3000)))


def _run(db: str, *args: str, quick_read: bool, user: str = "editor") -> tuple[int, str]:
    env = {"POLICY_LEDGER_QUICK_READ": "1" if quick_read else "0"}
    result = CliRunner().invoke(cli, ["--db", db, "--user", user, *args], env=env)
    return result.exit_code, result.output


def run_bytes(db: str, *args: str, quick_read: bool, user: str = "editor") -> tuple[int, bytes]:
    """A command's exit code and the bytes it wrote (standard output, then standard error)."""
    env = {"POLICY_LEDGER_QUICK_READ": "1" if quick_read else "0"}
    result = CliRunner().invoke(cli, ["--db", db, "--user", user, *args], env=env)
    return result.exit_code, result.stdout_bytes + result.stderr_bytes


def assert_quick_answers_as_the_service(
    db: str, commands: list[list[str]], moment: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each command succeeds through the service, and the quick path, answering alone at
    the same moment, writes the same bytes."""
    with freeze_time(moment):
        full = [run_bytes(db, *command, quick_read=False) for command in commands]
        with monkeypatch.context() as patched:
            _without_service(patched)
            fast = [run_bytes(db, *command, quick_read=True) for command in commands]
    for command, expected, got in zip(commands, full, fast, strict=True):
        assert expected[0] == 0, (command, expected)
        assert got == expected, command


def _without_service(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any use of the full path fail the test: the quick path must answer alone."""

    def refuse(self: Env) -> Ledger:
        raise AssertionError("the command opened the ledger through the service")

    monkeypatch.setattr(Env, "ledger", refuse)


def _subjects(db: str) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT DISTINCT subject FROM events ORDER BY 1")]


def test_the_quick_reader_knows_every_table_of_the_current_layout():
    assert set(metadata.tables) | set(readmodel_metadata.tables) == quick.TABLES
    assert set(metadata.tables) == quick.LOG_TABLES == sql.LOG_TABLES
    assert set(readmodel_metadata.tables) == readmodels.TABLES


def test_the_quick_reader_selects_the_columns_the_store_decodes():
    # One row decoder for both paths (ledger/store/rows.py): the quick reader
    # selects its columns by name, in the order the store's table declares them.
    declared = tuple(column.name for column in metadata.tables["events"].columns)
    assert rows.EVENT_COLUMNS == sql.EVENT_COLUMNS == declared
    assert sql.decode_row is rows.decode_row


def test_the_store_writes_read_model_rows_in_the_declared_column_order():
    # Rows are tuples in column order and inserted by position: a column
    # declared in schema.py but missing (or moved) in readmodels.COLUMNS would
    # put values into the wrong columns.
    for name, table in readmodel_metadata.tables.items():
        assert readmodels.COLUMNS[name] == tuple(column.name for column in table.columns), name


@pytest.mark.parametrize("which", ["example_db", "synthetic_db"])
@pytest.mark.parametrize(
    "moment", [datetime(2025, 6, 30, 14, 59, tzinfo=UTC), datetime(2031, 1, 1, tzinfo=UTC)]
)
def test_show_and_list_answer_as_the_full_path_does(which, moment, request, monkeypatch):
    db = request.getfixturevalue(which)
    subjects = _subjects(db)
    if which == "synthetic_db":
        subjects = subjects[::7]  # every kind, a sample of each
    commands = [
        ["list"],
        ["list", "--json"],
        ["list", "--kind", "commitment", "--status", "overdue"],
        ["list", "--kind", "commitment", "--status", "in-progress"],
        ["list", "--area", "ai"],
        ["list", "--kind", "office"],
    ]
    for subject in subjects:
        commands += [["show", subject], ["show", subject, "--json"]]
    assert_quick_answers_as_the_service(db, commands, moment, monkeypatch)


@pytest.mark.parametrize(
    ("moment", "status"),
    [
        (datetime(2025, 6, 30, 14, 59, tzinfo=UTC), "pledged"),  # 23:59 on the 30th in Seoul
        (datetime(2025, 6, 30, 15, 0, tzinfo=UTC), "overdue"),  # 1 July in Seoul, not in UTC
    ],
)
def test_a_status_is_judged_on_the_ledgers_day_as_the_full_path_judges_it(
    tmp_path, moment, status, monkeypatch
):
    due = [{"key": "gpus", "quantity": {"amount": "10,000", "unit": "GPU"}, "due": "2025-06-30"}]
    db = _ledger(
        tmp_path / "ledger.db",
        lines(actor("han"), made("gpus", targets=due)),
    )
    with freeze_time(moment):
        expected = _run(db, "show", "commitment/gpus", "--json", quick_read=False)
        with monkeypatch.context() as patched:
            _without_service(patched)
            got = _run(db, "show", "commitment/gpus", "--json", quick_read=True)
            listed = _run(db, "list", "--status", status, quick_read=True)
    assert got == expected
    assert f'"status": "{status}"' in got[1]
    assert "commitment/gpus" in listed[1]


def test_a_read_after_an_append_catches_up_through_the_service_then_reads_quickly(tmp_path):
    db = _ledger(tmp_path / "ledger.db", list(example_lines()))
    subject = "commitment/kr-ai-100-trillion-investment"
    before = quick.subject_state(db, "editor", subject)
    assert before is not None
    ledger = Ledger.open(db, user="editor")
    ledger.import_lines(
        [
            b'{"type":"CommitmentReaffirmed","subject":"commitment/kr-ai-100-trillion-investment",'
            b'"occurred_at":"2025-09-01","data":{"by":"actor/lee-jae-myung",'
            b'"capacity":"head-of-government","statement":"Reaffirmed at the AI strategy meeting"},'
            b'"sources":[{"url":"https://example.org/reaffirmed"}]}'
        ]
    )
    ledger.close()
    # The read models are now behind the log: the quick reader declines ...
    assert quick.subject_state(db, "editor", subject) is None
    assert quick.state_sections(db, "editor") is None
    code, shown = _run(db, "show", subject, "--json", quick_read=True)
    assert code == 0
    assert '"event_count"' in shown
    # ... and the command that took the full path caught them up, so the next read is quick
    # and sees the new event.
    after = quick.subject_state(db, "editor", subject)
    assert after is not None
    assert after["event_count"] == before["event_count"] + 1


@pytest.mark.parametrize("command", [["show", "commitment/kr-ai-gpus-10000"], ["list"]])
def test_a_read_of_a_current_ledger_imports_neither_sqlalchemy_nor_pydantic(example_db, command):
    code, output, loaded = command_loading(["--db", example_db, "--user", "editor", *command])
    assert (code, loaded) == (0, [])
    assert "commitment/kr-ai-gpus-10000" in output


def test_the_quick_reader_declines_what_it_cannot_answer_alone(tmp_path, example_db):
    subject = "commitment/kr-ai-gpus-10000"
    assert quick.subject_state(example_db, "editor", subject) is not None
    declined = [
        ("a URL", "postgresql://postgres@127.0.0.1/test", "editor", subject),
        ("no file", str(tmp_path / "absent.db"), "editor", subject),
        ("a folder", str(tmp_path), "editor", subject),
        ("a malformed subject", example_db, "editor", "commitment/Not A Slug"),
        ("an unknown subject", example_db, "editor", "commitment/nothing-like-it"),
        ("a name only the full path can judge", example_db, "편집자", subject),
        ("a blank name", example_db, "   ", subject),
    ]
    for why, target, user, wanted in declined:
        assert quick.subject_state(target, user, wanted) is None, why
    not_a_ledger = tmp_path / "notes.db"
    not_a_ledger.write_text("not a database")
    assert quick.subject_state(str(not_a_ledger), "editor", subject) is None
    assert quick.state_sections(str(not_a_ledger), "editor") is None


def test_errors_are_the_full_paths_own(tmp_path, example_db, monkeypatch):
    cases = [
        [str(tmp_path / "absent.db"), "show", "commitment/kr-ai-gpus-10000"],
        [example_db, "show", "commitment/nothing-like-it"],
        [example_db, "show", "commitment/Not A Slug"],
        [example_db, "list", "--kind", "actor", "--status", "overdue"],
    ]
    for db, *args in cases:
        expected = _run(db, *args, quick_read=False)
        assert expected[0] != 0
        assert _run(db, *args, quick_read=True) == expected, args


def test_a_ledger_of_an_earlier_layout_is_upgraded_by_the_full_path(tmp_path):
    db = _ledger(tmp_path / "ledger.db", list(example_lines()))
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE assessments")  # as a release before that read model left it
    assert quick.state_sections(db, "editor") is None
    code, _ = _run(db, "list", quick_read=True)
    assert code == 0
    assert quick.state_sections(db, "editor") is not None


def test_the_quick_reader_writes_nothing(tmp_path):
    db = _ledger(tmp_path / "ledger.db", list(example_lines()))
    folder = Path(db).parent
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert quick.state_sections(db, "editor") is not None
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_a_ledger_whose_path_holds_uri_characters_is_read_quickly(tmp_path, monkeypatch):
    folder = tmp_path / "news room #1 (100%?)"
    folder.mkdir()
    db = _ledger(folder / "a?b#c%20d.db", list(example_lines()))
    expected = _run(db, "show", "commitment/kr-ai-gpus-10000", quick_read=False)
    with monkeypatch.context() as patched:
        _without_service(patched)
        assert _run(db, "show", "commitment/kr-ai-gpus-10000", quick_read=True) == expected
    assert not (folder / "a").exists()  # nothing created at a misread name
