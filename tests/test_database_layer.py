"""The store's databases (ledger/store/db.py): what the store's SQL text meets on each.

The store writes every statement once, with `?` parameters; these tests hold
the layer under it to what that promises: on PostgreSQL a `%` is a character,
not the start of a parameter; a snapshot lent by the quick verify answers
every read the store makes through it; an SQLite URL that names no file is
refused in words, and the store reads a whole section in one snapshot.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.app import cli
from cli.commands_demo import example_lines
from ledger.service import Ledger
from ledger.store import db
from ledger.store.sql import SqlEventStore


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("layer") / "example.db"
    ledger = Ledger.init(str(path), tz="Asia/Seoul", user="desk@test")
    ledger.import_lines(example_lines())
    ledger.close()
    return path


def test_a_percent_sign_reaches_postgresql_as_a_character(pg_target):
    server = db.ServerDatabase(db.database_url(pg_target))
    try:
        with server.connect() as conn:
            assert conn.execute("SELECT '100%'").fetchall() == [("100%",)]
            assert conn.execute("SELECT '5%', ?", (7,)).fetchall() == [("5%", 7)]
            conn.execute("CREATE TEMPORARY TABLE shares (label TEXT, n INTEGER)")
            conn.executemany("INSERT INTO shares VALUES ('~%' || ?, ?)", [("a", 1), ("b", 2)])
            streamed = [
                tuple(row)
                for batch in server.stream(
                    conn, "SELECT label FROM shares WHERE label LIKE '~%' ORDER BY n", (), 1
                )
                for row in batch
            ]
            assert streamed == [("~%a",), ("~%b",)]
    finally:
        server.dispose()


def test_a_lent_snapshot_answers_every_read_the_store_makes(example):
    conn = sqlite3.connect(f"file:{example}?mode=ro", uri=True, isolation_level=None)
    try:
        conn.execute("BEGIN")
        lent = SqlEventStore(db.SnapshotDatabase(conn))
        own = SqlEventStore.open(str(example))
        try:
            assert lent.table_names() == own.table_names()
            head = own.head()
            assert lent.head() == head == 48
            assert list(lent.histories(head)) == list(own.histories(head))
            assert lent.read_subject("commitment/kr-ai-gpus-10000") == own.read_subject(
                "commitment/kr-ai-gpus-10000"
            )
            assert lent.reader_url() is None  # no second process is pointed at a lent snapshot
        finally:
            own.close()
        assert conn.in_transaction  # the owner's transaction, still open: the store ends nothing
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (
            "sqlite://ledger.db",
            "sqlite://ledger.db names no file: write sqlite:///relative/path.db",
        ),
        ("sqlite:///ledger.db?mode=ro", "an SQLite URL takes no options (?...)"),
    ],
)
def test_an_sqlite_url_that_names_no_file_is_refused_in_words(tmp_path, monkeypatch, url, says):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["--db", url, "list"], catch_exceptions=False)
    assert result.exit_code == 1
    assert says in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_file_named_with_a_question_mark_is_still_a_file(tmp_path, example):
    # The path is quoted in the URL the store builds, so `?` is part of the name.
    odd = tmp_path / "who?.db"
    shutil.copy(example, odd)
    result = CliRunner().invoke(cli, ["--db", str(odd), "verify"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "intact: 48 events" in result.output


def test_a_section_of_more_subjects_than_one_statement_takes_is_one_snapshot(tmp_path, monkeypatch):
    # 1,200 actors are read in three statements of 500; a writer committing
    # between them must not show in the later parts.
    path = tmp_path / "ledger.db"
    ledger = Ledger.init(str(path), tz="UTC", user="desk@test")
    lines = [
        f'{{"type": "ActorRegistered", "subject": "actor/a{i:04d}", "occurred_at": "2025-01-01", '
        f'"data": {{"name": "A {i}", "kind": "person"}}}}'
        for i in range(1200)
    ]
    ledger.import_lines(lines)
    ledger.catch_up()
    subjects = [f"actor/a{i:04d}" for i in range(1200)]

    from ledger.store import readmodels

    real_chunks = readmodels.chunks

    def chunks_then_a_writer(items, size):
        for n, chunk in enumerate(real_chunks(items, size)):
            yield chunk
            if n == 0:  # after the first statement, another connection renames a later actor
                with sqlite3.connect(path) as other:
                    other.execute(
                        "UPDATE actors SET state = json_set(state, '$.name', 'changed') "
                        "WHERE subject = 'actor/a1100'"
                    )

    monkeypatch.setattr(readmodels, "chunks", chunks_then_a_writer)
    found = ledger.readmodels.section("actors", subjects)
    ledger.close()
    assert len(found) == 1200
    assert found["actor/a1100"]["name"] == "A 1100"
