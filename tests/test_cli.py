"""The command line, run with CliRunner against a real SQLite file: creating, filling, reading.

The service clock is `datetime.now(UTC)`; tests that print recorded_at, export or
judge overdue run under freezegun at a fixed instant (the `frozen` fixture).
"""

from __future__ import annotations

import hashlib
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import jsonschema
import orjson
import pytest
import rfc8785
from click.testing import CliRunner, Result
from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory

from cli.app import cli
from ledger.records import STORED_FIELDS
from tests.builders import actor, ev, lines, made, office

ROOT = Path(__file__).resolve().parents[1]
USER = "desk@watchdog.example"
FROZEN_AT = "2026-03-01T09:00:00Z"
SOURCE = "--source https://example.org/source"


class Cli:
    """`policy-ledger` on one ledger file: commands are written as on a shell, after the name."""

    def __init__(self, db: Path) -> None:
        self.db = db

    def run(self, command: str, *, input: str | bytes | None = None) -> Result:
        """Run a command with POLICY_LEDGER_DB and POLICY_LEDGER_USER set; return the result."""
        runner = CliRunner(
            env={
                "POLICY_LEDGER_DB": str(self.db),
                "POLICY_LEDGER_USER": USER,
                "POLICY_LEDGER_DEBUG": None,
            }
        )
        return runner.invoke(cli, shlex.split(command), input=input)

    def ok(self, command: str, *, input: str | bytes | None = None) -> Result:
        """Run a command that must succeed."""
        result = self.run(command, input=input)
        assert result.exit_code == 0, (result.output, result.exception)
        return result

    def json(self, command: str, *, input: str | bytes | None = None) -> Any:
        """Run a command with --json and parse what it printed."""
        return orjson.loads(self.ok(f"{command} --json", input=input).stdout_bytes)

    def fails(self, command: str, *, input: str | bytes | None = None) -> str:
        """Run a command that must be rejected cleanly: exit 1, one `Error:` line; return it."""
        return one_error_line(self.run(command, input=input), exit_code=1)

    def events(self) -> bytes:
        """The ledger's stored events, as export-events writes them."""
        return self.ok("export-events").stdout_bytes

    def import_events(self, *events: dict[str, Any]) -> Result:
        """Import events given as dicts through `import -`."""
        return self.ok("import -", input=b"\n".join(lines(*events)) + b"\n")


def quoted(path: Path) -> str:
    """A path as a shell word."""
    return shlex.quote(str(path))


def one_error_line(result: Result, *, exit_code: int) -> str:
    """Assert a clean failure (the exit code, one line starting `Error:`, no traceback)."""
    assert result.exit_code == exit_code, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.stdout == ""
    error_lines = result.stderr.strip().splitlines()
    assert len(error_lines) == 1, result.stderr
    assert error_lines[0].startswith("Error:"), result.stderr
    return error_lines[0]


def usage_error(result: Result) -> str:
    """Assert a usage error (exit 2, no traceback); return the `Error:` line."""
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1, result.stderr
    return error_lines[0]


def stopped_clock() -> Any:
    """freezegun at FROZEN_AT for the code under test; pytest's own timing keeps the real clock."""
    return freeze_time(FROZEN_AT, ignore=["_pytest"])


@pytest.fixture
def frozen() -> Iterator[FrozenDateTimeFactory]:
    """The service clock stopped at FROZEN_AT (move it with .move_to or .tick)."""
    with stopped_clock() as factory:
        yield factory


@pytest.fixture
def new_cli(tmp_path: Path) -> Cli:
    """The command line on a ledger file that does not exist yet."""
    return Cli(tmp_path / "ledger.db")


@pytest.fixture
def run(new_cli: Cli, frozen: FrozenDateTimeFactory) -> Cli:
    """The command line on a new, empty ledger in Asia/Seoul, with the clock frozen."""
    new_cli.ok("init --tz Asia/Seoul")
    return new_cli


KOREA = (
    actor("han", "Han Duck-soo"),
    actor("lee", "Lee Jae-myung"),
    actor("assembly", "National Assembly", kind="legislature"),
    office("president"),
    ev(
        "TenureBegan",
        "office/president",
        "2025-06-04",
        {"holder": "actor/lee", "role": "elected", "administration": "lee"},
    ),
    made(
        "gpus",
        targets=[
            {"key": "gpus", "quantity": {"amount": "10,000", "unit": "GPU"}, "due": "2025-12-31"}
        ],
    ),
    made("talent", by="actor/lee", capacity="candidate", areas=["education"]),
    ev(
        "AppropriationRecorded",
        "budget/supp-2025",
        "2025-05-01",
        {
            "body": "actor/assembly",
            "fiscal_year": 2025,
            "phase": "approved",
            "instrument": "supplementary",
            "quantity": {"amount": "13.8조 원"},
            "allocations": [],
        },
    ),
)


@pytest.fixture
def korea(run: Cli) -> Cli:
    """A small ledger: two actors and a legislature, an office with a tenure, two pledges, a budget."""
    run.import_events(*KOREA)
    return run


def ndjson(path: Path, *events: dict[str, Any] | bytes) -> Path:
    """Write events (dicts, or raw bytes for a broken line) as an NDJSON file."""
    path.write_bytes(
        b"".join((e if isinstance(e, bytes) else orjson.dumps(e)) + b"\n" for e in events)
    )
    return path


# --- init and a missing ledger ----------------------------------------------------


def test_init_creates_a_ledger_in_the_given_time_zone(new_cli: Cli) -> None:
    assert "time zone Asia/Seoul" in new_cli.ok("init --tz Asia/Seoul").stdout
    assert new_cli.db.exists()
    assert new_cli.json("list") == []


def test_init_accepts_the_db_option_instead_of_the_environment(tmp_path: Path) -> None:
    db = tmp_path / "elsewhere" / "ledger.db"
    result = CliRunner(env={"POLICY_LEDGER_DB": None}).invoke(cli, ["--db", str(db), "init"])
    assert result.exit_code == 0, result.output
    assert db.exists()
    assert "time zone UTC" in result.stdout


def test_bare_dates_are_read_in_the_ledger_time_zone(korea: Cli) -> None:
    # The tenure began on 2025-06-04 in Seoul, which is still 2025-06-03 in UTC.
    before = korea.json("show office/president --as-of 2025-06-03T15:30:00Z")
    after = korea.json("show office/president --as-of 2025-06-03T14:30:00Z")
    assert before["holder"] == "actor/lee"
    assert after["holder"] is None


def test_init_twice_is_harmless(korea: Cli) -> None:
    events = korea.events()
    assert "time zone Asia/Seoul" in korea.ok("init --tz Asia/Seoul").stdout
    assert "time zone Asia/Seoul" in korea.ok("init").stdout
    assert korea.events() == events


def test_init_may_change_the_time_zone_of_an_empty_ledger(run: Cli) -> None:
    assert "time zone UTC" in run.ok("init --tz UTC").stdout


def test_init_refuses_to_change_the_time_zone_once_events_exist(korea: Cli) -> None:
    assert "Asia/Seoul" in korea.fails("init --tz UTC")
    assert "time zone Asia/Seoul" in korea.ok("init").stdout


@pytest.mark.parametrize("zone", ["Mars/Olympus", "America"])  # America is a folder of zones
def test_init_with_an_unknown_time_zone_creates_nothing(new_cli: Cli, zone: str) -> None:
    assert f"unknown time zone '{zone}'" in new_cli.fails(f"init --tz {zone}")
    assert not new_cli.db.exists()


@pytest.mark.parametrize(
    "command",
    [
        "show commitment/gpus",
        "history commitment/gpus",
        "list",
        "export",
        "export-events",
        "import -",
        "register-actor actor/han --name Han --kind person --on 2025-01-01",
        "pledge commitment/gpus --by actor/han --capacity government --title GPUs "
        f"--target 'gpus=10,000 GPU' --on 2025-04-24 {SOURCE}",
    ],
    ids=lambda command: command.split()[0],
)
def test_commands_on_a_missing_ledger_say_to_run_init(new_cli: Cli, command: str) -> None:
    assert "policy-ledger init" in new_cli.fails(command, input=b"")
    assert list(new_cli.db.parent.iterdir()) == []


# --- import ---------------------------------------------------------------------


def test_import_prints_added_and_skipped_and_a_second_import_adds_nothing(
    run: Cli, tmp_path: Path
) -> None:
    path = quoted(ndjson(tmp_path / "events.ndjson", *KOREA))
    first = run.ok(f"import {path}").stdout
    events = run.events()
    second = run.ok(f"import {path}").stdout
    total = len(KOREA)
    assert first == f"added {total} events; skipped 0 already in the ledger (now {total} events)\n"
    assert second == f"added 0 events; skipped {total} already in the ledger (now {total} events)\n"
    assert run.events() == events


def test_import_reads_standard_input(run: Cli) -> None:
    data = b"\n".join(lines(*KOREA[:3])) + b"\n"
    assert run.ok("import -", input=data).stdout.startswith("added 3 events; skipped 0")
    assert run.ok("import -", input=data).stdout.startswith("added 0 events; skipped 3")


def test_import_json_reports_counts_and_head(run: Cli, tmp_path: Path) -> None:
    path = quoted(ndjson(tmp_path / "events.ndjson", *KOREA[:2]))
    assert run.json(f"import {path}") == {"added": 2, "skipped": 0, "head": 2}


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        (b'{"type": "ActorRegistered", "subject": ', "not valid JSON"),
        (orjson.dumps(made("ghost", by="actor/nobody")), "actor/nobody"),
        (orjson.dumps({**actor("kim"), "colour": "blue"}), "unknown field"),
        (orjson.dumps(actor("kim", on="2025-02-30")), "occurred_at"),
    ],
    ids=["broken-json", "unknown-actor", "unknown-field", "bad-date"],
)
def test_a_bad_line_late_in_a_file_rejects_the_whole_file(
    korea: Cli, tmp_path: Path, bad_line: bytes, reason: str
) -> None:
    before = korea.events()
    good = [actor("kim"), actor("park"), made("chips", by="actor/kim"), actor("choi")]
    path = quoted(ndjson(tmp_path / "batch.ndjson", *good, actor("yoon"), bad_line))
    message = korea.fails(f"import {path}")
    assert message.startswith("Error: line 6")
    assert reason in message
    assert korea.events() == before


# --- show -------------------------------------------------------------------------


def test_show_prints_a_commitment_with_its_targets(korea: Cli) -> None:
    out = korea.ok("show commitment/gpus").stdout
    assert out.startswith("commitment/gpus  [overdue]\n")
    assert "Pledge gpus" in out
    assert "by actor/han as head-of-government" in out
    assert any(line.split()[:4] == ["gpus", "10000", "GPU", "—"] for line in out.splitlines()), out


def test_show_json_gives_amounts_as_plain_decimal_strings(korea: Cli) -> None:
    state = korea.json("show commitment/gpus")
    assert state["subject"] == "commitment/gpus"
    assert state["targets"]["gpus"]["quantity"] == {"amount": "10000", "unit": "GPU"}
    assert state["targets"]["gpus"]["due"] == "2025-12-31"
    budget = korea.json("show budget/supp-2025")
    assert budget["phases"]["approved"]["quantity"] == {"amount": "13800000000000", "unit": "KRW"}


def test_show_an_office_lists_its_tenures(korea: Cli) -> None:
    out = korea.ok("show office/president").stdout
    assert "holder: actor/lee" in out
    header, _rule, row = out.splitlines()[-3:]
    assert header == "holder     role     administration  began       ended  reason  suspensions"
    assert row.split() == ["actor/lee", "elected", "lee", "2025-06-04", "—", "—", "—"]
    tenures = korea.json("show office/president")["tenures"]
    assert [(t["holder"], t["role"], t["began_at"]) for t in tenures] == [
        ("actor/lee", "elected", "2025-06-04")
    ]


def test_show_an_actor(korea: Cli) -> None:
    names = {"name": "Kim", "kind": "person", "names": {"ko": "김"}}
    korea.import_events(ev("ActorRegistered", "actor/kim", "2025-01-01", names))
    out = korea.ok("show actor/kim").stdout
    assert "name: Kim" in out
    assert "names: ko=김" in out
    assert korea.json("show actor/kim")["names"] == {"ko": "김"}


def test_show_a_budget_line(korea: Cli) -> None:
    out = korea.ok("show budget/supp-2025").stdout
    assert "body: actor/assembly" in out
    assert "approved: 13800000000000 KRW (2025-05-01), 0 allocations" in out


def test_show_as_of_gives_the_world_at_that_time(korea: Cli) -> None:
    target = {"key": "gpus", "quantity": {"amount": "50,000", "unit": "GPU"}}
    revision = {"by": "actor/lee", "capacity": "head-of-government", "targets": [target]}
    korea.import_events(ev("CommitmentRevised", "commitment/gpus", "2025-09-01", revision))
    now = korea.json("show commitment/gpus")
    then = korea.json("show commitment/gpus --as-of 2025-08-31")
    assert now["targets"]["gpus"]["quantity"]["amount"] == "50000"
    assert then["targets"]["gpus"]["quantity"]["amount"] == "10000"
    assert then["status"] == "pledged"
    assert korea.fails("show commitment/gpus --as-of 2025-04-23").endswith(
        "commitment/gpus has no visible CommitmentMade in this view"
    )


def test_show_known_at_gives_what_the_ledger_said_then(
    korea: Cli, frozen: FrozenDateTimeFactory
) -> None:
    frozen.move_to("2026-04-01T00:00:00Z")
    progress = {"target": "gpus", "achieved": {"amount": "13,000", "unit": "GPU"}}
    korea.import_events(ev("ProgressReported", "commitment/gpus", "2025-10-31", progress))
    known_now = korea.json("show commitment/gpus")
    known_before = korea.json("show commitment/gpus --known-at 2026-03-15")
    assert known_now["status"] == "delivered"
    assert known_now["targets"]["gpus"]["achieved"] == "13000"
    assert known_before["status"] == "overdue"
    assert known_before["targets"]["gpus"]["achieved"] is None


def test_overdue_is_judged_at_the_time_of_the_query(
    korea: Cli, frozen: FrozenDateTimeFactory
) -> None:
    assert korea.json("show commitment/gpus")["status"] == "overdue"
    frozen.move_to("2025-12-01T00:00:00Z")
    assert korea.json("show commitment/gpus")["status"] == "pledged"
    assert korea.json("show commitment/gpus --as-of 2026-01-02")["status"] == "overdue"


def test_show_of_an_unknown_subject_is_one_clean_line(korea: Cli) -> None:
    assert "commitment/nothing has no events" in korea.fails("show commitment/nothing")
    assert "is not a subject" in korea.fails("show gpus")


def test_show_with_an_unreadable_date_is_a_usage_error(korea: Cli) -> None:
    assert "--as-of" in usage_error(korea.run("show commitment/gpus --as-of 'last tuesday'"))


def test_by_actor_of_an_actor_the_ledger_never_heard_of_is_an_error(korea: Cli) -> None:
    # A misspelt name must not read as "did nothing": a script checking an actor's
    # record would take the typo for a clean one.
    assert korea.fails("by-actor actor/hann") == "Error: actor/hann has no events in this ledger"
    assert "must be an actor subject" in usage_error(korea.run("by-actor commitment/gpus"))
    assert "is not a subject" in usage_error(korea.run("by-actor 'Han Duck-soo'"))
    korea.ok("by-actor han")


def test_continuity_of_a_malformed_or_other_kind_of_office_is_a_usage_error(korea: Cli) -> None:
    assert "--office" in usage_error(korea.run("continuity --office 'NOT A SUBJECT'"))
    message = usage_error(korea.run("continuity --office actor/han"))
    assert "'actor/han' must be an office subject (office/...)" in message
    # A bare slug names an office; one the ledger does not hold is the ledger's error.
    assert "office/nowhere has no visible events" in korea.fails("continuity --office nowhere")
    korea.ok("continuity --office president")


# --- history ----------------------------------------------------------------------


def test_history_lists_events_with_sources_and_recorders(korea: Cli) -> None:
    out = korea.ok("history office/president").stdout.splitlines()
    assert out[0] == "v1  1948-07-24  OfficeCreated"
    assert out[1].startswith(f"    recorded 2026-03-01T09:00:00.000000Z by {USER}, position 4, id ")
    assert out[2] == "    source: https://example.org/source (Example Daily)"
    assert out[3] == "v2  2025-06-04  TenureBegan"


def test_history_json_marks_retracted_events(korea: Cli) -> None:
    made_id = korea.json("history commitment/talent")[0]["id"]
    retraction = {"event": made_id, "reason": "misquoted"}
    korea.import_events(ev("EventRetracted", "commitment/talent", "2026-01-01", retraction))
    events = korea.json("history commitment/talent")
    assert [e["type"] for e in events] == ["CommitmentMade", "EventRetracted"]
    assert events[0]["retracted_by"] == events[1]["id"]
    assert events[1]["retracted_by"] is None
    out = korea.ok("history commitment/talent").stdout
    assert "v1  2025-04-24  CommitmentMade  [retracted by v2]" in out


# --- list -------------------------------------------------------------------------


def test_list_shows_every_subject_in_a_table(korea: Cli) -> None:
    out = korea.ok("list").stdout.splitlines()
    assert out[0].split() == ["subject", "status", "by", "title"]
    assert [line.split()[0] for line in out[2:]] == [
        "actor/assembly",
        "actor/han",
        "actor/lee",
        "office/president",
        "commitment/gpus",
        "commitment/talent",
        "budget/supp-2025",
    ]


@pytest.mark.parametrize(
    ("filters", "subjects"),
    [
        ("--kind actor", ["actor/assembly", "actor/han", "actor/lee"]),
        ("--kind budget", ["budget/supp-2025"]),
        ("--status overdue", ["commitment/gpus"]),
        ("--status pledged", ["commitment/talent"]),
        ("--area education", ["commitment/talent"]),
        ("--area ai", ["commitment/gpus"]),
        ("--area health", []),
        ("--actor actor/han", ["commitment/gpus"]),
        ("--kind commitment --area education --actor actor/lee", ["commitment/talent"]),
        ("--area ai --actor actor/lee", []),
    ],
)
def test_list_filters_subjects(korea: Cli, filters: str, subjects: list[str]) -> None:
    assert [row["subject"] for row in korea.json(f"list {filters}")] == subjects


def test_list_json_rows_carry_kind_status_and_author(korea: Cli) -> None:
    assert korea.json("list --kind commitment")[0] == {
        "subject": "commitment/gpus",
        "kind": "commitment",
        "title": "Pledge gpus",
        "status": "overdue",
        "by": "actor/han",
    }


def test_list_says_when_nothing_matches(korea: Cli) -> None:
    assert korea.ok("list --area health").stdout == "nothing matches\n"


def test_list_refuses_commitment_filters_on_another_kind(korea: Cli) -> None:
    assert "--kind actor" in usage_error(korea.run("list --kind actor --area ai"))


# --- export, export-events, schema ------------------------------------------------


def test_export_to_stdout_and_to_a_file_are_the_same_bytes_every_time(
    korea: Cli, tmp_path: Path
) -> None:
    target = tmp_path / "out" / "state.json"
    first = korea.ok("export").stdout_bytes
    second = korea.ok("export").stdout_bytes
    result = korea.ok(f"export -o {quoted(target)}")
    assert first == second == target.read_bytes()
    assert result.stdout == ""
    assert result.stderr == f"wrote {target} ({len(KOREA)} events)\n"
    document = orjson.loads(first)
    assert document["format"] == "policy-ledger/export@1"
    assert document["ledger"]["size"] == len(KOREA)
    assert document["ledger"]["judged_on"].startswith("2026-03-01")


def test_export_changes_only_with_the_ledger_local_day_of_the_query(
    korea: Cli, frozen: FrozenDateTimeFactory
) -> None:
    evening = korea.ok("export").stdout_bytes  # 18:00 in Seoul
    frozen.move_to("2026-03-01T14:59:59Z")  # 23:59:59 in Seoul
    assert korea.ok("export").stdout_bytes == evening
    frozen.move_to("2026-03-01T15:00:00Z")  # the next day in Seoul
    next_day = orjson.loads(korea.ok("export").stdout_bytes)
    assert next_day["ledger"]["judged_on"] == "2026-03-02"
    assert next_day | {"ledger": None} == orjson.loads(evening) | {"ledger": None}


def test_export_as_of_and_known_at_are_recorded_in_the_document(korea: Cli) -> None:
    then = orjson.loads(korea.ok("export --as-of 2025-05-01").stdout_bytes)
    assert then["ledger"]["as_of"] is not None
    assert then["commitments"]["commitment/gpus"]["status"] == "pledged"
    before_anything = orjson.loads(korea.ok("export --known-at 2026-02-28").stdout_bytes)
    assert before_anything["ledger"]["size"] == 0
    assert before_anything["commitments"] == {}


def test_export_events_writes_every_stored_field_one_object_per_line(korea: Cli) -> None:
    rows = [orjson.loads(line) for line in korea.events().splitlines()]
    assert [row["position"] for row in rows] == list(range(1, len(KOREA) + 1))
    for row in rows:
        assert set(row) == set(STORED_FIELDS)
        assert row["recorded_at"] == "2026-03-01T09:00:00.000000Z"
        assert row["recorded_by"] == USER
        body = {k: v for k, v in row.items() if k not in ("position", "leaf_hash")}
        assert row["leaf_hash"] == hashlib.sha256(b"\x00" + rfc8785.dumps(body)).hexdigest()
    assert rows[-1]["data"]["quantity"] == {"amount": "13800000000000", "unit": "KRW"}


def test_export_events_to_a_file_matches_stdout(korea: Cli, tmp_path: Path) -> None:
    target = tmp_path / "events.ndjson"
    assert korea.ok(f"export-events -o {quoted(target)}").stdout == ""
    assert target.read_bytes() == korea.events()


def test_schema_is_valid_json_schema_that_validates_the_export(korea: Cli) -> None:
    schema = orjson.loads(korea.ok("schema").stdout_bytes)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    for command in ("export", "export --as-of 2025-05-01", "export --known-at 2026-01-01"):
        validator.validate(orjson.loads(korea.ok(command).stdout_bytes))


def test_schema_rejects_an_export_with_a_float_amount(korea: Cli) -> None:
    schema = orjson.loads(korea.ok("schema").stdout_bytes)
    document = orjson.loads(korea.ok("export").stdout_bytes)
    document["budgets"]["budget/supp-2025"]["phases"]["approved"]["quantity"]["amount"] = 1.38e13
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema)


def test_schema_needs_no_ledger(new_cli: Cli) -> None:
    assert orjson.loads(new_cli.ok("schema").stdout_bytes)["type"] == "object"
    assert not new_cli.db.exists()


@pytest.mark.parametrize(
    "command",
    [
        "show commitment/gpus",
        "show office/president",
        "show actor/han",
        "show budget/supp-2025",
        "history commitment/gpus",
        "list",
        "list --kind office",
        "import -",
    ],
)
def test_json_output_parses_as_json(korea: Cli, command: str) -> None:
    assert isinstance(korea.json(command, input=b""), dict | list)


# --- demo, python -m cli, help ----------------------------------------------------


def test_demo_builds_the_example_ledger_and_writes_its_exports(
    tmp_path: Path, frozen: FrozenDateTimeFactory
) -> None:
    folder = tmp_path / "demo"
    own = Cli(tmp_path / "own.db")
    assert "commitment/kr-ai-gpus-10000" in own.ok(f"demo --dir {quoted(folder)}").stdout
    document = orjson.loads((folder / "export.json").read_bytes())
    events = (folder / "events.ndjson").read_bytes()
    assert document["ledger"]["size"] == len(events.splitlines()) > 0
    assert all(set(orjson.loads(line)) == set(STORED_FIELDS) for line in events.splitlines())
    jsonschema.validate(document, orjson.loads(own.ok("schema").stdout_bytes))
    assert Cli(folder / "demo.db").events() == events
    assert not own.db.exists()  # the user's own ledger is not touched


def test_python_dash_m_cli_shows_help() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "cli", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("Usage: policy-ledger [OPTIONS] COMMAND [ARGS]...")
    assert "  import " in completed.stdout
    assert completed.stderr == ""


def _all_commands() -> list[str]:
    names = cli.list_commands(click.Context(cli))
    assert len(names) >= 24, names
    return names


@pytest.mark.parametrize("command", _all_commands())
def test_help_of_each_command_shows_an_example(command: str, tmp_path: Path) -> None:
    out = Cli(tmp_path / "ledger.db").ok(f"{command} --help").stdout
    assert "Example" in out
    assert f"policy-ledger {command} " in out


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ("--from notadate --to 2025-12-31", "--from"),
        ("--from 2025-01-01 --to notadate", "--to"),
        ("--known --from 2025-01-01 --to 2025-13-40", "--to"),
    ],
)
def test_diff_names_the_option_whose_moment_does_not_read(
    korea: Cli, arguments: str, named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = korea.db.read_bytes()
    for quick_read in ("1", "0"):  # the quick path declines; the service words the error
        monkeypatch.setenv("POLICY_LEDGER_QUICK_READ", quick_read)
        line = usage_error(korea.run(f"diff {arguments}"))
        assert line.startswith(f"Error: Invalid value for {named}:"), line
    assert korea.db.read_bytes() == before
