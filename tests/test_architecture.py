"""The arrows point one way: events ← rules/projections ← service ← cli."""

from __future__ import annotations

import ast
import sys
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
    assert _imports_of(
        ("ledger.service", "ledger.writing", "ledger.store", "ledger.export"), domain
    ) == []


def test_events_do_not_import_rules_or_projections():
    base = [ROOT / "ledger" / "events.py", ROOT / "ledger" / "quantities.py"]
    assert _imports_of(("ledger.rules", "ledger.projections", "ledger.records"), base) == []


def test_every_command_is_mapped_to_the_module_that_defines_it():
    """The CLI loads command modules lazily; the map must match what the modules register."""
    import importlib

    import click

    from cli.app import MODULE_OF, cli

    for module in set(MODULE_OF.values()):
        importlib.import_module(module)
    context = click.Context(cli)
    registered = {
        name: cli.get_command(context, name).callback.__module__  # type: ignore[union-attr]
        for name in cli.commands
    }
    groups = {name: "cli.commands_integrity" for name, cmd in cli.commands.items() if cmd.callback is None}
    assert {**registered, **groups} == {name: MODULE_OF[name] for name in registered}


def test_show_does_not_import_the_heavy_modules():
    import subprocess
    import sys

    code = (
        "import sys; from click.testing import CliRunner; from cli.app import cli; "
        "CliRunner().invoke(cli, ['show', '--help']); "
        "print(','.join(m for m in ('cryptography', 'jinja2', 'ledger.continuity', 'ledger.integrity') "
        "if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == ""


def test_the_decoding_worker_loads_no_store_service_or_write_path():
    # The worker process imports ledger.decoding alone: SQLAlchemy and the
    # write path would double its start-up and its memory.
    decoding = [ROOT / "ledger" / "decoding.py"]
    assert _imports_of(
        ("ledger.service", "ledger.writing", "ledger.store", "ledger.readside", "sqlalchemy"),
        decoding,
    ) == []


# What the quick read path (ledger/store/quick.py) loads to answer `history` and
# the audit queries from the log alone: the row decoder, the stored form, the
# folds and the audit functions, the very code the service runs. If one of
# them imported pydantic, SQLAlchemy or the event catalogue when it loads,
# those commands would start as slowly as through the service.
LIGHT_MODULES = sorted(
    [
        ROOT / "ledger" / "__init__.py",
        ROOT / "ledger" / "amounts.py",
        ROOT / "ledger" / "audit.py",
        ROOT / "ledger" / "bulk.py",
        ROOT / "ledger" / "continuity.py",
        ROOT / "ledger" / "errors.py",
        ROOT / "ledger" / "moments.py",
        ROOT / "ledger" / "records.py",
        ROOT / "ledger" / "upcasting.py",
        ROOT / "ledger" / "vocabulary.py",
        ROOT / "ledger" / "store" / "__init__.py",
        ROOT / "ledger" / "merkle.py",
        ROOT / "ledger" / "store" / "db.py",
        ROOT / "ledger" / "store" / "quick.py",
        ROOT / "ledger" / "store" / "quick_verify.py",
        ROOT / "ledger" / "store" / "rows.py",
        # The store: SQL text on sqlite3; SQLAlchemy only for PostgreSQL and
        # DDL, imported inside the functions that need it.
        ROOT / "ledger" / "store" / "sql.py",
        ROOT / "ledger" / "verification.py",
        *_modules("ledger/projections"),
    ]
)
HEAVY = ("sqlalchemy", "pydantic", "ledger.events", "ledger.service", "ledger.quantities")


def command_loading(argv: list[str], heavy: tuple[str, ...] = HEAVY) -> tuple[int, str, list[str]]:
    """`policy-ledger ARGV` run in a fresh interpreter: its exit code, what it printed
    (standard output, then standard error), and which `heavy` modules it had loaded."""
    import json
    import subprocess

    script = (
        "import json, sys\n"
        "from cli.app import main\n"
        f"sys.argv = ['policy-ledger', *{argv!r}]\n"
        "code = 0\ntry:\n    main()\nexcept SystemExit as exc:\n    code = exc.code or 0\n"
        f"loaded = [m for m in {heavy!r} if m in sys.modules]\n"
        "print('\\nLOADED ' + json.dumps([code, loaded]), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0 and "\nLOADED " in done.stderr, done.stderr
    errors, marker = done.stderr.rsplit("\nLOADED ", 1)
    code, loaded = json.loads(marker)
    return code, done.stdout + errors, loaded


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _loaded_imports(path: Path) -> set[str]:
    """The modules a module imports when it loads: its top level, not its functions (which
    may import what they alone need) and not its `if TYPE_CHECKING:` blocks."""
    tree = ast.parse(path.read_text("utf-8"))
    found: set[str] = set()
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            if node.module == "ledger":  # from ledger import upcasting: a submodule
                found.update(f"ledger.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.If):
            if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                pending += [*node.body, *node.orelse]
        elif isinstance(node, ast.Try):
            pending += [*node.body, *node.orelse, *node.finalbody]
            pending += [stmt for handler in node.handlers for stmt in handler.body]
    return found


def test_the_light_modules_import_only_the_standard_library_orjson_and_each_other():
    allowed = {_module_name(path) for path in LIGHT_MODULES} | {"orjson"}
    heavy = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in LIGHT_MODULES
        for name in _loaded_imports(path)
        if name.split(".")[0] not in sys.stdlib_module_names and name not in allowed
    ]
    assert heavy == []


def test_the_light_modules_load_without_pydantic_sqlalchemy_or_the_catalogue():
    import subprocess

    names = [_module_name(path) for path in LIGHT_MODULES]
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n    importlib.import_module(name)\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert loaded.stdout.strip() == ""


def test_show_and_list_load_nothing_of_the_log_reader():
    # ledger/store/quick.py answers `show` and `list` from the read-model tables: it
    # loads the records, the folds and the row decoder only when a command reads the log.
    allowed = {"ledger.vocabulary", "orjson"}
    heavy = [
        name
        for name in _loaded_imports(ROOT / "ledger" / "store" / "quick.py")
        if name.split(".")[0] not in sys.stdlib_module_names and name not in allowed
    ]
    assert heavy == []
