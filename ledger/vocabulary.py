"""Names every layer shares, importable without the event catalogue.

The command line's options (`list --kind`, `--status`), the quick read path
(ledger/store/quick.py) and the folds need these words, and a command that
only reads must not pay for pydantic and SQLAlchemy at start-up to learn
them. ledger/events.py re-exports the ones it always had.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

SLUG_PATTERN = r"[a-z0-9]+(?:-[a-z0-9]+)*"
SUBJECT_KINDS = ("actor", "office", "commitment", "budget")
MAX_SLUG = 100
GOVERNING_CAPACITIES: frozenset[str] = frozenset({"head-of-government", "government"})
"""The capacities in which an act is the government's own (the rest: legislature, candidate, ...)."""

_SUBJECT_RE = re.compile(rf"^({'|'.join(SUBJECT_KINDS)})/({SLUG_PATTERN})$")
STATUSES = ("withdrawn", "superseded", "delivered", "overdue", "in-progress", "pledged")
TZ_SETTING = "timezone"
"""The ledger_settings key holding the ledger's time zone (bare dates are days there)."""
READ_MODEL_TRACKER = "state"
"""The readmodel_tracking row whose position the read-model tables reflect."""
LOG_TABLES = frozenset({"events", "event_refs", "merkle_nodes", "checkpoints", "ledger_settings"})
"""The log's tables in the layout this release writes (ledger/store/schema.py declares them)."""
READ_MODEL_TABLES = frozenset(
    {
        "actors",
        "offices",
        "tenures",
        "commitments",
        "targets",
        "assessments",
        "budgets",
        "readmodel_tracking",
    }
)
"""The read models' tables (ledger/store/schema.py); tests/test_quick_read.py holds both sets
to the declared metadata."""


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


def shown(value: Any, limit: int = 60) -> str:
    """A value quoted for an error message: one line, control characters escaped, shortened."""
    text = repr(value if isinstance(value, str) else str(value))
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def subject_kind(subject: str) -> str:
    """The KIND part of a `KIND/SLUG` subject."""
    return subject.split("/", 1)[0]


def subject_slug(subject: str) -> str:
    """The SLUG part of a `KIND/SLUG` subject."""
    return subject.split("/", 1)[1]


def check_subject(value: str, kind: str | None = None) -> str:
    """Validate a `KIND/SLUG` subject, optionally of one kind."""
    match = _SUBJECT_RE.fullmatch(value)
    if not match:
        raise ValueError(
            f"{shown(value)} is not a subject: expected KIND/SLUG with KIND one of "
            f"{', '.join(SUBJECT_KINDS)} and a lowercase slug like kr-ai-gpus"
        )
    if len(match.group(2)) > MAX_SLUG:
        raise ValueError(
            f"the slug of {shown(value)} is longer than the limit of {MAX_SLUG} characters "
            f"(got {len(match.group(2))})"
        )
    if kind is not None and match.group(1) != kind:
        article = "an" if kind[0] in "aeiou" else "a"
        raise ValueError(f"{shown(value)} must be {article} {kind} subject ({kind}/...)")
    return value
