"""Pure folds from events to state. They read no clock and no database."""

from ledger.projections.actors import ActorState, fold_actor
from ledger.projections.budgets import BudgetState, fold_budget
from ledger.projections.commitments import CommitmentState, TargetState, fold_commitment
from ledger.projections.common import HistoryError, View, live_events, valid_time_order
from ledger.projections.offices import OfficeState, Tenure, fold_office
from ledger.projections.state import LedgerState, project_commitment, project_ledger

__all__ = [
    "ActorState",
    "BudgetState",
    "CommitmentState",
    "HistoryError",
    "LedgerState",
    "OfficeState",
    "TargetState",
    "Tenure",
    "View",
    "fold_actor",
    "fold_budget",
    "fold_commitment",
    "fold_office",
    "live_events",
    "project_commitment",
    "project_ledger",
    "valid_time_order",
]
