"""Output paths (-o, backup FILE, keygen PREFIX): a path that cannot be written is one
`Error: cannot write PATH: REASON` line, exit 1, and nothing written; a file is replaced
whole; links are followed; FIFOs and descriptors are written through, never renamed over.

Never aimed at real device nodes: a FIFO in a temporary folder, or this process's own
descriptors under /proc/self/fd (nothing can be created or renamed there).
"""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli import commands_integrity, output
from cli.commands_demo import example_lines
from ledger import integrity
from ledger.errors import StorageError
from ledger.service import Ledger
from tests.test_cli import Cli, quoted

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The example ledger (48 events), run from inside tmp_path so relative paths work."""
    monkeypatch.chdir(tmp_path)
    cli = Cli(tmp_path / "ledger.db")
    cli.ok("init --tz Asia/Seoul")
    (tmp_path / "example.ndjson").write_bytes(b"\n".join(example_lines()) + b"\n")
    cli.ok("import example.ndjson")
    return cli


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def checkpoints(cli: Cli) -> list[dict[str, object]]:
    ledger = Ledger.open(str(cli.db))
    try:
        return ledger.store.checkpoints()
    finally:
        ledger.close()


def entries(folder: Path) -> list[str]:
    """What a folder holds (a leftover temporary file would show here)."""
    return sorted(p.name for p in folder.iterdir())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- checkpoint: the row and the file, both or neither ------------------------------------


def test_checkpoint_to_a_directory_is_refused_and_records_nothing(demo: Cli, tmp_path: Path):
    (tmp_path / "d").mkdir()
    assert demo.fails("checkpoint -o d") == "Error: cannot write d: is a directory"
    assert checkpoints(demo) == []
    assert entries(tmp_path / "d") == []


def test_checkpoint_into_a_missing_folder_is_refused_and_records_nothing(demo: Cli, tmp_path):
    before = entries(tmp_path)
    assert demo.fails("checkpoint -o nodir/cp.txt") == (
        "Error: cannot write nodir/cp.txt: no such folder nodir"
    )
    assert checkpoints(demo) == []
    assert entries(tmp_path) == before


def test_checkpoint_that_cannot_be_recorded_writes_no_file(
    demo: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    (tmp_path / "cp.txt").write_text("the published one\n")
    before = entries(tmp_path)

    def refuse(*args: object, **kwargs: object) -> None:
        raise StorageError("the database is locked")

    monkeypatch.setattr(integrity, "make_checkpoint", refuse)
    assert demo.fails("checkpoint -o cp.txt") == "Error: the database is locked"
    assert (tmp_path / "cp.txt").read_text() == "the published one\n"
    assert entries(tmp_path) == before  # no temporary file left


def test_checkpoint_file_is_ready_before_the_row_is_recorded(
    demo: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """When the checkpoint is recorded, its text is already on disk beside the target:
    only the rename is left to do."""
    seen: list[list[bytes]] = []
    record = integrity.make_checkpoint

    def spy(*args: object, **kwargs: object) -> object:
        seen.append([p.read_bytes() for p in tmp_path.glob(".cp.txt.*.tmp")])
        return record(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(integrity, "make_checkpoint", spy)
    printed = demo.ok("checkpoint -o cp.txt").stdout
    assert seen == [[printed.encode()]]
    assert (tmp_path / "cp.txt").read_text() == printed
    assert [c["size"] for c in checkpoints(demo)] == [48]
    assert not list(tmp_path.glob(".cp.txt.*"))


def test_checkpoint_file_holds_what_was_recorded_when_the_tree_moved_in_between(
    demo: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Another writer appending between the text's preparation and the recording: the file
    gets the recorded checkpoint, not the prepared one."""
    monkeypatch.setattr(commands_integrity, "_checkpoint_text", lambda *args: "stale\n" * 40)
    printed = demo.ok("checkpoint -o cp.txt").stdout
    assert (tmp_path / "cp.txt").read_text() == printed
    assert printed == checkpoints(demo)[0]["note"]


def test_checkpoint_rename_failing_after_recording_says_so_in_one_line(
    demo: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    def no_rename(src: object, dst: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(output.os, "replace", no_rename)
    assert demo.fails("checkpoint -o cp.txt") == (
        "Error: cannot write cp.txt: input/output error (the checkpoint of size 48 was "
        "recorded in the ledger; run the command again to write it)"
    )
    assert not (tmp_path / "cp.txt").exists()
    assert not list(tmp_path.glob(".cp.txt.*"))


def test_checkpoint_through_a_symlink_writes_the_target(demo: Cli, tmp_path: Path):
    (tmp_path / "published").mkdir()
    (tmp_path / "published" / "cp.txt").write_text("old\n")
    (tmp_path / "link.txt").symlink_to("published/cp.txt")
    printed = demo.ok("checkpoint -o link.txt").stdout
    assert (tmp_path / "link.txt").is_symlink()
    assert (tmp_path / "published" / "cp.txt").read_text() == printed
    assert entries(tmp_path / "published") == ["cp.txt"]


# -- export and export-events ------------------------------------------------------------


@pytest.mark.parametrize("command", ["export", "export-events"])
def test_export_to_a_directory_is_one_line_naming_it(demo: Cli, tmp_path: Path, command: str):
    (tmp_path / "d").mkdir()
    before = entries(tmp_path)
    assert demo.fails(f"{command} -o d") == "Error: cannot write d: is a directory"
    assert entries(tmp_path) == before
    assert entries(tmp_path / "d") == []


@pytest.mark.parametrize("command", ["export", "export-events"])
def test_export_makes_its_missing_folders(demo: Cli, tmp_path: Path, command: str):
    demo.ok(f"{command} -o new/deeper/out.json")
    assert (tmp_path / "new" / "deeper" / "out.json").read_bytes() == demo.ok(command).stdout_bytes
    assert entries(tmp_path / "new" / "deeper") == ["out.json"]


@pytest.mark.parametrize("command", ["export", "export-events"])
def test_export_through_a_file_in_the_path_is_refused(demo: Cli, tmp_path: Path, command: str):
    (tmp_path / "plain").write_text("x")
    assert demo.fails(f"{command} -o plain/out.json") == (
        "Error: cannot write plain/out.json: a part of the path is not a folder"
    )
    assert demo.fails(f"{command} -o plain/sub/out.json") == (
        "Error: cannot write plain/sub/out.json: a part of the path is not a folder"
    )
    assert (tmp_path / "plain").read_text() == "x"


@pytest.mark.parametrize("command", ["export", "export-events"])
def test_export_follows_a_symlink_and_keeps_it(demo: Cli, tmp_path: Path, command: str):
    target = tmp_path / "target.json"
    target.write_text("old\n")
    (tmp_path / "link.json").symlink_to("target.json")
    demo.ok(f"{command} -o link.json")
    assert (tmp_path / "link.json").is_symlink()
    assert os.readlink(tmp_path / "link.json") == "target.json"
    assert target.read_bytes() == demo.ok(command).stdout_bytes
    assert sorted(entries(tmp_path)) == ["example.ndjson", "ledger.db", "link.json", "target.json"]


def test_export_through_a_link_to_another_folder_replaces_the_file_there(demo: Cli, tmp_path: Path):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "state.json").write_text("old\n")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "state.json").symlink_to("../site/state.json")
    demo.ok("export -o out/state.json")
    assert (tmp_path / "out" / "state.json").is_symlink()
    assert (tmp_path / "site" / "state.json").read_bytes() == demo.ok("export").stdout_bytes
    assert entries(tmp_path / "site") == ["state.json"]


def test_export_through_a_dangling_symlink_creates_its_target(demo: Cli, tmp_path: Path):
    (tmp_path / "link.json").symlink_to("made.json")
    demo.ok("export -o link.json")
    assert (tmp_path / "link.json").is_symlink()
    assert (tmp_path / "made.json").read_bytes() == demo.ok("export").stdout_bytes


@pytest.mark.parametrize("command", ["export", "checkpoint"])
def test_a_fifo_is_written_through_not_replaced(demo: Cli, tmp_path: Path, command: str):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    # The read end is open first, so the command's open does not wait; both outputs fit in
    # the pipe's buffer (the export is about 26 kB), so its writes do not wait either.
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        printed = demo.ok(f"{command} -o pipe").stdout_bytes
        received = b""
        while chunk := os.read(reader, 1 << 16):
            received += chunk
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    expected = demo.ok("export").stdout_bytes if command == "export" else printed
    assert received == expected
    assert entries(tmp_path) == ["example.ndjson", "ledger.db", "pipe"]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
def test_the_process_own_stdout_is_written_through(demo: Cli, tmp_path: Path):
    """-o /proc/self/fd/1 (what /dev/stdout leads to) writes to standard output."""
    run = subprocess.run(
        [sys.executable, "-m", "cli", "--db", str(demo.db), "export", "-o", "/proc/self/fd/1"],
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, "POLICY_LEDGER_DEBUG": ""},
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == demo.ok("export").stdout_bytes
    assert run.stderr == b"wrote /proc/self/fd/1 (48 events)\n"


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
def test_stdout_redirected_to_a_file_is_appended_in_order(demo: Cli, tmp_path: Path):
    """A checkpoint to /proc/self/fd/1 and its printed copy both land in the redirected file."""
    with open(tmp_path / "out.txt", "wb") as stdout:
        run = subprocess.run(
            [sys.executable, "-m", "cli", "--db", str(demo.db), "checkpoint", "-o", "/dev/fd/1"],
            stdout=stdout,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            check=False,
        )
    assert run.returncode == 0, run.stderr
    text = (tmp_path / "out.txt").read_text()
    half = len(text) // 2
    assert text[:half] == text[half:] and text[:half].endswith("\n")


def test_a_link_to_stdout_appends_to_the_redirected_file(demo: Cli, tmp_path: Path):
    """`-o out.json` where out.json -> /dev/stdout: the redirected file is kept and appended."""
    (tmp_path / "out.json").symlink_to("/dev/stdout")
    (tmp_path / "log.txt").write_text("before\n")
    with open(tmp_path / "log.txt", "ab") as stdout:
        run = subprocess.run(
            [sys.executable, "-m", "cli", "--db", str(demo.db), "export", "-o", "out.json"],
            stdout=stdout,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            check=False,
        )
    assert run.returncode == 0, run.stderr
    text = (tmp_path / "log.txt").read_text()
    assert text.startswith("before\n{") and (tmp_path / "out.json").is_symlink()


def test_an_output_name_near_the_file_system_limit_is_written(demo: Cli, tmp_path: Path):
    name = "a" * 245 + ".json"  # 250 bytes: a temporary name must not add to it
    demo.ok(f"export -o {name}")
    assert (tmp_path / name).read_bytes().startswith(b"{")


# -- modes ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("umask_022")
@pytest.mark.parametrize("command", ["export", "export-events", "checkpoint"])
def test_a_new_output_file_gets_the_usual_mode(demo: Cli, tmp_path: Path, command: str):
    demo.ok(f"{command} -o new.out")
    assert mode(tmp_path / "new.out") == 0o644


@pytest.mark.usefixtures("umask_022")
@pytest.mark.parametrize("command", ["export", "export-events", "checkpoint"])
def test_replacing_a_file_keeps_its_mode(demo: Cli, tmp_path: Path, command: str):
    old = tmp_path / "old.out"
    old.write_text("old\n")
    old.chmod(0o664)
    demo.ok(f"{command} -o old.out")
    assert mode(old) == 0o664
    assert old.read_text() != "old\n"


@pytest.mark.usefixtures("umask_022")
def test_keygen_keeps_the_private_key_private_and_the_public_key_readable(demo: Cli, tmp_path):
    demo.ok("keygen -o signer")
    assert mode(tmp_path / "signer.key") == 0o600
    assert mode(tmp_path / "signer.pub") == 0o644


# -- keygen and backup ---------------------------------------------------------------------


def test_keygen_into_a_missing_folder_is_one_line(demo: Cli, tmp_path: Path):
    before = entries(tmp_path)
    assert (
        demo.fails("keygen -o nodir/k") == "Error: cannot write nodir/k.key: no such folder nodir"
    )
    assert entries(tmp_path) == before


def test_keygen_that_cannot_write_the_public_key_leaves_no_private_key(demo: Cli, tmp_path):
    (tmp_path / "k.pub").mkdir()
    assert demo.fails("keygen -o k") == "Error: cannot write k.pub: is a directory"
    assert not (tmp_path / "k.key").exists()
    assert entries(tmp_path / "k.pub") == []


@pytest.mark.parametrize("form", ["sqlite", "events"])
def test_backup_into_a_missing_folder_is_one_line(demo: Cli, tmp_path: Path, form: str):
    before = entries(tmp_path)
    assert demo.fails(f"backup --format {form} nodir/b.db") == (
        "Error: cannot write nodir/b.db: no such folder nodir"
    )
    assert entries(tmp_path) == before


@pytest.mark.parametrize("form", ["sqlite", "events"])
def test_backup_never_follows_a_link_to_overwrite(demo: Cli, tmp_path: Path, form: str):
    (tmp_path / "precious.db").write_bytes(b"do not touch")
    (tmp_path / "b.db").symlink_to("precious.db")
    assert demo.fails(f"backup --format {form} b.db") == (
        "Error: b.db exists; a backup never overwrites a file"
    )
    assert (tmp_path / "precious.db").read_bytes() == b"do not touch"


# -- report --------------------------------------------------------------------------------


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc")
def test_report_into_a_folder_that_takes_no_files_is_one_line(demo: Cli):
    assert demo.fails("report -o /proc/self") == (
        "Error: cannot write /proc/self: /proc/self/actors: no such file or directory"
    )


def test_report_where_a_page_folder_is_a_file_is_one_line(demo: Cli, tmp_path: Path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "actors").write_text("not a folder")
    message = demo.fails(f"report -o {quoted(site)}")
    assert message == f"Error: cannot write {site}: {site / 'actors'}: file exists"
