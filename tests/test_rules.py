"""The rules of spec section 2: a rejected event leaves the ledger exactly as it was.

Every rejection here goes through `assert_rejected`, which compares the head, the
export-events lines, every subject's stored events and the derived state before
and after, and checks that the error is a LedgerError naming the line, the field
and the reason.
"""

from __future__ import annotations

from typing import Any

import pytest

from ledger.errors import LedgerError, RuleViolation
from ledger.events import decode_event
from ledger.export import event_line
from ledger.service import Ledger
from tests.builders import actor, ev, lines, made, office

# --- event builders ------------------------------------------------------------


def revised(
    slug: str,
    on: str,
    targets: list[dict[str, Any]] | None = None,
    removed: list[str] | None = None,
    **data: Any,
) -> dict[str, Any]:
    """CommitmentRevised of commitment/SLUG by actor/han."""
    body: dict[str, Any] = {"by": "actor/han", "capacity": "government", **data}
    if targets is not None:
        body["targets"] = targets
    if removed is not None:
        body["removed"] = removed
    return ev("CommitmentRevised", f"commitment/{slug}", on, body)


def progress(
    slug: str, on: str, target: str, amount: Any, unit: str, **data: Any
) -> dict[str, Any]:
    """ProgressReported on commitment/SLUG."""
    return ev(
        "ProgressReported",
        f"commitment/{slug}",
        on,
        {"target": target, "achieved": {"amount": amount, "unit": unit}, **data},
    )


def target(key: str, amount: Any, unit: str | None = None, **fields: Any) -> dict[str, Any]:
    """A target (or a target change) with a quantity."""
    quantity = {"amount": amount} if unit is None else {"amount": amount, "unit": unit}
    return {"key": key, "quantity": quantity, **fields}


def allocation(
    commitment: str = "commitment/fund", amount: Any = "1조 원", key: str | None = "money"
) -> dict[str, Any]:
    """One allocation of a budget line."""
    item: dict[str, Any] = {"commitment": commitment, "quantity": {"amount": amount}}
    if key is not None:
        item["target"] = key
    return item


def appropriation(
    slug: str,
    on: str,
    allocations: list[dict[str, Any]],
    total: Any = "2조 원",
    phase: str = "approved",
    body: str = "actor/assembly",
) -> dict[str, Any]:
    """AppropriationRecorded for budget/SLUG."""
    return ev(
        "AppropriationRecorded",
        f"budget/{slug}",
        on,
        {
            "body": body,
            "fiscal_year": 2025,
            "phase": phase,
            "instrument": "supplementary",
            "quantity": {"amount": total},
            "allocations": allocations,
        },
    )


def tenure(
    type_: str, holder: str, on: str, office_slug: str = "president", **data: Any
) -> dict[str, Any]:
    """A tenure event of office/OFFICE_SLUG for actor/HOLDER."""
    body: dict[str, Any] = {"holder": f"actor/{holder}", **data}
    if type_ == "TenureBegan":
        body.setdefault("role", "elected")
    if type_ == "TenureEnded":
        body.setdefault("reason", "term-end")
    return ev(type_, f"office/{office_slug}", on, body)


def retract(subject: str, event_id: str, on: str = "2025-12-01") -> dict[str, Any]:
    """EventRetracted of an event of SUBJECT."""
    return ev("EventRetracted", subject, on, {"event": event_id, "reason": "recorded in error"})


def commitment_event(type_: str, slug: str, on: str) -> dict[str, Any]:
    """A valid event of each non-creating commitment type."""
    by = {"by": "actor/han", "capacity": "government"}
    data: dict[str, dict[str, Any]] = {
        "CommitmentRevised": {**by, "targets": [target("gpus", "12000", "GPU")]},
        "CommitmentReaffirmed": {**by, "statement": "still on"},
        "CommitmentSuperseded": {**by, "successor": "commitment/other"},
        "CommitmentWithdrawn": {**by, "reason": "no money"},
        "ProgressReported": {"target": "gpus", "achieved": {"amount": 5, "unit": "GPU"}},
        "AssessmentRecorded": {
            "assessor": "actor/watchdog",
            "rubric": "politifact",
            "rating": "stalled",
        },
    }
    return ev(type_, f"commitment/{slug}", on, data[type_])


COMMITMENT_FOLLOW_UPS = [
    "CommitmentRevised",
    "CommitmentReaffirmed",
    "CommitmentSuperseded",
    "CommitmentWithdrawn",
    "ProgressReported",
    "AssessmentRecorded",
]

PEOPLE = [
    actor("han"),
    actor("lee"),
    actor("yoon"),
    actor("choi"),
    actor("moon"),
    actor("assembly", kind="legislature"),
    actor("watchdog", kind="organization"),
]
FUND = made("fund", targets=[target("money", "3조 원"), target("chips", "100", "chip")])


# --- helpers -------------------------------------------------------------------


def seed(ledger: Ledger, *events: dict[str, Any]) -> list[str]:
    """Import the events; return their ids in order."""
    result = ledger.import_lines(lines(*events))
    assert not result.skipped
    return [stored.id for stored in result.added]


def snapshot(ledger: Ledger) -> tuple[Any, ...]:
    """Everything a reader of the ledger can see."""
    subjects = ledger.store.subjects()
    return (
        ledger.store.head(),
        [event_line(stored) for stored in ledger.events()],
        {
            subject: [e.to_json() for e in ledger.store.read_subject(subject)]
            for subject in subjects
        },
        ledger.state(ledger.view(as_of="2030-01-01")).to_json(),
    )


def assert_rejected(
    ledger: Ledger,
    *events: dict[str, Any],
    line: int = 1,
    field: str | None = None,
    reason: str = "",
) -> RuleViolation:
    """Importing `events` fails on `line` naming `field` and `reason`, and writes nothing."""
    before = snapshot(ledger)
    with pytest.raises(LedgerError) as info:
        ledger.import_lines(lines(*events))
    error = info.value
    assert snapshot(ledger) == before
    assert isinstance(error, RuleViolation), repr(error)
    message = str(error)
    assert error.line == line, message
    assert message.startswith(f"line {line}: "), message
    if field is not None:
        assert error.field == field, message
        assert f": {field}: " in message, message
    assert reason in message, message
    return error


@pytest.fixture
def people(ledger: Ledger) -> Ledger:
    """A ledger with actors, the president's office and two commitments."""
    seed(ledger, *PEOPLE, office("president"), made("gpus"), FUND)
    return ledger


# --- a commitment starts with CommitmentMade -----------------------------------------


@pytest.mark.parametrize("type_", COMMITMENT_FOLLOW_UPS)
def test_an_event_on_a_commitment_never_made_is_rejected(people, type_):
    seed(people, made("other"))
    assert_rejected(
        people,
        commitment_event(type_, "ghost", "2025-06-01"),
        field="subject",
        reason="commitment/ghost has no CommitmentMade at or before 2025-06-01",
    )


@pytest.mark.parametrize("type_", COMMITMENT_FOLLOW_UPS)
def test_an_event_back_dated_before_the_commitment_made_is_rejected(people, type_):
    seed(people, made("other"))
    assert_rejected(
        people,
        commitment_event(type_, "gpus", "2025-01-01"),
        field="subject",
        reason="commitment/gpus has no CommitmentMade at or before 2025-01-01",
    )


def test_an_event_one_second_before_the_commitment_made_is_rejected(people):
    # A bare date is the start of the day in the ledger's zone (Asia/Seoul).
    assert_rejected(
        people,
        progress("gpus", "2025-04-23T23:59:59+09:00", "gpus", 1, "GPU"),
        field="subject",
        reason="no CommitmentMade",
    )


def test_an_event_at_the_instant_of_the_commitment_made_is_accepted(people):
    seed(people, progress("gpus", "2025-04-23T15:00:00Z", "gpus", 1, "GPU"))
    assert people.commitment("commitment/gpus", people.view()).targets["gpus"].achieved == 1


def test_a_commitment_cannot_be_made_twice(people):
    assert_rejected(people, made("gpus", on="2025-05-01"), field="type", reason="was already made")


def test_a_commitment_made_after_an_earlier_line_of_the_same_file_is_rejected(people):
    assert_rejected(
        people,
        actor("kim"),
        commitment_event("CommitmentReaffirmed", "new", "2025-05-01"),
        made("new", on="2025-06-01"),
        line=2,
        reason="commitment/new has no CommitmentMade at or before 2025-05-01",
    )


def test_a_file_may_list_the_commitment_made_after_its_follow_ups(people):
    seed(people, commitment_event("CommitmentReaffirmed", "new", "2025-07-01"), made("new"))
    assert people.commitment("commitment/new", people.view()).event_count == 2


def test_a_commitment_cannot_supersede_itself(people):
    event = commitment_event("CommitmentSuperseded", "gpus", "2025-06-01")
    event["data"]["successor"] = "commitment/gpus"
    assert_rejected(people, event, field="data.successor", reason="cannot supersede itself")


# --- targets exist at the time, in their unit -----------------------------------------


def test_revision_of_unknown_target_without_quantity_is_rejected(people):
    assert_rejected(
        people,
        revised("gpus", "2025-06-01", targets=[{"key": "chips", "due": "2026-01-01"}]),
        field="data.targets[0].key",
        reason="target 'chips' does not exist",
    )


def test_a_revision_may_add_a_target_with_a_quantity(people):
    seed(people, revised("gpus", "2025-06-01", targets=[target("chips", "5", "chip")]))
    state = people.commitment("commitment/gpus", people.view())
    assert sorted(state.targets) == ["chips", "gpus"]


def test_removal_of_unknown_target_is_rejected(people):
    assert_rejected(
        people,
        revised("gpus", "2025-06-01", removed=["chips"]),
        field="data.removed[0]",
        reason="target 'chips' does not exist on commitment/gpus at 2025-06-01",
    )


def test_a_revision_removing_every_target_is_rejected(people):
    assert_rejected(
        people,
        revised("gpus", "2025-06-01", removed=["gpus"]),
        field="data.removed",
        reason="may not remove every target",
    )


def test_progress_on_unknown_target_is_rejected(people):
    assert_rejected(
        people,
        progress("gpus", "2025-06-01", "chips", 1, "GPU"),
        field="data.target",
        reason="target 'chips' does not exist on commitment/gpus at 2025-06-01 (targets then: gpus)",
    )


def test_progress_on_a_target_removed_earlier_is_rejected(people):
    seed(people, revised("fund", "2025-06-01", removed=["chips"]))
    assert_rejected(
        people,
        progress("fund", "2025-07-01", "chips", 5, "chip"),
        field="data.target",
        reason="target 'chips' does not exist",
    )


def test_progress_back_dated_before_the_revision_that_added_its_target_is_rejected(people):
    seed(people, revised("gpus", "2025-06-01", targets=[target("chips", "5", "chip")]))
    assert_rejected(
        people,
        progress("gpus", "2025-05-31", "chips", 1, "chip"),
        field="data.target",
        reason="target 'chips' does not exist on commitment/gpus at 2025-05-31",
    )


def test_back_filled_revision_removing_a_target_before_stored_progress_is_rejected(any_ledger):
    seed(any_ledger, *PEOPLE, FUND, progress("fund", "2025-10-01", "chips", 20, "chip"))
    error = assert_rejected(
        any_ledger,
        revised("fund", "2025-06-01", removed=["chips"]),
        reason="target 'chips' does not exist on commitment/fund at 2025-10-01",
    )
    assert "ProgressReported of 2025-10-01" in str(error)


def test_a_revision_removing_a_target_after_its_progress_is_accepted(people):
    seed(people, progress("fund", "2025-05-01", "chips", 20, "chip"))
    seed(people, revised("fund", "2025-06-01", removed=["chips"]))
    assert "chips" not in people.commitment("commitment/fund", people.view()).targets


def test_allocation_to_unknown_target_is_rejected(people):
    assert_rejected(
        people,
        appropriation("ai", "2025-06-01", [allocation(key="gpus")]),
        field="data.allocations[0].target",
        reason="target 'gpus' does not exist on commitment/fund at 2025-06-01",
    )


def test_allocation_dated_before_its_target_was_added_is_rejected(people):
    seed(people, revised("gpus", "2025-06-01", targets=[target("money", "1조 원")]))
    line = appropriation("ai", "2025-05-01", [allocation("commitment/gpus", key="money")])
    assert_rejected(
        people,
        line,
        field="data.allocations[0].target",
        reason="target 'money' does not exist on commitment/gpus at 2025-05-01",
    )
    line["occurred_at"] = "2025-06-01"
    seed(people, line)


def test_allocation_naming_a_target_before_the_commitment_was_made_is_rejected(people):
    assert_rejected(
        people,
        appropriation("ai", "2025-01-01", [allocation()]),
        field="data.allocations[0].target",
        reason="does not exist on commitment/fund at 2025-01-01",
    )


def test_back_filled_revision_removing_a_target_before_a_stored_allocation_is_rejected(
    any_ledger,
):
    seed(any_ledger, *PEOPLE, FUND, appropriation("ai", "2025-09-01", [allocation()]))
    error = assert_rejected(
        any_ledger,
        revised("fund", "2025-06-01", removed=["money"]),
        reason="target 'money' does not exist on commitment/fund at 2025-09-01",
    )
    assert "AppropriationRecorded of 2025-09-01" in str(error)
    assert "budget/ai" in str(error)


def test_a_rule_broken_by_a_later_line_is_blamed_on_that_line(people):
    seed(people, appropriation("ai", "2025-09-01", [allocation()]))
    assert_rejected(
        people,
        actor("kim"),
        commitment_event("CommitmentReaffirmed", "fund", "2025-07-01"),
        revised("fund", "2025-06-01", removed=["money"]),
        line=3,
        reason="target 'money' does not exist on commitment/fund at 2025-09-01",
    )


def test_the_line_that_breaks_a_stored_event_is_found_among_many(people):
    seed(people, appropriation("ai", "2025-09-01", [allocation()]))
    reaffirmations = [
        commitment_event("CommitmentReaffirmed", "fund", f"2025-07-{day:02d}")
        for day in range(1, 21)
    ]
    assert_rejected(
        people,
        *reaffirmations[:13],
        revised("fund", "2025-06-01", removed=["money"]),
        *reaffirmations[13:],
        line=14,
        reason="CommitmentRevised of 2025-06-01 would make the stored AppropriationRecorded",
    )


def test_revision_in_another_unit_is_rejected(people):
    assert_rejected(
        people,
        revised("gpus", "2025-06-01", targets=[target("gpus", "20000", "chip")]),
        field="data.targets[0].quantity",
        reason="unit chip does not match target 'gpus' in GPU",
    )


def test_revision_of_a_baseline_in_another_unit_is_rejected(people):
    change = {"key": "gpus", "baseline": {"amount": "100", "unit": "server"}}
    assert_rejected(
        people,
        revised("gpus", "2025-06-01", targets=[change]),
        field="data.targets[0].baseline",
        reason="unit server does not match target 'gpus' in GPU",
    )


def test_progress_in_another_unit_is_rejected(people):
    assert_rejected(
        people,
        progress("gpus", "2025-06-01", "gpus", "5", "server"),
        field="data.achieved",
        reason="unit server does not match target 'gpus' in GPU",
    )


def test_allocation_in_another_unit_than_its_target_is_rejected(people):
    seed(people, made("dollars", targets=[target("aid", "$1 billion")]))
    assert_rejected(
        people,
        appropriation("ai", "2025-06-01", [allocation("commitment/dollars", key="aid")]),
        field="data.allocations[0].quantity",
        reason="unit KRW does not match target 'aid' in USD",
    )


def test_allocation_in_another_unit_than_its_line_is_rejected(people):
    assert_rejected(
        people,
        appropriation("ai", "2025-06-01", [allocation(amount="$1 billion", key=None)]),
        field="data.allocations[0].quantity",
        reason="allocation in USD on a line in KRW",
    )


def test_allocation_naming_no_target_may_fund_a_commitment_in_other_units(people):
    seed(people, appropriation("ai", "2025-06-01", [allocation("commitment/gpus", key=None)]))
    assert people.commitment("commitment/gpus", people.view()).funded["KRW"]["approved"] == 10**12


# --- offices and tenures ----------------------------------------------------------


def test_a_tenure_in_an_office_never_created_is_rejected(people):
    assert_rejected(
        people,
        tenure("TenureBegan", "yoon", "2022-05-10", office_slug="minister"),
        reason="office/minister has no OfficeCreated",
    )


def test_a_tenure_back_dated_before_the_office_was_created_is_rejected(people):
    seed(people, office("minister", on="2017-07-26"))
    assert_rejected(
        people,
        tenure("TenureBegan", "moon", "2017-05-10", office_slug="minister"),
        reason="office/minister has no OfficeCreated before 2017-05-10",
    )


def test_an_office_cannot_be_created_twice(people):
    assert_rejected(people, office("president", on="1960-01-01"), reason="already created")


def test_an_actor_cannot_be_registered_twice(people):
    assert_rejected(people, actor("han", on="2021-01-01"), reason="already registered")


def test_a_second_tenure_while_one_is_active_is_rejected(people):
    seed(people, tenure("TenureBegan", "yoon", "2022-05-10"))
    assert_rejected(
        people,
        tenure("TenureBegan", "han", "2024-12-14", role="acting"),
        field="data.holder",
        reason="office/president already has an active tenure (actor/yoon) at 2024-12-14",
    )


def test_a_holder_cannot_begin_a_second_tenure_while_holding_the_office(people):
    seed(people, tenure("TenureBegan", "yoon", "2022-05-10"))
    assert_rejected(
        people,
        tenure("TenureBegan", "yoon", "2023-05-10"),
        field="data.holder",
        reason="actor/yoon already holds office/president",
    )


def test_back_filled_tenure_inside_a_stored_one_is_rejected(any_ledger):
    seed(
        any_ledger,
        *PEOPLE,
        office("president"),
        tenure("TenureBegan", "yoon", "2022-05-10"),
        tenure("TenureEnded", "yoon", "2025-04-04", reason="removed"),
    )
    assert_rejected(
        any_ledger,
        tenure("TenureBegan", "moon", "2023-01-01"),
        tenure("TenureEnded", "moon", "2023-02-01"),
        field="data.holder",
        reason="already has an active tenure (actor/yoon) at 2023-01-01",
    )


def test_back_filled_open_tenure_before_a_stored_one_is_rejected(any_ledger):
    seed(any_ledger, *PEOPLE, office("president"), tenure("TenureBegan", "yoon", "2022-05-10"))
    error = assert_rejected(
        any_ledger,
        tenure("TenureBegan", "moon", "2017-05-10"),
        reason="already has an active tenure (actor/moon) at 2022-05-10",
    )
    assert "TenureBegan of 2022-05-10" in str(error)


def test_back_filled_tenure_ending_after_a_stored_one_began_is_rejected(people):
    seed(people, tenure("TenureBegan", "yoon", "2022-05-10"))
    assert_rejected(
        people,
        tenure("TenureBegan", "moon", "2017-05-10"),
        tenure("TenureEnded", "moon", "2022-06-01"),
        reason="already has an active tenure (actor/moon) at 2022-05-10",
    )


def test_back_filled_tenure_ending_before_a_stored_one_began_is_accepted(people):
    seed(people, tenure("TenureBegan", "yoon", "2022-05-10"))
    seed(
        people,
        tenure("TenureBegan", "moon", "2017-05-10"),
        tenure("TenureEnded", "moon", "2022-05-09T23:59:59+09:00"),
    )
    state = people.subject_state("office/president", people.view())
    assert [t["holder"] for t in state["tenures"]] == ["actor/moon", "actor/yoon"]


def test_suspension_of_a_holder_without_tenure_is_rejected(people):
    seed(people, tenure("TenureBegan", "yoon", "2022-05-10"))
    assert_rejected(
        people,
        tenure("TenureSuspended", "han", "2024-12-14"),
        field="data.holder",
        reason="actor/han has no active tenure in office/president at 2024-12-14",
    )


def test_suspension_of_a_suspended_tenure_is_rejected(people):
    seed(
        people,
        tenure("TenureBegan", "yoon", "2022-05-10"),
        tenure("TenureSuspended", "yoon", "2024-12-14"),
    )
    assert_rejected(
        people,
        tenure("TenureSuspended", "yoon", "2025-01-01"),
        field="data.holder",
        reason="no active tenure",
    )


def test_suspension_after_the_tenure_ended_is_rejected(people):
    seed(
        people,
        tenure("TenureBegan", "yoon", "2022-05-10"),
        tenure("TenureEnded", "yoon", "2025-04-04", reason="removed"),
    )
    assert_rejected(
        people,
        tenure("TenureSuspended", "yoon", "2025-05-01"),
        field="data.holder",
        reason="no active tenure",
    )


def test_suspension_back_dated_before_the_tenure_began_is_rejected(people):
    seed(people, tenure("TenureBegan", "yoon", "2022-05-10"))
    assert_rejected(
        people,
        tenure("TenureSuspended", "yoon", "2022-05-09"),
        field="data.holder",
        reason="actor/yoon has no active tenure in office/president at 2022-05-09",
    )


def test_resumption_of_an_active_tenure_is_rejected(people):
    seed(people, tenure("TenureBegan", "yoon", "2022-05-10"))
    assert_rejected(
        people,
        tenure("TenureResumed", "yoon", "2023-01-01"),
        field="data.holder",
        reason="actor/yoon has no suspended tenure in office/president at 2023-01-01",
    )


def test_resumption_after_the_tenure_ended_is_rejected(people):
    seed(
        people,
        tenure("TenureBegan", "yoon", "2022-05-10"),
        tenure("TenureSuspended", "yoon", "2024-12-14"),
        tenure("TenureEnded", "yoon", "2025-04-04", reason="removed"),
    )
    assert_rejected(
        people, tenure("TenureResumed", "yoon", "2025-04-05"), reason="no suspended tenure"
    )


def test_resumption_while_an_acting_holder_is_active_is_rejected(people):
    seed(
        people,
        tenure("TenureBegan", "yoon", "2022-05-10"),
        tenure("TenureSuspended", "yoon", "2024-12-14"),
        tenure("TenureBegan", "han", "2024-12-14", role="acting", administration="yoon"),
    )
    assert_rejected(
        people,
        tenure("TenureResumed", "yoon", "2025-03-01"),
        field="data.holder",
        reason="already has an active tenure (actor/han)",
    )


def test_a_tenure_ends_only_once(people):
    seed(
        people,
        tenure("TenureBegan", "yoon", "2022-05-10"),
        tenure("TenureEnded", "yoon", "2025-04-04", reason="removed"),
    )
    assert_rejected(
        people,
        tenure("TenureEnded", "yoon", "2025-06-04"),
        field="data.holder",
        reason="actor/yoon has no tenure to end in office/president at 2025-06-04",
    )


def test_ending_a_tenure_that_never_began_is_rejected(people):
    assert_rejected(people, tenure("TenureEnded", "yoon", "2025-06-04"), reason="no tenure to end")


def test_acting_tenures_while_the_elected_holder_is_suspended_are_accepted(people):
    seed(
        people,
        tenure("TenureBegan", "yoon", "2022-05-10"),
        tenure("TenureSuspended", "yoon", "2024-12-14T19:24:00+09:00"),
        tenure(
            "TenureBegan", "han", "2024-12-14T19:24:00+09:00", role="acting", administration="yoon"
        ),
        tenure("TenureSuspended", "han", "2024-12-27T16:24:00+09:00"),
        tenure(
            "TenureBegan", "choi", "2024-12-27T16:24:00+09:00", role="acting", administration="yoon"
        ),
        tenure("TenureEnded", "choi", "2025-03-24T10:00:00+09:00", reason="superseded"),
        tenure("TenureResumed", "han", "2025-03-24T10:00:00+09:00"),
        tenure("TenureEnded", "yoon", "2025-04-04T11:22:00+09:00", reason="removed"),
        tenure("TenureEnded", "han", "2025-05-01", reason="resigned"),
        tenure("TenureBegan", "lee", "2025-06-04T06:21:00+09:00"),
    )
    state = people.subject_state("office/president", people.view())
    assert state["holder"] == "actor/lee"
    middle = people.subject_state("office/president", people.view(as_of="2025-01-01"))
    assert middle["holder"] == "actor/choi"


# --- every referenced subject exists --------------------------------------------


def _missing_reference_cases() -> list[tuple[dict[str, Any], str]]:
    superseded = commitment_event("CommitmentSuperseded", "gpus", "2025-06-01")
    superseded["data"]["successor"] = "commitment/ghost"
    assessed = commitment_event("AssessmentRecorded", "gpus", "2025-06-01")
    assessed["data"]["assessor"] = "actor/ghost"
    return [
        (made("new", by="actor/ghost"), "data.by"),
        (tenure("TenureBegan", "ghost", "2022-05-10"), "data.holder"),
        (appropriation("ai", "2025-06-01", [], body="actor/ghost"), "data.body"),
        (
            appropriation("ai", "2025-06-01", [allocation("commitment/ghost", key=None)]),
            "data.allocations[0].commitment",
        ),
        (superseded, "data.successor"),
        (assessed, "data.assessor"),
        (
            ev(
                "ActorRegistered",
                "actor/kim",
                "2020-01-01",
                {"name": "Kim", "kind": "person", "parent": "actor/ghost"},
            ),
            "data.parent",
        ),
        (progress("gpus", "2025-06-01", "gpus", 1, "GPU", by="actor/ghost"), "data.by"),
        (revised("gpus", "2025-06-01", due="2026-01-01", by="actor/ghost"), "data.by"),
    ]


@pytest.mark.parametrize(("event", "field"), _missing_reference_cases())
def test_a_reference_to_a_subject_that_does_not_exist_is_rejected(people, event, field):
    missing = "commitment/ghost" if "commitment/ghost" in str(event["data"]) else "actor/ghost"
    assert_rejected(people, event, field=field, reason=f"{missing} does not exist in the ledger")


def test_a_reference_to_a_subject_registered_later_in_the_same_file_is_accepted(people):
    seed(people, made("new", by="actor/kim"), actor("kim"))
    assert people.commitment("commitment/new", people.view()).by == "actor/kim"


def test_a_reference_to_a_subject_of_another_kind_with_that_slug_is_rejected(people):
    seed(people, office("ghost"))
    assert_rejected(people, made("new", by="actor/ghost"), field="data.by", reason="does not exist")


def test_retracting_the_registration_of_a_named_actor_is_rejected(any_ledger):
    ids = seed(any_ledger, *PEOPLE, made("gpus"))
    error = assert_rejected(
        any_ledger,
        retract("actor/han", ids[0]),
        reason="actor/han does not exist in the ledger",
    )
    assert "CommitmentMade of 2025-04-24" in str(error)


def test_a_reference_to_an_actor_whose_registration_was_retracted_is_rejected(people):
    (kim,) = seed(people, actor("kim"))
    seed(people, retract("actor/kim", kim))
    assert_rejected(
        people, made("new", by="actor/kim"), field="data.by", reason="actor/kim does not exist"
    )


def test_retracting_a_commitment_named_as_successor_is_rejected(people):
    (other,) = seed(people, made("other"))
    superseded = commitment_event("CommitmentSuperseded", "gpus", "2025-06-01")
    seed(people, superseded)
    assert_rejected(
        people,
        retract("commitment/other", other),
        reason="commitment/other does not exist in the ledger",
    )


def test_retracting_a_commitment_named_by_an_allocation_is_rejected(any_ledger):
    ids = seed(any_ledger, *PEOPLE, FUND, appropriation("ai", "2025-06-01", [allocation(key=None)]))
    assert_rejected(
        any_ledger,
        retract("commitment/fund", ids[len(PEOPLE)]),
        reason="commitment/fund does not exist in the ledger",
    )


# --- allocations fit in their line ---------------------------------------------------


def test_allocations_adding_up_to_more_than_the_line_are_rejected(any_ledger):
    seed(any_ledger, *PEOPLE, FUND)
    assert_rejected(
        any_ledger,
        appropriation(
            "ai",
            "2025-06-01",
            [allocation(amount="1.5조 원"), allocation(amount="6천억 원", key=None)],
        ),
        field="data.allocations",
        reason="allocations add up to 2100000000000 KRW, more than the line's 2000000000000 KRW",
    )


def test_allocations_adding_up_to_exactly_the_line_are_accepted(people):
    seed(
        people,
        appropriation(
            "ai",
            "2025-06-01",
            [allocation(amount="1.4조 원"), allocation(amount="6천억 원", key=None)],
        ),
    )
    assert people.subject_state("budget/ai", people.view())["phases"]["approved"]


def test_a_later_phase_of_a_line_is_checked_on_its_own_total(people):
    seed(people, appropriation("ai", "2025-06-01", [allocation(amount="2조 원")]))
    assert_rejected(
        people,
        appropriation(
            "ai", "2025-09-01", [allocation(amount="2조 원")], total="1조 원", phase="adjusted"
        ),
        field="data.allocations",
        reason="more than the line's 1000000000000 KRW",
    )


def test_a_negative_allocation_on_a_positive_line_is_rejected(people):
    # Otherwise -1조 here would let 3조 go to the fund on a 2조 line.
    assert_rejected(
        people,
        appropriation(
            "ai",
            "2025-06-01",
            [allocation(amount="3조 원"), allocation(amount="-1조 원", key=None)],
        ),
        field="data.allocations[1].quantity",
        reason="an allocation of -1000000000000 KRW on a line of 2000000000000 KRW cannot be negative",
    )


def test_a_cut_line_takes_cuts_up_to_its_size(people):
    cut = appropriation("ai-cut", "2025-09-01", [allocation(amount="-5천억 원")], total="-1조 원")
    seed(people, cut)
    assert_rejected(
        people,
        appropriation("ai-cut2", "2025-09-01", [allocation(amount="5천억 원")], total="-1조 원"),
        field="data.allocations[0].quantity",
        reason="cannot be positive",
    )
    assert_rejected(
        people,
        appropriation("ai-cut3", "2025-09-01", [allocation(amount="-2조 원")], total="-1조 원"),
        field="data.allocations",
        reason="allocations add up to -2000000000000 KRW, beyond the line's -1000000000000 KRW",
    )


# --- retractions ---------------------------------------------------------------------


def test_retraction_of_an_unknown_event_is_rejected(people):
    assert_rejected(
        people,
        retract("commitment/gpus", "00000000-0000-4000-8000-000000000000"),
        field="data.event",
        reason="no event 00000000-0000-4000-8000-000000000000 in commitment/gpus to retract",
    )


def test_retraction_of_an_event_of_another_subject_is_rejected(people):
    (reaffirmed,) = seed(people, commitment_event("CommitmentReaffirmed", "fund", "2025-06-01"))
    assert_rejected(
        people,
        retract("commitment/gpus", reaffirmed),
        field="data.event",
        reason=f"no event {reaffirmed} in commitment/gpus to retract",
    )


def test_retraction_of_a_retraction_is_rejected(people):
    (reaffirmed,) = seed(people, commitment_event("CommitmentReaffirmed", "gpus", "2025-06-01"))
    (retraction,) = seed(people, retract("commitment/gpus", reaffirmed))
    assert_rejected(
        people,
        retract("commitment/gpus", retraction, on="2025-12-02"),
        field="data.event",
        reason="a retraction cannot be retracted",
    )


def test_retracting_an_event_twice_is_rejected(any_ledger):
    seed(any_ledger, *PEOPLE, made("gpus"))
    (reaffirmed,) = seed(any_ledger, commitment_event("CommitmentReaffirmed", "gpus", "2025-06-01"))
    seed(any_ledger, retract("commitment/gpus", reaffirmed))
    assert_rejected(
        any_ledger,
        retract("commitment/gpus", reaffirmed, on="2025-12-02"),
        field="data.event",
        reason=f"event {reaffirmed} is already retracted",
    )


def test_retracting_an_event_twice_in_one_file_is_rejected(people):
    (reaffirmed,) = seed(people, commitment_event("CommitmentReaffirmed", "gpus", "2025-06-01"))
    assert_rejected(
        people,
        retract("commitment/gpus", reaffirmed),
        retract("commitment/gpus", reaffirmed, on="2025-12-02"),
        line=2,
        field="data.event",
        reason="already retracted",
    )


def test_retracting_a_commitment_made_that_has_later_events_is_rejected(any_ledger):
    made_id = seed(any_ledger, *PEOPLE, made("gpus"))[-1]
    seed(any_ledger, commitment_event("CommitmentReaffirmed", "gpus", "2025-06-01"))
    error = assert_rejected(
        any_ledger,
        retract("commitment/gpus", made_id),
        reason="commitment/gpus has no CommitmentMade at or before 2025-06-01",
    )
    assert "CommitmentReaffirmed of 2025-06-01" in str(error)


def test_retracting_a_lone_commitment_made_is_accepted(people):
    (lone,) = seed(people, made("lone"))
    seed(people, retract("commitment/lone", lone))
    assert "commitment/lone" not in people.state(people.view()).commitments


def test_a_wrong_commitment_made_can_be_replaced_in_one_file(people):
    (wrong,) = seed(people, made("typo", targets=[target("gpus", "1000", "GPU")]))
    seed(people, progress("typo", "2025-06-01", "gpus", 500, "GPU"))
    seed(
        people,
        retract("commitment/typo", wrong),
        made("typo", targets=[target("gpus", "10000", "GPU")]),
    )
    state = people.commitment("commitment/typo", people.view())
    assert state.targets["gpus"].quantity.amount == 10_000
    assert state.targets["gpus"].achieved == 500


def test_retracting_a_tenure_end_that_leaves_two_active_tenures_is_rejected(people):
    _, ended, _ = seed(
        people,
        tenure("TenureBegan", "yoon", "2022-05-10"),
        tenure("TenureEnded", "yoon", "2025-04-04", reason="removed"),
        tenure("TenureBegan", "lee", "2025-06-04"),
    )
    assert_rejected(
        people,
        retract("office/president", ended),
        reason="already has an active tenure (actor/yoon) at 2025-06-04",
    )


def test_retracting_a_revision_that_added_a_target_with_progress_is_rejected(people):
    (added,) = seed(people, revised("gpus", "2025-06-01", targets=[target("chips", "5", "chip")]))
    seed(people, progress("gpus", "2025-07-01", "chips", 2, "chip"))
    assert_rejected(
        people, retract("commitment/gpus", added), reason="target 'chips' does not exist"
    )


def test_retracting_a_revision_that_added_a_target_with_an_allocation_is_rejected(people):
    (added,) = seed(people, revised("gpus", "2025-06-01", targets=[target("money", "1조 원")]))
    seed(people, appropriation("ai", "2025-07-01", [allocation("commitment/gpus")]))
    assert_rejected(
        people,
        retract("commitment/gpus", added),
        reason="target 'money' does not exist on commitment/gpus at 2025-07-01",
    )


# --- all of a batch or nothing ---------------------------------------------------------


def test_a_rule_broken_on_the_last_line_writes_none_of_the_file(people):
    assert_rejected(
        people,
        actor("kim"),
        made("new", by="actor/kim"),
        progress("new", "2025-06-01", "gpus", 10, "GPU"),
        progress("new", "2025-07-01", "gpus", 10, "server"),
        line=4,
        field="data.achieved",
        reason="unit server does not match",
    )


def test_a_recorded_event_that_breaks_a_rule_is_rejected_and_nothing_written(people):
    before = snapshot(people)
    with pytest.raises(RuleViolation) as info:
        people.record(decode_event(progress("gpus", "2025-06-01", "chips", 1, "GPU")))
    assert str(info.value).startswith("line 1: data.target: target 'chips' does not exist")
    assert snapshot(people) == before


def test_an_accepted_event_changes_the_snapshot(people):
    before = snapshot(people)
    seed(people, progress("gpus", "2025-06-01", "gpus", 1, "GPU"))
    assert snapshot(people) != before


# --- rules for new input that depend on the history -----------------------------------


def test_a_revision_cannot_make_a_target_reached_by_any_progress(people):
    # As a pledge cannot (events.Target); the quantity it keeps its baseline with.
    assert_rejected(
        people,
        revised("gpus", "2025-05-01", [target("gpus", "0", "GPU")]),
        field="data.targets[0].quantity",
        reason="a target quantity of 0 GPU is reached by any progress",
    )
    assert_rejected(
        people,
        revised("gpus", "2025-05-01", [target("new", "-5", "GPU")]),
        field="data.targets[0].quantity",
        reason="a target quantity of -5 GPU is reached by any progress",
    )


def test_a_revision_to_zero_below_its_baseline_is_a_reduction_and_accepted(people):
    baseline = {"amount": "200", "unit": "GPU"}
    seed(people, revised("gpus", "2025-05-01", [target("cut", "0", "GPU", baseline=baseline)]))
    seed(people, revised("gpus", "2025-06-01", [target("cut", "10", "GPU")]))
    targets = people.state_json(people.view())["commitments"]["commitment/gpus"]["targets"]
    assert targets["cut"]["quantity"] == {"amount": "10", "unit": "GPU"}


def test_a_budget_line_keeps_its_unit_through_its_phases(people):
    seed(people, appropriation("line", "2025-05-01", []))
    later = appropriation("line", "2025-06-01", [], phase="executed", total="$5")
    reason = "budget/line is a line in KRW (since 2025-05-01), not USD: record another line"
    assert_rejected(people, later, field="data.quantity", reason=reason)
    # Back-filled before the stored phase, it is still another line.
    earlier = appropriation("line", "2025-04-01", [], phase="proposed", total="$5")
    assert_rejected(people, earlier, field="data.quantity", reason="not USD")
    # The instrument may change: a main-budget line adjusted by a supplementary budget.
    adjusted = appropriation("line", "2025-07-01", [], phase="adjusted")
    adjusted["data"]["instrument"] = "main"
    seed(people, adjusted)


def _child(slug: str, parent: str) -> dict[str, Any]:
    registered = actor(slug)
    registered["data"]["parent"] = parent
    return registered


def test_an_actor_cannot_be_its_own_parent_or_ancestor(people):
    assert_rejected(
        people,
        _child("loop", "actor/loop"),
        field="data.parent",
        reason="actor/loop would be its own parent",
    )
    assert_rejected(
        people,
        _child("left", "actor/right"),
        _child("right", "actor/left"),
        line=1,
        field="data.parent",
        reason="would be its own ancestor",
    )


def test_a_back_dated_revision_cannot_leave_a_later_stored_one_reached_by_any_progress(people):
    # Stored: a reduction to 0 below a baseline of 200. A revision dated before
    # it that lowers the baseline to 0 would leave that 0 reached by any report.
    baseline = {"amount": "200", "unit": "GPU"}
    seed(people, revised("gpus", "2025-06-01", [target("cut", "100", "GPU", baseline=baseline)]))
    seed(people, revised("gpus", "2025-07-01", [target("cut", "0", "GPU")]))
    lowered = {"key": "cut", "baseline": {"amount": "0", "unit": "GPU"}}
    assert_rejected(
        people,
        revised("gpus", "2025-06-15", [lowered]),
        field="data.targets[0].quantity",
        reason="a target quantity of 0 GPU is reached by any progress",
    )
