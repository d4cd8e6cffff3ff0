"""Derived state (spec section 3): the two clocks, the status rules, and funding by phase."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from ledger.errors import InvalidEvent, NotFound
from ledger.service import Ledger
from tests.builders import actor, ev, lines, made, office

TRILLION = Decimal(10) ** 12


def revised(slug: str, on: str, **data: Any) -> dict[str, Any]:
    """CommitmentRevised of commitment/SLUG by actor/han."""
    return ev(
        "CommitmentRevised",
        f"commitment/{slug}",
        on,
        {"by": "actor/han", "capacity": "government", **data},
    )


def progress(
    slug: str, on: str, amount: Any, key: str = "gpus", unit: str = "GPU"
) -> dict[str, Any]:
    """ProgressReported on commitment/SLUG."""
    return ev(
        "ProgressReported",
        f"commitment/{slug}",
        on,
        {"target": key, "achieved": {"amount": amount, "unit": unit}},
    )


def by_han(type_: str, slug: str, on: str, **data: Any) -> dict[str, Any]:
    """A commitment event by actor/han in capacity government."""
    return ev(
        type_, f"commitment/{slug}", on, {"by": "actor/han", "capacity": "government", **data}
    )


def appropriation(
    slug: str,
    on: str,
    phase: str,
    *allocations: tuple[str, str | None, Any],
    total: Any = "10조 원",
) -> dict[str, Any]:
    """AppropriationRecorded for budget/SLUG with (commitment slug, target, amount) allocations."""
    items = []
    for commitment, key, amount in allocations:
        item: dict[str, Any] = {
            "commitment": f"commitment/{commitment}",
            "quantity": {"amount": amount},
        }
        if key is not None:
            item["target"] = key
        items.append(item)
    return ev(
        "AppropriationRecorded",
        f"budget/{slug}",
        on,
        {
            "body": "actor/assembly",
            "fiscal_year": 2025,
            "phase": phase,
            "instrument": "main",
            "quantity": {"amount": total},
            "allocations": items,
        },
    )


def retract(subject: str, event_id: str, on: str = "2025-12-01") -> dict[str, Any]:
    """EventRetracted of an event of SUBJECT."""
    return ev("EventRetracted", subject, on, {"event": event_id, "reason": "wrong report"})


def at(text: str) -> datetime:
    """An instant from RFC 3339 text."""
    return datetime.fromisoformat(text)


FUND = made(
    "fund",
    targets=[{"key": "money", "quantity": {"amount": "3조 원"}, "due": "2026-12-31"}],
)


def seed(ledger: Ledger, *events: dict[str, Any]) -> list[str]:
    """Import the events; return their ids."""
    return [stored.id for stored in ledger.import_lines(lines(*events)).added]


def status(ledger: Ledger, slug: str = "gpus", **clocks: str) -> str:
    """The status of commitment/SLUG in a view."""
    return str(ledger.subject_state(f"commitment/{slug}", ledger.view(**clocks))["status"])


def funded(ledger: Ledger, slug: str = "fund", key: str = "money", **clocks: str) -> dict[str, str]:
    """A target's funding by phase, as exported."""
    state = ledger.subject_state(f"commitment/{slug}", ledger.view(**clocks))
    return dict(state["targets"][key]["funded"])


@pytest.fixture
def pledged(ledger: Ledger) -> Ledger:
    """A ledger with actors and commitment/gpus (10,000 GPUs, no due date) made 2025-04-24."""
    seed(ledger, actor("han"), actor("assembly", kind="legislature"), made("gpus"), FUND)
    return ledger


# --- as-of: the world at T ---------------------------------------------------------


def test_as_of_before_a_revision_shows_the_old_quantity(pledged):
    seed(
        pledged,
        revised(
            "gpus",
            "2025-07-01",
            targets=[{"key": "gpus", "quantity": {"amount": "15000", "unit": "GPU"}}],
        ),
    )

    def quantity(**clocks: str) -> Decimal:
        return (
            pledged.commitment("commitment/gpus", pledged.view(**clocks))
            .targets["gpus"]
            .quantity.amount
        )

    assert quantity(as_of="2025-06-30") == 10_000
    assert quantity(as_of="2025-06-30T23:59:59+09:00") == 10_000
    assert quantity(as_of="2025-07-01") == 15_000
    assert quantity() == 15_000


def test_a_revision_keeps_the_target_fields_it_does_not_give(pledged):
    seed(
        pledged,
        revised("fund", "2025-07-01", targets=[{"key": "money", "quantity": {"amount": "4조 원"}}]),
    )
    target = pledged.subject_state("commitment/fund", pledged.view())["targets"]["money"]
    assert target["quantity"] == {"amount": "4000000000000", "unit": "KRW"}
    assert target["due"] == "2026-12-31"


def test_as_of_before_the_commitment_was_made_does_not_find_it(pledged):
    with pytest.raises(NotFound):
        pledged.commitment("commitment/gpus", pledged.view(as_of="2025-04-23"))
    assert "commitment/gpus" not in pledged.state(pledged.view(as_of="2025-04-23")).commitments
    assert "commitment/gpus" in pledged.state(pledged.view(as_of="2025-04-24")).commitments


def test_a_bare_as_of_date_is_the_start_of_that_day_in_the_ledgers_zone(pledged):
    seed(pledged, progress("gpus", "2025-06-01T08:59:59+09:00", 100))
    assert (
        pledged.commitment("commitment/gpus", pledged.view(as_of="2025-06-01"))
        .targets["gpus"]
        .achieved
        is None
    )
    assert (
        pledged.commitment("commitment/gpus", pledged.view(as_of="2025-05-31T23:59:59Z"))
        .targets["gpus"]
        .achieved
        == 100
    )


def test_a_bad_clock_is_rejected_naming_the_option(pledged):
    with pytest.raises(InvalidEvent, match="--as-of"):
        pledged.view(as_of="2025-02-30")
    with pytest.raises(InvalidEvent, match="--known-at"):
        pledged.view(known_at="yesterday")


def test_as_of_shows_the_office_holder_at_that_time(ledger):
    tenure = {"role": "elected"}
    seed(
        ledger,
        actor("moon"),
        actor("yoon"),
        office("president"),
        ev("TenureBegan", "office/president", "2017-05-10", {"holder": "actor/moon", **tenure}),
        ev(
            "TenureEnded",
            "office/president",
            "2022-05-09T23:59:59+09:00",
            {"holder": "actor/moon", "reason": "term-end"},
        ),
        ev("TenureBegan", "office/president", "2022-05-10", {"holder": "actor/yoon", **tenure}),
    )

    def holder(**clocks: str) -> Any:
        return ledger.subject_state("office/president", ledger.view(**clocks))["holder"]

    assert holder(as_of="2020-01-01") == "actor/moon"
    assert holder(as_of="2022-05-10") == "actor/yoon"
    assert holder(as_of="2010-01-01") is None


# --- known-at: what the ledger said at K ------------------------------------------------


def test_known_at_before_a_later_recorded_back_filled_event_does_not_show_it(pledged, clock):
    clock.set(at("2026-03-01T00:00:00+00:00"))
    seed(pledged, progress("gpus", "2025-06-01", 2000))

    def achieved(**clocks: str) -> Decimal | None:
        return (
            pledged.commitment("commitment/gpus", pledged.view(**clocks)).targets["gpus"].achieved
        )

    assert achieved(known_at="2026-02-01T00:00:00Z") is None
    assert achieved(known_at="2026-03-01T00:00:02Z") == 2000
    assert achieved(as_of="2025-07-01") == 2000  # as known now
    assert achieved(as_of="2025-07-01", known_at="2026-02-01T00:00:00Z") is None
    assert achieved(as_of="2025-05-31", known_at="2026-03-02T00:00:00Z") is None


def test_known_at_before_the_first_event_finds_nothing(pledged):
    assert pledged.state(pledged.view(known_at="2025-12-31T00:00:00Z")).commitments == {}


def test_known_at_before_a_retraction_shows_the_retracted_events_effect(pledged, clock):
    clock.set(at("2026-02-01T00:00:00+00:00"))
    (reported,) = seed(pledged, progress("gpus", "2025-06-01", 2000))
    clock.set(at("2026-03-01T00:00:00+00:00"))
    seed(pledged, retract("commitment/gpus", reported))

    def achieved(**clocks: str) -> Decimal | None:
        return (
            pledged.commitment("commitment/gpus", pledged.view(**clocks)).targets["gpus"].achieved
        )

    assert achieved(known_at="2026-02-15T00:00:00Z") == 2000
    assert status(pledged, known_at="2026-02-15T00:00:00Z") == "in-progress"
    assert achieved(known_at="2026-03-15T00:00:00Z") is None
    assert achieved() is None
    assert status(pledged) == "pledged"


def test_a_retraction_applies_whatever_its_occurred_at(pledged):
    # A retraction corrects the record, it is not a happening in the world.
    (reported,) = seed(pledged, progress("gpus", "2025-06-01", 2000))
    seed(pledged, retract("commitment/gpus", reported, on="2025-12-01"))
    state = pledged.commitment("commitment/gpus", pledged.view(as_of="2025-07-01"))
    assert state.targets["gpus"].achieved is None
    assert state.event_count == 1


def test_known_at_before_a_retraction_of_a_revision_shows_the_revised_quantity(pledged, clock):
    clock.set(at("2026-02-01T00:00:00+00:00"))
    (revision,) = seed(
        pledged,
        revised(
            "gpus",
            "2025-07-01",
            targets=[{"key": "gpus", "quantity": {"amount": "5000", "unit": "GPU"}}],
        ),
    )
    clock.set(at("2026-03-01T00:00:00+00:00"))
    seed(pledged, retract("commitment/gpus", revision))
    view = pledged.view(known_at="2026-02-15T00:00:00Z")
    assert pledged.commitment("commitment/gpus", view).targets["gpus"].quantity.amount == 5000
    assert (
        pledged.commitment("commitment/gpus", pledged.view()).targets["gpus"].quantity.amount
        == 10_000
    )


def test_the_whole_ledger_and_one_commitment_agree_in_every_view(pledged, clock):
    seed(
        pledged,
        progress("gpus", "2025-06-01", 2000),
        appropriation(
            "ai", "2025-05-01", "approved", ("fund", "money", "1조 원"), ("gpus", None, "2조 원")
        ),
    )
    clock.set(at("2026-03-01T00:00:00+00:00"))
    seed(pledged, appropriation("ai", "2025-09-01", "adjusted", ("fund", "money", "5천억 원")))
    for clocks in ({}, {"as_of": "2025-08-01"}, {"known_at": "2026-02-01T00:00:00Z"}):
        view = pledged.view(**clocks)
        whole = pledged.state(view)
        for subject in ("commitment/gpus", "commitment/fund"):
            one = pledged.commitment(subject, view)
            assert whole.commitments[subject].to_json(view.judged_on) == one.to_json(view.judged_on)


# --- status, first match --------------------------------------------------------------


def test_a_commitment_without_progress_or_money_is_pledged(pledged):
    assert status(pledged) == "pledged"


def test_a_progress_report_makes_it_in_progress(pledged):
    seed(pledged, progress("gpus", "2025-06-01", 0))
    assert status(pledged) == "in-progress"
    assert status(pledged, as_of="2025-05-31") == "pledged"


@pytest.mark.parametrize("phase", ["approved", "adjusted", "executed"])
def test_an_allocation_in_force_makes_it_in_progress(pledged, phase):
    seed(pledged, appropriation("ai", "2025-06-01", phase, ("fund", "money", "1조 원")))
    assert status(pledged, "fund") == "in-progress"
    assert status(pledged, "fund", as_of="2025-05-31") == "pledged"


def test_a_proposed_allocation_leaves_it_pledged(pledged):
    seed(pledged, appropriation("ai", "2025-06-01", "proposed", ("fund", "money", "1조 원")))
    assert status(pledged, "fund") == "pledged"
    assert funded(pledged)["proposed"] == "1000000000000"


def test_an_allocation_naming_no_target_makes_it_in_progress(pledged):
    seed(pledged, appropriation("ai", "2025-06-01", "approved", ("gpus", None, "1조 원")))
    assert status(pledged) == "in-progress"
    state = pledged.subject_state("commitment/gpus", pledged.view())
    assert state["funded"] == {
        "KRW": {"approved": "1000000000000", "executed": "0", "proposed": "0"}
    }


def test_a_commitment_is_delivered_when_every_target_reaches_its_quantity(pledged):
    seed(
        pledged,
        made(
            "two",
            targets=[
                {"key": "gpus", "quantity": {"amount": 10, "unit": "GPU"}},
                {"key": "centres", "quantity": {"amount": 2, "unit": "centre"}},
            ],
        ),
        progress("two", "2025-06-01", 10),
        progress("two", "2025-07-01", 1, key="centres", unit="centre"),
    )
    assert status(pledged, "two") == "in-progress"
    seed(pledged, progress("two", "2025-08-01", 3, key="centres", unit="centre"))
    assert status(pledged, "two") == "delivered"
    assert status(pledged, "two", as_of="2025-07-31") == "in-progress"


def test_achieved_is_the_latest_cumulative_level_not_a_sum(pledged):
    seed(pledged, progress("gpus", "2025-06-01", 6000), progress("gpus", "2025-07-01", 7000))
    state = pledged.commitment("commitment/gpus", pledged.view())
    assert state.targets["gpus"].achieved == 7000
    assert status(pledged) == "in-progress"


def test_a_back_filled_progress_report_does_not_override_a_later_one(pledged):
    seed(pledged, progress("gpus", "2025-09-01", 10_000))
    seed(pledged, progress("gpus", "2025-06-01", 3000))
    assert status(pledged) == "delivered"
    assert status(pledged, as_of="2025-08-01") == "in-progress"


def test_raising_a_delivered_target_makes_it_undelivered_again(pledged):
    seed(
        pledged,
        progress("gpus", "2025-06-01", 10_000),
        revised(
            "gpus",
            "2025-07-01",
            targets=[{"key": "gpus", "quantity": {"amount": "15000", "unit": "GPU"}}],
        ),
    )
    assert status(pledged, as_of="2025-06-15") == "delivered"
    assert status(pledged) == "in-progress"


def test_a_qualitative_pledge_of_quantity_one_is_delivered_by_a_progress_report_of_one(pledged):
    amendment = made(
        "amendment",
        targets=[
            {
                "key": "proposal",
                "description": "propose an amendment",
                "quantity": {"amount": 1, "unit": "step"},
            }
        ],
    )
    seed(pledged, amendment, progress("amendment", "2025-06-01", 0, key="proposal", unit="step"))
    assert status(pledged, "amendment") == "in-progress"
    seed(pledged, progress("amendment", "2025-09-01", 1, key="proposal", unit="step"))
    assert status(pledged, "amendment") == "delivered"
    target = pledged.subject_state("commitment/amendment", pledged.view())["targets"]["proposal"]
    assert target["achieved"] == "1"
    assert target["quantity"] == {"amount": "1", "unit": "step"}


def test_a_reduction_target_is_reached_from_above(pledged):
    debt = made(
        "debt",
        targets=[
            {
                "key": "ratio",
                "quantity": {"amount": "80", "unit": "percent-gdp"},
                "baseline": {"amount": "93.5", "unit": "percent-gdp"},
            }
        ],
    )
    seed(pledged, debt, progress("debt", "2025-06-01", "90", key="ratio", unit="percent-gdp"))
    assert status(pledged, "debt") == "in-progress"
    seed(pledged, progress("debt", "2025-09-01", "79.9", key="ratio", unit="percent-gdp"))
    assert status(pledged, "debt") == "delivered"


def test_a_cut_line_lowers_the_funding_summed_over_lines(pledged):
    seed(
        pledged,
        appropriation("ai", "2025-05-01", "approved", ("fund", "money", "8천억 원")),
        appropriation(
            "ai-cut", "2025-09-01", "approved", ("fund", "money", "-3천억 원"), total="-5천억 원"
        ),
    )
    assert funded(pledged)["approved"] == "500000000000"


def test_a_passed_due_date_makes_it_overdue_judged_at_as_of(pledged):
    # money is due 2026-12-31: it has passed from the start of 2027-01-01 in Seoul.
    assert status(pledged, "fund", as_of="2026-12-31T23:59:59+09:00") == "pledged"
    assert status(pledged, "fund", as_of="2026-12-31T15:00:00Z") == "overdue"
    assert status(pledged, "fund", as_of="2027-01-01") == "overdue"


def test_a_passed_due_date_is_judged_at_the_moment_of_the_query_without_as_of(pledged, clock):
    clock.set(at("2026-12-31T14:59:00+00:00"))
    assert status(pledged, "fund") == "pledged"
    clock.set(at("2026-12-31T15:00:00+00:00"))
    assert status(pledged, "fund") == "overdue"


def test_the_same_events_and_as_of_give_the_same_state_whatever_the_clock(pledged, clock):
    clock.set(at("2026-06-01T00:00:00+00:00"))
    before = pledged.subject_state("commitment/fund", pledged.view(as_of="2026-06-01"))
    clock.set(at("2030-01-01T00:00:00+00:00"))
    assert pledged.subject_state("commitment/fund", pledged.view(as_of="2026-06-01")) == before
    assert before["status"] == "pledged"
    assert status(pledged, "fund") == "overdue"


def test_the_commitments_own_due_date_counts(pledged):
    seed(pledged, revised("gpus", "2025-07-01", due="2025-12-31"))
    assert status(pledged, as_of="2025-12-31") == "pledged"
    assert status(pledged, as_of="2026-01-01") == "overdue"
    assert pledged.subject_state("commitment/gpus", pledged.view())["due"] == "2025-12-31"


def test_overdue_comes_before_in_progress(pledged):
    seed(pledged, appropriation("ai", "2025-06-01", "approved", ("fund", "money", "1조 원")))
    assert status(pledged, "fund", as_of="2026-06-01") == "in-progress"
    assert status(pledged, "fund", as_of="2027-06-01") == "overdue"


def test_delivered_comes_before_overdue(pledged):
    seed(
        pledged,
        ev(
            "ProgressReported",
            "commitment/fund",
            "2027-03-01",
            {"target": "money", "achieved": {"amount": "3조 원"}},
        ),
    )
    assert status(pledged, "fund", as_of="2027-02-01") == "overdue"
    assert status(pledged, "fund", as_of="2027-03-01") == "delivered"


def test_superseded_comes_before_delivered(pledged):
    seed(
        pledged,
        progress("gpus", "2025-06-01", 10_000),
        by_han("CommitmentSuperseded", "gpus", "2025-07-01", successor="commitment/fund"),
    )
    assert status(pledged, as_of="2025-06-30") == "delivered"
    assert status(pledged) == "superseded"
    assert (
        pledged.subject_state("commitment/gpus", pledged.view())["superseded_by"]
        == "commitment/fund"
    )


def test_withdrawn_comes_before_superseded(pledged):
    seed(
        pledged,
        by_han("CommitmentSuperseded", "gpus", "2025-07-01", successor="commitment/fund"),
        by_han("CommitmentWithdrawn", "gpus", "2025-08-01", reason="abandoned"),
    )
    assert status(pledged, as_of="2025-07-15") == "superseded"
    assert status(pledged) == "withdrawn"


def test_a_withdrawal_known_only_later_is_not_seen_before_it_was_recorded(pledged, clock):
    clock.set(at("2026-05-01T00:00:00+00:00"))
    seed(pledged, by_han("CommitmentWithdrawn", "gpus", "2025-08-01", reason="abandoned"))
    assert status(pledged, known_at="2026-04-01T00:00:00Z") == "pledged"
    assert status(pledged, known_at="2026-05-02T00:00:00Z") == "withdrawn"


def test_assessments_keep_the_latest_per_assessor_and_leave_status_alone(pledged):
    watchdog = actor("watchdog", kind="organization")

    def assessed(on: str, rating: str) -> dict[str, Any]:
        return ev(
            "AssessmentRecorded",
            "commitment/gpus",
            on,
            {"assessor": "actor/watchdog", "rubric": "politifact", "rating": rating},
        )

    seed(
        pledged, watchdog, assessed("2025-09-01", "stalled"), assessed("2025-06-01", "in-the-works")
    )
    state = pledged.subject_state("commitment/gpus", pledged.view())
    assert state["assessments"]["actor/watchdog"]["rating"] == "stalled"
    assert state["status"] == "pledged"


# --- funded by phase ----------------------------------------------------------------


def test_funded_takes_each_lines_latest_allocation_per_phase(pledged):
    seed(
        pledged,
        appropriation("ai", "2025-04-25", "proposed", ("fund", "money", "1조 원")),
        appropriation("ai", "2025-05-01", "approved", ("fund", "money", "8천억 원")),
        appropriation("ai", "2025-09-01", "adjusted", ("fund", "money", "9천억 원")),
        appropriation("ai", "2025-12-01", "executed", ("fund", "money", "5천억 원")),
    )
    assert funded(pledged) == {
        "proposed": "1000000000000",
        "approved": "900000000000",
        "executed": "500000000000",
    }
    assert funded(pledged, as_of="2025-08-01") == {
        "proposed": "1000000000000",
        "approved": "800000000000",
        "executed": "0",
    }
    assert funded(pledged, as_of="2025-04-30")["approved"] == "0"


def test_a_later_approved_record_of_a_line_replaces_the_earlier_one(pledged):
    seed(
        pledged,
        appropriation("ai", "2025-05-01", "approved", ("fund", "money", "8천억 원")),
        appropriation("ai", "2025-06-01", "approved", ("fund", "money", "7천억 원")),
    )
    assert funded(pledged)["approved"] == "700000000000"


def test_an_approved_record_dated_after_an_adjustment_replaces_it(pledged):
    seed(
        pledged,
        appropriation("ai", "2025-09-01", "adjusted", ("fund", "money", "9천억 원")),
        appropriation("ai", "2025-10-01", "approved", ("fund", "money", "6천억 원")),
    )
    assert funded(pledged)["approved"] == "600000000000"


def test_an_adjustment_recorded_before_the_approval_it_adjusts_still_replaces_it(pledged):
    # Valid time decides, not the order the desk entered them in.
    seed(pledged, appropriation("ai", "2025-09-01", "adjusted", ("fund", "money", "9천억 원")))
    seed(pledged, appropriation("ai", "2025-05-01", "approved", ("fund", "money", "8천억 원")))
    assert funded(pledged)["approved"] == "900000000000"


def test_funding_is_summed_over_budget_lines(pledged):
    seed(
        pledged,
        appropriation("ai", "2025-05-01", "approved", ("fund", "money", "8천억 원")),
        appropriation("ai", "2025-09-01", "adjusted", ("fund", "money", "9천억 원")),
        appropriation("ai-supp", "2025-07-01", "approved", ("fund", "money", "2천억 원")),
        appropriation("ai-supp", "2025-07-02", "executed", ("fund", "money", "1천억 원")),
    )
    assert funded(pledged) == {
        "proposed": "0",
        "approved": "1100000000000",
        "executed": "100000000000",
    }
    whole = pledged.state(pledged.view()).commitments["commitment/fund"].targets["money"]
    assert whole.funded["approved"] == Decimal("1.1") * TRILLION


def test_two_allocations_to_one_target_in_one_record_add_up(pledged):
    seed(
        pledged,
        appropriation(
            "ai",
            "2025-05-01",
            "approved",
            ("fund", "money", "8천억 원"),
            ("fund", "money", "1천억 원"),
        ),
    )
    assert funded(pledged)["approved"] == "900000000000"


def test_an_explicit_zero_allocation_takes_the_funding_back(pledged):
    seed(
        pledged,
        appropriation("ai", "2025-05-01", "approved", ("fund", "money", "8천억 원")),
        appropriation("ai", "2025-09-01", "adjusted", ("fund", "money", "0원")),
    )
    assert funded(pledged)["approved"] == "0"
    assert status(pledged, "fund") == "pledged"


def test_a_retracted_allocation_no_longer_funds(pledged, clock):
    clock.set(at("2026-02-01T00:00:00+00:00"))
    (line,) = seed(
        pledged, appropriation("ai", "2025-05-01", "approved", ("fund", "money", "8천억 원"))
    )
    clock.set(at("2026-03-01T00:00:00+00:00"))
    seed(pledged, retract("budget/ai", line))
    assert funded(pledged)["approved"] == "0"
    assert status(pledged, "fund") == "pledged"
    assert funded(pledged, known_at="2026-02-15T00:00:00Z")["approved"] == "800000000000"
    assert status(pledged, "fund", known_at="2026-02-15T00:00:00Z") == "in-progress"


def test_a_budget_line_shows_its_latest_record_per_phase(pledged):
    seed(
        pledged,
        appropriation("ai", "2025-05-01", "approved", ("fund", "money", "8천억 원")),
        appropriation(
            "ai", "2025-09-01", "adjusted", ("fund", "money", "9천억 원"), total="9조 원"
        ),
    )
    line = pledged.subject_state("budget/ai", pledged.view())
    assert sorted(line["phases"]) == ["adjusted", "approved"]
    assert line["phases"]["adjusted"]["quantity"] == {"amount": "9000000000000", "unit": "KRW"}
    assert line["event_count"] == 2
    earlier = pledged.subject_state("budget/ai", pledged.view(as_of="2025-06-01"))
    assert sorted(earlier["phases"]) == ["approved"]


def test_the_clocks_are_utc_instants(pledged):
    view = pledged.view(as_of="2025-06-01", known_at="2026-01-01T09:00:00+09:00")
    assert view.as_of == datetime(2025, 5, 31, 15, tzinfo=UTC)
    assert view.known_at == datetime(2026, 1, 1, tzinfo=UTC)
