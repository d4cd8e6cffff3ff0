"""Moments as events and the clock options write them: a date, or an RFC 3339 date-time.

The event catalogue checks `occurred_at` with `normalise_occurred_at`, and the
service reads `--as-of` and `--known-at` with it; both import it from here (or
through ledger/events.py, which re-exports it), so the quick read path can
read the clocks the same way without importing pydantic.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from ledger.vocabulary import shown

EARLIEST = date(1000, 1, 1)
LATEST = date(9998, 12, 31)
"""The dates an event may name: every time zone keeps them inside four-digit years."""

DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
# RFC 3339 section 5.6 (a space may stand for the T, as its note allows); Python's
# fromisoformat alone would also take ISO 8601 forms such as 20250424T100000+0900.
_DATE_TIME_RE = re.compile(
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ]([0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?)"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})?$"
)
_MOMENT_FORMS = "a date YYYY-MM-DD or an RFC 3339 date-time with offset"


def check_range(day: date, text: str) -> None:
    """Refuse a day outside EARLIEST..LATEST, naming the text it was read from."""
    if not EARLIEST <= day <= LATEST:
        raise ValueError(
            f"{shown(text, 40)} is out of range: dates run from {EARLIEST} to {LATEST}"
        )


def normalise_occurred_at(value: str, *, in_range: bool = True) -> str:
    """A bare date stays `YYYY-MM-DD`; a date-time must carry an offset and is kept ISO.

    `in_range` holds the moment to EARLIEST..LATEST (stored events skip it).
    """
    if not isinstance(value, str):
        raise ValueError(f"must be {_MOMENT_FORMS}")
    text = value.strip()
    if DATE_RE.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"{shown(text, 40)} is not a valid date ({exc})") from None
        if in_range:
            check_range(day, text)
        return text
    match = _DATE_TIME_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"{shown(text, 40)} is not {_MOMENT_FORMS}")
    day_text, clock, offset = match.groups()
    if offset is None:
        raise ValueError(
            f"{shown(text, 40)} needs a time zone offset, e.g. 2025-04-24T10:00:00+09:00"
        )
    offset = "+00:00" if offset in ("Z", "z") else offset
    # RFC 3339 offsets run to 23:59; Python would read "+00:60" as an hour, and refuse
    # "+24:00" with a message about timedelta objects that no editor should have to read.
    if int(offset[1:3]) > 23 or int(offset[4:6]) > 59:
        raise ValueError(
            f"{shown(text, 40)} has an invalid UTC offset {offset!r} "
            "(offsets run from -23:59 to +23:59)"
        )
    try:
        moment = datetime.fromisoformat(f"{day_text}T{clock}{offset}")
    except ValueError as exc:
        raise ValueError(f"{shown(text, 40)} is not a valid date-time ({exc})") from None
    if in_range:
        check_range(moment.date(), text)
    return moment.isoformat()
