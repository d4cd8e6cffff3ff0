"""The one-pass replays (ledger/replay.py) against the plain fold of every event.

`Ledger.state` and `Ledger.rebuild` fold the log one subject's history at a
time, read in subject order. They must give exactly what the plain fold of
every event in position order gives: the same states in every view (dict
order included), the same read-model rows in the same order, the same errors
for a broken ledger, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import Callable
from datetime import UTC, datetime

import orjson
import pytest
from sqlalchemy import text

from cli.commands_demo import example_lines
from ledger import readside
from ledger.errors import CorruptRecord, LedgerError
from ledger.projections import CommitmentState, View, project_ledger
from ledger.projections.state import LedgerFold, group_by_subject
from ledger.readside import state_from_store
from ledger.records import StoredEvent
from ledger.service import Ledger
from ledger.store.readmodels import Rows
from ledger.store.schema import readmodel_metadata
from ledger.synthetic import synthetic_lines
from tests.conftest import Clock

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _retraction(victim: StoredEvent) -> bytes:
    return orjson.dumps(
        {
            "type": "EventRetracted",
            "subject": victim.subject,
            "occurred_at": "2030-01-01",
            "data": {"event": victim.id, "reason": "test"},
            "sources": [{"url": "https://example.org/correction"}],
        }
    )


def _fill(ledger: Ledger, clock: Clock) -> None:
    """A synthetic ledger imported in parts a year of record time apart, then retractions."""
    lines = list(synthetic_lines(1500, 11))
    for year, start in enumerate(range(0, len(lines), 500)):
        clock.set(datetime(2026 + year, 1, 1, tzinfo=UTC))
        ledger.import_lines(lines[start : start + 500])
    clock.set(datetime(2030, 1, 1, tzinfo=UTC))
    retracted = 0
    for victim in list(ledger.events())[::97]:
        try:
            ledger.import_lines([_retraction(victim)])
            retracted += 1
        except LedgerError:
            continue  # the rules refused it: nothing changed
    assert retracted >= 5


def _views(ledger: Ledger) -> list[View]:
    tz = ledger.tz
    return [
        View(now=NOW, tz=tz),
        View(now=NOW, as_of=datetime(2012, 3, 1, tzinfo=UTC), tz=tz),
        View(now=NOW, as_of=datetime(2021, 7, 9, 12, tzinfo=UTC), tz=tz),
        View(now=NOW, known_at=datetime(2027, 6, 1, tzinfo=UTC), tz=tz),
        View(now=NOW, known_at=datetime(2029, 6, 1, tzinfo=UTC), tz=tz),
        View(
            now=NOW,
            as_of=datetime(2018, 1, 1, tzinfo=UTC),
            known_at=datetime(2028, 6, 1, tzinfo=UTC),
            tz=tz,
        ),
    ]


def _same_state(ledger: Ledger, view: View) -> None:
    fast = state_from_store(ledger.store, view)
    plain = project_ledger(ledger.events(), view)
    assert fast == plain
    for section in ("actors", "offices", "commitments", "budgets"):
        # In log order, as the plain fold meets the subjects.
        assert list(getattr(fast, section)) == list(getattr(plain, section)), section
    assert orjson.dumps(fast.to_json()) == orjson.dumps(plain.to_json())


def _table_rows(ledger: Ledger) -> dict[str, list[tuple[object, ...]]]:
    """Every read-model row; on SQLite in rowid (insertion) order, on PostgreSQL sorted
    (its heap puts new rows where deleted ones were)."""
    sqlite = ledger.store.dialect == "sqlite"
    with ledger.store.engine.connect() as conn:
        found = {
            name: [
                tuple(row)
                for row in conn.execute(
                    text(f"SELECT * FROM {name}" + (" ORDER BY rowid" if sqlite else ""))
                )
            ]
            for name in readmodel_metadata.tables
        }
    return found if sqlite else {name: sorted(rows, key=repr) for name, rows in found.items()}


def _rebuilt_rows(
    ledger: Ledger, rows_of: Callable[..., tuple[object, int]]
) -> dict[str, list[tuple[object, ...]]]:
    models = ledger.readmodels
    rows, position = rows_of(ledger.store, ledger.tz)
    assert position == ledger.store.head()
    assert models.apply(rows, expected=models.position(), position=position, full=True)  # type: ignore[arg-type]
    return _table_rows(ledger)


@pytest.fixture(params=["sqlite", "postgres"])
def filled(
    request: pytest.FixtureRequest, make_ledger: Callable[..., Ledger], clock: Clock
) -> Ledger:
    target = request.getfixturevalue("sqlite_target" if request.param == "sqlite" else "pg_target")
    ledger = make_ledger(target)
    _fill(ledger, clock)
    return ledger


def test_the_one_pass_state_is_the_plain_fold_in_every_view(filled: Ledger) -> None:
    for view in _views(filled):
        _same_state(filled, view)


def test_the_one_pass_state_of_the_example_ledger(ledger: Ledger) -> None:
    ledger.import_lines(example_lines())
    for view in _views(ledger):
        _same_state(ledger, view)


def test_the_rebuild_writes_the_plain_folds_rows_in_the_same_order(filled: Ledger) -> None:
    plain = _rebuilt_rows(filled, readside._replayed_rows)
    fast = _rebuilt_rows(filled, readside._streamed_rows)
    assert {name: len(rows) for name, rows in fast.items()} == {
        name: len(rows) for name, rows in plain.items()
    }
    assert fast == plain
    assert len(fast["commitments"]) > 100 and len(fast["targets"]) > 100
    # And through the command's entry point, which returns the position reached.
    assert filled.rebuild() == filled.store.head()
    assert _table_rows(filled) == plain


def test_the_rebuild_holds_rows_not_states(filled: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each commitment's rows are made as it is folded and its state let go:
    # a million events' states are 1.5 GB, their rows a third of that.
    plain = _rebuilt_rows(filled, readside._replayed_rows)
    made = readside._commitment_rows
    states: list[weakref.ref[CommitmentState]] = []
    alive: list[int] = []

    def watched(rows: Rows, subject: str, commitment: CommitmentState) -> None:
        alive.append(sum(ref() is not None for ref in states))
        made(rows, subject, commitment)
        states.append(weakref.ref(commitment))

    monkeypatch.setattr(readside, "_commitment_rows", watched)
    fast = _rebuilt_rows(filled, readside._streamed_rows)
    assert fast == plain
    assert len(states) > 100
    assert max(alive) <= 1  # the one just made may still be in hand


def test_a_line_after_a_commitment_makes_the_rebuild_fold_plainly(
    filled: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = _rebuilt_rows(filled, readside._replayed_rows)
    original = filled.store.histories
    # A server whose order of text put commitments before budget lines.
    monkeypatch.setattr(
        filled.store, "histories", lambda *a, **k: reversed(list(original(*a, **k)))
    )
    with pytest.raises(readside._OutOfOrder, match="came after a commitment"):
        readside._streamed_rows(filled.store, filled.tz)
    assert filled.rebuild() == filled.store.head()
    assert _table_rows(filled) == plain


def test_a_rebuild_then_catch_up_equals_a_rebuild_of_everything(
    make_ledger: Callable[..., Ledger], sqlite_target: str
) -> None:
    ledger = make_ledger(sqlite_target)
    lines = list(synthetic_lines(900, 3))
    ledger.import_lines(lines[:600])
    ledger.rebuild()
    ledger.import_lines(lines[600:])
    assert ledger.catch_up() == 300
    caught_up = _table_rows(ledger)
    ledger.rebuild()
    assert {n: sorted(map(repr, r)) for n, r in caught_up.items()} == {
        n: sorted(map(repr, r)) for n, r in _table_rows(ledger).items()
    }


def test_histories_come_one_subject_at_a_time_in_valid_time_order(filled: Ledger) -> None:
    store = filled.store
    head = store.head()
    every = list(filled.events())
    upto = head - 40
    seen: set[str] = set()
    count = 0
    for history in store.histories(upto, batch_size=7):
        subject = history[0].subject
        assert subject not in seen  # each subject's events together, once
        seen.add(subject)
        assert all(e.subject == subject for e in history)
        assert [(e.occurred_key, e.position) for e in history] == sorted(
            (e.occurred_key, e.position) for e in history
        )
        assert all(e.position <= upto and e.sources == [] for e in history)
        count += len(history)
    assert count == upto
    by_subject = group_by_subject(e for e in every if e.position <= upto)
    assert seen == set(by_subject)
    for history in store.histories(upto):
        plain = {e.position: e for e in by_subject[history[0].subject]}
        for stored in history:
            # Everything a fold reads is as the full reader reads it.
            assert stored.data == plain[stored.position].data
            assert (stored.id, stored.type, stored.recorded_at, stored.schema) == (
                plain[stored.position].id,
                plain[stored.position].type,
                plain[stored.position].recorded_at,
                plain[stored.position].schema,
            )
        break


def test_lines_and_subjects_may_be_folded_in_any_order() -> None:
    # Money is summed line by line as each is folded: the order must not matter.
    ledger_events = _example_events()
    view = View(now=NOW)
    plain = project_ledger(ledger_events, view)
    fold = LedgerFold(view)
    for subject, history in reversed(group_by_subject(ledger_events).items()):
        fold.add(subject, list(reversed(history)))
    reversed_state = fold.finish()
    assert orjson.dumps(reversed_state.to_json()) == orjson.dumps(plain.to_json())
    assert any(
        any(t.funded for t in c.targets.values()) for c in reversed_state.commitments.values()
    )


def _example_events() -> list[StoredEvent]:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        ledger = Ledger.init(str(Path(folder) / "e.db"), tz="Asia/Seoul", clock=Clock())
        try:
            ledger.import_lines(example_lines())
            return list(ledger.events())
        finally:
            ledger.close()


def _corrupt(path: str, positions: list[int]) -> None:
    """Make rows unreadable behind the ledger's back (the triggers refuse it otherwise)."""
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER events_no_update")
    for position in positions:
        conn.execute("UPDATE events SET data = '{not json' WHERE position = ?", (position,))
    conn.commit()
    conn.close()


def test_unreadable_rows_are_reported_as_the_plain_fold_reports_them(
    make_ledger: Callable[..., Ledger], sqlite_target: str
) -> None:
    ledger = make_ledger(sqlite_target)
    ledger.import_lines(example_lines())
    events = list(ledger.events())
    # Two broken rows: the lower position's subject sorts after the other's, so
    # a reader in subject order meets the higher position first.
    low, high = next(
        (a, b) for a in events for b in events if a.position < b.position and a.subject > b.subject
    )
    _corrupt(sqlite_target, [low.position, high.position])
    view = ledger.view()
    with pytest.raises(CorruptRecord) as plain:
        project_ledger(ledger.store.read_all(sources=False), view)
    assert plain.value.position == low.position
    with pytest.raises(CorruptRecord) as fast:
        ledger.state(view)
    assert fast.value.position == low.position and str(fast.value) == str(plain.value)
    # Not chained to the one-pass reader's own failure: the context is the plain fold's.
    assert type(fast.value.__context__) is type(plain.value.__context__)
    with pytest.raises(CorruptRecord) as rebuilt:
        ledger.rebuild()
    assert rebuilt.value.position == low.position


def test_a_broken_history_fails_as_the_plain_fold_fails(
    make_ledger: Callable[..., Ledger], sqlite_target: str
) -> None:
    ledger = make_ledger(sqlite_target)
    ledger.import_lines(example_lines())
    events = list(ledger.events())
    # Two subjects whose histories break a rule: the plain fold names the one
    # it meets first in log order, whichever sorts first by name.
    made = [e for e in events if e.type == "CommitmentMade"]
    first, last = next(
        (a, b) for a in made for b in made if a.position < b.position and a.subject > b.subject
    )
    conn = sqlite3.connect(sqlite_target)
    conn.execute("DROP TRIGGER events_no_update")
    for victim in (first, last):
        conn.execute(
            "UPDATE events SET type = 'ActorRegistered' WHERE position = ?", (victim.position,)
        )
    conn.commit()
    conn.close()
    view = ledger.view()
    with pytest.raises(Exception) as plain:
        project_ledger(ledger.store.read_all(sources=False), view)
    with pytest.raises(Exception) as fast:
        ledger.state(view)
    assert type(fast.value) is type(plain.value) and str(fast.value) == str(plain.value)
    assert first.subject in str(fast.value)
