"""Running measured steps in fresh processes, and timing the CLI from outside."""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CHILD = HERE / "child.py"
ES_BASELINE = HERE / "es_baseline.py"
# A step whose first run takes less than this is repeated (up to --repeat runs)
# and reported by its median; a longer one is run once.
REPEAT_UNDER_SECONDS = 20.0


class BenchError(Exception):
    """A measured step failed; the row says so and the run goes on."""


@dataclass
class Measurement:
    """The median of one or more runs of a step, each in its own process."""

    seconds: float
    runs: list[float]
    cpu_seconds: float | None
    events: int
    peak_rss_mb: float
    result: dict[str, Any] = field(default_factory=dict)


def remove_sqlite(path: Path) -> None:
    """Delete an SQLite file and its WAL companions."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def copy_sqlite(source: Path, target: Path) -> Path:
    """A consistent copy of an SQLite ledger (the backup API, so the WAL is included)."""
    remove_sqlite(target)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()
    return target


def run_process(argv: list[str], *, log: Callable[[str], None]) -> dict[str, Any]:
    """Run a measuring process; its last stdout line is its JSON result."""
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise BenchError(f"exit {proc.returncode}: {' / '.join(tail)}")
    lines = proc.stdout.strip().splitlines()
    if not lines:
        raise BenchError("the step printed nothing")
    result: dict[str, Any] = json.loads(lines[-1])
    if proc.stderr.strip():
        log(proc.stderr.strip().splitlines()[-1])
    return result


def child_argv(step: str, args: dict[str, Any]) -> list[str]:
    """The command that runs one step of bench/child.py with this interpreter."""
    return [sys.executable, str(CHILD), step, json.dumps(args)]


def measure(
    argv_for_run: Callable[[int], list[str]],
    *,
    repeat: int,
    log: Callable[[str], None],
    label: str,
) -> Measurement | None:
    """Run a step (repeating it when it is short); None when it is not available here."""
    results: list[dict[str, Any]] = []
    while len(results) < max(repeat, 1):
        result = run_process(argv_for_run(len(results)), log=log)
        if result.get("not_available"):
            return None
        results.append(result)
        log(f"  {label}: run {len(results)}: {result['seconds']:.3f} s")
        if results[0]["seconds"] >= REPEAT_UNDER_SECONDS:
            break
    runs = [float(r["seconds"]) for r in results]
    cpu = [float(r["cpu_seconds"]) for r in results if r.get("cpu_seconds") is not None]
    return Measurement(
        seconds=statistics.median(runs),
        runs=runs,
        cpu_seconds=statistics.median(cpu) if cpu else None,
        events=int(results[0]["events"]),
        peak_rss_mb=max(float(r["peak_rss_mb"]) for r in results),
        result=results[0],
    )


def cli_path() -> str:
    """The `policy-ledger` script beside this interpreter (the venv's)."""
    beside = Path(sys.executable).parent / "policy-ledger"
    if beside.exists():
        return str(beside)
    raise BenchError(f"no policy-ledger script beside {sys.executable}: pip install -e .")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def show_argv(db: Path, subject: str) -> list[str]:
    """`policy-ledger --db DB show SUBJECT`."""
    return [cli_path(), "--db", str(db), "show", subject]


# What starting Python with click and SQLite costs: issue 5 wants a command on
# a small ledger to cost about this.
STARTUP_ARGV = [sys.executable, "-c", "import click, sqlite3"]


def process_seconds(argv: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of running `argv` as a fresh process (stdout discarded)."""
    env = dict(os.environ, POLICY_LEDGER_USER="bench")
    cpu = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    seconds = time.perf_counter() - start
    cpu = _children_cpu() - cpu
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(argv[-2:])} failed: {proc.stderr.decode().strip()[:300]}")
    return seconds, cpu


def process_times(
    commands: list[list[str]], runs: int, before_each: Callable[[], None] | None = None
) -> list[list[tuple[float, float]]]:
    """Interleaved (wall, CPU) times of each command, after one warm-up run each."""
    for argv in commands:
        process_seconds(argv)
    times: list[list[tuple[float, float]]] = [[] for _ in commands]
    for _ in range(runs):
        if before_each is not None:
            before_each()
        for index, argv in enumerate(commands):
            times[index].append(process_seconds(argv))
    return times


def middle_commitment(db: Path) -> str:
    """The commitment made halfway through the log (a typical, not a hand-picked, one)."""
    with sqlite3.connect(db) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM events WHERE type = 'CommitmentMade'"
        ).fetchone()
        (subject,) = conn.execute(
            "SELECT subject FROM events WHERE type = 'CommitmentMade' "
            "ORDER BY position LIMIT 1 OFFSET ?",
            (count // 2,),
        ).fetchone()
    conn.close()
    return str(subject)


def subject_size(db: Path, subject: str) -> dict[str, int]:
    """How many events the subject has, and how many budget events name it."""
    with sqlite3.connect(db) as conn:
        (own,) = conn.execute(
            "SELECT count(*) FROM events WHERE subject = ?", (subject,)
        ).fetchone()
        (naming,) = conn.execute(
            "SELECT count(*) FROM event_refs WHERE ref = ?", (subject,)
        ).fetchone()
    conn.close()
    return {"own_events": int(own), "events_naming_it": int(naming)}
