"""Large imports decoded by a worker process: same events, same errors, nothing depends on it.

`ledger/decoding.py` hands groups of input lines to a worker process once the
input is larger than one group. These tests shrink the group so that small
inputs use the worker, and hold the import to what decoding in-process does:
the same stored bytes, the same error for the same line at the same point of
the write, the ledger unchanged on error; and a worker that dies or talks
nonsense costs speed, never events.
"""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import orjson
import pytest

from ledger import decoding, service, writing
from ledger.errors import DuplicateEventConflict, InvalidEvent, LedgerError
from ledger.integrity import tree_root
from ledger.service import Ledger
from ledger.synthetic import synthetic_lines
from ledger.verification import verify_ledger
from tests.conftest import Clock
from tests.test_import import rejected_import, snapshot

GROUP = 40  # lines per worker group in these tests


@pytest.fixture
def small_groups(monkeypatch: pytest.MonkeyPatch) -> list[decoding.Decoder]:
    """Groups of GROUP lines; the decoders the ledger used, to ask what the worker did."""
    monkeypatch.setattr(decoding, "GROUP_LINES", GROUP)
    monkeypatch.setattr(writing, "CHUNK_EVENTS", 25)  # write chunks that straddle groups
    used: list[decoding.Decoder] = []

    class Spy(decoding.Decoder):
        def __init__(self, user: str, *, group: int | None = None) -> None:
            super().__init__(user, group=group)
            used.append(self)

    monkeypatch.setattr(service, "Decoder", Spy)
    return used


@pytest.fixture
def in_process(monkeypatch: pytest.MonkeyPatch):
    """Run a callable with the worker switched off (POLICY_LEDGER_DECODE_WORKER=0)."""

    def run(action, *args):
        with monkeypatch.context() as m:
            m.setenv("POLICY_LEDGER_DECODE_WORKER", "0")
            return action(*args)

    return run


def _synthetic(count: int = 400) -> list[bytes]:
    return list(synthetic_lines(count, seed=7))


def test_the_worker_decodes_a_large_import_and_the_ledger_stores_the_same_bytes(
    make_ledger, tmp_path, small_groups, in_process
):
    data = _synthetic()
    remote = make_ledger(str(tmp_path / "remote.db"), clock=Clock())
    remote.import_lines(data)
    assert small_groups[-1].remote == len(data)  # every event came from the worker

    local = make_ledger(str(tmp_path / "local.db"), clock=Clock())
    in_process(local.import_lines, data)
    assert small_groups[-1].remote == 0

    # Same clock, same input: the same log, byte for byte, and the same tree.
    assert snapshot(remote) == snapshot(local)
    assert tree_root(remote.store) == tree_root(local.store)


def test_input_of_one_group_is_decoded_in_process(ledger, small_groups):
    ledger.import_lines(_synthetic(GROUP))
    assert small_groups[-1].remote == 0
    assert ledger.store.head() == GROUP


def test_blank_lines_keep_their_numbers_across_groups(ledger, small_groups):
    data = _synthetic(120)
    padded = [line for pair in zip(data, [b"\n"] * len(data), strict=True) for line in pair]
    bad = orjson.loads(data[70]) | {"occurred_at": "2025-02-30"}
    padded[2 * 70] = orjson.dumps(bad)  # the 71st event, on line 141
    error = rejected_import(ledger, padded, InvalidEvent)
    assert str(error).startswith("line 141: occurred_at:")


def _broken(data: list[bytes], index: int, line: bytes) -> list[bytes]:
    return [*data[:index], line, *data[index + 1 :]]


BAD_LINES = [
    ("not JSON", b'{"type": "CommitmentMade",', "not valid JSON"),
    ("not UTF-8", b'{"type": "\xff"}', "not valid UTF-8"),
    ("not an event", b'{"type": "Nonsense"}', "line"),
    ("a bad date", None, "occurred_at"),
    (
        "a repeated key",
        b'{"type": "ActorRegistered", "type": "ActorRegistered"}',
        "the key 'type' appears twice in one object",
    ),
]


@pytest.mark.parametrize(("what", "line", "reason"), BAD_LINES, ids=[b[0] for b in BAD_LINES])
@pytest.mark.parametrize("index", [5, 130, 399], ids=["first group", "a middle group", "last line"])
def test_a_bad_line_is_refused_as_in_process_naming_it_and_nothing_is_written(
    make_ledger, tmp_path, small_groups, in_process, what, line, reason, index
):
    data = _synthetic()
    if line is None:
        line = orjson.dumps(orjson.loads(data[index]) | {"occurred_at": "2025-13-01"})
    data = _broken(data, index, line)

    remote = make_ledger(str(tmp_path / "remote.db"))
    error = rejected_import(remote, data, InvalidEvent)
    local = make_ledger(str(tmp_path / "local.db"))
    expected = in_process(rejected_import, local, data, InvalidEvent)

    assert str(error) == str(expected)
    assert str(error).startswith(f"line {index + 1}: ")
    assert reason in str(error)


def test_a_line_over_the_limit_while_reading_comes_after_the_lines_before_it(
    make_ledger, tmp_path, small_groups, in_process, monkeypatch
):
    # read_lines refuses the long line as it reads it, groups ahead of the
    # write; an earlier line's conflict must still be the error reported.
    monkeypatch.setattr(decoding, "MAX_LINE_BYTES", 4096)
    data = _synthetic()
    twin = orjson.loads(data[10]) | {"id": None}
    first = orjson.loads(data[3])
    clash = orjson.dumps(twin | {"id": _id_of(first), "subject": first["subject"]})
    data = _broken(data, 30, clash)
    data = _broken(data, 300, b'{"pad": "' + b"x" * 5000 + b'"}\n')

    def imported(ledger: Ledger) -> LedgerError:
        with pytest.raises(LedgerError) as info:
            ledger.import_lines(decoding.read_lines(io.BytesIO(b"".join(_ended(data)))))
        assert ledger.store.head() == 0
        return info.value

    remote = imported(make_ledger(str(tmp_path / "remote.db")))
    local = in_process(imported, make_ledger(str(tmp_path / "local.db")))
    assert str(remote) == str(local)
    assert isinstance(remote, DuplicateEventConflict)
    assert "line 31" in str(remote)


def test_a_line_over_the_limit_alone_is_refused_naming_it(ledger, small_groups, monkeypatch):
    monkeypatch.setattr(decoding, "MAX_LINE_BYTES", 4096)
    data = _broken(_synthetic(), 300, b'{"pad": "' + b"x" * 5000 + b'"}\n')
    with pytest.raises(InvalidEvent) as info:
        ledger.import_lines(decoding.read_lines(io.BytesIO(b"".join(_ended(data)))))
    assert str(info.value).startswith("line 301: the line is longer than the limit of 1 MiB")
    assert ledger.store.head() == 0


def _ended(data: list[bytes]) -> list[bytes]:
    return [line if line.endswith(b"\n") else line + b"\n" for line in data]


def _id_of(raw: dict) -> str:
    from ledger.events import decode_event
    from ledger.records import Content

    return Content.of(decode_event(raw)).derived_id()


@pytest.mark.parametrize(
    "worker",
    [
        "import sys; sys.exit(3)",  # dies at once
        "import sys; sys.stdout.write('garbage'); sys.stdout.flush()",  # breaks the protocol
        "import sys, pickle; sys.stdin.buffer.read(10); sys.exit(0)",  # dies mid-input
        "import time; time.sleep(60)",  # stalls
        # stalls mid-answer (for an hour): a header announcing 100 bytes, then 10 of them
        "import sys, time; sys.stdout.buffer.write((100).to_bytes(8, 'big') + b'x' * 10);"
        " sys.stdout.flush(); time.sleep(3600)",
    ],
    ids=["dies", "talks nonsense", "dies reading", "stalls", "stalls mid-answer"],
)
def test_a_broken_worker_costs_speed_never_events(
    make_ledger, tmp_path, small_groups, in_process, monkeypatch, worker
):
    monkeypatch.setattr(decoding, "WORKER_PATIENCE", 0.5)
    data = _synthetic()
    local = make_ledger(str(tmp_path / "local.db"), clock=Clock())
    in_process(local.import_lines, data)

    real_popen = subprocess.Popen

    def broken_popen(args, **kwargs):
        return real_popen([sys.executable, "-c", worker], **kwargs)

    monkeypatch.setattr(decoding.subprocess, "Popen", broken_popen)
    remote = make_ledger(str(tmp_path / "remote.db"), clock=Clock())
    # In a thread, so that an import that waits on the worker for ever fails
    # here instead of hanging the suite (the worker's patience is half a second).
    importing = threading.Thread(target=remote.import_lines, args=(data,), daemon=True)
    importing.start()
    importing.join(timeout=120)
    assert not importing.is_alive(), "the import waited on a broken worker"
    assert small_groups[-1].remote == 0
    assert snapshot(remote) == snapshot(local)


def test_the_worker_is_stopped_when_the_import_ends_either_way(ledger, small_groups):
    ledger.import_lines(_synthetic())
    with pytest.raises(InvalidEvent):
        ledger.import_lines([*_synthetic(), b"{"])
    for decoder in small_groups:
        assert decoder._worker is None  # closed by the import, not left to the collector


def test_a_script_without_a_main_guard_imports_through_the_worker(tmp_path):
    # A start method that re-imports the caller's main module would run this
    # script again inside the worker.
    script = tmp_path / "load.py"
    script.write_text(
        textwrap.dedent(
            f"""
            from ledger import decoding
            from ledger.service import Ledger
            from ledger.synthetic import synthetic_lines

            decoding.GROUP_LINES = 50
            ledger = Ledger.init({str(tmp_path / "script.db")!r}, tz="UTC", user="script")
            with decoding.Decoder("script") as decoder:
                result = ledger.append(decoder.candidates(list(synthetic_lines(300))))
            print(len(result.added), decoder.remote)
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.split() == ["300", "300"]


def test_postgres_imports_through_the_worker(make_ledger, pg_target, small_groups, in_process):
    data = _synthetic(200)
    ledger = make_ledger(pg_target)
    ledger.import_lines(data)
    assert small_groups[-1].remote == len(data)
    assert ledger.store.head() == len(data)
    assert verify_ledger(ledger.store).intact


# --- bounds and odd hosts ---------------------------------------------------------


def test_a_group_is_bounded_in_bytes_as_well_as_lines(monkeypatch):
    # Lines may be up to 1 MiB each; a group is held here, in the pipe and in the worker.
    monkeypatch.setattr(decoding, "GROUP_BYTES", 8000)
    lines = [b"x" * 3000] * 10
    sizes = [len(group[1]) for group in decoding._groups(lines, 2000)]
    assert sizes == [3, 3, 3, 1]


def test_with_the_worker_off_input_is_read_as_the_write_goes(monkeypatch):
    monkeypatch.setenv("POLICY_LEDGER_DECODE_WORKER", "0")
    data, pulled = _synthetic(100), []

    def reading():
        for line in data:
            pulled.append(line)
            yield line

    with decoding.Decoder("desk@test", group=10) as decoder:
        first = next(decoder.candidates(reading()))
    assert first.line == 1 and len(pulled) == 1  # no read-ahead without a worker


def test_the_worker_is_used_in_a_process_holding_more_than_1024_descriptors(
    ledger, small_groups, tmp_path
):
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"the descriptor limit ({hard}) is below 1,200")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held = [open(tmp_path / "held", "wb") for _ in range(1100)]  # noqa: SIM115
    try:
        ledger.import_lines(_synthetic())
    finally:
        for handle in held:
            handle.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert small_groups[-1].remote == 400  # select() would have refused the pipe


def test_a_closed_decoder_decodes_what_is_read_after_in_process_and_in_order():
    data = _synthetic(200)
    decoder = decoding.Decoder("desk@test", group=40)
    decoder.close()
    lines = [c.line for c in decoder.candidates(data)]
    assert lines == list(range(1, 201))
    assert decoder.remote == 0 and decoder._worker is None


def test_a_decoder_dropped_without_closing_stops_its_worker():
    import gc as collector

    decoder = decoding.Decoder("desk@test", group=40)
    candidates = decoder.candidates(_synthetic(200))
    next(candidates)  # the worker is running now
    assert decoder._worker is not None
    process = decoder._worker.process
    del candidates, decoder
    collector.collect()
    assert process.wait(timeout=10) is not None  # stopped, not left running
