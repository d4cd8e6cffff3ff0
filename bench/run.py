"""The benchmark of issue 5: `python bench/run.py --events N [--postgres URL] [--skip NAME...]`.

Builds a synthetic ledger of N events (ledger/synthetic.py) and measures, in
one run, import, full rebuild, read-model rebuild and catch-up (when they
exist), verify, export, the continuity report, `show` on a large and a tiny
ledger, each everyday command on the tiny ledger against a bare Python
start-up, peak memory, and the PostgreSQL import, each against a baseline
measured in the same run. Writes bench/results/<timestamp>.json and
bench/results/latest.md, and prints the markdown table. See bench/README.md.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import machine
import pg
import steps
from measure import BenchError
from table import markdown_table, write_results

SKIPPABLE = (
    "import",
    "eventsourcing",
    "rebuild",
    "read-model-rebuild",
    "catch-up",
    "verify",
    "export",
    "continuity",
    "show",
    "startup",
    "postgres",
)
ONE_MILLION = 1_000_000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--events", type=int, required=True, help="ledger size (>= 100)")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="PostgreSQL server (SQLAlchemy URL); else POLICY_LEDGER_BENCH_PG, else the local "
        "`test` database if it answers. Each measured import gets a fresh schema, dropped after.",
    )
    parser.add_argument(
        "--out", type=Path, default=machine.ROOT / "bench" / "results", help="results folder"
    )
    parser.add_argument(
        "--skip",
        nargs="+",
        action="extend",
        default=[],
        choices=SKIPPABLE,
        metavar="NAME",
        help="steps to leave out: " + ", ".join(SKIPPABLE),
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of a step that takes under 20 s (median reported; default 3)",
    )
    parser.add_argument(
        "--show-runs", type=int, default=9, help="timed `show` processes per ledger (default 9)"
    )
    parser.add_argument("--seed", type=int, default=2025, help="synthetic ledger seed")
    parser.add_argument(
        "--es-python",
        metavar="PYTHON",
        help="an interpreter that has `eventsourcing` (else POLICY_LEDGER_BENCH_ES_PYTHON, "
        "else this one)",
    )
    parser.add_argument(
        "--code",
        type=Path,
        help="measure the `ledger` and `cli` packages in this folder (another checkout, "
        "or `git archive` of a commit) instead of the installed ones",
    )
    parser.add_argument("--work", type=Path, help="scratch folder (default: a new temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args(argv)
    if args.events < 100:
        parser.error("--events must be at least 100")
    return args


def log(message: str) -> None:
    """Progress on stderr; the table goes to stdout."""
    print(message, file=sys.stderr, flush=True)


def _projection(wall: float, context: steps.Context) -> dict[str, Any]:
    scale = ONE_MILLION / context.events
    shows = context.constant_seconds
    setup = max(wall - context.first_run_seconds - context.repeat_seconds - shows, 0.0)
    return {
        "wall_seconds": wall,
        "first_run_seconds": context.first_run_seconds,
        "repeat_seconds": context.repeat_seconds,
        "show_seconds": shows,
        "setup_seconds": setup,
        # One run of each measured step and the setup (generation, baseline rows,
        # process starts), scaled linearly: a floor where a step grows faster.
        "linear_1m_seconds": (context.first_run_seconds + setup) * scale + shows,
        "longest_step_1m_seconds": context.longest_step * scale,
    }


def _header(report: dict[str, Any]) -> str:
    info, git, projection = report["machine"], report["git"], report["projection"]
    code = report["discovered"].get("code", "?")
    events = report["events"]
    pg = info.get("postgresql") or "not used"
    lines = [
        f"## policy-ledger benchmark: {events:,} events",
        "",
        f"- run: {report['started']} UTC; code measured: `{code}`"
        + (f" at commit `{git['commit']}`" if git["commit"] else " (not a git checkout)")
        + (f" with {git['dirty']} changed tracked files" if git["dirty"] else ""),
        f"- machine: {info['cpus']} CPUs ({info['cpu_model']}), {info['memory_gb']:.0f} GB, "
        f"Python {info['python']}, SQLite {info['sqlite']}, PostgreSQL {pg}, "
        f"eventsourcing {info.get('eventsourcing') or 'not installed'}; "
        f"load average {info['load_before']} before, {info['load_after']} after",
        f"- command: `{report['command']}`",
        f"- wall time {projection['wall_seconds']:.0f} s",
    ]
    if events >= 10_000:  # below that, process starts dominate and the projection means little
        lines[-1] += (
            f"; a linear projection of this run to 1,000,000 events: about "
            f"{projection['linear_1m_seconds'] / 60:.0f} min"
        )
    if events != ONE_MILLION:
        lines.append(
            "- the targets are stated at 1,000,000 events; at this size the verdicts are indicative"
        )
    return "\n".join(lines)


FOOTER = """\
ratio: events/s ÷ the baseline's events/s, measured in the same run (higher is
faster), except the `show` and start-up rows: their time ÷ the baseline's time (lower is
better; the median of the ratios of runs taken side by side), and there the
baseline column holds the baseline's seconds. Seconds are
medians of the runs (a step under 20 s is run up to --repeat times, each in a
fresh process); CPU s is the CPU time of the measuring process and the workers
it starts (the import's decoding worker, verify's second process) for the same
block (less moved by other load on a shared machine; a PostgreSQL server's work
is not in it; above the seconds when two cores work at once); peak RSS is the
measuring process's peak resident set plus its largest worker's, Python and
imports included."""


def main(argv: list[str] | None = None) -> int:
    """Run every step that is not skipped, then write and print the results."""
    args = parse_args(argv)
    if args.code is not None:
        machine.use_code(args.code.resolve())
    started = datetime.now(UTC)
    clock = time.perf_counter()
    work = args.work or Path(tempfile.mkdtemp(prefix="policy-ledger-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    context = steps.Context(
        events=args.events,
        work=work,
        repeat=args.repeat,
        show_runs=args.show_runs,
        seed=args.seed,
        skip=set(args.skip),
        log=log,
    )
    info = machine.describe()
    log(f"scratch folder: {work}")
    try:
        context.es_python, es_problem = machine.eventsourcing_python(args.es_python)
        info["eventsourcing"] = machine.eventsourcing_version(context.es_python)
        pg_url, pg_named = pg.server_url(args.postgres)
        steps.prepare(context)
        rows = [
            *steps.imports(context, es_problem),
            *steps.reads(context),
            *steps.shows(context),
            *steps.startups(context),
            *steps.memory(context),
            *steps.postgres(context, pg_url, pg_named, info),
        ]
    except BenchError as exc:
        log(f"error: {exc}")
        return 1
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    info["load_after"] = machine.load_average()
    report: dict[str, Any] = {
        "events": args.events,
        "seed": args.seed,
        "started": started.strftime("%Y-%m-%d %H:%M:%S"),
        "command": "python bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": info,
        "git": machine.git_state(Path(context.discovered.get("code") or machine.ROOT)),
        "discovered": context.discovered,
        "projection": _projection(time.perf_counter() - clock, context),
        "rows": [row.to_json() for row in rows],
    }
    markdown = "\n\n".join([_header(report), markdown_table(rows), FOOTER])
    path = write_results(args.out, started.strftime("%Y%m%dT%H%M%SZ"), report, markdown)
    print(markdown)
    log(f"wrote {path} and {args.out / 'latest.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
