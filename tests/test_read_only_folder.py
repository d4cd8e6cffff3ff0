"""A ledger in a read-only folder (a published copy on read-only media) fails in one line saying why.

Every command may write beside the ledger (SQLite's write-ahead log, the
read models that queries bring up to date), so such a ledger cannot be
opened; the message says so and what to do. The folder is made read-only
with a bind mount in a private mount namespace (root can write through
file permissions, not through a read-only mount).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli.commands_demo import example_lines
from ledger.service import Ledger

CLI = Path(sys.executable).parent / "policy-ledger"


def _read_only_mounts_work() -> str | None:
    if shutil.which("unshare") is None:
        return "needs util-linux's unshare to make a read-only mount"
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        return "needs `unshare -m` (root) to make a read-only mount"
    return None


@pytest.mark.skipif(_read_only_mounts_work() is not None, reason=str(_read_only_mounts_work()))
def test_a_ledger_in_a_read_only_folder_is_refused_in_one_line_saying_why(tmp_path):
    folder = tmp_path / "published"
    folder.mkdir()
    ledger = Ledger.init(str(folder / "ledger.db"), tz="Asia/Seoul")
    ledger.import_lines(example_lines())
    ledger.close()
    script = (
        f"mount --bind -o ro {folder} {folder} && "
        f"{CLI} --db {folder / 'ledger.db'} list --kind actor"
    )
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith(f"Error: cannot open {folder / 'ledger.db'}: ")
    assert line.endswith(
        f"({folder} is read-only, and policy-ledger writes beside the ledger: "
        "copy the file to a writable folder to read it)"
    )
    assert "Traceback" not in done.stderr


def _published_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "published"
    folder.mkdir()
    ledger = Ledger.init(str(folder / "ledger.db"), tz="Asia/Seoul")
    ledger.import_lines(example_lines())
    ledger.catch_up()  # as `rebuild`, or any query, leaves it before publishing
    ledger.close()
    assert sorted(p.name for p in folder.iterdir()) == ["ledger.db"]
    return folder


def _read_only(folder: Path, *commands: str) -> subprocess.CompletedProcess[str]:
    script = f"mount --bind -o ro {folder} {folder} && " + " && ".join(commands)
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=120
    )


def same_in_place(folder: Path, db: str, reads: list[list[str]]) -> None:
    """Each command prints on a read-only mount of `folder` what it prints on the writable copy."""
    writable = [
        subprocess.run([str(CLI), "--db", db, *args], capture_output=True, text=True)
        for args in reads
    ]
    assert all(done.returncode == 0 for done in writable)
    done = _read_only(
        folder,
        *(f"{CLI} --db {shlex.quote(db)} {shlex.join(args)}; echo EXIT=$?" for args in reads),
    )
    assert done.stdout == "".join(f"{w.stdout}EXIT=0\n" for w in writable)
    assert done.stderr == ""


@pytest.mark.skipif(_read_only_mounts_work() is not None, reason=str(_read_only_mounts_work()))
def test_show_and_list_read_a_published_ledger_in_place(tmp_path):
    folder = _published_copy(tmp_path)
    db = folder / "ledger.db"
    reads = [
        ["show", "commitment/kr-ai-gpus-10000"],
        ["show", "office/president-of-korea", "--json"],
        ["list", "--kind", "commitment"],
    ]
    same_in_place(folder, str(db), reads)
    # What needs the service (another moment, the events themselves) still says why it cannot.
    later = _read_only(
        folder, f"{CLI} --db {db} show commitment/kr-ai-gpus-10000 --as-of 2025-06-01"
    )
    assert later.returncode == 1
    assert "is read-only, and policy-ledger writes beside the ledger" in later.stderr


@pytest.mark.skipif(_read_only_mounts_work() is not None, reason=str(_read_only_mounts_work()))
def test_a_read_only_ledger_with_a_write_ahead_log_beside_it_is_not_read_as_if_it_had_none(
    tmp_path,
):
    # Committed events may live only in the -wal file: reading the main file
    # alone could show a state without them. The ordinary open is tried and
    # its error given.
    folder = _published_copy(tmp_path)
    (folder / "ledger.db-wal").write_bytes(b"")
    done = _read_only(folder, f"{CLI} --db {folder / 'ledger.db'} list")
    assert done.returncode == 1
    assert "is read-only, and policy-ledger writes beside the ledger" in done.stderr
