"""Reading NDJSON input into candidate events, in a second process when the input is large.

Decoding a line (JSON, validation, the canonical texts, the derived id) is a
pure function of the line, and a third of an import's time. An import of more
than one group of lines hands the decoding to a worker process, which decodes
the next groups while this process checks and writes the current ones: on two
cores the two halves overlap. The worker sends back what the write needs, the
event's identity and its canonical data and sources, never a model.

The worker only ever takes the happy path. A group it cannot decode whole (a
bad line, anything unexpected) is decoded again here when the write reaches
it, and the error raised is the one a plain decode raises, at the same point of
the write. A worker that dies or stalls is replaced by decoding here, so
nothing depends on it but speed.

This module imports the event catalogue and nothing of the store, so the
worker starts quickly.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import queue
import re
import selectors
import subprocess
import sys
import threading
import weakref
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from ledger.errors import InvalidEvent
from ledger.events import Event, decode_event, shown
from ledger.records import Content

MAX_LINE_BYTES = 1 << 20  # the longest input line read, in bytes (1 MiB)
GROUP_LINES = 2000  # input lines a worker decodes at a time; fewer are decoded here
GROUP_BYTES = 8 << 20  # and at most about this much text (lines may be up to 1 MiB)
# Groups handed to the worker ahead of the write: one it decodes while this
# process writes the other. Each holds its lines' text (4 KB a line is common).
IN_FLIGHT = 2
WORKER_PATIENCE = 60.0  # seconds without an answer before the worker is given up on


def WORKER_ENABLED() -> bool:
    """Whether large input may be decoded by a worker (POLICY_LEDGER_DECODE_WORKER=0: never)."""
    return os.environ.get("POLICY_LEDGER_DECODE_WORKER", "1") != "0" and os.name == "posix"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A decoded input event and the line it came from.

    `event` is the typed event when it was decoded in this process; input
    decoded by the worker carries only its `content` and `event_id`, which is
    all a write needs.
    """

    line: int
    event: Event | None
    recorded_by: str
    content: Content | None = None
    event_id: str | None = None

    @classmethod
    def of(cls, line: int, event: Event, user: str) -> Candidate:
        return cls(line, event, event.recorded_by or user)

    def facts(self) -> tuple[str, Content]:
        """The event id and content (computed here for events decoded here)."""
        if self.content is not None and self.event_id is not None:
            return self.event_id, self.content
        assert self.event is not None
        content = Content.of(self.event)
        event_id = str(self.event.id) if self.event.id else content.derived_id()
        return event_id, content


# --- reading lines ------------------------------------------------------------------


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


def _json_lines(lines: Iterable[bytes | str], start: int) -> Iterator[tuple[int, str, Any]]:
    """(line number, text, parsed JSON) for each non-blank line; a bad line names itself."""
    for number, line in enumerate(lines, start=start):
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
            raw = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise InvalidEvent(f"not valid JSON ({exc.msg})", line=number) from None
        refuse_repeated_keys(line, raw, number)
        yield number, line, raw


def refuse_repeated_keys(text: str, parsed: Any, number: int) -> None:
    """Refuse a JSON line in which one object names a key twice, naming the key and the line."""
    if len(_KEY_ENDS.findall(text)) != _keys_in(parsed):
        _refuse_repeated_keys(text, number)


# A JSON reader keeps the last of two equal keys in one object, silently; an
# audit ledger must not drop what a line says. Every key is a string followed
# by a colon, so the text has at least as many `"...:` as the parsed value has
# keys, and exactly as many unless a key repeats or a string value holds `":`.
# Only then is the line read again, slowly, to tell which.
_KEY_ENDS = re.compile(r'"\s*:')


def _keys_in(value: Any) -> int:
    """The keys of every object in a parsed value (a loop: the input may nest deeply)."""
    count, pending = 0, [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            count += len(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return count


def _refuse_repeated_keys(line: str, number: int) -> None:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for key, _ in items:
            if key in seen:
                raise InvalidEvent(f"the key {shown(key)} appears twice in one object", line=number)
            seen.add(key)
        return dict(items)

    try:
        json.loads(line, object_pairs_hook=pairs)
    except RecursionError:
        return  # nested beyond any event's depth: validation refuses it, naming the limit


# orjson reads an integer beyond 64 bits as a float; the standard library reads
# it exactly. A run of 19 digits is where that can start (-2^63 - 1).
_LONG_DIGITS = re.compile(r"[0-9]{19}")  # beyond -2^63 or 2^64-1


def decode_lines(lines: Iterable[bytes | str], user: str, start: int = 1) -> Iterator[Candidate]:
    """Decode NDJSON input here, as it is read; the first bad line stops everything."""
    for number, text, raw in _json_lines(lines, start):
        try:
            event = decode_event(raw)
        except InvalidEvent as exc:
            if not _LONG_DIGITS.search(text):
                raise exc.at_line(number) from None
            # Refused, perhaps for a float orjson made of a long integer: judge
            # the line again as written (only on this error path, so the
            # common case keeps orjson's speed).
            try:
                exact = json.loads(text, parse_constant=_no_constant)
            except (RecursionError, ValueError, InvalidEvent):  # deeper or odder than any event
                raise exc.at_line(number) from None
            try:
                event = decode_event(exact)
            except InvalidEvent as refused:
                raise refused.at_line(number) from None
        yield Candidate.of(number, event, user)


def _no_constant(name: str) -> Any:
    raise InvalidEvent(f"not valid JSON ({name} is not a JSON value)")


# --- the worker ---------------------------------------------------------------------

# What the worker sends back for one event: line, id, recorded_by ("" for the
# importing user), type, subject, occurred_at, canonical data, canonical sources.
Decoded = tuple[int, str, str, str, str, str, bytes, bytes]
Group = tuple[int, list[bytes | str]]  # the first line's number, and the lines


def decode_group(start: int, lines: list[bytes | str]) -> list[Decoded] | None:
    """A group of lines as the worker returns them, or None when any line is bad."""
    try:
        decoded: list[Decoded] = []
        for candidate in decode_lines(lines, "", start):
            event_id, content = candidate.facts()
            decoded.append(
                (
                    candidate.line,
                    event_id,
                    candidate.recorded_by,
                    content.type,
                    content.subject,
                    content.occurred_at,
                    content.data_json,
                    content.sources_json,
                )
            )
        return decoded
    except Exception:  # the write decodes this group again, and reports it as usual
        return None


def serve() -> None:
    """The worker's loop: decode each group read from stdin, answer on stdout, until EOF."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            start, lines = pickle.load(stdin)
        except EOFError:
            return
        answer = pickle.dumps(decode_group(start, lines), protocol=pickle.HIGHEST_PROTOCOL)
        stdout.write(len(answer).to_bytes(8, "big") + answer)  # sized: read whole, never more
        stdout.flush()


class _Worker:
    """A decoding process: groups go in on its stdin, answers come back on its stdout, in order.

    A plain subprocess rather than multiprocessing: it never re-imports the
    caller's main module (a script without a main guard would run again) and
    never forks a process holding an open database connection.
    """

    def __init__(self) -> None:
        root = Path(__file__).resolve().parents[1]  # this very copy of the package
        code = "import sys; sys.path.insert(0, sys.argv[1]); import ledger.decoding as d; d.serve()"
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, str(root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # a worker that fails is replaced, not reported
        )
        # Groups are written by a thread: a write blocks while the pipe is full,
        # and the worker empties it only once its answers are read here.
        self.outbox: queue.SimpleQueue[Group | None] = queue.SimpleQueue()
        self.feeder = threading.Thread(target=_feed, args=(self.process, self.outbox), daemon=True)
        self.feeder.start()
        # A decoder dropped without close() must not leave its worker running:
        # the process is stopped when this object is collected (the feeder holds
        # no reference to it).
        self._stopped = weakref.finalize(self, _stop, self.process, self.outbox)

    def send(self, group: Group) -> None:
        self.outbox.put(group)

    def answer(self) -> list[Decoded] | None:
        """The next answer; raises _Gone when the worker died, broke the protocol or stalled."""
        stdout = self.process.stdout
        assert stdout is not None
        # Read from the descriptor, never through a buffer: a buffer may hold
        # the next answer already while select() says the pipe is empty.
        pipe = stdout.fileno()
        try:
            # A selector, not select(): that refuses descriptors above 1023,
            # which a process holding many files or sockets hands out.
            with selectors.DefaultSelector() as selector:
                selector.register(pipe, selectors.EVENT_READ)
                size = int.from_bytes(_read_exactly(pipe, 8, selector), "big")
                answer: list[Decoded] | None = pickle.loads(_read_exactly(pipe, size, selector))
        except _Gone:
            raise
        except Exception as exc:  # it is not speaking the protocol, or the pipe failed
            raise _Gone(str(exc)) from None
        return answer

    def stop(self) -> None:
        self._stopped()  # once, whichever comes first: this or the collection
        self.feeder.join(timeout=5)


def _feed(process: subprocess.Popen[bytes], outbox: queue.SimpleQueue[Group | None]) -> None:
    stdin = process.stdin
    assert stdin is not None
    try:
        while (group := outbox.get()) is not None:
            pickle.dump(group, stdin, protocol=pickle.HIGHEST_PROTOCOL)
            stdin.flush()
        stdin.close()
    except (OSError, ValueError):
        pass  # the worker is gone; reading its answers says so


def _stop(process: subprocess.Popen[bytes], outbox: queue.SimpleQueue[Group | None]) -> None:
    outbox.put(None)  # ends the feeder
    process.kill()  # what it has not answered is no longer needed
    process.wait()
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


class _Gone(Exception):
    """The worker cannot answer any more."""


def _read_exactly(pipe: int, size: int, ready: selectors.BaseSelector) -> bytes:
    """`size` bytes from the pipe; a worker silent for WORKER_PATIENCE, even mid-answer, is gone."""
    parts: list[bytes] = []
    while size > 0:
        if not ready.select(WORKER_PATIENCE):
            raise _Gone("no answer")
        part = os.read(pipe, min(size, 1 << 20))
        if not part:
            raise _Gone("the worker ended")
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


def _candidates_of(decoded: list[Decoded], user: str) -> Iterator[Candidate]:
    for (
        line,
        event_id,
        recorded_by,
        type_,
        subject,
        occurred_at,
        data_json,
        sources_json,
    ) in decoded:
        content = Content(
            type_,
            subject,
            occurred_at,
            orjson.loads(data_json),
            orjson.loads(sources_json),
            data_json,
            sources_json,
        )
        yield Candidate(line, None, recorded_by or user, content, event_id)


class Decoder:
    """Candidates from NDJSON lines, decoded by a worker process once the input is large.

    Use as a context manager: leaving it stops the worker, whatever happened.
    `remote` counts the events the worker decoded (tests check it was used).
    """

    def __init__(self, user: str, *, group: int | None = None) -> None:
        self.user = user
        self.group = group or GROUP_LINES
        self.remote = 0
        self._worker: _Worker | None = None
        self._given_up = False

    def __enter__(self) -> Decoder:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def candidates(self, lines: Iterable[bytes | str]) -> Iterator[Candidate]:
        """Every candidate of `lines`, in input order; errors as `decode_lines` raises them."""
        if not WORKER_ENABLED():  # no worker: read as the write goes, a line at a time
            yield from decode_lines(lines, self.user)
            return
        groups = _groups(lines, self.group)
        first = next(groups, None)
        if first is None:
            return
        second = next(groups, None)
        if isinstance(first, Exception):
            raise first
        if second is None or isinstance(second, Exception):  # one group: not worth a process
            yield from decode_lines(first[1], self.user, first[0])
            if second is not None:
                raise second
            return
        pending: deque[Group] = deque()
        for group in _chained(first, second, groups):
            if isinstance(group, Exception):
                # Reading failed (a line over the limit, say): the lines before
                # it come first, as when decoding here, then the error.
                while pending:
                    yield from self._next(pending.popleft())
                raise group
            pending.append(group)
            self._submit(group)
            if len(pending) >= IN_FLIGHT:
                yield from self._next(pending.popleft())
        while pending:
            yield from self._next(pending.popleft())

    def _submit(self, group: Group) -> None:
        if self._given_up:
            return
        if self._worker is None:
            try:
                self._worker = _Worker()
            except (OSError, ValueError):  # cannot start one: decode here
                self._given_up = True
                return
        self._worker.send(group)

    def _next(self, group: Group) -> Iterator[Candidate]:
        """The candidates of the oldest group in flight: the worker's, or decoded here."""
        decoded = self._answer()
        if decoded is None:
            yield from decode_lines(group[1], self.user, group[0])
            return
        self.remote += len(decoded)
        yield from _candidates_of(decoded, self.user)

    def _answer(self) -> list[Decoded] | None:
        """The worker's next answer; None when it could not decode the group or is gone."""
        if self._worker is None:
            return None
        try:
            return self._worker.answer()
        except _Gone:
            # Decode everything from here on in this process.
            self.close()
            self._given_up = True
            return None

    def close(self) -> None:
        """Stop the worker, if one was started; what is read after decodes here."""
        worker, self._worker = self._worker, None
        self._given_up = True
        if worker is not None:
            worker.stop()


def _groups(lines: Iterable[bytes | str], size: int) -> Iterator[Group | Exception]:
    """`size` input lines (or GROUP_BYTES of them) at a time, read lazily.

    An error reading them comes last, as a value. Bounded in bytes too: lines
    may be up to 1 MiB, and a group is held here, in the pipe and in the worker.
    """
    group: list[bytes | str] = []
    start, held = 1, 0
    try:
        for number, line in enumerate(lines, start=1):
            if not group:
                start, held = number, 0
            group.append(line)
            held += len(line)
            if len(group) == size or held >= GROUP_BYTES:
                yield start, group
                group = []
    except Exception as exc:  # raised by the reader: re-raised once the lines before it are used
        if group:
            yield start, group
        yield exc
        return
    if group:
        yield start, group


def _chained(*heads_and_rest: Any) -> Iterator[Group | Exception]:
    *heads, rest = heads_and_rest
    yield from heads
    yield from rest
