"""The pure pieces the one-pass replay leans on, each against what it replaced."""

from __future__ import annotations

import gc
from decimal import Decimal

import pytest

from cli.commands_demo import example_lines
from ledger.errors import LedgerError
from ledger.projections import View, fold_budget, live_events
from ledger.projections.budgets import latest_allocations
from ledger.projections.commitments import _amount_text, _quantity
from ledger.projections.common import valid_time_order
from ledger.projections.state import group_by_subject
from ledger.quantities import QuantityError, format_amount
from ledger.records import StoredEvent, format_recorded_at
from ledger.service import Ledger
from ledger.synthetic import synthetic_lines
from tests.conftest import Clock


@pytest.mark.parametrize(
    "text", ["0", "-0", "1.5", "1.50", "1E+3", "1000", "0.000001", "-12.340", "1" * 40]
)
def test_a_remembered_amount_formats_as_format_amount_does(text: str) -> None:
    value = Decimal(text)
    assert _amount_text(value) == format_amount(value)
    assert _amount_text(value) == format_amount(value)  # and again, from the memo


def test_equal_amounts_share_a_text_and_refused_ones_are_still_refused() -> None:
    assert _amount_text(Decimal("2.50")) == _amount_text(Decimal("2.5")) == "2.5"
    for bad in ("NaN", "Infinity", "1" * 41):
        with pytest.raises(QuantityError):
            _amount_text(Decimal(bad))


def test_remembered_quantities_keep_their_stored_digits() -> None:
    first = _quantity({"amount": "1.50", "unit": "KRW"})
    assert first is _quantity({"amount": "1.50", "unit": "KRW"})  # built once
    other = _quantity({"amount": "1.5", "unit": "KRW"})
    assert str(first.amount) == "1.50" and str(other.amount) == "1.5"
    assert _quantity({"amount": "1.50", "unit": "GPU"}).unit == "GPU"


def _plain_live(events: list[StoredEvent], view: View) -> list[StoredEvent]:
    """`live_events` as it was before `Visible`: the reference."""
    known_key = format_recorded_at(view.known_at) if view.known_at else None
    as_of_key = format_recorded_at(view.as_of) if view.as_of else None
    known = [e for e in events if known_key is None or e.recorded_at <= known_key]
    retracted = {str(e.data["event"]) for e in known if e.type == "EventRetracted"}
    kept = [
        e
        for e in known
        if e.type != "EventRetracted"
        and e.id not in retracted
        and (as_of_key is None or e.occurred_key <= as_of_key)
    ]
    return sorted(kept, key=lambda e: (e.occurred_key, e.position))


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> list[StoredEvent]:
    from datetime import UTC, datetime

    import orjson

    folder = tmp_path_factory.mktemp("replay-folds")
    clock = Clock()
    ledger = Ledger.init(str(folder / "l.db"), tz="Asia/Seoul", clock=clock)
    try:
        ledger.import_lines(list(synthetic_lines(1200, 4)))
        ledger.import_lines(example_lines())
        clock.set(datetime(2028, 1, 1, tzinfo=UTC))
        for victim in list(ledger.events())[::53]:
            line = orjson.dumps(
                {
                    "type": "EventRetracted",
                    "subject": victim.subject,
                    "occurred_at": "2020-01-01",
                    "data": {"event": victim.id, "reason": "test"},
                    "sources": [{"url": "https://example.org/c"}],
                }
            )
            try:
                ledger.import_lines([line])
            except LedgerError:  # refused by the rules: nothing changed
                continue
        return list(ledger.events())
    finally:
        ledger.close()


def test_visible_is_live_events_as_it_was(events: list[StoredEvent]) -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 6, 1, tzinfo=UTC)
    views = [
        View(now=now),
        View(now=now, as_of=datetime(2015, 1, 1, tzinfo=UTC)),
        View(now=now, known_at=datetime(2027, 1, 1, tzinfo=UTC)),
        View(
            now=now,
            as_of=datetime(2024, 1, 1, tzinfo=UTC),
            known_at=datetime(2029, 1, 1, tzinfo=UTC),
        ),
    ]
    histories = list(group_by_subject(events).values())
    assert any(e.type == "EventRetracted" for e in events)
    for view in views:
        for history in histories:
            # Any order in: the store's subject reader hands them over in valid time.
            shuffled = valid_time_order(history)[::-1]
            assert live_events(shuffled, view) == _plain_live(history, view)


def test_a_budget_fold_sums_its_funding_as_latest_allocations_does(
    events: list[StoredEvent],
) -> None:
    lines = [
        live_events(history)
        for subject, history in group_by_subject(events).items()
        if subject.startswith("budget/") and live_events(history)
    ]
    assert len(lines) > 20
    funded: dict[tuple[str, str | None, str], dict[str, Decimal]] = {}
    for line in lines:
        assert fold_budget(line, funded=funded) == fold_budget(line)
    assert funded == latest_allocations(lines)


def test_a_replay_leaves_the_collector_as_it_found_it(tmp_path) -> None:
    ledger = Ledger.init(str(tmp_path / "l.db"), tz="Asia/Seoul", clock=Clock())
    try:
        ledger.import_lines(example_lines())
        assert gc.isenabled()
        state = ledger.state(ledger.view())
        # The result was moved to the oldest generation, nothing left frozen.
        assert gc.isenabled() and gc.get_freeze_count() == 0
        assert state.commitments
    finally:
        ledger.close()


def test_a_replay_leaves_the_hosts_frozen_objects_frozen(tmp_path):
    import gc

    from cli.commands_demo import example_lines
    from ledger.service import Ledger

    ledger = Ledger.init(str(tmp_path / "l.db"), tz="Asia/Seoul")
    ledger.import_lines(example_lines())
    gc.freeze()  # as a pre-fork server does, to keep its pages shared
    try:
        frozen = gc.get_freeze_count()
        ledger.state(ledger.view())
        # (a frozen object that dies meanwhile leaves the count; unfreeze() empties it)
        assert gc.get_freeze_count() > frozen // 2
    finally:
        gc.unfreeze()
        ledger.close()
