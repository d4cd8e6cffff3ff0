"""The continuity report read one subject at a time (`continuity_streamed`).

`continuity_from_store` reads the offices first, then every history in the
order of text, holding one commitment's events at a time; the report must be
the one `continuity_report` gives of every event, byte for byte, in every view
and with every option, on SQLite and on PostgreSQL. In these tests the plain
report is made to fail while the store's report runs, so the streamed path
really answered. When the order it needs does not hold, the plain report
answers instead.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

import ledger.continuity as continuity_module
from cli.commands_demo import example_lines
from ledger.continuity import ContinuityReport, OutOfOrder, continuity_report, continuity_streamed
from ledger.errors import NotFound
from ledger.projections import View
from ledger.readside import continuity_from_store
from ledger.records import StoredEvent
from ledger.service import Ledger
from ledger.synthetic import synthetic_lines
from tests.conftest import Clock

NOW = datetime(2026, 6, 1, tzinfo=UTC)
FIRST_IMPORT = datetime(2026, 1, 1, tzinfo=UTC)
SECOND_IMPORT = datetime(2026, 3, 1, tzinfo=UTC)


def _two_imports(ledger: Ledger, clock: Clock, lines: Sequence[bytes]) -> None:
    """Half the lines recorded at one moment, half later: `known_at` between sees the first half."""
    half = len(lines) // 2
    clock.set(FIRST_IMPORT)
    ledger.import_lines(lines[:half])
    clock.set(SECOND_IMPORT)
    ledger.import_lines(lines[half:])


@pytest.fixture
def filled(make_ledger: Callable[..., Ledger], db_target: str, clock: Clock) -> Iterator[Ledger]:
    """A synthetic ledger of 2,000 events and the example ledger's, in one log."""
    ledger = make_ledger(db_target)
    lines = [*synthetic_lines(2000, 11)]
    _two_imports(ledger, clock, lines)
    ledger.import_lines(list(example_lines()))
    yield ledger


def _views(ledger: Ledger) -> list[View]:
    tz = ledger.tz
    return [
        View(now=NOW, tz=tz),
        View(now=NOW, as_of=datetime(2014, 3, 1, tzinfo=UTC), tz=tz),
        View(now=NOW, as_of=datetime(2025, 6, 10, tzinfo=UTC), tz=tz),
        View(now=NOW, known_at=datetime(2026, 2, 1, tzinfo=UTC), tz=tz),
    ]


def _bytes(report: ContinuityReport) -> bytes:
    return orjson.dumps(report.to_json())


def _outcome(make: Callable[..., ContinuityReport], *args: Any, **options: Any) -> bytes:
    """The report's bytes, or the refusal (an office not yet visible in a past view)."""
    try:
        return _bytes(make(*args, **options))
    except NotFound as refused:
        return f"NotFound: {refused}".encode()


def _no_plain_report(*_: Any, **__: Any) -> ContinuityReport:
    raise AssertionError("the plain report ran: the streamed one did not answer")


def test_the_streamed_report_is_the_report_of_every_event(
    filled: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = list(filled.events())
    offices = sorted({e.subject for e in events if e.subject.startswith("office/")})
    assert len(offices) >= 2
    option_sets: list[dict[str, Any]] = [
        {},
        {"by": "tenure"},
        {"horizon_days": 30},
        {"horizon_days": 3650, "by": "tenure"},
        {"area": "ai"},
        *({"office": office} for office in offices),
    ]
    views = _views(filled)
    expected = {
        (i, j): _outcome(continuity_report, events, view, **options)
        for i, view in enumerate(views)
        for j, options in enumerate(option_sets)
    }
    fates = sum(b.count(b'"fate"') for b in expected.values())
    assert fates > 1000  # the reports follow many commitments, not none
    assert sum(b.startswith(b"NotFound") for b in expected.values()) < len(expected) / 4

    monkeypatch.setattr(continuity_module, "continuity_report", _no_plain_report)
    for i, view in enumerate(views):
        for j, options in enumerate(option_sets):
            found = _outcome(continuity_from_store, filled.store, view, **options)
            assert found == expected[(i, j)], (view, options)


def test_an_unknown_office_is_refused_from_the_offices_alone(
    filled: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(continuity_module, "continuity_report", _no_plain_report)

    def no_histories(*_: Any, **__: Any) -> Iterator[list[StoredEvent]]:
        raise AssertionError("the histories were read")
        yield []  # a generator, as the store's: it fails when read, not when called

    monkeypatch.setattr(filled.store, "histories", no_histories)
    with pytest.raises(NotFound, match="office/nowhere has no visible events"):
        continuity_from_store(filled.store, View(now=NOW, tz=filled.tz), office="office/nowhere")


def test_a_line_after_a_commitment_is_refused_and_the_plain_report_answers(
    filled: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    view = View(now=NOW, tz=filled.tz)
    events = list(filled.events())
    expected = _bytes(continuity_report(events, view))
    histories = list(filled.store.histories(filled.store.head()))
    offices = [e for e in events if e.subject.startswith("office/")]
    with pytest.raises(OutOfOrder, match="came after a commitment"):
        continuity_streamed(offices, reversed(histories), view)

    # A database whose order of text put commitments first: the store's
    # report still gives the right answer, by the plain report.
    original = filled.store.histories
    monkeypatch.setattr(
        filled.store, "histories", lambda *a, **k: reversed(list(original(*a, **k)))
    )
    assert _bytes(continuity_from_store(filled.store, view)) == expected


def test_one_commitment_is_held_at_a_time(filled: Ledger) -> None:
    view = View(now=NOW, tz=filled.tz)
    offices = [e for e in filled.events() if e.subject.startswith("office/")]
    earlier: list[weakref.ref[StoredEvent]] = []  # the events of commitments two or more back
    previous: list[weakref.ref[StoredEvent]] = []  # the last commitment's: may still be in use
    still_held: list[int] = []

    def histories() -> Iterator[list[StoredEvent]]:
        nonlocal previous
        for history in filled.store.histories(filled.store.head()):
            if history[0].subject.startswith("commitment/"):
                still_held.append(sum(ref() is not None for ref in earlier))
                earlier.extend(previous)
                previous = [weakref.ref(stored) for stored in history]
            yield history

    report = continuity_streamed(offices, histories(), view)
    # The histories come without sources (the store names the acts' sources after).
    sourceless = list(filled.store.read_all(sources=False))
    assert _bytes(report) == _bytes(continuity_report(sourceless, view))
    assert len(still_held) > 500
    assert max(still_held) == 0
