"""Profile one step with cProfile: `python bench/hotspots.py --events 20000 --step import`.

Builds the synthetic ledger (the same one bench/run.py measures), runs the
step once under cProfile and prints the functions with the largest cumulative
and own time, each also in µs per event, so that a cost reads as "X µs/event,
Y% of the step". Steps: import, rebuild, read-model-rebuild, verify, export,
continuity. Writes the raw profile to `<out>/<step>-<events>.prof` (open it with
`python -m pstats` or snakeviz).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import machine

STEPS = ("import", "rebuild", "read-model-rebuild", "verify", "export", "continuity")


def _prepare(events: int, work: Path, seed: int) -> tuple[Path, Path]:
    from ledger.synthetic import synthetic_lines

    ndjson = work / "events.ndjson"
    with ndjson.open("wb") as out:
        for line in synthetic_lines(events, seed):
            out.write(line + b"\n")
    return ndjson, work / "ledger.db"


def _action(step: str, ndjson: Path, db: Path) -> tuple[Callable[[], Any], Callable[[], None]]:
    """(the profiled call, cleanup) for a step; the ledger exists unless the step is import."""
    from ledger.continuity import continuity_report
    from ledger.export import export_bytes, export_document

    try:
        from ledger.verification import verify_ledger
    except ImportError:  # code measured from before verify had its own module
        from ledger.integrity import verify_ledger  # type: ignore[attr-defined,no-redef]
    from ledger.service import Ledger

    if step == "import":
        ledger = Ledger.init(str(db), tz="Asia/Seoul", user="bench")
        lines = ndjson.open("rb")

        def close_import() -> None:
            lines.close()
            ledger.close()

        return (lambda: ledger.import_lines(lines)), close_import
    ledger = Ledger.open(str(db), user="bench")
    view = ledger.view()
    actions: dict[str, Callable[[], Any]] = {
        "rebuild": lambda: ledger.state(view),
        "read-model-rebuild": lambda: ledger.rebuild(),  # type: ignore[attr-defined]
        "verify": lambda: verify_ledger(ledger.store),
        "export": lambda: export_bytes(export_document(ledger.events(), view)),
        "continuity": lambda: (
            ledger.continuity(view)
            if hasattr(ledger, "continuity")
            else continuity_report(ledger.events(), view)
        ),
    }
    return actions[step], ledger.close


def _table(stats: pstats.Stats, sort: str, top: int, events: int, total: float) -> str:
    stream = io.StringIO()
    stats.stream = stream  # type: ignore[attr-defined]
    stats.sort_stats(sort)
    rows = []
    width = 0
    for func in stats.fcn_list[:top]:  # type: ignore[attr-defined]
        calls, _, own, cumulative, _ = stats.stats[func]  # type: ignore[attr-defined]
        filename, line, name = func
        where = f"{_short(filename)}:{line}({name})"
        width = max(width, len(where))
        rows.append((where, calls, own, cumulative))
    lines = [
        f"{'function':<{width}}  {'calls':>9}  {'own s':>7}  {'cum s':>7}  "
        f"{'cum µs/ev':>9}  {'cum %':>6}"
    ]
    for where, calls, own, cumulative in rows:
        lines.append(
            f"{where:<{width}}  {calls:>9}  {own:>7.2f}  {cumulative:>7.2f}  "
            f"{cumulative / events * 1e6:>9.1f}  {cumulative / total * 100:>5.1f}%"
        )
    return "\n".join(lines)


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/ledger/", "/cli/"):
        if marker in filename:
            head = "" if marker == "site-packages/" else marker.strip("/") + "/"
            return head + filename.split(marker, 1)[1]
    return filename.rsplit("/", 1)[-1] if filename.startswith("/") else filename


def main() -> None:
    """Profile the step and print the two tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--step", choices=STEPS, default="import")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--code", type=Path, help="measure the packages in this folder")
    parser.add_argument("--out", type=Path, default=machine.ROOT / "bench" / "results")
    args = parser.parse_args()
    if args.code is not None:
        machine.use_code(args.code.resolve())
    work = Path(tempfile.mkdtemp(prefix="policy-ledger-hotspots-"))
    try:
        ndjson, db = _prepare(args.events, work, args.seed)
        if args.step != "import":
            build, close = _action("import", ndjson, db)
            build()
            close()
        action, close = _action(args.step, ndjson, db)
        profile = cProfile.Profile()
        start = time.perf_counter()
        profile.enable()
        action()
        profile.disable()
        total = time.perf_counter() - start
        close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    dump = args.out / f"{args.step}-{args.events}.prof"
    profile.dump_stats(dump)
    stats = pstats.Stats(profile)
    print(
        f"# {args.step} of {args.events:,} events: {total:.2f} s under cProfile "
        f"({total / args.events * 1e6:.0f} µs/event; profiling inflates Python-heavy code)\n"
    )
    print("## by cumulative time\n")
    print(_table(stats, "cumulative", args.top, args.events, total))
    print("\n## by own time\n")
    print(_table(stats, "tottime", args.top, args.events, total))
    print(f"\nraw profile: {dump}")


if __name__ == "__main__":
    main()
