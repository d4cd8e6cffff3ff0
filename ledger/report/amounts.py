"""Amounts and text for readers: "1.8조 원" next to the exact "1800000000000 KRW".

The exact figure is what the ledger stores and exports; the human form is a
reading aid, so it may round (and says so with "≈"), the exact one never does.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from fractions import Fraction

from markupsafe import Markup, escape

from ledger.quantities import format_total

EOK = Decimal(10) ** 8  # 억, a hundred million
JO = Decimal(10) ** 12  # 조, a trillion
HUMAN_PLACES = Decimal("0.01")


def grouped(amount: Decimal) -> str:
    """The amount with thousands separators and no trailing zeros: 10,000 or 1.5."""
    return f"{Decimal(format_total(amount)):,f}"


def exact_amount(amount: Decimal, unit: str) -> str:
    """The stored form: "1800000000000 KRW"."""
    return f"{format_total(amount)} {unit}"


def uses_korean_units(amount: Decimal, unit: str) -> bool:
    """Won from 1억 up are read in 조 and 억, as Korean readers count them."""
    return unit == "KRW" and abs(amount) >= EOK


def human_amount(amount: Decimal, unit: str) -> str:
    """A reader's form: "1.8조 원", "1,293억 원", "≈10.03조 원"; "10,000 GPU" otherwise."""
    if not uses_korean_units(amount, unit):
        return f"{grouped(amount)} {unit}"
    scale, word = (JO, "조") if abs(amount) >= JO else (EOK, "억")
    with localcontext(Context(prec=120)):  # a 40-digit amount (or a sum of them) in 조 to 0.01
        scaled = amount / scale
        shown = scaled.quantize(HUMAN_PLACES, ROUND_HALF_EVEN)
    approximate = "" if shown == scaled else "≈"
    return f"{approximate}{grouped(shown)}{word} 원"


def amount_text(amount: Decimal, unit: str) -> str:
    """Human and exact in plain text (chart titles): "1.8조 원 (1800000000000 KRW)"."""
    human = human_amount(amount, unit)
    if uses_korean_units(amount, unit):
        return f"{human} ({exact_amount(amount, unit)})"
    return human


def amount_markup(amount: Decimal | str, unit: str) -> Markup:
    """Human and exact as HTML, the Korean form marked as Korean for screen readers and fonts."""
    value = Decimal(amount)
    human = escape(human_amount(value, unit))
    if not uses_korean_units(value, unit):
        return Markup('<span class="amount">{}</span>').format(human)
    exact = escape(exact_amount(value, unit))
    return Markup(
        '<span class="amount"><span lang="ko">{}</span> <span class="exact">({})</span></span>'
    ).format(human, exact)


def percent(share: Fraction | Decimal) -> str:
    """A share as a percentage to two places, trailing zeros dropped: "66.67%", "100%".

    Any size: a progress report may overshoot its target by 10**40 times. Decimal
    arithmetic would round (or trap) in whatever context is current, so the
    hundredths are counted exactly as a Fraction (round() on one is half-even).
    """
    hundredths = round(Fraction(share) * 10_000)
    # The string constructor is exact whatever the context; scaleb() would round.
    return f"{format_total(Decimal(f'{hundredths}E-2'))}%"


def hangul_share(text: str) -> tuple[int, int]:
    """How many Hangul and how many Latin letters the text holds."""
    hangul = sum(1 for char in text if "\uac00" <= char <= "\ud7a3" or "\u1100" <= char <= "\u11ff")
    latin = sum(1 for char in text if char.isascii() and char.isalpha())
    return hangul, latin


def language_of(text: str | None) -> str | None:
    """ "ko" for text that is mostly Korean, else None (the page's English).

    Event text is whatever the editor typed; marking Korean as Korean lets screen
    readers pronounce it and browsers pick a Korean font.
    """
    if not text:
        return None
    hangul, latin = hangul_share(text)
    return "ko" if hangul > latin else None
