"""A commitment's events on a date axis, as inline SVG.

One row per event, so that events on the same day never overlap; each mark
links to the event's entry in the list below the chart, which says the same in
text. Vertical lines mark what happened around it: office transitions and due
dates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from ledger.continuity import LAST_WINDOW_END
from ledger.report.charts import colour_class, px

WIDTH = 720
SIDE = 14
TOP = 40  # room for the labels of the vertical lines
ROW = 22
MAX_TICKS = 8
# datetime.min and .max less a day, which every UTC offset (under 24 hours) can still show.
_EARLIEST = datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
_LATEST = LAST_WINDOW_END


@dataclass(frozen=True)
class Mark:
    """An event on the axis."""

    at: datetime
    day: str  # as the reader should see it, e.g. "2025-04-24"
    label: str  # short: "Reaffirmed"
    detail: str  # the tooltip
    kind: str  # colour series
    anchor: str  # the id of the event's entry on the page


@dataclass(frozen=True)
class Rule:
    """A vertical line across the axis: a transition of office, a due date."""

    at: datetime
    label: str
    kind: str


def timeline_svg(marks: Sequence[Mark], rules: Sequence[Rule], tz: ZoneInfo, title: str) -> Markup:
    """The chart; the axis spans every mark and rule, padded so end marks stay visible."""
    moments = [m.at for m in marks] + [r.at for r in rules]
    if not moments:
        return Markup("")
    start, end = min(moments), max(moments)
    span = max(end - start, timedelta(days=30))
    # The padding stops at the ends of what a datetime holds in every zone: a ledger
    # spanning years 1000 to 9998 would otherwise pad past year 9999 and overflow.
    end = start + min(span + span / 20, _LATEST - start)
    start = start - min(span / 20, start - _EARLIEST)

    def x_of(moment: datetime) -> Fraction:
        share = Fraction(
            (moment - start) // timedelta(seconds=1), (end - start) // timedelta(seconds=1)
        )
        return SIDE + share * (WIDTH - 2 * SIDE)

    axis_y = TOP + ROW * len(marks) + 6
    height = axis_y + 28
    parts = [_ticks(start, end, tz, x_of, axis_y)]
    parts += [_rule(rule, x_of(rule.at), axis_y) for rule in rules]
    for row, mark in enumerate(marks):
        parts.append(_mark(mark, x_of(mark.at), TOP + ROW * row + 6))
    body = "".join(parts)
    return Markup(
        '<svg class="chart chart-timeline" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        'role="img"><title>{title}</title>{body}</svg>'
    ).format(w=WIDTH, h=height, title=title, body=Markup(body))


def _mark(mark: Mark, x: Fraction, y: int) -> str:
    text = escape(f"{mark.day} {mark.label}")
    if x < WIDTH * Fraction(3, 5):
        label = f'<text x="{px(x + 9)}" y="{y + 4}">{text}</text>'
    else:
        label = f'<text x="{px(x - 9)}" y="{y + 4}" text-anchor="end">{text}</text>'
    return (
        f'<a href="#{escape(mark.anchor)}"><title>{escape(mark.detail)}</title>'
        f'<circle class="{colour_class(mark.kind)}" cx="{px(x)}" cy="{y}" r="6"/>{label}</a>'
    )


def _rule(rule: Rule, x: Fraction, axis_y: int) -> str:
    anchor = "start" if x < 90 else "end" if x > WIDTH - 90 else "middle"
    return (
        f"<g><title>{escape(rule.label)}</title>"
        f'<line class="rule {colour_class(rule.kind)}" x1="{px(x)}" y1="24" x2="{px(x)}" '
        f'y2="{axis_y}"/><text class="small" x="{px(x)}" y="16" text-anchor="{anchor}">'
        f"{escape(rule.label)}</text></g>"
    )


def _ticks(
    start: datetime, end: datetime, tz: ZoneInfo, x_of: Callable[[datetime], Fraction], axis_y: int
) -> str:
    parts = [f'<line class="axis" x1="{SIDE}" y1="{axis_y}" x2="{WIDTH - SIDE}" y2="{axis_y}"/>']
    for day, label in tick_days(start.astimezone(tz).date(), end.astimezone(tz).date()):
        x = x_of(datetime(day.year, day.month, day.day, tzinfo=tz))
        parts.append(
            f'<line class="tick" x1="{px(x)}" y1="{axis_y}" x2="{px(x)}" y2="{axis_y + 5}"/>'
            f'<text class="small" x="{px(x)}" y="{axis_y + 18}" text-anchor="middle">{label}</text>'
        )
    return "".join(parts)


def tick_days(first: date, last: date) -> list[tuple[date, str]]:
    """Month starts (or year starts, for long spans) inside the range, at most MAX_TICKS."""
    months = (last.year - first.year) * 12 + last.month - first.month
    if months > 12 * MAX_TICKS:
        step = -(-(last.year - first.year) // MAX_TICKS)
        years = range(first.year + 1, last.year + 1, step)
        return [(date(y, 1, 1), str(y)) for y in years]
    step = max(1, -(-months // MAX_TICKS))
    found = []
    index = first.year * 12 + first.month  # the month after `first`'s month, 0-based
    while index <= last.year * 12 + last.month - 1:
        day = date(index // 12, index % 12 + 1, 1)
        found.append((day, day.strftime("%Y-%m")))
        index += step
    return found
