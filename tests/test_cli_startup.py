"""What the command line imports before it has anything to do.

`policy-ledger --help` lists every command from cli/app.py's SUMMARIES, without
importing the command modules (pydantic, SQLAlchemy, cryptography and the event
catalogue come with them); these tests hold that listing to the one click makes
from the commands themselves, byte for byte. `pledge --help` and the usage errors
of the recording commands (a missing option, a bad choice) load neither pydantic
nor the event catalogue: cli/commands_record.py imports the decoder and the amount
reader only when it reads a value.

No test here measures time: what is imported is what the start-up costs.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from cli.app import MODULE_OF, SUMMARIES, LedgerGroup, cli, listed_command
from tests.test_architecture import HEAVY as LIGHT_PATH_HEAVY
from tests.test_architecture import command_loading

ROOT = Path(__file__).resolve().parents[1]
# Not one of these may load to print help or a usage error.
HEAVY = (*LIGHT_PATH_HEAVY, "cryptography", "jinja2")
# Every width click may shorten a summary to, and then some.
LIMITS = range(0, 200)
WIDTHS = (10, 20, 30, 40, 50, 57, 60, 70, 78, 80, 100, 120, 200)


def _all_commands() -> dict[str, click.Command]:
    """Every command `--help` lists, loaded from its module."""
    for module in sorted(set(MODULE_OF.values())):
        importlib.import_module(module)
    context = click.Context(cli)
    commands = {name: cli.get_command(context, name) for name in cli.list_commands(context)}
    return {name: cmd for name, cmd in commands.items() if cmd is not None and not cmd.hidden}


def _drift() -> list[str]:
    """Where SUMMARIES says other than the commands: missing, extra or different lines."""
    commands = _all_commands()
    found = [f"{name}: not in SUMMARIES" for name in sorted(set(commands) - set(SUMMARIES))]
    found += [f"{name}: no such command" for name in sorted(set(SUMMARIES) - set(commands))]
    for name in sorted(set(commands) & set(SUMMARIES)):
        own = commands[name].get_short_help_str(sys.maxsize)
        if SUMMARIES[name] != own:
            found.append(f"{name}: SUMMARIES has {SUMMARIES[name]!r}, the command {own!r}")
            continue
        found += [
            f"{name}: shortened to {limit} characters, the summary reads differently"
            for limit in LIMITS
            if listed_command(name).get_short_help_str(limit)
            != commands[name].get_short_help_str(limit)
        ]
    return found


def test_every_summary_is_what_click_makes_of_its_commands_help():
    assert _drift() == []


@pytest.mark.parametrize(
    "edit",
    [
        lambda text: text + " ",
        lambda text: text[:-1],
        lambda text: text.replace(" ", "  ", 1),
        lambda text: text.upper(),
    ],
)
def test_an_edited_summary_is_caught(monkeypatch, edit):
    monkeypatch.setitem(SUMMARIES, "pledge", edit(SUMMARIES["pledge"]))
    assert [line.split(":")[0] for line in _drift()] == ["pledge"]


def test_a_command_missing_from_the_summaries_is_caught(monkeypatch):
    monkeypatch.delitem(SUMMARIES, "verify")
    assert _drift() == ["verify: not in SUMMARIES"]


def _help(width: int) -> str:
    context = click.Context(
        cli, info_name="policy-ledger", terminal_width=width, max_content_width=width
    )
    return cli.get_help(context)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_listing_from_the_summaries_is_clicks_own(monkeypatch, width):
    _all_commands()
    with monkeypatch.context() as patched:
        patched.setattr(LedgerGroup, "format_commands", click.Group.format_commands)
        clicks = _help(width)
    assert "Commands:\n" in clicks and "  verify " in clicks
    # No command loaded: every line of the listing comes from SUMMARIES.
    monkeypatch.setattr(cli, "commands", {})
    assert _help(width) == clicks


def _run(
    args: list[str], *, load_all: bool = False, columns: str = "80", cwd: Path = ROOT
) -> tuple[int, str, str, list[str]]:
    """`policy-ledger ARGS` in a fresh interpreter, as the console script runs it: exit
    code, standard output, standard error, and the heavy modules it loaded."""
    script = (
        "import importlib, sys\n"
        "from cli.app import MODULE_OF, main\n"
        f"if {load_all!r}:\n"
        "    for module in sorted(set(MODULE_OF.values())):\n"
        "        importlib.import_module(module)\n"
        f"sys.argv = ['policy-ledger', *{args!r}]\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\nelse:\n    code = 0\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "heavy += sorted(m for m in sys.modules if m.startswith('cli.commands_'))\n"
        "sys.stdout.flush()\n"
        "sys.stderr.write('\\nLOADED ' + ','.join(heavy) + '\\n')\n"
        "sys.exit(code)\n"
    )
    env = {
        **os.environ,
        "COLUMNS": columns,
        "PYTHONPATH": str(ROOT),
        "POLICY_LEDGER_USER": "editor",
    }
    env.pop("POLICY_LEDGER_DB", None)
    env.pop("POLICY_LEDGER_DEBUG", None)
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,  # no terminal: a missing option is an error, not a prompt
        timeout=120,
    )
    stderr, marker, loaded = done.stderr.rpartition("\nLOADED ")
    assert marker, done.stderr
    return done.returncode, done.stdout, stderr, [m for m in loaded.strip().split(",") if m]


@pytest.mark.parametrize(
    ("args", "exit_code", "columns"),
    [
        (["--help"], 0, "80"),
        (["-h"], 0, "80"),
        (["--help"], 0, "50"),
        ([], 2, "80"),  # no command: click prints the help
    ],
)
def test_help_imports_no_command_module_and_prints_what_click_would(args, exit_code, columns):
    code, out, err, loaded = _run(args, columns=columns)
    assert loaded == []
    assert code == exit_code, err
    assert "Commands:\n  appropriate " in out + err
    # The same bytes as click's own listing, made from every command loaded.
    assert _run(args, load_all=True, columns=columns)[:3] == (code, out, err)


@pytest.mark.parametrize(
    ("args", "exit_code", "says"),
    [
        (["pledge", "--help"], 0, "Usage: policy-ledger pledge [OPTIONS] SUBJECT"),
        (["revise", "-h"], 0, "Usage: policy-ledger revise [OPTIONS] SUBJECT"),
        (["pledge"], 2, "Error: Missing argument 'SUBJECT'."),
        (["pledge", "commitment/x"], 2, "Error: Missing option '--target'."),
        (
            ["pledge", "commitment/x", "--target", "gpus=10,000 GPU"],
            2,
            "Error: Missing option '--by'.",
        ),
        (
            ["pledge", "commitment/x", "--capacity", "king"],
            2,
            "Error: Invalid value for '--capacity': 'king' is not one of",
        ),
        (
            ["register-actor", "actor/x", "--kind", "robot"],
            2,
            "Error: Invalid value for '--kind': 'robot' is not one of",
        ),
        (["register-actor", "actor/x"], 2, "Error: Missing option '--name'."),
        (
            ["end-tenure", "office/x", "--holder", "actor/y", "--reason", "bored"],
            2,
            "Error: Invalid value for '--reason': 'bored' is not one of",
        ),
        (
            ["begin-tenure", "office/x", "--holder", "actor/y", "--role", "elected"],
            2,
            "Error: Missing option '--on'.",
        ),
        (
            ["appropriate", "budget/x", "--fiscal-year", "soon"],
            2,
            "Error: Invalid value for '--fiscal-year': 'soon' is not a valid integer.",
        ),
        (
            ["report-progress", "commitment/x", "--target", "gpus"],
            2,
            "Error: Missing option '--achieved'.",
        ),
        (["retract", "commitment/x"], 2, "Error: Missing argument 'EVENT_ID'."),
        (["withdraw", "commitment/x", "--bogus"], 2, "Error: No such option '--bogus'."),
    ],
)
def test_recording_help_and_usage_errors_load_neither_pydantic_nor_the_catalogue(
    tmp_path, args, exit_code, says
):
    db = tmp_path / "ledger.db"
    code, out, err, loaded = _run(["--db", str(db), *args], cwd=tmp_path)
    assert code == exit_code, err
    assert says in out + err
    assert "Traceback" not in err
    assert loaded == ["cli.commands_record"]
    assert not db.exists()  # nothing opened, nothing created


def test_a_recording_error_found_after_the_usage_checks_still_reads_the_amount(tmp_path):
    # The amount reader is imported where it is needed, and still answers in its words.
    args = ["pledge", "commitment/x", "--target", "gpus=lots", "--by", "actor/y"]
    args += ["--capacity", "government", "--title", "GPUs"]
    code, _out, err, loaded = _run(["--db", str(tmp_path / "ledger.db"), *args], cwd=tmp_path)
    assert code == 1
    assert err.strip() == "Error: --target gpus: cannot read amount 'lots': unknown word 'lots'"
    assert "ledger.quantities" in loaded


# --- writes: the store runs on sqlite3 alone for a file (ledger/store/db.py) ----------


def _writes(db: str, tmp_path: Path) -> list[list[str]]:
    """Commands that record, import, catch up and read back, in that order."""
    events = tmp_path / "events.ndjson"
    events.write_bytes(
        b'{"type": "ActorRegistered", "subject": "actor/lee", "occurred_at": "2025-06-04", '
        b'"data": {"name": "Lee Jae-myung", "kind": "person"}}\n'
    )
    return [
        [
            "--db",
            db,
            "register-actor",
            "actor/han",
            "--name",
            "Han Duck-soo",
            "--kind",
            "person",
            "--on",
            "2025-04-08",
        ],
        ["--db", db, "import", str(events)],
        ["--db", db, "rebuild"],
        ["--db", db, "show", "actor/lee"],
    ]


def test_writing_to_a_ledger_file_never_loads_sqlalchemy(tmp_path):
    db = str(tmp_path / "ledger.db")
    code, out, _ = command_loading(["--db", db, "init", "--tz", "Asia/Seoul"], ("sqlalchemy",))
    assert code == 0, out  # creating the tables renders their DDL with SQLAlchemy
    for argv in _writes(db, tmp_path):
        code, out, loaded = command_loading(argv, ("sqlalchemy", "ledger.store.schema"))
        assert code == 0, (argv, out)
        assert loaded == [], (argv, loaded)
    code, out, _ = command_loading(["--db", db, "show", "actor/han"])
    assert code == 0 and "Han Duck-soo" in out


def test_writing_to_postgresql_loads_sqlalchemy(pg_target, tmp_path):
    # The same check sees SQLAlchemy where the store needs it: the server's engine.
    code, out, _ = command_loading(["--db", pg_target, "init", "--tz", "Asia/Seoul"])
    assert code == 0, out
    argv = _writes(pg_target, tmp_path)[0]
    code, out, loaded = command_loading(argv, ("sqlalchemy",))
    assert code == 0, out
    assert loaded == ["sqlalchemy"]
