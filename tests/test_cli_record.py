"""Recording commands: every event type from flags, with human amounts, prompts and clean errors.

Commands are written as a user types them after `policy-ledger` (see `Cli` in test_cli).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory

from cli import commands_record
from tests.test_cli import USER, Cli, one_error_line, stopped_clock, usage_error

SOURCES = (
    "--source https://example.org/yonhap --quote 'securing 10,000 GPUs' --publisher Yonhap "
    "--source https://example.org/herald --quote '1.8 trillion won'"
)
SOURCE = "--source https://example.org/x"
HAN = "--by actor/han --capacity head-of-government"
LEE = "--by actor/lee --capacity head-of-government"
PLEDGE_GPUS = (
    f"pledge commitment/gpus {HAN} --title 'Secure 10,000 GPUs' "
    "--target 'gpus=10,000 GPU' --target 'budget=1.8조 원' --baseline 'gpus=2,000 GPU' "
    "--target-due gpus=2025-12-31 --describe 'gpus=High-performance GPUs' "
    f"--area ai --area compute --on 2025-04-24 {SOURCES}"
)
UUID = "6f1c2e0a-5b7d-4c1e-9a57-2b1f7c3d9e10"


@pytest.fixture
def frozen() -> Iterator[FrozenDateTimeFactory]:
    """The service clock stopped at FROZEN_AT."""
    with stopped_clock() as factory:
        yield factory


@pytest.fixture
def run(tmp_path: Path, frozen: FrozenDateTimeFactory) -> Cli:
    """A ledger in Asia/Seoul with two people, a legislature, a watchdog and an office."""
    cli = Cli(tmp_path / "ledger.db")
    cli.ok("init --tz Asia/Seoul")
    for command in (
        "register-actor actor/han --name 'Han Duck-soo' --kind person --name-in ko=한덕수",
        "register-actor lee --name 'Lee Jae-myung' --kind person",
        "register-actor actor/assembly --name 'National Assembly' --kind legislature",
        "register-actor actor/watchdog --name 'Pledge Watch' --kind organization",
        "create-office office/president --name President --jurisdiction KR --kind head-of-state",
    ):
        cli.ok(f"{command} --on 1948-07-24")
    return cli


@pytest.fixture
def pledged(run: Cli) -> Cli:
    """The ledger above with commitment/gpus: 10,000 GPUs and 1.8조 원, GPUs due 2025-12-31."""
    run.ok(PLEDGE_GPUS)
    return run


def state(run: Cli, subject: str, *view: str) -> Any:
    return run.json(" ".join(["show", subject, *view]))


def last_event(run: Cli, subject: str) -> Any:
    return run.json(f"history {subject}")[-1]


# --- every event type from flags -------------------------------------------------


def test_register_actor_from_flags(run: Cli) -> None:
    assert state(run, "actor/han") == {
        "subject": "actor/han",
        "name": "Han Duck-soo",
        "kind": "person",
        "names": {"ko": "한덕수"},
        "parent": None,
        "registered_at": "1948-07-24",
    }
    assert state(run, "actor/lee")["name"] == "Lee Jae-myung"  # a bare slug is an actor
    run.ok(
        "register-actor actor/msit --name 'Ministry of Science and ICT' --kind ministry "
        "--parent actor/assembly --on 2020-01-01"
    )
    assert state(run, "actor/msit")["parent"] == "actor/assembly"


def test_a_recording_command_says_what_it_recorded(run: Cli) -> None:
    out = run.ok("register-actor actor/kim --name Kim --kind person --on 2020-01-01").stdout
    assert out.startswith("recorded ActorRegistered on actor/kim (version 1, position 6, id ")


def test_create_office_from_flags(run: Cli) -> None:
    office = state(run, "office/president")
    assert (office["name"], office["jurisdiction"], office["kind"]) == (
        "President",
        "KR",
        "head-of-state",
    )
    assert office["tenures"] == []


def test_tenure_commands_from_flags(run: Cli) -> None:
    for command in (
        "begin-tenure office/president --holder actor/han --role acting --administration yoon "
        "--on 2025-01-02",
        "suspend-tenure office/president --holder actor/han --reason impeachment --on 2025-02-01",
        "resume-tenure office/president --holder actor/han --on 2025-03-01",
        "end-tenure office/president --holder actor/han --reason superseded --on 2025-06-04",
        "begin-tenure president --holder actor/lee --role elected --on 2025-06-04T06:00:00+09:00",
    ):
        run.ok(f"{command} {SOURCES}")
    office = state(run, "office/president")
    assert office["holder"] == "actor/lee"
    assert office["tenures"] == [
        {
            "holder": "actor/han",
            "role": "acting",
            "administration": "yoon",
            "began_at": "2025-01-02",
            "ended_at": "2025-06-04",
            "end_reason": "superseded",
            "suspensions": [
                {"suspended_at": "2025-02-01", "resumed_at": "2025-03-01", "reason": "impeachment"}
            ],
        },
        {
            "holder": "actor/lee",
            "role": "elected",
            "administration": "lee",
            "began_at": "2025-06-04T06:00:00+09:00",
            "ended_at": None,
            "end_reason": None,
            "suspensions": [],
        },
    ]


def test_pledge_from_flags_with_human_amounts(pledged: Cli) -> None:
    commitment = state(pledged, "commitment/gpus")
    assert commitment["title"] == "Secure 10,000 GPUs"
    assert (commitment["by"], commitment["capacity"]) == ("actor/han", "head-of-government")
    assert (commitment["areas"], commitment["made_at"]) == (["ai", "compute"], "2025-04-24")
    gpus, budget = commitment["targets"]["gpus"], commitment["targets"]["budget"]
    assert gpus["quantity"] == {"amount": "10000", "unit": "GPU"}
    assert gpus["baseline"] == {"amount": "2000", "unit": "GPU"}
    assert gpus["due"] == "2025-12-31"
    assert gpus["description"] == "High-performance GPUs"
    assert budget["quantity"] == {"amount": "1800000000000", "unit": "KRW"}


def test_sources_and_quotes_are_paired_by_order(pledged: Cli) -> None:
    made = last_event(pledged, "commitment/gpus")
    assert made["sources"] == [
        {
            "url": "https://example.org/yonhap",
            "quote": "securing 10,000 GPUs",
            "publisher": "Yonhap",
        },
        {"url": "https://example.org/herald", "quote": "1.8 trillion won"},
    ]
    assert made["recorded_by"] == USER
    assert made["recorded_at"] == "2026-03-01T09:00:00.000000Z"


def test_pledge_takes_a_due_date_and_a_summary(run: Cli) -> None:
    run.ok(
        f"pledge commitment/model {HAN} --title 'A homegrown model' --summary 'ChatGPT-class' "
        f"--target 'model=1 model' --due 2027-12-31 --on 2025-04-24 {SOURCE}"
    )
    commitment = state(run, "commitment/model")
    assert (commitment["due"], commitment["summary"]) == ("2027-12-31", "ChatGPT-class")
    assert commitment["targets"]["model"]["quantity"] == {"amount": "1", "unit": "model"}
    assert commitment["areas"] == []


def test_revise_changes_adds_and_removes_targets(pledged: Cli) -> None:
    pledged.ok(
        f"revise commitment/gpus {LEE} --target 'gpus=50,000 GPU' --target 'chips=100 chip' "
        f"--remove budget --reason 'bigger plan' --on 2025-09-01 {SOURCES}"
    )
    targets = state(pledged, "commitment/gpus")["targets"]
    assert set(targets) == {"gpus", "chips"}
    assert targets["gpus"]["quantity"] == {"amount": "50000", "unit": "GPU"}
    assert targets["gpus"]["due"] == "2025-12-31"  # kept: the revision did not give one
    assert targets["chips"]["quantity"] == {"amount": "100", "unit": "chip"}
    data = last_event(pledged, "commitment/gpus")["data"]
    assert (data["removed"], data["reason"]) == (["budget"], "bigger plan")


def test_revise_can_move_only_a_due_date(pledged: Cli) -> None:
    pledged.ok(f"revise gpus {LEE} --target-due gpus=2026-06-30 --on 2025-09-01 {SOURCE}")
    assert state(pledged, "commitment/gpus")["targets"]["gpus"]["due"] == "2026-06-30"


def test_reaffirm_is_recorded(pledged: Cli) -> None:
    pledged.ok(f"reaffirm commitment/gpus {LEE} --statement 'we keep it' --on 2025-06-10 {SOURCE}")
    event = last_event(pledged, "commitment/gpus")
    assert event["type"] == "CommitmentReaffirmed"
    assert event["data"] == {
        "by": "actor/lee",
        "capacity": "head-of-government",
        "statement": "we keep it",
    }
    assert state(pledged, "commitment/gpus")["event_count"] == 2


def test_supersede_points_to_the_successor(pledged: Cli) -> None:
    pledged.ok(
        f"pledge commitment/gpus-50000 {LEE} --title '50,000 GPUs' --target 'gpus=5만 GPU' "
        f"--on 2025-07-01 {SOURCE}"
    )
    pledged.ok(
        f"supersede commitment/gpus {LEE} --successor commitment/gpus-50000 "
        f"--on 2025-07-01 {SOURCE}"
    )
    commitment = state(pledged, "commitment/gpus")
    assert (commitment["status"], commitment["superseded_by"]) == (
        "superseded",
        "commitment/gpus-50000",
    )
    successor = state(pledged, "commitment/gpus-50000")
    assert successor["targets"]["gpus"]["quantity"] == {"amount": "50000", "unit": "GPU"}


def test_withdraw_records_the_reason(pledged: Cli) -> None:
    pledged.ok(f"withdraw commitment/gpus {LEE} --reason 'no money' --on 2025-08-01 {SOURCE}")
    commitment = state(pledged, "commitment/gpus")
    assert commitment["status"] == "withdrawn"
    assert (commitment["withdrawn"]["by"], commitment["withdrawn"]["reason"]) == (
        "actor/lee",
        "no money",
    )


def test_report_progress_with_human_amounts(pledged: Cli) -> None:
    pledged.ok(
        "report-progress commitment/gpus --target gpus --achieved '260,000 GPU' "
        f"--on 2025-10-31 {SOURCE}"
    )
    pledged.ok(
        "report-progress commitment/gpus --target budget --achieved '1조 8천억 원' "
        f"--by actor/lee --on 2025-11-30 {SOURCE}"
    )
    commitment = state(pledged, "commitment/gpus")
    assert commitment["targets"]["gpus"]["achieved"] == "260000"
    assert commitment["targets"]["budget"]["achieved"] == "1800000000000"
    assert commitment["status"] == "delivered"


def test_assess_records_a_rating(pledged: Cli) -> None:
    pledged.ok(
        "assess commitment/gpus --assessor actor/watchdog --rubric politifact "
        f"--rating in-the-works --rationale 'orders placed' --on 2025-09-01 {SOURCE}"
    )
    assert state(pledged, "commitment/gpus")["assessments"] == {
        "actor/watchdog": {
            "rubric": "politifact",
            "rating": "in-the-works",
            "rationale": "orders placed",
            "occurred_at": "2025-09-01",
        }
    }


def test_appropriate_with_human_amounts_funds_the_commitment(pledged: Cli) -> None:
    pledged.ok(
        "appropriate budget/supp-2025 --body actor/assembly --fiscal-year 2025 --phase approved "
        "--instrument supplementary --total '13.8조 원' "
        "--allocate 'commitment/gpus:budget=1.8조 원' --allocate 'gpus=900억원' "
        f"--on 2025-05-01 {SOURCES}"
    )
    budget = state(pledged, "budget/supp-2025")
    assert (budget["body"], budget["fiscal_year"], budget["instrument"]) == (
        "actor/assembly",
        2025,
        "supplementary",
    )
    approved = budget["phases"]["approved"]
    assert approved["quantity"] == {"amount": "13800000000000", "unit": "KRW"}
    assert approved["allocations"] == [
        {
            "commitment": "commitment/gpus",
            "target": "budget",
            "quantity": {"amount": "1800000000000", "unit": "KRW"},
        },
        {"commitment": "commitment/gpus", "quantity": {"amount": "90000000000", "unit": "KRW"}},
    ]
    commitment = state(pledged, "commitment/gpus", "--as-of", "2025-06-01")
    assert commitment["targets"]["budget"]["funded"]["approved"] == "1800000000000"
    assert commitment["status"] == "in-progress"


def test_retract_an_event_by_its_id_from_history(
    pledged: Cli, frozen: FrozenDateTimeFactory
) -> None:
    pledged.ok(
        "report-progress commitment/gpus --target gpus --achieved '260,000 GPU' "
        f"--on 2025-10-31 {SOURCE}"
    )
    progress_id = last_event(pledged, "commitment/gpus")["id"]
    frozen.move_to("2026-03-02T00:00:00Z")
    pledged.ok(f"retract commitment/gpus {progress_id} --reason 'misquoted figure' {SOURCE}")
    retraction = last_event(pledged, "commitment/gpus")
    assert retraction["data"] == {"event": progress_id, "reason": "misquoted figure"}
    assert retraction["occurred_at"].startswith("2026-03-02T00:00:00")  # --on defaults to now
    assert state(pledged, "commitment/gpus")["targets"]["gpus"]["achieved"] is None
    assert pledged.json("history commitment/gpus")[1]["retracted_by"] == retraction["id"]
    # What the ledger said before the retraction was recorded still shows the progress.
    before = state(pledged, "commitment/gpus", "--known-at", "2026-03-01T12:00:00Z")
    assert before["targets"]["gpus"]["achieved"] == "260000"


def test_retract_keeps_the_event_id_argument_apart_from_the_id_option(pledged: Cli) -> None:
    made_id = last_event(pledged, "commitment/gpus")["id"]
    pledged.ok(
        f"retract commitment/gpus {made_id} --id {UUID} --reason duplicate --on 2025-05-01 {SOURCE}"
    )
    retraction = last_event(pledged, "commitment/gpus")
    assert (retraction["id"], retraction["data"]["event"]) == (UUID, made_id)


def test_recording_json_output_is_the_stored_event(run: Cli) -> None:
    printed = run.json("register-actor actor/kim --name Kim --kind person --on 2020-01-01")
    stored = run.json("history actor/kim")[0]
    assert printed == {
        "added": [{k: v for k, v in stored.items() if k != "retracted_by"}],
        "skipped": [],
    }
    assert printed["added"][0]["data"] == {"name": "Kim", "kind": "person"}


def test_recording_the_same_facts_twice_adds_nothing(pledged: Cli) -> None:
    events = pledged.events()
    assert pledged.ok(PLEDGE_GPUS).stdout.startswith("already recorded (id ")
    assert pledged.events() == events


def test_recording_commands_use_the_db_option_and_the_user(
    tmp_path: Path, frozen: FrozenDateTimeFactory
) -> None:
    db = tmp_path / "other.db"
    elsewhere = Cli(tmp_path / "unused.db")
    elsewhere.ok(f"--db {db} --user other@desk init")
    printed = elsewhere.json(
        f"--db {db} --user other@desk register-actor actor/kim --name Kim --kind person "
        "--on 2020-01-01"
    )
    assert printed["added"][0]["recorded_by"] == "other@desk"
    assert not elsewhere.db.exists()


# --- missing values: a usage error without a terminal, a prompt with one ----------


PLEDGE_CHIPS = {
    "--by": "actor/han",
    "--capacity": "head-of-government",
    "--title": "Chips",
    "--target": "'chips=100 chip'",
    "--on": "2025-04-24",
    "--source": "https://example.org/chips",
}


def pledge_chips_without(*flags: str) -> str:
    """`pledge commitment/chips` with all its required flags except those named."""
    given = " ".join(f"{flag} {value}" for flag, value in PLEDGE_CHIPS.items() if flag not in flags)
    return f"pledge commitment/chips {given}"


@pytest.mark.parametrize("flag", list(PLEDGE_CHIPS))
def test_a_missing_pledge_value_without_a_terminal_is_a_usage_error(run: Cli, flag: str) -> None:
    events = run.events()
    assert usage_error(run.run(pledge_chips_without(flag))) == f"Error: Missing option '{flag}'."
    assert run.events() == events


@pytest.mark.parametrize(
    ("command", "flag"),
    [
        ("register-actor actor/kim --kind person --on 2020-01-01", "--name"),
        ("create-office office/pm --name PM --kind other --on 2020-01-01", "--jurisdiction"),
        ("create-office office/pm --name PM --jurisdiction KR --on 2020-01-01", "--kind"),
        (f"begin-tenure office/president --holder actor/han --on 2025-01-01 {SOURCE}", "--role"),
        (f"begin-tenure office/president --role acting --on 2025-01-01 {SOURCE}", "--holder"),
        (f"end-tenure office/president --holder actor/han --on 2025-01-01 {SOURCE}", "--reason"),
        (f"revise commitment/gpus --by actor/lee --on 2025-09-01 {SOURCE}", "--capacity"),
        (f"supersede commitment/gpus {LEE} --on 2025-09-01 {SOURCE}", "--successor"),
        (f"withdraw commitment/gpus {LEE} --on 2025-01-01 {SOURCE}", "--reason"),
        (f"report-progress gpus --achieved '1 GPU' --on 2025-01-01 {SOURCE}", "--target"),
        (f"report-progress gpus --target gpus --on 2025-01-01 {SOURCE}", "--achieved"),
        (
            f"assess gpus --assessor actor/watchdog --rubric politifact --on 2025-01-01 {SOURCE}",
            "--rating",
        ),
        (
            "appropriate budget/b --body actor/assembly --fiscal-year 2025 --phase approved "
            f"--instrument main --on 2025-01-01 {SOURCE}",
            "--total",
        ),
        (
            "appropriate budget/b --body actor/assembly --phase approved --instrument main "
            f"--total '1조 원' --on 2025-01-01 {SOURCE}",
            "--fiscal-year",
        ),
        (f"retract commitment/gpus {UUID} {SOURCE}", "--reason"),
    ],
    ids=lambda value: value if value.startswith("--") else value.split()[0],
)
def test_a_missing_required_value_names_the_option(pledged: Cli, command: str, flag: str) -> None:
    events = pledged.events()
    assert usage_error(pledged.run(command)) == f"Error: Missing option '{flag}'."
    assert pledged.events() == events


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend someone is at a terminal, so that missing values are asked for."""
    monkeypatch.setattr(commands_record, "_interactive", lambda: True)


def test_on_a_terminal_a_missing_value_is_asked_for(run: Cli, terminal: None) -> None:
    result = run.ok(pledge_chips_without("--title"), input="Secure 100 chips\n")
    assert "Title: " in result.stdout
    assert state(run, "commitment/chips")["title"] == "Secure 100 chips"


def test_on_a_terminal_several_values_are_asked_for_in_turn(run: Cli, terminal: None) -> None:
    answers = "chips=1,000 chip\nminister\ngovernment\nhttps://example.org/answer\n"
    result = run.ok(pledge_chips_without("--capacity", "--target", "--source"), input=answers)
    assert "Capacity (head-of-government, government" in result.stdout
    assert "Error: 'minister' is not one of" in result.stdout  # a wrong choice is asked again
    commitment = state(run, "commitment/chips")
    assert commitment["capacity"] == "government"
    assert commitment["targets"]["chips"]["quantity"] == {"amount": "1000", "unit": "chip"}
    assert last_event(run, "commitment/chips")["sources"] == [{"url": "https://example.org/answer"}]


def test_on_a_terminal_a_fiscal_year_must_be_a_number(pledged: Cli, terminal: None) -> None:
    command = (
        "appropriate budget/b --body actor/assembly --phase proposed --instrument main "
        f"--total '1조 원' --on 2025-01-01 {SOURCE}"
    )
    result = pledged.ok(command, input="next year\n2026\n")
    assert "Error: 'next year' is not a valid integer." in result.stdout
    assert state(pledged, "budget/b")["fiscal_year"] == 2026


def test_without_a_terminal_nothing_is_asked(run: Cli) -> None:
    assert commands_record._interactive() is False  # CliRunner's stdin is not a terminal
    result = run.run(pledge_chips_without("--title"), input="Secure 100 chips\n")
    assert usage_error(result) == "Error: Missing option '--title'."
    assert "Title:" not in result.output


# --- bad input from flags: one line, exit 1, nothing written -----------------------


PLEDGE = f"pledge commitment/chips {HAN} --title Chips"
ALLOCATE = (
    "appropriate budget/b --body actor/assembly --fiscal-year 2025 --phase approved "
    "--instrument main"
)
BAD_INPUT = {
    "garbage-amount": (
        f"{PLEDGE} --target 'chips=lots of chips' --on 2025-04-24 {SOURCE}",
        "--target chips: cannot read amount",
    ),
    "unit-conflict-with-the-target": (
        f"report-progress gpus --target budget --achieved '$5' --on 2025-05-01 {SOURCE}",
        "unit USD does not match target 'budget' in KRW",
    ),
    "two-currencies-in-one-amount": (
        f"report-progress gpus --target budget --achieved '$5 KRW' --on 2025-05-01 {SOURCE}",
        "--achieved: cannot read amount '$5 KRW'",
    ),
    "allocation-in-another-currency": (
        f"{ALLOCATE} --total '13.8조 원' --allocate 'gpus:budget=$5' --on 2025-05-01 {SOURCE}",
        "allocation in USD on a line in KRW",
    ),
    "allocations-above-the-total": (
        f"{ALLOCATE} --total '1조 원' --allocate 'gpus:budget=2조 원' --on 2025-05-01 {SOURCE}",
        "more than the line's 1000000000000 KRW",
    ),
    "unknown-actor": (
        f"pledge chips --by actor/nobody --capacity government --title Chips "
        f"--target 'chips=100 chip' --on 2025-04-24 {SOURCE}",
        "actor/nobody does not exist",
    ),
    "revision-removes-an-unknown-target": (
        f"revise gpus {LEE} --remove chips --on 2025-09-01 {SOURCE}",
        "target 'chips' does not exist",
    ),
    "revision-dates-an-unknown-target": (
        f"revise gpus {LEE} --target-due chips=2026-01-01 --on 2025-09-01 {SOURCE}",
        "target 'chips' does not exist",
    ),
    "revision-in-another-unit": (
        f"revise gpus {LEE} --target 'gpus=5조 원' --on 2025-09-01 {SOURCE}",
        "unit KRW does not match target 'gpus' in GPU",
    ),
    "revision-of-an-unknown-commitment": (
        f"revise commitment/nothing {LEE} --target 'gpus=1 GPU' --on 2025-09-01 {SOURCE}",
        "commitment/nothing has no CommitmentMade",
    ),
    "progress-on-an-unknown-target": (
        f"report-progress gpus --target chips --achieved '5 chip' --on 2025-09-01 {SOURCE}",
        "target 'chips' does not exist",
    ),
    "impossible-date": (
        f"{PLEDGE} --target 'chips=100 chip' --on 2025-02-30 {SOURCE}",
        "--on: '2025-02-30' is not a valid date",
    ),
    "unreadable-date": (
        f"{PLEDGE} --target 'chips=100 chip' --on yesterday {SOURCE}",
        "--on: ",
    ),
    "unreadable-target-due": (
        f"{PLEDGE} --target 'chips=100 chip' --target-due chips=soon --on 2025-04-24 {SOURCE}",
        "due",
    ),
    "target-without-a-quantity": (
        f"{PLEDGE} --target chips --on 2025-04-24 {SOURCE}",
        "--target: 'chips' is not KEY=VALUE",
    ),
    "source-that-is-not-a-web-page": (
        f"{PLEDGE} --target 'chips=1 chip' --on 2025-04-24 --source ftp://example.org/x",
        "is not an http(s) URL",
    ),
    "retraction-of-an-unknown-event": (
        f"retract commitment/gpus {UUID} --reason x {SOURCE}",
        f"no event {UUID} in commitment/gpus",
    ),
    "second-commitment-made": (
        f"pledge gpus {HAN} --title Again --target 'gpus=1 GPU' --on 2025-04-24 {SOURCE}",
        "commitment/gpus was already made",
    ),
    # a repeated KEY would keep only its last value, silently
    "a target key twice": (
        f"pledge twice {HAN} --title T --target 'gpus=1 GPU' --target 'gpus=2 GPU' "
        f"--on 2025-04-24 {SOURCE}",
        "--target: 'gpus' is given twice; give each once",
    ),
    "a name language twice": (
        "register-actor actor/kim --name Kim --kind person --name-in ko=김 --name-in ko=金 "
        "--on 2020-01-01",
        "--name-in: 'ko' is given twice; give each once",
    ),
}


@pytest.mark.parametrize(("command", "expected"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_from_flags_is_one_line_and_writes_nothing(
    pledged: Cli, command: str, expected: str
) -> None:
    before = pledged.events()
    message = one_error_line(pledged.run(command), exit_code=1)
    assert expected in message
    assert "line 1" not in message  # flags are not input lines
    assert pledged.events() == before


def test_more_quotes_than_sources_is_a_usage_error(run: Cli) -> None:
    command = "register-actor actor/kim --name Kim --kind person --on 2020-01-01 --quote orphan"
    assert "--quote given 1 times for 0 --source" in usage_error(run.run(command))


def test_a_value_outside_the_choices_is_a_usage_error(run: Cli) -> None:
    command = "register-actor actor/kim --name Kim --kind alien --on 2020-01-01"
    assert "--kind" in usage_error(run.run(command))
