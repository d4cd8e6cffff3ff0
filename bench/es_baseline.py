"""The `eventsourcing` library storing the same events: `python es_baseline.py MODE NDJSON DB`.

Needs only the standard library and `eventsourcing` (a bench-only requirement:
it may live in a throwaway venv, see bench/README.md). Each NDJSON line
becomes one stored event of the aggregate named by its subject, carrying the
same type, occurred_at, data and sources; reading and parsing the file is
timed, as it is for the ledger's import.

MODE `application`: an `eventsourcing.application.Application` on its SQLite
persistence module; one aggregate per subject (its first line creates it, each
later line triggers an event), all saved with one `save()`: one transaction,
the library's idiomatic bulk path. MODE `recorder`: the lower-level
`SQLiteAggregateRecorder.insert_events` with the same payloads (JSON bytes),
one call: the library's floor, no domain objects.

Prints one JSON object: seconds, cpu_seconds, events, peak_rss_mb, version.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from importlib.metadata import version
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteDatastore


class Subject(Aggregate):
    """A ledger subject (commitment, budget line, actor, office) as an aggregate."""

    @staticmethod
    def create_id(name: str, **_: Any) -> UUID:
        return uuid5(NAMESPACE_URL, name)

    @event("Began")
    def __init__(
        self, name: str, type: str, occurred_at: str, data: dict[str, Any], sources: list[Any]
    ) -> None:
        self.name = name
        self.count = 1

    @event("Recorded")
    def record(self, type: str, occurred_at: str, data: dict[str, Any], sources: list[Any]) -> None:
        self.count += 1


def _lines(path: str) -> Any:
    with open(path, "rb") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def store_with_application(ndjson: str, db: str) -> int:
    """Aggregates in memory, saved at once through the Application."""
    app = Application(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": db})
    subjects: dict[str, Subject] = {}
    count = 0
    for raw in _lines(ndjson):
        payload = {k: raw[k] for k in ("type", "occurred_at", "data", "sources")}
        found = subjects.get(raw["subject"])
        if found is None:
            subjects[raw["subject"]] = Subject(name=raw["subject"], **payload)
        else:
            found.record(**payload)
        count += 1
    app.save(*subjects.values())
    app.close()
    return count


def store_with_recorder(ndjson: str, db: str) -> int:
    """The same payloads straight into the SQLite aggregate recorder, in one call."""
    datastore = SQLiteDatastore(db)
    recorder = SQLiteAggregateRecorder(datastore, "stored_events")
    recorder.create_table()
    versions: dict[str, int] = {}
    stored: list[StoredEvent] = []
    for raw in _lines(ndjson):
        subject = raw["subject"]
        versions[subject] = versions.get(subject, 0) + 1
        payload = {k: raw[k] for k in ("type", "occurred_at", "data", "sources")}
        stored.append(
            StoredEvent(
                originator_id=uuid5(NAMESPACE_URL, subject),
                originator_version=versions[subject],
                topic="policy_ledger:" + raw["type"],
                state=json.dumps(payload, separators=(",", ":")).encode("utf-8"),
            )
        )
    recorder.insert_events(stored)
    datastore.close()
    return len(stored)


def main() -> None:
    """Time one mode and print the result."""
    mode, ndjson, db = sys.argv[1:4]
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    store = {"application": store_with_application, "recorder": store_with_recorder}[mode]
    cpu = time.process_time()
    start = time.perf_counter()
    count = store(ndjson, db)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_seconds": cpu,
                "events": count,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "version": version("eventsourcing"),
            }
        )
    )


if __name__ == "__main__":
    main()
