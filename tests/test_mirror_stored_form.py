"""import --mirror takes only what this ledger itself would store, and says why not otherwise.

Each case edits one field of a line of the example's export-events output and
recomputes its leaf hash (a consistent forgery: only the form can tell). The
refusal names the line and field in one line, and the mirror, empty or
already holding the first events, is left exactly as it was. SQLite and
PostgreSQL.
"""

from __future__ import annotations

import contextlib
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from cli.app import cli
from cli.commands_demo import example_lines
from ledger import verification
from ledger.errors import InvalidEvent
from ledger.export import event_line
from ledger.records import canonical_bytes, leaf_hash_of
from ledger.service import Ledger
from tests.conftest import Clock

PLEDGE = 26  # CommitmentMade of commitment/kr-ai-gpus-10000: target 10000 GPU
TENURE = 12  # TenureBegan of actor/yoon-suk-yeol, administration yoon-suk-yeol


@pytest.fixture(scope="module")
def source_lines(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """The example ledger's export-events lines."""
    path = str(tmp_path_factory.mktemp("mirror-form") / "source.db")
    source = Ledger.init(path, tz="Asia/Seoul", clock=Clock(), user="desk@test")
    source.import_lines(example_lines())
    lines = [event_line(e).rstrip(b"\n") for e in source.events()]
    source.close()
    return lines


def _forged(
    lines: list[bytes], number: int, change: Callable[[dict[str, Any]], None]
) -> list[bytes]:
    """The lines with line `number` changed and its leaf hash recomputed to match."""
    event = orjson.loads(lines[number - 1])
    change(event)
    # RFC 8785 may refuse the value: then the hash cannot be made to match.
    with contextlib.suppress(ValueError):
        event["leaf_hash"] = leaf_hash_of(canonical_bytes(event))
    changed = list(lines)
    changed[number - 1] = orjson.dumps(event)
    return changed


def _amount(value: str) -> Callable[[dict[str, Any]], None]:
    def change(event: dict[str, Any]) -> None:
        event["data"]["targets"][0]["quantity"]["amount"] = value

    return change


def _set(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(event: dict[str, Any]) -> None:
        event[field] = value

    return change


def _title(event: dict[str, Any]) -> None:
    event["data"]["title"] = unicodedata.normalize("NFD", "Sécurité des GPU")


def _publisher(event: dict[str, Any]) -> None:
    event["sources"][1]["publisher"] = "MBN Money "


def _no_administration(event: dict[str, Any]) -> None:
    del event["data"]["administration"]


def _upper_id(event: dict[str, Any]) -> None:
    event["id"] = event["id"].upper()


NFD_TITLE = unicodedata.normalize("NFD", "Sécurité des GPU")
NEGATIVE = (
    "a target quantity of -5 GPU is reached by any progress: it must be above zero, "
    "or below the baseline for a reduction (baseline 200, quantity 0)"
)

CASES: list[tuple[str, int, Callable[[dict[str, Any]], None], str]] = [
    (
        "thousands separator",
        PLEDGE,
        _amount("1,000"),
        'data.targets[0].quantity.amount: "1,000" is not in stored form: this ledger stores "1000"',
    ),
    (
        "exponent",
        PLEDGE,
        _amount("1E+5"),
        'data.targets[0].quantity.amount: "1E+5" is not in stored form: '
        'this ledger stores "100000"',
    ),
    ("negative target", PLEDGE, _amount("-5"), f"data.targets[0]: {NEGATIVE}"),
    (
        "NFD title",
        PLEDGE,
        _title,
        f'data.title: "{NFD_TITLE}" is not in stored form (not Unicode NFC): '
        f'this ledger stores "{unicodedata.normalize("NFC", NFD_TITLE)}"',
    ),
    (
        "source with trailing space",
        PLEDGE,
        _publisher,
        'sources[1].publisher: "MBN Money " is not in stored form (surrounding whitespace): '
        'this ledger stores "MBN Money"',
    ),
    (
        "lowercase date-time",
        PLEDGE,
        _set("occurred_at", "2025-01-01t00:00:00z"),
        'occurred_at: "2025-01-01t00:00:00z" is not in stored form: '
        'this ledger stores "2025-01-01T00:00:00+00:00"',
    ),
    (
        "Z for UTC",
        PLEDGE,
        _set("occurred_at", "2025-04-24T00:00:00Z"),
        'occurred_at: "2025-04-24T00:00:00Z" is not in stored form: '
        'this ledger stores "2025-04-24T00:00:00+00:00"',
    ),
    (
        "defaulted field left out",
        TENURE,
        _no_administration,
        'data.administration: missing: this ledger stores "yoon-suk-yeol" here',
    ),
    (
        "id in capitals",
        PLEDGE,
        _upper_id,
        "id: {upper} is not in stored form: this ledger stores {lower}",
    ),
    (
        "recorder in NFD",
        PLEDGE,
        _set("recorded_by", unicodedata.normalize("NFD", "désk@test")),
        f'recorded_by: "{unicodedata.normalize("NFD", "désk@test")}" is not in stored form '
        '(not Unicode NFC): this ledger stores "désk@test"',
    ),
    (
        "version as a float",
        PLEDGE,
        _set("version", 1.0),
        "version: must be a whole number of at least 1",
    ),
    (
        "position as text",
        PLEDGE,
        _set("position", "26"),
        "position: must be a whole number of at least 1",
    ),
    (
        "record time without microseconds",
        PLEDGE,
        _set("recorded_at", "2026-01-01T00:00:30Z"),
        'recorded_at: "2026-01-01T00:00:30Z" is not a record time as this ledger writes it '
        "(YYYY-MM-DDTHH:MM:SS.ffffffZ)",
    ),
    (
        "integer beyond 2^53",
        PLEDGE,
        _set("version", 2**60),
        "not canonical JSON (1152921504606846976 exceeds safe integer domain for JSON floats)",
    ),
]


def _expected(lines: list[bytes], number: int, problem: str) -> str:
    event = orjson.loads(lines[number - 1])
    problem = problem.format(upper=f'"{event["id"].upper()}"', lower=f'"{event["id"]}"')
    return f"line {number}: {problem}"


def _snapshot(ledger: Ledger) -> tuple[Any, ...]:
    return (
        ledger.store.head(),
        [event_line(e) for e in ledger.events()],
        ledger.store.node_count(0),
    )


@pytest.mark.parametrize(("name", "number", "change", "problem"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("held", [0, 20])
def test_a_line_not_in_stored_form_is_refused_and_nothing_is_written(
    any_ledger, source_lines, name, number, change, problem, held
):
    if held:
        any_ledger.import_mirror(source_lines[:held])
    before = _snapshot(any_ledger)
    with pytest.raises(InvalidEvent) as refused:
        any_ledger.import_mirror(_forged(source_lines, number, change))
    assert str(refused.value) == _expected(source_lines, number, problem)
    assert _snapshot(any_ledger) == before
    assert verification.verify_ledger(any_ledger.store).intact


def test_the_untouched_export_is_mirrored_leaf_for_leaf(any_ledger, source_lines):
    result = any_ledger.import_mirror(source_lines)
    assert len(result.added) == 48
    assert [event_line(e).rstrip(b"\n") for e in any_ledger.events()] == source_lines
    assert verification.verify_ledger(any_ledger.store).intact


def test_a_line_that_is_not_utf8_is_refused(ledger, source_lines):
    lines = list(source_lines)
    lines[4] = lines[4].replace(b"demo", b"d\xffmo", 1) if b"demo" in lines[4] else b"\xff"
    with pytest.raises(InvalidEvent) as refused:
        ledger.import_mirror(lines)
    assert str(refused.value) == "line 5: not UTF-8 text (invalid start byte)"
    assert ledger.store.head() == 0


def test_the_cli_refuses_an_amount_with_a_separator_in_one_line(
    source_lines, sqlite_target, tmp_path: Path
):
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", sqlite_target, "init", "--tz", "Asia/Seoul"]).exit_code == 0
    forged = tmp_path / "forged.ndjson"
    forged.write_bytes(b"\n".join(_forged(source_lines, PLEDGE, _amount("1,000"))) + b"\n")
    result = runner.invoke(cli, ["--db", sqlite_target, "import", "--mirror", str(forged)])
    assert result.exit_code == 1
    assert result.output == (
        "Error: line 26: data.targets[0].quantity.amount: "
        '"1,000" is not in stored form: this ledger stores "1000"\n'
    )
    shown = runner.invoke(cli, ["--db", sqlite_target, "verify"])
    assert shown.output.startswith("intact: 0 events")


@pytest.mark.parametrize("where", ["top", "data"])
def test_a_line_naming_a_key_twice_is_refused_as_an_import_refuses_it(
    any_ledger, source_lines, where
):
    # The leaf hash covers the value a JSON reader keeps (the last), so the
    # other one would vanish unseen; an import refuses the same line.
    lines = list(source_lines)
    line = lines[PLEDGE - 1]
    if where == "top":
        repeated = line.replace(b'{"data":', b'{"type":"ActorRegistered","data":', 1)
        key = "type"
    else:
        repeated = line.replace(b'"data":{', b'"data":{"by":"actor/nobody",', 1)
        key = "by"
    assert repeated != line
    lines[PLEDGE - 1] = repeated
    with pytest.raises(InvalidEvent) as refused:
        any_ledger.import_mirror(lines)
    assert str(refused.value) == f"line {PLEDGE}: the key '{key}' appears twice in one object"
    assert any_ledger.store.head() == 0
