"""Names every layer shares, importable without the event catalogue.

The command line's options (`list --kind`, `--status`) and the quick read
path (ledger/quickread.py) need these words, and a command that only reads
must not pay for pydantic and SQLAlchemy at start-up to learn them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

SLUG_PATTERN = r"[a-z0-9]+(?:-[a-z0-9]+)*"
SUBJECT_KINDS = ("actor", "office", "commitment", "budget")
MAX_SLUG = 100
STATUSES = ("withdrawn", "superseded", "delivered", "overdue", "in-progress", "pledged")
TZ_SETTING = "timezone"
"""The ledger_settings key holding the ledger's time zone (bare dates are days there)."""
READ_MODEL_TRACKER = "state"
"""The readmodel_tracking row whose position the read-model tables reflect."""


@dataclass(frozen=True)
class StatusInputs:
    """What a commitment's status is judged from; the read models store these columns."""

    closed: str | None  # withdrawn, superseded or delivered: the first that applies
    earliest_due: date | None
    active: bool  # a progress report, or approved/adjusted/executed money

    def status(self, judged_on: date) -> str:
        """First match: closed; overdue (a due date before the day judged); in-progress; pledged."""
        if self.closed is not None:
            return self.closed
        if self.earliest_due is not None and self.earliest_due < judged_on:
            return "overdue"
        return "in-progress" if self.active else "pledged"


def with_status_inputs(
    state: dict[str, Any], closed: str | None, earliest_due: str | None, active: Any
) -> dict[str, Any]:
    """A commitment's state read from the read models, carrying the columns its status is
    judged from (`judged` replaces them with the status on the day asked)."""
    state["_status_inputs"] = {
        "closed": closed,
        "earliest_due": earliest_due,
        "active": bool(active),
    }
    return state


def judged(sections: dict[str, dict[str, Any]], judged_on: date) -> dict[str, dict[str, Any]]:
    """Read-model sections with each commitment's status judged on a day (export form).

    Each commitment read from the read models carries `_status_inputs` (see
    ledger/store/readmodels.py); it is replaced by the status on `judged_on`.
    """
    for state in sections.get("commitments", {}).values():
        raw = state.pop("_status_inputs")
        due = raw["earliest_due"]
        inputs = StatusInputs(
            raw["closed"], date.fromisoformat(due) if due else None, raw["active"]
        )
        state["status"] = inputs.status(judged_on)
    return sections
