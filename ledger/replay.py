"""Full replays in one pass, one subject's history at a time.

`project_ledger` groups the whole log by subject before it folds anything, so
a replay of a million events held a million decoded events (3 GB). Here the
store hands over each subject's history already grouped (`histories`: one
statement ordered by subject, then valid time) and `LedgerFold` folds it and
lets it go: what stays is the folded state, not the events.

The result is the plain fold's, dict order included: each state dict is put
back in the order of its subject's first position, the order in which
`group_by_subject` meets the subjects. And when anything goes wrong (an
unreadable row, a history that breaks a rule, a schema too new) the plain
fold runs instead and reports it as it always has: the first unreadable row
by position, else the first failing subject in log order. Such a ledger is
broken and the second pass is the price of saying so the same way.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from operator import attrgetter
from typing import TypeVar

from ledger.bulk import bulk
from ledger.projections import LedgerState, View
from ledger.projections.state import LedgerFold
from ledger.store.sql import SqlEventStore

_T = TypeVar("_T")
_position = attrgetter("position")


def with_fallback(
    fast: Callable[[], _T], plain: Callable[[], _T], *, final: tuple[type[Exception], ...] = ()
) -> _T:
    """`fast()`, or `plain()` when `fast` raises: the plain path says what is wrong.

    Exceptions of the `final` types are raised as they are: the caller knows
    the plain path would decide the same.
    """
    try:
        return fast()
    except final:
        raise
    except Exception:  # whatever failed, the plain fold decides what is reported
        pass
    # Outside the handler, so an error the plain fold raises is not chained to the first.
    return plain()


@bulk
def streamed_state(store: SqlEventStore, view: View, upto: int) -> LedgerState:
    """`project_ledger` of the events at positions up to `upto`, folded subject by subject."""
    fold = LedgerFold(view)
    first: dict[str, int] = {}
    for history in store.histories(upto):
        subject = history[0].subject
        first[subject] = min(map(_position, history))
        fold.add(subject, history)
    state = in_log_order(fold.finish(), first)
    # The state is the result, and long-lived: put what the fold allocated
    # straight into the oldest generation (both calls only relink lists).
    # Else the first young collection after `bulk` re-enables the collector
    # walks every object of it: a sixth of the replay's time.
    # Not when the host has frozen objects of its own (a pre-fork server keeps
    # them shared that way): unfreeze() would release them too.
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()
    return state


def in_log_order(state: LedgerState, first: dict[str, int]) -> LedgerState:
    """The state with each dict in the order of its subjects' first positions."""
    key = first.__getitem__
    state.actors = {s: state.actors[s] for s in sorted(state.actors, key=key)}
    state.offices = {s: state.offices[s] for s in sorted(state.offices, key=key)}
    state.commitments = {s: state.commitments[s] for s in sorted(state.commitments, key=key)}
    state.budgets = {s: state.budgets[s] for s in sorted(state.budgets, key=key)}
    return state
