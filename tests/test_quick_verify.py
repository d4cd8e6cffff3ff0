"""`verify` on a small SQLite ledger reads it without the service (ledger/store/quick_verify.py).

The quick path runs ledger/verification.py on a snapshot read with sqlite3, so
`verify` starts without SQLAlchemy, pydantic, the event catalogue or
cryptography. These tests hold its output and exit code to the service's,
byte for byte, on an intact ledger and on every kind of tampering the
integrity suites make; show that it answers without the service; and that it
leaves to the service a large ledger (two processes) and a published checkpoint
(signatures).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from cli.app import cli
from cli.commands_demo import example_lines
from cli.context import Env
from ledger import integrity, verification
from ledger.checkpoint import generate_key, parse_signer
from ledger.service import Ledger
from ledger.store.quick import DISABLE_ENV
from tests.test_architecture import HEAVY, command_loading
from tests.test_integrity import _concatenated_leaf, _row, _sql_text, _tamper
from tests.test_quick_read import _without_service
from tests.test_tamper_occurred_key import GPU_PROGRESS_SQL, PROGRESS
from tests.test_verify_parallel import _rewrite, checkpointed

ROOT = Path(__file__).resolve().parents[1]
USER = "desk@test"
CHECKPOINTS = (0, 20, 48)
# One byte of an event's stored data changed (as the integrity suites change it).
CHANGED_BYTE = (
    "UPDATE events SET data = substr(data, 1, 10) || 'Z' || substr(data, 12) WHERE position = {}"
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example ledger (48 events, Asia/Seoul) with checkpoints at 0, 20 and 48 events."""
    path = tmp_path_factory.mktemp("quick-verify") / "source.db"
    return checkpointed(path, list(example_lines()), CHECKPOINTS)


@pytest.fixture
def db(built: Path, tmp_path: Path) -> str:
    """A fresh copy of the built ledger, to tamper with."""
    target = tmp_path / "ledger.db"
    shutil.copy(built, target)
    return str(target)


def _verify(db: str, *args: str, quick_read: bool) -> tuple[Any, ...]:
    """`verify ARGS` on the ledger: exit code, stdout, stderr and what it raised, if not an exit."""
    runner = CliRunner(env={DISABLE_ENV: "1" if quick_read else "0", "POLICY_LEDGER_USER": USER})
    result = runner.invoke(cli, ["--db", db, "verify", *args])
    raised = result.exception
    return (
        result.exit_code,
        result.stdout_bytes,
        result.stderr_bytes,
        None if raised is None or isinstance(raised, SystemExit) else repr(raised),
    )


def _services(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record each opening of the ledger through the service (it still opens)."""
    opened: list[str] = []
    real = Env.ledger

    def ledger(self: Env) -> Ledger:
        opened.append(self.db)
        return real(self)

    monkeypatch.setattr(Env, "ledger", ledger)
    return opened


def _same_both_ways(
    db: str, monkeypatch: pytest.MonkeyPatch, *, quick_answers: bool = True
) -> tuple[Any, ...]:
    """`verify` and `verify --json` by the quick path and by the service: the same bytes and exit
    codes. The quick runs come first (the service's open may touch the file); where the quick
    path answers, the service must not be used. Returns the service's `verify --json`."""
    commands = [(), ("--json",)]
    with monkeypatch.context() as patched:
        if quick_answers:
            _without_service(patched)
            opened: list[str] = []
        else:
            opened = _services(patched)
        fast = [_verify(db, *args, quick_read=True) for args in commands]
    assert bool(opened) != quick_answers
    full = [_verify(db, *args, quick_read=False) for args in commands]
    assert fast == full
    return full[1]


def _sql(*statements: str) -> Callable[[str], None]:
    return lambda path: _tamper(path, *statements)


def _loose(path: str, position: int, change: str | None = None, *, forge: bool = False) -> str:
    """Store an event's data as equal but not canonical JSON (indented), with a value changed or a
    leaf hash forged over the text as it stands, when asked; the UPDATE statement."""
    row = _row(path, position)
    data = orjson.loads(row["data"])
    if change is not None:
        data[change] = f"{data.get(change, '')}x"
    text = orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()
    forged = f", leaf_hash = '{_concatenated_leaf(row, text)}'" if forge else ""
    return f"UPDATE events SET data = {_sql_text(text)}{forged} WHERE position = {position}"


def _unreadable_forged(path: str) -> None:
    broken = '{"name"'
    forged = _concatenated_leaf(_row(path, 9), broken)
    _tamper(
        path,
        f"UPDATE events SET data = {_sql_text(broken)}, leaf_hash = '{forged}' WHERE position = 9",
    )


NODE = "UPDATE merkle_nodes SET hash = {} WHERE level = {} AND idx = {}"

# Each tampering (as tests/test_integrity.py, test_tamper_occurred_key.py and
# test_verify_parallel.py make it) and the position verify reports (None: intact).
TAMPERINGS: dict[str, tuple[Callable[[str], None], int | None]] = {
    "intact": (lambda path: None, None),
    "a changed data field": (_sql(CHANGED_BYTE.format(17)), 17),
    "a changed data field of the first event": (_sql(CHANGED_BYTE.format(1)), 1),
    "a changed data field of the last event": (_sql(CHANGED_BYTE.format(48)), 48),
    "a changed leaf hash": (
        _sql("UPDATE events SET leaf_hash = 'ff' || substr(leaf_hash, 3) WHERE position = 20"),
        20,
    ),
    "data that is not UTF-8": (
        _sql("UPDATE events SET data = X'FF' || data WHERE position = 7"),
        7,
    ),
    "a version stored as text": (
        _sql("UPDATE events SET version = 'two' WHERE position = 8"),
        8,
    ),
    "a changed tree node": (_sql(NODE.format("'ff' || substr(hash, 3)", 3, 2)), 17),
    "a changed leaf node": (_sql(NODE.format("'ff' || substr(hash, 3)", 0, 33)), 34),
    "a tree node in capitals": (_sql(NODE.format("upper(hash)", 1, 5)), None),
    "a tree node that is not hex": (_sql(NODE.format("'not hex'", 2, 1)), 5),
    "a tree node under a text index": (
        _sql("UPDATE merkle_nodes SET idx = 'x' WHERE level = 1 AND idx = 5"),
        11,
    ),
    "a deleted node": (_sql("DELETE FROM merkle_nodes WHERE level = 5 AND idx = 0"), 1),
    "a leaf node too many": (
        _sql(f"INSERT INTO merkle_nodes VALUES (0, 48, '{'00' * 32}')"),
        49,
    ),
    "a deleted event row": (_sql("DELETE FROM events WHERE position = 30"), 30),
    "the last event row deleted": (_sql("DELETE FROM events WHERE position = 48"), 48),
    "the log cut short": (_sql("DELETE FROM events WHERE position > 40"), 41),
    "two rows with swapped positions": (
        _sql(
            "UPDATE events SET position = -1 WHERE position = 12",
            "UPDATE events SET position = 12 WHERE position = 13",
            "UPDATE events SET position = 13 WHERE position = -1",
        ),
        12,
    ),
    "a record time going back": (
        _sql("UPDATE events SET recorded_at = '2001-01-01T00:00:00.000000Z' WHERE position = 30"),
        30,
    ),
    "a wrong checkpoint root": (
        _sql("UPDATE checkpoints SET root = 'ff' || substr(root, 3) WHERE size = 20"),
        20,
    ),
    "a wrong root of the empty tree's checkpoint": (
        _sql("UPDATE checkpoints SET root = 'ff' || substr(root, 3) WHERE size = 0"),
        1,
    ),
    "a checkpoint root stored as bytes": (
        _sql("UPDATE checkpoints SET root = CAST(root AS BLOB) WHERE size = 48"),
        48,
    ),
    "a checkpoint beyond the log": (
        _sql(f"INSERT INTO checkpoints VALUES (1000, '{'00' * 32}', '2026-01-01T00:00:00Z', '')"),
        49,
    ),
    "a consistent rewrite caught by a checkpoint": (
        lambda path: _rewrite(path, 5, data={"name": "Someone Else"}),
        20,
    ),
    "a rewritten version": (lambda path: _rewrite(path, 30, version=1000), 30),
    "an unreadable occurred_at": (
        lambda path: _rewrite(path, 5, occurred_at="2014-03-26t00:00:00z"),
        5,
    ),
    "a changed occurred_key": (_sql(GPU_PROGRESS_SQL), PROGRESS),
    "a changed occurred_key on a row read the slow way": (
        _sql(
            "UPDATE events SET data = ' ' || data, "
            "occurred_key = '1999-01-01T00:00:00.000000Z' WHERE position = 3"
        ),
        3,
    ),
    "a changed time zone": (
        _sql("UPDATE ledger_settings SET value = 'UTC' WHERE key = 'timezone'"),
        1,
    ),
    "a deleted time zone": (_sql("DELETE FROM ledger_settings WHERE key = 'timezone'"), 1),
    "non-canonical stored rows": (
        lambda path: _tamper(path, *(_loose(path, p) for p in (1, 2, 17, 30, 48))),
        None,
    ),
    "a changed value in non-canonical text": (
        lambda path: _tamper(path, _loose(path, 30), _loose(path, 31, "by")),
        31,
    ),
    "a leaf hash forged over non-canonical text": (
        lambda path: _tamper(path, _loose(path, 20, forge=True)),
        20,
    ),
    "a leaf hash forged over unreadable text": (_unreadable_forged, 9),
    "a node before a later event's fault": (
        _sql(NODE.format("'ff' || substr(hash, 3)", 1, 2), CHANGED_BYTE.format(40)),
        5,
    ),
}


@pytest.mark.parametrize("name", TAMPERINGS)
def test_the_quick_path_reports_as_the_service_does(db, monkeypatch, name):
    tamper, position = TAMPERINGS[name]
    tamper(db)
    report = orjson.loads(_same_both_ways(db, monkeypatch)[1])
    assert report["position"] == position, report  # the scenario has the fault it is about
    if position is None:
        assert report["checked"] == 48 and report["checkpoints"] == len(CHECKPOINTS)


@pytest.mark.parametrize("zone", ["Mars/Base", ""])
def test_a_time_zone_the_quick_path_cannot_read_is_left_to_the_service(db, monkeypatch, zone):
    # The service refuses to open with an unknown zone, and reads an empty one as UTC
    # (verify then reports it): the quick path declines both.
    _tamper(db, f"UPDATE ledger_settings SET value = '{zone}' WHERE key = 'timezone'")
    code, stdout, stderr, _ = _same_both_ways(db, monkeypatch, quick_answers=False)
    if zone:
        assert (code, stdout) == (1, b"") and b"unknown time zone" in stderr
    else:
        assert orjson.loads(stdout)["problem"].startswith("the ledger's time zone setting ''")


def test_an_empty_ledger_with_the_checkpoint_of_no_events(tmp_path, monkeypatch):
    path = str(tmp_path / "empty.db")
    ledger = Ledger.init(path, tz="Asia/Seoul", user=USER)
    integrity.make_checkpoint(ledger.store, ledger.origin, ledger.clock())
    ledger.close()
    report = orjson.loads(_same_both_ways(path, monkeypatch)[1])
    assert report["intact"] and (report["checked"], report["checkpoints"]) == (0, 1)


@pytest.mark.parametrize("what", ["no file", "not a database", "a URL"])
def test_what_is_not_a_ledger_file_is_left_to_the_service(tmp_path, monkeypatch, what):
    target = tmp_path / "ledger.db"
    if what == "not a database":
        target.write_text("not a database")
    db = f"sqlite:///{target}" if what == "a URL" else str(target)
    code, stdout, stderr, raised = _same_both_ways(db, monkeypatch, quick_answers=False)
    assert (code, stdout, raised) == (1, b"", None) and stderr.startswith(b"Error: ")


@pytest.mark.parametrize(("parallel_from", "quick"), [(48, False), (49, True)])
def test_a_ledger_verified_in_two_processes_is_left_to_the_service(
    db, monkeypatch, parallel_from, quick
):
    monkeypatch.setattr(verification, "PARALLEL_FROM", parallel_from)  # 48 events
    _tamper(db, CHANGED_BYTE.format(30))
    report = orjson.loads(_same_both_ways(db, monkeypatch, quick_answers=quick)[1])
    assert report["position"] == 30


@pytest.mark.parametrize("tampered", [False, True])
def test_a_published_checkpoint_is_checked_by_the_service(db, tmp_path, monkeypatch, tampered):
    ledger = Ledger.open(db)
    private, public = generate_key(ledger.origin)
    made = integrity.make_checkpoint(
        ledger.store, ledger.origin, ledger.clock(), parse_signer(private)
    )
    ledger.close()
    (tmp_path / "cp.txt").write_text(made["text"])
    (tmp_path / "log.pub").write_text(public)
    if tampered:
        _tamper(db, CHANGED_BYTE.format(30))
    options = ("--checkpoint", str(tmp_path / "cp.txt"), "--key", str(tmp_path / "log.pub"))
    opened = _services(monkeypatch)
    for quick_read in (True, False):
        code, stdout, _, raised = _verify(db, *options, "--json", quick_read=quick_read)
        assert (code, raised, len(opened)) == (int(tampered), None, 1 + (not quick_read))
        if not tampered:
            assert orjson.loads(stdout)["published_checkpoint"]["size"] == 48


@pytest.mark.parametrize("tampered", [False, True])
@pytest.mark.parametrize("command", [["verify"], ["verify", "--json"]])
def test_verify_imports_neither_sqlalchemy_nor_pydantic_nor_cryptography(db, command, tampered):
    if tampered:
        _tamper(db, CHANGED_BYTE.format(30))
    # The store itself is light (SQL text on sqlite3); what it must not bring is listed.
    heavy = (*HEAVY, "cryptography", "ledger.integrity", "ledger.checkpoint", "ledger.store.schema")
    code, output, loaded = command_loading(["--db", db, "--user", USER, *command], heavy)
    assert (code, loaded) == (int(tampered), [])
    assert ("position 30" in output) == tampered
