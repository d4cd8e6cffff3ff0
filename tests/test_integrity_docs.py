"""docs/check_proof.py, the by-hand checker of docs/integrity.md, against the real CLI.

The script is run as a reader would run it: a separate Python process with
nothing but the standard library, fed the files `export-events`, `prove ... --json`
and `checkpoint` write.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import pytest
import rfc8785
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from cli.app import cli
from cli.commands_demo import example_lines

SCRIPT = Path(__file__).resolve().parents[1] / "docs" / "check_proof.py"

# Keys that RFC 8785 orders by UTF-16 code units, unlike code-point order (json.dumps
# sort_keys): U+1F600 is the surrogate pair D83D DE00 and U+1D518 is D835 DD18, so
# both sort before U+FF4A and U+E000. Today's release takes only language codes as
# `names` keys, but the release before it stored any key, and those events must
# hash the same forever: they are written into the store as that release did.
LEGACY_NAMES = {
    "ko": "김민준",
    "\U0001f600": "grinning face",
    "\uff4a\uff41": "fullwidth ja",
    "\ue000": "private use",
    "\U0001d518": "fraktur U",
    "zh-Hant": "金敏俊",
}
TRICKY_NAMES = {"ko": "김민준", "en": 'Min-jun "MJ" Kim', "zh-Hant": "金敏俊 🀄"}
TRICKY_LINES = [
    {
        "type": "ActorRegistered",
        "subject": "actor/tricky-person",
        "occurred_at": "2025-01-02",
        "data": {
            "name": '김민준 "MJ" Kim \\ 🚀',
            "kind": "person",
            "names": TRICKY_NAMES,
        },
    },
    {
        "type": "CommitmentMade",
        "subject": "commitment/tricky-pledge",
        "occurred_at": "2025-02-03T10:00:00+09:00",
        "data": {
            "by": "actor/tricky-person",
            "capacity": "candidate",
            "title": 'GPU 1만 장 확보 🖥️ — "sovereign" AI',
            "summary": (
                "첫 줄\n둘째 줄\t탭 뒤\n"
                'quotes " and \\ backslashes \\\\ and a path C:\\new\\table\n'
                "emoji 👩‍💻🇰🇷, a line separator \u2028 and a paragraph separator \u2029, "
                "decomposed e\u0301 becomes é"
            ),
            "areas": ["ai"],
            "targets": [
                {"key": "gpus", "quantity": {"amount": "1만", "unit": "GPU"}},
                {"key": "budget", "quantity": {"amount": "1조 8천억 원"}},
            ],
        },
        "sources": [
            {
                "url": 'https://example.org/기사?id=1&q="x"',
                "publisher": "연합뉴스 \\ Yonhap",
                "quote": "“GPU 1만 장을 연내 확보하겠다”\t— 🚀",
            }
        ],
    },
]


# --- helpers ------------------------------------------------------------------------------


def check(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run docs/check_proof.py in its own interpreter, as a reader would."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )


def assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith("OK: ")


def assert_fails(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith("FAIL: ")
    assert "Traceback" not in result.stderr


def run_cli(db: str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--db", db, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def cli_json(db: str, *args: str) -> Any:
    return orjson.loads(run_cli(db, *args, "--json"))


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=2) + "\n", "utf-8")
    return path


def export_events(db: str, path: Path) -> list[str]:
    run_cli(db, "export-events", "-o", str(path))
    # Split at "\n" only: str.splitlines() also splits at U+2028 inside a string.
    return path.read_text("utf-8").removesuffix("\n").split("\n")


def flip(hex_hash: str, at: int = 0) -> str:
    """The hash with one hex digit changed."""
    digit = "1" if hex_hash[at] == "0" else "0"
    return hex_hash[:at] + digit + hex_hash[at + 1 :]


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_proof", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- ledgers --------------------------------------------------------------------------------


@pytest.fixture
def example_db(ledger, sqlite_target) -> str:
    """The example ledger (48 events) in an SQLite file, closed for the CLI to open."""
    ledger.import_lines(example_lines())
    ledger.close()
    return str(sqlite_target)


def store_as_an_earlier_release(ledger: Any, raw: dict[str, Any]) -> None:
    """Append an event the way the previous release stored it, without today's validation."""
    from ledger.events import decode_stored
    from ledger.records import format_recorded_at, seal

    stored = seal(
        decode_stored(raw),
        event_id="9f0c7c1e-5d0a-4d3c-8f7e-2a1b3c4d5e6f",
        version=1,
        recorded_at=format_recorded_at(ledger.clock()),
        recorded_by="desk@test",
        occurred_key="2025-01-01T15:00:00.000000Z",
    )
    ledger.store.append([stored], {})


@pytest.fixture
def tricky_db(ledger, sqlite_target) -> str:
    """The tricky events first (imported, and one as an earlier release stored it), then the example."""
    ledger.import_lines([json.dumps(line, ensure_ascii=False) for line in TRICKY_LINES])
    store_as_an_earlier_release(
        ledger,
        {
            "type": "ActorRegistered",
            "subject": "actor/legacy-person",
            "occurred_at": "2025-01-02",
            "data": {"name": 'Legacy 🚀 \\ "quoted"', "kind": "person", "names": LEGACY_NAMES},
            "sources": [],
        },
    )
    ledger.import_lines(example_lines())
    ledger.close()
    return str(sqlite_target)


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return load_script()


# --- inclusion ------------------------------------------------------------------------------


@pytest.mark.parametrize("position", [1, 2, 17, 26, 31, 47, 48])
def test_inclusion_proofs_of_events_verify(example_db, tmp_path, position):
    lines = export_events(example_db, tmp_path / "events.ndjson")
    event = orjson.loads(lines[position - 1])
    line_file = tmp_path / "event.json"
    line_file.write_text(lines[position - 1] + "\n", "utf-8")
    root = cli_json(example_db, "verify")["root"]
    proof = cli_json(example_db, "prove", "inclusion", event["id"])
    assert (proof["leaf_index"], proof["tree_size"]) == (position - 1, 48)
    proof_file = write_json(tmp_path / "proof.json", proof)
    assert_ok(check("inclusion", proof_file))
    assert_ok(check("inclusion", proof_file, "--event", line_file, "--root", root))
    for size in sorted({position, max(position, 30), 48}):
        older = cli_json(example_db, "prove", "inclusion", event["id"], "--size", str(size))
        assert_ok(check("inclusion", write_json(tmp_path / f"proof-{size}.json", older)))


def test_every_altered_path_element_fails(example_db, tmp_path):
    event_id = orjson.loads(export_events(example_db, tmp_path / "e.ndjson")[25])["id"]
    proof = cli_json(example_db, "prove", "inclusion", event_id)
    assert len(proof["path"]) >= 5
    for i in range(len(proof["path"])):
        for at in (0, 63):
            path = list(proof["path"])
            path[i] = flip(path[i], at)
            assert_fails(
                check("inclusion", write_json(tmp_path / "bad.json", {**proof, "path": path}))
            )


@pytest.mark.parametrize(
    "damage",
    [
        "root",
        "leaf_hash",
        "index+1",
        "index-1",
        "index-16",
        "size-16",
        "size+48",
        "path-short",
        "path-long",
        "path-swapped",
    ],
)
def test_a_wrong_root_index_size_or_path_fails(example_db, tmp_path, damage):
    event_id = orjson.loads(export_events(example_db, tmp_path / "e.ndjson")[25])["id"]
    proof = cli_json(example_db, "prove", "inclusion", event_id)
    bad = dict(proof)
    if damage == "root":
        bad["root"] = flip(proof["root"])
    elif damage == "leaf_hash":
        bad["leaf_hash"] = flip(proof["leaf_hash"], 40)
    elif damage.startswith("index"):
        bad["leaf_index"] = proof["leaf_index"] + int(damage[len("index") :])
    elif damage.startswith("size"):
        bad["tree_size"] = proof["tree_size"] + int(damage[len("size") :])
    elif damage == "path-short":
        bad["path"] = proof["path"][:-1]
    elif damage == "path-long":
        bad["path"] = [*proof["path"], proof["root"]]
    else:
        bad["path"] = [proof["path"][1], proof["path"][0], *proof["path"][2:]]
    assert_fails(check("inclusion", write_json(tmp_path / "bad.json", bad)))


def test_a_trusted_root_or_event_that_does_not_match_fails(example_db, tmp_path):
    lines = export_events(example_db, tmp_path / "e.ndjson")
    event = orjson.loads(lines[25])
    proof_file = write_json(
        tmp_path / "proof.json", cli_json(example_db, "prove", "inclusion", event["id"])
    )
    root = cli_json(example_db, "verify")["root"]
    assert_fails(check("inclusion", proof_file, "--root", flip(root)))
    # Another event's line, and the right event with one field changed.
    other = tmp_path / "other.json"
    other.write_text(lines[24] + "\n", "utf-8")
    assert_fails(check("inclusion", proof_file, "--event", other))
    edited = tmp_path / "edited.json"
    edited.write_text(lines[25].replace("10000", "1000", 1) + "\n", "utf-8")
    assert lines[25] != edited.read_text("utf-8").strip()
    assert_fails(check("inclusion", proof_file, "--event", edited))


# --- consistency ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [(0, 48), (1, 48), (1, 2), (7, 8), (16, 48), (20, 30), (30, 48), (31, 47), (47, 48), (48, 48)],
)
def test_consistency_proofs_verify(example_db, tmp_path, old, new):
    proof = cli_json(example_db, "prove", "consistency", str(old), str(new))
    assert (proof["old_size"], proof["new_size"]) == (old, new)
    assert_ok(check("consistency", write_json(tmp_path / "proof.json", proof)))


def test_a_tampered_consistency_proof_fails(example_db, tmp_path):
    proof = cli_json(example_db, "prove", "consistency", "30")
    assert len(proof["proof"]) >= 4

    def fails(**changes: Any) -> None:
        assert_fails(check("consistency", write_json(tmp_path / "bad.json", {**proof, **changes})))

    for i in range(len(proof["proof"])):
        hashes = list(proof["proof"])
        hashes[i] = flip(hashes[i])
        fails(proof=hashes)
    fails(old_root=flip(proof["old_root"]))
    fails(new_root=flip(proof["new_root"]))
    fails(old_size=29)
    fails(old_size=31)
    fails(new_size=128)  # (sizes whose paths have the same shape pass: see the checkpoint test)
    fails(new_size=30)
    fails(new_size=29)
    fails(proof=proof["proof"][:-1])
    fails(proof=[*proof["proof"], proof["new_root"]])
    # An equal-size "proof" must carry equal roots and no hashes.
    same = cli_json(example_db, "prove", "consistency", "48")
    fails(**{**same, "proof": [same["new_root"]]})
    fails(**{**same, "old_root": flip(same["old_root"])})


# --- checkpoints ----------------------------------------------------------------------------


def test_proofs_against_a_published_checkpoint(ledger, sqlite_target, tmp_path):
    """The reader's workflow of docs/integrity.md: a checkpoint at 30, the ledger grows to 48."""
    lines = example_lines()
    ledger.import_lines(lines[:30])
    ledger.close()
    db = str(sqlite_target)
    prefix = str(tmp_path / "watchdog")
    run_cli(db, "keygen", "-o", prefix)
    cp30 = tmp_path / "checkpoint-30.txt"
    run_cli(db, "checkpoint", "--sign", prefix + ".key", "-o", str(cp30))
    result = CliRunner().invoke(cli, ["--db", db, "import", "-"], input=b"\n".join(lines))
    assert result.exit_code == 0, result.output
    cp48 = tmp_path / "checkpoint-48.txt"
    run_cli(db, "checkpoint", "-o", str(cp48))  # unsigned: the script reads both forms

    events = export_events(db, tmp_path / "events.ndjson")
    gpus = tmp_path / "gpus.json"
    gpus.write_text(events[25] + "\n", "utf-8")
    event_id = orjson.loads(events[25])["id"]
    at30 = write_json(
        tmp_path / "at30.json", cli_json(db, "prove", "inclusion", event_id, "--size", "30")
    )
    now = write_json(tmp_path / "now.json", cli_json(db, "prove", "inclusion", event_id))
    assert_ok(check("inclusion", at30, "--event", gpus, "--checkpoint", cp30))
    assert_ok(check("inclusion", now, "--event", gpus, "--checkpoint", cp48))
    assert_fails(check("inclusion", at30, "--checkpoint", cp48))
    assert_fails(check("inclusion", now, "--checkpoint", cp30))
    # RFC 9162 paths do not pin the size on their own: leaf 25's path in the tree
    # of 30 has the same shape in the trees of 29 and 31. The checkpoint, which
    # signs size and root together, does.
    proof = json.loads(at30.read_text("utf-8"))
    for size in (29, 31):
        resized = write_json(tmp_path / f"size-{size}.json", {**proof, "tree_size": size})
        assert_ok(check("inclusion", resized))
        assert_fails(check("inclusion", resized, "--checkpoint", cp30))

    since30 = write_json(tmp_path / "since30.json", cli_json(db, "prove", "consistency", "30"))
    assert_ok(check("consistency", since30, "--checkpoint", cp30))
    assert_ok(check("consistency", since30, "--checkpoint", cp30, "--new-checkpoint", cp48))
    assert_fails(check("consistency", since30, "--checkpoint", cp48))
    assert_fails(check("consistency", since30, "--new-checkpoint", cp30))
    regrown = json.loads(since30.read_text("utf-8")) | {"new_size": 64}  # same path shape
    regrown_file = write_json(tmp_path / "regrown.json", regrown)
    assert_ok(check("consistency", regrown_file, "--checkpoint", cp30))
    assert_fails(check("consistency", regrown_file, "--new-checkpoint", cp48))

    leaves = check("leaves", tmp_path / "events.ndjson", "--checkpoint", cp30)
    assert_ok(leaves)
    assert_ok(check("leaves", tmp_path / "events.ndjson", "--checkpoint", cp48))


def test_a_consistent_rewrite_fails_against_the_checkpoint(example_db, tmp_path, script):
    """Fields and leaf hash rewritten together: each line checks, the root does not."""
    cp = tmp_path / "checkpoint.txt"
    run_cli(example_db, "checkpoint", "-o", str(cp))
    lines = export_events(example_db, tmp_path / "events.ndjson")
    forged = json.loads(lines[25])
    forged["data"]["targets"][0]["quantity"]["amount"] = "1000"
    forged["leaf_hash"] = script.event_leaf_hash(forged).hex()
    lines[25] = json.dumps(forged, ensure_ascii=False)
    rewritten = tmp_path / "rewritten.ndjson"
    rewritten.write_text("\n".join(lines) + "\n", "utf-8")
    assert_ok(check("leaves", rewritten))
    result = check("leaves", rewritten, "--checkpoint", cp)
    assert_fails(result)
    assert "rewritten" in result.stdout


# --- leaf hashes ----------------------------------------------------------------------------


def _script_leaves(path: Path) -> tuple[dict[int, str], str]:
    result = check("leaves", path)
    assert_ok(result)
    *rows, summary = result.stdout.splitlines()
    computed = {int(p): h for p, h in (row.split() for row in rows)}
    return computed, summary.rsplit("root ", 1)[1].split(";")[0]


def test_the_script_leaf_hash_equals_the_stored_one_for_every_example_event(example_db, tmp_path):
    from ledger.service import Ledger

    export_events(example_db, tmp_path / "events.ndjson")
    computed, root = _script_leaves(tmp_path / "events.ndjson")
    reopened = Ledger.open(example_db)
    try:
        stored = {e.position: e.leaf_hash for e in reopened.events()}
    finally:
        reopened.close()
    assert len(stored) == 48
    assert computed == stored
    assert root == cli_json(example_db, "verify")["root"]


def test_the_script_leaf_hash_equals_the_stored_one_for_tricky_strings(tricky_db, tmp_path, script):
    from ledger.service import Ledger

    lines = export_events(tricky_db, tmp_path / "events.ndjson")
    computed, root = _script_leaves(tmp_path / "events.ndjson")
    reopened = Ledger.open(tricky_db)
    try:
        stored = {e.position: e.leaf_hash for e in reopened.events()}
    finally:
        reopened.close()
    assert len(stored) == 51
    assert computed == stored
    assert root == cli_json(tricky_db, "verify")["root"]

    actor, pledge, legacy = (json.loads(line) for line in lines[:3])
    assert actor["data"]["names"] == TRICKY_NAMES  # stored as given (already NFC)
    assert legacy["data"]["names"] == LEGACY_NAMES
    summary = pledge["data"]["summary"]
    assert "\n" in summary and "\t" in summary and "\u2028" in summary
    assert "é" in summary and "e\u0301" not in summary  # stored in NFC
    # The legacy keys really exercise UTF-16 ordering: code-point order gives other bytes.
    naive = {k: v for k, v in legacy.items() if k not in ("position", "leaf_hash")}
    naive_bytes = json.dumps(
        naive, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    assert hashlib.sha256(b"\x00" + naive_bytes).hexdigest() != legacy["leaf_hash"]
    assert script.event_leaf_hash(legacy).hex() == legacy["leaf_hash"]

    for position in (1, 2, 3):
        line = tmp_path / f"line-{position}.json"
        line.write_text(lines[position - 1] + "\n", "utf-8")
        event_id = json.loads(lines[position - 1])["id"]
        proof = write_json(
            tmp_path / f"proof-{position}.json",
            cli_json(tricky_db, "prove", "inclusion", event_id),
        )
        assert_ok(check("inclusion", proof, "--event", line))


def test_an_altered_or_misnumbered_line_fails(example_db, tmp_path):
    lines = export_events(example_db, tmp_path / "events.ndjson")
    altered = list(lines)
    altered[40] = altered[40].replace('"version":', '"version":1', 1)
    (tmp_path / "altered.ndjson").write_text("\n".join(altered) + "\n", "utf-8")
    result = check("leaves", tmp_path / "altered.ndjson")
    assert_fails(result)
    assert "position 41" in result.stdout
    swapped = [*lines[:10], lines[11], lines[10], *lines[12:]]
    (tmp_path / "swapped.ndjson").write_text("\n".join(swapped) + "\n", "utf-8")
    assert_fails(check("leaves", tmp_path / "swapped.ndjson"))


# --- the canonical serialiser itself --------------------------------------------------------

json_text = st.text(
    alphabet=st.characters(exclude_categories=("Cs",)),  # no lone surrogates
    max_size=12,
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | json_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(json_text, children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_the_script_serialiser_is_rfc8785(script, value):
    assert script.jcs(value).encode("utf-8") == rfc8785.dumps(value)


def test_the_script_serialiser_on_the_edges(script):
    every_control = "".join(chr(c) for c in range(0x20)) + '"\\/\x7f\u2028\u2029'
    for value in (
        every_control,
        {every_control: every_control},
        {"\ue000": 1, "\U0001f600": 2, "\uffff": 3, "a": 4, "": 5, "\u00e9": 6},
        [2**53 - 1, -(2**53) + 1, 0, True, False, None, [], {}],
    ):
        assert script.jcs(value).encode("utf-8") == rfc8785.dumps(value)
    assert script.jcs(every_control) == json.dumps(every_control, ensure_ascii=False)


def test_the_script_escapes_every_code_point_as_rfc8785_and_cpython_json_do(script):
    """docs/integrity.md says only key order sets json.dumps apart: checked for every character."""
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    ours = script.jcs_string(every)
    assert ours.encode("utf-8") == rfc8785.dumps(every)
    assert ours == json.dumps(every, ensure_ascii=False)


def test_the_page_shows_the_script_usage():
    page = (SCRIPT.parent / "integrity.md").read_text("utf-8")
    for line in load_script().USAGE.splitlines():
        assert line.strip() in page


def test_bad_input_and_usage(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"leaf_index": 1.5, "tree_size": 2}', "utf-8")
    assert_fails(check("inclusion", broken))
    duplicate = tmp_path / "duplicate.json"
    duplicate.write_text('{"old_size": 1, "old_size": 2}', "utf-8")
    assert_fails(check("consistency", duplicate))
    assert check().returncode == 2
    assert check("inclusion").returncode == 2
    assert check("inclusion", broken, "--nope", "x").returncode == 2
    assert check("prove", broken).returncode == 2
