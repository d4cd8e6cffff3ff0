"""A realistic synthetic ledger, for tests and benchmarks: any size, always valid, deterministic.

Twenty years of one country: a head-of-government office whose tenures
alternate between administrations (with an acting holder now and then),
ministries, commitments made by each government and by the opposition with
revisions, reaffirmations, progress reports, withdrawals and supersessions,
budget lines followed through their phases with allocations, and watchdog
assessments. Every event carries a source.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import orjson

START = date(2006, 1, 1)
YEARS = 20
SOURCE_DOMAINS = ("news.example", "gazette.example", "assembly.example", "watchdog.example")


def _source(rng: random.Random, day: date, archived: bool) -> list[dict[str, Any]]:
    domain = rng.choice(SOURCE_DOMAINS)
    source: dict[str, Any] = {
        "url": f"https://{domain}/{day.isoformat()}/{rng.randrange(10**9)}",
        "publisher": domain.split(".")[0].title(),
        "published_on": day.isoformat(),
        "quote": f"공약 이행 점검 {rng.randrange(10**6)} — pledge check",
    }
    if archived:
        source["archive_url"] = f"https://archive.example/{rng.randrange(10**12)}"
        source["sha256"] = f"{rng.getrandbits(256):064x}"
    return [source]


def _event(
    type_: str, subject: str, day: date, data: dict[str, Any], sources: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "type": type_,
        "subject": subject,
        "occurred_at": day.isoformat(),
        "data": data,
        "sources": sources,
    }


class _Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.parties = ["party-a", "party-b", "party-c"]
        self.terms: list[tuple[date, date, str, str]] = []  # start, end, holder, administration
        self.commitments: list[dict[str, Any]] = []
        self.budget_count = 0

    def day_in(self, start: date, end: date) -> date:
        return start + timedelta(days=self.rng.randrange(max((end - start).days, 1)))

    def preamble(self) -> Iterator[dict[str, Any]]:
        yield _event(
            "ActorRegistered",
            "actor/assembly",
            START,
            {"name": "National Assembly", "kind": "legislature"},
            [],
        )
        yield _event(
            "ActorRegistered",
            "actor/government",
            START,
            {"name": "Government", "kind": "government"},
            [],
        )
        yield _event(
            "ActorRegistered",
            "actor/watchdog",
            START,
            {"name": "Pledge Watch", "kind": "organization"},
            [],
        )
        for party in self.parties:
            yield _event(
                "ActorRegistered", f"actor/{party}", START, {"name": party, "kind": "party"}, []
            )
        yield _event(
            "OfficeCreated",
            "office/head-of-government",
            START,
            {"name": "Head of Government", "jurisdiction": "XX", "kind": "head-of-government"},
            [],
        )
        day = START
        for term in range(YEARS // 4 + 1):
            holder = f"leader-{term}"
            party = self.parties[term % 2]
            yield _event(
                "ActorRegistered",
                f"actor/{holder}",
                START,
                {
                    "name": f"Leader {term}",
                    "names": {"ko": f"지도자 {term}"},
                    "kind": "person",
                    "parent": f"actor/{party}",
                },
                [],
            )
            end = min(day + timedelta(days=4 * 365), START + timedelta(days=YEARS * 365))
            self.terms.append((day, end, holder, f"admin-{term}"))
            day = end

    def tenures(self) -> Iterator[dict[str, Any]]:
        office = "office/head-of-government"
        for index, (start, end, holder, admin) in enumerate(self.terms):
            src = _source(self.rng, start, True)
            yield _event(
                "TenureBegan",
                office,
                start,
                {"holder": f"actor/{holder}", "role": "elected", "administration": admin},
                src,
            )
            if index == len(self.terms) - 1:
                return
            yield _event(
                "TenureEnded", office, end, {"holder": f"actor/{holder}", "reason": "term-end"}, src
            )

    def pledge(self, made: date, by: str, capacity: str, admin: str) -> dict[str, Any]:
        slug = f"c{len(self.commitments):06d}"
        money = self.rng.randrange(1, 500) * 10**9
        targets = [{"key": "budget", "quantity": {"amount": str(money), "unit": "KRW"}}]
        if self.rng.random() < 0.5:
            targets.append(
                {
                    "key": "units",
                    "quantity": {"amount": str(self.rng.randrange(10, 10000)), "unit": "GPU"},
                    "due": (made + timedelta(days=self.rng.randrange(200, 1500))).isoformat(),
                }
            )
        commitment = {
            "subject": f"commitment/{slug}",
            "made": made,
            "by": by,
            "money": money,
            "units": len(targets) > 1,
            "closed": False,
            "admin": admin,
        }
        self.commitments.append(commitment)
        return _event(
            "CommitmentMade",
            f"commitment/{slug}",
            made,
            {
                "by": by,
                "capacity": capacity,
                "title": f"공약 {slug}: invest in area {self.rng.randrange(40)}",
                "areas": [self.rng.choice(["ai", "health", "housing", "energy", "education"])],
                "targets": targets,
            },
            _source(self.rng, made, self.rng.random() < 0.7),
        )

    def follow_up(self, commitment: dict[str, Any], day: date, by: str) -> dict[str, Any]:
        subject = commitment["subject"]
        roll = self.rng.random()
        src = _source(self.rng, day, self.rng.random() < 0.7)
        if roll < 0.3:
            change = commitment["money"] * self.rng.choice([8, 9, 11, 12, 15]) // 10
            commitment["money"] = change
            return _event(
                "CommitmentRevised",
                subject,
                day,
                {
                    "by": by,
                    "capacity": "government",
                    "targets": [
                        {"key": "budget", "quantity": {"amount": str(change), "unit": "KRW"}}
                    ],
                    "reason": "budget review",
                },
                src,
            )
        if roll < 0.55 and commitment["units"]:
            return _event(
                "ProgressReported",
                subject,
                day,
                {
                    "target": "units",
                    "achieved": {"amount": str(self.rng.randrange(1, 5000)), "unit": "GPU"},
                },
                src,
            )
        if roll < 0.75:
            return _event(
                "AssessmentRecorded",
                subject,
                day,
                {
                    "assessor": "actor/watchdog",
                    "rubric": "pledge-3",
                    "rating": self.rng.choice(
                        ["fulfilled", "partially-fulfilled", "not-fulfilled"]
                    ),
                },
                src,
            )
        if roll < 0.8:
            commitment["closed"] = True
            return _event(
                "CommitmentWithdrawn",
                subject,
                day,
                {"by": by, "capacity": "government", "reason": "dropped"},
                src,
            )
        return _event(
            "CommitmentReaffirmed", subject, day, {"by": by, "capacity": "head-of-government"}, src
        )

    def budget(self, day: date, open_ones: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.budget_count += 1
        subject = f"budget/line-{self.budget_count:05d}"
        chosen = self.rng.sample(open_ones, min(len(open_ones), self.rng.randrange(1, 4)))
        events = []
        for offset, phase in enumerate(("proposed", "approved", "executed")):
            allocations = [
                {
                    "commitment": c["subject"],
                    "target": "budget",
                    "quantity": {"amount": str(c["money"] // (2 + offset)), "unit": "KRW"},
                }
                for c in chosen
            ]
            total = sum(int(a["quantity"]["amount"]) for a in allocations) + 10**9
            events.append(
                _event(
                    "AppropriationRecorded",
                    subject,
                    day + timedelta(days=30 * offset),
                    {
                        "body": "actor/assembly" if phase == "approved" else "actor/government",
                        "fiscal_year": (day + timedelta(days=30 * offset)).year,
                        "phase": phase,
                        "instrument": self.rng.choice(["main", "supplementary"]),
                        "quantity": {"amount": str(total), "unit": "KRW"},
                        "allocations": allocations,
                    },
                    _source(self.rng, day, True),
                )
            )
        return events


def synthetic_events(count: int, seed: int = 2025) -> Iterator[dict[str, Any]]:
    """Exactly `count` valid input events (JSON-ready dicts), in an order the rules accept."""
    gen = _Generator(seed)
    fixed = [*gen.preamble(), *gen.tenures()]
    produced = 0
    for event in fixed:
        if produced == count:
            return
        yield event
        produced += 1
    # Follow-ups and budgets refer to commitments whose CommitmentMade came
    # earlier in the file and earlier in valid time, so every prefix is valid.
    while produced < count:
        start, end, holder, admin = gen.terms[gen.rng.randrange(len(gen.terms))]
        day = gen.day_in(start, end - timedelta(days=120))
        open_ones = [c for c in gen.commitments[-200:] if not c["closed"] and c["made"] <= day]
        roll = gen.rng.random()
        batch: list[dict[str, Any]]
        if roll < 0.35 or not open_ones:
            opposition = gen.rng.random() < 0.2
            batch = [
                gen.pledge(
                    day,
                    f"actor/{holder}" if not opposition else "actor/party-c",
                    "opposition" if opposition else "head-of-government",
                    admin,
                )
            ]
        elif roll < 0.85:
            target = gen.rng.choice(open_ones)
            batch = [gen.follow_up(target, max(day, target["made"]), f"actor/{holder}")]
        else:
            batch = gen.budget(day, open_ones)
        for event in batch:
            if produced == count:
                return
            yield event
            produced += 1


def synthetic_lines(count: int, seed: int = 2025) -> Iterator[bytes]:
    """The synthetic ledger as NDJSON lines."""
    for event in synthetic_events(count, seed):
        yield orjson.dumps(event)
