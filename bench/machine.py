"""What the benchmark ran on: the machine, the libraries, the checkout."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ES_ENV = "POLICY_LEDGER_BENCH_ES_PYTHON"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (the machine is shared: say how busy it was)."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def describe() -> dict[str, Any]:
    """The machine and the library versions."""
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gb": _memory_gb(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": _version("SQLAlchemy"),
        "pydantic": _version("pydantic"),
        "orjson": _version("orjson"),
        "psycopg": _version("psycopg"),
        "platform": platform.platform(),
        "load_before": load_average(),
    }


def eventsourcing_python(given: str | None) -> tuple[str | None, str | None]:
    """(an interpreter that imports eventsourcing, None), or (None, why there is none)."""
    candidates = [given] if given else [os.environ.get(ES_ENV) or sys.executable]
    for python in candidates:
        if not python:
            continue
        probe = subprocess.run(
            [python, "-c", "import eventsourcing"], capture_output=True, check=False
        )
        if probe.returncode == 0:
            return python, None
    return None, (
        f"not available: {candidates[0]} cannot import eventsourcing "
        "(bench-only: see bench/README.md)"
    )


def eventsourcing_version(python: str | None) -> str | None:
    """The eventsourcing version that interpreter has."""
    if python is None:
        return None
    probe = subprocess.run(
        [python, "-c", "from importlib.metadata import version; print(version('eventsourcing'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.stdout.strip() or None


def git_state(folder: Path) -> dict[str, Any]:
    """The commit of the code measured, and how many of its tracked files differ from it."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, check=False
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    if git("rev-parse", "--show-toplevel") != str(folder.resolve()):
        return {"commit": None, "dirty": 0}  # an exported tree, not a checkout
    changed = git("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": git("rev-parse", "--short", "HEAD") or None,
        "dirty": len(changed.splitlines()) if changed else 0,
    }


def use_code(folder: Path) -> None:
    """Import `ledger` and `cli` from `folder`, here and in every process started after."""
    if not (folder / "ledger" / "__init__.py").exists():
        raise SystemExit(f"--code {folder}: no ledger package there")
    sys.path.insert(0, str(folder))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(folder), os.environ.get("PYTHONPATH", "")) if p
    )
