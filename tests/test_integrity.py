"""Tamper evidence: verify, proofs, checkpoints and mirrors on real ledgers."""

from __future__ import annotations

import json
import sqlite3
import tracemalloc
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from cli.app import cli
from cli.commands_demo import example_lines
from ledger import integrity, verification
from ledger.checkpoint import generate_key, parse_signer, parse_verifier
from ledger.errors import InvalidEvent, LedgerError
from ledger.export import event_line, export_bytes, export_document
from ledger.merkle import root_of, verify_consistency, verify_inclusion
from ledger.service import Ledger
from ledger.synthetic import synthetic_lines
from tests.conftest import Clock


@pytest.fixture
def example(ledger):
    ledger.import_lines(example_lines())
    return ledger


def _tamper(path: str, *statements: str) -> None:
    """Edit the SQLite file behind the program's back, triggers dropped first."""
    conn = sqlite3.connect(path)
    for trigger in [
        r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    ]:
        conn.execute(f"DROP TRIGGER {trigger}")
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


def _verify(target: str):
    ledger = Ledger.open(target)
    try:
        return verification.verify_ledger(ledger.store)
    finally:
        ledger.close()


def test_an_untouched_ledger_verifies_with_the_export_root(example):
    report = verification.verify_ledger(example.store)
    assert report.intact and report.checked == 48
    assert report.root == export_document(example.events(), example.view())["ledger"]["root"]


@pytest.mark.parametrize("position", [1, 17, 20, 48])
def test_one_changed_byte_of_event_data_is_found_at_its_position(example, sqlite_target, position):
    example.close()
    # The 11th character of the stored data becomes 'Z': one byte, whatever the event.
    _tamper(
        sqlite_target,
        f"UPDATE events SET data = substr(data, 1, 10) || 'Z' || substr(data, 12) "
        f"WHERE position = {position}",
    )
    report = _verify(sqlite_target)
    assert (report.intact, report.position) == (False, position)
    assert "altered" in report.problem


def test_a_deleted_row_is_named_as_missing(example, sqlite_target):
    example.close()
    _tamper(sqlite_target, "DELETE FROM events WHERE position = 30")
    report = _verify(sqlite_target)
    assert (report.intact, report.position) == (False, 30)
    assert "missing" in report.problem


def test_deleting_the_last_row_is_caught_by_the_tree(example, sqlite_target):
    example.close()
    _tamper(sqlite_target, "DELETE FROM events WHERE position = 48")
    report = _verify(sqlite_target)
    assert (report.intact, report.position) == (False, 48)


def test_two_rows_with_swapped_positions_are_caught_at_the_first(example, sqlite_target):
    example.close()
    _tamper(
        sqlite_target,
        "UPDATE events SET position = -1 WHERE position = 12",
        "UPDATE events SET position = 12 WHERE position = 13",
        "UPDATE events SET position = 13 WHERE position = -1",
    )
    report = _verify(sqlite_target)
    assert (report.intact, report.position) == (False, 12)


def test_a_consistent_rewrite_is_caught_by_a_stored_checkpoint(example, sqlite_target):
    """An operator who recomputes the leaf hash and the tree still contradicts the checkpoint."""
    integrity.make_checkpoint(example.store, example.origin, example.clock())
    victim = next(e for e in example.events() if e.position == 5)
    forged_data = {**victim.data, "name": "Someone Else"}
    forged = type(victim)(**{**victim.__dict__, "data": forged_data, "_event": []})
    forged_leaf = forged.restamped(victim.recorded_at).leaf_hash
    example.close()
    _tamper(
        sqlite_target,
        f"UPDATE events SET data = '{orjson.dumps(forged_data).decode()}', leaf_hash = '{forged_leaf}' WHERE position = 5",
        "DELETE FROM merkle_nodes",
    )
    reopened = Ledger.init(sqlite_target)  # init back-fills the tree from the forged rows
    report = verification.verify_ledger(reopened.store)
    reopened.close()
    assert not report.intact
    assert "checkpoint" in report.problem


def test_verify_cli_exits_1_naming_the_position(example, sqlite_target):
    example.close()
    _tamper(sqlite_target, "DELETE FROM events WHERE position = 7")
    result = CliRunner().invoke(cli, ["--db", sqlite_target, "verify"])
    assert result.exit_code == 1
    assert "position 7" in result.output and "Traceback" not in result.output


def test_inclusion_proofs_of_every_event_verify_with_rfc9162(example):
    size, root = integrity.tree_root(example.store)
    for stored in example.events():
        proof = integrity.prove_inclusion(example.store, stored.id)
        assert proof["root"] == root.hex()
        assert verify_inclusion(
            bytes.fromhex(stored.leaf_hash),
            stored.position - 1,
            size,
            [bytes.fromhex(p) for p in proof["path"]],
            root,
        )
    old = integrity.prove_inclusion(example.store, stored.id, size=48)
    assert integrity.check_inclusion(old)


def test_consistency_proofs_verify_for_every_older_size(example):
    for old in range(0, 49):
        proof = integrity.prove_consistency(example.store, old)
        assert verify_consistency(
            proof["old_size"],
            proof["new_size"],
            bytes.fromhex(proof["old_root"]),
            bytes.fromhex(proof["new_root"]),
            [bytes.fromhex(p) for p in proof["proof"]],
        )


def test_the_stored_tree_root_equals_the_streamed_root(example):
    assert (
        integrity.tree_root(example.store)[1].hex()
        == root_of(e.leaf_hash for e in example.events())[1]
    )


def test_proofs_refuse_sizes_the_ledger_does_not_have(example):
    with pytest.raises(InvalidEvent):
        integrity.prove_consistency(example.store, 10, 99)
    first = next(iter(example.events()))
    with pytest.raises(LedgerError):
        integrity.prove_inclusion(example.store, "00000000-0000-0000-0000-000000000000")
    assert integrity.prove_inclusion(example.store, first.id, size=1)["path"] == []


def test_signed_checkpoint_verifies_and_fails_with_another_key_or_altered_fields(example):
    private, public = generate_key(example.origin)
    made = integrity.make_checkpoint(
        example.store, example.origin, example.clock(), parse_signer(private)
    )
    result = integrity.check_published(example.store, made["text"], parse_verifier(public))
    assert result["size"] == 48 and result["consistent"]
    _, other_public = generate_key(example.origin)
    with pytest.raises(LedgerError):
        integrity.check_published(example.store, made["text"], parse_verifier(other_public))
    lines = made["text"].split("\n")
    altered_size = "\n".join([lines[0], "47", *lines[2:]])
    with pytest.raises(LedgerError):
        integrity.check_published(example.store, altered_size, parse_verifier(public))
    altered_root = made["text"].replace(lines[2], "A" * 43 + "=")
    with pytest.raises(LedgerError):
        integrity.check_published(example.store, altered_root, parse_verifier(public))


def test_a_published_checkpoint_of_a_smaller_tree_still_verifies_after_growth(ledger):
    lines = example_lines()
    ledger.import_lines(lines[:20])
    private, public = generate_key(ledger.origin)
    made = integrity.make_checkpoint(
        ledger.store, ledger.origin, ledger.clock(), parse_signer(private)
    )
    ledger.import_lines(lines[20:])
    result = integrity.check_published(ledger.store, made["text"], parse_verifier(public))
    assert (result["size"], result["current_size"]) == (20, 48)
    assert verification.verify_ledger(ledger.store).checkpoints == 1


def test_checkpoint_and_verify_commands_with_keys(example, sqlite_target, tmp_path):
    example.close()
    runner = CliRunner()
    prefix = str(tmp_path / "desk")
    assert runner.invoke(cli, ["--db", sqlite_target, "keygen", "-o", prefix]).exit_code == 0
    assert oct(Path(prefix + ".key").stat().st_mode & 0o777) == "0o600"
    made = runner.invoke(
        cli,
        [
            "--db",
            sqlite_target,
            "checkpoint",
            "--sign",
            prefix + ".key",
            "-o",
            str(tmp_path / "cp.txt"),
        ],
    )
    assert made.exit_code == 0 and "\n48\n" in made.output and "— " in made.output
    ok = runner.invoke(
        cli,
        [
            "--db",
            sqlite_target,
            "verify",
            "--checkpoint",
            str(tmp_path / "cp.txt"),
            "--key",
            prefix + ".pub",
            "--json",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert orjson.loads(ok.output)["published_checkpoint"]["size"] == 48
    _, other = generate_key("someone-else")
    (tmp_path / "other.pub").write_text(other)
    bad = runner.invoke(
        cli,
        [
            "--db",
            sqlite_target,
            "verify",
            "--checkpoint",
            str(tmp_path / "cp.txt"),
            "--key",
            str(tmp_path / "other.pub"),
        ],
    )
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    proof = runner.invoke(cli, ["--db", sqlite_target, "prove", "consistency", "10", "--json"])
    assert integrity.check_consistency(orjson.loads(proof.output))


# --- mirrors ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_source(tmp_path_factory):
    """A 10,000-event ledger and its export-events lines."""
    path = str(tmp_path_factory.mktemp("source") / "source.db")
    source = Ledger.init(path, tz="Asia/Seoul", clock=Clock())
    source.import_lines(list(synthetic_lines(10_000)))
    lines = [event_line(e) for e in source.events()]
    export = export_bytes(export_document(source.events(), source.view(as_of="2026-01-01")))
    root = integrity.tree_root(source.store)[1]
    source.close()
    return lines, export, root


def test_a_mirror_of_10000_events_reproduces_the_root_and_the_export(
    big_source, make_ledger, tmp_path
):
    lines, export, root = big_source
    mirror = make_ledger(str(tmp_path / "mirror.db"))
    result = mirror.import_mirror(lines)
    assert len(result.added) == 10_000
    assert integrity.tree_root(mirror.store)[1] == root
    assert export_bytes(export_document(mirror.events(), mirror.view(as_of="2026-01-01"))) == export
    assert verification.verify_ledger(mirror.store).intact


def _refused(make_ledger, tmp_path, lines) -> str:
    mirror = make_ledger(str(tmp_path / "refused.db"))
    with pytest.raises(LedgerError) as error:
        mirror.import_mirror(lines)
    assert mirror.store.head() == 0
    return str(error.value)


def test_a_mirror_file_with_one_altered_event_is_refused(big_source, make_ledger, tmp_path):
    lines = list(big_source[0])
    lines[5000] = (
        lines[5000].replace(b"budget review", b"budget rev1ew")
        if b"budget review" in lines[5000]
        else lines[5000].replace(b'"recorded_by":"', b'"recorded_by":"x')
    )
    assert "altered" in _refused(make_ledger, tmp_path, lines)


@pytest.mark.parametrize("damage", ["missing", "duplicated", "reordered"])
def test_a_mirror_file_with_a_missing_duplicated_or_reordered_event_is_refused(
    big_source, make_ledger, tmp_path, damage
):
    lines = list(big_source[0][:300])
    if damage == "missing":
        del lines[100]
    elif damage == "duplicated":
        lines.insert(101, lines[100])
    else:
        lines[100], lines[101] = lines[101], lines[100]
    message = _refused(make_ledger, tmp_path, lines)
    assert "line 10" in message or "position 10" in message


def test_a_mirror_extends_when_the_source_grows_and_refuses_a_different_log(
    big_source, make_ledger, tmp_path
):
    lines, _, root = big_source
    mirror = make_ledger(str(tmp_path / "growing.db"))
    mirror.import_mirror(lines[:4000])
    result = mirror.import_mirror(lines)
    assert (len(result.added), len(result.skipped)) == (6000, 4000)
    assert integrity.tree_root(mirror.store)[1] == root
    other = make_ledger(str(tmp_path / "other.db"))
    other.import_lines(example_lines())
    with pytest.raises(LedgerError):
        other.import_mirror(lines)
    assert other.store.head() == 48


def test_import_mirror_command(example, sqlite_target, tmp_path):
    example.close()
    runner = CliRunner()
    events = tmp_path / "events.ndjson"
    assert (
        runner.invoke(cli, ["--db", sqlite_target, "export-events", "-o", str(events)]).exit_code
        == 0
    )
    copy = str(tmp_path / "copy.db")
    assert runner.invoke(cli, ["--db", copy, "init", "--tz", "Asia/Seoul"]).exit_code == 0
    result = runner.invoke(cli, ["--db", copy, "import", "--mirror", str(events)])
    assert result.exit_code == 0, result.output
    a = runner.invoke(cli, ["--db", sqlite_target, "export", "--as-of", "2026-01-01"]).output
    b = runner.invoke(cli, ["--db", copy, "export", "--as-of", "2026-01-01"]).output
    assert a == b


def _verify_peak(make_ledger, path: str, lines: list[bytes]) -> int:
    mirror = make_ledger(path)
    mirror.import_mirror(lines)
    tracemalloc.start()
    report = verification.verify_ledger(mirror.store)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert report.intact
    return peak


def test_verify_memory_does_not_grow_with_the_ledger(big_source, make_ledger, tmp_path):
    """Streaming: past one batch, twice the events cost (almost) no more memory."""
    lines = big_source[0]
    small = _verify_peak(make_ledger, str(tmp_path / "small.db"), lines[:5000])
    large = _verify_peak(make_ledger, str(tmp_path / "large.db"), lines)
    assert large < 1.25 * small, (small, large)


def test_verify_catches_a_record_time_that_goes_backwards(example, sqlite_target):
    example.close()
    _tamper(
        sqlite_target,
        "UPDATE events SET recorded_at = '2001-01-01T00:00:00.000000Z' WHERE position = 30",
    )
    report = _verify(sqlite_target)
    assert (report.intact, report.position) == (False, 30)


def test_a_mirror_file_with_a_back_dated_record_time_is_refused(example, make_ledger, tmp_path):
    lines = [orjson.loads(event_line(e)) for e in example.events()]
    from ledger.records import canonical_bytes, leaf_hash_of

    lines[-1]["recorded_at"] = "2001-01-01T00:00:00.000000Z"
    lines[-1]["leaf_hash"] = leaf_hash_of(canonical_bytes(lines[-1]))  # a consistent forgery
    assert "backwards" in _refused(make_ledger, tmp_path, [orjson.dumps(x) for x in lines])


def test_a_checkpoint_signed_under_another_name_than_its_origin_is_refused(example):
    from ledger.checkpoint import Checkpoint, sign_note

    private, public = generate_key("someone-else.example/log")
    size, root = integrity.tree_root(example.store)
    note = sign_note(
        Checkpoint(origin=example.origin, size=size, root=root).body(), parse_signer(private)
    )
    with pytest.raises(LedgerError, match="signed under its origin"):
        integrity.check_published(example.store, note, parse_verifier(public))


def test_asking_for_a_checkpoint_twice_reports_the_first_one(example):
    first = integrity.make_checkpoint(example.store, example.origin, example.clock())
    again = integrity.make_checkpoint(example.store, example.origin, example.clock())
    assert again["recorded_at"] == first["recorded_at"]
    assert first["first_issued_now"] and not again["first_issued_now"]


def test_init_names_the_log_once(tmp_path):
    runner = CliRunner()
    db = str(tmp_path / "named.db")
    named = runner.invoke(cli, ["--db", db, "init", "--origin", "watchdog.example/kr-ai"])
    assert named.exit_code == 0 and "watchdog.example/kr-ai" in named.output
    renamed = runner.invoke(cli, ["--db", db, "init", "--origin", "other.example/log"])
    assert renamed.exit_code == 1 and "origin" in renamed.output


# --- verify: the fast path (stored canonical text) and the slow path agree -------------


def _row(path: str, position: int) -> dict:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    row = dict(conn.execute("SELECT * FROM events WHERE position = ?", (position,)).fetchone())
    conn.close()
    return row


def _concatenated_leaf(row: dict, data_text: str) -> str:
    """The leaf hash of a row's envelope joined around `data_text` as it stands (no canonicalising)."""
    from ledger.records import leaf_body, leaf_hash_of

    return leaf_hash_of(
        leaf_body(
            id=row["id"],
            type=row["type"],
            subject=row["subject"],
            version=row["version"],
            occurred_at=row["occurred_at"],
            recorded_at=row["recorded_at"],
            recorded_by=row["recorded_by"],
            data_json=data_text.encode(),
            sources_json=row["sources"].encode(),
            schema=row["schema"],
        )
    )


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def test_rows_rewritten_as_equal_but_not_canonical_json_still_verify(example, sqlite_target):
    """Old-style stored text takes the slow path: same root, still intact."""
    root = verification.verify_ledger(example.store).root
    example.close()
    statements = []
    for position in (1, 2, 17, 30, 48):
        data = orjson.loads(_row(sqlite_target, position)["data"])
        loose = json.dumps(dict(reversed(list(data.items()))), indent=2, ensure_ascii=True)
        assert loose.encode() != orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
        statements.append(
            f"UPDATE events SET data = {_sql_text(loose)} WHERE position = {position}"
        )
    _tamper(sqlite_target, *statements)
    report = _verify(sqlite_target)
    assert report.intact, (report.position, report.problem)
    assert (report.checked, report.root) == (48, root)


def test_a_changed_value_in_non_canonical_text_is_caught_at_its_position(example, sqlite_target):
    example.close()
    loose = {30: None, 31: None}
    for position in loose:
        data = orjson.loads(_row(sqlite_target, position)["data"])
        loose[position] = json.dumps(data, indent=1)
    data = orjson.loads(loose[31])
    data["by"] = data.get("by", "") + "x"
    loose[31] = json.dumps(data, indent=1)
    _tamper(
        sqlite_target,
        *(
            f"UPDATE events SET data = {_sql_text(t)} WHERE position = {p}"
            for p, t in loose.items()
        ),
    )
    report = _verify(sqlite_target)
    assert (report.intact, report.position) == (False, 31)
    assert report.problem == "its fields do not match its leaf hash: the event was altered"


def test_a_leaf_hash_forged_over_non_canonical_text_is_still_altered(example, sqlite_target):
    """Hashing the stored text as it stands is only trusted when that text is canonical."""
    example.close()
    row = _row(sqlite_target, 20)
    loose = json.dumps(orjson.loads(row["data"]), indent=1)
    _tamper(
        sqlite_target,
        f"UPDATE events SET data = {_sql_text(loose)}, "
        f"leaf_hash = '{_concatenated_leaf(row, loose)}' WHERE position = 20",
    )
    report = _verify(sqlite_target)
    assert (report.intact, report.position) == (False, 20)
    assert "altered" in report.problem


def test_a_leaf_hash_forged_over_unreadable_text_is_still_unreadable(example, sqlite_target):
    example.close()
    row = _row(sqlite_target, 9)
    broken = '{"name"'
    _tamper(
        sqlite_target,
        f"UPDATE events SET data = {_sql_text(broken)}, "
        f"leaf_hash = '{_concatenated_leaf(row, broken)}' WHERE position = 9",
    )
    report = _verify(sqlite_target)
    assert (report.intact, report.position) == (False, 9)
    assert report.problem.startswith("the stored row was altered: it cannot be read (")


def test_keys_in_utf16_order_take_the_slow_path_and_verify(example, sqlite_target):
    """RFC 8785 sorts keys by UTF-16 code units; orjson's code-point order is not trusted."""
    from ledger.records import canonical_bytes, canonical_json, leaf_hash_of

    example.close()
    row = _row(sqlite_target, 5)
    data = {**orjson.loads(row["data"]), "names": {"en": "A", "\uff4a": "B", "\U0001f600": "C"}}
    stored = {k: row[k] for k in ("id", "type", "subject", "version", "occurred_at")}
    stored |= {k: row[k] for k in ("recorded_at", "recorded_by")}
    stored |= {"data": data, "sources": orjson.loads(row["sources"])}
    canonical = canonical_json(data).decode()
    code_point_order = orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode()
    assert canonical != code_point_order
    good = leaf_hash_of(canonical_bytes(stored))
    _tamper(
        sqlite_target,
        f"UPDATE events SET data = {_sql_text(canonical)}, leaf_hash = '{good}' WHERE position = 5",
        "DELETE FROM merkle_nodes",
    )
    Ledger.init(sqlite_target).close()  # back-fills the tree from the rows
    report = _verify(sqlite_target)
    assert report.intact, (report.position, report.problem)
    forged = _concatenated_leaf(row, code_point_order)
    _tamper(
        sqlite_target,
        f"UPDATE events SET data = {_sql_text(code_point_order)}, leaf_hash = '{forged}' "
        "WHERE position = 5",
        "DELETE FROM merkle_nodes",
    )
    Ledger.init(sqlite_target).close()
    report = _verify(sqlite_target)
    assert (report.intact, report.position) == (False, 5)
    assert "altered" in report.problem


# --- verify: stored tree nodes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "index", "message"),
    [
        (0, 0, "position 1: the stored tree node over positions 1-1"),
        (0, 33, "position 34: the stored tree node over positions 34-34"),
        (1, 5, "position 11: the stored tree node over positions 11-12"),
        (3, 2, "position 17: the stored tree node over positions 17-24"),
        (5, 0, "position 1: the stored tree node over positions 1-32"),
    ],
)
@pytest.mark.parametrize("damage", ["altered", "deleted", "uppercase"])
def test_a_stored_tree_node_altered_or_missing_is_reported(
    example, sqlite_target, level, index, message, damage
):
    example.close()
    where = f"WHERE level = {level} AND idx = {index}"
    statement = {
        "altered": f"UPDATE merkle_nodes SET hash = 'ff' || substr(hash, 3) {where}",
        "deleted": f"DELETE FROM merkle_nodes {where}",
        "uppercase": f"UPDATE merkle_nodes SET hash = upper(hash) {where}",
    }[damage]
    _tamper(sqlite_target, statement)
    report = _verify(sqlite_target)
    if damage == "uppercase":  # the same hash, written in capitals: read as hex, it matches
        assert report.intact
        return
    assert f"position {report.position}: {report.problem}".startswith(message)
    assert report.problem.endswith(
        "missing" if damage == "deleted" else "does not match the events"
    )


def test_a_stored_tree_node_that_is_not_hex_does_not_match(example, sqlite_target):
    example.close()
    _tamper(sqlite_target, "UPDATE merkle_nodes SET hash = 'not hex' WHERE level = 2 AND idx = 1")
    report = _verify(sqlite_target)
    assert (report.position, report.problem) == (
        5,
        "the stored tree node over positions 5-8 does not match the events",
    )


def test_the_first_bad_position_wins_across_nodes_and_events(example, sqlite_target):
    """A node found wrong is reported before a later event's fault, as a batch would not."""
    example.close()
    _tamper(
        sqlite_target,
        "UPDATE merkle_nodes SET hash = 'ff' || substr(hash, 3) WHERE level = 1 AND idx = 2",
        "UPDATE events SET data = substr(data, 1, 10) || 'Z' || substr(data, 12) WHERE position = 40",
    )
    report = _verify(sqlite_target)
    assert (report.position, report.problem) == (
        5,
        "the stored tree node over positions 5-6 does not match the events",
    )


def test_verify_on_both_databases_and_a_node_altered_behind_its_back(any_ledger):
    any_ledger.import_lines(example_lines())
    integrity.make_checkpoint(any_ledger.store, any_ledger.origin, any_ledger.clock())
    report = verification.verify_ledger(any_ledger.store, batch=7)  # many short batches
    assert report.intact and (report.checked, report.checkpoints) == (48, 1)
    assert report.root == integrity.tree_root(any_ledger.store)[1].hex()
    engine = any_ledger.store.engine
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER merkle_nodes_no_update")
        else:
            conn.exec_driver_sql("DROP TRIGGER merkle_nodes_no_update_delete ON merkle_nodes")
        conn.exec_driver_sql(
            "UPDATE merkle_nodes SET hash = '00' || substr(hash, 3) WHERE level = 4 AND idx = 1"
        )
    report = verification.verify_ledger(any_ledger.store, batch=7)
    assert (report.position, report.problem) == (
        17,
        "the stored tree node over positions 17-32 does not match the events",
    )
