"""Per-event costs of the parts of import and rebuild, timed without a profiler.

`python bench/costs.py --events 20000` builds the synthetic ledger, times the
whole step (`Ledger.import_lines`, `Ledger.state`) as users run it and again
with Python's cyclic garbage collector off, then times each building block
over all the events with the collector off, in µs per event and as a share of
the whole step. cProfile charges its own overhead to small functions (a
0.3 µs regex shows as 14 µs), so shares read from a profile overstate costs
made of many small calls; these are plain wall times of the same work done in
isolation, in CPU time (less moved than wall time by other load on a shared
machine). Some parts are internal functions: when one has moved or changed,
its line says "n/a" instead of failing.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import machine

TZ = "Asia/Seoul"


def _timed(action: Callable[[], Any], repeat: int, *, collector: bool = False) -> float:
    """Median CPU seconds of `repeat` runs, the garbage collector on or off.

    CPU time, not wall time: on a shared machine other people's load moves wall
    time by tens of percent, and every part here runs in this one thread
    (SQLite included).
    """
    runs = []
    for _ in range(repeat):
        gc.collect()
        if not collector:
            gc.disable()
        try:
            start = time.process_time()
            action()
            runs.append(time.process_time() - start)
        finally:
            gc.enable()
    return statistics.median(runs)


def _each(items: Iterable[Any], function: Callable[[Any], Any]) -> Callable[[], None]:
    materialised = list(items)

    def run() -> None:
        for item in materialised:
            function(item)

    return run


class Report:
    """Parts of a step: µs per event (x calls per event) and share of the step."""

    def __init__(self, events: int, whole: float, whole_without_gc: float) -> None:
        self.events = events
        self.whole = whole
        self.whole_without_gc = whole_without_gc
        self.lines: list[tuple[str, float | None, int, str]] = []

    def add(self, name: str, seconds: float | None, times: int = 1, note: str = "") -> None:
        """One part: `seconds` for one call per event; the step makes `times` calls."""
        self.lines.append((name, seconds, times, note))

    def render(self, title: str) -> str:
        """The table."""
        per_event = 1e6 / self.events
        gc_cost = self.whole - self.whole_without_gc
        out = [
            f"## {title}",
            "",
            f"  as run (collector on): {self.whole:.2f} CPU s = "
            f"{self.whole * per_event:.0f} µs/event",
            f"  collector off:         {self.whole_without_gc:.2f} CPU s = "
            f"{self.whole_without_gc * per_event:.0f} µs/event",
            f"  so the cyclic GC costs {gc_cost * per_event:.0f} µs/event, "
            f"{gc_cost / self.whole * 100:.0f}% of the step",
            "",
            "  parts, collector off (µs/event x calls per event = µs/event, share of the step "
            "as run):",
        ]
        width = max(len(name) for name, _, _, _ in self.lines)
        accounted = 0.0
        for name, seconds, times, note in self.lines:
            if seconds is None:
                out.append(f"    {name:<{width}}  n/a  {note}".rstrip())
                continue
            if not name.startswith("  "):
                accounted += seconds * times
            out.append(
                f"    {name:<{width}}  {seconds * per_event:6.1f} x{times} = "
                f"{seconds * times * per_event:6.1f} µs  {seconds * times / self.whole * 100:5.1f}%"
                f"  {note}".rstrip()
            )
        rest = self.whole_without_gc - accounted
        out.append(
            f"    {'everything else (collector off)':<{width}}           "
            f"{rest * per_event:6.1f} µs  {rest / self.whole * 100:5.1f}%"
        )
        out.append(
            f"    {'cyclic garbage collector':<{width}}           "
            f"{gc_cost * per_event:6.1f} µs  {gc_cost / self.whole * 100:5.1f}%"
        )
        return "\n".join(out)


def _fresh(path: Path) -> str:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return str(path)


def _sqlalchemy_insert(source: Path, target: Path) -> Callable[[], None] | None:
    """SQLAlchemy Core executemany of the rows an import wrote, into an empty ledger."""
    try:
        from ledger.store.schema import events_table, nodes_table, refs_table
    except ImportError:
        try:  # code from before the tables moved to schema.py
            from ledger.store.sql import (  # type: ignore[attr-defined,no-redef]
                events_table,
                nodes_table,
                refs_table,
            )
        except ImportError:
            return None
    from ledger.service import Ledger

    with sqlite3.connect(source) as conn:
        conn.row_factory = sqlite3.Row
        rows = {
            table: [dict(r) for r in conn.execute(f"SELECT * FROM {table.name} ORDER BY rowid")]
            for table in (events_table, nodes_table, refs_table)
        }
    conn.close()

    def insert() -> None:
        ledger = Ledger.init(_fresh(target), tz=TZ, user="bench")
        with ledger.store.engine.begin() as connection:
            for table, table_rows in rows.items():
                connection.execute(table.insert(), table_rows)
        ledger.close()

    return insert


def _cost_of(
    action: Callable[[], None], repeat: int, module: str, name: str, stub: Callable[..., Any]
) -> float | None:
    """Seconds `action` spends in `module.name`: its time minus its time with a stub there."""
    import importlib

    try:
        owner: Any = importlib.import_module(module)
    except ModuleNotFoundError:  # measuring a commit from before that module
        return None
    *path, attribute = name.split(".")
    for step in path:
        owner = getattr(owner, step, None)
    if owner is None or not hasattr(owner, attribute):
        return None
    original = getattr(owner, attribute)
    with_it = _timed(action, repeat)
    setattr(owner, attribute, stub)
    try:
        without = _timed(action, repeat)
    finally:
        setattr(owner, attribute, original)
    return max(with_it - without, 0.0)


def import_costs(ndjson: Path, work: Path, repeat: int) -> str:
    """The whole import, then its parts over the same events."""
    import orjson

    from ledger import events as events_module
    from ledger import records
    from ledger.events import decode_event, references
    from ledger.service import Ledger

    lines = ndjson.read_bytes().splitlines()
    count = len(lines)
    target = work / "costs-import.db"

    def whole() -> None:
        ledger = Ledger.init(_fresh(target), tz=TZ, user="bench")
        ledger.import_lines(lines)
        ledger.close()

    report = Report(
        count, _timed(whole, repeat, collector=True), _timed(whole, repeat, collector=False)
    )
    raws = [orjson.loads(line) for line in lines]
    report.add("orjson.loads of each line", _timed(_each(lines, orjson.loads), repeat))
    decoded = [decode_event(raw) for raw in raws]
    report.add("decode_event: pydantic validation", _timed(_each(raws, decode_event), repeat))
    normalise = getattr(events_module, "_normalise_text", None)
    report.add(
        "  of which the NFC walk (_normalise_text)",
        _timed(_each(raws, normalise), repeat) if normalise else None,
    )
    report.add(
        "event_content in _new_only (model_dump)",
        _timed(_each(decoded, records.event_content), repeat),
    )
    contents = [records.event_content(e) for e in decoded]
    report.add(
        "derive_event_id (canonical JSON + uuid5)",
        _timed(_each(contents, records.derive_event_id), repeat),
    )
    is_canonical = getattr(records, "orjson_is_canonical", None) or getattr(
        records, "_orjson_is_canonical", None
    )
    report.add(
        "  of which the canonical-safety walk",
        _timed(_each(contents, is_canonical), repeat) if is_canonical else None,
    )

    def seal(event: Any) -> Any:
        return records.seal(
            event,
            event_id="00000000-0000-0000-0000-000000000000",
            version=1,
            recorded_at="",
            recorded_by="bench",
            occurred_key="2006-01-01T00:00:00.000000Z",
        )

    report.add("seal (event_content again, StoredEvent)", _timed(_each(decoded, seal), repeat))
    report.add(
        "references(event)",
        _timed(_each(decoded, references), repeat),
        1,
        "for the event_refs rows; called twice more per event inside _check_rules",
    )
    sealed = [seal(event) for event in decoded]
    report.add(
        "StoredEvent.restamped (canonical + SHA-256)",
        _timed(_each(sealed, lambda s: s.restamped("2026-01-01T00:00:00.000000Z")), repeat),
        1,
        "under the append lock",
    )
    report.add(
        "the rules (histories + check_batch)",
        _cost_of(whole, repeat, "ledger.writing", "check_rules", lambda *_, **__: None)
        or _cost_of(whole, repeat, "ledger.service", "Ledger._check_rules", lambda *_: None),
        1,
        "by difference: import with it stubbed out",
    )
    report.add(
        "  of which rules.check_batch",
        _cost_of(whole, repeat, "ledger.writing", "check_batch", lambda *_, **__: None)
        or _cost_of(whole, repeat, "ledger.service", "check_batch", lambda *_: None),
        1,
        "by difference",
    )
    insert = _sqlalchemy_insert(target, work / "costs-sqlalchemy.db")
    report.add(
        "SQLAlchemy executemany of the same rows",
        _timed(insert, repeat) if insert else None,
        1,
        "events, merkle_nodes, event_refs",
    )
    return report.render(f"import of {count:,} events (Ledger.import_lines)")


def _fields(stored: Any) -> dict[str, Any]:
    """A StoredEvent's fields without its decoded-event cache (so it decodes again)."""
    from dataclasses import fields

    return {f.name: getattr(stored, f.name) for f in fields(stored) if not f.name.startswith("_")}


def rebuild_costs(db: Path, repeat: int) -> str:
    """The whole rebuild, then reading, decoding and folding separately."""
    from ledger.projections import project_ledger
    from ledger.service import Ledger

    ledger = Ledger.open(str(db), user="bench")
    view = ledger.view()
    report = Report(
        ledger.store.head(),
        _timed(lambda: ledger.state(view), repeat, collector=True),
        _timed(lambda: ledger.state(view), repeat, collector=False),
    )
    report.add(
        "store.read_all (rows -> StoredEvent, orjson.loads)",
        _timed(lambda: list(ledger.store.read_all()), repeat),
    )
    stored = list(ledger.store.read_all())
    copies = [_fields(s) for s in stored]
    cls = type(stored[0])
    report.add(
        "StoredEvent.event: pydantic validation",
        _timed(lambda: [cls(**c).event for c in copies], repeat),
    )
    for s in stored:
        s.event  # noqa: B018  decoded once, so the folds below pay nothing for it
    report.add(
        "project_ledger over decoded events (folds)",
        _timed(lambda: project_ledger(stored, view), repeat),
    )
    text = report.render(f"full rebuild of {report.events:,} events (Ledger.state)")
    rebuild = getattr(ledger, "rebuild", None)
    if callable(rebuild):
        on = _timed(rebuild, repeat, collector=True)
        off = _timed(rebuild, repeat, collector=False)
        per_event = 1e6 / report.events
        text += (
            f"\n\n## read-model rebuild (Ledger.rebuild): {on * per_event:.0f} µs/event as run, "
            f"{off * per_event:.0f} µs/event with the collector off"
        )
    ledger.close()
    return text


def main() -> None:
    """Build the ledger and print both breakdowns."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--code", type=Path, help="measure the packages in this folder")
    args = parser.parse_args()
    if args.code is not None:
        machine.use_code(args.code.resolve())
    from ledger.service import Ledger
    from ledger.synthetic import synthetic_lines

    work = Path(tempfile.mkdtemp(prefix="policy-ledger-costs-"))
    try:
        ndjson = work / "events.ndjson"
        ndjson.write_bytes(b"\n".join(synthetic_lines(args.events, args.seed)) + b"\n")
        print(import_costs(ndjson, work, args.repeat))
        db = work / "ledger.db"
        ledger = Ledger.init(str(db), tz=TZ, user="bench")
        ledger.import_lines(ndjson.read_bytes().splitlines())
        ledger.close()
        print()
        print(rebuild_costs(db, args.repeat))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
