"""Imports larger than one chunk: read, checked and written a chunk at a time, in one transaction.

`Ledger.append` holds one chunk (`writing.CHUNK_EVENTS` events) in memory.
These tests shrink the chunk so that small inputs span many chunks, and hold
the chunked import to what the one-batch import did: same events, same
rules (a line may name what a later chunk creates), same errors naming the
same lines, nothing written on any error.
"""

from __future__ import annotations

import gc
import tracemalloc

import orjson
import pytest

from ledger import decoding, writing
from ledger.errors import DuplicateEventConflict, InvalidEvent, RuleViolation
from ledger.service import Ledger
from ledger.synthetic import synthetic_lines
from ledger.writing import Appended
from tests.builders import actor, ev, lines, made
from tests.test_import import event_line, rejected_import, snapshot


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(writing, "CHUNK_EVENTS", 3)
    return 3


def reaffirmed(on: str, statement: str, by: str = "actor/han") -> dict:
    return ev(
        "CommitmentReaffirmed",
        "commitment/gpus",
        on,
        {"by": by, "capacity": "government", "statement": statement},
    )


def facts(ledger: Ledger) -> list[tuple]:
    """Every stored event without its record time (which differs between two imports)."""
    return [
        (
            e.position,
            e.id,
            e.subject,
            e.version,
            e.occurred_at,
            orjson.dumps(e.data, option=orjson.OPT_SORT_KEYS),
        )
        for e in ledger.events()
    ]


def test_a_chunked_import_stores_what_a_single_batch_stores(make_ledger, tmp_path, monkeypatch):
    data = list(synthetic_lines(600, seed=11))
    whole = make_ledger(str(tmp_path / "whole.db"))
    whole.import_lines(data)
    monkeypatch.setattr(writing, "CHUNK_EVENTS", 7)
    chunked = make_ledger(str(tmp_path / "chunked.db"))
    result = chunked.import_lines(data)
    assert len(result.added) == 600
    assert facts(chunked) == facts(whole)
    view = whole.view(as_of="2030-01-01")
    assert chunked.state(view).to_json() == whole.state(view).to_json()
    # One transaction: one record time for the whole import.
    assert len({e.recorded_at for e in chunked.events()}) == 1


def test_a_line_may_name_what_a_later_chunk_creates(any_ledger, small_chunks):
    # The pledge (line 1) names actor/han, registered on line 5: two chunks later.
    data = lines(
        made("gpus", by="actor/han"),
        actor("kim"),
        actor("lee"),
        actor("park"),
        actor("han"),
    )
    result = any_ledger.import_lines(data)
    assert [e.subject for e in result.added] == [
        "commitment/gpus",
        "actor/kim",
        "actor/lee",
        "actor/park",
        "actor/han",
    ]


def test_a_rule_broken_in_an_early_chunk_is_reported_with_its_line_and_nothing_is_written(
    any_ledger, small_chunks
):
    any_ledger.import_lines(lines(actor("kim")))
    data = lines(
        actor("han"),
        made("gpus", by="actor/nobody"),  # line 2: never registered
        actor("lee"),
        actor("park"),
        actor("choi"),
        actor("jung"),
        actor("yoon"),
    )
    error = rejected_import(any_ledger, data, RuleViolation)
    assert error.line == 2
    assert "actor/nobody does not exist" in str(error)
    assert any_ledger.store.subjects() == ["actor/kim"]


def test_a_bad_line_in_the_last_chunk_leaves_nothing_of_the_earlier_chunks(
    any_ledger, small_chunks
):
    data = [*lines(*(actor(f"a{i}") for i in range(10))), b'{"type": "ActorRegistered"']
    error = rejected_import(any_ledger, data, InvalidEvent)
    assert error.line == 11
    assert any_ledger.store.head() == 0


def test_a_rule_broken_in_the_last_chunk_names_its_line(any_ledger, small_chunks):
    data = lines(
        actor("han"),
        made("gpus", by="actor/han"),
        reaffirmed("2025-05-01", "one"),
        reaffirmed("2025-05-02", "two"),
        reaffirmed("2025-05-03", "three"),
        reaffirmed("2025-05-04", "four"),
        reaffirmed("2025-05-05", "five", by="actor/ghost"),  # line 7
    )
    error = rejected_import(any_ledger, data, RuleViolation)
    assert error.line == 7
    assert any_ledger.store.head() == 0


def test_a_line_repeated_chunks_apart_is_added_once(any_ledger, small_chunks):
    data = lines(actor("han"), actor("kim"), actor("lee"), actor("park"), actor("han"))
    result = any_ledger.import_lines(data)
    assert (len(result.added), len(result.skipped)) == (4, 1)
    assert result.skipped == [result.added[0].id]


def test_an_id_reused_chunks_apart_with_other_content_is_refused(any_ledger, small_chunks):
    first = actor("han")
    first["id"] = "0b5f4bde-6c55-4b8e-9d43-2b2f7b9c1a11"
    other = actor("kim")
    other["id"] = first["id"]
    data = lines(first, actor("lee"), actor("park"), actor("choi"), other)
    with pytest.raises(DuplicateEventConflict, match="line 5"):
        any_ledger.import_lines(data)
    assert any_ledger.store.head() == 0


def test_a_large_result_reads_the_added_events_back_from_the_log(ledger, small_chunks):
    data = lines(*(actor(f"a{i}") for i in range(10)))
    result = ledger.import_lines(data)
    assert isinstance(result.added, Appended)
    assert len(result.added) == 10
    assert result.head == 10
    assert [e.subject for e in result.added] == [f"actor/a{i}" for i in range(10)]
    assert result.added[-1].subject == "actor/a9"
    assert [e.position for e in result.added[2:4]] == [3, 4]
    assert result.added == list(ledger.events())
    with pytest.raises(IndexError):
        result.added[10]


def test_a_repeated_large_import_adds_nothing(ledger, small_chunks):
    data = lines(*(actor(f"a{i}") for i in range(10)))
    ledger.import_lines(data)
    before = snapshot(ledger)
    again = ledger.import_lines(data)
    assert (len(again.added), len(again.skipped)) == (0, 10)
    assert snapshot(ledger) == before


def test_the_mirror_of_a_chunked_import_reproduces_it(ledger, make_ledger, tmp_path, small_chunks):
    ledger.import_lines(list(synthetic_lines(120, seed=3)))
    exported = [event_line(e) for e in ledger.events()]
    mirror = make_ledger(str(tmp_path / "mirror.db"))
    mirror.import_mirror(exported)
    assert [event_line(e) for e in mirror.events()] == exported


def _import_peak(make_ledger, path, count: int) -> int:
    data = synthetic_lines(count, seed=5)  # a generator: the input is not held either
    target = make_ledger(str(path))
    gc.collect()
    tracemalloc.start()
    try:
        target.import_lines(data)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_import_memory_does_not_grow_with_the_input(make_ledger, tmp_path, monkeypatch):
    # Twice the events, (about) the same peak: the import holds a chunk, not the file.
    # (The one-batch import grew by about 10 KB per event.) Groups of 500 lines
    # for the decoding worker, so that both inputs fill its read-ahead.
    monkeypatch.setattr(decoding, "GROUP_LINES", 500)
    small = _import_peak(make_ledger, tmp_path / "small.db", 5000)
    large = _import_peak(make_ledger, tmp_path / "large.db", 10000)
    assert large < small * 1.3, (small, large)


def test_a_large_postgresql_import_leaves_the_planner_statistics_of_what_it_wrote(
    make_ledger, pg_target, monkeypatch
):
    # Without statistics the planner answered each chunk's lookups with a scan
    # of the whole table, so a long import slowed down chunk after chunk; the
    # session runs ANALYZE as its writes grow (here: from 300 rows on).
    from ledger.store import sql

    monkeypatch.setattr(sql, "_RESTATE_AFTER", 300)
    ledger = make_ledger(pg_target)
    ledger.import_lines(list(synthetic_lines(1500, seed=9)))
    with ledger.store.engine.connect() as conn:
        estimated = conn.exec_driver_sql(
            "SELECT reltuples FROM pg_class WHERE oid = 'events'::regclass"
        ).scalar_one()
        distinct = conn.exec_driver_sql(
            "SELECT n_distinct FROM pg_stats WHERE tablename = 'events' "
            "AND attname = 'subject' AND schemaname = current_schema()"
        ).scalar_one()
    assert estimated >= 1000  # counted inside the import's own transaction
    assert distinct != 0


# --- mirrors, a chunk at a time ----------------------------------------------------


@pytest.fixture
def source_lines(make_ledger, tmp_path) -> list[bytes]:
    source = make_ledger(str(tmp_path / "source.db"))
    source.import_lines(list(synthetic_lines(60, seed=4)))
    return [event_line(e) for e in source.events()]


def test_a_chunked_mirror_reproduces_the_log_and_extends_across_chunks(
    source_lines, make_ledger, tmp_path, small_chunks
):
    mirror = make_ledger(str(tmp_path / "mirror.db"))
    first = mirror.import_mirror(source_lines[:25])
    assert len(first.added) == 25
    grown = mirror.import_mirror(source_lines)
    assert (len(grown.added), len(grown.skipped)) == (35, 25)
    assert [event_line(e) for e in mirror.events()] == source_lines
    assert [e.position for e in grown.added] == list(range(26, 61))


@pytest.mark.parametrize("damage", ["altered", "duplicated id", "missing", "shorter"])
def test_a_damaged_mirror_file_is_refused_whole_even_after_earlier_chunks(
    source_lines, make_ledger, tmp_path, small_chunks, damage
):
    lines = list(source_lines)
    mirror = make_ledger(str(tmp_path / "mirror.db"))
    if damage == "shorter":
        mirror.import_mirror(lines)
        before = snapshot(mirror)
        with pytest.raises(
            InvalidEvent, match="the file has 40 events but this mirror already has 60"
        ):
            mirror.import_mirror(lines[:40])
        assert snapshot(mirror) == before
        return
    if damage == "altered":
        lines[50] = lines[50].replace(b'"recorded_by":"', b'"recorded_by":"x')
        expected = "altered"
    elif damage == "duplicated id":
        raw = orjson.loads(lines[50])
        raw["id"] = orjson.loads(lines[3])["id"]
        from ledger.records import canonical_bytes, leaf_hash_of

        raw["leaf_hash"] = leaf_hash_of(canonical_bytes(raw))
        lines[50] = orjson.dumps(raw)
        expected = "appears twice"
    else:
        del lines[50]
        expected = "missing"
    with pytest.raises(InvalidEvent, match=expected) as error:
        mirror.import_mirror(lines)
    assert error.value.line == 51
    assert mirror.store.head() == 0


def test_a_mirror_import_holds_a_chunk_not_the_file(make_ledger, tmp_path):
    source = make_ledger(str(tmp_path / "source.db"))
    source.import_lines(synthetic_lines(10000, seed=5))
    lines = [event_line(e) for e in source.events()]

    def peak(count: int, name: str) -> int:
        mirror = make_ledger(str(tmp_path / name))
        gc.collect()
        tracemalloc.start()
        try:
            mirror.import_mirror(iter(lines[:count]))
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(5000, "small.db"), peak(10000, "large.db")
    assert large < small * 1.3, (small, large)


def _pledges_then_their_actor(count: int) -> list[bytes]:
    # Every chunk names an actor the last line registers: every chunk is deferred.
    return lines(*(made(f"p{i}", by="actor/late") for i in range(count)), actor("late"))


def test_a_file_that_names_its_actor_last_imports_in_bounded_memory(make_ledger, tmp_path):
    def peak(count: int, name: str) -> int:
        target = make_ledger(str(tmp_path / name))
        data = _pledges_then_their_actor(count)
        gc.collect()
        tracemalloc.start()
        try:
            result = target.import_lines(iter(data))
            assert len(result.added) == count + 1
            return tracemalloc.get_traced_memory()[1] - sum(len(line) for line in data)
        finally:
            tracemalloc.stop()

    small, large = peak(3000, "small.db"), peak(9000, "large.db")
    assert large < small * 1.4, (small, large)


def test_a_deferred_rule_still_breaking_at_the_end_names_its_line(any_ledger, small_chunks):
    data = lines(
        made("a", by="actor/late"),
        made("b", by="actor/nobody"),  # line 2: never registered
        made("c", by="actor/late"),
        made("d", by="actor/late"),
        actor("late"),
    )
    error = rejected_import(any_ledger, data, RuleViolation)
    assert error.line == 2
    assert "actor/nobody does not exist" in str(error)


def test_a_repeated_import_keeps_its_skipped_ids_compactly(ledger):
    data = lines(*(actor(f"a{i}") for i in range(50)))
    first = ledger.import_lines(data)
    again = ledger.import_lines(data)
    assert list(again.skipped) == [e.id for e in first.added]
    assert again.skipped == [e.id for e in first.added]
    assert again.skipped[-1] == first.added[-1].id
    assert again.skipped[1:3] == [e.id for e in first.added][1:3]


def test_event_ids_keep_any_spelling_they_are_given():
    from ledger.writing import EventIds

    ids = EventIds()
    odd = [
        "0B5F4BDE-6C55-4B8E-9D43-2B2F7B9C1A11",
        "not-a-uuid",
        "0b5f4bde-6c55-4b8e-9d43-2b2f7b9c1a11",
    ]
    ids.extend(odd)
    assert list(ids) == odd and len(ids) == 3
    with pytest.raises(IndexError):
        ids[3]


def test_skipped_ids_cost_sixteen_bytes_each():
    # An idempotent retry of a million-event file skips a million ids: held as
    # strings in a list they cost ~90 bytes each, packed 16 (and a little slack).
    import uuid

    from ledger.writing import EventIds

    given = [str(uuid.uuid4()) for _ in range(10000)]
    gc.collect()
    tracemalloc.start()
    try:
        ids = EventIds()
        ids.extend(given)
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held < 10000 * 40, held
    assert list(ids) == given


def test_a_fault_in_an_earlier_chunk_of_the_same_import_is_reported_as_a_batch_would(
    make_ledger, tmp_path, monkeypatch
):
    # A later chunk retracts the registration an earlier chunk's pledge needs.
    def refusal(chunk: int) -> str:
        monkeypatch.setattr(writing, "CHUNK_EVENTS", chunk)
        target = make_ledger(str(tmp_path / f"c{chunk}.db"))
        han = actor("han")
        han["id"] = "0b5f4bde-6c55-4b8e-9d43-2b2f7b9c1a11"
        retraction = ev(
            "EventRetracted", "actor/han", "2025-05-01", {"event": han["id"], "reason": "wrong"}
        )
        with pytest.raises(RuleViolation) as error:
            target.import_lines(lines(han, made("gpus", by="actor/han"), actor("q"), retraction))
        assert target.store.head() == 0
        return str(error.value)

    assert refusal(1) == refusal(2) == refusal(100)
