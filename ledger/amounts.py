"""Stored amounts: their canonical text, exact arithmetic on them, and which units are money.

What the folds and the audit queries need of amounts, importable without
pydantic: they read amounts already in their stored form and never parse
human text. Reading human amounts ("1조 8천억 원") and the `Quantity` model
of the event catalogue live in ledger/quantities.py, which imports these
names from here (and re-exports them, so `ledger.quantities.format_amount`
is this function).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Context, Decimal, DivisionByZero, InvalidOperation, Overflow, localcontext
from typing import Any, ParamSpec, TypeVar

_P = ParamSpec("_P")
_R = TypeVar("_R")

MAX_DIGITS = 40
"""Most significant digits, integer digits and fraction digits an amount may have."""

AMOUNT_CONTEXT = Context(prec=4 * MAX_DIGITS, traps=[InvalidOperation, DivisionByZero, Overflow])
"""Where arithmetic on stored amounts is exact. Python's default context keeps 28 digits and
rounds quietly (10**39 + 1 == 10**39 there). An amount spans at most 80 digits, 40 on either
side of the point, so in 160 digits sums and differences never round; quotients do, far
beyond any digit a report shows."""


class QuantityError(ValueError):
    """A human amount or unit that cannot be read; str() is a one-line reason naming the text."""


@dataclass(frozen=True, slots=True)
class StoredQuantity:
    """An amount with its unit as the folds keep it: read from the stored form, not validated.

    The folds read only `amount` and `unit`; the event catalogue's
    `ledger.quantities.Quantity` (a pydantic model) has the same two fields.
    """

    amount: Decimal
    unit: str


def stored_quantity(raw: dict[str, Any]) -> StoredQuantity:
    """A quantity from its stored form (`{"amount": "...", "unit": "..."}`), not validated again.

    Stored events were validated when written; the folds read their data dicts
    and need typed quantities only where they keep one.
    """
    return StoredQuantity(Decimal(raw["amount"]), raw["unit"])


def format_amount(value: Decimal) -> str:
    """Render the canonical stored form: plain decimal, no exponent, grouping or trailing zeros."""
    check_bounds(value, str(value))
    return plain(value)


def format_total(value: Decimal) -> str:
    """Render a derived sum like format_amount, without the MAX_DIGITS limit of one amount."""
    if not value.is_finite():
        raise cannot_read(str(value), "not a finite number")
    return plain(value)


def exact_arithmetic(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run `func` in AMOUNT_CONTEXT, so the sums it makes of amounts are never rounded."""

    @functools.wraps(func)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with localcontext(AMOUNT_CONTEXT):
            return func(*args, **kwargs)

    return run


def plain(value: Decimal) -> str:
    """A Decimal's plain text with its own digits: no exponent, no trailing zeros, "0" for zero."""
    if value.is_zero():
        return "0"  # also turns "-0" and "0E+5" into plain "0"
    text = f"{value:f}"  # plain notation with the value's own digits, no rounding
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def check_bounds(value: Decimal, text: str) -> None:
    """Refuse NaN, infinities and amounts beyond MAX_DIGITS, exactly and without rounding."""
    if not value.is_finite():
        raise cannot_read(text, "not a finite number")
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite, so never 'n', 'N' or 'F'
    significant = list(digits)
    while len(significant) > 1 and significant[-1] == 0:  # trailing zeros are not significant
        significant.pop()
        exponent += 1
    if len(significant) > MAX_DIGITS:
        raise cannot_read(text, f"more than {MAX_DIGITS} significant digits")
    if len(significant) + exponent > MAX_DIGITS:
        raise cannot_read(text, f"more than {MAX_DIGITS} digits before the decimal point")
    if -exponent > MAX_DIGITS:
        raise cannot_read(text, f"more than {MAX_DIGITS} digits after the decimal point")


def cannot_read(text: object, reason: str) -> QuantityError:
    """Build the standard one-line error naming the offending amount text."""
    return QuantityError(f"cannot read amount {show(text)}: {reason}")


def show(value: object) -> str:
    """Quote a value for an error message on one line, shortened if long."""
    shown = repr(value) if isinstance(value, str) else repr(str(value))
    return shown if len(shown) <= 60 else shown[:56] + "...'"


# Active ISO 4217 codes: a stored unit among them is money (GPU and person are not).
ISO_4217 = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD
    BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR
    FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD
    JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT
    MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG
    QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB
    TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XDR XOF XPF
    YER ZAR ZMW ZWL""".split()  # noqa: SIM905 (a block of codes reads better than 170 lines)
)


def is_currency(unit: str) -> bool:
    """Whether a stored unit is an ISO 4217 currency code (money, not GPUs or people)."""
    return unit in ISO_4217
