"""The read-model rows as tuples (`readside.rows_of`) against the rows by column name.

`rows_of` builds each row as a tuple in its table's column order, which the
driver takes as it is. The reference below is the dict-per-row builder it
replaced, keyed by column name: every tuple must be that dict's values in
`table.columns` order, so a column moved or added in a table cannot go into
the wrong place unnoticed.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cli.commands_demo import example_lines
from ledger.projections import LedgerState
from ledger.readside import rows_of, state_from_store
from ledger.service import Ledger
from ledger.store.schema import readmodel_metadata
from ledger.synthetic import synthetic_lines
from tests.conftest import Clock


def _by_name(state: LedgerState) -> dict[str, list[dict[str, Any]]]:
    """The rows, one dict per row keyed by column name (the builder before tuples)."""
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in readmodel_metadata.tables}
    for subject, actor in state.actors.items():
        out["actors"].append(
            {
                "subject": subject,
                "name": actor.name,
                "kind": actor.kind,
                "parent": actor.parent,
                "state": orjson.dumps(actor.to_json()).decode(),
            }
        )
    for subject, office in state.offices.items():
        document = office.to_json()
        out["offices"].append(
            {
                "subject": subject,
                "name": office.name,
                "jurisdiction": office.jurisdiction,
                "kind": office.kind,
                "holder": document["holder"],
                "state": orjson.dumps(document).decode(),
            }
        )
        for seq, tenure in enumerate(office.tenures):
            out["tenures"].append(
                {
                    "office": subject,
                    "seq": seq,
                    "holder": tenure.holder,
                    "role": tenure.role,
                    "administration": tenure.administration,
                    "began_at": tenure.began_at,
                    "ended_at": tenure.ended_at,
                    "end_reason": tenure.end_reason,
                }
            )
    for subject, commitment in state.commitments.items():
        document = commitment.json_with_status(None)
        inputs = commitment.status_inputs()
        out["commitments"].append(
            {
                "subject": subject,
                "title": commitment.title,
                "made_by": commitment.by,
                "capacity": commitment.capacity,
                "made_at": commitment.made_at,
                "areas": orjson.dumps(commitment.areas).decode(),
                "closed": inputs.closed,
                "earliest_due": inputs.earliest_due.isoformat() if inputs.earliest_due else None,
                "active": inputs.active,
                "event_count": commitment.event_count,
                "state": orjson.dumps(document).decode(),
            }
        )
        for key, target in document["targets"].items():
            out["targets"].append(
                {
                    "commitment": subject,
                    "key": key,
                    "unit": target["quantity"]["unit"],
                    "quantity": target["quantity"]["amount"],
                    "baseline": target["baseline"]["amount"] if target["baseline"] else None,
                    "due": target["due"],
                    "achieved": target["achieved"],
                    "funded_proposed": target["funded"]["proposed"],
                    "funded_approved": target["funded"]["approved"],
                    "funded_executed": target["funded"]["executed"],
                }
            )
        for assessor, assessment in document["assessments"].items():
            out["assessments"].append({"commitment": subject, "assessor": assessor, **assessment})
    for subject, budget in state.budgets.items():
        out["budgets"].append(
            {
                "subject": subject,
                "body": budget.body,
                "fiscal_year": budget.fiscal_year,
                "instrument": budget.instrument,
                "unit": budget.unit,
                "state": orjson.dumps(budget.to_json()).decode(),
            }
        )
    return out


@pytest.mark.parametrize("source", ["synthetic", "example"])
def test_each_row_tuple_is_its_columns_in_table_order(tmp_path, source: str) -> None:
    ledger = Ledger.init(str(tmp_path / "l.db"), tz="Asia/Seoul", clock=Clock())
    try:
        lines = list(synthetic_lines(2000, 5)) if source == "synthetic" else example_lines()
        ledger.import_lines(lines)
        state = state_from_store(ledger.store, ledger.view())
        built = rows_of(state.actors, state.offices, state.commitments, state.budgets)
        expected = _by_name(state)
        for name, table in readmodel_metadata.tables.items():
            if name == "readmodel_tracking":
                continue
            columns = [column.name for column in table.columns]
            want = [tuple(row[c] for c in columns) for row in expected[name]]
            assert built.tables.get(name, []) == want, name
            assert all(len(row) == len(columns) for row in want)
        assert built.tables["targets"] and built.tables["commitments"]
        if source == "synthetic":
            assert built.tables["assessments"] and built.tables["budgets"]
    finally:
        ledger.close()
