"""`history` and the audit queries read the log without the service (ledger/store/quick.py).

On an SQLite ledger file the quick read path reads the events with the
standard library, decodes them with the store's own row decoder and hands
them to the same folds and audit functions the service uses, so these
commands start without SQLAlchemy, pydantic or the event catalogue. These
tests hold every answer to the service's, byte for byte, with the service
made to fail while the quick path answers; show that the commands import
none of the heavy modules; and that whatever the quick path cannot answer
alone falls back to the service, errors included.
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time

from cli.commands_demo import example_lines
from cli.context import Env
from ledger import upcasting
from ledger.service import Ledger
from ledger.store import quick
from ledger.synthetic import synthetic_lines
from tests.builders import ev, lines
from tests.test_architecture import command_loading
from tests.test_quick_read import (
    _subjects,
    assert_quick_answers_as_the_service,
    run_bytes,
)
from tests.test_read_only_folder import _read_only_mounts_work, same_in_place

ROOT = Path(__file__).resolve().parents[1]
FIRST_SITTING = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
LATER_SITTING = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
BETWEEN = "2026-01-20"  # --known-at: after the first sitting, before the later one
OFFICE, AREA = "office/head-of-government", "energy"  # of the synthetic ledger
HEAVY = ("sqlalchemy", "pydantic", "ledger.events", "ledger.service")


def _clock(moment: datetime) -> Any:
    return lambda: moment


def _two_sittings(path: Path, first: list[bytes], later: Any, *, caught_up: bool = True) -> str:
    """A ledger written at two record times: `first`, then `later(ledger)`'s lines (a
    function, so that a retraction can name an id the first sitting gave)."""
    ledger = Ledger.init(str(path), tz="Asia/Seoul", user="editor", clock=_clock(FIRST_SITTING))
    ledger.import_lines(first)
    ledger.close()
    ledger = Ledger.open(str(path), user="desk@watchdog.example", clock=_clock(LATER_SITTING))
    ledger.import_lines(later(ledger))
    if caught_up:
        ledger.catch_up()
    ledger.close()
    return str(path)


def _retraction(ledger: Ledger, subject: str, type_: str, on: str) -> dict[str, Any]:
    wanted = next(e for e in ledger.history(subject) if e.type == type_)
    return ev(
        "EventRetracted", subject, on, {"event": wanted.id, "reason": "misreported at the time"}
    )


def _example_later(ledger: Ledger) -> list[bytes]:
    return lines(
        ev(
            "CommitmentRevised",
            "commitment/kr-ai-gpus-10000",
            "2025-09-01",
            {
                "by": "actor/lee-jae-myung",
                "capacity": "head-of-government",
                "targets": [{"key": "gpus", "quantity": {"amount": "15000", "unit": "GPU"}}],
                "reason": "Raised with the second supplementary budget",
            },
        ),
        ev(
            "CommitmentRevised",
            "commitment/kr-ai-talent-3300",
            "2025-06-10T10:00:00+09:00",
            {"by": "actor/lee-jae-myung", "capacity": "government", "due": "2025-12-31"},
        ),
        _retraction(ledger, "commitment/kr-ai-elite-team", "ProgressReported", "2026-01-25"),
    )


def _synthetic_later(ledger: Ledger) -> list[bytes]:
    revised = next(e for e in ledger.events() if e.type == "CommitmentRevised")
    return lines(_retraction(ledger, revised.subject, "CommitmentRevised", "2026-01-25"))


@pytest.fixture(scope="module")
def example_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("example") / "ledger.db"
    return _two_sittings(path, list(example_lines()), _example_later)


@pytest.fixture(scope="module")
def synthetic_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("synthetic") / "ledger.db"
    return _two_sittings(path, list(synthetic_lines(3000)), _synthetic_later)


def _retracted_subjects(db: str) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [
            r[0] for r in conn.execute("SELECT subject FROM events WHERE type='EventRetracted'")
        ]


def _audit_commands(
    actors: list[str], words: list[str], domain: str, publisher: str, office: str, area: str
) -> list[list[str]]:
    clocks = [
        [],
        ["--as-of", "2025-06-03"],
        ["--known-at", BETWEEN],
        ["--as-of", "2025-12-31T23:00:00+09:00", "--known-at", BETWEEN],
    ]
    commands: list[list[str]] = []
    for clock in clocks:
        commands += [
            ["overdue", *clock],
            ["overdue", "--json", *clock],
            ["unfunded", *clock],
            ["unfunded", "--below", "0.5", "--json", *clock],
            ["stalled", *clock],
            ["stalled", "--days", "30", "--json", *clock],
            ["revisions", *clock],
            ["revisions", "--json", *clock],
            ["continuity", *clock],
            ["continuity", "--json", "--by", "tenure", "--horizon", "90", *clock],
            ["export", *clock],
        ]
        for actor in actors:
            commands += [["by-actor", actor, *clock], ["by-actor", actor, "--json", *clock]]
    for word in words:
        commands += [["search", word], ["search", word, "--json"]]
    commands += [
        ["sources"],
        ["sources", "--json"],
        ["sources", "--domain", domain],
        ["sources", "--publisher", publisher, "--json"],
        ["diff", "--from", "2025-06-03", "--to", "2025-12-31"],
        ["diff", "--from", "2020-01-01", "--to", "2026-06-03", "--json"],
        ["diff", "--known", "--from", BETWEEN, "--to", "2026-03-01"],
        ["diff", "--known", "--from", "2000-01-01", "--to", BETWEEN, "--json"],
        ["continuity", "--office", office, "--area", area, "--horizon", "30"],
    ]
    return commands


def _history_commands(subjects: list[str]) -> list[list[str]]:
    commands: list[list[str]] = []
    for subject in subjects:
        commands += [
            ["history", subject],
            ["history", subject, "--json"],
            ["history", subject, "--as-of", "not a moment"],  # not read without --diff
            ["history", subject, "--diff"],
            ["history", subject, "--diff", "--json"],
            ["history", subject, "--diff", "--as-of", "2025-06-03"],
            ["history", subject, "--diff", "--known-at", BETWEEN, "--json"],
        ]
    return commands


@pytest.mark.parametrize(
    "moment", [datetime(2026, 2, 28, 15, 30, tzinfo=UTC), datetime(2031, 1, 1, tzinfo=UTC)]
)
def test_the_example_ledgers_history_and_audits_answer_as_the_service_does(
    example_db, moment, monkeypatch
):
    subjects = _subjects(example_db)
    commands = _history_commands(subjects) + _audit_commands(
        ["actor/han-duck-soo", "actor/lee-jae-myung", "ministry-of-science-and-ict"],
        ["인공지능", "GPU", "nothing-says-this"],
        "koreaherald.com",
        "yonhap",
        "office/president-of-korea",
        "ai",
    )
    assert_quick_answers_as_the_service(example_db, commands, moment, monkeypatch)


def test_the_synthetic_ledgers_history_and_audits_answer_as_the_service_does(
    synthetic_db, monkeypatch
):
    subjects = _subjects(synthetic_db)
    sample = sorted({*subjects[::40], *_retracted_subjects(synthetic_db)})
    assert any(s.startswith("budget/") for s in sample) and any(
        s.startswith("actor/") for s in sample
    )
    commands = _history_commands(sample) + _audit_commands(
        ["actor/leader-1", "actor/assembly", "watchdog"],
        ["공약", "pledge check", "INVEST"],
        "example",
        "assembly",
        OFFICE,
        AREA,
    )
    assert_quick_answers_as_the_service(
        synthetic_db, commands, datetime(2026, 3, 1, tzinfo=UTC), monkeypatch
    )


def test_the_example_ledger_holds_what_the_comparisons_need(example_db):
    # The comparisons above mean something only if the answers are not all empty.
    with freeze_time(datetime(2026, 3, 1, tzinfo=UTC)):
        history = run_bytes(example_db, "history", "commitment/kr-ai-elite-team", quick_read=True)[
            1
        ]
        revisions = run_bytes(example_db, "revisions", quick_read=True)[1]
        overdue = run_bytes(example_db, "overdue", quick_read=True)[1]
        before = run_bytes(example_db, "revisions", "--known-at", BETWEEN, quick_read=True)[1]
        continuity = run_bytes(example_db, "continuity", quick_read=True)[1]
    assert b"[retracted by v" in history
    assert b"commitment/kr-ai-gpus-10000" in revisions and b"+50.0%" in revisions
    assert b"commitment/kr-ai-talent-3300" in overdue
    assert before == b"no revisions\n"
    assert b"actor/lee-jae-myung" in continuity and b"continued" in continuity


def test_the_log_the_quick_path_reads_is_the_services(example_db):
    ledger = Ledger.open(example_db, user="editor")
    try:
        expected = list(ledger.events())
        history = ledger.history("commitment/kr-ai-gpus-10000")
        read = quick.answer(
            example_db,
            "editor",
            lambda log: (list(log.events()), log.history("commitment/kr-ai-gpus-10000"), log.zone),
        )
        assert read is not None
        events, subject_history, zone = read
        assert [e.to_json() for e in events] == [e.to_json() for e in expected]
        assert [e.occurred_key for e in events] == [e.occurred_key for e in expected]
        assert [e.schema for e in events] == [e.schema for e in expected]
        assert [e.to_json() for e in subject_history] == [e.to_json() for e in history]
        assert zone == ledger.tz
    finally:
        ledger.close()


@pytest.mark.parametrize(
    ("as_of", "known_at"),
    [
        (None, None),
        ("2025-06-03", None),
        (None, "2026-01-20T12:00:00Z"),
        ("2025-12-31T23:59:59.5+09:00", "2026-01-20"),
        (" 2025-06-03 ", None),
    ],
)
def test_the_quick_paths_view_is_the_services(example_db, as_of, known_at):
    with freeze_time(datetime(2026, 2, 28, 15, 30, tzinfo=UTC)):
        ledger = Ledger.open(example_db, user="editor")
        expected = ledger.view(as_of=as_of, known_at=known_at)
        ledger.close()
        got = quick.answer(
            example_db, "editor", lambda log: log.view(as_of=as_of, known_at=known_at)
        )
    assert got == expected
    assert got.judged_on == expected.judged_on


@pytest.mark.parametrize(
    "command",
    [
        ["history", "commitment/kr-ai-elite-team"],
        ["history", "commitment/kr-ai-gpus-10000", "--json"],
        ["history", "commitment/kr-ai-gpus-10000", "--diff", "--as-of", "2025-12-31"],
        ["overdue"],
        ["overdue", "--as-of", "2026-01-01"],
        ["unfunded", "--known-at", BETWEEN],
        ["stalled", "--json"],
        ["revisions"],
        ["by-actor", "han-duck-soo"],
        ["sources", "--domain", "koreaherald.com"],
        ["search", "GPU"],
        ["diff", "--from", "2025-06-03", "--to", "2025-12-31"],
        ["continuity"],
        ["continuity", "--known-at", BETWEEN, "--json"],
        ["export"],
        ["export", "--as-of", "2025-06-03"],
    ],
    ids=" ".join,
)
def test_a_quick_command_imports_neither_sqlalchemy_nor_pydantic_nor_the_catalogue(
    example_db, command
):
    code, output, loaded = command_loading(["--db", example_db, "--user", "editor", *command])
    assert (code, loaded) == (0, [])
    assert output.strip()


def test_what_the_quick_path_declines_the_service_answers_with_its_own_words(tmp_path, example_db):
    subject = "commitment/kr-ai-gpus-10000"
    not_a_ledger = tmp_path / "notes.db"
    not_a_ledger.write_text("not a database")
    cases = [
        (f"sqlite:///{tmp_path / 'absent.db'}", ["history", subject]),
        (str(tmp_path / "absent.db"), ["search", "GPU"]),
        (str(tmp_path), ["overdue", "--as-of", "2026-01-01"]),
        (str(not_a_ledger), ["history", subject, "--diff"]),
        (str(not_a_ledger), ["by-actor", "han-duck-soo"]),
        (example_db, ["history", "commitment/nothing-like-it"]),
        (example_db, ["history", "commitment/Not A Slug", "--diff"]),
        (example_db, ["history", subject, "--diff", "--as-of", "yesterday"]),
        (example_db, ["stalled", "--known-at", "2026-13-01"]),
        (example_db, ["diff", "--from", "2025-06-03", "--to", "2025-06-03T00:00:00"]),
        (example_db, ["by-actor", "han-duck-soo", "--as-of", "0999-12-31"]),
        (example_db, ["continuity", "--office", "office/no-such-office"]),
        (example_db, ["by-actor", "actor/nobody-we-know"]),
        (example_db, ["continuity", "--as-of", "2025-02-30"]),
        (str(not_a_ledger), ["continuity"]),
        (example_db, ["export", "--known-at", "2026-01-20T25:00:00Z"]),
        (str(not_a_ledger), ["export"]),
    ]
    for db, args in cases:
        expected = run_bytes(db, *args, quick_read=False)
        assert expected[0] != 0, args
        assert b"Error: " in expected[1] and b"Traceback" not in expected[1], args
        assert run_bytes(db, *args, quick_read=True) == expected, args
    for target in [
        f"sqlite:///{tmp_path / 'absent.db'}",
        "postgresql://postgres@127.0.0.1:5432/test",
        str(tmp_path / "absent.db"),
        str(tmp_path),
        str(not_a_ledger),
    ]:
        assert quick.answer(target, "editor", lambda log: list(log.events())) is None, target


def test_a_recorder_name_only_the_service_judges_is_left_to_it(example_db, monkeypatch):
    with freeze_time(datetime(2026, 3, 1, tzinfo=UTC)):
        assert quick.answer(example_db, "편집자", lambda log: list(log.events())) is None
        assert quick.answer(example_db, "   ", lambda log: list(log.events())) is None
        for user in ("편집자", "   "):
            args = ["history", "commitment/kr-ai-gpus-10000"]
            assert run_bytes(example_db, *args, quick_read=True, user=user) == run_bytes(
                example_db, *args, quick_read=False, user=user
            )


def test_the_switch_sends_every_read_to_the_service(example_db, monkeypatch):
    monkeypatch.setenv(quick.DISABLE_ENV, "0")
    assert quick.answer(example_db, "editor", lambda log: list(log.events())) is None
    monkeypatch.setenv(quick.DISABLE_ENV, "1")
    assert quick.answer(example_db, "editor", lambda log: list(log.events())) is not None


@pytest.mark.parametrize(
    "older",
    [
        "DROP TABLE merkle_nodes",  # before the Merkle tree: the service back-fills it
        "ALTER TABLE events DROP COLUMN schema",  # before events carried their schema
    ],
)
def test_a_ledger_of_an_earlier_layout_is_upgraded_by_the_service_then_read_quickly(
    tmp_path, example_db, older
):
    declined, full = tmp_path / "declined.db", tmp_path / "full.db"
    for copy in (declined, full):
        shutil.copyfile(example_db, copy)
        with sqlite3.connect(copy) as conn:
            conn.execute(older)
    assert quick.answer(str(declined), "editor", lambda log: list(log.events())) is None
    for args in (["history", "commitment/kr-ai-gpus-10000"], ["search", "GPU", "--json"]):
        got = run_bytes(str(declined), *args, quick_read=True)
        assert got[0] == 0
        assert got == run_bytes(str(full), *args, quick_read=False), args
    # The service upgraded the file on open: now the quick path reads it.
    assert quick.answer(str(declined), "editor", lambda log: list(log.events()))


def test_the_log_is_read_without_the_read_models_being_current(tmp_path, monkeypatch):
    db = _two_sittings(
        tmp_path / "behind.db", list(example_lines()), _example_later, caught_up=False
    )
    assert quick.state_sections(db, "editor") is None  # no read models at all
    commands = [
        ["history", "commitment/kr-ai-gpus-10000", "--diff"],
        ["overdue", "--as-of", "2026-03-01"],
        ["unfunded", "--known-at", "2026-03-01"],
        ["revisions"],
        ["search", "GPU"],
    ]
    assert_quick_answers_as_the_service(db, commands, datetime(2026, 3, 1, tzinfo=UTC), monkeypatch)
    # The present state of overdue and unfunded is the read models': the service catches them up.
    with freeze_time(datetime(2026, 3, 1, tzinfo=UTC)):
        expected = run_bytes(db, "overdue", quick_read=False)
        assert run_bytes(db, "overdue", quick_read=True) == expected


def test_events_of_another_schema_are_left_to_the_service(example_db, monkeypatch):
    # A release whose current schema is 2 reads these schema-1 events through its
    # upcasters, which validate with the catalogue: the service's work.
    monkeypatch.setattr(upcasting, "CURRENT_SCHEMA", 2)
    assert quick.answer(example_db, "editor", lambda log: list(log.events())) is None
    args = ["by-actor", "han-duck-soo", "--json"]
    assert run_bytes(example_db, *args, quick_read=True) == run_bytes(
        example_db, *args, quick_read=False
    )


def test_a_history_that_breaks_a_rule_is_reported_by_the_service(tmp_path):
    db = _two_sittings(tmp_path / "ledger.db", list(example_lines()), _example_later)
    with sqlite3.connect(db) as conn:
        # Altered behind the ledger's back: a revision moved before its pledge.
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute(
            "UPDATE events SET occurred_at = '2020-01-01', occurred_key = '2019-12-31T15:00:00.000000Z' "
            "WHERE type = 'CommitmentRevised' AND subject = 'commitment/kr-ai-gpus-10000'"
        )
    assert quick.answer(db, "editor", lambda log: list(log.events()))  # the rows still read
    for args in (["revisions"], ["history", "commitment/kr-ai-gpus-10000", "--diff"]):
        expected = run_bytes(db, *args, quick_read=False)
        assert expected[0] == 1 and b"the stored CommitmentRevised at position" in expected[1]
        assert run_bytes(db, *args, quick_read=True) == expected, args


def test_an_unreadable_row_is_reported_by_the_service(tmp_path):
    db = _two_sittings(tmp_path / "ledger.db", list(example_lines()), _example_later)
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute("UPDATE events SET data = '{not json' WHERE position = 3")
    for args in (["search", "GPU"], ["history", _subjects_at(db, 3)]):
        expected = run_bytes(db, *args, quick_read=False)
        assert expected[0] == 1 and b"position 3: the stored row was altered" in expected[1]
        assert run_bytes(db, *args, quick_read=True) == expected, args


def _subjects_at(db: str, position: int) -> str:
    with sqlite3.connect(db) as conn:
        (subject,) = conn.execute(
            "SELECT subject FROM events WHERE position = ?", (position,)
        ).fetchone()
    return str(subject)


@pytest.mark.skipif(_read_only_mounts_work() is not None, reason=str(_read_only_mounts_work()))
def test_history_and_the_audits_read_a_published_ledger_in_place(tmp_path):
    folder = tmp_path / "published"
    folder.mkdir()
    db = _two_sittings(folder / "ledger.db", list(example_lines()), _example_later)
    assert sorted(p.name for p in folder.iterdir()) == ["ledger.db"]
    reads = [
        ["history", "commitment/kr-ai-elite-team"],
        ["history", "commitment/kr-ai-gpus-10000", "--diff", "--json"],
        ["revisions", "--known-at", "2026-03-01"],
        ["search", "GPU"],
    ]
    same_in_place(folder, db, reads)


def test_a_large_logs_replayed_state_is_left_to_the_service(synthetic_db, monkeypatch):
    # The quick path holds the whole log to replay a state; the service folds
    # one subject at a time without sources. Past the limit the service answers.
    import cli.context

    monkeypatch.setattr(cli.context, "QUICK_REPLAY_EVENTS", 1000)
    opened: list[str] = []
    service = Env.ledger

    def counted(self: Env) -> Ledger:
        opened.append("service")
        return service(self)

    monkeypatch.setattr(Env, "ledger", counted)
    with freeze_time(datetime(2026, 6, 1, tzinfo=UTC)):
        for command in (
            ["overdue", "--as-of", "2025-06-03"],
            ["unfunded", "--known-at", BETWEEN],
            ["continuity", "--json"],
            ["export"],
        ):
            opened.clear()
            quick_answer = run_bytes(synthetic_db, *command, quick_read=True)
            assert opened == ["service"], command
            assert quick_answer == run_bytes(synthetic_db, *command, quick_read=False)
        opened.clear()
        run_bytes(synthetic_db, "stalled", "--as-of", "2025-06-03", quick_read=True)
        assert opened == []  # a scan of the log, as the service's: still quick
