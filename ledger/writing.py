"""The write path: events checked and appended a chunk at a time, in one transaction.

`Ledger.append` (new events) and `Ledger.import_mirror` (another ledger's log,
verbatim) feed a store session (`SqlEventStore.session`: one transaction that
holds the append lock) `CHUNK_EVENTS` events at a time, so a write of millions
of events holds one chunk in memory. Each chunk is checked against the log as
the session sees it, its own earlier chunks included; a chunk that names what a
later chunk creates is checked again once everything is written, and only what
still breaks then is an error. Any error rolls the whole write back.
"""

from __future__ import annotations

import gc
import uuid
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any, TypeVar, overload
from zoneinfo import ZoneInfo

from ledger.decoding import Candidate
from ledger.errors import DuplicateEventConflict, InvalidEvent, RuleViolation
from ledger.projections import HistoryError
from ledger.records import Content, StoredEvent, instant_key, occurred_instant, seal
from ledger.rules import TYPES_THAT_AFFECT_REFERRERS, check_batch
from ledger.store.sql import AppendSession, SqlEventStore


@dataclass(frozen=True)
class AppendResult:
    """What a write did."""

    added: Sequence[StoredEvent]
    skipped: Sequence[str]

    @property
    def head(self) -> int:
        """The last position written, or 0 when nothing was."""
        return self.added[-1].position if self.added else 0


LineOf = Callable[[StoredEvent], "int | None"]
CHUNK_EVENTS = 2000  # events decoded, checked and written at a time by one write
T = TypeVar("T")


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of `size` items (the last may be shorter), read lazily, for bulk work.

    Between two chunks the young generation is collected. Bulk work runs with
    the cyclic collector paused (ledger/bulk.py), and SQLAlchemy's statements
    are reference cycles: without this, every chunk's queries (and the ids
    bound in them) would stay alive until the whole write ends.
    """
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
        del chunk  # the caller is done with it: collect what it left behind
        gc.collect(0)


def new_only(
    store: SqlEventStore, candidates: Sequence[Candidate]
) -> tuple[list[tuple[str, Candidate, Content]], list[str]]:
    """Derive ids; drop events already stored (same content), refuse same id with other content."""
    with_ids: list[tuple[str, Candidate, Content]] = []
    for candidate in candidates:
        event_id, content = candidate.facts()
        with_ids.append((event_id, candidate, content))
    stored = store.find(i for i, _, _ in with_ids)
    seen: dict[str, dict[str, Any]] = {
        i: {k: getattr(s, k) for k in ("type", "subject", "occurred_at", "data", "sources")}
        for i, s in stored.items()
    }
    fresh: list[tuple[str, Candidate, Content]] = []
    skipped: list[str] = []
    for event_id, candidate, content in with_ids:
        earlier = seen.get(event_id)
        if earlier is None:
            seen[event_id] = content.facts()
            fresh.append((event_id, candidate, content))
        elif earlier == content.facts():
            skipped.append(event_id)
        else:
            where = f"position {stored[event_id].position}" if event_id in stored else "this input"
            raise DuplicateEventConflict(
                f"line {candidate.line}: event id {event_id} is already in {where} "
                "with other content; nothing was written"
            )
    return fresh, skipped


def check_rules(
    store: SqlEventStore,
    new: list[StoredEvent],
    line_of: LineOf,
    *,
    written: bool = False,
    new_input: bool = True,
) -> None:
    """The rules over every history the new events touch, as it stands with them.

    `written`: the new events are already in the store (inside the open
    write session), so the histories read include them. `new_input`: they
    are new input, held to the rules for new input too (not a mirror's copy
    of another ledger's log, which may predate those rules).
    """
    histories: dict[str, list[StoredEvent]] = {}
    pending: dict[str, list[StoredEvent]] = defaultdict(list)
    if not written:
        for stored in new:
            pending[stored.subject].append(stored)
    _load(store, histories, {s.subject for s in new}, pending)
    referrers: dict[str, list[str]] = {}
    changing = sorted({s.subject for s in new if s.type in TYPES_THAT_AFFECT_REFERRERS})
    if changing:
        for stored in store.referencing(changing):
            for ref in stored.references():
                if ref in changing:
                    referrers.setdefault(ref, []).append(stored.subject)
        _load(store, histories, {s for subs in referrers.values() for s in subs}, pending)
    # Every subject the checked histories name must be there to check that it
    # exists, and a commitment named by an allocation for its targets then.
    named = {ref for history in histories.values() for e in history for ref in e.references()}
    _load(store, histories, named, pending)
    try:
        check_batch(
            new,
            histories,
            referrers,
            same_write=lambda e: line_of(e) is not None,
            new_input=new_input,
        )
    except HistoryError as exc:
        raise _blame(exc, new, line_of) from None


def _load(
    store: SqlEventStore,
    histories: dict[str, list[StoredEvent]],
    subjects: Iterable[str],
    pending: dict[str, list[StoredEvent]],
) -> None:
    missing = set(subjects) - set(histories)
    for subject, stored_events in store.read_subjects(missing).items():
        histories[subject] = stored_events + pending.get(subject, [])


def _blame(exc: HistoryError, new: list[StoredEvent], line_of: LineOf) -> RuleViolation:
    culprit = exc.event
    line = line_of(culprit)
    if line is not None:
        return RuleViolation(exc.reason, line=line, field=exc.field)
    # A stored event became invalid: blame the first new event of that subject
    # or, failing that, the first new event of the batch.
    new_here = [s for s in new if s.subject == culprit.subject] or new
    first = new_here[0]
    reason = (
        f"{first.type} of {first.occurred_at} would make the stored {culprit.type} of "
        f"{culprit.occurred_at} (position {culprit.position}, {culprit.subject}) invalid: "
        f"{exc.reason}"
    )
    return RuleViolation(reason, line=line_of(first))


RECHECK_SUBJECTS = 500  # deferred subjects checked again at a time


def recheck(
    store: SqlEventStore,
    subjects: set[str],
    first: int,
    line_of: LineOf,
    *,
    new_input: bool = True,
) -> None:
    """Check again, with the whole write in the store, subjects a chunk left in doubt.

    A group of subjects at a time (each group's histories, referrers and the
    subjects they name), so that input where every chunk names what a later
    one creates (all pledges first, then the actors) stays within bounded
    memory. Each subject's check needs only its own history and those it
    names, all in the store by now: the groups together check what one
    batch would.
    """
    for group in batched(sorted(subjects), RECHECK_SUBJECTS):
        histories = store.read_subjects(group)
        new = sorted(
            (e for history in histories.values() for e in history if e.position >= first),
            key=lambda e: e.position,
        )
        check_rules(store, new, line_of, written=True, new_input=new_input)


class ChunkedWrite:
    """One write's progress across its chunks, inside one store session.

    Each chunk is checked against the log as the session sees it (the stored
    events and the chunks before it). A chunk may name what a later chunk of
    the same input creates: a chunk that breaks a rule is therefore not an
    error yet; its subjects are checked again, with every chunk written, at
    the end, and only what still breaks then is reported (and nothing written).
    """

    def __init__(self, store: SqlEventStore, tz: ZoneInfo, session: AppendSession) -> None:
        self.store = store
        self.tz = tz
        self.session = session
        self.first = session.next_position
        self.versions: dict[str, int] = {}
        self.lines = array("q")  # input line of each added event, by position - first
        self.kept: list[StoredEvent] = []  # the added events, while few
        self.keeping = True
        self.skipped = EventIds()
        self.deferred: set[str] = set()
        self._keys: dict[str, str] = {}  # occurred_at -> its sort key (many events share a day)

    def occurred_key(self, occurred_at: str) -> str:
        key = self._keys.get(occurred_at)
        if key is None:
            if len(self._keys) > 10_000:
                self._keys.clear()  # date-times rarely repeat: keep the cache small
            key = instant_key(occurred_instant(occurred_at, self.tz))
            self._keys[occurred_at] = key
        return key

    def line_of(self, stored: StoredEvent) -> int | None:
        offset = stored.position - self.first
        return self.lines[offset] if 0 <= offset < len(self.lines) else None

    def add(self, chunk: list[Candidate]) -> None:
        fresh, skipped = new_only(self.store, chunk)
        self.skipped.extend(skipped)
        unknown = {content.subject for _, _, content in fresh} - set(self.versions)
        if unknown:
            found = self.store.versions(unknown)
            self.versions.update({s: found.get(s, 0) for s in unknown})
        start = self.session.next_position
        sealed: list[StoredEvent] = []
        for offset, (event_id, candidate, content) in enumerate(fresh):
            version = self.versions[content.subject] + 1
            self.versions[content.subject] = version
            stored = seal(
                candidate.event,
                event_id=event_id,
                version=version,
                recorded_at=self.session.recorded_at,
                recorded_by=candidate.recorded_by,
                occurred_key=self.occurred_key(content.occurred_at),
                content=content,
                position=start + offset,
            )
            sealed.append(stored)
            self.lines.append(candidate.line)
        try:
            check_rules(self.store, sealed, self.line_of)
        except RuleViolation:
            self.deferred.update(s.subject for s in sealed)
        placed = self.session.add(sealed)
        if self.keeping and len(self.kept) + len(placed) <= CHUNK_EVENTS:
            self.kept += placed
        else:
            self.keeping, self.kept = False, []  # too many to keep: read back when asked

    def finish(self) -> None:
        """Check again, with the whole input written, the subjects a chunk left in doubt."""
        recheck(self.store, self.deferred, self.first, self.line_of)

    def result(self) -> AppendResult:
        count = len(self.lines)
        if self.keeping:
            return AppendResult(self.kept, self.skipped)
        return AppendResult(Appended(self.store, self.first, count), self.skipped)


class MirrorWrite:
    """A mirror import's progress across its chunks, inside one store session.

    The file's first events must be the mirror's own, leaf for leaf; the rest
    are appended at the positions, versions and record times they carry, and
    checked against the rules as `ChunkedWrite` checks new events.
    """

    def __init__(self, store: SqlEventStore, tz: ZoneInfo, session: AppendSession) -> None:
        self.store = store
        self.tz = tz
        self.session = session
        self.head = session.next_position - 1  # the mirror's size before this import
        self.own = store.read_all()  # the mirror's events, to compare with the file's
        self.expected = 1
        self.previous = ""  # the record time of the event before
        self.versions: dict[str, int] = {}
        self.skipped = EventIds()
        self.deferred: set[str] = set()
        self._keys: dict[str, str] = {}  # occurred_at -> its sort key (many events share a day)

    @staticmethod
    def line_of(stored: StoredEvent) -> int:
        return stored.position  # the file's Nth event is at position N

    def add(self, chunk: list[StoredEvent]) -> None:
        earlier = self.store.find(e.id for e in chunk)  # this file's earlier chunks included
        seen: set[str] = set()
        fresh: list[StoredEvent] = []
        for stored in chunk:
            self._check_order(stored, earlier, seen)
            if stored.position <= self.head:
                mine = next(self.own)
                if mine.leaf_hash != stored.leaf_hash:
                    raise InvalidEvent(
                        f"position {mine.position} differs from this mirror's copy: not the same "
                        "log, or history was rewritten",
                        line=mine.position,
                    )
                self.skipped.append(stored.id)
            else:
                fresh.append(stored)
        if not fresh:
            return
        unknown = {e.subject for e in fresh} - set(self.versions)
        if unknown:
            found = self.store.versions(unknown)
            self.versions.update({s: found.get(s, 0) for s in unknown})
        fresh = [self._placed(e) for e in fresh]
        try:
            check_rules(self.store, fresh, self.line_of, new_input=False)
        except RuleViolation:
            self.deferred.update(e.subject for e in fresh)
        self.session.add(fresh)

    def _check_order(
        self, stored: StoredEvent, earlier: dict[str, StoredEvent], seen: set[str]
    ) -> None:
        line = self.expected
        if stored.recorded_at < self.previous:
            raise InvalidEvent(
                f"position {stored.position} is recorded at {stored.recorded_at}, before the "
                f"event before it ({self.previous}): record time cannot go backwards",
                line=line,
            )
        self.previous = stored.recorded_at
        before = earlier.get(stored.id)
        if stored.id in seen or (before is not None and before.position < line):
            raise InvalidEvent(f"event id {stored.id} appears twice (duplicated event)", line=line)
        seen.add(stored.id)
        if stored.position != line:
            problem = "duplicated or reordered" if stored.position < line else "missing"
            raise InvalidEvent(
                f"position {line} is {problem} (the line holds position {stored.position})",
                line=line,
            )
        self.expected += 1

    def _placed(self, stored: StoredEvent) -> StoredEvent:
        subject = stored.subject
        if stored.version != self.versions[subject] + 1:
            raise InvalidEvent(
                f"{subject} version {stored.version} follows version {self.versions[subject]}",
                line=stored.position,
            )
        self.versions[subject] = stored.version
        # read_mirror_lines let only the stored form of occurred_at through: it parses.
        key = self._keys.get(stored.occurred_at)
        if key is None:
            if len(self._keys) > 10_000:
                self._keys.clear()  # date-times rarely repeat: keep the cache small
            key = instant_key(occurred_instant(stored.occurred_at, self.tz))
            self._keys[stored.occurred_at] = key
        return replace(stored, occurred_key=key)

    def finish(self) -> None:
        count = self.expected - 1
        if count < self.head:
            raise InvalidEvent(
                f"the file has {count} events but this mirror already has {self.head}"
            )
        recheck(self.store, self.deferred, self.head + 1, self.line_of, new_input=False)

    def result(self) -> AppendResult:
        added = self.expected - 1 - self.head
        if added <= 0:
            return AppendResult([], self.skipped)
        return AppendResult(Appended(self.store, self.head + 1, added), self.skipped)


class _Lazy(Sequence[T]):
    """A read-only sequence whose items are made on demand, compared as a list."""

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            return self._range(start, stop, step)
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"{type(self).__name__} index out of range")
        return self._item(index)

    def _item(self, index: int) -> T:
        raise NotImplementedError

    def _range(self, start: int, stop: int, step: int) -> list[T]:
        return [self._item(i) for i in range(start, stop, step)]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


class EventIds(_Lazy[str]):
    """Event ids, 16 bytes each: re-importing a million-event file skips a million ids.

    An id in the canonical UUID form (all ids the ledger derives or stores from
    its own input) is kept as its 16 bytes; any other spelling, as it is.
    """

    def __init__(self) -> None:
        self._packed = bytearray()
        self._spelled: dict[int, str] = {}  # index -> an id not in canonical form

    def append(self, event_id: str) -> None:
        index = len(self)
        try:
            packed = uuid.UUID(event_id).bytes
        except ValueError:
            packed = bytes(16)
        if str(uuid.UUID(bytes=packed)) != event_id:
            self._spelled[index] = event_id
        self._packed += packed

    def extend(self, event_ids: Iterable[str]) -> None:
        for event_id in event_ids:
            self.append(event_id)

    def __len__(self) -> int:
        return len(self._packed) // 16

    def _item(self, index: int) -> str:
        spelled = self._spelled.get(index)
        if spelled is not None:
            return spelled
        return str(uuid.UUID(bytes=bytes(self._packed[16 * index : 16 * index + 16])))


class Appended(_Lazy[StoredEvent]):
    """The events a large write added, read back from the store when asked for.

    An import of millions of events keeps none of them in memory; the
    sequence reads them from the log (positions first .. first + count - 1).
    """

    def __init__(self, store: SqlEventStore, first: int, count: int) -> None:
        self.store, self.first, self.size = store, first, count

    def __len__(self) -> int:
        return self.size

    def _item(self, index: int) -> StoredEvent:
        return next(self.store.read_all(self.first + index - 1, batch_size=1))

    def _range(self, start: int, stop: int, step: int) -> list[StoredEvent]:
        if step != 1 or start >= stop:
            return super()._range(start, stop, step)
        # A run of positions: one streamed read, not one query per event.
        return list(islice(self.store.read_all(self.first + start - 1), stop - start))

    def __iter__(self) -> Iterator[StoredEvent]:
        return islice(self.store.read_all(self.first - 1), self.size)
