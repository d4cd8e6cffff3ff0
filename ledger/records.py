"""Stored events and their canonical bytes (spec section 4).

A `StoredEvent` is an event as the ledger keeps it: the envelope in its stored,
normalised JSON form plus what the ledger added (`position`, `version`,
`recorded_at`, `recorded_by`, `leaf_hash`). The canonical bytes are the RFC 8785
serialisation of the stored event without `position` and `leaf_hash`; the leaf
hash is SHA-256(0x00 ‖ canonical bytes), the RFC 9162 leaf.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import orjson

from ledger import upcasting

if TYPE_CHECKING:
    # The event catalogue is imported where a typed event is asked for
    # (`StoredEvent.event`, `references` of an upcast event): this module is
    # read by the folds and the quick read path, which need no pydantic.
    from ledger.events import Event

# Event ids derived from content are UUIDv5 in this namespace (uuid5 of the URL
# below in the URL namespace). Changing it would change every derived id.
EVENT_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://policy-ledger.org/ns/event")

# Fields of a stored event in the order export-events writes them.
STORED_FIELDS = (
    "position",
    "id",
    "type",
    "subject",
    "version",
    "occurred_at",
    "recorded_at",
    "recorded_by",
    "data",
    "sources",
    "leaf_hash",
)


def event_content(event: Event) -> dict[str, Any]:
    """The facts of an event in stored JSON form, without ledger bookkeeping."""
    return Content.of(event).facts()


MAX_SAFE_INTEGER = 2**53 - 1


def orjson_is_canonical(value: Any) -> bool:
    """Whether orjson's sorted output is exactly RFC 8785 for this value.

    It is for the JSON the ledger stores (strings, safe integers, objects,
    arrays, booleans, null) except in two corners: object keys holding a
    character at or above U+E000, where RFC 8785's UTF-16 order and orjson's
    code-point order can differ, and integers beyond 2^53, which RFC 8785
    refuses. Those go to the reference implementation.
    """
    if isinstance(value, dict):
        for key, item in value.items():
            if not key.isascii() and max(key) >= "\ue000":
                return False
            if not orjson_is_canonical(item):
                return False
        return True
    if isinstance(value, list):
        return all(orjson_is_canonical(item) for item in value)
    if isinstance(value, bool) or not isinstance(value, int):
        return not isinstance(value, float)
    return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER


# Bytes that can make orjson's output differ from RFC 8785: UTF-8 lead bytes of
# U+E000 and above ("W"), and digits ("0": a run of 16 may be a number beyond
# 2^53). One `bytes.translate` marks them (a third of the cost of a regex
# search); false alarms, such as digits inside a string, only cost the walk.
SUSPECT_BYTES = bytes(
    ord("W") if 0xEE <= b <= 0xF4 else ord("0") if 0x30 <= b <= 0x39 else ord(" ")
    for b in range(256)
)
SIXTEEN_DIGITS = b"0" * 16


def plainly_canonical(text: bytes) -> bool:
    """Whether orjson's sorted output is RFC 8785 on its face (no wide character, no long number)."""
    suspect = text.translate(SUSPECT_BYTES)
    return b"W" not in suspect and SIXTEEN_DIGITS not in suspect


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) bytes of a JSON value: orjson where it agrees, the reference otherwise."""
    fast = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    if plainly_canonical(fast) or orjson_is_canonical(value):
        return fast
    import rfc8785  # the rare corners only: most values never load it

    return rfc8785.dumps(value)


def derive_event_id(content: dict[str, Any]) -> str:
    """UUIDv5 of the canonical bytes of an event's content: same facts, same id."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, canonical_json(content).decode("utf-8")))


# Canonical bytes by concatenation. Every key of the envelope is ASCII, so
# RFC 8785's order is plain byte order and fixed; orjson writes any string as
# RFC 8785 does (checked for every code point in tests/test_canonical.py). So
# with `data` and `sources` already canonical, the envelope's canonical bytes
# are a join of fragments: no walk over the data, no second serialisation.
_text = orjson.dumps


def content_body(
    *, type: str, subject: str, occurred_at: str, data_json: bytes, sources_json: bytes
) -> bytes:
    """canonical_json(event_content(...)) from the canonical data and sources."""
    return b"".join(
        (
            b'{"data":',
            data_json,
            b',"occurred_at":',
            _text(occurred_at),
            b',"sources":',
            sources_json,
            b',"subject":',
            _text(subject),
            b',"type":',
            _text(type),
            b"}",
        )
    )


_NAMESPACE_BYTES = EVENT_ID_NAMESPACE.bytes


def event_id_of(content_bytes: bytes) -> str:
    """The derived id of an event from its content's canonical bytes.

    `uuid.uuid5(EVENT_ID_NAMESPACE, text)` exactly (RFC 4122 section 4.3:
    SHA-1 of namespace and name, version and variant bits set), from the
    bytes as they are rather than decoded and encoded again.
    """
    digest = hashlib.sha1(_NAMESPACE_BYTES + content_bytes, usedforsecurity=False).digest()
    return str(uuid.UUID(bytes=digest[:16], version=5))


def leaf_body(
    *,
    id: str,
    type: str,
    subject: str,
    version: int,
    occurred_at: str,
    recorded_at: str,
    recorded_by: str,
    data_json: bytes,
    sources_json: bytes,
    schema: int = 1,
) -> bytes:
    """A stored event's canonical bytes from canonical `data` and `sources` texts."""
    return b"".join(
        (
            b'{"data":',
            data_json,
            b',"id":',
            _text(id),
            b',"occurred_at":',
            _text(occurred_at),
            b',"recorded_at":',
            _text(recorded_at),
            b',"recorded_by":',
            _text(recorded_by),
            b"" if schema == 1 else b',"schema":%d' % schema,
            b',"sources":',
            sources_json,
            b',"subject":',
            _text(subject),
            b',"type":',
            _text(type),
            b',"version":%d}' % version,
        )
    )


def format_recorded_at(moment: datetime) -> str:
    """Transaction time as RFC 3339 UTC with microseconds and `Z`."""
    utc = moment.astimezone(UTC)
    # Four-digit years always (strftime writes year 999 as "999"): these strings are sort keys.
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S.%f}Z"


def occurred_instant(occurred_at: str, tz: ZoneInfo) -> datetime:
    """Valid time as an aware instant: a bare date is the start of that day in `tz`."""
    if len(occurred_at) == 10:
        day = datetime.fromisoformat(occurred_at).date()
        return datetime.combine(day, time.min, tzinfo=tz)
    return datetime.fromisoformat(occurred_at)


def instant_key(moment: datetime) -> str:
    """A sortable UTC text form of an instant (the store's ordering column)."""
    return format_recorded_at(moment)


def canonical_bytes(stored: dict[str, Any]) -> bytes:
    """RFC 8785 bytes of a stored event's JSON form minus position and leaf_hash."""
    body = {k: v for k, v in stored.items() if k not in ("position", "leaf_hash")}
    return canonical_json(body)


def leaf_hash_of(canonical: bytes) -> str:
    """RFC 9162 leaf hash, lowercase hex."""
    return hashlib.sha256(b"\x00" + canonical).hexdigest()


# The data fields that name another subject (ledger.events.references reads
# the same fields from the typed model; tests/test_events.py holds them equal).
_NAMING_FIELDS = ("by", "holder", "body", "assessor", "parent", "successor")


def data_references(type_: str, subject: str, data: dict[str, Any]) -> frozenset[str]:
    """`references` of an event from its stored data, without decoding it."""
    named = {value for name in _NAMING_FIELDS if isinstance(value := data.get(name), str)}
    if type_ == "AppropriationRecorded":
        named.update(allocation["commitment"] for allocation in data.get("allocations", ()))
    named.discard(subject)
    return frozenset(named)


@dataclass(frozen=True)
class StoredEvent:
    """An event as stored: facts plus the ledger's bookkeeping."""

    position: int
    id: str
    type: str
    subject: str
    version: int
    occurred_at: str
    recorded_at: str
    recorded_by: str
    data: dict[str, Any]
    sources: list[dict[str, Any]]
    leaf_hash: str
    occurred_key: str = ""  # sortable UTC instant of occurred_at, in the ledger's zone
    schema: int = 1  # the event schema it was written under (see ledger/upcasting.py)
    _event: list[Event] = field(default_factory=list, repr=False, compare=False)
    # Canonical (RFC 8785) texts of `data` and `sources` when known to be
    # canonical (sealed here, or checked); empty when not known.
    data_json: bytes = field(default=b"", repr=False, compare=False)
    sources_json: bytes = field(default=b"", repr=False, compare=False)
    _refs: list[frozenset[str]] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def trusted(
        cls,
        position: int,
        id: str,
        type: str,
        subject: str,
        version: int,
        occurred_at: str,
        recorded_at: str,
        recorded_by: str,
        data: dict[str, Any],
        sources: list[dict[str, Any]],
        leaf_hash: str,
        occurred_key: str,
        schema: int,
    ) -> StoredEvent:
        """The event as read from the store, fields already of their types.

        The same object the constructor builds, without its frozen
        `__setattr__` per field (the bulk readers build millions of these).
        """
        built = object.__new__(cls)
        built.__dict__.update(
            position=position,
            id=id,
            type=type,
            subject=subject,
            version=version,
            occurred_at=occurred_at,
            recorded_at=recorded_at,
            recorded_by=recorded_by,
            data=data,
            sources=sources,
            leaf_hash=leaf_hash,
            occurred_key=occurred_key,
            schema=schema,
            _event=[],
            data_json=b"",
            sources_json=b"",
            _refs=[],
        )
        return built

    def references(self) -> frozenset[str]:
        """The subjects this event's data names, other than its own (computed once)."""
        if not self._refs:
            if self.schema == upcasting.CURRENT_SCHEMA and not self._event:
                named = data_references(self.type, self.subject, self.data)
            else:
                from ledger.events import references  # pydantic: only for typed events

                named = frozenset(references(self.event))
            self._refs.append(named)
        return self._refs[0]

    def to_json(self) -> dict[str, Any]:
        """Every stored field, as export-events writes it.

        `schema` appears only for events written under a later schema than 1,
        so today's events have exactly the contract's fields.
        """
        stored = {name: getattr(self, name) for name in STORED_FIELDS}
        if self.schema != 1:
            stored["schema"] = self.schema
        return stored

    def placed_at(self, position: int) -> StoredEvent:
        """The same event at a log position."""
        return replace(self, position=position)

    def restamped(self, recorded_at: str) -> StoredEvent:
        """The same event with another record time, and the leaf hash that goes with it."""
        moved = replace(self, recorded_at=recorded_at)
        return replace(moved, leaf_hash=leaf_hash_of(moved.canonical()))

    def canonical(self) -> bytes:
        """The canonical bytes this event's leaf hash is computed from."""
        if self.data_json and self.sources_json:
            return leaf_body(
                id=self.id,
                type=self.type,
                subject=self.subject,
                version=self.version,
                occurred_at=self.occurred_at,
                recorded_at=self.recorded_at,
                recorded_by=self.recorded_by,
                data_json=self.data_json,
                sources_json=self.sources_json,
                schema=self.schema,
            )
        return canonical_bytes(self.to_json())

    @property
    def event(self) -> Event:
        """The typed event (decoded once, on first use)."""
        if not self._event:
            raw = {
                "type": self.type,
                "subject": self.subject,
                "occurred_at": self.occurred_at,
                "data": upcasting.upcast(self.type, self.schema, self.data),
                "sources": self.sources,
                "id": self.id,
                "recorded_by": self.recorded_by,
            }
            # Validated when written under the current schema: build it without
            # validating again. Upcast data is validated, since an upcaster is code.
            # The catalogue (pydantic) is imported here, on the first typed event
            # asked for: readers of stored data alone never load it.
            from ledger.events import decode_event, decode_stored

            current = self.schema == upcasting.CURRENT_SCHEMA
            self._event.append(decode_stored(raw) if current else decode_event(raw, stored=True))
        return self._event[0]


@dataclass(frozen=True)
class Content:
    """An event's facts in stored JSON form, with their canonical texts (computed once)."""

    type: str
    subject: str
    occurred_at: str
    data: dict[str, Any]
    sources: list[dict[str, Any]]
    data_json: bytes
    sources_json: bytes

    @classmethod
    def of(cls, event: Event) -> Content:
        """The content of a decoded event."""
        data = event.data.model_dump(mode="json", exclude_none=True)
        sources = [s.model_dump(mode="json", exclude_none=True) for s in event.sources]
        return cls(
            event.type,
            event.subject,
            event.occurred_at,
            data,
            sources,
            canonical_json(data),
            canonical_json(sources),
        )

    def derived_id(self) -> str:
        """The id derived from these facts (same facts, same id)."""
        return event_id_of(
            content_body(
                type=self.type,
                subject=self.subject,
                occurred_at=self.occurred_at,
                data_json=self.data_json,
                sources_json=self.sources_json,
            )
        )

    def facts(self) -> dict[str, Any]:
        """The facts as a dict, comparable with a stored event's."""
        return {
            "type": self.type,
            "subject": self.subject,
            "occurred_at": self.occurred_at,
            "data": self.data,
            "sources": self.sources,
        }


def seal(
    event: Event | None,
    *,
    event_id: str,
    version: int,
    recorded_at: str,
    recorded_by: str,
    occurred_key: str,
    content: Content | None = None,
    position: int = 0,
) -> StoredEvent:
    """Give a new event its bookkeeping and leaf hash; the store assigns the position.

    `event` may be None when `content` is given (input decoded in another
    process): the typed event is then decoded from the data if ever needed.
    """
    if content is None:
        assert event is not None, "seal needs the event or its content"
        content = Content.of(event)
    schema = upcasting.CURRENT_SCHEMA
    # No time, no hash: the store stamps the record time under its lock.
    leaf_hash = ""
    if recorded_at:
        body = leaf_body(
            id=event_id,
            type=content.type,
            subject=content.subject,
            version=version,
            occurred_at=content.occurred_at,
            recorded_at=recorded_at,
            recorded_by=recorded_by,
            data_json=content.data_json,
            sources_json=content.sources_json,
            schema=schema,
        )
        leaf_hash = leaf_hash_of(body)
    return StoredEvent(
        position=position,
        id=event_id,
        type=content.type,
        subject=content.subject,
        version=version,
        occurred_at=content.occurred_at,
        recorded_at=recorded_at,
        recorded_by=recorded_by,
        data=content.data,
        sources=content.sources,
        schema=schema,
        leaf_hash=leaf_hash,
        occurred_key=occurred_key,
        _event=[] if event is None else [event],
        data_json=content.data_json,
        sources_json=content.sources_json,
    )
