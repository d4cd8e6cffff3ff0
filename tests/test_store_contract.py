"""The store contract, run against `SqlEventStore` on SQLite and on PostgreSQL.

Events are built the way the service builds them (decoded, then sealed), so the
store sees what it sees in production; the store itself checks no rules, so the
histories here need not be valid ones.
"""

from __future__ import annotations

import sqlite3
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from ledger.errors import ConcurrencyError, LedgerConfigError, StorageError
from ledger.events import decode_event
from ledger.records import (
    StoredEvent,
    canonical_bytes,
    instant_key,
    leaf_hash_of,
    occurred_instant,
    seal,
)
from ledger.service import Ledger
from ledger.store.sql import SqlEventStore
from tests.builders import actor, ev, lines, made, office

UTC_ZONE = ZoneInfo("UTC")


def sealed(
    raw: dict[str, Any],
    version: int = 1,
    *,
    event_id: str | None = None,
    recorded_at: str = "2026-01-01T00:00:00.000000Z",
) -> StoredEvent:
    """An input event as the service would hand it to the store."""
    event = decode_event(raw)
    return seal(
        event,
        event_id=event_id or str(uuid.uuid4()),
        version=version,
        recorded_at=recorded_at,
        recorded_by="desk@test",
        occurred_key=instant_key(occurred_instant(event.occurred_at, UTC_ZONE)),
    )


def registered(slug: str, version: int = 1, **kwargs: Any) -> StoredEvent:
    """ActorRegistered for actor/SLUG, sealed at a version."""
    return sealed(actor(slug), version, **kwargs)


@pytest.fixture
def store(db_target: str) -> Iterator[SqlEventStore]:
    """A new, empty store, once on SQLite and once on PostgreSQL."""
    opened = SqlEventStore.open(db_target, create=True)
    yield opened
    opened.close()


def fill(store: SqlEventStore, count: int) -> list[StoredEvent]:
    """`count` single-event appends, each to a new actor."""
    added: list[StoredEvent] = []
    for n in range(count):
        added += store.append([registered(f"a{n}")], {f"actor/a{n}": 0})
    return added


# --- appending and positions -------------------------------------------------


def test_an_empty_store_has_head_zero_and_no_events(store: SqlEventStore) -> None:
    assert store.head() == 0
    assert list(store.read_all()) == []
    assert store.subjects() == []


def test_appending_nothing_writes_nothing(store: SqlEventStore) -> None:
    assert store.append([], {}) == []
    assert store.head() == 0


def test_appends_get_positions_one_to_n_without_gaps(store: SqlEventStore) -> None:
    first = store.append(
        [registered("han"), registered("kim"), sealed(office("pm"))],
        {"actor/han": 0, "actor/kim": 0, "office/pm": 0},
    )
    second = store.append(
        [registered("lee"), registered("park")], {"actor/lee": 0, "actor/park": 0}
    )

    assert [e.position for e in first] == [1, 2, 3]
    assert [e.position for e in second] == [4, 5]
    assert store.head() == 5
    assert [e.position for e in store.read_all()] == [1, 2, 3, 4, 5]


def test_append_returns_the_events_it_was_given_with_their_positions(
    store: SqlEventStore,
) -> None:
    given = [registered("han"), registered("kim")]
    placed = store.append(given, {"actor/han": 0, "actor/kim": 0})
    assert placed == [e.placed_at(n) for n, e in enumerate(given, start=1)]


def test_head_is_the_last_committed_position(store: SqlEventStore) -> None:
    fill(store, 4)
    assert store.head() == 4


def test_a_subject_reads_back_in_version_order(store: SqlEventStore) -> None:
    subject = "commitment/gpus"
    store.append([registered("han")], {"actor/han": 0})
    store.append([sealed(made("gpus"), 1)], {subject: 0})
    store.append([registered("kim")], {"actor/kim": 0})
    store.append(
        [
            sealed(
                ev(
                    "CommitmentReaffirmed",
                    subject,
                    "2025-06-01",
                    {"by": "actor/han", "capacity": "government"},
                ),
                2,
            ),
            sealed(
                ev(
                    "CommitmentReaffirmed",
                    subject,
                    "2025-05-01",
                    {"by": "actor/han", "capacity": "government"},
                ),
                3,
            ),
        ],
        {subject: 1},
    )

    history = store.read_subject(subject)
    assert [e.version for e in history] == [1, 2, 3]
    assert [e.position for e in history] == [2, 4, 5]
    assert {e.subject for e in history} == {subject}


def test_an_unknown_subject_reads_back_empty(store: SqlEventStore) -> None:
    fill(store, 1)
    assert store.read_subject("actor/nobody") == []


@pytest.mark.parametrize(
    ("after", "batch_size"), [(0, 2), (2, 2), (3, 2), (0, 1), (0, 7), (0, 1000)]
)
def test_read_all_after_a_position_streams_in_position_order_across_batches(
    store: SqlEventStore, after: int, batch_size: int
) -> None:
    added = fill(store, 7)
    streamed = list(store.read_all(after=after, batch_size=batch_size))
    assert [e.position for e in streamed] == list(range(after + 1, 8))
    assert streamed == added[after:]


def test_read_all_after_the_head_yields_nothing(store: SqlEventStore) -> None:
    fill(store, 3)
    assert list(store.read_all(after=3, batch_size=2)) == []
    assert list(store.read_all(after=99)) == []


def test_read_all_sees_events_appended_between_its_batches(store: SqlEventStore) -> None:
    fill(store, 4)
    stream = store.read_all(batch_size=2)
    seen = [next(stream), next(stream)]
    store.append([registered("late")], {"actor/late": 0})
    seen += list(stream)
    assert [e.position for e in seen] == [1, 2, 3, 4, 5]


def test_read_all_refuses_a_batch_size_below_one(store: SqlEventStore) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        list(store.read_all(batch_size=0))


def test_versions_name_only_the_subjects_that_have_events(store: SqlEventStore) -> None:
    store.append(
        [registered("han"), registered("han", 2), registered("kim")],
        {"actor/han": 0, "actor/kim": 0},
    )
    assert store.versions(["actor/han", "actor/kim", "actor/nobody"]) == {
        "actor/han": 2,
        "actor/kim": 1,
    }
    assert store.versions([]) == {}


def test_find_returns_stored_events_by_id_and_leaves_out_unknown_ids(store: SqlEventStore) -> None:
    han, kim = store.append(
        [registered("han"), registered("kim")], {"actor/han": 0, "actor/kim": 0}
    )
    unknown = str(uuid.uuid4())
    assert store.find([han.id, kim.id, unknown]) == {han.id: han, kim.id: kim}
    assert store.find([]) == {}


def test_find_works_past_the_query_chunk_size(store: SqlEventStore) -> None:
    added = store.append(
        [registered(f"a{n}") for n in range(600)], {f"actor/a{n}": 0 for n in range(600)}
    )
    found = store.find([e.id for e in added])
    assert len(found) == 600
    assert found[added[-1].id] == added[-1]


def test_referencing_lists_the_events_that_name_a_subject_in_position_order(
    store: SqlEventStore,
) -> None:
    store.append([registered("han"), registered("kim")], {"actor/han": 0, "actor/kim": 0})
    by_han = store.append([sealed(made("gpus", by="actor/han"))], {"commitment/gpus": 0})
    store.append([sealed(made("chips", by="actor/kim"))], {"commitment/chips": 0})
    reaffirmed = store.append(
        [
            sealed(
                ev(
                    "CommitmentReaffirmed",
                    "commitment/chips",
                    "2025-06-01",
                    {"by": "actor/han", "capacity": "government"},
                ),
                2,
            )
        ],
        {"commitment/chips": 1},
    )

    assert store.referencing(["actor/han"]) == by_han + reaffirmed
    assert [e.subject for e in store.referencing(["actor/kim"])] == ["commitment/chips"]
    assert [e.position for e in store.referencing(["actor/han", "actor/kim"])] == [3, 4, 5]
    assert store.referencing(["actor/nobody"]) == []


def test_an_event_does_not_reference_its_own_subject(store: SqlEventStore) -> None:
    store.append([registered("han")], {"actor/han": 0})
    assert store.referencing(["actor/han"]) == []


def test_subjects_are_sorted_and_can_be_filtered_by_kind(store: SqlEventStore) -> None:
    store.append(
        [
            registered("kim"),
            sealed(made("gpus")),
            registered("han"),
            registered("han", 2),
            sealed(office("pm")),
        ],
        {"actor/kim": 0, "commitment/gpus": 0, "actor/han": 0, "office/pm": 0},
    )
    assert store.subjects() == ["actor/han", "actor/kim", "commitment/gpus", "office/pm"]
    assert store.subjects("actor") == ["actor/han", "actor/kim"]
    assert store.subjects("commitment") == ["commitment/gpus"]
    assert store.subjects("budget") == []


def test_a_kind_is_matched_literally_not_as_a_pattern(store: SqlEventStore) -> None:
    store.append([registered("han")], {"actor/han": 0})
    assert store.subjects("act_r") == []
    assert store.subjects("%") == []


# --- what is refused, and that nothing of it is written ----------------------


def test_a_stale_expected_version_raises_and_writes_nothing(store: SqlEventStore) -> None:
    store.append([registered("han")], {"actor/han": 0})
    with pytest.raises(ConcurrencyError, match="actor/han is at version 1, not 0"):
        store.append([registered("kim"), registered("han", 1)], {"actor/kim": 0, "actor/han": 0})
    assert store.head() == 1
    assert store.read_subject("actor/kim") == []
    assert store.versions(["actor/han", "actor/kim"]) == {"actor/han": 1}


def test_an_expected_version_ahead_of_the_store_raises_and_writes_nothing(
    store: SqlEventStore,
) -> None:
    with pytest.raises(ConcurrencyError, match="actor/han is at version 0, not 1"):
        store.append([registered("han", 2)], {"actor/han": 1})
    assert store.head() == 0


def test_a_subject_left_out_of_expected_is_checked_against_its_first_version(
    store: SqlEventStore,
) -> None:
    store.append([registered("han")], {})
    with pytest.raises(ConcurrencyError, match="actor/han is at version 1, not 0"):
        store.append([registered("han")], {})
    assert store.head() == 1


def test_versions_with_a_gap_are_refused_before_anything_is_written(
    store: SqlEventStore,
) -> None:
    with pytest.raises(ValueError, match="version 3"):
        store.append([registered("han", 1), registered("han", 3)], {"actor/han": 0})
    with pytest.raises(ValueError, match="version 2"):
        store.append([registered("han", 2)], {"actor/han": 0})
    assert store.head() == 0


def test_a_batch_with_a_duplicate_id_writes_nothing_of_the_batch(store: SqlEventStore) -> None:
    store.append([registered("han")], {"actor/han": 0})
    twice = str(uuid.uuid4())
    with pytest.raises(ConcurrencyError, match="nothing was written"):
        store.append(
            [
                sealed(made("gpus", by="actor/han"), event_id=twice),
                registered("kim", event_id=twice),
            ],
            {"commitment/gpus": 0, "actor/kim": 0},
        )
    assert store.head() == 1
    assert store.subjects() == ["actor/han"]
    assert store.referencing(["actor/han"]) == []
    assert store.find([twice]) == {}


def test_an_id_already_stored_is_refused_and_the_batch_writes_nothing(
    store: SqlEventStore,
) -> None:
    (han,) = store.append([registered("han")], {"actor/han": 0})
    with pytest.raises(ConcurrencyError):
        store.append(
            [registered("kim"), registered("lee", event_id=han.id)],
            {"actor/kim": 0, "actor/lee": 0},
        )
    assert store.head() == 1
    assert store.find([han.id]) == {han.id: han}


def test_positions_stay_gap_free_after_a_refused_batch(store: SqlEventStore) -> None:
    store.append([registered("han")], {"actor/han": 0})
    with pytest.raises(ConcurrencyError):
        store.append([registered("kim"), registered("han")], {"actor/kim": 0, "actor/han": 0})
    (kim,) = store.append([registered("kim")], {"actor/kim": 0})
    assert kim.position == 2
    assert [e.position for e in store.read_all()] == [1, 2]


def test_a_value_postgresql_refuses_is_a_storage_error_and_writes_nothing(pg_target: str) -> None:
    store = SqlEventStore.open(pg_target, create=True)
    try:
        nul = replace(registered("han"), recorded_by="desk\x00@test")
        with pytest.raises(StorageError, match="NUL"):
            store.append([registered("kim"), nul], {"actor/kim": 0, "actor/han": 0})
        assert store.head() == 0
    finally:
        store.close()


def test_a_mirror_append_keeps_the_positions_the_events_carry(store: SqlEventStore) -> None:
    fill(store, 2)
    copied = [registered("han").placed_at(3), registered("kim").placed_at(4)]
    assert store.append(copied, {}, keep_positions=True) == copied
    assert [e.position for e in store.read_all()] == [1, 2, 3, 4]


def test_a_mirror_append_that_does_not_follow_the_head_writes_nothing(
    store: SqlEventStore,
) -> None:
    fill(store, 2)
    with pytest.raises(ConcurrencyError, match="next position is 3"):
        store.append([registered("han").placed_at(2)], {}, keep_positions=True)
    with pytest.raises(ConcurrencyError, match="next position is 3"):
        store.append([registered("han").placed_at(4)], {}, keep_positions=True)
    with pytest.raises(ValueError, match="consecutive"):
        store.append(
            [registered("han").placed_at(3), registered("kim").placed_at(5)],
            {},
            keep_positions=True,
        )
    assert store.head() == 2


# --- exact round trips -------------------------------------------------------


def test_stored_data_and_sources_round_trip_exactly(store: SqlEventStore) -> None:
    name = "한덕수 🇰🇷"
    raw = actor("han", name=name, kind="person")
    raw["data"]["names"] = {"ko": "한덕수", "en": "Han Duck-soo", "emoji": "👩🏽‍💻 ✅"}
    raw["sources"] = [
        {
            "url": "https://example.org/기사?id=1",
            "title": "고성능 GPU 1만 장 확보 🚀",
            "publisher": "연합뉴스",
            "published_on": "2025-04-24",
            "quote": 'He said: "securing 10,000 GPUs" — 고성능 GPU 1만 장\\n\u2028end',
            "sha256": "ab" * 32,
        }
    ]
    pledge = made("gpus", by="actor/han", title="GPU 1만 장 🎯", summary="Café ﬁ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢")
    given = [sealed(raw), sealed(pledge)]

    placed = store.append(given, {"actor/han": 0, "commitment/gpus": 0})

    for read in (
        store.read_subject("actor/han") + store.read_subject("commitment/gpus"),
        list(store.read_all()),
    ):
        assert read == placed
        # Same values, same canonical bytes (data and sources are stored in
        # RFC 8785 key order, so read-back dicts may list keys in another order).
        assert [orjson.dumps(e.to_json(), option=orjson.OPT_SORT_KEYS) for e in read] == [
            orjson.dumps(e.to_json(), option=orjson.OPT_SORT_KEYS) for e in placed
        ]
        assert [e.canonical() for e in read] == [e.canonical() for e in placed]
        assert [e.occurred_key for e in read] == [e.occurred_key for e in placed]
    assert store.find([placed[0].id])[placed[0].id].data["name"] == name
    assert store.read_subject("actor/han")[0].sources == given[0].sources


def test_text_is_stored_in_nfc_as_the_event_gave_it(store: SqlEventStore) -> None:
    decomposed = unicodedata.normalize("NFD", "한덕수")
    assert decomposed != "한덕수"
    (stored,) = store.append([sealed(actor("han", name=decomposed))], {"actor/han": 0})
    assert store.read_subject("actor/han")[0].data["name"] == "한덕수" == stored.data["name"]


def test_the_leaf_hash_of_a_read_event_matches_its_canonical_bytes(store: SqlEventStore) -> None:
    store.append(
        [sealed(actor("han", name="한덕수 🇰🇷")), sealed(made("gpus"))],
        {"actor/han": 0, "commitment/gpus": 0},
    )
    for event in store.read_all():
        assert leaf_hash_of(canonical_bytes(event.to_json())) == event.leaf_hash


def test_a_read_event_decodes_to_the_event_that_was_sealed(store: SqlEventStore) -> None:
    given = sealed(made("gpus", by="actor/han"))
    store.append([given], {"commitment/gpus": 0})
    (read,) = store.read_subject("commitment/gpus")
    assert read.event.data == given.event.data
    assert read.event.sources == given.event.sources


def test_settings_round_trip_and_can_be_replaced(store: SqlEventStore) -> None:
    assert store.setting("timezone") is None
    store.put_setting("timezone", "Asia/Seoul")
    store.put_setting("timezone", "Europe/Berlin")
    assert store.setting("timezone") == "Europe/Berlin"


# --- opening -----------------------------------------------------------------


def test_opening_a_missing_sqlite_file_without_create_fails_and_creates_no_file(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "nowhere" / "ledger.db"
    with pytest.raises(LedgerConfigError, match="run `policy-ledger init` first"):
        SqlEventStore.open(str(missing))
    assert not missing.exists()
    assert not missing.parent.exists()


def test_opening_a_database_without_tables_says_to_run_init(db_target: str) -> None:
    if "://" not in db_target:
        sqlite3.connect(db_target).close()  # an empty SQLite file, no tables
        assert Path(db_target).exists()
    with pytest.raises(LedgerConfigError, match="run `policy-ledger init` first"):
        SqlEventStore.open(db_target)


def test_opening_a_file_that_is_not_a_database_is_a_storage_error(tmp_path: Path) -> None:
    junk = tmp_path / "notes.db"
    junk.write_text("these are my notes, not a ledger\n" * 100)
    with pytest.raises(StorageError, match="not a database"):
        SqlEventStore.open(str(junk))
    with pytest.raises(StorageError, match="not a database"):
        SqlEventStore.open(str(junk), create=True)


def test_a_file_path_with_url_characters_opens_that_very_file(tmp_path: Path) -> None:
    path = tmp_path / "ledger?v=1 #2 100%20.db"
    store = SqlEventStore.open(str(path), create=True)
    store.append([registered("han")], {"actor/han": 0})
    store.close()
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(("-wal", "-shm"))] == [
        path.name
    ]
    reopened = SqlEventStore.open(str(path))
    assert reopened.head() == 1
    reopened.close()


def test_creating_an_existing_ledger_again_keeps_its_events(db_target: str) -> None:
    store = SqlEventStore.open(db_target, create=True)
    added = fill(store, 2)
    store.close()
    again = SqlEventStore.open(db_target, create=True)
    assert list(again.read_all()) == added
    again.close()
    reopened = SqlEventStore.open(db_target)
    assert reopened.head() == 2
    reopened.close()


def test_events_written_through_the_ledger_read_back_from_a_new_store(
    db_target: str, make_ledger: Any
) -> None:
    ledger: Ledger = make_ledger(db_target)
    result = ledger.import_lines(lines(actor("han", name="한덕수"), made("gpus", by="actor/han")))
    store = SqlEventStore.open(db_target)
    try:
        assert list(store.read_all()) == result.added
        assert store.setting("timezone") == "Asia/Seoul"
        assert store.referencing(["actor/han"]) == result.added[1:]
    finally:
        store.close()


def test_a_trusted_stored_event_is_the_constructed_one() -> None:
    # The bulk readers' constructor must build exactly what the dataclass builds.
    fields = {
        "position": 3,
        "id": "0b5f4bde-6c55-4b8e-9d43-2b2f7b9c1a11",
        "type": "ActorRegistered",
        "subject": "actor/han",
        "version": 1,
        "occurred_at": "2025-01-01",
        "recorded_at": "2026-01-01T00:00:00.000000Z",
        "recorded_by": "desk@test",
        "data": {"kind": "person", "name": "Han"},
        "sources": [{"url": "https://example.org/a"}],
        "leaf_hash": "ab" * 32,
        "occurred_key": "2024-12-31T15:00:00.000000Z",
        "schema": 1,
    }
    trusted, built = StoredEvent.trusted(**fields), StoredEvent(**fields)
    assert trusted == built
    assert vars(trusted) == vars(built)
    assert trusted.canonical() == built.canonical()
    assert trusted.references() == built.references() == frozenset()
