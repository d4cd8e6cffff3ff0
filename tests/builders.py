"""Small builders for event lines, so tests read as the facts they state."""

from __future__ import annotations

from typing import Any

import orjson

SOURCE = [{"url": "https://example.org/source", "publisher": "Example Daily"}]


def ev(type_: str, subject: str, occurred_at: str, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """One input event with a source."""
    event = {"type": type_, "subject": subject, "occurred_at": occurred_at, "data": data, "sources": SOURCE}
    event.update(extra)
    return event


def actor(slug: str, name: str | None = None, kind: str = "person", on: str = "2020-01-01") -> dict[str, Any]:
    """ActorRegistered for actor/SLUG."""
    return ev("ActorRegistered", f"actor/{slug}", on, {"name": name or slug, "kind": kind})


def office(slug: str = "president", on: str = "1948-07-24") -> dict[str, Any]:
    """OfficeCreated for office/SLUG."""
    return ev("OfficeCreated", f"office/{slug}", on, {"name": slug, "jurisdiction": "KR", "kind": "head-of-state"})


def made(slug: str, by: str = "actor/han", on: str = "2025-04-24", targets: list[dict[str, Any]] | None = None,
         capacity: str = "head-of-government", **data: Any) -> dict[str, Any]:
    """CommitmentMade for commitment/SLUG (one GPU target by default)."""
    return ev("CommitmentMade", f"commitment/{slug}", on, {
        "by": by, "capacity": capacity, "title": f"Pledge {slug}", "areas": ["ai"],
        "targets": targets or [{"key": "gpus", "quantity": {"amount": "10,000", "unit": "GPU"}}], **data})


def lines(*events: dict[str, Any]) -> list[bytes]:
    """NDJSON lines for an import."""
    return [orjson.dumps(e) for e in events]
