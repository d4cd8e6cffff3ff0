"""Bar charts as inline SVG, drawn in Python.

Inline SVG needs no charting library, no font and no request when the page is
viewed, and it works from file://. Every chart has a <title> (its accessible
name) and every mark its own <title> (a tooltip, and a label for screen
readers); the page puts the same figures in a caption or a table beside it.
Colours come from CSS classes (`k-<name>`), so the legend swatches match.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from markupsafe import Markup, escape

WIDTH = 480
BAR_SPACE = 300  # the longest bar; the rest of the width holds its figure
STACKED_WIDTH = 640  # one bar with short labels: it scales down to a phone legibly
PROGRESS_WIDTH = 160


@dataclass(frozen=True)
class Bar:
    """One bar or segment: its series (for the colour), value, and the figure shown."""

    series: str
    value: Decimal
    text: str
    note: str = ""  # more for the tooltip, such as the exact amount


@dataclass(frozen=True)
class BarGroup:
    """Bars drawn under one label (one administration, one status)."""

    label: str
    bars: list[Bar] = field(default_factory=list)


def px(value: Fraction | int) -> str:
    """A coordinate to a tenth of a pixel, without float arithmetic."""
    return str(Decimal(round(Fraction(value) * 10)) / 10)


def colour_class(series: str) -> str:
    """The CSS class that colours a series (fates, statuses and phases are slugs already)."""
    return "k-" + (re.sub(r"[^a-z0-9-]+", "-", series.lower()).strip("-") or "other")


def _svg(width: int, height: int, title: str, body: str, kind: str) -> Markup:
    return Markup(
        '<svg class="chart {kind}" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img">'
        "<title>{title}</title>{body}</svg>"
    ).format(kind=kind, w=width, h=height, title=title, body=Markup(body))


def _tooltip(bar: Bar, label: str) -> str:
    parts = [f"{label}: {bar.text}" if label else bar.text]
    if bar.note:
        parts.append(f"({bar.note})")
    return " ".join(parts)


def bar_chart(groups: Sequence[BarGroup], title: str) -> Markup:
    """Horizontal bars, grouped, on one scale: a group's label above its bars."""
    largest = max((b.value for g in groups for b in g.bars), default=Decimal(0))
    parts: list[str] = []
    y = 0
    for group in groups:
        if group.label:
            parts.append(f'<text class="label" x="0" y="{y + 14}">{escape(group.label)}</text>')
            y += 20
        for bar in group.bars:
            share = Fraction(max(bar.value, Decimal(0))) / Fraction(largest) if largest > 0 else 0
            width = max(Fraction(1), share * BAR_SPACE) if share else Fraction(0)
            named = f"{group.label}, {bar.series}" if group.label else bar.series
            tooltip = escape(_tooltip(bar, named))
            parts.append(
                f'<g><title>{tooltip}</title><rect class="{colour_class(bar.series)}" x="0" '
                f'y="{y}" width="{px(width)}" height="14" rx="2"/>'
                f'<text x="{px(width + 6)}" y="{y + 11}">{escape(bar.series)}: '
                f"{escape(bar.text)}</text></g>"
            )
            y += 18
        y += 8
    return _svg(WIDTH, max(y, 20), title, "".join(parts), "chart-bars")


def stacked_bar(segments: Sequence[Bar], title: str) -> Markup:
    """One bar split into segments, each as wide as its share of the total (zeros left out)."""
    total = sum((s.value for s in segments), Decimal(0))
    height = 36
    if total <= 0:
        body = (
            f'<rect class="k-empty" x="0" y="0" width="{STACKED_WIDTH}" height="{height}" rx="3"/>'
            f'<text x="8" y="23">none</text>'
        )
        return _svg(STACKED_WIDTH, height, title, body, "chart-stacked")
    parts: list[str] = []
    x = Fraction(0)
    for segment in segments:
        if segment.value <= 0:
            continue
        width = Fraction(segment.value) / Fraction(total) * STACKED_WIDTH
        inside = f"{segment.series} {segment.text}" if width >= 100 else segment.text
        text = (
            f'<text class="on-fill" x="{px(x + 6)}" y="23">{escape(inside)}</text>'
            if width >= 24
            else ""
        )
        parts.append(
            f"<g><title>{escape(_tooltip(segment, segment.series))}</title>"
            f'<rect class="{colour_class(segment.series)}" x="{px(x)}" y="0" '
            f'width="{px(width)}" height="{height}"/>{text}</g>'
        )
        x += width
    return _svg(STACKED_WIDTH, height, title, "".join(parts), "chart-stacked")


def progress_bar(share: Fraction | None, title: str) -> Markup:
    """A small bar filled to the share reached (full from 100% up); empty when unknown."""
    filled = min(max(share, Fraction(0)), Fraction(1)) * PROGRESS_WIDTH if share else Fraction(0)
    series = "reached" if share is not None and share >= 1 else "progress"
    body = (
        f'<rect class="k-track" x="0" y="0" width="{PROGRESS_WIDTH}" height="14" rx="3"/>'
        f'<rect class="{colour_class(series)}" x="0" y="0" width="{px(filled)}" '
        'height="14" rx="3"/>'
    )
    return _svg(PROGRESS_WIDTH, 14, title, body, "chart-progress")
