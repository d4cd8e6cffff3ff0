"""Numbers and dates at the edges, through the command line: no internal error, ever.

A ratio of two amounts reaches 10**80 and a percentage of it more digits than
Python's default decimal context holds (28); a transition late in year 9998
puts `t + horizon` past the last datetime; an empty clock option must not pass
for no option; an offset of 24 hours must be refused in words an editor reads.
Each case prints the right figure or one line naming the field, with the exit
code of its kind, and writes nothing when refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.builders import actor, ev, lines, made, office
from tests.test_cli import SOURCE, Cli, usage_error

INPUT_MOMENTS = "give a date YYYY-MM-DD or an RFC 3339 date-time with offset"


def tenure(kind: str, holder: str, on: str, **data: str) -> dict[str, Any]:
    """TenureBegan or TenureEnded of office/p."""
    fields = {"holder": holder, **data}
    if kind == "TenureBegan":
        fields.setdefault("role", "elected")
    else:
        fields.setdefault("reason", "term-end")
    return ev(kind, "office/p", on, fields)


def hand_over(on: str) -> list[dict[str, Any]]:
    """office/p held by actor/a from 2000, passed to actor/b at ON."""
    return [
        actor("a", on="2000-01-01"),
        actor("b", on="2000-01-01"),
        office("p", on="2000-01-01"),
        tenure("TenureBegan", "actor/a", "2000-01-01"),
        tenure("TenureEnded", "actor/a", on),
        tenure("TenureBegan", "actor/b", on),
    ]


def ledger_of(tmp_path: Path, *events: dict[str, Any], tz: str = "UTC") -> Cli:
    cli = Cli(tmp_path / "ledger.db")
    cli.ok(f"init --tz {tz}")
    if events:
        cli.import_events(*events)
    return cli


def step_target(amount: str = "1", unit: str = "step") -> list[dict[str, Any]]:
    return [{"key": "x", "quantity": {"amount": amount, "unit": unit}}]


# --- 1. percentages and ratios of any size ---------------------------------------------


def test_report_prints_a_progress_share_of_10_to_the_27_percent(tmp_path: Path) -> None:
    cli = ledger_of(
        tmp_path, actor("a"), made("c", by="actor/a", capacity="government", targets=step_target())
    )
    cli.ok(f"report-progress c --target x --achieved '1E+25 step' --on 2025-05-01 {SOURCE}")
    result = cli.ok(f"report -o {tmp_path / 'site'}")
    assert result.stderr == ""
    page = (tmp_path / "site" / "commitments" / "c.html").read_text("utf-8")
    assert "(1000000000000000000000000000%)" in page


def test_report_prints_shares_of_a_won_target_overshot_by_10_to_the_27(tmp_path: Path) -> None:
    """Progress and money 10**27 times a 1.8조 원 target, each percentage to its last digit."""
    cli = ledger_of(
        tmp_path,
        *hand_over("2030-01-01"),
        made("k", by="actor/a", capacity="government", targets=step_target("1.8조 원", "KRW")),
    )
    cli.ok(f"report-progress k --target x --achieved '1E+39 원' --on 2025-05-01 {SOURCE}")
    money = "1234567890123456789012345678901234567891 원"
    cli.ok(
        "appropriate bb --body actor/a --fiscal-year 2025 --phase approved --instrument main "
        f"--total '{money}' --allocate 'k:x={money}' --on 2025-05-02 {SOURCE}"
    )
    cli.ok(f"report -o {tmp_path / 'site'}")
    page = (tmp_path / "site" / "commitments" / "k.html").read_text("utf-8")
    # 10**39 / (1.8 * 10**12), as a percentage half-even to two places
    assert "(55555555555555555555555555555.56%)" in page
    index = (tmp_path / "site" / "index.html").read_text("utf-8")
    # appropriated / pledged, exactly: 1234567890123456789012345678901234567891 / 18000000000
    assert ">68587105006858710500685871050.07%<" in index


def test_revisions_prints_a_change_of_80_digits_exactly(tmp_path: Path) -> None:
    cli = ledger_of(
        tmp_path,
        actor("a"),
        made("g", by="actor/a", capacity="government", targets=step_target("0.0000000001")),
    )
    cli.ok(
        "revise commitment/g --by actor/a --capacity government "
        f"--target 'x=1234567890123456789012345678901234567890 step' --on 2025-05-01 {SOURCE}"
    )
    (row,) = cli.json("revisions")
    assert row["relative"] == "12345678901234567890123456789012345678899999999999"
    table = cli.ok("revisions").stdout
    assert "+1234567890123456789012345678901234567889999999999900.0%" in table


@pytest.fixture
def overfunded(tmp_path: Path) -> Cli:
    """commitment/t pledges 1 원 and gets 10**30 원 approved."""
    cli = ledger_of(tmp_path, actor("a"))
    cli.ok(
        "pledge t --by actor/a --capacity government --title T --target 'm=1 원' "
        f"--on 2025-01-01 {SOURCE}"
    )
    cli.ok(
        "appropriate b --body actor/a --fiscal-year 2025 --phase approved --instrument main "
        f"--total '1E+30 원' --allocate 't:m=1E+30 원' --on 2025-02-01 {SOURCE}"
    )
    return cli


@pytest.mark.parametrize("below", ["NaN", "nan", "sNaN", "Infinity", "-Infinity", "inf"])
def test_unfunded_below_must_be_a_finite_number(overfunded: Cli, below: str) -> None:
    message = usage_error(overfunded.run(f"unfunded --below {below}"))
    assert message == f"Error: Invalid value for --below: '{below}' is not a finite number"


def test_unfunded_below_a_huge_fraction_lists_a_31_digit_share(overfunded: Cli) -> None:
    (gap,) = overfunded.json("unfunded --below 1E+40")
    assert gap["fraction"] == "1000000000000000000000000000000"
    assert gap["approved"] == "1000000000000000000000000000000"
    table = overfunded.ok("unfunded --below 1E+40").stdout
    assert table.splitlines()[-1].split()[-1] == "1000000000000000000000000000000"
    assert overfunded.json("unfunded --below 1E+30") == []


# --- 3. dates at the end of the calendar --------------------------------------------------


LATE = "9998-12-31T12:00:00-12:00"  # 9999-01-01T00:00Z: the latest day, in the latest zone


@pytest.mark.parametrize("tz", ["UTC", "Asia/Seoul", "Etc/GMT+12"])
def test_a_transition_late_in_9998_exports_reports_and_charts(tmp_path: Path, tz: str) -> None:
    cli = ledger_of(tmp_path, *hand_over(LATE), tz=tz)
    document = orjson.loads(cli.ok("export").stdout_bytes)
    (transition,) = document["continuity"]["office/p"]["transitions"]
    # t + 365 days is past year 9999: the window ends at the last instant every zone shows.
    assert transition["window"]["complete"] is False
    assert transition["window"]["end"].startswith("9999-12-3")
    assert cli.json("continuity")["office/p"]["transitions"] == [transition]
    cli.ok("continuity --by tenure")
    cli.ok(f"report -o {tmp_path / 'site'}")
    assert (tmp_path / "site" / "tenures" / "p-2.html").exists()


def test_a_window_past_year_9999_ends_on_9999_12_31_and_holds_the_last_events(
    tmp_path: Path,
) -> None:
    """The capped window means what the spec's (t, t + H] does: no event can come after it."""
    cli = ledger_of(
        tmp_path,
        *hand_over("9950-01-01"),
        made("c", by="actor/a", capacity="government", on="2025-01-01", targets=step_target()),
        # the last instant an event may name: 9998-12-31 in the westernmost offset
        ev(
            "ProgressReported",
            "commitment/c",
            "9998-12-31T23:59:59-23:59",
            {"target": "x", "achieved": {"amount": "0.5", "unit": "step"}},
        ),
        tz="Asia/Seoul",
    )
    report = cli.json("continuity --horizon 36500")
    (transition,) = report["office/p"]["transitions"]
    assert transition["window"] == {
        "complete": False,
        "end": "9999-12-31T09:00:00+09:00",
        "start": "9950-01-01T00:00:00+09:00",
    }
    (fate,) = transition["commitments"]
    assert fate["fate"] == "continued"
    assert fate["act"]["occurred_at"] == "9998-12-31T23:59:59-23:59"
    printed = cli.ok("continuity --horizon 36500").stdout.splitlines()
    window = [line for line in printed if line.startswith("  window")]
    assert window == [
        "  window 9950-01-01T00:00:00+09:00 → 9999-12-31T09:00:00+09:00  (still open: fates may change)"
    ]


def test_a_timeline_from_year_1000_to_9998_is_charted(tmp_path: Path) -> None:
    cli = ledger_of(
        tmp_path,
        actor("a", on="1000-01-01"),
        made(
            "c",
            by="actor/a",
            on="1000-01-01T00:00:00+23:59",
            targets=step_target(),
            due="9998-12-31",
        ),
        ev(
            "ProgressReported",
            "commitment/c",
            "9998-12-31T23:59:59-23:59",
            {"target": "x", "achieved": {"amount": "0.5", "unit": "step"}},
        ),
        tz="Pacific/Kiritimati",
    )
    cli.ok(f"report -o {tmp_path / 'site'}")
    page = (tmp_path / "site" / "commitments" / "c.html").read_text("utf-8")
    assert "chart-timeline" in page


# --- 4. an empty clock is a usage error ---------------------------------------------------


CLOCKED = [
    "show actor/a",
    "history actor/a",
    "history actor/a --diff",
    "list",
    "export",
    "continuity",
    "unfunded",
    "overdue",
    "stalled",
    "revisions",
    "by-actor actor/a",
    "report -o site",
]


@pytest.mark.parametrize("value", ["''", "' '"])
@pytest.mark.parametrize("option", ["--as-of", "--known-at"])
@pytest.mark.parametrize("command", CLOCKED)
def test_an_empty_clock_is_refused_naming_the_option(
    tmp_path: Path, command: str, option: str, value: str
) -> None:
    cli = ledger_of(tmp_path, actor("a"))
    message = usage_error(cli.run(f"{command} {option} {value}"))
    shown = "''" if value == "''" else "' '"
    assert message == f"Error: Invalid value for {option}: {shown} names no moment: {INPUT_MOMENTS}"
    assert not (tmp_path / "site").exists()


@pytest.mark.parametrize(
    ("arguments", "option"),
    [
        ("--from '' --to 2025-01-01", "--from"),
        ("--known --from 2025-01-01 --to ''", "--to"),
    ],
)
def test_diff_refuses_an_empty_moment(tmp_path: Path, arguments: str, option: str) -> None:
    cli = ledger_of(tmp_path, actor("a"))
    message = usage_error(cli.run(f"diff {arguments}"))
    assert message == f"Error: Invalid value for {option}: '' names no moment: {INPUT_MOMENTS}"


# --- 5. an offset of 24 hours ---------------------------------------------------------------


@pytest.mark.parametrize("offset", ["+24:00", "-24:00", "+23:60", "+00:60", "+99:99"])
def test_an_offset_beyond_23_59_is_refused_in_words(tmp_path: Path, offset: str) -> None:
    cli = ledger_of(tmp_path, actor("a"))
    before = cli.events()
    moment = f"2020-01-01T00:00:00{offset}"
    reason = f"'{moment}' has an invalid UTC offset '{offset}' (offsets run from -23:59 to +23:59)"
    line = b"\n".join(lines(actor("b", on=moment))) + b"\n"
    assert cli.fails("import -", input=line) == f"Error: line 1: occurred_at: {reason}"
    assert cli.fails(f"register-actor actor/c --name C --kind person --on {moment}") == (
        f"Error: --on: {reason}"
    )
    assert cli.events() == before
    assert usage_error(cli.run(f"show actor/a --as-of {moment}")) == (
        f"Error: Invalid value for --as-of: {reason}"
    )


def test_the_widest_offsets_are_still_read(tmp_path: Path) -> None:
    cli = ledger_of(tmp_path, actor("a"))
    cli.import_events(
        actor("b", on="2020-01-01T00:00:00+23:59"), actor("c", on="2020-01-01T00:00:00-23:59")
    )
    assert cli.json("show actor/c")["subject"] == "actor/c"
