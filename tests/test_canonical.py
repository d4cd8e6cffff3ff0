"""The ledger's fast canonical JSON equals the RFC 8785 reference for everything it can store."""

from __future__ import annotations

import orjson
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from cli.commands_demo import example_lines
from ledger.records import canonical_json, content_body, leaf_body
from ledger.synthetic import synthetic_events

# Text with Korean, emoji and other astral characters, control characters,
# quotes, backslashes, U+2028/2029, and the private-use corner where UTF-16
# order and code-point order disagree.
TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(
            list('한국어인공지능"\\/\b\f\n\r\t\x00\x1f\x7f\u2028\u2029\ue000\uffff😀𝄞')
        ),
    ),
    max_size=20,
)
SAFE_INT = st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
JSON = st.recursive(
    st.none() | st.booleans() | SAFE_INT | TEXT,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(TEXT, children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=500)
@given(JSON)
def test_canonical_json_equals_rfc8785_for_any_storable_value(value):
    assert canonical_json(value) == rfc8785.dumps(value)


@given(
    st.dictionaries(
        st.sampled_from(["a", "\ue000", "\uffff", "😀", "𝄞", "z", "é"]), SAFE_INT, min_size=2
    )
)
def test_keys_are_ordered_by_utf16_code_units_as_rfc8785_requires(value):
    assert canonical_json(value) == rfc8785.dumps(value)


def test_large_integers_are_serialised_as_rfc8785_does_or_refused_alike():
    import pytest

    for value in (2**53 - 1, -(2**53) + 1):
        assert canonical_json({"n": value}) == rfc8785.dumps({"n": value})
    with pytest.raises(rfc8785.IntegerDomainError):
        canonical_json({"n": 2**60})


def test_every_example_and_synthetic_event_serialises_as_the_reference():
    import orjson

    events = [orjson.loads(line) for line in example_lines()] + list(synthetic_events(2000))
    for event in events:
        assert canonical_json(event) == rfc8785.dumps(event)


# --- canonical bytes by concatenation (records.leaf_body, records.content_body) ---


def test_orjson_writes_every_code_point_as_rfc8785_does():
    # leaf_body joins orjson's string output into the envelope: sound only if
    # each string is written byte for byte as RFC 8785 writes it.
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    for start in range(0, len(chars), 4096):
        text = "".join(chars[start : start + 4096])
        assert orjson.dumps(text) == rfc8785.dumps(text)


@settings(max_examples=300)
@given(
    event_id=TEXT,
    type_=TEXT,
    subject=TEXT,
    version=st.integers(1, 2**31),
    occurred_at=TEXT,
    recorded_at=TEXT,
    recorded_by=TEXT,
    data=st.dictionaries(TEXT, JSON, max_size=4),
    sources=st.lists(st.dictionaries(TEXT, TEXT, max_size=3), max_size=3),
    schema=st.integers(1, 3),
)
def test_leaf_body_equals_rfc8785_of_the_stored_event(
    event_id, type_, subject, version, occurred_at, recorded_at, recorded_by, data, sources, schema
):
    stored = {
        "id": event_id,
        "type": type_,
        "subject": subject,
        "version": version,
        "occurred_at": occurred_at,
        "recorded_at": recorded_at,
        "recorded_by": recorded_by,
        "data": data,
        "sources": sources,
    }
    if schema != 1:
        stored["schema"] = schema
    joined = leaf_body(
        id=event_id,
        type=type_,
        subject=subject,
        version=version,
        occurred_at=occurred_at,
        recorded_at=recorded_at,
        recorded_by=recorded_by,
        data_json=canonical_json(data),
        sources_json=canonical_json(sources),
        schema=schema,
    )
    assert joined == rfc8785.dumps(stored)
    content = {k: stored[k] for k in ("type", "subject", "occurred_at", "data", "sources")}
    assert content_body(
        type=type_,
        subject=subject,
        occurred_at=occurred_at,
        data_json=canonical_json(data),
        sources_json=canonical_json(sources),
    ) == rfc8785.dumps(content)


def test_sealed_events_hash_what_the_slow_path_hashes():
    from ledger.events import decode_event
    from ledger.records import Content, StoredEvent, canonical_bytes, derive_event_id, seal

    for raw in list(synthetic_events(300, seed=7)):
        event = decode_event(raw)
        content = Content.of(event)
        assert content.derived_id() == derive_event_id(content.facts())
        stored = seal(
            event,
            event_id=content.derived_id(),
            version=3,
            recorded_at="2026-01-01T00:00:00.000000Z",
            recorded_by="bench",
            occurred_key="",
            content=content,
        )
        assert isinstance(stored, StoredEvent)
        assert stored.canonical() == canonical_bytes(stored.to_json())


@settings(max_examples=200)
@given(TEXT)
def test_derived_ids_are_uuid5_of_the_canonical_text(text):
    import uuid

    from ledger.records import EVENT_ID_NAMESPACE, event_id_of

    body = canonical_json({"t": text})
    assert event_id_of(body) == str(uuid.uuid5(EVENT_ID_NAMESPACE, body.decode("utf-8")))
