"""Hostile input: the importer and every recording command, fuzzed with hypothesis.

Whatever comes in, one of two things happens: exit 0 with only valid events
stored, or exit 1 with one `Error:` line and nothing stored (the head and the
`export-events` bytes unchanged). Never a traceback, never a partial write, and
exit 2 only for wrong usage of a command (a bad choice, a missing flag).

Each example runs on its own copy of a ledger file, so one example's events
never leak into the next. The runs are derandomised (the same examples on
every machine); POLICY_LEDGER_FUZZ_EXAMPLES raises the count for a deeper run.
"""

from __future__ import annotations

import copy
import gc
import json
import os
import shlex
import shutil
import sys
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cli import commands_record
from cli.app import cli
from cli.commands_demo import example_lines
from ledger.errors import LedgerError
from ledger.events import EVENT_TYPE_NAMES, decode_event
from ledger.records import derive_event_id, event_content
from ledger.service import Ledger
from tests.test_cli import one_error_line, usage_error

# A failing example may hold a mebibyte of text; its report should still show the failure.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")
EXAMPLES = int(os.environ.get("POLICY_LEDGER_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
USER = "fuzz@watchdog.example"
EXAMPLE = example_lines()
EXAMPLE_EVENTS: list[dict[str, Any]] = [orjson.loads(line) for line in EXAMPLE]
SCIENCE_MINISTER = orjson.dumps(
    {
        "type": "OfficeCreated",
        "subject": "office/minister-of-science",
        "occurred_at": "2017-07-26",
        "data": {"name": "Minister of Science and ICT", "jurisdiction": "KR", "kind": "minister"},
    }
)


# --- ledgers: one template per shape, copied for every example -------------------


@dataclass(frozen=True)
class Template:
    """A closed ledger file to copy, and what export-events printed for it."""

    path: Path
    events: bytes

    def __repr__(self) -> str:
        return f"Template({self.path.parent.name}, {len(self.events.splitlines())} events)"

    @contextmanager
    def copy(self) -> Iterator[Path]:
        """A private copy of the ledger file for one example."""
        with tempfile.TemporaryDirectory() as folder:
            target = Path(folder) / "ledger.db"
            shutil.copyfile(self.path, target)
            yield target


def _build(folder: Path, lines: list[bytes]) -> Template:
    path = folder / "ledger.db"
    ledger = Ledger.init(str(path), tz="Asia/Seoul", user=USER)
    try:
        ledger.import_lines(lines)
    finally:
        ledger.close()
    for leftover in ("ledger.db-wal", "ledger.db-shm"):
        assert not (folder / leftover).exists(), "the template must be one self-contained file"
    return Template(path, run(path, "export-events").stdout_bytes)


@pytest.fixture(scope="module")
def example_ledger(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The packaged example ledger (Korea's AI pledges across 2025) and an office with no tenure."""
    return _build(tmp_path_factory.mktemp("example"), [*EXAMPLE, SCIENCE_MINISTER])


@pytest.fixture(scope="module")
def empty_ledger(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """A new ledger in Asia/Seoul with no events."""
    return _build(tmp_path_factory.mktemp("empty"), [])


def run(db: Path | str, *args: str, input: bytes | None = None, user: str = USER) -> Result:
    """`policy-ledger ARGS` on one ledger (file or URL), as CliRunner sees it."""
    runner = CliRunner(
        env={"POLICY_LEDGER_DB": str(db), "POLICY_LEDGER_USER": user, "POLICY_LEDGER_DEBUG": None}
    )
    return runner.invoke(cli, list(args), input=input)


# --- the property ------------------------------------------------------------------


def no_traceback(result: Result) -> None:
    """The command ended through click (exit 0, 1 or 2), not through an escaped exception."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}"
    )
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output


def stored_events_are_valid(new_lines: list[bytes]) -> None:
    """Every stored event reads back as input and gives the same stored content."""
    for line in new_lines:
        stored = orjson.loads(line)
        envelope = {k: stored[k] for k in ("type", "subject", "occurred_at", "data", "sources")}
        again = decode_event({**envelope, "id": stored["id"], "recorded_by": stored["recorded_by"]})
        assert event_content(again) == envelope, line
        decode_event({**envelope, "recorded_by": stored["recorded_by"]}, stored=True)


def whole_or_nothing(
    db: Path | str, before: bytes, result: Result, *, usage: bool = False, count: bool = True
) -> list[bytes]:
    """Assert the property after a write command; return the lines it added."""
    no_traceback(result)
    if count:  # outcomes for --hypothesis-show-statistics
        event(f"exit {result.exit_code}")
    after = run(db, "export-events")
    assert after.exit_code == 0, (after.output, after.exception)
    if result.exit_code == 0:
        assert after.stdout_bytes.startswith(before), "stored events changed under a write"
        added = after.stdout_bytes[len(before) :].splitlines()
        stored_events_are_valid(added)
        for command in ("verify", "export"):  # what was stored verifies and can be read
            checked = run(db, command)
            assert checked.exit_code == 0, (command, checked.output, checked.exception)
        return added
    assert after.stdout_bytes == before, "a refused write left events behind"
    if result.exit_code == 2:
        assert usage, f"exit 2 outside wrong usage: {result.output}"
        usage_error(result)
    else:
        one_error_line(result, exit_code=1)
    return []


def nonblank_lines(payload: bytes) -> int:
    """How many lines the importer reads as events (blank ones are skipped)."""
    count = 0
    for line in payload.split(b"\n"):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            count += 1
            continue
        count += bool(text.strip())
    return count


def imported(template: Template, payload: bytes) -> list[bytes]:
    """`import -` of PAYLOAD on a copy of TEMPLATE, held to the property; the lines added."""
    with template.copy() as db:
        return imported_into(db, template.events, payload)


def imported_into(db: Path | str, before: bytes, payload: bytes) -> list[bytes]:
    """`import -` of PAYLOAD into a ledger whose events are BEFORE; the lines added."""
    result = run(db, "import", "-", "--json", input=payload)
    added = whole_or_nothing(db, before, result)
    if result.exit_code == 0:
        counts = orjson.loads(result.stdout_bytes)
        assert counts["added"] == len(added)
        # All of the file: every line is stored now or was already.
        assert counts["added"] + counts["skipped"] == nonblank_lines(payload)
    return added


# --- hostile values ------------------------------------------------------------------


DEEP_LIST = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000
# JSON number and nesting texts a Python value cannot carry through json.dumps.
RAW_JSON = {
    "1e400": "1e400",
    "-1e400": "-1e400",
    "tiny": "1e-400",
    "int400": "1" + "0" * 400,
    "negint400": "-1" + "0" * 400,
    "nan": "NaN",
    "infinity": "Infinity",
    "deep-list": DEEP_LIST,
    "deep-object": DEEP_OBJECT,
    "too-deep": "[" * 2000 + "]" * 2000,
    "u64": "18446744073709551616",
    "minus-zero": "-0",
    "exp": "1E+999",
}


@dataclass(frozen=True)
class Raw:
    """A JSON text spliced in verbatim where the value stands."""

    name: str

    @property
    def marker(self) -> str:
        return f"@@raw:{self.name}@@"


DATE_TEXT = [
    "2025-02-30",
    "2025-13-01",
    "2024-02-29",
    "2023-02-29",
    "0000-01-01",
    "0001-01-01",
    "0999-12-31",
    "9999-12-31",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59",
    "2025-04-24T24:00:00Z",
    "2025-04-24T10:00:00+24:00",
    "2025-04-24T10:00:00",
    "+2025-04-24",
    "2025-4-24",
    "20250424",
]
SUBJECT_TEXT = [
    "actor/han-duck-soo",
    "actor/" + "a" * 101,
    "actor/HAN",
    "actor/han--duck",
    "commitment/kr-ai-gpus-10000",
    "commitment/kr-ai-for-all",
    "budget/kr-2025-supp-1",
    "office/president-of-korea",
    "gpus",
    "investment",
]
URL_TEXT = [
    "https://example.org/x",
    "http://",
    "javascript:alert(1)",
    "https://example.org/" + "a" * 2000,
]
WEIRD_TEXT = [
    "",
    " ",
    "\t\n",
    "\x00",
    "a\x00b",
    "\x1b[31mred\x1b[0m",
    "\x7f",
    "line\nbreak",
    "\u2028",
    "\ufeffbom",
    "\u202eevil\u202c",  # right-to-left override
    "\u200f\u05e9\u05dc\u05d5\u05dd",  # right-to-left mark, Hebrew
    "\u0627\u0644\u0639\u0631\u0628\u064a\u0629",  # Arabic
    "e\u0301" * 500,  # combining acute accents
    "\u0301\u0301\u0301",  # combining marks with nothing to combine with
    unicodedata.normalize("NFD", "인공지능 반도체"),
    "Z\u0351\u0352\u0353\u0354" * 50,
    "\U0001f600" * 100,
    "\ud7ff\ue000\uffff",
    "x" * 501,
    "x" * 10_001,
    "가" * 10_001,
    "x" * (1 << 20),
]
AMOUNT_TEXT = [
    "0",
    "-1",
    "-0",
    "1e400",
    "9" * 41,
    "0." + "0" * 40 + "1",
    "NaN",
    "Infinity",
    "1.8조 원",
    "-1조 원",
    "0 GPU",
    "-5 GPU",
    "$-1.26 billion",
    "₩1.8T",
    "10,000",
    "1,00,000",
]
OTHER_TEXT = [
    "00000000-0000-0000-0000-000000000000",
    "6F1C2E0A-5B7D-4C1E-9A57-2B1F7C3D9E10",
    "a" * 64,
    "politifact",
    "in-the-works",
]
HOSTILE_TEXT = WEIRD_TEXT + AMOUNT_TEXT + DATE_TEXT + SUBJECT_TEXT + URL_TEXT + OTHER_TEXT
HOSTILE_SCALARS: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    10**400,
    -(10**40),
    2**63,
    -(2**63) - 1,
    2**53 + 1,
    1.5,
    -0.0,
    1e308,
    2025,
    1899,
    2201,
    *[Raw(name) for name in RAW_JSON],
]
amounts = st.one_of(
    st.sampled_from(["0", "-0", "-1", "1", "10**400", "1e400", "0.5", "-0.5", "9" * 40]),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.integers().map(str),
    st.builds(
        "{}{}{}".format,
        st.sampled_from(["", "-", "$", "₩", "−"]),
        st.from_regex(r"[0-9][0-9,.]{0,12}", fullmatch=True),
        st.sampled_from(["", "조", "억", "만", "천", " 원", "조 원", " billion", "T", "k", " GPU"]),
    ),
)
quantities = st.fixed_dictionaries(
    {"amount": st.one_of(amounts, st.integers(), st.sampled_from(HOSTILE_SCALARS))},
    optional={
        "unit": st.one_of(
            st.sampled_from(["KRW", "GPU", "원", "", " ", "a b", "\x00"]), st.text(max_size=5)
        )
    },
)
scalars = st.one_of(
    st.sampled_from(HOSTILE_TEXT),
    st.sampled_from(HOSTILE_SCALARS),
    st.text(max_size=30),
    st.integers(),
    st.floats(),
)
hostile_values = st.one_of(
    scalars,
    quantities,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.text(max_size=5), scalars, max_size=3),
    st.builds(
        lambda item, n: [item] * n, st.sampled_from([{}, "ai", "x"]), st.sampled_from([21, 101])
    ),
)
hostile_keys = st.one_of(
    st.sampled_from(
        ["", " ", "type ", "Type", "data\x00", "\u202edata", "id", "extra", "__proto__"]
    ),
    st.text(max_size=8),
)


def to_json(value: Any, *, ascii_only: bool) -> bytes:
    """One line of JSON, with Raw values spliced in as written."""
    text = json.dumps(
        value, ensure_ascii=ascii_only, default=lambda raw: raw.marker, allow_nan=True
    )
    for name, raw in RAW_JSON.items():
        text = text.replace(f'"{Raw(name).marker}"', raw)
    return text.encode("utf-8", "surrogatepass")


# --- mutating valid events -----------------------------------------------------------


Path_ = tuple[str | int, ...]


def paths(value: Any, here: Path_ = ()) -> Iterator[Path_]:
    """Every path into a JSON value (the root included)."""
    yield here
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*here, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*here, index))


def at(value: Any, path: Path_) -> Any:
    for step in path:
        value = value[step]
    return value


def fresh(value: Any) -> Any:
    """A private copy of a drawn value: the strategies share their sample objects."""
    return copy.deepcopy(value)


@st.composite
def mutated_event(draw: st.DrawFn) -> Any:
    """A valid example event with one to three hostile changes."""
    event = copy.deepcopy(draw(st.sampled_from(EXAMPLE_EVENTS)))
    for _ in range(draw(st.integers(1, 3))):
        inner = [p for p in paths(event) if p]
        if not inner:
            return fresh(draw(hostile_values))
        path = draw(st.sampled_from(inner))
        parent, step = at(event, path[:-1]), path[-1]
        operation = draw(
            st.sampled_from(["drop", "rename", "replace", "replace", "retype", "grow", "extra"])
        )
        if operation == "drop":
            del parent[step]
        elif operation == "rename" and isinstance(step, str):
            parent[draw(hostile_keys)] = parent.pop(step)
        elif operation == "retype":
            old = parent[step]
            parent[step] = draw(
                st.sampled_from(
                    [
                        [old],
                        {"value": old},
                        str(old),
                        None,
                        len(str(old)),
                        json.dumps(old, default=str),
                    ]
                )
            )
        elif operation == "grow" and isinstance(parent, list) and isinstance(step, int):
            parent.extend([parent[step]] * draw(st.sampled_from([1, 20, 100])))
        elif operation == "extra" and isinstance(parent[step], dict):
            parent[step][draw(hostile_keys)] = fresh(draw(hostile_values))
        else:
            parent[step] = fresh(draw(hostile_values))
    return event


def spoil_bytes(line: bytes, draw: st.DrawFn) -> bytes:
    """Sometimes break the line below JSON: bad UTF-8, NUL, a split, a cut."""
    damage = draw(
        st.sampled_from(
            [
                None,
                None,
                None,
                b"\xff",
                b"\xc3\x28",
                b"\xed\xa0\x80",
                b"\xf4\x90\x80\x80",
                b"\x00",
                b"\n",
                b"\r",
                b"\xef\xbb\xbf",
                "cut",
            ]
        )
    )
    if damage is None:
        return line
    where = draw(st.integers(0, len(line)))
    if damage == "cut":
        return line[:where]
    assert isinstance(damage, bytes)
    return line[:where] + damage + line[where:]


@st.composite
def hostile_lines(draw: st.DrawFn) -> bytes:
    """A mutated example line, serialised one way or another and perhaps damaged."""
    line = to_json(draw(mutated_event()), ascii_only=draw(st.booleans()))
    return spoil_bytes(line, draw)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
event_shaped = st.fixed_dictionaries(
    {},
    optional={
        "type": st.one_of(st.sampled_from(EVENT_TYPE_NAMES), st.text(max_size=10)),
        "subject": st.one_of(st.sampled_from(SUBJECT_TEXT), st.text(max_size=20)),
        "occurred_at": st.one_of(st.sampled_from(DATE_TEXT), json_values),
        "data": st.dictionaries(st.text(max_size=10), json_values, max_size=6),
        "sources": st.lists(st.fixed_dictionaries({"url": st.sampled_from(URL_TEXT)}), max_size=2),
        "id": json_values,
        "recorded_by": json_values,
    },
)


# --- the importer --------------------------------------------------------------------


@FUZZ
@given(lines=st.lists(st.one_of(hostile_lines(), st.sampled_from(EXAMPLE)), min_size=1, max_size=3))
def test_hostile_lines_on_the_example_ledger_are_stored_whole_or_refused(
    example_ledger: Template, lines: list[bytes]
) -> None:
    imported(example_ledger, b"\n".join(lines) + b"\n")


@FUZZ
@given(index=st.integers(0, len(EXAMPLE) - 1), line=hostile_lines())
def test_the_example_file_with_one_hostile_line_is_all_or_nothing(
    empty_ledger: Template, index: int, line: bytes
) -> None:
    lines = list(EXAMPLE)
    lines[index] = line
    added = imported(empty_ledger, b"\n".join(lines))
    assert added == [] or len(added) >= len(EXAMPLE) - 1


@FUZZ
@given(value=st.one_of(json_values, event_shaped), ascii_only=st.booleans())
def test_random_json_is_refused_cleanly_or_stored_whole(
    example_ledger: Template, value: Any, ascii_only: bool
) -> None:
    imported(example_ledger, to_json(value, ascii_only=ascii_only) + b"\n")


@FUZZ
@given(lines=st.lists(st.one_of(hostile_lines(), st.binary(max_size=200)), min_size=1, max_size=3))
def test_the_library_importer_raises_only_ledger_errors_and_writes_all_or_nothing(
    example_ledger: Template, lines: list[bytes]
) -> None:
    with example_ledger.copy() as db:
        ledger = Ledger.open(str(db), user=USER)
        try:
            head = ledger.store.head()
            try:
                result = ledger.import_lines(lines)
            except LedgerError as exc:
                assert "\n" not in str(exc), str(exc)
                assert ledger.store.head() == head
            else:
                assert ledger.store.head() == head + len(result.added)
                stored_events_are_valid(
                    [orjson.dumps(e.to_json()) for e in ledger.events(after=head)]
                )
        finally:
            ledger.close()


# --- every recording command -------------------------------------------------------


def _example_id(subject: str) -> str:
    ledger_events = [e for e in EXAMPLE_EVENTS if e["subject"] == subject]
    return derive_event_id(event_content(decode_event(ledger_events[-1])))


SOURCE = {"--source": "https://example.org/fuzz", "--quote": "a quote", "--publisher": "Yonhap"}
# A valid invocation of each recording command on the example ledger; the fuzz
# replaces, drops, repeats and adds flag values.
COMMANDS: dict[str, tuple[str, dict[str, str]]] = {
    "register-actor": (
        "actor/fuzz-actor",
        {"--name": "Fuzz", "--kind": "person", "--name-in": "ko=퍼즈", "--on": "2025-01-01"},
    ),
    "create-office": (
        "office/fuzz-office",
        {"--name": "Office", "--jurisdiction": "KR", "--kind": "minister", "--on": "2025-01-01"},
    ),
    "begin-tenure": (
        "office/minister-of-science",
        {"--holder": "actor/han-duck-soo", "--role": "acting", "--on": "2031-01-01", **SOURCE},
    ),
    "suspend-tenure": (
        "office/president-of-korea",
        {
            "--holder": "actor/lee-jae-myung",
            "--reason": "impeached",
            "--on": "2026-01-01",
            **SOURCE,
        },
    ),
    "resume-tenure": (
        "office/president-of-korea",
        {"--holder": "actor/lee-jae-myung", "--on": "2026-02-01", **SOURCE},
    ),
    "end-tenure": (
        "office/president-of-korea",
        {"--holder": "actor/lee-jae-myung", "--reason": "term-end", "--on": "2030-06-03", **SOURCE},
    ),
    "pledge": (
        "commitment/fuzz-pledge",
        {
            "--by": "actor/lee-jae-myung",
            "--capacity": "head-of-government",
            "--title": "Secure GPUs",
            "--summary": "A summary",
            "--area": "ai",
            "--target": "gpus=10,000 GPU",
            "--baseline": "gpus=2,000 GPU",
            "--target-due": "gpus=2027-12-31",
            "--describe": "gpus=High-end GPUs",
            "--due": "2028-01-01",
            "--on": "2025-07-01",
            **SOURCE,
        },
    ),
    "revise": (
        "commitment/kr-ai-gpus-10000",
        {
            "--by": "actor/lee-jae-myung",
            "--capacity": "head-of-government",
            "--target": "gpus=20,000 GPU",
            "--reason": "more GPUs",
            "--on": "2025-08-01",
            **SOURCE,
        },
    ),
    "reaffirm": (
        "commitment/kr-ai-gpus-10000",
        {
            "--by": "actor/lee-jae-myung",
            "--capacity": "government",
            "--statement": "Yes",
            "--on": "2025-08-01",
            **SOURCE,
        },
    ),
    "supersede": (
        "commitment/kr-ai-gpus-10000",
        {
            "--by": "actor/lee-jae-myung",
            "--capacity": "government",
            "--successor": "commitment/kr-ai-for-all",
            "--on": "2025-08-01",
            **SOURCE,
        },
    ),
    "withdraw": (
        "commitment/kr-ai-elite-team",
        {
            "--by": "actor/lee-jae-myung",
            "--capacity": "government",
            "--reason": "dropped",
            "--on": "2025-09-01",
            **SOURCE,
        },
    ),
    "report-progress": (
        "commitment/kr-ai-gpus-10000",
        {
            "--target": "gpus",
            "--achieved": "15,000 GPU",
            "--by": "actor/ministry-of-science-and-ict",
            "--on": "2026-01-01",
            **SOURCE,
        },
    ),
    "assess": (
        "commitment/kr-ai-gpus-10000",
        {
            "--assessor": "actor/democratic-party",
            "--rubric": "politifact",
            "--rating": "in-the-works",
            "--rationale": "ordered",
            "--on": "2026-01-01",
            **SOURCE,
        },
    ),
    "appropriate": (
        "budget/fuzz-budget",
        {
            "--body": "actor/national-assembly",
            "--fiscal-year": "2026",
            "--phase": "approved",
            "--instrument": "supplementary",
            "--total": "1조 원",
            "--allocate": "commitment/kr-ai-budget-2025:supplementary-ai-budget=1000억 원",
            "--on": "2026-01-01",
            **SOURCE,
        },
    ),
    "retract": (
        "commitment/kr-ai-gpus-10000",
        {"--reason": "misquoted", "--on": "2026-01-01", **SOURCE},
    ),
}
RETRACTED = _example_id("commitment/kr-ai-gpus-10000")
flag_texts = st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=20), amounts)
# Every flag any recording command takes, to add where it does not belong too.
ALL_FLAGS = sorted(
    {flag for _, flags in COMMANDS.values() for flag in flags}
    | {
        "--id",
        "--json",
        "--remove",
        "--sha256",
        "--archive-url",
        "--published-on",
        "--source-title",
        "--parent",
    }
)


# A few flags changed per command, so that many get past usage checks to the rules.
FATES = st.sampled_from(["drop", "replace", "replace", "repeat"])
sometimes = st.integers(0, 7).map(lambda n: n == 0)  # one in eight


@st.composite
def command_lines(draw: st.DrawFn) -> tuple[list[str], str]:
    """argv for one recording command with hostile flag values, and the recorder's name."""
    name = draw(st.sampled_from(sorted(COMMANDS)))
    subject, flags = COMMANDS[name]
    if draw(sometimes):
        subject = draw(st.one_of(flag_texts, st.sampled_from(SUBJECT_TEXT)))
    args = [name, subject]
    if name == "retract":
        args.append(draw(flag_texts) if draw(sometimes) else RETRACTED)
    changed = draw(st.sets(st.sampled_from(sorted(flags)), max_size=3))
    for flag, value in flags.items():
        fate = draw(FATES) if flag in changed else "keep"
        if fate == "drop":
            continue
        if fate == "replace" and "=" in value and draw(st.booleans()):
            value = f"{draw(flag_texts)}={draw(flag_texts)}"  # KEY=VALUE, both hostile
        elif fate == "replace":
            value = draw(flag_texts)
        times = draw(st.sampled_from([2, 101])) if fate == "repeat" else 1
        if fate == "repeat" and "=" in value and flag != "--allocate":
            # distinct keys, so repeats test the count limit rather than duplicates
            key, _, rest = value.partition("=")
            args.extend(f"{flag}={key}-{i}={rest}" for i in range(times))
        else:
            args.extend([f"{flag}={value}"] * times)
    if draw(sometimes):  # a flag the command may not take at all
        args.append(f"{draw(st.sampled_from(ALL_FLAGS))}={draw(flag_texts)}")
    user = USER
    if draw(sometimes):  # an environment variable cannot hold NUL
        user = draw(st.sampled_from([t for t in WEIRD_TEXT if "\x00" not in t]))
    return args, user


@pytest.fixture(autouse=True)
def no_prompts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands run as from a script: a missing value is a usage error, not a prompt."""
    monkeypatch.setattr(commands_record, "_interactive", lambda: False)


@FUZZ
@given(command=command_lines())
def test_every_recording_command_with_hostile_flags_records_one_event_or_nothing(
    example_ledger: Template, command: tuple[list[str], str]
) -> None:
    args, user = command
    with example_ledger.copy() as db:
        result = run(db, *args, user=user)
        added = whole_or_nothing(db, example_ledger.events, result, usage=True)
        assert len(added) <= 1, shlex.join(args)


def test_an_error_echoing_a_line_break_is_still_one_line(tmp_path: Path) -> None:
    result = run(tmp_path / "ledger.db", "init", "--tz", "Asia/Seoul\nrm -rf /")
    one_error_line(result, exit_code=1)


def test_every_recording_command_is_fuzzed() -> None:
    recording = {
        name
        for name, command in cli.commands.items()
        if command.callback is not None and command.callback.__module__ == commands_record.__name__
    } | {name for name in cli.commands if name.endswith("-tenure")}
    assert recording == set(COMMANDS)


def test_the_base_invocations_record_their_event(example_ledger: Template) -> None:
    """The fuzz starts from commands that work, so its successes are real ones."""
    for name, (subject, flags) in COMMANDS.items():
        if name in ("resume-tenure",):  # needs a suspension first
            continue
        args = [name, subject, *([RETRACTED] if name == "retract" else [])]
        args += [f"{flag}={value}" for flag, value in flags.items()]
        with example_ledger.copy() as db:
            result = run(db, *args)
            assert result.exit_code == 0, (name, result.output)
            assert len(whole_or_nothing(db, example_ledger.events, result, count=False)) == 1


# --- the same on PostgreSQL ----------------------------------------------------------
#
# One schema for all examples (a schema per example would take minutes): each
# example compares export-events before and after, so growth from accepted
# examples is checked like any other write. PostgreSQL refuses NUL in text and
# in JSON keys, which SQLite stores happily: the decoder must stop them first.

ON_POSTGRESQL = settings(
    FUZZ,
    max_examples=max(EXAMPLES // 3, 1),
    suppress_health_check=[*FUZZ.suppress_health_check, HealthCheck.function_scoped_fixture],
)


def example_loaded(target: str) -> bytes:
    """The example ledger on TARGET (loaded by the first example); its events."""
    events = run(target, "export-events")
    if events.stdout_bytes:
        return events.stdout_bytes
    ledger = Ledger.init(target, tz="Asia/Seoul", user=USER)
    try:
        ledger.import_lines([*EXAMPLE, SCIENCE_MINISTER])
    finally:
        ledger.close()
    return run(target, "export-events").stdout_bytes


@pytest.mark.postgres
@ON_POSTGRESQL
@given(lines=st.lists(hostile_lines(), min_size=1, max_size=3))
def test_hostile_lines_on_postgresql_are_stored_whole_or_refused(
    pg_target: str, lines: list[bytes]
) -> None:
    imported_into(pg_target, example_loaded(pg_target), b"\n".join(lines) + b"\n")


@pytest.mark.postgres
@ON_POSTGRESQL
@given(command=command_lines())
def test_recording_commands_on_postgresql_record_one_event_or_nothing(
    pg_target: str, command: tuple[list[str], str]
) -> None:
    args, user = command
    before = example_loaded(pg_target)
    result = run(pg_target, *args, user=user)
    assert len(whole_or_nothing(pg_target, before, result, usage=True)) <= 1, shlex.join(args)


@pytest.mark.postgres
def test_a_refused_recorder_name_leaves_no_database_connection_open(pg_target: str) -> None:
    example_loaded(pg_target)
    leaks: list[BaseException | None] = []
    hook = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: leaks.append(unraisable.exc_value)
    try:
        result = run(
            pg_target,
            "register-actor",
            "actor/kim",
            "--name=Kim",
            "--kind=person",
            "--on=2020-01-01",
            user=" ",
        )
        assert result.exit_code == 1
        del result  # its traceback holds the ledger that failed to open
        gc.collect()
    finally:
        sys.unraisablehook = hook
    assert leaks == []
