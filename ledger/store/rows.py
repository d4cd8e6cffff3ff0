"""Stored event rows read back as `StoredEvent`s: the one decoding every reader uses.

The SQL store (ledger/store/sql.py) decodes each row it reads through these
functions, and so does the quick read path (ledger/store/quick.py), which
reads an SQLite ledger with the standard library alone: a row means the
same event on both paths, and an unreadable row is the same CorruptRecord.
This module imports neither SQLAlchemy nor pydantic.

The decoders are the hot loops of a replay and of verify: they trust the
columns' types (the store wrote them) and build the frozen dataclass in one
step (`StoredEvent.trusted`); a row that breaks that trust raises ValueError,
TypeError or KeyError, which `decoded` reports as a CorruptRecord at the
row's position.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from sys import intern
from typing import Any

import orjson

from ledger.errors import CorruptRecord
from ledger.records import StoredEvent

# The columns of `events` in the order the store's table declares them
# (ledger/store/sql.py; tests/test_quick_read.py holds the two equal).
EVENT_COLUMNS = (
    "position",
    "id",
    "type",
    "subject",
    "version",
    "occurred_at",
    "occurred_key",
    "recorded_at",
    "recorded_by",
    "data",
    "sources",
    "leaf_hash",
    "schema",
)


def decode_row(row: Sequence[Any]) -> StoredEvent:
    """A stored event from a row of every column in EVENT_COLUMNS order."""
    return decoded(row, decode_event_row)


def decoded(row: Sequence[Any], decode: Callable[[Sequence[Any]], StoredEvent]) -> StoredEvent:
    """A row decoded, or the row reported as corrupt at its position (the first column)."""
    try:
        return decode(row)
    except (ValueError, TypeError, KeyError) as exc:  # orjson.JSONDecodeError is a ValueError
        position = row[0]
        raise CorruptRecord(
            int(position) if isinstance(position, int) else 0,
            f"the stored row was altered: it cannot be read ({str(exc).splitlines()[0]})",
        ) from None


def decode_event_row(row: Sequence[Any]) -> StoredEvent:
    """A row of every column decoded, trusting its types (`decode_row` reports a bad one)."""
    (
        position,
        event_id,
        type_,
        subject,
        version,
        occurred_at,
        occurred_key,
        recorded_at,
        recorded_by,
        data,
        sources,
        leaf_hash,
        schema,
    ) = row
    return StoredEvent.trusted(
        position=int(position),
        id=str(event_id),
        type=str(type_),
        subject=str(subject),
        version=int(version),
        occurred_at=str(occurred_at),
        recorded_at=str(recorded_at),
        recorded_by=str(recorded_by),
        data=orjson.loads(data),
        sources=orjson.loads(sources),
        leaf_hash=str(leaf_hash),
        occurred_key=str(occurred_key),
        schema=int(schema),
    )


def sourceless_decoder(keep: Callable[[str], str]) -> Callable[[Sequence[Any]], StoredEvent]:
    """A row decoder for replays without sources; `keep` is applied to repeating texts.

    The row holds every column but `sources` and `leaf_hash`, in EVENT_COLUMNS order.
    """

    def decode(row: Sequence[Any]) -> StoredEvent:
        (
            position,
            event_id,
            type_,
            subject,
            version,
            occurred_at,
            occurred_key,
            recorded_at,
            recorded_by,
            data,
            schema,
        ) = row
        return StoredEvent.trusted(
            position=int(position),
            id=str(event_id),
            type=keep(str(type_)),
            subject=keep(str(subject)),
            version=int(version),
            occurred_at=keep(str(occurred_at)),
            recorded_at=str(recorded_at),
            recorded_by=keep(str(recorded_by)),
            data=orjson.loads(data),
            sources=[],
            leaf_hash="",
            occurred_key=keep(str(occurred_key)),
            schema=int(schema),
        )

    return decode


# A replay that holds the whole log: types, subjects, recorders and days repeat
# across events, so each is kept once (interned).
decode_sourceless_row = sourceless_decoder(intern)
# A history is dropped once folded: nothing to share (str of a str is itself).
decode_history_row = sourceless_decoder(str)
