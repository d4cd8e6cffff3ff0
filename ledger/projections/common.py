"""What every fold shares: the ordering of a history, the clocks, and HistoryError (defined
in ledger/errors.py, so that the command line can catch it without importing the folds)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import attrgetter
from typing import Any
from zoneinfo import ZoneInfo

from ledger import upcasting
from ledger.errors import HistoryError as HistoryError  # re-exported: the folds raise it
from ledger.records import StoredEvent, format_recorded_at
from ledger.upcasting import upcast_data


@dataclass(frozen=True)
class View:
    """Which events a query sees: the world at `as_of`, as the ledger knew it at `known_at`.

    `now` judges "passed" (overdue) when `as_of` is not given.
    """

    now: datetime
    as_of: datetime | None = None
    known_at: datetime | None = None
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))

    @property
    def judged_at(self) -> datetime:
        """The moment against which due dates are judged."""
        return self.as_of if self.as_of is not None else self.now

    @property
    def judged_on(self) -> date:
        """The ledger-local day on which due dates are judged: a due date before it has passed."""
        return self.judged_at.astimezone(self.tz).date()

    @property
    def judged_key(self) -> str:
        """`judged_at` as a sortable UTC key."""
        return format_recorded_at(self.judged_at)


def event_data(stored: StoredEvent) -> dict[str, Any]:
    """An event's data in stored JSON form, as the current release reads it.

    The folds read these dicts rather than typed models: a stored event under
    the current schema was validated when written, and its `data` is the typed
    model's `model_dump(mode="json", exclude_none=True)`. An event stored under
    another schema is upcast and validated as the current release reads it
    (its data alone: the bulk readers leave sources out), and a schema newer
    than this release is refused. CURRENT_SCHEMA is read at each call, not
    copied: a release (or a test) that raises it must be seen.
    """
    if stored.schema == upcasting.CURRENT_SCHEMA:
        return stored.data
    return upcast_data(stored.type, upcasting.upcast(stored.type, stored.schema, stored.data))


_VALID_TIME = attrgetter("occurred_key", "position")


def valid_time_order(events: Iterable[StoredEvent]) -> list[StoredEvent]:
    """Events ordered by occurred_at (as an instant), then position."""
    return sorted(events, key=_VALID_TIME)


def live_events(events: Sequence[StoredEvent], view: View | None = None) -> list[StoredEvent]:
    """The events a view sees, retracted ones and retractions removed, in valid-time order.

    Retractions are corrections of the record, not happenings in the world:
    they apply whatever their occurred_at, unless recorded after `known_at`.
    """
    return Visible(view)(events)


class Visible:
    """`live_events` for one view, its clock keys formatted once.

    A replay asks it once per subject, and most subjects hold two or three
    events: formatting the view's instants for each would cost more than the
    filtering.
    """

    def __init__(self, view: View | None = None) -> None:
        self.known_key = format_recorded_at(view.known_at) if view and view.known_at else None
        self.as_of_key = format_recorded_at(view.as_of) if view and view.as_of else None

    def __call__(self, events: Sequence[StoredEvent]) -> list[StoredEvent]:
        """The events of one history this view sees, in valid-time order."""
        known_key, as_of_key = self.known_key, self.as_of_key
        if known_key is None and as_of_key is None:
            # The present, as a rebuild sees it: only retractions remove anything.
            for stored in events:
                if stored.type == "EventRetracted":
                    break
            else:
                return valid_time_order(events)
        known = events if known_key is None else [e for e in events if e.recorded_at <= known_key]
        retracted = {str(e.data["event"]) for e in known if e.type == "EventRetracted"}
        kept = [
            e
            for e in known
            if e.type != "EventRetracted"
            and e.id not in retracted
            and (as_of_key is None or e.occurred_key <= as_of_key)
        ]
        return valid_time_order(kept)
