"""verify recomputes each event's sort key (occurred_key) from occurred_at and the time zone.

`occurred_key` is not under the leaf hash, yet `show --as-of` and every
valid-time order read it; the time zone setting is under no hash at all. These
tamper with either behind the program's back, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cli.app import cli
from cli.commands_demo import example_lines
from ledger import verification
from ledger.service import Ledger

# Position 47 of the example: ProgressReported on commitment/kr-ai-gpus-10000, 2025-12-01.
PROGRESS = 47
GPU_PROGRESS_SQL = (
    "UPDATE events SET occurred_key = '2030-01-01T00:00:00.000000Z' "
    "WHERE type = 'ProgressReported' AND subject = 'commitment/kr-ai-gpus-10000'"
)


@pytest.fixture
def example(any_ledger: Ledger) -> Ledger:
    any_ledger.import_lines(example_lines())
    return any_ledger


def _tamper(ledger: Ledger, *statements: str) -> None:
    """Edit the database behind the program's back, the append-only triggers dropped first."""
    with ledger.store.engine.begin() as conn:
        if ledger.store.dialect == "sqlite":
            names = conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            ).fetchall()
            for (name,) in names:
                conn.exec_driver_sql(f"DROP TRIGGER {name}")
        else:
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS events_no_update_delete ON events")
        for statement in statements:
            conn.exec_driver_sql(statement)


def _report(ledger: Ledger) -> tuple[int | None, str | None, int]:
    report = verification.verify_ledger(ledger.store)
    return report.position, report.problem, report.checked


def test_the_untouched_example_verifies(example):
    report = verification.verify_ledger(example.store)
    assert report.intact and report.checked == 48


def test_an_altered_sort_key_is_a_fault_at_its_position(example):
    as_of = example.subject_state("commitment/kr-ai-gpus-10000", example.view(as_of="2026-01-01"))
    _tamper(example, GPU_PROGRESS_SQL)
    example.rebuild()
    changed = example.subject_state("commitment/kr-ai-gpus-10000", example.view(as_of="2026-01-01"))
    assert changed != as_of  # the tamper changes the ledger's answers
    assert _report(example) == (
        PROGRESS,
        "its sort key (occurred_key) 2030-01-01T00:00:00.000000Z is not occurred_at 2025-12-01 "
        "in the ledger's time zone Asia/Seoul (2025-11-30T15:00:00.000000Z): "
        "the row or the time zone was altered",
        PROGRESS - 1,
    )


def test_a_sort_key_is_checked_on_rows_read_the_slow_way_too(example):
    """A row whose data is not stored canonically is decoded: its key is still checked."""
    _tamper(
        example,
        "UPDATE events SET data = ' ' || data, occurred_key = '1999-01-01T00:00:00.000000Z' "
        "WHERE position = 3",
    )
    position, problem, _ = _report(example)
    assert (position, problem) == (
        3,
        "its sort key (occurred_key) 1999-01-01T00:00:00.000000Z is not occurred_at 2008-02-29 "
        "in the ledger's time zone Asia/Seoul (2008-02-28T15:00:00.000000Z): "
        "the row or the time zone was altered",
    )


def test_a_changed_time_zone_is_a_fault_at_the_first_bare_date(example):
    _tamper(example, "UPDATE ledger_settings SET value = 'UTC' WHERE key = 'timezone'")
    assert _report(example) == (
        1,
        "its sort key (occurred_key) 1948-08-14T14:00:00.000000Z is not occurred_at 1948-08-15 "
        "in the ledger's time zone UTC (1948-08-15T00:00:00.000000Z): "
        "the row or the time zone was altered",
        0,
    )


def test_a_deleted_time_zone_is_a_fault(example):
    _tamper(example, "DELETE FROM ledger_settings WHERE key = 'timezone'")
    assert _report(example) == (
        1,
        "the ledger's time zone setting is missing: "
        "the events' sort keys (occurred_key) cannot be checked",
        0,
    )


@pytest.mark.parametrize("zone", ["Mars/Base", "America", "", "../etc/passwd"])
def test_an_unknown_time_zone_is_a_fault_not_a_crash(example, zone):
    example.store.put_setting("timezone", zone)
    assert _report(example) == (
        1,
        f"the ledger's time zone setting {zone!r} is not a known time zone: "
        "the events' sort keys (occurred_key) cannot be checked",
        0,
    )


def test_an_unreadable_occurred_at_is_a_fault_not_a_crash(make_ledger, sqlite_target):
    """A row whose occurred_at no longer parses (its leaf hash made to match) is a fault."""
    from tests.test_verify_parallel import _rewrite

    ledger = make_ledger(sqlite_target)
    ledger.import_lines(example_lines())
    ledger.close()
    _rewrite(sqlite_target, 5, occurred_at="2014-03-26t00:00:00z")
    reopened = Ledger.open(sqlite_target)
    try:
        assert _report(reopened)[:2] == (
            5,
            "its occurred_at '2014-03-26t00:00:00z' is not a date or an RFC 3339 date-time",
        )
    finally:
        reopened.close()


def test_an_empty_ledger_without_a_time_zone_has_nothing_to_check(sqlite_target):
    from ledger.store.sql import SqlEventStore

    store = SqlEventStore.open(sqlite_target, create=True)
    try:
        assert store.setting("timezone") is None
        assert verification.verify_ledger(store).intact
    finally:
        store.close()


def test_the_cli_names_the_position_and_exits_1(ledger, sqlite_target):
    ledger.import_lines(example_lines())
    _tamper(ledger, GPU_PROGRESS_SQL)
    ledger.close()
    result = CliRunner().invoke(cli, ["--db", sqlite_target, "verify"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: position 47: its sort key (occurred_key) 2030-01-01T00:00:00.000000Z is not "
        "occurred_at 2025-12-01 in the ledger's time zone Asia/Seoul "
        "(2025-11-30T15:00:00.000000Z): the row or the time zone was altered\n"
    )
