"""The ledger's use cases: record, import, and read derived state.

The only layer that reads the clock and talks to the store. Each write is one
store transaction: the whole batch is checked against the rules first, then
appended with the versions it was checked against, so a concurrent writer
either loses cleanly (ConcurrencyError) or is seen.
"""

from __future__ import annotations

import gc
import unicodedata
import uuid
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar, overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from ledger.bulk import bulk
from ledger.errors import (
    DuplicateEventConflict,
    InvalidEvent,
    LedgerConfigError,
    NotFound,
    RuleViolation,
)
from ledger.events import Event, check_subject, decode_event, subject_kind
from ledger.projections import (
    CommitmentState,
    HistoryError,
    LedgerState,
    View,
    live_events,
    project_commitment,
    project_ledger,
)
from ledger.readside import (
    catch_up,
    continuity_from_store,
    judged,
    rebuild,
    state_from_store,
    state_sections,
)
from ledger.records import (
    Content,
    StoredEvent,
    format_recorded_at,
    instant_key,
    occurred_instant,
    seal,
)
from ledger.rules import TYPES_THAT_AFFECT_REFERRERS, check_batch
from ledger.store.readmodels import ReadModels
from ledger.store.sql import AppendSession, SqlEventStore

if TYPE_CHECKING:  # the continuity module loads only when a report is asked for
    from ledger.continuity import ContinuityReport, Grouping

Clock = Callable[[], datetime]
TZ_SETTING = "timezone"
MAX_LINE_BYTES = 1 << 20  # one event per line; nothing legitimate comes near a mebibyte
ORIGIN_SETTING = "origin"


def utc_now() -> datetime:
    """The service's clock: the current instant in UTC."""
    return datetime.now(UTC)


def load_zone(name: str) -> ZoneInfo:
    """An IANA time zone by name, or a clear error."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise LedgerConfigError(
            f"unknown time zone '{name}' (use an IANA name like Asia/Seoul)"
        ) from None


@dataclass(frozen=True)
class Candidate:
    """A decoded input event and the line it came from."""

    line: int
    event: Event
    recorded_by: str


@dataclass(frozen=True)
class AppendResult:
    """What a write did."""

    added: Sequence[StoredEvent]
    skipped: list[str]

    @property
    def head(self) -> int:
        """The last position written, or 0 when nothing was."""
        return self.added[-1].position if self.added else 0


def _too_long(size: int, unit: str, number: int) -> InvalidEvent:
    return InvalidEvent(
        f"the line is longer than the limit of 1 MiB ({size:,} {unit})", line=number
    )


def read_lines(stream: BinaryIO) -> Iterator[bytes]:
    """A binary stream's lines as read, never holding more than one line of at most 1 MiB.

    A longer line is refused by its number and length; the rest of it is
    counted as it is read, not kept.
    """
    number = 0
    while line := stream.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(line) > MAX_LINE_BYTES:
            size = len(line)
            while not line.endswith(b"\n") and (line := stream.readline(1 << 20)):
                size += len(line)
            raise _too_long(size, "bytes", number)
        yield line


def parse_ndjson(lines: Iterable[bytes | str]) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON) for each non-blank line; a bad line names itself."""
    for number, line in enumerate(lines, start=1):
        if len(line) > MAX_LINE_BYTES:
            raise _too_long(len(line), "bytes" if isinstance(line, bytes) else "characters", number)
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidEvent(
                    f"not valid UTF-8 ({exc.reason} at byte {exc.start})", line=number
                ) from None
        if not line.strip():
            continue
        try:
            yield number, orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise InvalidEvent(f"not valid JSON ({exc.msg})", line=number) from None


class Ledger:
    """The ledger service over one store."""

    def __init__(
        self, store: SqlEventStore, *, clock: Clock = utc_now, user: str = "unknown"
    ) -> None:
        self.store = store
        self.clock = clock
        self.user = _checked_user(user)
        self._readmodels: ReadModels | None = None
        zone = store.setting(TZ_SETTING) or "UTC"
        self.tz = load_zone(zone)

    @classmethod
    def open(cls, target: str, *, clock: Clock = utc_now, user: str = "unknown") -> Ledger:
        """Open an existing ledger at a path or URL."""
        store = SqlEventStore.open(target)
        try:
            return cls(store, clock=clock, user=user)
        except BaseException:
            store.close()  # a refused recorder name must not leave a connection open
            raise

    @classmethod
    def init(
        cls,
        target: str,
        *,
        tz: str | None = None,
        origin: str | None = None,
        clock: Clock = utc_now,
        user: str = "unknown",
    ) -> Ledger:
        """Create the ledger if needed (harmless when it exists); set its time zone and origin once."""
        if tz is not None:
            load_zone(tz)  # before anything is created: a bad zone leaves no file behind
        store = SqlEventStore.open(target, create=True)
        try:
            _settle_origin(store, origin)
            _settle_zone(store, tz)
        except BaseException:
            store.close()
            raise
        return cls(store, clock=clock, user=user)

    def close(self) -> None:
        """Release the store."""
        self.store.close()

    @property
    def origin(self) -> str:
        """The log's name in its checkpoints."""
        return self.store.setting(ORIGIN_SETTING) or "policy-ledger.local/unnamed"

    # --- writing -------------------------------------------------------------

    def candidates(self, lines: Iterable[bytes | str]) -> Iterator[Candidate]:
        """Decode NDJSON input as it is read; the first bad line stops everything."""
        for number, raw in parse_ndjson(lines):
            try:
                event = decode_event(raw)
            except InvalidEvent as exc:
                raise exc.at_line(number) from None
            yield Candidate(number, event, event.recorded_by or self.user)

    def import_lines(self, lines: Iterable[bytes | str]) -> AppendResult:
        """Append NDJSON events: all of them or, on any error, none.

        The input is read, checked and written a chunk at a time inside one
        transaction, so an import of millions of events holds one chunk in
        memory, not the file; any error rolls all of it back.
        """
        return self.append(self.candidates(lines))

    def record(self, event: Event) -> AppendResult:
        """Append one event built by a caller (the recording commands)."""
        return self.append([Candidate(1, event, event.recorded_by or self.user)])

    @bulk
    def append(self, candidates: Iterable[Candidate]) -> AppendResult:
        """Check events against the ledger and the rules and append them in one transaction.

        The first chunk is decoded before the append lock is taken; the lock
        is then held to the end, so versions and rules are checked against a
        log no other writer can change meanwhile.
        """
        chunks = _batched(candidates, CHUNK_EVENTS)
        first = next(chunks, None)
        if first is None:
            return AppendResult([], [])
        stamp = lambda: format_recorded_at(self.clock())  # noqa: E731
        with self.store.session(stamp) as session:
            write = _Write(self, session)
            write.add(first)
            del first  # hold one chunk at a time
            for chunk in chunks:
                write.add(chunk)
                # The collector is paused (see ledger/bulk.py), and SQLAlchemy's
                # statements hold reference cycles: without this, each chunk's
                # queries (and the ids in them) would stay until the end.
                gc.collect(0)
            write.finish()
        return write.result()

    def _new_only(
        self, candidates: Sequence[Candidate]
    ) -> tuple[list[tuple[str, Candidate, Content]], list[str]]:
        """Derive ids; drop events already stored (same content), refuse same id with other content."""
        with_ids: list[tuple[str, Candidate, Content]] = []
        for candidate in candidates:
            content = Content.of(candidate.event)
            event_id = str(candidate.event.id) if candidate.event.id else content.derived_id()
            with_ids.append((event_id, candidate, content))
        stored = self.store.find(i for i, _, _ in with_ids)
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
                where = (
                    f"position {stored[event_id].position}" if event_id in stored else "this input"
                )
                raise DuplicateEventConflict(
                    f"line {candidate.line}: event id {event_id} is already in {where} "
                    "with other content; nothing was written"
                )
        return fresh, skipped

    def _check_rules(
        self, new: list[StoredEvent], line_of: LineOf, *, written: bool = False
    ) -> None:
        """The rules over every history the new events touch, as it stands with them.

        `written`: the new events are already in the store (inside the open
        write session), so the histories read include them.
        """
        histories: dict[str, list[StoredEvent]] = {}
        pending: dict[str, list[StoredEvent]] = defaultdict(list)
        if not written:
            for stored in new:
                pending[stored.subject].append(stored)
        self._load(histories, {s.subject for s in new}, pending)
        referrers: dict[str, list[str]] = {}
        changing = sorted({s.subject for s in new if s.type in TYPES_THAT_AFFECT_REFERRERS})
        if changing:
            for stored in self.store.referencing(changing):
                for ref in stored.references():
                    if ref in changing:
                        referrers.setdefault(ref, []).append(stored.subject)
            self._load(histories, {s for subs in referrers.values() for s in subs}, pending)
        # Every subject the checked histories name must be there to check that it
        # exists, and a commitment named by an allocation for its targets then.
        named = {ref for history in histories.values() for e in history for ref in e.references()}
        self._load(histories, named, pending)
        try:
            check_batch(new, histories, referrers)
        except HistoryError as exc:
            raise self._blame(exc, new, line_of) from None

    def _load(
        self,
        histories: dict[str, list[StoredEvent]],
        subjects: Iterable[str],
        pending: dict[str, list[StoredEvent]],
    ) -> None:
        missing = set(subjects) - set(histories)
        for subject, stored_events in self.store.read_subjects(missing).items():
            histories[subject] = stored_events + pending.get(subject, [])

    @staticmethod
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

    @bulk
    def import_mirror(self, lines: Iterable[bytes | str]) -> AppendResult:
        """Load another ledger's export-events output verbatim (ids, versions, times, positions).

        The mirror must be empty or an earlier copy of the same log: its events
        must be the file's first events, leaf for leaf. Anything altered,
        missing, duplicated or reordered is refused and nothing is written.
        Like `import_lines`, the file is read a chunk at a time inside one
        transaction.
        """
        from ledger.integrity import read_mirror_lines

        chunks = _batched(read_mirror_lines(lines), CHUNK_EVENTS)
        with self.store.session() as session:
            mirror = _Mirror(self, session)
            for chunk in chunks:
                mirror.add(chunk)
                gc.collect(0)  # see `append`
            mirror.finish()
        return mirror.result()

    # --- reading -------------------------------------------------------------

    def view(self, *, as_of: str | None = None, known_at: str | None = None) -> View:
        """A view for the clocks given as text (dates or RFC 3339 date-times)."""
        return View(
            now=self.clock(),
            as_of=self.parse_moment(as_of, "--as-of") if as_of else None,
            known_at=self.parse_moment(known_at, "--known-at") if known_at else None,
            tz=self.tz,
        )

    def parse_moment(self, text: str, what: str) -> datetime:
        """A date (start of that day in the ledger's zone) or RFC 3339 date-time."""
        from ledger.events import normalise_occurred_at

        try:
            return occurred_instant(normalise_occurred_at(text), self.tz)
        except ValueError as exc:
            raise InvalidEvent(str(exc), field=what) from None

    def history(self, subject: str) -> list[StoredEvent]:
        """A subject's stored events in version order, retracted ones included."""
        _checked(subject)
        events = self.store.read_subject(subject)
        if not events:
            raise NotFound(f"{subject} has no events in this ledger")
        return events

    def commitment(self, subject: str, view: View) -> CommitmentState:
        """One commitment's state in a view, funding included."""
        history = self.history(subject)
        lines = sorted(
            {
                e.subject
                for e in self.store.referencing([subject])
                if subject_kind(e.subject) == "budget"
            }
        )
        line_events = [e for history in self.store.read_subjects(lines).values() for e in history]
        state = project_commitment(history, line_events, view)
        if state is None:
            raise NotFound(f"{subject} has no visible CommitmentMade in this view")
        return state

    def state(self, view: View) -> LedgerState:
        """The whole derived state in a view (a replay of the log; sources are not read)."""
        return state_from_store(self.store, view)

    def continuity(
        self,
        view: View,
        *,
        office: str | None = None,
        horizon_days: int | None = None,
        by: Grouping = "administration",
        area: str | None = None,
    ) -> ContinuityReport:
        """The continuity report (docs/methodology.md) of the log as a view sees it."""
        return continuity_from_store(
            self.store, view, office=office, horizon_days=horizon_days, by=by, area=area
        )

    def subject_state(self, subject: str, view: View) -> dict[str, Any]:
        """The export form of one subject's state in a view.

        The present comes from the read models (caught up first); another
        moment replays only this subject's history (and, for a commitment,
        the budget lines that fund it).
        """
        kind = subject_kind(_checked(subject))
        if view.as_of is None and view.known_at is None:
            self.catch_up()
            section = f"{kind}s"
            found = self.readmodels.section(section, [subject])
            if subject not in found:
                self.history(subject)  # NotFound when the subject has no events at all
                raise NotFound(f"{subject} has no visible events in this view")
            present: dict[str, Any] = judged({section: found}, view.judged_on)[section][subject]
            return present
        if kind == "commitment":
            return self.commitment(subject, view).to_json(view.judged_on)
        history = self.history(subject)
        state = project_ledger(live_events(history, view), view)
        table: dict[str, Any] = {
            "actor": state.actors,
            "office": state.offices,
            "budget": state.budgets,
        }
        table = table[kind]
        if subject not in table:
            raise NotFound(f"{subject} has no visible events in this view")
        return dict(table[subject].to_json())

    def state_json(self, view: View) -> dict[str, dict[str, Any]]:
        """The state sections of the export document (actors, offices, commitments, budgets)."""
        return state_sections(self.store, self.readmodels, view)

    @property
    def readmodels(self) -> ReadModels:
        """The persisted read models of this ledger."""
        if self._readmodels is None:
            self._readmodels = ReadModels(self.store)
        return self._readmodels

    def catch_up(self) -> int:
        """Bring the read models up to the log's head; returns the events applied."""
        return catch_up(self.store, self.readmodels, self.tz)

    def rebuild(self) -> int:
        """Replay the whole log into fresh read models; returns the position reached."""
        return rebuild(self.store, self.readmodels, self.tz)

    def events(self, after: int = 0) -> Iterator[StoredEvent]:
        """Every stored event in position order (streamed)."""
        return self.store.read_all(after)


LineOf = Callable[[StoredEvent], "int | None"]
CHUNK_EVENTS = 2000  # events decoded, checked and written at a time by one write
T = TypeVar("T")


def _batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class _Write:
    """One write's progress across its chunks, inside one store session.

    Each chunk is checked against the log as the session sees it (the stored
    events and the chunks before it). A chunk may name what a later chunk of
    the same input creates: a chunk that breaks a rule is therefore not an
    error yet; its subjects are checked again, with every chunk written, at
    the end, and only what still breaks then is reported (and nothing written).
    """

    def __init__(self, ledger: Ledger, session: AppendSession) -> None:
        self.ledger = ledger
        self.store = ledger.store
        self.session = session
        self.first = session.next_position
        self.versions: dict[str, int] = {}
        self.lines = array("q")  # input line of each added event, by position - first
        self.kept: list[StoredEvent] = []  # the added events, while few
        self.keeping = True
        self.skipped: list[str] = []
        self.deferred: set[str] = set()
        self._keys: dict[str, str] = {}  # occurred_at -> its sort key (many events share a day)

    def occurred_key(self, occurred_at: str) -> str:
        key = self._keys.get(occurred_at)
        if key is None:
            if len(self._keys) > 10_000:
                self._keys.clear()  # date-times rarely repeat: keep the cache small
            key = instant_key(occurred_instant(occurred_at, self.ledger.tz))
            self._keys[occurred_at] = key
        return key

    def line_of(self, stored: StoredEvent) -> int | None:
        offset = stored.position - self.first
        return self.lines[offset] if 0 <= offset < len(self.lines) else None

    def add(self, chunk: list[Candidate]) -> None:
        fresh, skipped = self.ledger._new_only(chunk)
        self.skipped += skipped
        unknown = {c.event.subject for _, c, _ in fresh} - set(self.versions)
        if unknown:
            found = self.store.versions(unknown)
            self.versions.update({s: found.get(s, 0) for s in unknown})
        start = self.session.next_position
        sealed: list[StoredEvent] = []
        for offset, (event_id, candidate, content) in enumerate(fresh):
            event = candidate.event
            version = self.versions[event.subject] + 1
            self.versions[event.subject] = version
            stored = seal(
                event,
                event_id=event_id,
                version=version,
                recorded_at=self.session.recorded_at,
                recorded_by=candidate.recorded_by,
                occurred_key=self.occurred_key(event.occurred_at),
                content=content,
                position=start + offset,
            )
            sealed.append(stored)
            self.lines.append(candidate.line)
        try:
            self.ledger._check_rules(sealed, self.line_of)
        except RuleViolation:
            self.deferred.update(s.subject for s in sealed)
        placed = self.session.add(sealed)
        if self.keeping and len(self.kept) + len(placed) <= CHUNK_EVENTS:
            self.kept += placed
        else:
            self.keeping, self.kept = False, []  # too many to keep: read back when asked

    def finish(self) -> None:
        """Check again, with the whole input written, the subjects a chunk left in doubt."""
        if not self.deferred:
            return
        histories = self.store.read_subjects(self.deferred)
        new = sorted(
            (e for history in histories.values() for e in history if e.position >= self.first),
            key=lambda e: e.position,
        )
        self.ledger._check_rules(new, self.line_of, written=True)

    def result(self) -> AppendResult:
        count = len(self.lines)
        if self.keeping:
            return AppendResult(self.kept, self.skipped)
        return AppendResult(Appended(self.store, self.first, count), self.skipped)


class _Mirror:
    """A mirror import's progress across its chunks, inside one store session.

    The file's first events must be the mirror's own, leaf for leaf; the rest
    are appended at the positions, versions and record times they carry, and
    checked against the rules as `_Write` checks new events.
    """

    def __init__(self, ledger: Ledger, session: AppendSession) -> None:
        self.ledger = ledger
        self.store = ledger.store
        self.session = session
        self.head = session.next_position - 1  # the mirror's size before this import
        self.own = ledger.store.read_all()  # the mirror's events, to compare with the file's
        self.expected = 1
        self.previous = ""  # the record time of the event before
        self.versions: dict[str, int] = {}
        self.skipped: list[str] = []
        self.deferred: set[str] = set()

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
            self.ledger._check_rules(fresh, self.line_of)
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
        key = instant_key(occurred_instant(stored.occurred_at, self.ledger.tz))
        return replace(stored, occurred_key=key)

    def finish(self) -> None:
        count = self.expected - 1
        if count < self.head:
            raise InvalidEvent(
                f"the file has {count} events but this mirror already has {self.head}"
            )
        if self.deferred:
            histories = self.store.read_subjects(self.deferred)
            new = sorted(
                (e for h in histories.values() for e in h if e.position > self.head),
                key=lambda e: e.position,
            )
            self.ledger._check_rules(new, self.line_of, written=True)

    def result(self) -> AppendResult:
        added = self.expected - 1 - self.head
        if added <= 0:
            return AppendResult([], self.skipped)
        return AppendResult(Appended(self.store, self.head + 1, added), self.skipped)


class Appended(Sequence[StoredEvent]):
    """The events a large write added, read back from the store when asked for.

    An import of millions of events keeps none of them in memory; the
    sequence reads them from the log (positions first .. first + count - 1).
    """

    def __init__(self, store: SqlEventStore, first: int, count: int) -> None:
        self.store, self.first, self.size = store, first, count

    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, index: int) -> StoredEvent: ...

    @overload
    def __getitem__(self, index: slice) -> list[StoredEvent]: ...

    def __getitem__(self, index: int | slice) -> StoredEvent | list[StoredEvent]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.size))]
        if index < 0:
            index += self.size
        if not 0 <= index < self.size:
            raise IndexError("appended event index out of range")
        return next(self.store.read_all(self.first + index - 1, batch_size=1))

    def __iter__(self) -> Iterator[StoredEvent]:
        return islice(self.store.read_all(self.first - 1), self.size)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


def _checked(subject: str) -> str:
    try:
        return check_subject(subject)
    except ValueError as exc:
        raise InvalidEvent(str(exc), field="SUBJECT") from None


def _settle_origin(store: SqlEventStore, origin: str | None) -> None:
    """Name the log once: checkpoints carry the origin, and verifiers tell logs apart by it."""
    from ledger.checkpoint import CheckpointError, check_key_name

    if origin is not None:
        try:
            check_key_name(origin)
        except CheckpointError as exc:
            raise LedgerConfigError(f"--origin: {exc}") from None
    wanted = origin or f"policy-ledger.local/{uuid.uuid4().hex[:12]}"
    current = store.setting_once(ORIGIN_SETTING, wanted)
    if origin is not None and current != origin:
        raise LedgerConfigError(f"the ledger's origin is {current}; checkpoints already name it")


def _settle_zone(store: SqlEventStore, tz: str | None) -> None:
    """Set the time zone once; changing it under stored events would move every bare date."""
    current = store.setting_once(TZ_SETTING, tz or "UTC")
    if tz is None or current == tz:
        return
    if current is not None and store.head() > 0:
        raise LedgerConfigError(
            f"the ledger's time zone is {current} and it holds events; "
            f"changing it to {tz} would move every bare date"
        )
    store.put_setting(TZ_SETTING, tz)


def _checked_user(user: str) -> str:
    """The recorder's name, held to the rules of `recorded_by` before it is ever stored.

    Stored events are read back through the same validation, so a name that
    broke them would make the ledger unreadable.
    """
    name = unicodedata.normalize("NFC", user).strip()
    if not 1 <= len(name) <= 500 or any(unicodedata.category(ch) == "Cc" for ch in name):
        raise LedgerConfigError(
            "the recorder's name (--user or POLICY_LEDGER_USER) must be 1 to 500 printable characters"
        )
    return name
