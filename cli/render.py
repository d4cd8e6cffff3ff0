"""Plain-text tables that line up Korean and other wide characters."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence


def width(text: str) -> int:
    """Display width in terminal cells (East Asian wide characters take two)."""
    return sum(
        0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        for ch in text
    )


def clip(text: str, limit: int) -> str:
    """Cut text to at most `limit` cells, marking the cut with an ellipsis."""
    if width(text) <= limit:
        return text
    out, used = [], 0
    for ch in text:
        cell = width(ch)
        if used + cell > limit - 1:
            break
        out.append(ch)
        used += cell
    return "".join(out) + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, max_cell: int = 60) -> str:
    """A table with a header rule; None shows as a dash."""
    cells = [[clip("—" if v is None else str(v), max_cell) for v in row] for row in rows]
    widths = [width(h) for h in headers]
    for row in cells:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], width(value))

    def line(values: Sequence[str]) -> str:
        return "  ".join(v + " " * (widths[i] - width(v)) for i, v in enumerate(values)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(list(headers)), rule, *(line(r) for r in cells)])
