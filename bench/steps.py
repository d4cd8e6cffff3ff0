"""The benchmark's steps as the parent process runs them: each returns table rows.

Every measured step runs in a fresh process (bench/child.py, or
bench/es_baseline.py under the interpreter that has eventsourcing); `show`
is timed from outside, as a user's shell would see it. A step that fails or
does not exist in this checkout gives a row that says so; the run goes on.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pg
from measure import (
    ES_BASELINE,
    STARTUP_ARGV,
    BenchError,
    Measurement,
    child_argv,
    cli_path,
    copy_sqlite,
    measure,
    middle_commitment,
    process_times,
    remove_sqlite,
    run_process,
    show_argv,
    subject_size,
)
from table import Row, memory_below, rate_at_least, speed_ratio_at_least, time_ratio_at_most

TZ = "Asia/Seoul"
TINY_EVENTS = 100
RAW_READ = "raw sqlite3 read + orjson.loads"


@dataclass
class Context:
    """What the steps share: sizes, the scratch folder, and the run's bookkeeping."""

    events: int
    work: Path
    repeat: int
    show_runs: int
    seed: int
    skip: set[str]
    log: Callable[[str], None]
    es_python: str | None = None
    discovered: dict[str, str | None] = field(default_factory=dict)
    measured: dict[str, Measurement] = field(default_factory=dict)
    first_run_seconds: float = 0.0  # one run of each measured step
    repeat_seconds: float = 0.0  # second and later runs
    constant_seconds: float = 0.0  # time that does not grow with the ledger (`show`)
    longest_step: float = 0.0

    @property
    def extra_events(self) -> int:
        """Events appended after the ledger for the catch-up step."""
        return max(100, self.events // 100)

    def path(self, name: str) -> Path:
        """A file in the scratch folder."""
        return self.work / name

    @property
    def ledger(self) -> Path:
        """The large ledger every read step measures."""
        return self.path("ledger.db")

    def measure(self, label: str, argv_for_run: Callable[[int], list[str]]) -> Measurement | None:
        """Measure one step and keep the run's bookkeeping."""
        self.log(f"{label} ...")
        found = measure(argv_for_run, repeat=self.repeat, log=self.log, label=label)
        if found is not None:
            self.first_run_seconds += found.runs[0]
            self.repeat_seconds += sum(found.runs[1:])
            self.longest_step = max(self.longest_step, found.runs[0])
        return found


def _write_lines(path: Path, lines: Iterator[bytes]) -> None:
    with path.open("wb") as out:
        for line in lines:
            out.write(line + b"\n")


def prepare(context: Context) -> None:
    """The synthetic NDJSON files, the tiny ledger, and which optional entry points exist."""
    from ledger.synthetic import synthetic_lines

    context.log(f"generating {context.events:,} + {context.extra_events:,} synthetic events ...")
    lines = synthetic_lines(context.events + context.extra_events, context.seed)
    _write_lines(context.path("events.ndjson"), itertools.islice(lines, context.events))
    _write_lines(context.path("extra.ndjson"), lines)
    _write_lines(context.path("tiny.ndjson"), synthetic_lines(TINY_EVENTS, context.seed))
    tiny = context.path("tiny.db")
    remove_sqlite(tiny)
    run_process(
        child_argv(
            "import", {"ndjson": str(context.path("tiny.ndjson")), "db": str(tiny), "tz": TZ}
        ),
        log=context.log,
    )
    context.discovered = run_process(child_argv("discover", {}), log=context.log)
    for bookkeeping in ("peak_rss_mb", "cpu_seconds"):
        context.discovered.pop(bookkeeping, None)
    context.log(f"optional entry points: {context.discovered}")


def _row(name: str, found: Measurement, **kwargs: object) -> Row:
    return Row(
        name=name,
        events=found.events,
        seconds=found.seconds,
        cpu_seconds=found.cpu_seconds,
        runs=len(found.runs),
        peak_rss_mb=found.peak_rss_mb,
        extra={"runs": found.runs, **{k: v for k, v in found.result.items() if k != "seconds"}},
        **kwargs,  # type: ignore[arg-type]
    )


def _against(row: Row, baseline: str, found: Measurement) -> Row:
    row.baseline = baseline
    row.baseline_seconds = found.seconds
    row.baseline_events = found.events
    row.extra["baseline_runs"] = found.runs
    row.extra["baseline_cpu_seconds"] = found.cpu_seconds
    return row


def _import_argv(context: Context, run: int) -> list[str]:
    target = context.ledger if run == 0 else context.path("import-again.db")
    remove_sqlite(target)
    args = {"ndjson": str(context.path("events.ndjson")), "db": str(target), "tz": TZ}
    return child_argv("import", args)


def imports(context: Context, es_problem: str | None) -> list[Row]:
    """Import into SQLite vs raw executemany and vs eventsourcing."""
    names = ("import vs sqlite3", "import vs eventsourcing app", "import vs eventsourcing recorder")
    if "import" in context.skip:
        context.log("building the ledger (import skipped: not measured) ...")
        run_process(_import_argv(context, 0), log=context.log)
        return [Row(name, note="skipped") for name in names]
    found = context.measure("import", lambda run: _import_argv(context, run))
    assert found is not None
    context.measured["import"] = found
    scratch = context.path("baseline.db")

    def executemany(_: int) -> list[str]:
        remove_sqlite(scratch)
        args = {"source": str(context.ledger), "db": str(scratch), "tz": TZ}
        return child_argv("sqlite-executemany", args)

    raw = context.measure("sqlite3 executemany", executemany)
    assert raw is not None
    rows = [
        _against(
            _row(names[0], found), "sqlite3 executemany, same rows (events, refs, tree), 1 txn", raw
        ).judge(speed_ratio_at_least(0.35))
    ]
    rows[0].extra["baseline_rows"] = raw.result.get("rows")
    for name, mode, label, target in (
        (names[1], "application", "eventsourcing Application, SQLite, 1 save", 5.0),
        (names[2], "recorder", "eventsourcing SQLite recorder, 1 insert_events", None),
    ):
        rows.append(_eventsourcing_row(context, found, name, mode, label, target, es_problem))
    return rows


def _eventsourcing_row(
    context: Context,
    found: Measurement,
    name: str,
    mode: str,
    label: str,
    target: float | None,
    es_problem: str | None,
) -> Row:
    judged = speed_ratio_at_least(target) if target else None
    if "eventsourcing" in context.skip:
        return Row(name, note="skipped").judge(judged)
    if context.es_python is None:
        return Row(name, baseline=label, note=es_problem or "not available").judge(judged)
    scratch = context.path(f"es-{mode}.db")
    ndjson = str(context.path("events.ndjson"))
    try:
        es = context.measure(
            f"eventsourcing {mode}",
            lambda _: [str(context.es_python), str(ES_BASELINE), mode, ndjson, str(scratch)],
        )
    except BenchError as exc:
        return Row(name, baseline=label, note=f"error: {exc}").judge(judged)
    assert es is not None
    row = _against(_row(name, found), label, es)
    row.extra["baseline_peak_rss_mb"] = es.peak_rss_mb
    return row.judge(judged)


def _read_step(context: Context, name: str, step: str, raw: Measurement | None) -> Row:
    try:
        found = context.measure(name, lambda _: child_argv(step, {"db": str(context.ledger)}))
    except BenchError as exc:
        return Row(name, note=f"error: {exc}")
    if found is None:
        return Row(name, note="not available")
    context.measured[step] = found
    row = _row(name, found)
    if found.result.get("entry_point"):
        row.note = str(found.result["entry_point"])
    return _against(row, RAW_READ, raw) if raw else row


def _catch_up(context: Context) -> Row:
    name = "incremental catch-up"
    if not (context.discovered.get("rebuild") and context.discovered.get("catch_up")):
        return Row(name, note="not available")

    def argv(_: int) -> list[str]:
        copy = copy_sqlite(context.ledger, context.path("catch-up.db"))
        return child_argv("catch-up", {"db": str(copy), "extra": str(context.path("extra.ndjson"))})

    try:
        found = context.measure(name, argv)
    except BenchError as exc:
        return Row(name, note=f"error: {exc}")
    if found is None:
        return Row(name, note="not available")
    row = _row(name, found)
    row.note = str(found.result.get("entry_point", ""))
    return row


def reads(context: Context) -> list[Row]:
    """Full rebuild, read-model rebuild, catch-up, verify, export, continuity."""
    wanted = [
        ("full rebuild (Ledger.state)", "rebuild", rate_at_least(100_000)),
        ("read-model rebuild", "read-model-rebuild", rate_at_least(100_000)),
        ("verify", "verify", rate_at_least(150_000)),
        ("export (the bytes, as the command writes them)", "export", None),
        (
            "continuity report",
            "continuity",
            rate_at_least(ONE_MILLION / 60, ">= 16,667 ev/s (1M in < 60 s)"),
        ),
    ]
    raw = None
    if any(step not in context.skip for _, step, _ in wanted):
        raw = context.measure(
            RAW_READ, lambda _: child_argv("raw-read", {"db": str(context.ledger)})
        )
    rows: list[Row] = []
    for name, step, target in wanted:
        if step in context.skip:
            rows.append(Row(name, note="skipped").judge(target))
        elif step == "read-model-rebuild" and not context.discovered.get("rebuild"):
            rows.append(Row(name, note="not available").judge(target))
        else:
            rows.append(_read_step(context, name, step, raw).judge(target))
        if step == "read-model-rebuild":
            skipped = "catch-up" in context.skip
            rows.append(
                Row("incremental catch-up", note="skipped") if skipped else _catch_up(context)
            )
    return rows


ONE_MILLION = 1_000_000


def _made_on(db: Path, subject: str) -> str:
    with sqlite3.connect(db) as conn:
        (occurred,) = conn.execute(
            "SELECT occurred_at FROM events WHERE subject = ? AND type = 'CommitmentMade'",
            (subject,),
        ).fetchone()
    conn.close()
    return str(occurred)


def _appender(targets: list[tuple[Path, str]]) -> Callable[[], None]:
    """Append one new assessment of each shown commitment (not timed)."""
    from ledger.service import Ledger

    counter = itertools.count(1)
    dates = {db: _made_on(db, subject) for db, subject in targets}

    def append() -> None:
        number = next(counter)
        for db, subject in targets:
            line = {
                "type": "AssessmentRecorded",
                "subject": subject,
                "occurred_at": dates[db],
                "data": {"assessor": "actor/watchdog", "rubric": "pledge-3", "rating": "fulfilled"},
                "sources": [{"url": f"https://watchdog.example/bench/{number}"}],
            }
            ledger = Ledger.open(str(db), user="bench")
            try:
                ledger.import_lines([json.dumps(line)])
            finally:
                ledger.close()

    return append


def _show_row(
    name: str,
    context: Context,
    times: list[list[tuple[float, float]]],
    baseline: str,
    events: int | None = None,
) -> Row:
    (large, large_cpu), (tiny, tiny_cpu) = ([list(c) for c in zip(*t, strict=True)] for t in times)
    context.constant_seconds += sum(large) + sum(tiny)
    return Row(
        name,
        events=events or context.events,
        seconds=statistics.median(large),
        cpu_seconds=statistics.median(large_cpu),
        runs=len(large),
        baseline=baseline,
        baseline_seconds=statistics.median(tiny),
        ratio_kind="time",
        paired_ratio=statistics.median(a / b for a, b in zip(large, tiny, strict=True)),
        extra={
            "runs": large,
            "baseline_runs": tiny,
            "cpu_runs": large_cpu,
            "baseline_cpu_runs": tiny_cpu,
            "baseline_cpu_seconds": statistics.median(tiny_cpu),
        },
    )


def shows(context: Context) -> list[Row]:
    """`policy-ledger show` on the large ledger vs a tiny one, and right after an append."""
    names = (
        "show commitment (CLI)",
        "show right after an append",
        "show on the tiny ledger vs start-up",
    )
    if "show" in context.skip:
        return [Row(name, note="skipped") for name in names]
    tiny = context.path("tiny.db")
    large_subject, tiny_subject = middle_commitment(context.ledger), middle_commitment(tiny)
    baseline = f"show on a {TINY_EVENTS}-event ledger"
    context.log(f"show {large_subject} vs {tiny_subject} ...")
    try:
        commands = [show_argv(context.ledger, large_subject), show_argv(tiny, tiny_subject)]
        times = process_times(commands, context.show_runs)
        rows = [_show_row(names[0], context, times, baseline).judge(time_ratio_at_most(1.3))]
        rows[0].extra.update(subject=large_subject, **subject_size(context.ledger, large_subject))
        pairs = [
            (copy_sqlite(context.ledger, context.path("show-large.db")), large_subject),
            (copy_sqlite(tiny, context.path("show-tiny.db")), tiny_subject),
        ]
        context.log("show right after an append ...")
        commands = [show_argv(db, subject) for db, subject in pairs]
        times = process_times(commands, context.show_runs, before_each=_appender(pairs))
        row = _show_row(names[1], context, times, baseline + ", after an append")
        rows.append(row.judge(time_ratio_at_most(1.3)))
        context.log("show on the tiny ledger vs Python start-up ...")
        times = process_times([show_argv(tiny, tiny_subject), STARTUP_ARGV], context.show_runs)
        startup = "python -c 'import click, sqlite3'"
        rows.append(_show_row(names[2], context, times, startup, events=TINY_EVENTS))
    except BenchError as exc:
        return [Row(name, note=f"error: {exc}") for name in names]
    return rows


# Each command of a day at the desk, on the tiny ledger, against the bare
# start-up: issue 5 wants a command on a small ledger to cost about that.
# The reads answer without the service on an SQLite file (ledger/store/quick.py);
# the write decodes with pydantic and appends through SQLAlchemy.
STARTUP_COMMANDS: dict[str, list[str]] = {
    "--help": ["--help"],
    "list": ["list"],
    "history": ["history", "{subject}"],
    "overdue": ["overdue"],
    "continuity": ["continuity"],
    "export": ["export"],
    "verify": ["verify"],
    "assess (a write)": [
        "assess",
        "{subject}",
        "--assessor",
        "actor/watchdog",
        "--rubric",
        "pledge-3",
        "--rating",
        "fulfilled",
        "--on",
        "{made_on}",
        "--source",
        "https://watchdog.example/bench/startup",
    ],
}


def startups(context: Context) -> list[Row]:
    """Each of STARTUP_COMMANDS on the tiny ledger vs `python -c 'import click, sqlite3'`."""
    names = [f"start-up: {name} ({TINY_EVENTS} events) vs bare" for name in STARTUP_COMMANDS]
    if "startup" in context.skip:
        return [Row(name, note="skipped") for name in names]
    tiny = context.path("tiny.db")
    subject = middle_commitment(tiny)
    fields = {"subject": subject, "made_on": _made_on(tiny, subject)}
    startup = "python -c 'import click, sqlite3'"
    db = context.path("startup.db")

    def fresh() -> None:  # the write appends: each run starts from the same ledger
        copy_sqlite(tiny, db)

    rows = []
    for name, (command, words) in zip(names, STARTUP_COMMANDS.items(), strict=True):
        context.log(f"{name} ...")
        try:
            argv = [cli_path(), "--db", str(db), *(word.format(**fields) for word in words)]
            fresh()  # for the warm-up run
            times = process_times([argv, STARTUP_ARGV], context.show_runs, before_each=fresh)
        except BenchError as exc:
            rows.append(Row(name, note=f"error: {exc}"))
            continue
        row = _show_row(name, context, times, startup, events=TINY_EVENTS)
        row.extra["command"] = command
        rows.append(row)
    return rows


def memory(context: Context) -> list[Row]:
    """Peak resident memory of the import and verify processes."""
    rows = []
    for step in ("import", "verify"):
        found = context.measured.get(step)
        row = Row(f"peak memory: {step}", note="skipped" if found is None else "")
        if found is not None:
            row.events, row.peak_rss_mb = found.events, found.peak_rss_mb
        rows.append(row.judge(memory_below(300)))
    return rows


def postgres(context: Context, url: str, named: bool, info: dict[str, object]) -> list[Row]:
    """Import into PostgreSQL vs psycopg COPY of the same rows, each in a fresh schema."""
    name = "PostgreSQL import vs COPY"
    target = speed_ratio_at_least(0.5)
    if "postgres" in context.skip:
        return [Row(name, note="skipped").judge(target)]
    version, problem = pg.probe(url)
    info["postgresql"] = version
    if problem:
        if named:
            context.log(f"warning: PostgreSQL at {url} did not answer: {problem}")
        return [Row(name, note=f"not available: {problem}").judge(target)]
    schemas = pg.Schemas(url)
    sources: list[str] = []
    ndjson = str(context.path("events.ndjson"))

    def import_argv(_: int) -> list[str]:
        sources.append(schemas.fresh("import"))
        return child_argv("import", {"ndjson": ndjson, "db": sources[-1], "tz": TZ})

    def copy_argv(_: int) -> list[str]:
        args = {"source": sources[0], "db": schemas.fresh("copy"), "tz": TZ}
        return child_argv("postgres-copy", args)

    try:
        found = context.measure("PostgreSQL import", import_argv)
        copied = context.measure("psycopg COPY", copy_argv)
    except BenchError as exc:
        return [Row(name, note=f"error: {exc}").judge(target)]
    finally:
        schemas.drop_all()
    assert found is not None and copied is not None
    row = _against(_row(name, found), "psycopg COPY, same rows (events, refs, tree), 1 txn", copied)
    row.extra["baseline_rows"] = copied.result.get("rows")
    return [row.judge(target)]
