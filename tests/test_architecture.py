"""The arrows point one way: events ← rules/projections ← service ← cli."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def _modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def _imports_of(prefixes: tuple[str, ...], files: list[Path]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files
        for name in _imports(path)
        if name.startswith(prefixes)
    ]


def test_only_the_store_imports_sqlalchemy():
    outside_store = [p for p in _modules("ledger") if "store" not in p.parts]
    assert _imports_of(("sqlalchemy",), outside_store) == []


def test_only_the_cli_imports_click():
    assert _imports_of(("click",), _modules("ledger")) == []


def test_the_library_never_imports_the_cli():
    assert _imports_of(("cli",), _modules("ledger")) == []


def test_domain_modules_import_no_service_store_or_clock_reader():
    domain = [
        ROOT / "ledger" / "events.py",
        ROOT / "ledger" / "quantities.py",
        ROOT / "ledger" / "records.py",
        ROOT / "ledger" / "rules.py",
        ROOT / "ledger" / "continuity.py",
        ROOT / "ledger" / "audit.py",
        *_modules("ledger/projections"),
    ]
    assert _imports_of(("ledger.service", "ledger.store", "ledger.export"), domain) == []


def test_events_do_not_import_rules_or_projections():
    base = [ROOT / "ledger" / "events.py", ROOT / "ledger" / "quantities.py"]
    assert _imports_of(("ledger.rules", "ledger.projections", "ledger.records"), base) == []
