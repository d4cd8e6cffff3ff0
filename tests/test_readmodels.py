"""Persisted read models: caught up incrementally, they always equal a full replay."""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli.app import cli
from cli.commands_demo import example_lines
from ledger.errors import LedgerError
from ledger.projections import project_ledger
from ledger.service import Ledger
from ledger.store.schema import readmodel_metadata
from ledger.synthetic import synthetic_lines
from tests.conftest import Clock


def _replayed(ledger: Ledger) -> dict:
    return project_ledger(ledger.events(), ledger.view(as_of="2031-01-01")).to_json()


def _from_read_models(ledger: Ledger) -> dict:
    # as_of forces a replay in state_json, so compare on the present view,
    # judged on the same day as the replay.
    view = ledger.view(as_of="2031-01-01")
    present = type(view)(now=view.as_of, tz=view.tz)  # the present, judged on 2031-01-01
    return ledger.state_json(present)


def _retraction(subject: str, event_id: str) -> bytes:
    return orjson.dumps(
        {
            "type": "EventRetracted",
            "subject": subject,
            "occurred_at": "2030-01-01",
            "data": {"event": event_id, "reason": "test"},
            "sources": [{"url": "https://example.org/correction"}],
        }
    )


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10**6),
    count=st.integers(30, 250),
    cuts=st.lists(st.integers(1, 249), max_size=6),
    retractions=st.lists(st.integers(0, 249), max_size=5),
)
def test_catching_up_after_every_append_equals_a_full_replay(
    tmp_path_factory, seed, count, cuts, retractions
):
    path = tmp_path_factory.mktemp("rm") / f"{uuid.uuid4().hex}.db"
    ledger = Ledger.init(str(path), tz="Asia/Seoul", clock=Clock())
    try:
        lines = list(synthetic_lines(count, seed))
        bounds = sorted({0, count, *(c for c in cuts if c < count)})
        for start, end in itertools.pairwise(bounds):
            ledger.import_lines(lines[start:end])
            ledger.catch_up()
            assert _from_read_models(ledger) == _replayed(ledger)
        stored = list(ledger.events())
        for index in retractions:
            victim = stored[index % len(stored)]
            try:
                ledger.import_lines([_retraction(victim.subject, victim.id)])
            except LedgerError:
                continue  # the rules refused it (it would break the history): nothing changed
            assert _from_read_models(ledger) == _replayed(ledger)
    finally:
        ledger.close()


def test_the_example_ledger_read_from_tables_equals_the_replay(ledger):
    ledger.import_lines(example_lines())
    assert _from_read_models(ledger) == _replayed(ledger)


def test_a_point_query_reads_the_tables_and_does_not_replay_the_log(ledger, monkeypatch):
    ledger.import_lines(example_lines())
    ledger.catch_up()

    def no_replay(*_args, **_kwargs):
        raise AssertionError("the log was replayed")

    monkeypatch.setattr(ledger.store, "read_all", no_replay)
    state = ledger.subject_state("commitment/kr-ai-gpus-10000", ledger.view())
    assert state["status"] == "delivered"


@pytest.mark.parametrize(
    "subject",
    ["commitment/kr-ai-gpus-10000", "actor/lee-jae-myung", "office/president-of-korea"],
)
@pytest.mark.parametrize("which", ["as_of", "known_at"])
def test_a_point_query_in_the_past_replays_only_the_subjects_involved(
    ledger, monkeypatch, subject, which
):
    # --as-of / --known-at may replay, but the subject's history (and, for a
    # commitment, the budget lines that fund it), never the whole log.
    ledger.import_lines(example_lines())
    moment = {"as_of": "2025-09-01", "known_at": "2100-01-01"}[which]
    view = ledger.view(**{which: moment})
    expected = ledger.state_json(view)[f"{subject.split('/')[0]}s"][subject]

    def no_replay(*_args, **_kwargs):
        raise AssertionError("the whole log was replayed")

    monkeypatch.setattr(ledger.store, "read_all", no_replay)
    monkeypatch.setattr(ledger.store, "histories", no_replay)
    assert ledger.subject_state(subject, view) == expected


def test_after_an_append_only_the_new_events_are_applied(ledger):
    lines = example_lines()
    ledger.import_lines(lines[:40])
    ledger.catch_up()
    ledger.import_lines(lines[40:])
    assert ledger.catch_up() == len(lines) - 40
    assert ledger.catch_up() == 0


def test_status_is_judged_on_the_day_asked_not_the_day_stored(ledger):
    ledger.import_lines(example_lines())
    ledger.catch_up()
    before = ledger.subject_state("commitment/kr-ai-talent-3300", ledger.view())["status"]
    assert before in ("pledged", "overdue")
    early = ledger.state_json(
        type(ledger.view())(now=ledger.parse_moment("2025-05-01", "x"), tz=ledger.tz)
    )
    assert early["commitments"]["commitment/kr-ai-gpus-10000"]["status"] == "delivered"


def test_rebuild_command_replays_into_fresh_tables(tmp_path):
    db = str(tmp_path / "l.db")
    runner = CliRunner()
    runner.invoke(cli, ["--db", db, "init", "--tz", "Asia/Seoul"])
    events = tmp_path / "e.ndjson"
    events.write_bytes(b"\n".join(example_lines()))
    runner.invoke(cli, ["--db", db, "import", str(events)])
    result = runner.invoke(cli, ["--db", db, "rebuild", "--json"])
    assert result.exit_code == 0 and orjson.loads(result.output) == {"position": 48}
    import sqlite3

    count = sqlite3.connect(db).execute("SELECT count(*) FROM commitments").fetchone()[0]
    assert count == 8


def test_every_read_model_table_and_column_is_documented():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "readmodels.md").read_text("utf-8")
    for table in readmodel_metadata.tables.values():
        assert f"`{table.name}`" in doc, table.name
        for column in table.columns:
            assert f"`{column.name}`" in doc, f"{table.name}.{column.name}"


@pytest.mark.postgres
def test_read_models_work_on_postgresql(make_ledger, pg_target):
    ledger = make_ledger(pg_target)
    ledger.import_lines(example_lines())
    assert _from_read_models(ledger) == _replayed(ledger)
