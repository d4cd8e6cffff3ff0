"""The export written as the state is read (`Ledger.export_stream`, `policy-ledger export`).

A million events' export document is gigabytes when held whole; the stream
holds one part of a state section at a time. Its bytes must be the reference
export's (`export_bytes(export_document(every event, view))`) in every view,
on SQLite and PostgreSQL, and every part of it (size, root, continuity, state)
must describe one prefix of the log even while other writers append.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

import ledger.readside as readside
from cli.app import cli
from cli.commands_demo import example_lines
from ledger.errors import StorageError
from ledger.export import export_bytes, export_document, streamed_bytes
from ledger.projections import View
from ledger.service import Ledger
from ledger.store.readmodels import ReadModels
from ledger.synthetic import synthetic_lines
from tests.builders import ev, lines, made
from tests.test_export import VIEWS, view_named


@pytest.fixture
def filled(make_ledger: Callable[..., Ledger], db_target: str) -> Ledger:
    """The example ledger and 600 synthetic events, recorded at three moments (the test clock
    moves on with each reading)."""
    ledger = make_ledger(db_target)
    everything = [*example_lines(), *synthetic_lines(600, 3)]
    for start, stop in ((0, 20), (20, 300), (300, len(everything))):
        ledger.import_lines(everything[start:stop])
    return ledger


def _reference(ledger: Ledger, view: View, upto: int | None = None) -> bytes:
    events = [e for e in ledger.events() if upto is None or e.position <= upto]
    return export_bytes(export_document(events, view, None))


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts of 7 subjects, so that every section is written in many parts."""
    monkeypatch.setattr(readside, "_PART", 7)


@pytest.mark.parametrize("which", VIEWS)
def test_the_stream_is_the_reference_export(filled: Ledger, which: str, small_parts: None) -> None:
    view = view_named(filled, which)
    stream = filled.export_stream(view)
    written = b"".join(stream.chunks)
    assert written == _reference(filled, view)
    assert written == export_bytes(filled.export(view))
    document = orjson.loads(written)
    assert (stream.size, stream.root) == (document["ledger"]["size"], document["ledger"]["root"])
    if which == "now":
        assert len(document["commitments"]) > 7 * 3  # many parts, not one


def test_the_present_is_read_from_the_read_models(
    filled: Ledger, monkeypatch: pytest.MonkeyPatch, small_parts: None
) -> None:
    view = view_named(filled, "now")
    expected = _reference(filled, view)

    def no_replay(*_: Any, **__: Any) -> Any:
        raise AssertionError("the log was replayed")

    monkeypatch.setattr(readside, "state_from_store", no_replay)
    assert b"".join(filled.export_stream(view).chunks) == expected


def _more(ledger: Ledger) -> None:
    """Another writer's pledge, and its catch-up of the read models (as its `show` would).

    A commitment: that section is read after the actors and budget lines, so
    an export whose reads were not one snapshot would show it.
    """
    ledger.import_lines(lines(made("late-comer", by="actor/han-duck-soo")))
    ledger.catch_up()


def test_an_append_before_the_state_is_read_is_not_in_the_export(
    filled: Ledger, make_ledger: Callable[..., Ledger], db_target: str, small_parts: None
) -> None:
    view = view_named(filled, "now")
    stream = filled.export_stream(view)  # size, root and continuity are pinned here
    before = stream.size
    other = make_ledger(db_target)
    _more(other)  # the read models move past the pinned position: the state is replayed
    written = b"".join(stream.chunks)
    assert other.store.head() == before + 1
    assert written == _reference(filled, view, upto=before)
    assert b"commitment/late-comer" not in written


def test_an_append_while_the_state_is_read_is_not_in_the_export(
    filled: Ledger, make_ledger: Callable[..., Ledger], db_target: str, small_parts: None
) -> None:
    view = view_named(filled, "now")
    stream = filled.export_stream(view)
    before = stream.size
    parts = [next(stream.chunks)]  # the first part is read: the snapshot is open now
    _more(make_ledger(db_target))
    written = b"".join([*parts, *stream.chunks])
    assert written == _reference(filled, view, upto=before)
    assert b"commitment/late-comer" not in written


def test_empty_sections_and_an_empty_ledger_are_written_as_the_reference(
    make_ledger: Callable[..., Ledger], db_target: str
) -> None:
    ledger = make_ledger(db_target)
    view = ledger.view()
    assert b"".join(ledger.export_stream(view).chunks) == _reference(ledger, view)
    ledger.import_lines(
        lines(ev("ActorRegistered", "actor/only", "2025-01-01", {"name": "Only", "kind": "person"}))
    )
    assert b"".join(ledger.export_stream(view).chunks) == _reference(ledger, view)


def test_streamed_bytes_refuses_parts_it_cannot_place() -> None:
    with pytest.raises(ValueError, match="'zebras' is out of order or not named"):
        b"".join(streamed_bytes({"format": "x"}, ["actors"], [("actors", []), ("zebras", [])]))


def test_a_failure_while_writing_leaves_no_file(
    make_ledger: Callable[..., Ledger],
    sqlite_target: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    small_parts: None,
) -> None:
    ledger = make_ledger(sqlite_target)
    ledger.import_lines(list(example_lines()))
    original = ReadModels.read_at

    def failing(self: ReadModels, *args: Any, **kwargs: Any) -> Iterator[Any]:
        rows = original(self, *args, **kwargs)
        yield next(rows)
        raise StorageError("cannot read the ledger: disk I/O error")

    monkeypatch.setattr(ReadModels, "read_at", failing)
    target = tmp_path / "out" / "state.json"
    # The service's streamed export (a small SQLite ledger is otherwise read whole
    # by the quick path, which builds the document before a byte is written).
    runner = CliRunner(env={"POLICY_LEDGER_DEBUG": None, "POLICY_LEDGER_QUICK_READ": "0"})
    result = runner.invoke(cli, ["--db", sqlite_target, "export", "-o", str(target)])
    assert result.exit_code == 1
    assert result.output == "Error: cannot read the ledger: disk I/O error\n"
    assert not target.exists()
    assert [p.name for p in target.parent.iterdir()] == []  # no temporary file left either


def test_the_state_is_read_as_the_bytes_are_written(
    filled: Ledger, monkeypatch: pytest.MonkeyPatch, small_parts: None
) -> None:
    # Streaming, not a whole document built first: when the first parts of the
    # state have been written, most of it has not been read yet.
    original = ReadModels.read_at
    read = 0

    def counted(self: ReadModels, *args: Any, **kwargs: Any) -> Iterator[Any]:
        nonlocal read
        for part in original(self, *args, **kwargs):
            read += 1
            yield part

    monkeypatch.setattr(ReadModels, "read_at", counted)
    chunks = filled.export_stream(view_named(filled, "now")).chunks
    for _ in range(3):
        next(chunks)
    read_early = read
    rest = list(chunks)
    assert rest
    assert read > 20  # the state came in many parts
    assert read_early <= 3
