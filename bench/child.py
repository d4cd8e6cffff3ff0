"""One measured step, run in a fresh process: `python bench/child.py STEP JSON-ARGS`.

Prints one JSON object on its last line: `seconds` (the timed part only),
`events`, `peak_rss_mb` (this process's peak resident set, which includes the
interpreter and the imports, plus the largest peak of the workers it started)
and whatever else the step reports. Setup that is
not part of the step (creating an empty schema, loading baseline rows) happens
before the clock starts.
"""

from __future__ import annotations

import importlib
import json
import resource
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Where persisted read models may appear (issue 5). The first name found is
# used: a Ledger method is called without arguments, a module function with
# the store. Add names here when the read models land under other ones.
READ_MODEL_MODULES = (
    "ledger.read_models",
    "ledger.readmodels",
    "ledger.projections.read_models",
    "ledger.store.read_models",
)
REBUILD_NAMES = ("rebuild_read_models", "rebuild")
CATCH_UP_NAMES = ("catch_up_read_models", "catch_up", "refresh_read_models", "refresh")

STORE_TABLES = ("events", "event_refs", "merkle_nodes")


def _peak_rss_mb() -> float:
    """This process's peak plus the largest peak of the workers it started and ended.

    The import's decoding worker and verify's second process run beside this
    one, so their memory counts towards the step's (KiB on Linux).
    """
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + workers) / 1024


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# CPU seconds of the timed block: this process and the workers it starts (a
# PostgreSQL server's work is not in it). Less moved by other load on a
# shared machine than wall time.
_CPU_SECONDS: list[float] = []


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    cpu, workers = time.process_time(), _children_cpu()
    start = time.perf_counter()
    value = action()
    seconds = time.perf_counter() - start
    _CPU_SECONDS.append(time.process_time() - cpu + _children_cpu() - workers)
    return seconds, value


def _discover(names: tuple[str, ...]) -> tuple[str, Callable[[Any], Any]] | None:
    """(label, call(ledger)) for the first read-model entry point that exists."""
    from ledger.service import Ledger

    for name in names:
        if callable(getattr(Ledger, name, None)):
            return f"Ledger.{name}", lambda ledger, name=name: getattr(ledger, name)()
    for module_name in READ_MODEL_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        for name in names:
            function = getattr(module, name, None)
            if callable(function):
                return f"{module_name}.{name}", lambda ledger, f=function: f(ledger.store)
    return None


def discover(_: dict[str, Any]) -> dict[str, Any]:
    """Which optional entry points this checkout has."""
    found = {
        "rebuild": _discover(REBUILD_NAMES),
        "catch_up": _discover(CATCH_UP_NAMES),
    }
    import ledger

    result: dict[str, Any] = {key: value[0] if value else None for key, value in found.items()}
    result["code"] = str(Path(ledger.__file__).resolve().parents[1])
    return result


def import_ledger(args: dict[str, Any]) -> dict[str, Any]:
    """Ledger.import_lines of the NDJSON file into a fresh ledger (SQLite file or URL)."""
    from ledger.service import Ledger

    ledger = Ledger.init(args["db"], tz=args["tz"], user="bench")
    with open(args["ndjson"], "rb") as lines:
        seconds, result = _timed(lambda: ledger.import_lines(lines))
    ledger.close()
    return {"seconds": seconds, "events": len(result.added)}


def _store_rows(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    # rowid order is the order the store inserted them in.
    return {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in STORE_TABLES}


def sqlite_executemany(args: dict[str, Any]) -> dict[str, Any]:
    """Raw sqlite3 executemany of the rows the store wrote, into the store's own empty schema."""
    from ledger.service import Ledger

    Ledger.init(args["db"], tz=args["tz"], user="bench").close()  # same tables, indexes, triggers
    with sqlite3.connect(args["source"]) as source:
        rows = _store_rows(source)
    conn = sqlite3.connect(args["db"], isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")  # as the store's connections do
    conn.execute("PRAGMA synchronous=NORMAL")

    def insert() -> None:
        conn.execute("BEGIN IMMEDIATE")
        for table, table_rows in rows.items():
            marks = ", ".join("?" * len(table_rows[0])) if table_rows else ""
            if table_rows:
                conn.executemany(f"INSERT INTO {table} VALUES ({marks})", table_rows)
        conn.execute("COMMIT")

    seconds, _ = _timed(insert)
    conn.close()
    return {
        "seconds": seconds,
        "events": len(rows["events"]),
        "rows": {t: len(r) for t, r in rows.items()},
    }


def raw_read(args: dict[str, Any]) -> dict[str, Any]:
    """Raw sqlite3 read of every event row in position order, with its JSON columns decoded."""
    import orjson

    conn = sqlite3.connect(args["db"])

    def read() -> int:
        count = 0
        cursor = conn.execute("SELECT * FROM events ORDER BY position")
        names = [d[0] for d in cursor.description]
        data, sources = names.index("data"), names.index("sources")
        for row in cursor:
            orjson.loads(row[data])
            orjson.loads(row[sources])
            count += 1
        return count

    seconds, count = _timed(read)
    conn.close()
    return {"seconds": seconds, "events": count}


def _open(db: str) -> Any:
    from ledger.service import Ledger

    return Ledger.open(db, user="bench")


def rebuild(args: dict[str, Any]) -> dict[str, Any]:
    """The whole derived state from every stored event: `Ledger.state(view)`."""
    ledger = _open(args["db"])
    view = ledger.view()
    head = ledger.store.head()
    seconds, state = _timed(lambda: ledger.state(view))
    ledger.close()
    return {
        "seconds": seconds,
        "events": head,
        "commitments": len(state.commitments),
        "budgets": len(state.budgets),
    }


def read_model_rebuild(args: dict[str, Any]) -> dict[str, Any]:
    """The persisted read models rebuilt from scratch, when this checkout has them."""
    found = _discover(REBUILD_NAMES)
    if found is None:
        return {"not_available": True}
    label, call = found
    ledger = _open(args["db"])
    head = ledger.store.head()
    seconds, _ = _timed(lambda: call(ledger))
    ledger.close()
    return {"seconds": seconds, "events": head, "entry_point": label}


def catch_up(args: dict[str, Any]) -> dict[str, Any]:
    """Read models rebuilt, then `extra` events appended, then the catch-up timed."""
    rebuild_found, found = _discover(REBUILD_NAMES), _discover(CATCH_UP_NAMES)
    if found is None or rebuild_found is None:
        return {"not_available": True}
    ledger = _open(args["db"])
    rebuild_found[1](ledger)
    with open(args["extra"], "rb") as lines:
        added = len(ledger.import_lines(lines).added)
    label, call = found
    seconds, _ = _timed(lambda: call(ledger))
    ledger.close()
    return {"seconds": seconds, "events": added, "entry_point": label}


def verify(args: dict[str, Any]) -> dict[str, Any]:
    """`integrity.verify_ledger` over the whole log."""
    try:
        from ledger.verification import verify_ledger
    except ImportError:  # code measured from before verify had its own module
        from ledger.integrity import verify_ledger  # type: ignore[attr-defined,no-redef]

    ledger = _open(args["db"])
    seconds, report = _timed(lambda: verify_ledger(ledger.store))
    ledger.close()
    if not report.intact:
        raise SystemExit(f"verify found a problem: {report.problem}")
    return {"seconds": seconds, "events": report.checked}


def export(args: dict[str, Any]) -> dict[str, Any]:
    """The export bytes of the whole ledger, as `policy-ledger export` makes them.

    `Ledger.export_stream` (bytes written as the state is read; here counted
    and dropped, as a file would take them), else `Ledger.export`, else
    `export_document` for code from before either.
    """
    from ledger.export import export_bytes, export_document

    ledger = _open(args["db"])
    view = ledger.view()
    head = ledger.store.head()
    if callable(getattr(ledger, "export_stream", None)):

        def written() -> int:
            return sum(len(chunk) for chunk in ledger.export_stream(view).chunks)

        seconds, size = _timed(written)
    elif callable(getattr(ledger, "export", None)):
        seconds, data = _timed(lambda: export_bytes(ledger.export(view)))
        size = len(data)
    else:
        seconds, data = _timed(lambda: export_bytes(export_document(ledger.events(), view)))
        size = len(data)
    ledger.close()
    return {"seconds": seconds, "events": head, "bytes": size}


def continuity(args: dict[str, Any]) -> dict[str, Any]:
    """The continuity report over the whole ledger, read from the store (`continuity_from_store`).

    Falls back to `continuity_report(ledger.events(), view)` for code that has no such helper.
    """
    ledger = _open(args["db"])
    view = ledger.view()
    head = ledger.store.head()
    try:
        from ledger.readside import continuity_from_store
    except ImportError:
        from ledger.continuity import continuity_report

        seconds, report = _timed(lambda: continuity_report(ledger.events(), view))
    else:
        seconds, report = _timed(lambda: continuity_from_store(ledger.store, view))
    ledger.close()
    transitions = sum(len(t) for t in report.offices.values())
    return {"seconds": seconds, "events": head, "transitions": transitions}


def postgres_copy(args: dict[str, Any]) -> dict[str, Any]:
    """psycopg COPY of the rows the store wrote on PostgreSQL, into the store's own empty schema."""
    import psycopg
    from pg import libpq

    from ledger.service import Ledger

    Ledger.init(args["db"], tz=args["tz"], user="bench").close()  # same tables, indexes, triggers
    with psycopg.connect(libpq(args["source"])) as source:
        order = {"events": "position", "event_refs": "position, ref", "merkle_nodes": "level, idx"}
        rows = {
            t: source.execute(f"SELECT * FROM {t} ORDER BY {order[t]}").fetchall() for t in order
        }
    conn = psycopg.connect(libpq(args["db"]))

    def copy() -> None:
        with conn.transaction(), conn.cursor() as cursor:
            for table, table_rows in rows.items():
                with cursor.copy(f"COPY {table} FROM STDIN") as stream:
                    for row in table_rows:
                        stream.write_row(row)

    seconds, _ = _timed(copy)
    conn.close()
    return {
        "seconds": seconds,
        "events": len(rows["events"]),
        "rows": {t: len(r) for t, r in rows.items()},
    }


STEPS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "discover": discover,
    "import": import_ledger,
    "sqlite-executemany": sqlite_executemany,
    "raw-read": raw_read,
    "rebuild": rebuild,
    "read-model-rebuild": read_model_rebuild,
    "catch-up": catch_up,
    "verify": verify,
    "export": export,
    "continuity": continuity,
    "postgres-copy": postgres_copy,
}


def main() -> None:
    """Run the step named on the command line and print its result as JSON."""
    step, args = sys.argv[1], json.loads(sys.argv[2])
    result = STEPS[step](args)
    result["peak_rss_mb"] = _peak_rss_mb()
    result["cpu_seconds"] = sum(_CPU_SECONDS) if _CPU_SECONDS else None
    print(json.dumps(result))


if __name__ == "__main__":
    main()
