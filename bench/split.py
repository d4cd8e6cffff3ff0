"""Main-process CPU of an import, split by part: `python bench/split.py --events 200000 [--pg URL]`.

Wraps the write path's parts (new_only, seal loop, rules, the store's add,
the decoder's hand-over) with CPU timers (time.process_time: this process
only, so the decoding worker is not counted) and prints µs per event, with
the decoding worker's own CPU (its rusage as a child) on the line above.
On two cores the import's wall time is the larger of the two processes.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="synthetic events to import")
    parser.add_argument("--pg", default="", help="import into PostgreSQL at this URL instead")
    parser.add_argument("--code", default="", help="measure the ledger and cli packages in DIR")
    args = parser.parse_args()
    if args.code:
        machine.use_code(Path(args.code))
    from ledger import writing
    from ledger.service import Ledger
    from ledger.store import sql
    from ledger.synthetic import synthetic_lines

    spent: dict[str, float] = defaultdict(float)

    def timed(owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)

        def wrapper(*a: Any, **k: Any) -> Any:
            start = time.process_time()
            try:
                return original(*a, **k)
            finally:
                spent[label] += time.process_time() - start

        setattr(owner, name, wrapper)

    import gc
    import types

    shim = types.SimpleNamespace(**{k: getattr(gc, k) for k in dir(gc) if not k.startswith("__")})
    writing.gc = shim  # type: ignore[attr-defined]
    timed(shim, "collect", "gc.collect between chunks")
    timed(writing, "new_only", "new_only")
    timed(writing, "check_rules", "check_rules (all)")
    timed(writing, "_load", "  rules: loading histories")
    timed(writing, "check_batch", "  rules: check_batch")
    timed(writing, "recheck", "recheck")
    timed(sql.AppendSession, "add", "store add (SQL, tree)")
    timed(writing.ChunkedWrite, "add", "ChunkedWrite.add (all)")
    with tempfile.TemporaryDirectory() as work:
        ndjson = Path(work) / "events.ndjson"
        with ndjson.open("wb") as out:
            for line in synthetic_lines(args.events):
                out.write(line + b"\n")
        if args.pg:
            import psycopg

            schema = f"split_{int(time.time())}"
            with psycopg.connect(
                args.pg.replace("postgresql+psycopg", "postgresql"), autocommit=True
            ) as c:
                c.execute(f"CREATE SCHEMA {schema}")
            target = f"{args.pg}?options=-csearch_path%3D{schema}"
        else:
            target = str(Path(work) / "ledger.db")
        ledger = Ledger.init(target, tz="Asia/Seoul", user="bench")
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        start, wall = time.process_time(), time.perf_counter()
        with ndjson.open("rb") as lines:
            ledger.import_lines(lines)
        total, wall = time.process_time() - start, time.perf_counter() - wall
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        worker = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
        ledger.close()
        if args.pg:
            with psycopg.connect(
                args.pg.replace("postgresql+psycopg", "postgresql"), autocommit=True
            ) as c:
                c.execute(f"DROP SCHEMA {schema} CASCADE")
    per = 1e6 / args.events
    print(
        f"{args.events} events: {wall:.1f} s wall, {total:.1f} s main-process CPU, "
        f"{total * per:.1f} µs/event"
    )
    print(f"{'decoding worker (children) CPU':32s} {worker:8.2f} s {worker * per:8.1f} µs/event")
    for label, seconds in spent.items():
        print(f"{label:32s} {seconds:8.2f} s {seconds * per:8.1f} µs/event")
    add = spent["ChunkedWrite.add (all)"]
    parts = spent["new_only"] + spent["check_rules (all)"] + spent["store add (SQL, tree)"]
    print(
        f"{'add, rest (seal, versions)':32s} {add - parts:8.2f} s {(add - parts) * per:8.1f} µs/event"
    )
    print(
        f"{'outside add (decode hand-over)':32s} {total - add - spent['recheck']:8.2f} s "
        f"{(total - add - spent['recheck']) * per:8.1f} µs/event"
    )


if __name__ == "__main__":
    main()
