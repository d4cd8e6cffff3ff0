"""Tamper evidence over a store: roots, proofs, checkpoints, verify, mirrors (spec section 4).

The tree's perfect-subtree hashes are stored as the log grows (`merkle_nodes`,
written in the same transaction as the events), so a root or a proof reads
O(log n) rows instead of rebuilding the tree. `verify` recomputes everything
from the stored event fields, streaming, and compares.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import orjson

from ledger import upcasting
from ledger.bulk import bulk
from ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    Signer,
    Verifier,
    sign_checkpoint,
    verify_checkpoint,
)
from ledger.errors import CorruptRecord, InvalidEvent, NotFound
from ledger.events import decode_event
from ledger.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    inclusion_proof,
    node_hash,
    range_hash,
    verify_consistency,
    verify_inclusion,
)
from ledger.records import (
    STORED_FIELDS,
    StoredEvent,
    canonical_bytes,
    format_recorded_at,
    leaf_hash_of,
    plainly_canonical,
)
from ledger.store.sql import EVENT_COLUMNS, SqlEventStore, decode_row

Progress = Callable[[int], None]
EMPTY_TREE = bytes.fromhex(EMPTY_ROOT)


# --- roots and proofs ---------------------------------------------------------------


def _reader(store: SqlEventStore) -> Callable[[int, int], bytes]:
    cache: dict[tuple[int, int], bytes] = {}

    def get_node(level: int, index: int) -> bytes:
        key = (level, index)
        if key not in cache:
            value = store.node(level, index)
            if value is None:
                raise NotFound(f"the tree has no node at level {level}, index {index}")
            cache[key] = value
        return cache[key]

    return get_node


def tree_root(store: SqlEventStore, size: int | None = None) -> tuple[int, bytes]:
    """(size, root) of the tree of the first `size` events (default: all)."""
    head = store.head()
    size = head if size is None else size
    if not 0 <= size <= head:
        raise InvalidEvent(f"the ledger has {head} events; no tree of size {size}", field="SIZE")
    return size, range_hash(0, size, _reader(store))


def prove_inclusion(store: SqlEventStore, event_id: str, size: int | None = None) -> dict[str, Any]:
    """The RFC 9162 inclusion proof of an event in the tree of `size` events."""
    found = store.find([event_id]).get(event_id)
    if found is None:
        raise NotFound(f"no event {event_id} in this ledger")
    size, root = tree_root(store, size)
    if found.position > size:
        raise InvalidEvent(
            f"event {event_id} is at position {found.position}, after size {size}", field="--size"
        )
    index = found.position - 1
    path = inclusion_proof(index, size, partial(range_hash, get_node=_reader(store)))
    return {
        "leaf_index": index,
        "tree_size": size,
        "leaf_hash": found.leaf_hash,
        "root": root.hex(),
        "path": [p.hex() for p in path],
    }


def prove_consistency(
    store: SqlEventStore, old_size: int, new_size: int | None = None
) -> dict[str, Any]:
    """The RFC 9162 consistency proof that the tree of `old_size` is a prefix of `new_size`."""
    new_size, new_root = tree_root(store, new_size)
    if not 0 <= old_size <= new_size:
        raise InvalidEvent(f"OLD must be between 0 and {new_size}", field="OLD")
    _, old_root = tree_root(store, old_size)
    proof = consistency_proof(old_size, new_size, partial(range_hash, get_node=_reader(store)))
    return {
        "old_size": old_size,
        "new_size": new_size,
        "old_root": old_root.hex(),
        "new_root": new_root.hex(),
        "proof": [p.hex() for p in proof],
    }


def check_inclusion(proof: dict[str, Any]) -> bool:
    """Check an inclusion proof document on its own (any RFC 9162 verifier would)."""
    return verify_inclusion(
        bytes.fromhex(proof["leaf_hash"]),
        int(proof["leaf_index"]),
        int(proof["tree_size"]),
        [bytes.fromhex(p) for p in proof["path"]],
        bytes.fromhex(proof["root"]),
    )


def check_consistency(proof: dict[str, Any]) -> bool:
    """Check a consistency proof document on its own."""
    return verify_consistency(
        int(proof["old_size"]),
        int(proof["new_size"]),
        bytes.fromhex(proof["old_root"]),
        bytes.fromhex(proof["new_root"]),
        [bytes.fromhex(p) for p in proof["proof"]],
    )


# --- checkpoints ----------------------------------------------------------------------


def make_checkpoint(
    store: SqlEventStore, origin: str, now: datetime, signer: Signer | None = None
) -> dict[str, Any]:
    """Record (size, root, time) of the current tree and return it with its C2SP text."""
    size, root = tree_root(store)
    checkpoint = Checkpoint(origin=origin, size=size, root=root)
    text = sign_checkpoint(checkpoint, signer) if signer is not None else checkpoint.body()
    stored = store.record_checkpoint(size, root.hex(), format_recorded_at(now), text)
    return {
        "origin": origin,
        "size": size,
        "root": root.hex(),
        # When a checkpoint of this size was issued before, that one's time stands.
        "recorded_at": stored["recorded_at"],
        "first_issued_now": stored["note"] == text
        and stored["recorded_at"] == format_recorded_at(now),
        "signed": signer is not None,
        "text": text,
    }


def check_published(store: SqlEventStore, note: str, verifier: Verifier) -> dict[str, Any]:
    """A published signed checkpoint against this ledger: signature, root at its size, consistency to now."""
    checkpoint = verify_checkpoint(note, verifier)
    if verifier.name != checkpoint.origin:
        raise CheckpointError(
            f"the checkpoint names the log {checkpoint.origin!r} but is signed by key "
            f"{verifier.name!r}: a log's checkpoints are signed under its origin"
        )
    head = store.head()
    if checkpoint.size > head:
        raise CheckpointError(
            f"the checkpoint covers {checkpoint.size} events but this ledger has {head}: "
            "it is behind the log that was published (or rolled back)"
        )
    _, root = tree_root(store, checkpoint.size)
    if root != checkpoint.root:
        raise CheckpointError(
            f"the ledger's tree of size {checkpoint.size} has root {root.hex()}, not the published "
            f"{checkpoint.root.hex()}: history before that size was rewritten"
        )
    proof = prove_consistency(store, checkpoint.size)
    if not check_consistency(proof):
        raise CheckpointError("the consistency proof from the checkpoint to now does not verify")
    return {
        "origin": checkpoint.origin,
        "size": checkpoint.size,
        "root": checkpoint.root.hex(),
        "current_size": proof["new_size"],
        "current_root": proof["new_root"],
        "consistent": True,
    }


# --- verify ----------------------------------------------------------------------------


@dataclass
class VerifyReport:
    """The outcome of `verify`: intact, or the first bad position and what is wrong."""

    checked: int = 0
    root: str = ""
    checkpoints: int = 0
    problem: str | None = None
    position: int | None = None

    @property
    def intact(self) -> bool:
        """No problem found."""
        return self.problem is None

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "intact": self.intact,
            "checked": self.checked,
            "root": self.root,
            "checkpoints": self.checkpoints,
            "position": self.position,
            "problem": self.problem,
        }


class _Stack:
    """Streaming RFC 9162 tree: the hashes of complete subtrees, largest first (at most log2 n).

    The subtree sizes are the set bits of the leaf count, so the stack needs no
    levels or indexes: pushing leaf i merges once per trailing one bit of i.
    """

    __slots__ = ("count", "hashes")

    def __init__(self) -> None:
        self.hashes: list[bytes] = []
        self.count = 0

    def push(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf; return every perfect node it completes (level >= 1), lowest first."""
        hashes, index, digest = self.hashes, self.count, leaf
        completed = []
        level = 0
        while index & 1:
            digest = _sha256(b"\x01" + hashes.pop() + digest).digest()
            level, index = level + 1, index >> 1
            completed.append((level, index, digest))
        hashes.append(digest)
        self.count += 1
        return completed

    def root(self) -> bytes:
        """The root of the leaves pushed so far."""
        if not self.hashes:
            return EMPTY_TREE
        digest = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            digest = node_hash(left, digest)
        return digest


NodeFetch = Callable[[int, int, int], Sequence[tuple[Any, Any]]]
"""`fetch(level, after, limit)`: stored (idx, hash) of a level with idx > after, in idx order."""

class _Level:
    """One level's stored nodes, read in idx order as the streaming tree completes them."""

    __slots__ = ("after", "at", "batch", "fetch", "level", "rows")

    def __init__(self, fetch: NodeFetch, level: int, batch: int) -> None:
        self.fetch, self.level, self.batch = fetch, level, batch
        self.rows: Sequence[tuple[Any, Any]] = ()
        self.at = 0
        self.after = -1

    def stored(self, index: int) -> Any:
        """The stored hash of node `index` of this level, or None when it is missing.

        Nodes are asked for in increasing index; stored nodes with a smaller
        index than asked are passed over (no node of the tree has that index).
        """
        rows, at = self.rows, self.at
        while True:
            while at < len(rows):
                idx, digest = rows[at]
                if idx == index:
                    self.at = at + 1
                    return digest
                if idx > index:
                    self.at = at
                    return None
                at += 1
            # Read on (again, if a read came back short: the log may have grown since).
            rows = self.fetch(self.level, self.after, self.batch)
            if rows and type(rows[-1][0]) is not int:  # SQLite sorts non-integer keys last
                rows = [row for row in rows if type(row[0]) is int]
            self.rows, self.at, at = rows, 0, 0
            if not rows:
                return None
            self.after = rows[-1][0]


def _same_hash(stored: Any, digest: bytes) -> bool:
    """A stored hex hash against a computed one, when the text is not plain lowercase hex."""
    try:
        return bytes.fromhex(str(stored)) == digest
    except ValueError:
        return False


def _node_problem(level: int, index: int, stored: Any) -> tuple[int, str]:
    first = index * (1 << level) + 1
    what = "missing" if stored is None else "does not match the events"
    return first, f"the stored tree node over positions {first}-{first + (1 << level) - 1} {what}"


def _fast_leaf(row: Sequence[Any]) -> bytes | None:
    """The leaf of a row whose stored text is its canonical bytes, else None.

    None means "take the slow path", never "altered": rows written before
    `data` and `sources` were stored canonically, and unreadable rows, go
    there. A leaf is returned only when the slow path would compute the same
    one: the hash matches, `data` and `sources` read as JSON and orjson writes
    them back byte for byte, and nothing in the bytes makes `canonical_json`
    look closer (a character at or above U+E000, a 16-digit number).
    """
    (
        _,
        event_id,
        type_,
        subject,
        version,
        occurred_at,
        _,
        recorded_at,
        recorded_by,
        data,
        sources,
        leaf_hash,
        schema,
    ) = row
    if not (
        type(data) is str
        and type(sources) is str
        and type(version) is int
        and type(schema) is int
        and type(event_id) is str
        and type(type_) is str
        and type(subject) is str
        and type(occurred_at) is str
        and type(recorded_at) is str
        and type(recorded_by) is str
    ):
        return None
    data_json = data.encode()
    sources_json = sources.encode()
    body = b"".join(
        (
            b'\x00{"data":',
            data_json,
            b',"id":',
            _dumps(event_id),
            b',"occurred_at":',
            _dumps(occurred_at),
            b',"recorded_at":',
            _dumps(recorded_at),
            b',"recorded_by":',
            _dumps(recorded_by),
            b"" if schema == 1 else b',"schema":%d' % schema,
            b',"sources":',
            sources_json,
            b',"subject":',
            _dumps(subject),
            b',"type":',
            _dumps(type_),
            b',"version":%d}' % version,
        )
    )
    digest = _sha256(body).digest()
    if digest.hex() != leaf_hash:
        return None
    if not plainly_canonical(body):
        return None
    try:
        if (
            _dumps(_loads(data_json), option=_SORTED) != data_json
            or _dumps(_loads(sources_json), option=_SORTED) != sources_json
        ):
            return None
    except orjson.JSONDecodeError:
        return None
    return digest


_dumps = orjson.dumps
_loads = orjson.loads
_SORTED = orjson.OPT_SORT_KEYS
_sha256 = hashlib.sha256


@bulk
def verify_ledger(
    store: SqlEventStore, progress: Progress | None = None, batch: int = 2000
) -> VerifyReport:
    """Recompute every leaf, node and checkpoint root from the stored fields; stop at the first fault.

    Each row's leaf is hashed from its stored text when that text is the
    event's canonical bytes (events written since data and sources are stored
    canonically); any other row is decoded and serialised as RFC 8785, as
    before. Stored tree nodes are read level by level in index order and
    compared as the streaming tree completes them.
    """
    report = VerifyReport()
    checkpoints = {c["size"]: c for c in store.checkpoints()}
    stack = _Stack()
    versions: dict[str, int] = {}

    def fail(position: int, problem: str) -> VerifyReport:
        report.position, report.problem = position, problem
        return report

    if 0 in checkpoints and checkpoints[0]["root"] != stack.root().hex():
        return fail(1, "the checkpoint of size 0 has a wrong root")
    expected = 1
    last_recorded = ""
    node_batch = max(batch, 1)
    fetch = store.level_nodes
    levels: list[_Level] = [_Level(fetch, 0, node_batch)]
    leaves = levels[0]
    hashes = stack.hashes
    for row in store.scan(EVENT_COLUMNS, batch_size=max(batch, 1)):
        position = row[0]
        leaf = _fast_leaf(row)
        if leaf is not None:
            subject, version, recorded_at = row[3], row[4], row[7]
            leaf_hex = row[11]
        else:
            try:
                stored = decode_row(row)
            except CorruptRecord as exc:
                return fail(exc.position, exc.reason)
            position = stored.position
            if position != expected:
                return fail(expected, f"missing (the next stored position is {position})")
            leaf_hex = leaf_hash_of(stored.canonical())
            if leaf_hex != stored.leaf_hash:
                return fail(
                    position, "its fields do not match its leaf hash: the event was altered"
                )
            leaf = bytes.fromhex(leaf_hex)
            subject, version, recorded_at = stored.subject, stored.version, stored.recorded_at
        if position != expected:
            return fail(expected, f"missing (the next stored position is {position})")
        last = versions.get(subject, 0)
        if version != last + 1:
            return fail(position, f"{subject} version {version} follows version {last}")
        versions[subject] = version
        if recorded_at < last_recorded:
            # Appends stamp record time under the append lock, never earlier than the
            # event before: a time that goes backwards was written behind the ledger's back.
            return fail(
                position,
                f"recorded at {recorded_at}, before the event before it ({last_recorded})",
            )
        last_recorded = recorded_at
        # The tree: level 0 repeats the leaf; each completed node is compared as it completes.
        index = position - 1
        rows0, at0 = leaves.rows, leaves.at
        if at0 < len(rows0) and rows0[at0][0] == index:
            node = rows0[at0][1]
            leaves.at = at0 + 1
        else:
            node = leaves.stored(index)
        if node != leaf_hex and (node is None or not _same_hash(node, leaf)):
            return fail(*_node_problem(0, index, node))
        digest, level = leaf, 0
        while index & 1:
            digest = _sha256(b"\x01" + hashes.pop() + digest).digest()
            level, index = level + 1, index >> 1
            if level == len(levels):
                levels.append(_Level(fetch, level, node_batch))
            node = levels[level].stored(index)
            if node != digest.hex() and (node is None or not _same_hash(node, digest)):
                return fail(*_node_problem(level, index, node))
        hashes.append(digest)
        stack.count = position
        if position in checkpoints:
            if checkpoints[position]["root"] != stack.root().hex():
                return fail(
                    position,
                    f"the tree of size {position} no longer has the root of its checkpoint",
                )
            report.checkpoints += 1
        report.checked += 1
        expected += 1
        if progress is not None and report.checked % batch == 0:
            progress(batch)
    leaf_count = store.node_count(0)
    if leaf_count != report.checked:
        return fail(
            report.checked + 1,
            f"missing: the tree has {leaf_count} leaves but only {report.checked} events are stored",
        )
    beyond = [size for size in checkpoints if size > report.checked]
    if beyond:
        return fail(
            report.checked + 1,
            f"a checkpoint covers {max(beyond)} events but only {report.checked} are stored",
        )
    report.checkpoints += 1 if 0 in checkpoints else 0
    report.root = stack.root().hex()
    return report


# --- mirrors -----------------------------------------------------------------------------


def read_mirror_lines(lines: Iterable[bytes | str]) -> Iterator[StoredEvent]:
    """Stored events from another ledger's export-events output, each leaf hash checked."""
    for number, line in enumerate(lines, start=1):
        text = line.decode("utf-8") if isinstance(line, bytes) else line
        if not text.strip():
            continue
        try:
            raw = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise InvalidEvent(f"not valid JSON ({exc.msg})", line=number) from None
        if not isinstance(raw, dict) or set(raw) - {"schema"} != set(STORED_FIELDS):
            missing = sorted(set(STORED_FIELDS) - set(raw)) if isinstance(raw, dict) else []
            raise InvalidEvent(
                "not an export-events line"
                + (f" (missing {', '.join(missing)})" if missing else ""),
                line=number,
            )
        computed = leaf_hash_of(canonical_bytes(raw))
        if computed != raw["leaf_hash"]:
            raise InvalidEvent(
                f"position {raw.get('position')}: the fields do not match the leaf hash (altered event)",
                line=number,
            )
        schema = _schema_of(raw, number)
        envelope = {
            k: raw[k] for k in ("type", "subject", "occurred_at", "sources", "id", "recorded_by")
        }
        try:
            # Stored form: checks added by later releases for new input do not apply.
            decode_event(
                {**envelope, "data": upcasting.upcast(raw["type"], schema, raw["data"])},
                stored=True,
            )
        except InvalidEvent as exc:
            raise exc.at_line(number) from None
        yield StoredEvent(
            position=int(raw["position"]),
            id=str(raw["id"]),
            type=str(raw["type"]),
            subject=str(raw["subject"]),
            version=int(raw["version"]),
            occurred_at=str(raw["occurred_at"]),
            recorded_at=str(raw["recorded_at"]),
            recorded_by=str(raw["recorded_by"]),
            data=raw["data"],
            sources=raw["sources"],
            leaf_hash=str(raw["leaf_hash"]),
            schema=schema,
        )


def _schema_of(raw: dict[str, Any], line: int) -> int:
    """A mirrored event's schema: absent means 1, the contract's format."""
    schema = raw.get("schema", 1)
    if (
        not isinstance(schema, int)
        or isinstance(schema, bool)
        or schema < 1
        or ("schema" in raw and schema == 1)
    ):
        raise InvalidEvent("schema must be an integer above 1 when present", line=line)
    if schema > upcasting.CURRENT_SCHEMA:
        raise InvalidEvent(
            f"written under schema {schema}; this release reads up to "
            f"{upcasting.CURRENT_SCHEMA}: upgrade policy-ledger",
            line=line,
        )
    return schema
