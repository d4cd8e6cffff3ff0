"""Importing NDJSON (spec section 1): all of a file or none, idempotent, ids kept or derived."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from ledger.errors import DuplicateEventConflict, InvalidEvent, LedgerError
from ledger.events import decode_event
from ledger.export import event_line
from ledger.records import derive_event_id, event_content, format_recorded_at
from ledger.service import Ledger
from tests.builders import actor, ev, lines, made

EXPLICIT_ID = "6f1c2e0a-5b7d-4c1e-9a57-2b1f7c3d9e10"


def envelope(event: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """The event with envelope fields (id, recorded_by) added."""
    return {**event, **fields}


def progress(on: str, amount: Any, unit: str = "GPU") -> dict[str, Any]:
    """ProgressReported on commitment/gpus."""
    return ev(
        "ProgressReported",
        "commitment/gpus",
        on,
        {"target": "gpus", "achieved": {"amount": amount, "unit": unit}},
    )


def forty_nine_good_lines() -> list[bytes]:
    """Two registrations, a pledge and 46 progress reports: 49 valid lines."""
    reports = [progress(f"2025-{5 + i // 28:02d}-{1 + i % 28:02d}", i + 1) for i in range(46)]
    return lines(actor("han"), actor("lee"), made("gpus"), *reports)


def snapshot(ledger: Ledger) -> tuple[int, list[bytes]]:
    """The head and the export-events lines."""
    return ledger.store.head(), [event_line(stored) for stored in ledger.events()]


def rejected_import(ledger: Ledger, data: list[bytes], error: type[LedgerError]) -> LedgerError:
    """Import `data`, expecting `error` and an unchanged ledger."""
    before = snapshot(ledger)
    with pytest.raises(error) as info:
        ledger.import_lines(data)
    assert snapshot(ledger) == before
    return info.value


def _with(change: Callable[[dict[str, Any]], None]) -> bytes:
    raw = progress("2025-07-01", 5000)
    change(raw)
    return orjson.dumps(raw)


BAD_LAST_LINES: dict[str, tuple[bytes, str]] = {
    "bad JSON": (b'{"type": "ProgressReported", "subject": ', "not valid JSON"),
    "not an object": (b"[1, 2, 3]", "an event must be a JSON object"),
    "unknown field": (
        _with(lambda raw: raw["data"].update(colour="red")),
        "data.colour: unknown field",
    ),
    "unknown envelope field": (_with(lambda raw: raw.update(author="me")), "author: unknown field"),
    "unknown type": (
        _with(lambda raw: raw.update(type="ProgressMade")),
        "unknown event type 'ProgressMade'",
    ),
    "bad amount": (
        _with(lambda raw: raw["data"]["achieved"].update(amount="a lot")),
        "data.achieved: cannot read amount",
    ),
    "float amount": (
        _with(lambda raw: raw["data"]["achieved"].update(amount=1.5)),
        "data.achieved",
    ),
    "missing sources": (_with(lambda raw: raw.pop("sources")), "sources: at least one source"),
    "bad date": (
        _with(lambda raw: raw.update(occurred_at="2025-02-30")),
        "occurred_at: '2025-02-30'",
    ),
    "bad subject": (_with(lambda raw: raw.update(subject="commitment/GPUs")), "subject: "),
    "bad id": (_with(lambda raw: raw.update(id="not-a-uuid")), "id: "),
    "broken rule": (
        _with(lambda raw: raw["data"].update(target="chips")),
        "data.target: target 'chips' does not exist",
    ),
    "invalid UTF-8": (b'{"type": "\xff"}', "not valid UTF-8"),
}


@pytest.mark.parametrize("case", sorted(BAD_LAST_LINES))
def test_a_malformed_line_50_of_50_leaves_nothing_of_the_file(any_ledger, case):
    any_ledger.import_lines(lines(actor("kim")))
    bad_line, reason = BAD_LAST_LINES[case]
    data = [*forty_nine_good_lines(), bad_line]
    assert len(data) == 50
    error = rejected_import(any_ledger, data, InvalidEvent)
    assert error.line == 50
    assert str(error).startswith("line 50: ")
    assert reason in str(error)
    assert any_ledger.store.subjects() == ["actor/kim"]


def test_the_same_file_without_its_bad_line_imports(any_ledger):
    result = any_ledger.import_lines(forty_nine_good_lines())
    assert len(result.added) == 49
    assert [e.position for e in result.added] == list(range(1, 50))


def test_line_numbers_count_blank_lines(ledger):
    data = [b"", *lines(actor("han")), b"   ", b'{"type": "ActorRegistered", "subject": 5}']
    error = rejected_import(ledger, data, InvalidEvent)
    assert str(error).startswith("line 4: ")


def test_blank_lines_and_an_empty_file_add_nothing(ledger):
    result = ledger.import_lines([b"", b"  \n"])
    assert (result.added, result.skipped) == ([], [])
    assert ledger.store.head() == 0


# --- idempotency -------------------------------------------------------------------


def test_importing_the_same_file_twice_adds_nothing_the_second_time(any_ledger):
    data = forty_nine_good_lines()
    first = any_ledger.import_lines(data)
    before = snapshot(any_ledger)
    second = any_ledger.import_lines(data)
    assert len(first.added) == 49
    assert (len(second.added), len(second.skipped)) == (0, 49)
    assert second.skipped == [stored.id for stored in first.added]
    assert snapshot(any_ledger) == before


def test_a_file_grown_by_one_line_adds_only_that_line(any_ledger):
    data = forty_nine_good_lines()
    any_ledger.import_lines(data)
    result = any_ledger.import_lines([*data, *lines(progress("2025-12-01", 9000))])
    assert (len(result.added), len(result.skipped)) == (1, 49)
    assert result.added[0].position == 50
    assert result.added[0].version == 48


def test_a_line_repeated_in_one_file_is_added_once(any_ledger):
    result = any_ledger.import_lines(lines(actor("han"), actor("han")))
    assert (len(result.added), len(result.skipped)) == (1, 1)
    assert result.skipped == [result.added[0].id]


def test_a_repeated_file_is_skipped_even_if_the_rules_now_forbid_its_lines(ledger):
    data = lines(actor("han"), made("gpus"), progress("2025-06-01", 10))
    ledger.import_lines(data)
    ledger.import_lines(
        lines(
            ev(
                "CommitmentRevised",
                "commitment/gpus",
                "2025-07-01",
                {
                    "by": "actor/han",
                    "capacity": "government",
                    "targets": [{"key": "chips", "quantity": {"amount": 1, "unit": "chip"}}],
                },
            )
        )
    )
    assert len(ledger.import_lines(data).skipped) == 3


def test_the_same_id_with_other_content_is_rejected_and_nothing_written(any_ledger):
    any_ledger.import_lines(lines(envelope(actor("han"), id=EXPLICIT_ID)))
    other = envelope(actor("han", name="Han Duck-soo"), id=EXPLICIT_ID)
    error = rejected_import(any_ledger, lines(actor("lee"), other), DuplicateEventConflict)
    assert str(error).startswith("line 2: ")
    assert EXPLICIT_ID in str(error)
    assert "other content" in str(error)
    assert any_ledger.store.subjects() == ["actor/han"]


def test_the_same_id_with_other_content_in_one_file_is_rejected(any_ledger):
    first = envelope(made("gpus"), id=EXPLICIT_ID)
    second = envelope(made("chips"), id=EXPLICIT_ID)
    error = rejected_import(any_ledger, lines(actor("han"), first, second), DuplicateEventConflict)
    assert str(error).startswith("line 3: ")
    assert any_ledger.store.head() == 0


def test_the_same_id_on_another_subject_is_rejected(ledger):
    ledger.import_lines(lines(envelope(actor("han"), id=EXPLICIT_ID)))
    rejected_import(ledger, lines(envelope(actor("lee"), id=EXPLICIT_ID)), DuplicateEventConflict)


def test_the_same_id_and_content_from_another_desk_is_skipped(ledger):
    ledger.import_lines(lines(envelope(actor("han"), id=EXPLICIT_ID, recorded_by="a@desk")))
    result = ledger.import_lines(
        lines(envelope(actor("han"), id=EXPLICIT_ID, recorded_by="b@desk"))
    )
    assert result.skipped == [EXPLICIT_ID]
    assert ledger.history("actor/han")[0].recorded_by == "a@desk"


def test_a_retracted_event_imported_again_is_skipped_and_stays_retracted(ledger):
    data = lines(actor("han"), made("gpus"), progress("2025-06-01", 10))
    reported = ledger.import_lines(data).added[-1].id
    retraction = ev(
        "EventRetracted", "commitment/gpus", "2025-12-01", {"event": reported, "reason": "wrong"}
    )
    ledger.import_lines(lines(retraction))
    assert ledger.import_lines(data).skipped[-1] == reported
    state = ledger.commitment("commitment/gpus", ledger.view())
    assert state.targets["gpus"].achieved is None


# --- ids -----------------------------------------------------------------------------


def test_an_explicit_id_is_kept(any_ledger):
    result = any_ledger.import_lines(lines(envelope(actor("han"), id=EXPLICIT_ID)))
    assert result.added[0].id == EXPLICIT_ID
    assert any_ledger.store.find([EXPLICIT_ID])[EXPLICIT_ID].subject == "actor/han"
    exported = orjson.loads(event_line(next(iter(any_ledger.events()))))
    assert exported["id"] == EXPLICIT_ID


def test_an_explicit_id_in_capitals_is_the_same_id(ledger):
    ledger.import_lines(lines(envelope(actor("han"), id=EXPLICIT_ID.upper())))
    assert ledger.history("actor/han")[0].id == EXPLICIT_ID
    assert ledger.import_lines(lines(envelope(actor("han"), id=EXPLICIT_ID))).skipped == [
        EXPLICIT_ID
    ]


def test_an_event_without_id_gets_a_uuid5_of_its_content(any_ledger):
    raw = made("gpus")
    (_, stored) = any_ledger.import_lines(lines(actor("han"), raw)).added
    assert uuid.UUID(stored.id).version == 5
    assert stored.id == derive_event_id(event_content(decode_event(raw)))


def test_the_same_facts_get_the_same_id_in_two_ledgers(any_ledger, make_ledger, tmp_path):
    other = make_ledger(
        str(tmp_path / "other.db"), tz="UTC", clock=lambda: datetime(2030, 1, 1, tzinfo=UTC)
    )
    data = lines(actor("han"), made("gpus"), progress("2025-06-01", 10))
    ours = [e.id for e in any_ledger.import_lines(data).added]
    theirs = [e.id for e in other.import_lines(reversed(data)).added]
    assert ours == list(reversed(theirs))


def test_the_same_facts_spelled_differently_get_the_same_id(ledger):
    first = made("gpus")
    second = orjson.loads(orjson.dumps(made("gpus")))
    second["data"]["targets"][0]["quantity"] = {"unit": "GPU", "amount": 10000}
    second["data"]["title"] = "  " + second["data"]["title"] + " "
    second = dict(reversed(list(second.items())))
    second["recorded_by"] = "another@desk"
    ledger.import_lines(lines(actor("han"), first))
    assert len(ledger.import_lines(lines(second)).skipped) == 1


def test_different_facts_get_different_ids(ledger):
    result = ledger.import_lines(
        lines(
            progress("2025-06-01", 10),
            progress("2025-06-01", 11),
            progress("2025-06-02", 10),
            actor("han"),
            made("gpus"),
        )
    )
    assert len({e.id for e in result.added}) == 5


def test_the_same_facts_with_another_source_are_another_event(ledger):
    ledger.import_lines(lines(actor("han"), made("gpus")))
    resourced = made("gpus")
    resourced["sources"] = [{"url": "https://example.org/other"}]
    rejected_import(ledger, lines(resourced), InvalidEvent)


# --- what the ledger adds ----------------------------------------------------------


def test_stored_events_get_positions_versions_recorded_at_and_recorded_by(ledger, clock):
    clock.set(datetime(2026, 2, 3, 4, 5, 6, 789, tzinfo=UTC))
    result = ledger.import_lines(
        lines(
            actor("han"),
            envelope(made("gpus"), recorded_by="reporter@paper"),
            progress("2025-06-01", 1),
        )
    )
    assert [(e.position, e.subject, e.version) for e in result.added] == [
        (1, "actor/han", 1),
        (2, "commitment/gpus", 1),
        (3, "commitment/gpus", 2),
    ]
    (recorded_at,) = {e.recorded_at for e in result.added}
    assert re.fullmatch(r"2026-02-03T04:05:\d\d\.000789Z", recorded_at)
    assert "2026-02-03T04:05:06.000789Z" < recorded_at <= format_recorded_at(clock.now)
    assert [e.recorded_by for e in result.added] == ["desk@test", "reporter@paper", "desk@test"]
    for stored in result.added:
        assert re.fullmatch(r"[0-9a-f]{64}", stored.leaf_hash)
    exported = orjson.loads(event_line(result.added[1]))
    assert sorted(exported) == sorted(
        [
            "position",
            "id",
            "type",
            "subject",
            "version",
            "occurred_at",
            "recorded_at",
            "recorded_by",
            "data",
            "sources",
            "leaf_hash",
        ]
    )
    assert exported["data"]["targets"][0]["quantity"] == {"amount": "10000", "unit": "GPU"}


def test_a_second_import_continues_positions_and_versions(any_ledger):
    any_ledger.import_lines(lines(actor("han"), made("gpus")))
    (stored,) = any_ledger.import_lines(lines(progress("2025-06-01", 1))).added
    assert (stored.position, stored.version) == (3, 2)
