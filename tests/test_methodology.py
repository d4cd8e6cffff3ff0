"""docs/methodology.md works the example ledger's 2025 transition by hand; the code must agree.

The document's tables (fates, deciding acts, dates, funding, the horizon table,
the by-tenure table) and its continuity_rate lines are parsed and compared with
`continuity_report` on the packaged example, in a SQLite ledger in Asia/Seoul,
as of the date the document states. Changing either the code or the document
without the other fails here. The crosswalk must name every status, every fate
and every known rating of the three rubrics.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cli.commands_demo import example_lines
from ledger.continuity import FATES, continuity_report
from ledger.events import KNOWN_RUBRICS
from ledger.service import Ledger
from ledger.vocabulary import STATUSES

DOC = Path(__file__).resolve().parents[1] / "docs" / "methodology.md"
OFFICE = "office/president-of-korea"
AS_OF = "2026-07-01"  # after the window's end (2026-06-04T06:21+09:00): fates are final
SEOUL = ZoneInfo("Asia/Seoul")
FATE_COLUMNS = ["commitment", "made by", "fate", "deciding act", "date"]
RUBRIC_COLUMNS = {
    "politifact": "PolitiFact Promise Meter",
    "polimetre": "Polimètre",
    "pledge-3": "comparative pledges (pledge-3)",
}


# --- reading the document ------------------------------------------------------------


def _doc() -> str:
    return DOC.read_text("utf-8")


def _sections(text: str) -> list[tuple[str, list[str]]]:
    """(heading, body lines) for every markdown heading, ignoring '#' inside code fences."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and re.match(r"#{1,6} ", line):
            sections.append((line.lstrip("#").strip(), []))
        else:
            sections[-1][1].append(line)
    return sections


def _section(text: str, phrase: str) -> list[str]:
    found = [body for heading, body in _sections(text) if phrase in heading]
    assert len(found) == 1, f"expected one heading containing {phrase!r}, found {len(found)}"
    return found[0]


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _tables(lines: list[str]) -> list[tuple[list[str], list[list[str]]]]:
    """Every pipe table in the lines: (header, rows), the separator row dropped."""
    tables: list[tuple[list[str], list[list[str]]]] = []
    block: list[str] = []
    for line in [*lines, ""]:
        if line.lstrip().startswith("|"):
            block.append(line)
            continue
        if block:
            header, _separator, *rows = block
            tables.append((_cells(header), [_cells(row) for row in rows]))
            block = []
    return tables


def _table(lines: list[str], header: list[str]) -> list[dict[str, str]]:
    found = [rows for head, rows in _tables(lines) if head == header]
    assert len(found) == 1, f"expected one table with columns {header}, found {len(found)}"
    rows = found[0]
    assert all(len(row) == len(header) for row in rows), "a row has the wrong number of cells"
    return [dict(zip(header, row, strict=True)) for row in rows]


def _code(cell: str) -> str:
    """A cell's text without the backticks of inline code around it."""
    return cell.strip("`")


def _fate_rows(phrase: str) -> dict[str, tuple[str, str, str, str]]:
    rows = _table(_section(_doc(), phrase), FATE_COLUMNS)
    rows = [{key: _code(cell) for key, cell in row.items()} for row in rows]
    subjects = [row["commitment"] for row in rows]
    assert len(subjects) == len(set(subjects)), f"a commitment appears twice under {phrase!r}"
    return {
        row["commitment"]: (row["made by"], row["fate"], row["deciding act"], row["date"])
        for row in rows
    }


# --- what the code computes ----------------------------------------------------------


def _report(ledger: Ledger, **options: Any) -> dict[str, Any]:
    report = continuity_report(
        list(ledger.events()), ledger.view(as_of=AS_OF), office=OFFICE, **options
    )
    return dict(report.to_json()[OFFICE])


@pytest.fixture
def example(ledger: Ledger) -> Ledger:
    """The packaged example ledger (48 events) in a fresh SQLite ledger in Asia/Seoul."""
    result = ledger.import_lines(example_lines())
    assert len(result.added) == 48
    return ledger


@pytest.fixture
def transition(example: Ledger) -> dict[str, Any]:
    """The one change of administration in the example, as the report gives it."""
    transitions = _report(example)["transitions"]
    assert len(transitions) == 1
    return dict(transitions[0])


def _local_date(occurred_at: str) -> str:
    if "T" not in occurred_at:
        return occurred_at
    return datetime.fromisoformat(occurred_at).astimezone(SEOUL).date().isoformat()


def _computed_rows(cohort: dict[str, Any]) -> dict[str, tuple[str, str, str, str]]:
    rows = {}
    for item in cohort["commitments"]:
        act = item["act"]
        rows[item["subject"]] = (
            item["made_by"],
            item["fate"],
            act["type"] if act else "—",
            _local_date(act["occurred_at"]) if act else "—",
        )
    return rows


# --- the worked example ------------------------------------------------------------------


def test_the_document_uses_an_as_of_after_the_window(transition: dict[str, Any]) -> None:
    doc = _doc()
    assert f"--as-of {AS_OF}" in doc
    window = transition["window"]
    assert window["complete"] is True
    assert transition["at"] == window["start"] == "2025-06-04T06:21:00+09:00"
    assert window["end"] == "2026-06-04T06:21:00+09:00"
    for instant in (window["start"], window["end"]):
        assert instant in doc
    assert transition["from"]["holder"] == "actor/lee-ju-ho"
    assert transition["from"]["administration"] == "yoon-suk-yeol"
    assert transition["to"]["holder"] == "actor/lee-jae-myung"
    assert transition["to"]["administration"] == "lee-jae-myung"


def test_live_set_fates_match_the_hand_worked_table(transition: dict[str, Any]) -> None:
    assert _fate_rows("Live at the transition") == _computed_rows(transition)


def test_carried_into_office_fates_match_the_hand_worked_table(
    transition: dict[str, Any],
) -> None:
    carried = transition["carried_into_office"]
    assert _fate_rows("Carried into office") == _computed_rows(carried)


def test_continuity_rate_lines_match(transition: dict[str, Any]) -> None:
    doc = _doc()
    live = re.findall(r"^continuity_rate = (\S+)\s*$", doc, flags=re.MULTILINE)
    assert live == [transition["continuity_rate"]]
    carried = re.findall(
        r"^carried_into_office: continuity_rate = (\S+)\s*$", doc, flags=re.MULTILINE
    )
    assert carried == [transition["carried_into_office"]["continuity_rate"]]


def test_funding_per_unit_matches(transition: dict[str, Any]) -> None:
    rows = _table(
        _section(_doc(), "Funding per unit"), ["cohort", "unit", "pledged", "appropriated"]
    )
    documented = {(r["cohort"], r["unit"]): (r["pledged"], r["appropriated"]) for r in rows}
    computed = {
        (cohort, unit): (money["pledged"], money["appropriated"])
        for cohort, funding in (
            ("live", transition["funding"]),
            ("carried_into_office", transition["carried_into_office"]["funding"]),
        )
        for unit, money in funding.items()
    }
    assert documented == computed


def test_the_horizon_table_matches(example: Ledger) -> None:
    rows = _table(
        _section(_doc(), "The horizon"), ["`--horizon`", "window ends", "continued", "rate"]
    )
    assert rows
    for row in rows:
        (found,) = _report(example, horizon_days=int(_code(row["`--horizon`"])))["transitions"]
        assert found["continuity_rate"] == row["rate"], row
        assert found["window"]["end"][:16] == row["window ends"][:16], row


def test_the_by_tenure_table_matches(example: Ledger) -> None:
    rows = _table(
        _section(_doc(), "The same transition by tenure"), ["t", "from → to", "live", "result"]
    )
    found = _report(example, by="tenure")["transitions"]
    assert [(r["t"], int(r["live"])) for r in rows] == [
        (t["at"][:16] + t["at"][19:], t["live"]) for t in found
    ]
    for row, computed in zip(rows, found, strict=True):
        rate = computed["continuity_rate"]
        assert (f"rate {rate}" if rate is not None else "rate null") in row["result"]


# --- the crosswalk -----------------------------------------------------------------------


def test_the_crosswalk_covers_every_status_fate_and_known_rating() -> None:
    header = [
        "ledger",
        "kind",
        *RUBRIC_COLUMNS.values(),
        "caveat",
    ]
    rows = _table(_section(_doc(), "4. Crosswalk"), header)
    by_kind: dict[str, list[str]] = {}
    for row in rows:
        by_kind.setdefault(row["kind"], []).append(_code(row["ledger"]))
    assert sorted(by_kind) == ["fate", "status"]
    assert sorted(by_kind["status"]) == sorted(STATUSES)
    assert sorted(by_kind["fate"]) == sorted(FATES)
    for rubric, column in RUBRIC_COLUMNS.items():
        named = {slug for row in rows for slug in re.findall(r"`([a-z0-9-]+)`", row[column])}
        known = set(KNOWN_RUBRICS[rubric])
        assert named <= known, f"{rubric}: unknown ratings {sorted(named - known)}"
        assert known <= named, f"{rubric}: the crosswalk never uses {sorted(known - named)}"
