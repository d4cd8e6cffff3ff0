"""The ledger's fast canonical JSON equals the RFC 8785 reference for everything it can store."""

from __future__ import annotations

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from cli.commands_demo import example_lines
from ledger.records import canonical_json
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
