"""Tamper evidence over a store: roots, proofs, checkpoints, verify, mirrors (spec section 4).

The tree's perfect-subtree hashes are stored as the log grows (`merkle_nodes`,
written in the same transaction as the events), so a root or a proof reads
O(log n) rows instead of rebuilding the tree. `verify` recomputes everything
from the stored event fields and compares (ledger/verification.py).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from functools import partial
from typing import Any

import orjson

from ledger import upcasting
from ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    Signer,
    Verifier,
    sign_checkpoint,
    verify_checkpoint,
)
from ledger.decoding import refuse_repeated_keys
from ledger.errors import InvalidEvent, NotFound
from ledger.events import Event, decode_event, one_line
from ledger.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    inclusion_proof,
    range_hash,
    verify_consistency,
    verify_inclusion,
)
from ledger.records import (
    STORED_FIELDS,
    Content,
    StoredEvent,
    canonical_bytes,
    canonical_json,
    format_recorded_at,
    leaf_hash_of,
)
from ledger.store.sql import SqlEventStore

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


# --- mirrors -----------------------------------------------------------------------------


def read_mirror_lines(lines: Iterable[bytes | str]) -> Iterator[StoredEvent]:
    """Stored events from another ledger's export-events output, each leaf hash checked.

    A mirrored event must be exactly what this ledger would store: its
    bookkeeping of the right types and forms, its content valid as new input
    is (`decode_event`), and its `occurred_at`, `data` and `sources` already
    in the stored, normalised form that validation gives (compared as
    canonical text). Anything else is refused naming the line and field.
    """
    for number, line in enumerate(lines, start=1):
        try:
            text = line.decode("utf-8") if isinstance(line, bytes) else line
        except UnicodeDecodeError as exc:
            raise InvalidEvent(f"not UTF-8 text ({exc.reason})", line=number) from None
        if not text.strip():
            continue
        try:
            raw = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise InvalidEvent(f"not valid JSON ({exc.msg})", line=number) from None
        # The leaf hash covers only the values kept, so a repeated key's other
        # value would vanish unseen: refused, as an import refuses it.
        refuse_repeated_keys(text, raw, number)
        if not isinstance(raw, dict) or set(raw) - {"schema"} != set(STORED_FIELDS):
            missing = sorted(set(STORED_FIELDS) - set(raw)) if isinstance(raw, dict) else []
            raise InvalidEvent(
                "not an export-events line"
                + (f" (missing {', '.join(missing)})" if missing else ""),
                line=number,
            )
        try:
            computed = leaf_hash_of(canonical_bytes(raw))
        except ValueError as exc:  # RFC 8785 refuses a value (a number beyond 2^53, say)
            raise InvalidEvent(f"not canonical JSON ({one_line(str(exc))})", line=number) from None
        if computed != raw["leaf_hash"]:
            raise InvalidEvent(
                f"position {raw.get('position')}: the fields do not match the leaf hash (altered event)",
                line=number,
            )
        schema = _schema_of(raw, number)
        _check_bookkeeping(raw, number)
        envelope = {
            k: raw[k] for k in ("type", "subject", "occurred_at", "sources", "id", "recorded_by")
        }
        if schema == upcasting.CURRENT_SCHEMA:
            try:
                event = decode_event({**envelope, "data": raw["data"]})
            except InvalidEvent as exc:
                raise exc.at_line(number) from None
            _check_stored_form(raw, event, number)
        else:
            # Written under an earlier schema: its stored form is not what this release
            # writes, so it is validated (upcast) as stored data, as reading it is.
            try:
                decode_event(
                    {**envelope, "data": upcasting.upcast(raw["type"], schema, raw["data"])},
                    stored=True,
                )
            except InvalidEvent as exc:
                raise exc.at_line(number) from None
        yield StoredEvent(
            position=raw["position"],
            id=raw["id"],
            type=raw["type"],
            subject=raw["subject"],
            version=raw["version"],
            occurred_at=raw["occurred_at"],
            recorded_at=raw["recorded_at"],
            recorded_by=raw["recorded_by"],
            data=raw["data"],
            sources=raw["sources"],
            leaf_hash=raw["leaf_hash"],
            schema=schema,
        )


_RECORDED_AT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")


def _whole(value: Any) -> bool:
    """A JSON integer of at least 1 (not a boolean, not a float)."""
    return type(value) is int and value >= 1


def _check_bookkeeping(raw: dict[str, Any], line: int) -> None:
    """What the ledger added to a mirrored event, in the types and forms it writes them."""
    if not _whole(raw["position"]):
        raise InvalidEvent("must be a whole number of at least 1", line=line, field="position")
    if not _whole(raw["version"]):
        raise InvalidEvent("must be a whole number of at least 1", line=line, field="version")
    for name in ("id", "type", "subject", "occurred_at", "recorded_by"):
        if not isinstance(raw[name], str):
            raise InvalidEvent("must be a string", line=line, field=name)
    recorded_at = raw["recorded_at"]
    if not isinstance(recorded_at, str) or not _RECORDED_AT.fullmatch(recorded_at):
        raise InvalidEvent(
            f"{_json_shown(recorded_at)} is not a record time as this ledger writes it "
            "(YYYY-MM-DDTHH:MM:SS.ffffffZ)",
            line=line,
            field="recorded_at",
        )
    try:
        moment = datetime.fromisoformat(recorded_at)
    except ValueError as exc:
        raise InvalidEvent(
            f"{_json_shown(recorded_at)} is not a valid time ({exc})",
            line=line,
            field="recorded_at",
        ) from None
    if format_recorded_at(moment) != recorded_at:  # pragma: no cover - the pattern pins the form
        raise InvalidEvent("not in stored form", line=line, field="recorded_at")


def _check_stored_form(raw: dict[str, Any], event: Event, line: int) -> None:
    """The line's content is the stored form of the event it decodes to, byte for byte.

    Validation normalises what it accepts (NFC text, amounts like "1,000" or
    "1E+5", date-times with `Z`); the ledger stores the normalised form, so a
    mirrored line must already be in it.
    """
    content = Content.of(event)
    identity = {
        "id": str(event.id) if event.id is not None else None,
        "type": event.type,
        "subject": event.subject,
        "recorded_by": event.recorded_by,
        "occurred_at": content.occurred_at,
    }
    for name, kept in identity.items():
        if raw[name] != kept:
            raise InvalidEvent(_not_stored_form(raw[name], kept), line=line, field=name)
    for name, stored_json, stored_value in (
        ("data", content.data_json, content.data),
        ("sources", content.sources_json, content.sources),
    ):
        if canonical_json(raw[name]) != stored_json:
            found = _first_difference(raw[name], stored_value, name)
            field, given, stored = found if found is not None else (name, raw[name], stored_value)
            raise InvalidEvent(_not_stored_form(given, stored), line=line, field=field)


_ABSENT = object()


def _first_difference(given: Any, stored: Any, path: str) -> tuple[str, Any, Any] | None:
    """The first place (path, given, stored) where two JSON values differ, type included."""
    if isinstance(given, dict) and isinstance(stored, dict):
        for key in sorted(set(given) | set(stored)):
            found = _first_difference(
                given.get(key, _ABSENT), stored.get(key, _ABSENT), f"{path}.{key}"
            )
            if found is not None:
                return found
        return None
    if isinstance(given, list) and isinstance(stored, list):
        for index in range(max(len(given), len(stored))):
            found = _first_difference(
                given[index] if index < len(given) else _ABSENT,
                stored[index] if index < len(stored) else _ABSENT,
                f"{path}[{index}]",
            )
            if found is not None:
                return found
        return None
    if type(given) is not type(stored) or given != stored:
        return path, given, stored
    return None


def _json_shown(value: Any, limit: int = 60) -> str:
    """A JSON value for a one-line message, shortened."""
    try:
        text = orjson.dumps(value).decode("utf-8")
    except TypeError:
        text = repr(value)
    text = one_line(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _not_stored_form(given: Any, stored: Any) -> str:
    """Why a value is refused: it is not the form this ledger stores."""
    if given is _ABSENT:
        return f"missing: this ledger stores {_json_shown(stored)} here"
    if stored is _ABSENT:
        return f"{_json_shown(given)} is not part of the stored form of this event"
    why = ""
    if isinstance(given, str) and isinstance(stored, str):
        if unicodedata.normalize("NFC", given) == stored:
            why = " (not Unicode NFC)"
        elif given.strip() == stored:
            why = " (surrounding whitespace)"
    return (
        f"{_json_shown(given)} is not in stored form{why}: this ledger stores {_json_shown(stored)}"
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
