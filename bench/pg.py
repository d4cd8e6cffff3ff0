"""PostgreSQL for the benchmark: the server to use, and fresh schemas on it."""

from __future__ import annotations

import os
import uuid
from typing import Any

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ENV = "POLICY_LEDGER_BENCH_PG"


def server_url(given: str | None) -> tuple[str, bool]:
    """(URL, whether the user named it) from --postgres, the environment, or the default."""
    if given:
        return given, True
    if os.environ.get(ENV):
        return os.environ[ENV], True
    return DEFAULT_URL, False


def libpq(url: str) -> str:
    """An SQLAlchemy URL as a libpq connection string psycopg accepts."""
    return "postgresql://" + url.split("://", 1)[1]


def _connect(url: str) -> Any:
    import psycopg

    return psycopg.connect(libpq(url), connect_timeout=5, autocommit=True)


def probe(url: str) -> tuple[str | None, str | None]:
    """(server version, None) when the server answers, else (None, why not)."""
    try:
        with _connect(url) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return (str(row[0]) if row else "unknown"), None
    except ModuleNotFoundError:
        return None, "psycopg is not installed (pip install -e '.[postgres]')"
    except Exception as exc:  # any failure to reach the server means "not available"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None, first


class Schemas:
    """Fresh schemas on one server, each a --db URL, all dropped by `drop_all`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.token = uuid.uuid4().hex[:8]
        self.created: list[str] = []

    def fresh(self, label: str) -> str:
        """A new, empty schema, as a URL whose search_path points at it."""
        name = f"pl_bench_{self.token}_{label}_{len(self.created)}"
        with _connect(self.url) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        self.created.append(name)
        separator = "&" if "?" in self.url else "?"
        return f"{self.url}{separator}options=-csearch_path%3D{name}"

    def drop_all(self) -> None:
        """Drop every schema this made."""
        with _connect(self.url) as conn:
            for name in self.created:
                conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        self.created.clear()
