"""The audit queries, on small hand-built ledgers and on the example ledger."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from click.testing import CliRunner

from cli.app import cli
from cli.commands_demo import example_lines
from ledger import audit
from tests.builders import SOURCE, actor, ev, lines, made

KRW = "KRW"


def money(amount: str) -> dict[str, str]:
    return {"amount": amount, "unit": KRW}


def budget_made(slug: str = "fund", amount: str = "1000") -> dict:
    return made(slug, targets=[{"key": "money", "quantity": money(amount)}])


def appropriation(slug: str, on: str, phase: str, total: str, allocations: list[dict]) -> dict:
    return ev(
        "AppropriationRecorded",
        f"budget/{slug}",
        on,
        {
            "body": "actor/assembly",
            "fiscal_year": 2025,
            "phase": phase,
            "instrument": "main",
            "quantity": money(total),
            "allocations": allocations,
        },
    )


@pytest.fixture
def base(ledger):
    ledger.import_lines(lines(actor("han"), actor("lee"), actor("assembly", kind="legislature")))
    return ledger


def test_history_diff_names_the_fields_each_event_changed(base):
    base.import_lines(
        lines(
            made("gpus"),
            ev(
                "CommitmentRevised",
                "commitment/gpus",
                "2025-05-01",
                {
                    "by": "actor/han",
                    "capacity": "head-of-government",
                    "targets": [{"key": "gpus", "quantity": {"amount": "15000", "unit": "GPU"}}],
                },
            ),
        )
    )
    steps = audit.history_diff("commitment/gpus", base.history("commitment/gpus"), base.view())
    assert [s.event.type for s in steps] == ["CommitmentMade", "CommitmentRevised"]
    revision = {c.field: (c.before, c.after) for c in steps[1].changes}
    assert revision["targets.gpus.quantity.amount"] == ("10000", "15000")
    assert revision["event_count"] == (1, 2)


def test_history_diff_marks_a_retracted_event_and_it_changes_nothing(base):
    result = base.import_lines(
        lines(
            made("gpus"),
            ev(
                "ProgressReported",
                "commitment/gpus",
                "2025-06-01",
                {"target": "gpus", "achieved": {"amount": "500", "unit": "GPU"}},
            ),
        )
    )
    wrong = result.added[1].id
    base.import_lines(
        lines(
            ev(
                "EventRetracted",
                "commitment/gpus",
                "2025-07-01",
                {"event": wrong, "reason": "misreported"},
            )
        )
    )
    steps = audit.history_diff("commitment/gpus", base.history("commitment/gpus"), base.view())
    retracted = [s for s in steps if s.retracted]
    assert [s.event.id for s in retracted] == [wrong]
    assert retracted[0].changes == []


def test_diff_lists_commitments_changed_between_two_valid_times(base):
    base.import_lines(
        lines(
            made("a"),
            made("b"),
            ev(
                "CommitmentWithdrawn",
                "commitment/b",
                "2025-09-01",
                {"by": "actor/lee", "capacity": "head-of-government", "reason": "no money"},
            ),
        )
    )
    diffs = audit.diff_states(
        list(base.events()), base.view(as_of="2025-06-01"), base.view(as_of="2025-12-01")
    )
    assert [d.subject for d in diffs] == ["commitment/b"]
    fields = {c.field: c.after for c in diffs[0].changes}
    assert fields["status"] == "withdrawn"


def test_diff_known_compares_record_time(base, clock):
    base.import_lines(lines(made("a")))
    cut = clock.now
    base.import_lines(lines(made("b")))
    diffs = audit.diff_states(list(base.events()), base.view(known_at=cut.isoformat()), base.view())
    assert [d.subject for d in diffs] == ["commitment/b"]
    assert {c.field: c.before for c in diffs[0].changes}["status"] is None


def test_unfunded_lists_monetary_targets_without_approved_money(base):
    base.import_lines(
        lines(
            budget_made("funded"),
            budget_made("bare"),
            made("gpus"),
            appropriation(
                "line",
                "2025-05-01",
                "approved",
                "5000",
                [{"commitment": "commitment/funded", "target": "money", "quantity": money("400")}],
            ),
        )
    )
    state = base.state_json(base.view())
    assert [g.subject for g in audit.unfunded(state)] == ["commitment/bare"]  # GPUs are not money
    below_half = audit.unfunded(state, Decimal("0.5"))
    assert [(g.subject, g.fraction) for g in below_half] == [
        ("commitment/bare", Decimal(0)),
        ("commitment/funded", Decimal("0.4")),
    ]


def test_unfunded_counts_an_allocation_without_target_towards_money_targets(base):
    base.import_lines(
        lines(
            budget_made("x"),
            appropriation(
                "line",
                "2025-05-01",
                "approved",
                "5000",
                [{"commitment": "commitment/x", "quantity": money("1000")}],
            ),
        )
    )
    assert audit.unfunded(base.state_json(base.view())) == []


def test_proposed_money_is_not_approved_money(base):
    base.import_lines(
        lines(
            budget_made("x"),
            appropriation(
                "line",
                "2025-05-01",
                "proposed",
                "5000",
                [{"commitment": "commitment/x", "target": "money", "quantity": money("1000")}],
            ),
        )
    )
    assert [g.subject for g in audit.unfunded(base.state_json(base.view()))] == ["commitment/x"]


def test_overdue_lists_passed_due_dates_most_late_first(base):
    base.import_lines(
        lines(
            made("late", due="2025-06-30"),
            made("later", due="2025-03-01"),
            made("future", due="2030-01-01"),
        )
    )
    view = base.view(as_of="2025-07-10")
    found = audit.overdue(base.state_json(view), view.judged_on)
    assert [(o.subject, o.days_late) for o in found] == [
        ("commitment/later", 131),
        ("commitment/late", 10),
    ]


def test_stalled_counts_allocations_and_progress_as_acts_but_not_assessments(base):
    base.import_lines(
        lines(
            actor("watchdog", kind="organization"),
            budget_made("funded"),
            budget_made("rated"),
            made("progressing"),
            appropriation(
                "line",
                "2025-09-01",
                "approved",
                "5000",
                [{"commitment": "commitment/funded", "target": "money", "quantity": money("10")}],
            ),
            ev(
                "ProgressReported",
                "commitment/progressing",
                "2025-09-01",
                {"target": "gpus", "achieved": {"amount": "10", "unit": "GPU"}},
            ),
            ev(
                "AssessmentRecorded",
                "commitment/rated",
                "2025-09-01",
                {"assessor": "actor/watchdog", "rubric": "politifact", "rating": "stalled"},
            ),
        )
    )
    found = audit.stalled(list(base.events()), base.view(as_of="2025-10-01"), days=90)
    assert [s.subject for s in found] == ["commitment/rated"]
    assert found[0].days_since == 160


def test_revisions_report_size_author_and_administration_largest_first(base):
    base.import_lines(
        lines(
            ev(
                "OfficeCreated",
                "office/president",
                "1948-07-24",
                {"name": "President", "jurisdiction": "KR", "kind": "head-of-state"},
            ),
            ev(
                "TenureBegan",
                "office/president",
                "2025-01-01",
                {"holder": "actor/han", "role": "acting", "administration": "yoon"},
            ),
            made(
                "a",
                targets=[
                    {"key": "x", "quantity": money("100")},
                    {"key": "y", "quantity": money("100")},
                ],
            ),
            ev(
                "CommitmentRevised",
                "commitment/a",
                "2025-05-01",
                {
                    "by": "actor/han",
                    "capacity": "head-of-government",
                    "targets": [{"key": "x", "quantity": money("110")}],
                    "removed": ["y"],
                },
            ),
        )
    )
    found = audit.revisions(list(base.events()), base.view())
    assert [(r.target, r.absolute, r.relative) for r in found] == [
        ("y", Decimal(-100), Decimal(-1)),
        ("x", Decimal(10), Decimal("0.1")),
    ]
    assert {r.administration for r in found} == {"yoon"}


def test_by_actor_lists_what_an_actor_did_and_in_which_capacity(base):
    base.import_lines(
        lines(
            made("a", by="actor/lee", capacity="candidate", on="2025-04-14"),
            ev(
                "CommitmentReaffirmed",
                "commitment/a",
                "2025-08-01",
                {"by": "actor/lee", "capacity": "head-of-government"},
            ),
            made("b"),
        )
    )
    acts = audit.by_actor(base.events(), "actor/lee", base.view())
    assert [(a.verb, a.capacity) for a in acts] == [
        ("pledged", "candidate"),
        ("reaffirmed", "head-of-government"),
    ]


def test_sources_audit_finds_unarchived_sources_and_filters_by_domain_or_publisher(base):
    archived = [
        {
            "url": "https://www.yna.co.kr/view/1",
            "publisher": "Yonhap",
            "archive_url": "https://archive.example/1",
            "sha256": "a" * 64,
        }
    ]
    base.import_lines(lines({**made("a"), "sources": archived}, made("b")))
    unarchived = audit.sources_audit(base.events())
    assert {f.event.subject for f in unarchived if f.event.subject.startswith("commitment/")} == {
        "commitment/b"
    }
    assert [f.event.subject for f in audit.sources_audit(base.events(), domain="yna.co.kr")] == [
        "commitment/a"
    ]
    assert [f.event.subject for f in audit.sources_audit(base.events(), publisher="yonhap")] == [
        "commitment/a"
    ]
    assert SOURCE[0]["publisher"] == "Example Daily"


def test_search_finds_korean_and_english_text_in_titles_and_quotes(base):
    pledge = made("a", title="인공지능 인재 3,300명 양성")
    base.import_lines(
        lines({**pledge, "sources": [{"url": "https://x.org", "quote": "GPU 1만 장 확보"}]})
    )
    assert [m.where for m in audit.search(base.events(), "인재")] == ["data.title"]
    assert [m.where for m in audit.search(base.events(), "gpu 1만")] == ["sources[0].quote"]
    assert audit.search(base.events(), "nothing like this") == []


@pytest.mark.parametrize(
    "command",
    [
        ["unfunded"],
        ["unfunded", "--below", "0.5"],
        ["overdue"],
        ["stalled", "--days", "30"],
        ["revisions"],
        ["by-actor", "actor/han-duck-soo"],
        ["sources"],
        ["sources", "--domain", "joins.com"],
        ["search", "GPU"],
        ["diff", "--from", "2025-06-03", "--to", "2026-06-03"],
        ["diff", "--known", "--from", "2020-01-01", "--to", "2030-01-01"],
    ],
)
def test_every_audit_query_runs_on_the_example_ledger(tmp_path, command):
    db = str(tmp_path / "example.db")
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", db, "init", "--tz", "Asia/Seoul"]).exit_code == 0
    example = tmp_path / "example.ndjson"
    example.write_bytes(b"\n".join(example_lines()))
    assert runner.invoke(cli, ["--db", db, "import", str(example)]).exit_code == 0
    text = runner.invoke(cli, ["--db", db, *command])
    assert text.exit_code == 0, text.output
    as_json = runner.invoke(cli, ["--db", db, *command, "--json"])
    assert as_json.exit_code == 0 and as_json.output.lstrip().startswith("[")


def test_example_ledger_han_pledges_show_up_for_the_acting_president(ledger):
    ledger.import_lines(example_lines())
    acts = audit.by_actor(ledger.events(), "actor/han-duck-soo", ledger.view())
    assert sum(1 for a in acts if a.verb == "pledged") == 6
    assert datetime.now(UTC).year >= 2025


def test_history_diff_command_shows_fields_before_and_after(tmp_path):
    db = str(tmp_path / "example.db")
    runner = CliRunner()
    runner.invoke(cli, ["--db", db, "init", "--tz", "Asia/Seoul"])
    example = tmp_path / "example.ndjson"
    example.write_bytes(b"\n".join(example_lines()))
    runner.invoke(cli, ["--db", db, "import", str(example)])
    text = runner.invoke(cli, ["--db", db, "history", "commitment/kr-ai-gpus-10000", "--diff"])
    assert text.exit_code == 0, text.output
    assert "targets.gpus.quantity.amount: — → 10000" in text.output
    assert "assessments" not in text.output  # empty before and after is no change
    as_json = runner.invoke(
        cli, ["--db", db, "history", "commitment/kr-ai-gpus-10000", "--diff", "--json"]
    )
    steps = __import__("orjson").loads(as_json.output)
    assert steps[0]["type"] == "CommitmentMade" and steps[0]["changes"]
