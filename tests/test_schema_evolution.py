"""A ledger written by an earlier release still reads, verifies and exports the same bytes."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from cli.app import cli
from ledger import integrity, upcasting, verification
from ledger.errors import LedgerError
from ledger.export import event_line
from ledger.service import Ledger
from tests.builders import actor, lines

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "ledger-v1"
AS_OF = "2026-11-28"


@pytest.fixture
def v1_copy(tmp_path) -> str:
    """A copy of the release-0.1 ledger (opening may add tables; the original stays untouched)."""
    target = tmp_path / "ledger-v1.db"
    shutil.copyfile(FIXTURE / "ledger.db", target)
    return str(target)


def test_the_v1_ledger_still_verifies_with_its_checkpoint(v1_copy):
    ledger = Ledger.open(v1_copy)
    report = verification.verify_ledger(ledger.store)
    ledger.close()
    assert report.intact and report.checked == 48 and report.checkpoints == 1


def test_the_v1_ledger_exports_its_events_byte_for_byte(v1_copy):
    ledger = Ledger.open(v1_copy)
    events = b"".join(event_line(e) for e in ledger.events())
    ledger.close()
    assert events == (FIXTURE / "events.ndjson").read_bytes()


def test_the_v1_ledger_exports_its_state_to_the_same_bytes(v1_copy):
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", v1_copy, "export", "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == (FIXTURE / "export.json").read_bytes()


def test_the_v1_ledger_reads_through_the_read_models_too(v1_copy):
    runner = CliRunner()
    shown = runner.invoke(cli, ["--db", v1_copy, "show", "commitment/kr-ai-gpus-10000", "--json"])
    assert shown.exit_code == 0, shown.output
    assert orjson.loads(shown.output)["targets"]["gpus"]["quantity"] == {
        "amount": "10000",
        "unit": "GPU",
    }


def test_a_mirror_of_the_v1_events_has_the_same_root(tmp_path, v1_copy):
    mirror = Ledger.init(str(tmp_path / "mirror.db"), tz="Asia/Seoul")
    mirror.import_mirror((FIXTURE / "events.ndjson").read_bytes().splitlines())
    original = Ledger.open(v1_copy)
    assert integrity.tree_root(mirror.store) == integrity.tree_root(original.store)
    mirror.close()
    original.close()


def _names_upcaster(event_type, data):
    """A schema-2 release that gives every actor a names map (an example of a shape change)."""
    if event_type == "ActorRegistered" and "names" not in data:
        return {**data, "names": {"und": data["name"]}}
    return data


def test_a_later_release_reads_v1_events_through_its_upcasters(v1_copy, monkeypatch):
    monkeypatch.setattr(upcasting, "CURRENT_SCHEMA", 2)
    monkeypatch.setitem(upcasting.UPCASTERS, 1, _names_upcaster)
    ledger = Ledger.open(v1_copy)
    ledger.rebuild()
    state = ledger.subject_state("actor/national-assembly", ledger.view())
    assert state["names"].get("und") == state["name"] or "und" not in state["names"]
    assert verification.verify_ledger(
        ledger.store
    ).intact  # hashes use the stored form, not the upcast one
    ledger.close()


def test_events_written_under_a_later_schema_carry_it_in_their_hash(v1_copy, monkeypatch):
    monkeypatch.setattr(upcasting, "CURRENT_SCHEMA", 2)
    ledger = Ledger.open(v1_copy)
    added = ledger.import_lines(lines(actor("new-actor"))).added[0]
    stored = next(e for e in ledger.events() if e.id == added.id)
    assert stored.schema == 2 and stored.to_json()["schema"] == 2
    assert verification.verify_ledger(ledger.store).intact
    ledger.close()
    monkeypatch.setattr(upcasting, "CURRENT_SCHEMA", 1)  # an older release meets the newer event
    older = Ledger.open(v1_copy)
    with pytest.raises(LedgerError, match="upgrade policy-ledger"):
        older.subject_state("actor/new-actor", older.view(as_of="2030-01-01"))
    older.close()


def _renaming_upcaster(event_type, data):
    """A schema-2 release whose upcaster leaves a mark every reader must show."""
    if event_type == "ActorRegistered":
        return {**data, "name": data["name"] + " (v2)"}
    if event_type == "CommitmentMade":
        return {**data, "title": data["title"] + " (v2)"}
    return data


def test_every_reader_of_v1_events_applies_the_upcasters(v1_copy, monkeypatch):
    # The bulk readers (Ledger.state, the read models, continuity) fold stored
    # data without sources: they must upcast it as the typed path does.
    monkeypatch.setattr(upcasting, "CURRENT_SCHEMA", 2)
    monkeypatch.setitem(upcasting.UPCASTERS, 1, _renaming_upcaster)
    ledger = Ledger.open(v1_copy)
    try:
        view = ledger.view(as_of="2030-01-01")
        replayed = ledger.state(view).to_json()
        assert all(a["name"].endswith(" (v2)") for a in replayed["actors"].values())
        assert all(c["title"].endswith(" (v2)") for c in replayed["commitments"].values())
        ledger.rebuild()
        present = ledger.subject_state("actor/national-assembly", ledger.view())
        assert present["name"].endswith(" (v2)")
        past = ledger.subject_state("actor/national-assembly", view)
        assert past["name"].endswith(" (v2)")
        report = ledger.continuity(view).to_json()
        followed = [
            commitment
            for office in report.values()
            for transition in office["transitions"]
            for commitment in transition["commitments"]
        ]
        assert followed and all(c["title"].endswith(" (v2)") for c in followed)
    finally:
        ledger.close()
