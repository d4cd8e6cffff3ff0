"""Tests for ledger.quantities: human amounts, units, canonical form and JSON round trips."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from ledger.quantities import (
    MAX_DIGITS,
    Quantity,
    QuantityError,
    format_amount,
    normalize_unit,
    parse_amount,
    parse_quantity,
)

# (text, canonical amount, currency named in the text)
READABLE_AMOUNTS = [
    # plain numbers and grouping
    ("10,000", "10000", None),
    ("1,234.50", "1234.5", None),
    ("1,000,000", "1000000", None),
    ("1800000000000", "1800000000000", None),
    ("  42  ", "42", None),
    ("-5", "-5", None),
    ("0", "0", None),
    ("0.0", "0", None),
    ("-0", "0", None),
    ("0.50", "0.5", None),
    (".5", "0.5", None),
    ("007", "7", None),
    ("1E+3", "1000", None),
    ("1.5e-3", "0.0015", None),
    ("１０,０００", "10000", None),  # full-width digits
    # Korean
    ("1.8조", "1800000000000", None),
    ("1.8조 원", "1800000000000", "KRW"),
    ("1.8조원", "1800000000000", "KRW"),
    ("1조 8천억 원", "1800000000000", "KRW"),
    ("1조8천억원", "1800000000000", "KRW"),
    ("3조3천억원", "3300000000000", "KRW"),
    ("1억 2천만", "120000000", None),
    ("900억원", "90000000000", "KRW"),
    ("10만", "100000", None),
    ("2천", "2000", None),
    ("천", "1000", None),
    ("천만 원", "10000000", "KRW"),
    ("13.8조 원", "13800000000000", "KRW"),
    ("1,000억", "100000000000", None),
    ("3천5백억", "350000000000", None),
    ("1억 2345만 6789", "123456789", None),
    ("십억", "1000000000", None),
    ("-1.8조", "-1800000000000", None),
    ("100억 달러", "10000000000", "USD"),
    ("1경", "10000000000000000", None),
    # English
    ("1.8 trillion won", "1800000000000", "KRW"),
    ("$1.26 billion", "1260000000", "USD"),
    ("USD 1.26 billion", "1260000000", "USD"),
    ("1.26 billion dollars", "1260000000", "USD"),
    ("100 trillion won", "100000000000000", "KRW"),
    ("200 billion won", "200000000000", "KRW"),
    ("3 Million euros", "3000000", "EUR"),
    ("5 thousand", "5000", None),
    ("2.5bn", "2500000000", None),
    ("$1.26bn", "1260000000", "USD"),
    ("₩1.8T", "1800000000000", "KRW"),
    ("€5M", "5000000", "EUR"),
    ("$10k", "10000", "USD"),
    ("£3B", "3000000000", "GBP"),
    # currencies before, after, symbol or code, with a sign
    ("$5", "5", "USD"),
    ("-$5", "-5", "USD"),
    ("$-5", "-5", "USD"),
    ("5 €", "5", "EUR"),
    ("¥1000", "1000", "JPY"),
    ("KRW 1,000", "1000", "KRW"),
    ("1000 krw", "1000", "KRW"),
    ("US$ 7", "7", "USD"),
    ("$5 USD", "5", "USD"),  # the same currency twice is fine
    ("￦5,000", "5000", "KRW"),  # full-width won sign
]


@pytest.mark.parametrize(("text", "amount", "currency"), READABLE_AMOUNTS)
def test_parse_amount_reads(text: str, amount: str, currency: str | None) -> None:
    value, named = parse_amount(text)
    assert isinstance(value, Decimal)
    assert format_amount(value) == amount
    assert value == Decimal(amount)
    assert named == currency


# (text, a fragment the one-line reason must contain)
UNREADABLE_AMOUNTS = [
    ("", "empty"),
    ("   ", "empty"),
    ("abc", "unknown word 'abc'"),
    ("1.2.3", "more than one decimal point"),
    ("조", "needs a number"),
    ("억 원", "needs a number"),
    ("1조조", "repeated or out of order"),
    ("1만 1억", "repeated or out of order"),
    ("1천2천", "repeated or out of order"),
    ("--5", "more than one minus sign"),
    ("5-", "minus sign may only lead"),
    ("1,00,0", "ambiguous digit grouping"),
    ("1,00,000", "ambiguous digit grouping"),
    ("1,0000", "ambiguous digit grouping"),
    ("1.000,5", "grouping after the decimal point"),
    ("1.", "no digits after the decimal point"),
    ("1 000", "two numbers in a row"),
    ("NaN", "unknown word"),
    ("Infinity", "unknown word"),
    ("1.5조 3천억", "decimal point is only read"),
    ("12천", "single digit"),
    ("1조 10000억", "does not fit"),
    ("1천 5000", "does not fit"),
    ("1.8조 trillion", "mixes Korean and English"),
    ("1 billion 2 million", "unexpected"),
    ("5T", "only read next to a currency"),
    ("10k", "only read next to a currency"),
    ("$1.26 B", "must be attached"),
    ("5m dollars", "unknown word 'm'"),  # lowercase m stays metres, not million
    ("1e3조", "exponent is only read in a plain amount"),
    ("1E+999", "digits before the decimal point"),
    ("1E-999", "digits after the decimal point"),
    ("1" * 41, "significant digits"),
    ("$5 won", "names two currencies"),
    ("5 won 3", "must come before or after"),
    ("$", "no number"),
    ("billion", "expected a number"),
    ("10,000개", "unknown word '개'"),  # Korean counters must be split off as a unit
    ("5 pounds", "unknown word 'pounds'"),  # pound is also a weight: write £ or GBP
    ("1/2", "unexpected character '/'"),
    ("+5", "unexpected character '+'"),
    ("x" * 500, "longer than 200 characters"),
]


@pytest.mark.parametrize(("text", "reason"), UNREADABLE_AMOUNTS)
def test_parse_amount_refuses(text: str, reason: str) -> None:
    with pytest.raises(QuantityError) as caught:
        parse_amount(text)
    message = str(caught.value)
    assert reason in message
    assert "\n" not in message
    assert message.startswith("cannot read amount ")


def test_error_names_the_offending_text() -> None:
    with pytest.raises(QuantityError, match=r"^cannot read amount '1\.2\.3': more than one"):
        parse_amount("1.2.3")


@pytest.mark.parametrize("amount", [1.5, 0.0, float("nan"), float("inf"), 1e12])
def test_floats_are_refused_everywhere(amount: float) -> None:
    with pytest.raises(QuantityError, match="floats are not accepted"):
        parse_amount(amount)  # type: ignore[arg-type]
    with pytest.raises(QuantityError, match="floats are not accepted"):
        parse_quantity(amount, "KRW")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="floats are not accepted"):
        Quantity.model_validate({"amount": amount, "unit": "KRW"})


def test_json_float_is_refused() -> None:
    with pytest.raises(ValidationError, match="floats are not accepted"):
        Quantity.model_validate_json('{"amount": 1.5, "unit": "KRW"}')


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        (True, "boolean"),
        (Decimal("NaN"), "not a finite number"),
        (Decimal("-Infinity"), "not a finite number"),
        (10**41, "digits"),
        pytest.param(10**5000, "more than 40 digits", id="giant-int"),
        (Decimal("1E+50"), "digits before the decimal point"),
        ([5], "expected a string, int or Decimal"),
    ],
)
def test_non_text_amounts_refused(amount: object, reason: str) -> None:
    with pytest.raises(QuantityError, match=reason):
        parse_quantity(amount, "KRW")  # type: ignore[arg-type]


# (amount, unit, canonical amount, unit)
QUANTITIES = [
    ("1.8조 원", None, "1800000000000", "KRW"),
    ("1.8조", "원", "1800000000000", "KRW"),
    ("1.8조", "won", "1800000000000", "KRW"),
    ("$1.26 billion", "USD", "1260000000", "USD"),
    ("$1.26 billion", "dollars", "1260000000", "USD"),
    ("10,000 GPU", None, "10000", "GPU"),
    ("10,000 GPU", "GPU", "10000", "GPU"),
    ("1.8조 GPU", None, "1800000000000", "GPU"),
    ("3 person", None, "3", "person"),
    ("5 million people", None, "5000000", "people"),
    ("10,000 개", None, "10000", "개"),
    ("50 %", None, "50", "%"),
    ("12", "step", "12", "step"),
    (1800000000000, "KRW", "1800000000000", "KRW"),
    (-3, "person", "-3", "person"),
    (Decimal("1.800"), "₩", "1.8", "KRW"),
    (Decimal("1.8E+12"), "krw", "1800000000000", "KRW"),
    ("€5M", None, "5000000", "EUR"),
    ("¥100", "JPY", "100", "JPY"),
]


@pytest.mark.parametrize(("amount", "unit", "expected", "expected_unit"), QUANTITIES)
def test_parse_quantity(
    amount: str | int | Decimal, unit: str | None, expected: str, expected_unit: str
) -> None:
    quantity = parse_quantity(amount, unit)
    assert quantity.model_dump(mode="json") == {"amount": expected, "unit": expected_unit}
    assert str(quantity.amount) == expected  # the stored Decimal itself is canonical


@pytest.mark.parametrize(
    ("amount", "unit", "reason"),
    [
        ("$5", "KRW", "unit conflict: amount '$5' is in USD but the unit is 'KRW'"),
        ("1.8조 원", "USD", "unit conflict"),
        ("₩1.8T", "GPU", "unit conflict"),
        ("1.8조원 GPU", None, "unit conflict"),
        ("10,000 GPU", "person", "unit conflict"),
        ("10,000 GPU", "gpu", "unit conflict"),  # free tokens are case-sensitive
        ("5", None, "no unit"),
        (5, None, "no unit"),
        ("1.8조", None, "no unit"),
        ("5", "", "bad unit"),
        ("5", "  ", "bad unit"),
        ("5", "two words", "without spaces"),
        ("5", "x" * 41, "longer than 40"),
        ("5", "a\x00", "control characters"),
        ("5 T", None, "only read next to a currency"),
        ("abc GPU", None, "unknown word 'abc'"),
        ("1.2.3 GPU", None, "more than one decimal point"),
    ],
)
def test_parse_quantity_refuses(amount: str | int, unit: str | None, reason: str) -> None:
    with pytest.raises(QuantityError) as caught:
        parse_quantity(amount, unit)
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("won", "KRW"),
        ("WON", "KRW"),
        ("원", "KRW"),
        ("₩", "KRW"),
        ("krw", "KRW"),
        ("$", "USD"),
        ("dollar", "USD"),
        ("Dollars", "USD"),
        ("usd", "USD"),
        ("€", "EUR"),
        ("euros", "EUR"),
        ("£", "GBP"),
        ("¥", "JPY"),
        ("yuan", "CNY"),
        ("GPU", "GPU"),
        (" person ", "person"),
        ("tCO2e", "tCO2e"),
        ("SEK", "SEK"),  # an ISO code outside the alias table is kept as a free token
        ("e\u0301tape", "\u00e9tape"),  # NFC
    ],
)
def test_normalize_unit(unit: str, expected: str) -> None:
    assert normalize_unit(unit) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1800000000000"), "1800000000000"),
        (Decimal("1.8E+12"), "1800000000000"),
        (Decimal("1E+3"), "1000"),
        (Decimal("0.5"), "0.5"),
        (Decimal("0.50000"), "0.5"),
        (Decimal("1234.50"), "1234.5"),
        (Decimal("100"), "100"),
        (Decimal("100.000"), "100"),
        (Decimal("0"), "0"),
        (Decimal("-0"), "0"),
        (Decimal("0E+7"), "0"),
        (Decimal("0.000"), "0"),
        (Decimal("-12.30"), "-12.3"),
        (Decimal("1E-40"), "0." + "0" * 39 + "1"),
        (Decimal("9" * 40), "9" * 40),
    ],
)
def test_format_amount(value: Decimal, expected: str) -> None:
    assert format_amount(value) == expected


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("1E+40")])
def test_format_amount_refuses(value: Decimal) -> None:
    with pytest.raises(QuantityError):
        format_amount(value)


@pytest.mark.parametrize(
    ("amount", "unit"),
    [
        ("1조 8천억 원", None),
        ("$1.26bn", None),
        ("10,000 GPU", None),
        ("0.50", "person"),
        (-7, "KRW"),
    ],
)
def test_json_round_trip(amount: str | int, unit: str | None) -> None:
    quantity = parse_quantity(amount, unit)
    dumped = quantity.model_dump(mode="json")
    assert isinstance(dumped["amount"], str)
    assert Quantity.model_validate(dumped) == quantity
    assert Quantity.model_validate_json(quantity.model_dump_json()) == quantity
    assert json.loads(quantity.model_dump_json()) == dumped
    assert quantity.model_dump() == dumped  # Python dumps carry the string too


def test_quantity_accepts_human_input_and_serialises_canonically() -> None:
    quantity = Quantity.model_validate({"amount": "1.8조 원", "unit": None})
    assert quantity.model_dump_json() == '{"amount":"1800000000000","unit":"KRW"}'
    assert quantity == parse_quantity(1800000000000, "KRW")
    assert hash(quantity) == hash(parse_quantity("1,800,000,000,000", "won"))


def test_quantity_reads_big_json_integers_exactly() -> None:
    quantity = Quantity.model_validate_json(
        '{"amount": 123456789012345678901234567890, "unit": "₩"}'
    )
    assert quantity.model_dump(mode="json") == {
        "amount": "123456789012345678901234567890",
        "unit": "KRW",
    }


@pytest.mark.parametrize(
    "data",
    [
        {"amount": "5", "unit": "KRW", "note": "x"},  # extra="forbid"
        {"unit": "KRW"},  # amount is required
        {"amount": "5", "unit": 5},  # unit must be text
        "5 KRW",  # a Quantity is an object, not a string
    ],
)
def test_quantity_refuses_bad_shapes(data: object) -> None:
    with pytest.raises(ValidationError):
        Quantity.model_validate(data)


def test_quantity_is_frozen() -> None:
    quantity = parse_quantity("5", "KRW")
    with pytest.raises(ValidationError):
        quantity.unit = "USD"  # type: ignore[misc]


@st.composite
def in_range_decimals(draw: st.DrawFn) -> Decimal:
    """Any finite Decimal within MAX_DIGITS: up to 40 significant, integer and fraction digits."""
    digits = draw(st.integers(min_value=1, max_value=MAX_DIGITS))
    coefficient = draw(st.integers(min_value=0, max_value=10**digits - 1))
    exponent = draw(st.integers(min_value=-MAX_DIGITS, max_value=MAX_DIGITS - digits))
    sign = draw(st.sampled_from(["", "-"]))
    return Decimal(f"{sign}{coefficient}E{exponent}")


@given(in_range_decimals())
def test_format_then_parse_round_trips(value: Decimal) -> None:
    text = format_amount(value)
    quantity = parse_quantity(text, "KRW")
    assert quantity.amount == value
    assert format_amount(quantity.amount) == text
    assert Quantity.model_validate(quantity.model_dump(mode="json")) == quantity
    assert "E" not in text and "," not in text
    assert not ("." in text and text.endswith("0"))


@given(st.text(max_size=60))
def test_reader_only_ever_raises_quantity_error(text: str) -> None:
    try:
        value, _ = parse_amount(text)
    except QuantityError as error:
        assert "\n" not in str(error)
    else:
        assert value.is_finite()
