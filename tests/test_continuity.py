"""The continuity report (spec section 3) on small hand-built ledgers.

The baseline story: actor/old governs from 2020 until 2025-06-04, when actor/new
(another administration) takes office. Bare dates are days in Asia/Seoul, so the
transition is 2025-06-04T00:00:00+09:00 and the default window ends a year later.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from ledger.continuity import (
    Cohort,
    CommitmentFate,
    continuity_report,
    transitions,
)
from ledger.errors import NotFound
from ledger.projections import View, fold_office, live_events
from ledger.service import Ledger
from tests.builders import actor, ev, lines, made, office
from tests.conftest import Clock

EXAMPLE = Path(__file__).resolve().parents[1] / "ledger" / "examples" / "korea-ai-2025.ndjson"
T = "2025-06-04T00:00:00+09:00"
PRESIDENT = "office/president"
WON = "KRW"


# --- event builders --------------------------------------------------------------


def began(
    holder: str,
    on: str,
    role: str = "elected",
    administration: str | None = None,
    at: str = PRESIDENT,
) -> dict[str, Any]:
    data = {"holder": f"actor/{holder}", "role": role, "administration": administration or holder}
    return ev("TenureBegan", at, on, data)


def ended(holder: str, on: str, reason: str = "term-end", at: str = PRESIDENT) -> dict[str, Any]:
    return ev("TenureEnded", at, on, {"holder": f"actor/{holder}", "reason": reason})


def suspended(holder: str, on: str) -> dict[str, Any]:
    return ev("TenureSuspended", PRESIDENT, on, {"holder": f"actor/{holder}"})


def resumed(holder: str, on: str) -> dict[str, Any]:
    return ev("TenureResumed", PRESIDENT, on, {"holder": f"actor/{holder}"})


def by_new(capacity: str = "head-of-government") -> dict[str, str]:
    return {"by": "actor/new", "capacity": capacity}


def revised(
    slug: str,
    on: str,
    targets: list[dict[str, Any]],
    removed: list[str] | None = None,
    capacity: str = "head-of-government",
    **extra: Any,
) -> dict[str, Any]:
    data: dict[str, Any] = {**by_new(capacity), "targets": targets}
    if removed:
        data["removed"] = removed
    return ev("CommitmentRevised", f"commitment/{slug}", on, data, **extra)


def withdrawn(
    slug: str, on: str, capacity: str = "head-of-government", **extra: Any
) -> dict[str, Any]:
    data = {**by_new(capacity), "reason": "no longer a priority"}
    return ev("CommitmentWithdrawn", f"commitment/{slug}", on, data, **extra)


def superseded(slug: str, successor: str, on: str) -> dict[str, Any]:
    data = {**by_new(), "successor": f"commitment/{successor}"}
    return ev("CommitmentSuperseded", f"commitment/{slug}", on, data)


def reaffirmed(
    slug: str, on: str, by: str = "actor/gov", capacity: str = "government"
) -> dict[str, Any]:
    return ev("CommitmentReaffirmed", f"commitment/{slug}", on, {"by": by, "capacity": capacity})


def progress(
    slug: str, on: str, amount: str, key: str = "gpus", unit: str = "GPU"
) -> dict[str, Any]:
    data = {"target": key, "achieved": {"amount": amount, "unit": unit}}
    return ev("ProgressReported", f"commitment/{slug}", on, data)


def assessed(slug: str, on: str) -> dict[str, Any]:
    data = {"assessor": "actor/watchdog", "rubric": "politifact", "rating": "stalled"}
    return ev("AssessmentRecorded", f"commitment/{slug}", on, data)


def appropriation(
    line: str,
    on: str,
    phase: str,
    allocations: dict[str, str],
    unit: str = WON,
    total: str = "100000000000000",
) -> dict[str, Any]:
    """AppropriationRecorded; allocation keys are `slug` or `slug/target`."""
    rows = []
    for named, amount in allocations.items():
        slug, _, target = named.partition("/")
        row: dict[str, Any] = {
            "commitment": f"commitment/{slug}",
            "quantity": {"amount": amount, "unit": unit},
        }
        if target:
            row["target"] = target
        rows.append(row)
    data = {
        "body": "actor/assembly",
        "fiscal_year": 2025,
        "phase": phase,
        "instrument": "main",
        "quantity": {"amount": total, "unit": unit},
        "allocations": rows,
    }
    return ev("AppropriationRecorded", f"budget/{line}", on, data)


def retracted(subject: str, event_id: str, on: str) -> dict[str, Any]:
    return ev("EventRetracted", subject, on, {"event": event_id, "reason": "misreported"})


def gpus(amount: str) -> dict[str, Any]:
    return {"key": "gpus", "quantity": {"amount": amount, "unit": "GPU"}}


def won(amount: str, key: str = "budget") -> dict[str, Any]:
    return {"key": key, "quantity": {"amount": amount, "unit": WON}}


def pledge(
    slug: str, on: str = "2025-04-24", targets: list[dict[str, Any]] | None = None, **data: Any
) -> dict[str, Any]:
    """A head-of-government pledge of the outgoing holder."""
    return made(slug, by="actor/old", on=on, targets=targets, **data)


PEOPLE = [
    actor("old"),
    actor("new"),
    actor("next"),
    actor("acting"),
    actor("loser"),
    actor("gov", kind="government"),
    actor("assembly", kind="legislature"),
    actor("watchdog", kind="organization"),
    office("president"),
]
HANDOVER = [began("old", "2020-05-10"), ended("old", T), began("new", T)]


# --- running the report ----------------------------------------------------------


def report(
    ledger: Ledger, *, as_of: str | None = None, known_at: str | None = None, **options: Any
) -> list[dict[str, Any]]:
    """The president's transitions as JSON."""
    view = ledger.view(as_of=as_of, known_at=known_at)
    document = continuity_report(list(ledger.events()), view, **options).to_json()
    transitions: list[dict[str, Any]] = document[PRESIDENT]["transitions"]
    return transitions


def only(ledger: Ledger, **options: Any) -> dict[str, Any]:
    """The single transition of the president's office."""
    found = report(ledger, **options)
    assert len(found) == 1
    return found[0]


def fates(transition: dict[str, Any]) -> dict[str, str]:
    """Commitment slug -> fate."""
    return {c["subject"].split("/", 1)[1]: c["fate"] for c in transition["commitments"]}


def fate_of(ledger: Ledger, *story: dict[str, Any], slug: str = "c", **options: Any) -> str:
    """Import the story after the people and the handover; the fate of commitment/`slug`."""
    ledger.import_lines(lines(*PEOPLE, *HANDOVER, *story))
    return fates(only(ledger, **options))[slug]


# --- transitions -----------------------------------------------------------------


def test_a_change_of_administration_is_one_transition_at_the_new_tenure_start(
    ledger: Ledger,
) -> None:
    ledger.import_lines(lines(*PEOPLE, *HANDOVER))
    transition = only(ledger)
    assert transition["at"] == T
    assert transition["from"] == {"administration": "old", "holder": "actor/old", "role": "elected"}
    assert transition["to"] == {"administration": "new", "holder": "actor/new", "role": "elected"}
    assert transition["window"] == {
        "start": T,
        "end": "2026-06-04T00:00:00+09:00",
        "complete": False,
    }


def test_the_first_tenure_and_a_second_term_are_no_transition(ledger: Ledger) -> None:
    ledger.import_lines(
        lines(
            *PEOPLE,
            began("old", "2020-05-10"),
            ended("old", "2024-05-10"),
            began("old", "2024-05-10"),
        )
    )
    assert report(ledger) == []
    assert report(ledger, by="tenure") == []


def test_acting_presidents_of_the_same_administration_are_a_transition_only_by_tenure(
    ledger: Ledger,
) -> None:
    ledger.import_lines(
        lines(
            *PEOPLE,
            began("old", "2022-05-10"),
            suspended("old", "2024-12-14"),
            began("acting", "2024-12-14", role="acting", administration="old"),
            ended("old", "2025-04-04", reason="removed"),
            ended("acting", T),
            began("new", T),
        )
    )
    by_administration = only(ledger)
    assert by_administration["at"] == T
    assert by_administration["from"] == {
        "administration": "old",
        "holder": "actor/acting",
        "role": "acting",
    }
    by_tenure = report(ledger, by="tenure")
    assert [(t["at"], t["from"]["holder"], t["to"]["holder"]) for t in by_tenure] == [
        ("2024-12-14T00:00:00+09:00", "actor/old", "actor/acting"),
        (T, "actor/acting", "actor/new"),
    ]
    assert by_tenure[0]["window"]["end"] == T


def test_a_suspension_and_resumption_within_one_administration_is_no_transition(
    ledger: Ledger,
) -> None:
    ledger.import_lines(
        lines(
            *PEOPLE,
            began("old", "2022-05-10"),
            suspended("old", "2024-12-14"),
            began("acting", "2024-12-14", role="acting", administration="old"),
            ended("acting", "2025-03-24"),
            resumed("old", "2025-03-24"),
        )
    )
    assert report(ledger) == []
    by_tenure = report(ledger, by="tenure")
    assert [(t["from"]["holder"], t["to"]["holder"]) for t in by_tenure] == [
        ("actor/old", "actor/acting"),
        ("actor/acting", "actor/old"),
    ]
    assert by_tenure[1]["at"] == "2025-03-24T00:00:00+09:00"


def test_a_resumption_after_an_acting_holder_of_another_administration_is_a_transition(
    ledger: Ledger,
) -> None:
    ledger.import_lines(
        lines(
            *PEOPLE,
            began("old", "2022-05-10"),
            suspended("old", "2024-12-14"),
            began("acting", "2024-12-14", role="interim", administration="caretaker"),
            ended("acting", "2025-03-24"),
            resumed("old", "2025-03-24"),
        )
    )
    found = report(ledger)
    assert [(t["at"], t["to"]["administration"]) for t in found] == [
        ("2024-12-14T00:00:00+09:00", "caretaker"),
        ("2025-03-24T00:00:00+09:00", "old"),
    ]


def test_a_tenure_that_never_ran_hands_nothing_over(ledger: Ledger) -> None:
    ledger.import_lines(
        lines(
            *PEOPLE,
            began("old", "2022-05-10"),
            suspended("old", "2024-12-14"),
            began("acting", "2024-12-14", role="acting", administration="old"),
            ended("acting", "2024-12-14"),
            began("next", "2024-12-14", role="acting", administration="old"),
        )
    )
    by_tenure = report(ledger, by="tenure")
    assert [(t["from"]["holder"], t["to"]["holder"]) for t in by_tenure] == [
        ("actor/old", "actor/next")
    ]


def test_a_vacancy_passes_the_office_when_the_next_holder_starts(ledger: Ledger) -> None:
    ledger.import_lines(
        lines(*PEOPLE, began("old", "2020-05-10"), ended("old", "2025-05-01"), began("new", T))
    )
    assert only(ledger)["at"] == T


def test_transitions_reads_an_office_state_directly(ledger: Ledger) -> None:
    ledger.import_lines(lines(*PEOPLE, *HANDOVER))
    history = [e for e in ledger.events() if e.subject == PRESIDENT]
    state = fold_office(live_events(history))
    assert state is not None
    [found] = transitions(state, tz=ledger.tz)
    assert (found.office, found.outgoing.holder, found.incoming.holder) == (
        PRESIDENT,
        "actor/old",
        "actor/new",
    )
    assert found.at == datetime(2025, 6, 3, 15, tzinfo=UTC)


def test_an_unknown_grouping_or_a_horizon_below_a_day_is_refused(ledger: Ledger) -> None:
    ledger.import_lines(lines(*PEOPLE, *HANDOVER))
    with pytest.raises(ValueError, match="by must be one of"):
        report(ledger, by="party")
    with pytest.raises(ValueError, match="at least one day"):
        report(ledger, horizon_days=0)


# --- each fate -------------------------------------------------------------------


def test_a_pledge_nobody_in_government_acts_on_is_silent(ledger: Ledger) -> None:
    assert fate_of(ledger, pledge("c")) == "silent"


def test_a_reaffirmation_by_the_new_government_continues_a_pledge(ledger: Ledger) -> None:
    assert fate_of(ledger, pledge("c"), reaffirmed("c", "2025-07-01")) == "continued"


def test_a_progress_report_by_anyone_continues_a_pledge(ledger: Ledger) -> None:
    assert fate_of(ledger, pledge("c"), progress("c", "2025-07-01", "2,000")) == "continued"


def test_an_allocation_in_the_window_continues_a_pledge_and_is_its_act(ledger: Ledger) -> None:
    ledger.import_lines(
        lines(
            *PEOPLE,
            *HANDOVER,
            pledge("c"),
            appropriation("l1", "2025-07-01", "proposed", {"c": "1000"}),
        )
    )
    [commitment] = only(ledger)["commitments"]
    assert commitment["fate"] == "continued"
    assert commitment["act"]["subject"] == "budget/l1"
    assert commitment["act"]["type"] == "AppropriationRecorded"


def test_an_assessment_is_never_a_government_act(ledger: Ledger) -> None:
    assert fate_of(ledger, pledge("c"), assessed("c", "2025-07-01")) == "silent"


def test_acts_of_the_opposition_or_legislature_are_not_government_acts(ledger: Ledger) -> None:
    story = [
        pledge("c"),
        reaffirmed("c", "2025-07-01", by="actor/loser", capacity="opposition"),
        withdrawn("c", "2025-08-01", capacity="legislature"),
    ]
    assert fate_of(ledger, *story) == "silent"


def test_a_withdrawal_by_the_new_government_drops_a_pledge_whatever_came_before(
    ledger: Ledger,
) -> None:
    ledger.import_lines(
        lines(
            *PEOPLE,
            *HANDOVER,
            pledge("c"),
            reaffirmed("c", "2025-07-01"),
            withdrawn("c", "2025-09-01"),
        )
    )
    [commitment] = only(ledger)["commitments"]
    assert commitment["fate"] == "dropped"
    act = commitment["act"]
    assert (act["type"], act["occurred_at"], act["subject"]) == (
        "CommitmentWithdrawn",
        "2025-09-01",
        "commitment/c",
    )
    assert act["source"] == "https://example.org/source"
    assert len(act["id"]) == 36


def test_a_supersession_by_the_new_government_replaces_a_pledge(ledger: Ledger) -> None:
    story = [
        pledge("c"),
        revised("c", "2025-06-10", [gpus("20,000")]),
        made("d", by="actor/new", on="2025-07-01"),
        superseded("c", "d", "2025-07-02"),
    ]
    assert fate_of(ledger, *story) == "replaced"


def test_a_raised_target_scales_a_pledge_up_and_the_last_revision_decides(ledger: Ledger) -> None:
    ledger.import_lines(
        lines(
            *PEOPLE,
            *HANDOVER,
            pledge("c"),
            revised("c", "2025-07-01", [gpus("12,000")]),
            revised("c", "2025-08-01", [gpus("20,000")]),
        )
    )
    [commitment] = only(ledger)["commitments"]
    assert commitment["fate"] == "scaled-up"
    assert commitment["act"]["occurred_at"] == "2025-08-01"


def test_a_lowered_target_scales_a_pledge_down(ledger: Ledger) -> None:
    assert (
        fate_of(ledger, pledge("c"), revised("c", "2025-07-01", [gpus("5,000")])) == "scaled-down"
    )


def test_levels_compare_at_the_window_end_not_revision_by_revision(ledger: Ledger) -> None:
    story = [
        pledge("c"),
        revised("c", "2025-07-01", [gpus("5,000")]),
        revised("c", "2025-08-01", [gpus("15,000")]),
    ]
    assert fate_of(ledger, *story) == "scaled-up"


def test_a_removed_target_counts_as_lowered(ledger: Ledger) -> None:
    story = [
        pledge("c", targets=[gpus("10,000"), won("1.8조")]),
        revised("c", "2025-07-01", [], removed=["budget"]),
    ]
    assert fate_of(ledger, *story) == "scaled-down"


def test_a_new_target_counts_as_raised(ledger: Ledger) -> None:
    assert fate_of(ledger, pledge("c"), revised("c", "2025-07-01", [won("1조")])) == "scaled-up"


def test_a_raise_beside_a_removal_is_revised(ledger: Ledger) -> None:
    story = [
        pledge("c", targets=[gpus("10,000"), won("1.8조")]),
        revised("c", "2025-07-01", [gpus("20,000")], removed=["budget"]),
    ]
    assert fate_of(ledger, *story) == "revised"


def test_a_revision_that_moves_no_quantity_is_revised(ledger: Ledger) -> None:
    story = [pledge("c"), revised("c", "2025-07-01", [{"key": "gpus", "due": "2027-12-31"}])]
    assert fate_of(ledger, *story) == "revised"


def test_a_revision_by_the_opposition_leaves_the_fate_to_government_acts(ledger: Ledger) -> None:
    story = [
        pledge("c"),
        revised("c", "2025-07-01", [gpus("5,000")], capacity="opposition"),
        reaffirmed("c", "2025-08-01"),
    ]
    assert fate_of(ledger, *story) == "continued"


# --- the live set ----------------------------------------------------------------


def test_only_commitments_live_at_the_transition_are_followed(ledger: Ledger) -> None:
    ledger.import_lines(
        lines(
            *PEOPLE,
            *HANDOVER,
            pledge("live"),
            pledge("at-t", on=T),
            made("by-gov", by="actor/gov", capacity="government"),
            pledge("delivered"),
            progress("delivered", "2025-05-01", "10,000"),
            pledge("withdrawn"),
            ev(
                "CommitmentWithdrawn",
                "commitment/withdrawn",
                "2025-05-01",
                {"by": "actor/old", "capacity": "head-of-government", "reason": "cut"},
            ),
            pledge("superseded"),
            pledge("successor"),
            ev(
                "CommitmentSuperseded",
                "commitment/superseded",
                "2025-05-01",
                {
                    "by": "actor/old",
                    "capacity": "head-of-government",
                    "successor": "commitment/successor",
                },
            ),
            made("after", by="actor/new", on="2025-06-05"),
            made("losers", by="actor/loser", capacity="candidate", on="2025-04-14"),
            made("assembly", by="actor/assembly", capacity="legislature"),
        )
    )
    transition = only(ledger)
    assert sorted(fates(transition)) == ["at-t", "by-gov", "live", "successor"]
    assert transition["live"] == 4
    assert transition["carried_into_office"]["commitments"] == []


def test_a_commitment_half_delivered_at_the_transition_stays_live(ledger: Ledger) -> None:
    assert fate_of(ledger, pledge("c"), progress("c", "2025-05-01", "9,999")) == "silent"


def test_the_area_filter_keeps_commitments_of_that_area(ledger: Ledger) -> None:
    ledger.import_lines(lines(*PEOPLE, *HANDOVER, pledge("ai"), pledge("health", areas=["health"])))
    assert sorted(fates(only(ledger, area="health"))) == ["health"]
    assert sorted(fates(only(ledger))) == ["ai", "health"]


# --- carried into office ---------------------------------------------------------


def test_the_incoming_holders_campaign_pledges_are_carried_into_office(ledger: Ledger) -> None:
    ledger.import_lines(
        lines(
            *PEOPLE,
            *HANDOVER,
            made("campaign", by="actor/new", capacity="candidate", on="2025-04-14"),
            made("opposition", by="actor/new", capacity="opposition", on="2023-01-01"),
            made("at-t", by="actor/new", capacity="candidate", on=T),
            made("losers", by="actor/loser", capacity="candidate", on="2025-04-14"),
            reaffirmed("campaign", "2025-08-01", by="actor/new", capacity="head-of-government"),
            appropriation("l1", "2025-09-01", "approved", {"campaign": "5000"}),
        )
    )
    transition = only(ledger)
    assert transition["live"] == 0
    assert transition["continuity_rate"] is None
    carried = transition["carried_into_office"]
    assert fates(carried) == {"campaign": "continued", "opposition": "silent"}
    assert carried["live"] == 2
    assert carried["continuity_rate"] == "0.5"
    assert carried["funding"]["GPU"] == {"pledged": "20000", "appropriated": "0"}
    assert carried["funding"][WON] == {"pledged": "0", "appropriated": "5000"}


# --- windows and clocks ----------------------------------------------------------


def test_an_act_after_the_horizon_does_not_count(ledger: Ledger) -> None:
    story = [pledge("c"), reaffirmed("c", "2026-06-05")]
    assert fate_of(ledger, *story) == "silent"
    assert fates(only(ledger, horizon_days=400))["c"] == "continued"


def test_the_window_is_open_at_the_transition_and_closed_at_its_end(ledger: Ledger) -> None:
    ledger.import_lines(
        lines(
            *PEOPLE,
            *HANDOVER,
            pledge("at-start"),
            pledge("at-end"),
            reaffirmed("at-start", T),
            reaffirmed("at-end", "2026-06-04"),
        )
    )
    assert fates(only(ledger)) == {"at-start": "silent", "at-end": "continued"}


def test_the_window_ends_at_the_next_transition(ledger: Ledger) -> None:
    ledger.import_lines(
        lines(
            *PEOPLE,
            *HANDOVER,
            ended("new", "2025-09-01", reason="resigned"),
            began("next", "2025-09-01"),
            pledge("c"),
            reaffirmed("c", "2025-10-01"),
            pledge("d"),
            reaffirmed("d", "2025-09-01"),
        )
    )
    first, second = report(ledger)
    assert first["window"]["end"] == "2025-09-01T00:00:00+09:00"
    assert fates(first) == {"c": "silent", "d": "continued"}
    assert (second["from"]["holder"], second["to"]["holder"]) == ("actor/new", "actor/next")
    assert fates(second) == {"c": "continued", "d": "silent"}


def test_a_retraction_in_the_window_changes_a_fate_and_known_at_before_it_restores_it(
    ledger: Ledger, clock: Clock
) -> None:
    withdrawal_id = "0b0c6a3e-3c1f-4a55-9a6e-7f1e3f2b9d01"
    ledger.import_lines(
        lines(
            *PEOPLE,
            *HANDOVER,
            pledge("c"),
            reaffirmed("c", "2025-07-01"),
            withdrawn("c", "2025-09-01", id=withdrawal_id),
        )
    )
    assert fates(only(ledger))["c"] == "dropped"
    clock.set(datetime(2026, 3, 1, tzinfo=UTC))
    ledger.import_lines(lines(retracted("commitment/c", withdrawal_id, "2026-03-01")))
    assert fates(only(ledger))["c"] == "continued"
    assert fates(only(ledger, known_at="2026-02-01"))["c"] == "dropped"


def test_as_of_hides_later_transitions_and_acts(ledger: Ledger) -> None:
    ledger.import_lines(lines(*PEOPLE, *HANDOVER, pledge("c"), reaffirmed("c", "2025-09-01")))
    assert report(ledger, as_of="2025-06-01") == []
    during = only(ledger, as_of="2025-08-01")
    assert (fates(during)["c"], during["window"]["complete"]) == ("silent", False)
    after = only(ledger, as_of="2026-07-01")
    assert (fates(after)["c"], after["window"]["complete"]) == ("continued", True)


# --- rate and money --------------------------------------------------------------


def test_continuity_rate_counts_all_but_dropped_and_silent(ledger: Ledger) -> None:
    ledger.import_lines(
        lines(
            *PEOPLE,
            *HANDOVER,
            pledge("a"),
            pledge("b"),
            pledge("c"),
            withdrawn("a", "2025-07-01"),
            reaffirmed("c", "2025-07-01"),
        )
    )
    transition = only(ledger)
    assert transition["live"] == 3
    assert {k: v for k, v in transition["fates"].items() if v} == {
        "dropped": 1,
        "silent": 1,
        "continued": 1,
    }
    assert set(transition["fates"]) == {
        "dropped",
        "replaced",
        "scaled-up",
        "scaled-down",
        "revised",
        "continued",
        "silent",
    }
    assert transition["continuity_rate"] == "0.3333"


@pytest.mark.parametrize(
    ("live", "kept", "rate"),
    [(32, 1, "0.0312"), (32, 3, "0.0938"), (3, 2, "0.6667"), (2, 2, "1"), (4, 0, "0")],
)
def test_continuity_rate_rounds_half_even_to_four_places(live: int, kept: int, rate: str) -> None:
    def one(fate: str) -> CommitmentFate:
        return CommitmentFate(
            "commitment/x", "x", "actor/x", "2025-01-01", "government", fate, None
        )

    cohort = Cohort([one("continued")] * kept + [one("silent")] * (live - kept), {}, {})
    assert cohort.to_json()["continuity_rate"] == rate


def test_funding_sums_pledges_and_window_approvals_per_unit(ledger: Ledger) -> None:
    ledger.import_lines(
        lines(
            *PEOPLE,
            *HANDOVER,
            pledge("a", targets=[gpus("10,000"), won("1.8조")]),
            pledge("b", targets=[won("500억")]),
            made("c", by="actor/new", on="2025-07-01", targets=[won("9조")]),
            appropriation("before", "2025-05-01", "approved", {"a/budget": "5000억"}),
            appropriation(
                "l1", "2025-07-01", "approved", {"a/budget": "1조", "b": "300억", "c": "1조"}
            ),
            appropriation("l1", "2025-08-01", "adjusted", {"a/budget": "1.2조"}),
            appropriation("l1", "2025-12-01", "executed", {"a/budget": "1.1조"}),
            appropriation("l2", "2025-07-01", "proposed", {"a/budget": "9조"}),
            appropriation("l3", "2025-09-01", "approved", {"b/budget": "100억"}),
            appropriation("late", "2026-07-01", "approved", {"a/budget": "1조"}),
        )
    )
    funding = only(ledger)["funding"]
    assert funding == {
        "GPU": {"pledged": "10000", "appropriated": "0"},
        WON: {"pledged": "1850000000000", "appropriated": "1240000000000"},
    }


# --- the whole report ------------------------------------------------------------


def test_the_report_covers_every_office_or_the_one_asked_for(ledger: Ledger) -> None:
    ledger.import_lines(
        lines(
            *PEOPLE,
            *HANDOVER,
            office("minister"),
            began("old", "2021-01-01", at="office/minister"),
            ended("old", "2025-07-01", at="office/minister"),
            began("next", "2025-07-01", at="office/minister"),
        )
    )
    view = ledger.view()
    events = list(ledger.events())
    assert sorted(continuity_report(events, view).to_json()) == ["office/minister", PRESIDENT]
    assert list(continuity_report(events, view, office="office/minister").to_json()) == [
        "office/minister"
    ]
    with pytest.raises(NotFound):
        continuity_report(events, view, office="office/nowhere")


def test_the_report_is_json_ready_deterministic_and_takes_grouped_events(ledger: Ledger) -> None:
    ledger.import_lines(
        lines(
            *PEOPLE,
            *HANDOVER,
            pledge("c", targets=[won("1.8조")]),
            appropriation("l1", "2025-07-01", "approved", {"c": "1.25"}),
        )
    )
    events = list(ledger.events())
    view = View(now=datetime(2026, 1, 1, tzinfo=UTC), tz=ledger.tz)
    grouped: dict[str, list[Any]] = {}
    for stored in events:
        grouped.setdefault(stored.subject, []).append(stored)
    first = orjson.dumps(continuity_report(events, view).to_json(), option=orjson.OPT_SORT_KEYS)
    again = orjson.dumps(
        continuity_report(reversed(events), view).to_json(), option=orjson.OPT_SORT_KEYS
    )
    from_groups = orjson.dumps(
        continuity_report(grouped, view).to_json(), option=orjson.OPT_SORT_KEYS
    )
    assert first == again == from_groups
    assert b'"appropriated":"1.25"' in first
    assert Decimal(
        orjson.loads(first)[PRESIDENT]["transitions"][0]["funding"][WON]["pledged"]
    ) == Decimal("1.8E12")


def test_the_example_ledger_reports_the_2025_change_of_administration(ledger: Ledger) -> None:
    ledger.import_lines(EXAMPLE.read_bytes().splitlines())
    view = ledger.view()
    events = list(ledger.events())
    by_administration = continuity_report(events, view).to_json()["office/president-of-korea"][
        "transitions"
    ]
    in_2025 = [t for t in by_administration if t["at"].startswith("2025")]
    assert len(in_2025) == 1
    transition = in_2025[0]
    assert transition["from"]["administration"] != transition["to"]["administration"]
    for cohort in (transition, transition["carried_into_office"]):
        assert sum(cohort["fates"].values()) == cohort["live"] == len(cohort["commitments"])
    by_tenure = continuity_report(events, view, by="tenure").to_json()["office/president-of-korea"]
    assert len(by_tenure["transitions"]) > len(by_administration)
