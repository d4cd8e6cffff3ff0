"""Tamper evidence over a store: roots, proofs, checkpoints, verify, mirrors (spec section 4).

The tree's perfect-subtree hashes are stored as the log grows (`merkle_nodes`,
written in the same transaction as the events), so a root or a proof reads
O(log n) rows instead of rebuilding the tree. `verify` recomputes everything
from the stored event fields, streaming, and compares.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
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
)
from ledger.store.sql import SqlEventStore

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


@dataclass
class _Stack:
    """Streaming RFC 9162 tree: complete subtrees on a stack (at most log2 n)."""

    nodes: list[tuple[int, int, bytes]] = field(default_factory=list)  # (level, index, hash)

    def push(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf; return every perfect node it completes (level ≥ 1)."""
        level, index, digest = 0, self._count(), leaf
        completed = []
        while self.nodes and self.nodes[-1][0] == level:
            _, left_index, left = self.nodes.pop()
            digest = node_hash(left, digest)
            level, index = level + 1, left_index // 2
            completed.append((level, index, digest))
        self.nodes.append((level, index, digest))
        return completed

    def _count(self) -> int:
        return sum(1 << level for level, _, _ in self.nodes)

    def root(self) -> bytes:
        """The root of the leaves pushed so far."""
        if not self.nodes:
            return EMPTY_TREE
        digest = self.nodes[-1][2]
        for _, _, left in reversed(self.nodes[:-1]):
            digest = node_hash(left, digest)
        return digest


@bulk
def verify_ledger(
    store: SqlEventStore, progress: Progress | None = None, batch: int = 2000
) -> VerifyReport:
    """Recompute every leaf, node and checkpoint root from the stored fields; stop at the first fault."""
    report = VerifyReport()
    checkpoints = {c["size"]: c for c in store.checkpoints()}
    stack = _Stack()
    versions: dict[str, int] = {}
    pending: list[tuple[int, int, bytes]] = []

    def fail(position: int, problem: str) -> VerifyReport:
        report.position, report.problem = position, problem
        return report

    def flush() -> VerifyReport | None:
        stored = store.nodes([(lv, ix) for lv, ix, _ in pending])
        for level, index, digest in pending:
            if stored.get((level, index)) != digest:
                first = index * (1 << level) + 1
                what = "missing" if (level, index) not in stored else "does not match the events"
                return fail(
                    first,
                    f"the stored tree node over positions {first}-{first + (1 << level) - 1} {what}",
                )
        pending.clear()
        return None

    expected = 1
    last_recorded = ""
    if 0 in checkpoints and checkpoints[0]["root"] != stack.root().hex():
        return fail(1, "the checkpoint of size 0 has a wrong root")
    events = store.read_all(batch_size=batch)
    while True:
        try:
            stored = next(events)
        except StopIteration:
            break
        except CorruptRecord as exc:
            return fail(exc.position, exc.reason)
        if stored.position != expected:
            return fail(
                expected,
                f"missing (the next stored position is {stored.position})",
            )
        leaf = bytes.fromhex(leaf_hash_of(stored.canonical()))
        if leaf.hex() != stored.leaf_hash:
            return fail(
                stored.position, "its fields do not match its leaf hash: the event was altered"
            )
        last = versions.get(stored.subject, 0)
        if stored.version != last + 1:
            return fail(
                stored.position, f"{stored.subject} version {stored.version} follows version {last}"
            )
        versions[stored.subject] = stored.version
        if stored.recorded_at < last_recorded:
            # Appends stamp record time under the append lock, never earlier than the
            # event before: a time that goes backwards was written behind the ledger's back.
            return fail(
                stored.position,
                f"recorded at {stored.recorded_at}, before the event before it ({last_recorded})",
            )
        last_recorded = stored.recorded_at
        pending.append((0, stored.position - 1, leaf))
        pending.extend(stack.push(leaf))
        if len(pending) >= batch and (bad := flush()):
            return bad
        if stored.position in checkpoints:
            if bad := flush():
                return bad
            if checkpoints[stored.position]["root"] != stack.root().hex():
                return fail(
                    stored.position,
                    f"the tree of size {stored.position} no longer has the root of its checkpoint",
                )
            report.checkpoints += 1
        report.checked += 1
        expected += 1
        if progress is not None and report.checked % batch == 0:
            progress(batch)
    if bad := flush():
        return bad
    leaves = store.node_count(0)
    if leaves != report.checked:
        return fail(
            report.checked + 1,
            f"missing: the tree has {leaves} leaves but only {report.checked} events are stored",
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
