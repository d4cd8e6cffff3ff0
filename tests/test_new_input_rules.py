"""Rules for new input apply to what is written now, not to what was stored before them.

A ledger written before a rule existed (or a mirror of one) must still
replay, be mirrored and take new events; only the new events meet the rule.
"""

from __future__ import annotations

from ledger import rules
from ledger.export import event_line
from tests.builders import lines
from tests.conftest import Clock
from tests.test_rules import FUND, PEOPLE, revised, seed, target

ZERO = revised("fund", "2025-05-01", [target("money", "0", "KRW")])


def _older_ledger(make_ledger, path, monkeypatch):
    """A ledger holding a revision to zero, written as a release without the rule wrote it."""
    with monkeypatch.context() as m:
        m.setattr(rules, "check_new_events", lambda *args: None)
        older = make_ledger(str(path), clock=Clock())
        seed(older, *PEOPLE, FUND, ZERO)
    return older


def test_a_stored_event_written_before_a_rule_still_replays_and_takes_new_events(
    make_ledger, tmp_path, monkeypatch
):
    older = _older_ledger(make_ledger, tmp_path / "older.db", monkeypatch)
    state = older.state_json(older.view())
    assert state["commitments"]["commitment/fund"]["targets"]["money"]["quantity"]["amount"] == "0"
    older.rebuild()
    older.import_lines(lines(revised("fund", "2025-06-01", [target("money", "5조 원")])))


def test_a_mirror_copies_events_written_before_a_rule(make_ledger, tmp_path, monkeypatch):
    older = _older_ledger(make_ledger, tmp_path / "older.db", monkeypatch)
    exported = [event_line(e) for e in older.events()]
    mirror = make_ledger(str(tmp_path / "mirror.db"), clock=Clock())
    mirror.import_mirror(exported)
    assert [event_line(e) for e in mirror.events()] == exported
