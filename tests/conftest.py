"""Shared fixtures: real SQLite files and a real PostgreSQL schema per test.

PostgreSQL: POLICY_LEDGER_TEST_PG names the server (default: the local `test`
database). Without a server the PostgreSQL tests skip and say why, unless
POLICY_LEDGER_REQUIRE_PG=1 (as in CI), when they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ledger.service import Ledger

PG_URL = os.environ.get("POLICY_LEDGER_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("POLICY_LEDGER_REQUIRE_PG") == "1"


class Clock:
    """A test clock: each reading is one second after the last, unless set."""

    def __init__(self, start: datetime = datetime(2026, 1, 1, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def set(self, moment: datetime) -> None:
        """The next reading is one second after `moment`."""
        self.now = moment


def _pg_reachable() -> str | None:
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure to reach the server is a reason to skip
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The PostgreSQL URL, or a skip (a failure under POLICY_LEDGER_REQUIRE_PG=1)."""
    problem = _pg_reachable()
    if problem:
        message = f"PostgreSQL not reachable at {PG_URL} ({problem}); set POLICY_LEDGER_TEST_PG"
        if REQUIRE_PG:
            pytest.fail(message)
        pytest.skip(message)
    return PG_URL


@pytest.fixture
def pg_target(pg_server: str) -> Iterator[str]:
    """A fresh, empty schema on the PostgreSQL server, as a --db URL."""
    from sqlalchemy import create_engine, text

    schema = f"pl_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(pg_server)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in pg_server else "?"
    yield f"{pg_server}{separator}options=-csearch_path%3D{schema}"
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


@pytest.fixture
def sqlite_target(tmp_path: Path) -> str:
    """A path for a new SQLite ledger file."""
    return str(tmp_path / "ledger.db")


@pytest.fixture(params=["sqlite", "postgres"])
def db_target(request: pytest.FixtureRequest) -> str:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_target"))
    return str(request.getfixturevalue("pg_target"))


@pytest.fixture
def clock() -> Clock:
    """The service clock tests control."""
    return Clock()


@pytest.fixture
def make_ledger(clock: Clock) -> Iterator[Callable[..., Ledger]]:
    """Open (and later close) ledgers on a target with the test clock and Asia/Seoul."""
    opened: list[Ledger] = []

    def make(target: str, tz: str = "Asia/Seoul", **kwargs: Any) -> Ledger:
        ledger = Ledger.init(target, tz=tz, clock=kwargs.pop("clock", clock), user="desk@test", **kwargs)
        opened.append(ledger)
        return ledger

    yield make
    for ledger in opened:
        ledger.close()


@pytest.fixture
def ledger(make_ledger: Callable[..., Ledger], sqlite_target: str) -> Ledger:
    """A new SQLite ledger in Asia/Seoul."""
    return make_ledger(sqlite_target)


@pytest.fixture
def any_ledger(make_ledger: Callable[..., Ledger], db_target: str) -> Ledger:
    """A new ledger, once on SQLite and once on PostgreSQL."""
    return make_ledger(db_target)
