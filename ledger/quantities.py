"""Quantities: exact amounts with a unit, read from human text such as "1조 8천억 원" or "$1.26bn".

Amounts are Decimals from end to end and are never floats: a ledger of budget commitments must
reproduce "1.8조" as exactly 1800000000000, and a float would not. Stored amounts are canonical
plain decimal strings, so the same quantity always serialises (and hashes) the same way.

What the reader accepts, in brief:

* plain numbers: ``"10,000"``, ``"1,234.50"``, ``"-5"``, ``"0.5"``, ``"1E+3"`` (an exponent only in
  a plain amount); commas must group by three (``"1,00,0"`` and Indian ``"1,00,000"`` are refused);
* Korean: 만/억/조/경 with 천/백/십 inside them
  (``"1조 8천억 원"``, ``"3조3천억원"``, ``"천만 원"``);
  a big unit needs a number before it (``"조"`` and ``"만 원"`` are refused, write ``"1만 원"``);
  a decimal point only in a one-number amount (``"1.8조"``, not ``"1.5조 3천억"``);
  Korean numeral words (일, 이, 삼 ...) are not read;
* English: thousand/million/billion/trillion and mn/bn/tn (any case), one scale word per amount;
  the one-letter abbreviations k/K, M, B, T only when attached to the number and the amount names
  a currency (``"₩1.8T"``, ``"$10k"``), because a bare ``"5T"`` could as well be tonnes;
* currencies before or after the number, as a symbol, word or code (see ``_CURRENCY_ALIASES``);
  ``¥`` means JPY (write CNY/yuan/元 for renminbi), ``$`` means USD, and "pound(s)" is not a
  currency word because it is also a weight (write ``£`` or ``GBP``).
"""

from __future__ import annotations

import re
import unicodedata
from decimal import (
    Context,
    Decimal,
    DecimalException,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    Rounded,
    localcontext,
)
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, field_serializer, model_validator

# What the folds need of amounts lives in ledger/amounts.py, which imports no
# pydantic; re-exported here, where the rest of the reader expects them.
from ledger.amounts import AMOUNT_CONTEXT as AMOUNT_CONTEXT
from ledger.amounts import ISO_4217 as ISO_4217
from ledger.amounts import MAX_DIGITS as MAX_DIGITS
from ledger.amounts import QuantityError as QuantityError
from ledger.amounts import cannot_read as _cannot_read
from ledger.amounts import check_bounds as _check_bounds
from ledger.amounts import exact_arithmetic as exact_arithmetic
from ledger.amounts import format_amount as format_amount
from ledger.amounts import format_total as format_total
from ledger.amounts import is_currency as is_currency
from ledger.amounts import plain as _plain
from ledger.amounts import show as _show

MAX_TEXT_LENGTH = 200  # longer amount text is refused before any parsing work is done
MAX_UNIT_LENGTH = 40
_MAX_EXPONENT_DIGITS = 3  # "1E+999" is the largest exponent even looked at

# Arithmetic on amounts must be exact: any rounding means an absurd input, so trap it.
_EXACT = Context(prec=60, traps=[InvalidOperation, DivisionByZero, Overflow, Inexact, Rounded])

# ISO 4217 codes recognised inside amount text ("USD 1.26 billion", "5 eur"). Kept short on
# purpose: many codes are also English words (ALL, CUP, TOP) that would misread free units.
_ISO_CODES = frozenset(
    {"KRW", "USD", "EUR", "GBP", "JPY", "CNY", "CHF", "CAD", "AUD", "HKD", "TWD", "SGD", "INR"}
)

# Currency names and symbols -> ISO 4217, keyed by casefolded text.
_CURRENCY_ALIASES: dict[str, str] = {
    "₩": "KRW",
    "￦": "KRW",
    "won": "KRW",
    "원": "KRW",
    "$": "USD",
    "us$": "USD",
    "dollar": "USD",
    "dollars": "USD",
    "달러": "USD",
    "€": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "유로": "EUR",
    "£": "GBP",
    "¥": "JPY",
    "￥": "JPY",
    "yen": "JPY",
    "엔": "JPY",
    "円": "JPY",
    "yuan": "CNY",
    "rmb": "CNY",
    "元": "CNY",
    "위안": "CNY",
} | {code.casefold(): code for code in _ISO_CODES}

# English scale words (matched case-insensitively) and one-letter abbreviations (case-sensitive:
# lowercase m and b would be metres and bits), as powers of ten.
_SCALE_WORDS = {
    "thousand": 3,
    "million": 6,
    "billion": 9,
    "trillion": 12,
    "mn": 6,
    "bn": 9,
    "tn": 12,
}
_SCALE_LETTERS = {"k": 3, "K": 3, "M": 6, "B": 9, "T": 12}

# Korean numeral units: big ones group by four digits, small ones count inside a group.
_KOREAN_BIG = {"만": 4, "억": 8, "조": 12, "경": 16}
_KOREAN_SMALL = {"십": 1, "백": 2, "천": 3}

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    |(?P<number>(?:[0-9]|\.[0-9])[0-9.,]*(?:[eE][+-]?[0-9]+)?)
    |(?P<sign>[-−])
    |(?P<korean>[십백천만억조경])
    |(?P<word>US\$|[₩$€£¥円元]|달러|유로|위안|원|엔|[A-Za-z]+|[가-힣]+)
    |(?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_NUMBER = re.compile(r"(?P<mantissa>[0-9.,]*)(?:[eE](?P<exponent>[+-]?[0-9]+))?")
# The canonical stored form, within MAX_DIGITS: what format_amount writes.
_STORED_AMOUNT = re.compile(r"-?(?:0|[1-9][0-9]{0,39})(?:\.[0-9]{0,39}[1-9])?")
_GROUPED = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+")
_TRAILING_UNIT = re.compile(r"(?P<amount>.*\S)\s+(?P<unit>\S+)", re.DOTALL)


class Quantity(BaseModel):
    """An exact amount with its unit: an ISO 4217 currency code or a free token like "GPU"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: Decimal
    unit: str

    @model_validator(mode="before")
    @classmethod
    def _read_amount_and_unit(cls, data: Any) -> Any:
        """Read human amounts and unit aliases; other shapes are left for pydantic to reject."""
        if not isinstance(data, dict) or "amount" not in data:
            return data
        fields = dict(data)
        amount, unit = fields.pop("amount"), fields.pop("unit", None)
        # Fast path for the stored form ("1800000000000", "0.5"): every stored
        # event is read back through here, and it needs no human-amount reader.
        if isinstance(amount, str) and isinstance(unit, str) and _STORED_AMOUNT.fullmatch(amount):
            value = Decimal(amount)
            # The pattern bounds the digits on each side of the point; their sum
            # can pass MAX_DIGITS only in a text longer than MAX_DIGITS + 1.
            if len(amount) > MAX_DIGITS + 1:
                _check_bounds(value, amount)
            return {**fields, "amount": value, "unit": normalize_unit(unit)}
        value, unit = _resolve(amount, unit)
        return {**fields, "amount": value, "unit": unit}

    @field_serializer("amount")
    def _serialize_amount(self, amount: Decimal) -> str:
        """Dump the canonical string in every mode, so canonical JSON never meets a Decimal.

        Every amount was bounds-checked when it was read (both paths of the
        validator above), so dumping only formats it: the import dumps each
        amount once per event, and checking it again cost 3 µs an event.
        """
        return _plain(amount)


def parse_amount(text: str | int) -> tuple[Decimal, str | None]:
    """Read a human or plain amount; return the value and the ISO currency it names, if any."""
    if isinstance(text, str):
        return _read(text)
    return _amount_value(text), None


def parse_quantity(amount: str | int | Decimal, unit: str | None = None) -> Quantity:
    """Read an amount plus an optional unit (which may also trail the amount) into a Quantity."""
    value, resolved_unit = _resolve(amount, unit)
    return Quantity(amount=value, unit=resolved_unit)


def normalize_unit(unit: str) -> str:
    """Map currency aliases to ISO 4217 codes; keep other short tokens as given (stripped, NFC)."""
    if not isinstance(unit, str):
        raise QuantityError(f"unit must be a string, got {type(unit).__name__}")
    token = unicodedata.normalize("NFC", unit).strip()
    if not token:
        raise QuantityError("bad unit '': empty")
    code = _CURRENCY_ALIASES.get(token.casefold())
    if code is not None:
        return code
    if len(token) > MAX_UNIT_LENGTH:
        raise QuantityError(f"bad unit {_show(token)}: longer than {MAX_UNIT_LENGTH} characters")
    if any(char.isspace() for char in token):
        raise QuantityError(f"bad unit {_show(token)}: a unit is one token, without spaces")
    if not token.isprintable():
        raise QuantityError(f"bad unit {_show(token)}: contains control characters")
    return token


# --- resolving amount and unit together ---------------------------------------------------


def _resolve(amount: object, unit: object) -> tuple[Decimal, str]:
    """Read an amount and reconcile every unit it names; return (canonical value, unit)."""
    trailing: str | None = None
    if isinstance(amount, str):
        text, trailing = _split_trailing_unit(amount)
        value, currency = _read(text)
    else:
        value, currency = _amount_value(amount), None
    if unit is not None and not isinstance(unit, str):
        raise QuantityError(f"unit must be a string, got {type(unit).__name__}")

    named: list[str] = []  # every unit named anywhere, normalised; they must all agree
    if currency is not None:
        named.append(currency)
    if trailing is not None:
        named.append(normalize_unit(trailing))
    if unit is not None:
        named.append(normalize_unit(unit))
    if not named:
        raise QuantityError(
            f"no unit for amount {_show(amount)}: pass a unit or name a currency in the amount"
        )
    for other in named[1:]:
        if other != named[0]:
            raise QuantityError(
                f"unit conflict: amount {_show(amount)} is in {named[0]} but the unit is {other!r}"
            )
    return _canonical(value), named[0]


def _split_trailing_unit(text: str) -> tuple[str, str | None]:
    """Split "10,000 GPU" into ("10,000", "GPU"); a trailing word the reader knows stays put."""
    match = _TRAILING_UNIT.fullmatch(text.strip())
    if match is None or _is_amount_vocabulary(match["unit"]):
        return text, None
    return match["amount"], match["unit"]


def _is_amount_vocabulary(chunk: str) -> bool:
    """True when every piece of `chunk` is something an amount can contain (number, scale, ...)."""
    return all(token.kind not in ("unknown", "other") for token in _tokenize(chunk))


def _amount_value(amount: object) -> Decimal:
    """Turn a non-text amount (int or Decimal) into a checked Decimal; floats are refused."""
    # bool is an int subclass, and float would carry binary rounding error into the ledger
    if isinstance(amount, bool):
        raise QuantityError(f"cannot read amount {amount!r}: a boolean is not an amount")
    if isinstance(amount, float):
        raise QuantityError(
            f"cannot read amount {amount!r}: floats are not accepted, pass a string or an int"
        )
    if isinstance(amount, int):
        # refuse giant ints before anything turns them into (slow, length-limited) text
        if amount.bit_length() > 4 * MAX_DIGITS:
            raise QuantityError(f"cannot read amount: an int of more than {MAX_DIGITS} digits")
        value = Decimal(amount)
    elif isinstance(amount, Decimal):
        value = amount
    else:
        raise QuantityError(
            f"cannot read amount {_show(amount)}: expected a string, int or Decimal, "
            f"got {type(amount).__name__}"
        )
    _check_bounds(value, str(amount))
    return _canonical(value)


def _canonical(value: Decimal) -> Decimal:
    """Return the Decimal whose str() is canonical: 1.8E+12 -> Decimal("1800000000000")."""
    return Decimal(format_amount(value))


# --- reading amount text ------------------------------------------------------------------


class _Token(NamedTuple):
    kind: str  # number, sign, big, small, currency, scale, letter, unknown, other
    text: str
    spaced: bool  # whitespace came right before it
    power: int = 0  # power of ten for big/small/scale/letter
    code: str = ""  # ISO code for currency


def _tokenize(text: str) -> list[_Token]:
    """Split amount text into tokens; unknown words become 'unknown' tokens, not errors."""
    # NFKC folds full-width digits and symbols ("１０", "￦") common in Korean and Japanese text
    text = unicodedata.normalize("NFKC", text)
    tokens: list[_Token] = []
    spaced = False
    for match in _TOKEN.finditer(text):
        kind, piece = match.lastgroup or "other", match.group()
        if kind == "space":
            spaced = True
            continue
        tokens.append(_classify(kind, piece, spaced))
        spaced = False
    return tokens


def _classify(kind: str, piece: str, spaced: bool) -> _Token:
    """Give a raw regex match its meaning: which Korean unit, currency or scale word it is."""
    if kind == "korean":
        if piece in _KOREAN_BIG:
            return _Token("big", piece, spaced, power=_KOREAN_BIG[piece])
        return _Token("small", piece, spaced, power=_KOREAN_SMALL[piece])
    if kind == "word":
        code = _CURRENCY_ALIASES.get(piece.casefold())
        if code is not None:
            return _Token("currency", piece, spaced, code=code)
        if piece.casefold() in _SCALE_WORDS:
            return _Token("scale", piece, spaced, power=_SCALE_WORDS[piece.casefold()])
        if piece in _SCALE_LETTERS:
            return _Token("letter", piece, spaced, power=_SCALE_LETTERS[piece])
        return _Token("unknown", piece, spaced)
    return _Token(kind, piece, spaced)


def _read(text: str) -> tuple[Decimal, str | None]:
    """Read amount text into (value, ISO currency or None), or raise a one-line QuantityError."""
    if len(text) > MAX_TEXT_LENGTH:
        raise _cannot_read(text, f"longer than {MAX_TEXT_LENGTH} characters")
    if not text.strip():
        raise _cannot_read(text, "empty")
    tokens = _tokenize(text)
    for token in tokens:
        if token.kind == "unknown":
            raise _cannot_read(text, f"unknown word {token.text!r}")
        if token.kind == "other":
            raise _cannot_read(text, f"unexpected character {token.text!r}")
    negative, currency, body = _split_affixes(text, tokens)
    try:
        with localcontext(_EXACT):
            value = _read_body(text, body, has_currency=currency is not None)
            value = -value if negative else value
    except DecimalException:
        raise _cannot_read(text, "too many digits to hold exactly") from None
    _check_bounds(value, text)
    return _canonical(value), currency


def _split_affixes(text: str, tokens: list[_Token]) -> tuple[bool, str | None, list[_Token]]:
    """Peel off a leading minus and currencies at either end ("-$5", "$-5", "5 won")."""
    body = list(tokens)
    if sum(token.kind == "sign" for token in body) > 1:
        raise _cannot_read(text, "more than one minus sign")
    negative = False
    currencies: list[str] = []
    for _ in range(2):  # sign and leading currency may come in either order
        if body and body[0].kind == "sign" and not negative:
            negative = True
            body.pop(0)
        if body and body[0].kind == "currency" and not currencies:
            currencies.append(body.pop(0).code)
    if body and body[-1].kind == "currency":
        currencies.append(body.pop().code)
    for token in body:
        if token.kind == "sign":
            raise _cannot_read(text, "a minus sign may only lead the amount")
        if token.kind == "currency":
            raise _cannot_read(
                text, f"currency {token.text!r} must come before or after the number"
            )
    if len(set(currencies)) > 1:
        raise _cannot_read(text, f"names two currencies ({' and '.join(currencies)})")
    return negative, (currencies[0] if currencies else None), body


def _read_body(text: str, body: list[_Token], *, has_currency: bool) -> Decimal:
    """Read the number part, choosing the Korean or the English reading."""
    if not body:
        raise _cannot_read(text, "no number")
    kinds = {token.kind for token in body}
    if kinds & {"big", "small"}:
        if kinds & {"scale", "letter"}:
            raise _cannot_read(text, "mixes Korean and English number words")
        return _read_korean(text, body)
    return _read_english(text, body, has_currency=has_currency)


def _read_english(text: str, body: list[_Token], *, has_currency: bool) -> Decimal:
    """Read `number [scale]`, e.g. "1.26 billion", "1.8T", "10,000"."""
    first, *rest = body
    if first.kind != "number":
        raise _cannot_read(text, f"expected a number before {first.text!r}")
    if rest and rest[0].kind == "number":
        raise _cannot_read(
            text,
            f"two numbers in a row ({first.text!r}, {rest[0].text!r}); group digits with commas",
        )
    if len(rest) > 1 or (rest and rest[0].kind not in ("scale", "letter")):
        raise _cannot_read(text, f"unexpected {rest[-1].text!r} after the number")
    value = _read_number(text, first.text, allow_exponent=not rest)
    if not rest:
        return value
    scale = rest[0]
    if scale.kind == "letter" and not has_currency:
        raise _cannot_read(
            text,
            f"the abbreviation {scale.text!r} is only read next to a currency "
            "(write thousand/million/billion/trillion)",
        )
    if scale.kind == "letter" and scale.spaced:
        raise _cannot_read(text, f"the abbreviation {scale.text!r} must be attached to the number")
    return value.scaleb(scale.power)


def _read_korean(text: str, body: list[_Token]) -> Decimal:
    """Read Korean composition: groups ending in 경/조/억/만, descending, then a remainder."""
    numbers = [_read_number(text, t.text, allow_exponent=False) for t in body if t.kind == "number"]
    if len(numbers) > 1 and any(number != number.to_integral_value() for number in numbers):
        raise _cannot_read(
            text, "a decimal point is only read in a one-number Korean amount such as '1.8조'"
        )
    total = Decimal(0)
    previous: _Token | None = None  # the last big unit, which bounds everything after it
    group: list[_Token] = []
    for token in body:
        if token.kind != "big":
            group.append(token)
            continue
        if previous is not None and token.power >= previous.power:
            raise _cannot_read(text, f"{token.text!r} repeated or out of order")
        if not group:
            raise _cannot_read(text, f"{token.text!r} needs a number before it")
        value = _read_korean_group(text, group)
        # "1조 10000억" is not a way of writing 2조: each group must fit below the unit before it
        if previous is not None and value.scaleb(token.power) >= Decimal(1).scaleb(previous.power):
            raise _cannot_read(
                text, f"'{format_amount(value)}{token.text}' does not fit below {previous.text!r}"
            )
        total += value.scaleb(token.power)
        previous, group = token, []
    if group:
        value = _read_korean_group(text, group)
        if previous is not None and value >= Decimal(1).scaleb(previous.power):
            raise _cannot_read(
                text, f"{format_amount(value)!r} does not fit below {previous.text!r}"
            )
        total += value
    return total


def _read_korean_group(text: str, group: list[_Token]) -> Decimal:
    """Read one four-digit group such as "8천", "3천5백", "1,000" or "천" (a bare 천 is 1000)."""
    total = Decimal(0)
    pending: _Token | None = None  # a number waiting for the small unit that may follow it
    smallest: _Token | None = None  # the last small unit, which bounds everything after it
    for token in group:
        if token.kind == "number":
            if pending is not None:
                raise _cannot_read(text, f"two numbers in a row ({pending.text!r}, {token.text!r})")
            pending = token
            continue
        if token.kind != "small":
            raise _cannot_read(text, f"unexpected {token.text!r} in a Korean amount")
        if smallest is not None and token.power >= smallest.power:
            raise _cannot_read(text, f"{token.text!r} repeated or out of order")
        digit = (
            Decimal(1)
            if pending is None
            else _read_number(text, pending.text, allow_exponent=False)
        )
        # "8천" is usual; "12천" or "1.5천" is a typo more often than a way of writing a number
        if not (1 <= digit <= 9 and digit == digit.to_integral_value()):
            raise _cannot_read(text, f"only a single digit 1-9 may come before {token.text!r}")
        total += digit.scaleb(token.power)
        pending, smallest = None, token
    if pending is not None:
        value = _read_number(text, pending.text, allow_exponent=False)
        if smallest is not None and value >= Decimal(1).scaleb(smallest.power):
            raise _cannot_read(text, f"{pending.text!r} does not fit below {smallest.text!r}")
        total += value
    return total


def _read_number(text: str, raw: str, *, allow_exponent: bool) -> Decimal:
    """Read one digit string such as "1,234.50" or "1E+3", checking grouping and points."""
    match = _NUMBER.fullmatch(raw)
    if match is None:  # the tokenizer only yields digits, points, commas and one exponent
        raise _cannot_read(text, f"malformed number {raw!r}")
    mantissa, exponent = match["mantissa"], match["exponent"]
    if mantissa.count(".") > 1:
        raise _cannot_read(text, "more than one decimal point")
    whole, point, fraction = mantissa.partition(".")
    if "," in fraction:
        raise _cannot_read(text, "digit grouping after the decimal point")
    if point and not fraction:
        raise _cannot_read(text, "no digits after the decimal point")
    # only groups of three are unambiguous: "1,00,0" or Indian "1,00,000" could be typos
    if "," in whole and not _GROUPED.fullmatch(whole):
        raise _cannot_read(text, f"ambiguous digit grouping {raw!r} (use groups of three)")
    if exponent is not None:
        if not allow_exponent:
            raise _cannot_read(text, "an exponent is only read in a plain amount like '1E+3'")
        if len(exponent.lstrip("+-")) > _MAX_EXPONENT_DIGITS:
            raise _cannot_read(text, "exponent too large")
    return Decimal(whole.replace(",", "") + point + fraction + (f"E{exponent}" if exponent else ""))
