"""The export document: deterministic bytes, the same on both databases, valid against the schema."""

from __future__ import annotations

import copy

import jsonschema
import orjson
import pytest

from cli.commands_demo import example_lines
from ledger.export import export_bytes, export_document, export_schema
from tests.conftest import Clock


def _export(ledger, **view) -> bytes:
    return export_bytes(export_document(ledger.events(), ledger.view(**view)))


def _without_root(data: bytes) -> dict:
    document = orjson.loads(data)
    document["ledger"].pop("root")
    return document


def test_export_is_byte_identical_across_runs(ledger):
    ledger.import_lines(example_lines())
    assert _export(ledger) == _export(ledger)


def test_export_bytes_are_sorted_and_newline_terminated(ledger):
    ledger.import_lines(example_lines())
    data = _export(ledger)
    assert data.endswith(b"}\n")
    document = orjson.loads(data)
    assert list(document) == sorted(document)
    assert list(document["commitments"]) == sorted(document["commitments"])


def test_export_is_the_same_on_sqlite_and_postgresql(make_ledger, sqlite_target, pg_target):
    on_sqlite = make_ledger(sqlite_target, clock=Clock())
    on_postgres = make_ledger(pg_target, clock=Clock())
    on_sqlite.import_lines(example_lines())
    on_postgres.import_lines(example_lines())
    as_of = {"as_of": "2026-01-01"}
    # Same clock readings: even the root agrees, since recorded_at is the same.
    assert _export(on_sqlite, **as_of) == _export(on_postgres, **as_of)


def test_export_differs_across_databases_only_in_root_when_recorded_at_differs(
    make_ledger, sqlite_target, pg_target
):
    on_sqlite = make_ledger(sqlite_target, clock=Clock())
    later = Clock()
    later.set(later.now.replace(year=2027))
    on_postgres = make_ledger(pg_target, clock=later)
    on_sqlite.import_lines(example_lines())
    on_postgres.import_lines(example_lines())
    a, b = _export(on_sqlite, as_of="2026-01-01"), _export(on_postgres, as_of="2026-01-01")
    assert a != b
    assert _without_root(a) == _without_root(b)


def test_export_validates_against_the_shipped_schema(ledger):
    ledger.import_lines(example_lines())
    jsonschema.Draft202012Validator.check_schema(export_schema())
    for view in ({}, {"as_of": "2025-05-01"}, {"known_at": "2020-01-01"}):
        jsonschema.validate(orjson.loads(_export(ledger, **view)), export_schema())


def test_schema_rejects_a_float_amount(ledger):
    ledger.import_lines(example_lines())
    document = orjson.loads(_export(ledger))
    broken = copy.deepcopy(document)
    target = next(iter(next(iter(broken["commitments"].values()))["targets"].values()))
    target["quantity"]["amount"] = 1.5
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, export_schema())


def test_export_root_is_the_merkle_root_of_the_stored_leaves(ledger):
    from ledger.merkle import root_of

    ledger.import_lines(example_lines())
    document = orjson.loads(_export(ledger))
    size, root = root_of(e.leaf_hash for e in ledger.events())
    assert document["ledger"]["size"] == size == ledger.store.head()
    assert document["ledger"]["root"] == root


def test_export_known_at_covers_only_the_log_recorded_by_then(ledger, clock):
    lines = example_lines()
    ledger.import_lines(lines[:10])
    cut = clock.now
    ledger.import_lines(lines[10:])
    document = orjson.loads(_export(ledger, known_at=cut.isoformat()))
    assert document["ledger"]["size"] == 10
    assert len(document["commitments"]) < len(orjson.loads(_export(ledger))["commitments"])


VIEWS = ["now", "as of", "known at", "both", "known before anything"]


def view_named(ledger, which):
    """One of VIEWS; "known at" is the moment the 21st event was recorded."""
    second = next(e for e in ledger.events() if e.position == 21).recorded_at
    options = {
        "now": {},
        "as of": {"as_of": "2025-06-04"},
        "known at": {"known_at": second},
        "both": {"as_of": "2025-01-01", "known_at": second},
        "known before anything": {"known_at": "2020-01-01"},
    }[which]
    return ledger.view(**options)


@pytest.mark.parametrize("which", VIEWS)
def test_the_export_read_from_the_store_is_the_reference_export(any_ledger, which):
    # Ledger.export (the command's) reads size and root from the stored tree and
    # state and continuity by their own streaming paths; export_document holds
    # every event and computes them all from it.
    lines = example_lines()
    for chunk in (lines[:20], lines[20:35], lines[35:]):
        any_ledger.import_lines(chunk)  # three record times, so known_at cuts the log
    view = view_named(any_ledger, which)
    reference = export_bytes(export_document(any_ledger.events(), view, None))
    exported = any_ledger.export(view)
    assert export_bytes(exported) == reference
    expected_size = {"known at": 35, "both": 35, "known before anything": 0}.get(which, 48)
    assert exported["ledger"]["size"] == expected_size
