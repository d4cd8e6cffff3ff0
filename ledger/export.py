"""The export document (spec section 5): the derived state as one deterministic JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import orjson

from ledger.bulk import bulk
from ledger.continuity import continuity_report
from ledger.merkle import root_of
from ledger.projections import View, project_ledger
from ledger.records import StoredEvent, format_recorded_at

EXPORT_FORMAT = "policy-ledger/export@1"


def _recorded_by(events: Iterable[StoredEvent], view: View) -> Iterator[StoredEvent]:
    """The log prefix the ledger held at `known_at` (all of it without)."""
    known_key = format_recorded_at(view.known_at) if view.known_at else None
    for stored in events:
        if known_key is not None and stored.recorded_at > known_key:
            return
        yield stored


@bulk
def export_document(
    events: Iterable[StoredEvent], view: View, sections: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The export document for the events (in position order) as a view sees them.

    `sections` (actors, offices, commitments, budgets) may come from the read
    models; without them the state is replayed from the events, the reference
    the read models are tested against.
    """
    visible = list(_recorded_by(events, view))
    size, root = root_of(e.leaf_hash for e in visible)
    return assemble(
        view,
        size=size,
        root=root,
        continuity=continuity_report(visible, view).to_json(),
        sections=sections if sections is not None else project_ledger(visible, view).to_json(),
    )


def assemble(
    view: View, *, size: int, root: str, continuity: dict[str, Any], sections: dict[str, Any]
) -> dict[str, Any]:
    """The export document from its parts, however they were computed.

    `export_document` computes them from the events in memory (the reference);
    `Ledger.export` from the store without holding the log.
    """
    document: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "ledger": {
            "size": size,
            "root": root,
            "as_of": format_recorded_at(view.as_of) if view.as_of else None,
            "known_at": format_recorded_at(view.known_at) if view.known_at else None,
            "judged_on": view.judged_on.isoformat(),
            "timezone": view.tz.key,
        },
        "continuity": continuity,
    }
    document.update(sections)
    return document


_FORM = orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2


def export_bytes(document: dict[str, Any]) -> bytes:
    """The document's bytes: keys sorted, two-space indent, newline-terminated."""
    return orjson.dumps(document, option=_FORM) + b"\n"


# A state section handed over in parts: (section, [(subject, export form), ...]).
SectionPart = tuple[str, list[tuple[str, Any]]]


@dataclass(frozen=True)
class ExportStream:
    """The export document as bytes to write, with the size and root it states."""

    size: int
    root: str
    chunks: Iterator[bytes]


def streamed_bytes(
    fixed: dict[str, Any], sections: Sequence[str], parts: Iterable[SectionPart]
) -> Iterator[bytes]:
    """`export_bytes` of `fixed` plus the state sections, written as the parts come.

    `parts` give every section named in `sections`, in sorted order of
    section, each's subjects sorted, at least one (possibly empty) part per
    section. Nothing but one part is held: a million events' state is
    gigabytes as one document. The bytes are `export_bytes`'s exactly: orjson
    writes every nested value the same way at any depth, only indented, and
    no JSON text holds a raw newline, so indenting a value is replacing them.
    """
    pending = iter(parts)
    part = next(pending, None)
    yield b"{"
    for number, key in enumerate(sorted([*fixed, *sections])):
        yield (b",\n  " if number else b"\n  ") + orjson.dumps(key) + b": "
        if key in fixed:
            yield _indented(orjson.dumps(fixed[key], option=_FORM), 1)
            continue
        written = False
        while part is not None and part[0] == key:
            if part[1]:
                # A part dumped as one object, its braces cut off: its entries
                # are this section's, one level in (one orjson call a part).
                body = orjson.dumps(dict(part[1]), option=_FORM)[2:-2]
                yield (b",\n  " if written else b"{\n  ") + _indented(body, 1)
                written = True
            part = next(pending, None)
        yield b"\n  }" if written else b"{}"
    if part is not None:
        raise ValueError(f"section {part[0]!r} is out of order or not named")
    yield b"\n}\n" if fixed or sections else b"}\n"


def _indented(text: bytes, depth: int) -> bytes:
    return text.replace(b"\n", b"\n" + b"  " * depth)


def event_line(stored: StoredEvent) -> bytes:
    """One export-events line: every stored field, keys sorted."""
    return orjson.dumps(stored.to_json(), option=orjson.OPT_SORT_KEYS) + b"\n"


def export_schema() -> dict[str, Any]:
    """The JSON Schema of the export document, as shipped in the package."""
    text = resources.files("ledger.schema").joinpath("export.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
