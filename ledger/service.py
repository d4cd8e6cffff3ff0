"""The ledger's use cases: record, import, and read derived state.

The only layer that reads the clock and talks to the store. Each write is one
store transaction: the whole batch is checked against the rules first, then
appended with the versions it was checked against, so a concurrent writer
either loses cleanly (ConcurrencyError) or is seen.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ledger import writing
from ledger.bulk import bulk
from ledger.decoding import Candidate, Decoder
from ledger.errors import (
    InvalidEvent,
    LedgerConfigError,
    NotFound,
)
from ledger.events import Event, check_subject, has_visible_character, subject_kind
from ledger.projections import (
    CommitmentState,
    LedgerState,
    View,
    live_events,
    project_commitment,
    project_ledger,
)
from ledger.readside import (
    EXPORT_SECTIONS,
    catch_up,
    continuity_from_store,
    pinned_position,
    rebuild,
    section_parts,
    state_from_store,
    state_sections,
)
from ledger.records import (
    StoredEvent,
    format_recorded_at,
    occurred_instant,
)
from ledger.store.readmodels import ReadModels
from ledger.store.sql import SqlEventStore
from ledger.vocabulary import TZ_SETTING, judged
from ledger.writing import AppendResult

if TYPE_CHECKING:  # the continuity module loads only when a report is asked for
    from ledger.continuity import ContinuityReport, Grouping
    from ledger.export import ExportStream

Clock = Callable[[], datetime]
ORIGIN_SETTING = "origin"


def utc_now() -> datetime:
    """The service's clock: the current instant in UTC."""
    return datetime.now(UTC)


def load_zone(name: str) -> ZoneInfo:
    """An IANA time zone by name, or a clear error."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder, like "America"
        raise LedgerConfigError(
            f"unknown time zone '{name}' (use an IANA name like Asia/Seoul)"
        ) from None


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

    def import_lines(self, lines: Iterable[bytes | str]) -> AppendResult:
        """Append NDJSON events: all of them or, on any error, none.

        The input is read, checked and written a chunk at a time inside one
        transaction, so an import of millions of events holds one chunk in
        memory, not the file; any error rolls all of it back. Input of more
        than one group of lines is decoded by a worker process meanwhile
        (ledger/decoding.py).
        """
        with Decoder(self.user) as decoder:
            return self.append(decoder.candidates(lines))

    def record(self, event: Event) -> AppendResult:
        """Append one event built by a caller (the recording commands)."""
        return self.append([Candidate.of(1, event, self.user)])

    @bulk
    def append(self, candidates: Iterable[Candidate]) -> AppendResult:
        """Check events against the ledger and the rules and append them in one transaction.

        The first chunk is decoded before the append lock is taken; the lock
        is then held to the end, so versions and rules are checked against a
        log no other writer can change meanwhile.
        """
        chunks = writing.batched(candidates, writing.CHUNK_EVENTS)
        first = next(chunks, None)
        if first is None:
            return AppendResult([], [])
        stamp = lambda: format_recorded_at(self.clock())  # noqa: E731
        with self.store.session(stamp) as session:
            write = writing.ChunkedWrite(self.store, self.tz, session)
            write.add(first)
            del first  # hold one chunk at a time
            for chunk in chunks:
                write.add(chunk)
                # Dropped before the next is read: the collection between chunks
                # (writing.batched) then has only the cycles to walk, not this
                # chunk's thousands of models (6 µs an event when it did).
                del chunk
            write.finish()
        return write.result()

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

        chunks = writing.batched(read_mirror_lines(lines), writing.CHUNK_EVENTS)
        with self.store.session() as session:
            mirror = writing.MirrorWrite(self.store, self.tz, session)
            for chunk in chunks:
                mirror.add(chunk)
                del chunk  # before the next is read, as in `append`
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

    def export(self, view: View) -> dict[str, Any]:
        """The export document (spec section 5) as one dict: `export_stream`'s, held whole."""
        from ledger.export import assemble

        size, root, continuity, parts = self._export_parts(view)
        sections: dict[str, dict[str, Any]] = {name: {} for name in EXPORT_SECTIONS}
        for name, pairs in parts:
            sections[name].update(pairs)
        return assemble(view, size=size, root=root, continuity=continuity, sections=sections)

    def export_stream(self, view: View) -> ExportStream:
        """The export document's bytes, written as the state is read, with the size and root.

        The same bytes as `export_bytes(export.export_document(self.events(),
        view))`, which holds every event with its sources (6.5 GB at a
        million): the size and root come from the stored tree, the continuity
        report from its own streaming read, and the state sections a part at a
        time (from the read models for the present). Every part describes the
        same prefix of the log (`readside.pinned_position`), whatever other
        writers append meanwhile.
        """
        from ledger.export import ExportStream, assemble, streamed_bytes

        size, root, continuity, parts = self._export_parts(view)
        fixed = assemble(view, size=size, root=root, continuity=continuity, sections={})
        return ExportStream(size, root, streamed_bytes(fixed, EXPORT_SECTIONS, parts))

    def _export_parts(
        self, view: View
    ) -> tuple[int, str, dict[str, Any], Iterator[tuple[str, list[tuple[str, Any]]]]]:
        """Size, root, continuity report and state parts of one prefix of the log."""
        from ledger.integrity import tree_root

        upto = pinned_position(self.store, self.readmodels, view)
        size, root = tree_root(self.store, upto)
        continuity = continuity_from_store(self.store, view, upto=upto).to_json()
        return size, root.hex(), continuity, section_parts(self.store, self.readmodels, view, upto)

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
    if (
        not 1 <= len(name) <= 500
        or any(unicodedata.category(ch) == "Cc" for ch in name)
        or not has_visible_character(name)
    ):
        raise LedgerConfigError(
            "the recorder's name (--user or POLICY_LEDGER_USER) must be 1 to 500 printable "
            "characters, at least one of them visible"
        )
    return name
