"""A ledger in a read-only folder (a published copy on read-only media) fails in one line saying why.

Every command may write beside the ledger (SQLite's write-ahead log, the
read models that queries bring up to date), so such a ledger cannot be
opened; the message says so and what to do. The folder is made read-only
with a bind mount in a private mount namespace (root can write through
file permissions, not through a read-only mount).
"""

from __future__ import annotations

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
