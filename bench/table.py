"""The benchmark's rows, their targets, and the JSON and markdown they are written as."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

COLUMNS = (
    "step",
    "events",
    "seconds",
    "CPU s",
    "events/s",
    "baseline",
    "baseline events/s",
    "ratio",
    "peak RSS MB",
    "target",
    "result",
)


@dataclass
class Target:
    """A goal from issue 5, checked against one row."""

    text: str
    check: Callable[[Row], bool | None] = field(repr=False)


@dataclass
class Row:
    """One line of the table: a measured step, optionally against a baseline."""

    name: str
    events: int | None = None
    seconds: float | None = None
    cpu_seconds: float | None = None  # CPU time of the measuring process and its workers (median)
    runs: int = 0
    baseline: str | None = None
    baseline_seconds: float | None = None
    baseline_events: int | None = None
    # "speed": events/s ÷ baseline events/s (higher is better);
    # "time": seconds ÷ baseline seconds (lower is better; `show` only).
    ratio_kind: str = "speed"
    # `show`: the median of per-pair time ratios (each run next to a baseline run),
    # which a change of machine load during the run moves less than a ratio of medians.
    paired_ratio: float | None = None
    peak_rss_mb: float | None = None
    target: str | None = None
    met: bool | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def events_per_s(self) -> float | None:
        """Events per second, when the step processes the ledger's events."""
        if self.events is None or not self.seconds or self.ratio_kind == "time":
            return None
        return self.events / self.seconds

    @property
    def baseline_events_per_s(self) -> float | None:
        """The baseline's events per second."""
        if self.baseline_events is None or not self.baseline_seconds:
            return None
        if self.ratio_kind == "time":
            return None
        return self.baseline_events / self.baseline_seconds

    @property
    def ratio(self) -> float | None:
        """Speed ratio (ours ÷ baseline, events/s) or, for `time` rows, time ratio."""
        if self.ratio_kind == "time":
            if self.paired_ratio is not None:
                return self.paired_ratio
            if self.seconds is None or not self.baseline_seconds:
                return None
            return self.seconds / self.baseline_seconds
        ours, theirs = self.events_per_s, self.baseline_events_per_s
        if ours is None or not theirs:
            return None
        return ours / theirs

    def judge(self, target: Target | None) -> Row:
        """Fill in the target and whether it is met (None when it cannot be judged)."""
        if target is not None:
            self.target = target.text
            self.met = target.check(self) if not self.note.startswith(UNMEASURED) else None
        return self

    def to_json(self) -> dict[str, Any]:
        """The row with its derived figures, for the JSON file."""
        data = asdict(self)
        data.update(
            events_per_s=self.events_per_s,
            baseline_events_per_s=self.baseline_events_per_s,
            ratio=self.ratio,
        )
        return data


UNMEASURED = ("not available", "skipped", "error")


def _at_least(value: Callable[[Row], float | None], bound: float) -> Callable[[Row], bool | None]:
    def check(row: Row) -> bool | None:
        measured = value(row)
        return None if measured is None else measured >= bound

    return check


def _below(value: Callable[[Row], float | None], bound: float) -> Callable[[Row], bool | None]:
    def check(row: Row) -> bool | None:
        measured = value(row)
        return None if measured is None else measured < bound

    return check


def speed_ratio_at_least(bound: float) -> Target:
    """Ours ≥ bound x the baseline's events/s."""
    return Target(f">= {bound:g} x", _at_least(lambda r: r.ratio, bound))


def rate_at_least(bound: float, text: str | None = None) -> Target:
    """At least `bound` events/s."""
    return Target(text or f">= {bound:,.0f} ev/s", _at_least(lambda r: r.events_per_s, bound))


def time_ratio_at_most(bound: float) -> Target:
    """At most `bound` x the baseline's time."""
    return Target(
        f"<= {bound:g} x time",
        lambda r: None if r.ratio is None else r.ratio <= bound,
    )


def memory_below(megabytes: float) -> Target:
    """Peak RSS under `megabytes`."""
    return Target(f"< {megabytes:g} MB", _below(lambda r: r.peak_rss_mb, megabytes))


def _number(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _ratio(row: Row) -> str:
    ratio = row.ratio
    if ratio is None:
        return "—"
    suffix = " x time" if row.ratio_kind == "time" else " x"
    return f"{ratio:.3g}{suffix}"


def _result(row: Row) -> str:
    if row.met is None:
        return row.note or "—"
    verdict = "met" if row.met else "**missed**"
    return f"{verdict} ({row.note})" if row.note else verdict


def markdown_table(rows: Sequence[Row]) -> str:
    """The rows as a GitHub markdown table."""
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|"
        + "|".join("---" if i < 1 or i in (5, 9, 10) else "---:" for i in range(len(COLUMNS)))
        + "|",
    ]
    for row in rows:
        cells = [
            row.name,
            _number(row.events) if row.events is not None else "—",
            _seconds(row.seconds),
            _seconds(row.cpu_seconds),
            _number(row.events_per_s),
            row.baseline or "—",
            _number(row.baseline_events_per_s)
            if row.ratio_kind == "speed"
            else _seconds(row.baseline_seconds) + (" s" if row.baseline_seconds else ""),
            _ratio(row),
            _number(row.peak_rss_mb),
            row.target or "—",
            _result(row),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_results(out: Path, stamp: str, report: dict[str, Any], markdown: str) -> Path:
    """Write `<stamp>.json` and `latest.md` into `out`; return the JSON path."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{stamp}.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8")
    (out / "latest.md").write_text(markdown + "\n", "utf-8")
    return path
