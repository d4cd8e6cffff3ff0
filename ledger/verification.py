"""`verify`: recompute every leaf, node and checkpoint root from the stored fields (spec section 4).

Streaming, and on a large ledger in two processes: a second one walks the
second half of the log at the same time (`_Walk`), and what it cannot check
alone is settled against the first half's walk (`_settle`).
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from ledger.bulk import bulk, collector_paused
from ledger.errors import CorruptRecord, StorageError
from ledger.merkle import EMPTY_ROOT, node_hash
from ledger.records import (
    MAX_SAFE_INTEGER,
    SIXTEEN_DIGITS,
    SUSPECT_BYTES,
    instant_key,
    leaf_hash_of,
    occurred_instant,
    orjson_is_canonical,
)
from ledger.store.rows import decode_row
from ledger.vocabulary import TZ_SETTING

Progress = Callable[[int], None]

EMPTY_TREE = bytes.fromhex(EMPTY_ROOT)
"""The root of the tree of no events (ledger/integrity.py's EMPTY_TREE)."""


class VerifyStore(Protocol):
    """What verify reads of a store: `SqlEventStore`'s methods of these names (their
    docstrings say what each returns), on the service's database or on the
    snapshot ledger/store/quick_verify.py lends it.
    """

    def checkpoints(self) -> list[dict[str, Any]]:
        """Every stored checkpoint (size, root, recorded_at, note), smallest size first."""
        ...

    def reader_url(self) -> str | None:
        """A URL a second process can open to read the same ledger, or None (one process)."""
        ...

    def head(self) -> int:
        """The last stored position (0 when empty)."""
        ...

    def setting(self, key: str) -> str | None:
        """A ledger setting, or None."""
        ...

    def verify_rows(
        self, *, after: int = 0, upto: int | None = None, batch_size: int = 5000
    ) -> Iterator[Sequence[Sequence[Any]]]:
        """Rows of every column of `events` with after < position <= upto, in keyset batches."""
        ...

    def level_nodes(self, level: int, after: int, limit: int) -> Sequence[tuple[Any, Any]]:
        """Stored (idx, hash) of one tree level with idx > after, in idx order, at most `limit`."""
        ...

    def node_count(self, level: int) -> int:
        """How many nodes of a level are stored."""
        ...


# --- the report ----------------------------------------------------------------------------


@dataclass
class VerifyReport:
    """The outcome of `verify`: intact, or the first bad position and what is wrong."""

    checked: int = 0
    root: str = ""
    checkpoints: int = 0
    problem: str | None = None
    position: int | None = None

    @property
    def intact(self) -> bool:
        """No problem found."""
        return self.problem is None

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "intact": self.intact,
            "checked": self.checked,
            "root": self.root,
            "checkpoints": self.checkpoints,
            "position": self.position,
            "problem": self.problem,
        }


PARALLEL_FROM = 50_000
"""Ledgers with fewer events are verified in one process: a second one would not pay its way."""

_ALIGN = 4096
"""The second process starts at a multiple of this, so its walk crosses into the first part's
subtrees only every `_ALIGN` events (see `_Walk`)."""

# Fork starts the second process at once (spawn imports the ledger again, about 0.3 s).
# It never uses the connections it inherits: it opens its own from the store's URL,
# and ends with os._exit, which closes nothing of the parent's.
_START_METHOD = "fork" if sys.platform == "linux" else "spawn"

Fault = tuple[int, int, str]
"""(the position the walk had reached, the position reported, the problem)."""

Node = bytes | int | tuple[Any, Any]
"""A subtree hash the second process computes: bytes; or, where the subtree reaches into the
first part, an int (that part's stack entry) or a pair (left, right) of such nodes."""

_VERSION, _RECORDED, _NODE, _CHECKPOINT = range(4)


class _AfterEveryTime:
    """Compares above every record time: the second process's first row always defers its check."""

    def __gt__(self, other: object) -> bool:
        return True


NodeFetch = Callable[[int, int, int], Sequence[tuple[Any, Any]]]
"""`fetch(level, after, limit)`: stored (idx, hash) of a level with idx > after, in idx order."""


class _Level:
    """One level's stored nodes, read in idx order as the streaming tree completes them."""

    __slots__ = ("after", "at", "batch", "fetch", "level", "rows")

    def __init__(self, fetch: NodeFetch, level: int, batch: int, start: int = 0) -> None:
        self.fetch, self.level, self.batch = fetch, level, batch
        self.rows: Sequence[tuple[Any, Any]] = ()
        self.at = 0
        self.after = start - 1

    def stored(self, index: int) -> Any:
        """The stored hash of node `index` of this level, or None when it is missing.

        Nodes are asked for in increasing index; stored nodes with a smaller
        index than asked are passed over (no node of the tree has that index).
        """
        rows, at = self.rows, self.at
        while True:
            while at < len(rows):
                idx, digest = rows[at]
                if idx == index:
                    self.at = at + 1
                    return digest
                if idx > index:
                    self.at = at
                    return None
                at += 1
            # Read on (again, if a read came back short: the log may have grown since).
            rows = self.fetch(self.level, self.after, self.batch)
            if rows and type(rows[-1][0]) is not int:  # SQLite sorts non-integer keys last
                rows = [row for row in rows if type(row[0]) is int]
            self.rows, self.at, at = rows, 0, 0
            if not rows:
                return None
            self.after = rows[-1][0]


def _same_hash(stored: Any, digest: bytes) -> bool:
    """A stored hex hash against a computed one, when the text is not plain lowercase hex."""
    try:
        return bytes.fromhex(str(stored)) == digest
    except ValueError:
        return False


def _node_problem(level: int, index: int, stored: Any) -> tuple[int, str]:
    first = index * (1 << level) + 1
    what = "missing" if stored is None else "does not match the events"
    return first, f"the stored tree node over positions {first}-{first + (1 << level) - 1} {what}"


def _plain_enough(data: Any, sources: Any, version: int, schema: int) -> bool:
    """`canonical_json`'s closer look at a whole event, once its bytes looked suspect.

    The envelope's keys are ASCII and its texts need no look: only its two
    numbers and the values of `data` and `sources`.
    """
    return (
        -MAX_SAFE_INTEGER <= version <= MAX_SAFE_INTEGER
        and -MAX_SAFE_INTEGER <= schema <= MAX_SAFE_INTEGER
        and orjson_is_canonical(data)
        and orjson_is_canonical(sources)
    )


_dumps = orjson.dumps
_loads = orjson.loads
_SORTED = orjson.OPT_SORT_KEYS
_sha256 = hashlib.sha256
_Text = orjson.Fragment  # JSON text orjson writes as it stands


def _root(hashes: Sequence[bytes]) -> bytes:
    """The root over a streaming tree's complete subtrees (largest first)."""
    if not hashes:
        return EMPTY_TREE
    digest = hashes[-1]
    for left in reversed(hashes[:-1]):
        digest = node_hash(left, digest)
    return digest


def _evaluate(node: Node, lower: Sequence[bytes]) -> bytes:
    """A second-process node's hash, given the first part's stack."""
    if isinstance(node, bytes):
        return node
    if isinstance(node, int):
        return lower[node]
    left, right = node
    return node_hash(_evaluate(left, lower), _evaluate(right, lower))


class SortKeys:
    """The `occurred_key` a row must carry: its `occurred_at` as a UTC instant in the ledger's zone.

    A bare date is the start of that day in the ledger's time zone (the
    stored `timezone` setting), so the key depends on a setting no hash
    covers: a missing or unknown zone is a fault at the first event. Keys
    are cached by `occurred_at` text: many events share a day.
    """

    LIMIT = 100_000
    """Cached keys at most (date-times rarely repeat: the cache is cleared when full)."""

    def __init__(self, zone: str | None) -> None:
        self.zone = zone
        self.cache: dict[str, str] = {}
        self.tz: ZoneInfo | None = None
        self.zone_problem: str | None = None
        if zone is None:
            self.zone_problem = (
                "the ledger's time zone setting is missing: "
                "the events' sort keys (occurred_key) cannot be checked"
            )
        else:
            try:
                self.tz = ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                self.zone_problem = (
                    f"the ledger's time zone setting {zone!r} is not a known time zone: "
                    "the events' sort keys (occurred_key) cannot be checked"
                )

    def compute(self, occurred_at: Any) -> str | None:
        """The key of `occurred_at` (cached), or None when there is none to compute."""
        tz = self.tz
        if tz is None or type(occurred_at) is not str:
            return None
        try:
            key = instant_key(occurred_instant(occurred_at, tz))
        except (ValueError, OverflowError, TypeError):
            return None
        cache = self.cache
        if len(cache) >= self.LIMIT:
            cache.clear()
        cache[occurred_at] = key
        return key

    def problem(self, occurred_at: Any) -> str:
        """Why `compute` gave no key."""
        if self.zone_problem is not None:
            return self.zone_problem
        return f"its occurred_at {occurred_at!r} is not a date or an RFC 3339 date-time"

    def mismatch(self, occurred_at: str, stored: Any, key: str) -> str:
        """A stored key that is not the one computed."""
        return (
            f"its sort key (occurred_key) {stored} is not occurred_at {occurred_at} "
            f"in the ledger's time zone {self.zone} ({key}): the row or the time zone was altered"
        )


class _Walk:
    """One pass of verify over the log in position order, stopping at the first fault.

    A pass from the start checks each event as it reads it. A pass that
    starts after position `start` (in a second process) does not know the
    part before: its subjects' versions, its last record time, its subtrees.
    It checks what it can and keeps what it cannot, in the order a single pass
    would have checked them (`deferred`): the version of each subject's first
    event in the part, the first event's record time, the tree nodes that
    reach into the part before (`Node`), and every checkpoint root. Its stack
    starts with placeholders (ints) for the first part's subtrees;
    `_settle` checks the deferred items once the first part is verified.

    `start` is a multiple of its lowest set bit 2**t, so a climb can reach a
    placeholder (level >= t) only at positions that are multiples of 2**t:
    the loop climbs with plain bytes everywhere else (`mask`).

    Each row's `occurred_key` (the sort key of its valid time, not under the
    leaf hash) is recomputed from its `occurred_at` and the ledger's time zone
    `zone` (the stored setting, None when there is none): `SortKeys`.
    """

    def __init__(
        self,
        store: VerifyStore,
        checkpoints: dict[int, str],
        batch: int,
        start: int = 0,
        *,
        zone: str | None = None,
    ) -> None:
        self.fetch: NodeFetch = store.level_nodes
        self.checkpoints, self.batch, self.start = checkpoints, batch, start
        self.expected = start + 1
        self.checked = 0
        self.checkpoints_checked = 0
        self.versions: dict[str, int] = {}
        self.fault: Fault | None = None
        self.levels = [_Level(self.fetch, 0, batch, start)]
        # bytes, except the second process's placeholders (see Node): Any keeps the loop cast-free.
        self.hashes: list[Any] = list(range(start.bit_count()))
        self.deferred: list[tuple[Any, ...]] | None = [] if start else None
        self.last_recorded: str | _AfterEveryTime = _AfterEveryTime() if start else ""
        self.mask = (start & -start) - 1 if start else -1
        self.keys = SortKeys(zone)

    def fail(self, reached: int, position: int, problem: str) -> bool:
        """Record the fault; False, for the caller to return."""
        self.fault = (reached, position, problem)
        return False

    def run(self, batches: Iterable[Sequence[Sequence[Any]]], progress: Progress | None) -> bool:
        """Check the rows, batch by batch; False at the first fault (kept in `fault`).

        The loop is written out in one piece (names bound to locals, no calls
        per row that can be avoided): it runs a million times per million
        events.
        """
        versions, hashes, levels, fetch, batch = (
            self.versions,
            self.hashes,
            self.levels,
            self.fetch,
            self.batch,
        )
        leaves = levels[0]
        rows0, at0 = leaves.rows, leaves.at
        checkpoints, deferred, mask, start = self.checkpoints, self.deferred, self.mask, self.start
        sort_keys = self.keys
        known_key, key_of = sort_keys.cache.get, sort_keys.compute
        expected, last_recorded = self.expected, self.last_recorded
        fail = self.fail
        try:
            for rows in batches:
                for row in rows:
                    (
                        position,
                        event_id,
                        type_,
                        subject,
                        version,
                        occurred_at,
                        occurred_key,
                        recorded_at,
                        recorded_by,
                        data,
                        sources,
                        leaf_hex,
                        schema,
                    ) = row
                    # The leaf from the stored text as it stands, when that text is the
                    # event's canonical bytes. Only when the slow path (decode, RFC 8785)
                    # would compute the same leaf: every field of its type, the hash
                    # matches, `data` and `sources` read as JSON and orjson writes them
                    # back byte for byte, and canonical_json would keep orjson's bytes.
                    # Otherwise (rows written before the text was canonical, unreadable
                    # or altered rows) the slow path decides, and alone reports faults.
                    leaf = None
                    if (
                        type(data) is bytes
                        and type(sources) is bytes
                        and type(version) is int
                        and type(schema) is int
                        and type(event_id) is str
                        and type(type_) is str
                        and type(subject) is str
                        and type(occurred_at) is str
                        and type(recorded_at) is str
                        and type(recorded_by) is str
                    ):
                        # Keys in RFC 8785 order (all ASCII: plain byte order).
                        body = (
                            _dumps(
                                {
                                    "data": _Text(data),
                                    "id": event_id,
                                    "occurred_at": occurred_at,
                                    "recorded_at": recorded_at,
                                    "recorded_by": recorded_by,
                                    "sources": _Text(sources),
                                    "subject": subject,
                                    "type": type_,
                                    "version": version,
                                }
                            )
                            if schema == 1
                            else _dumps(
                                {
                                    "data": _Text(data),
                                    "id": event_id,
                                    "occurred_at": occurred_at,
                                    "recorded_at": recorded_at,
                                    "recorded_by": recorded_by,
                                    "schema": schema,
                                    "sources": _Text(sources),
                                    "subject": subject,
                                    "type": type_,
                                    "version": version,
                                }
                            )
                        )
                        digest = _sha256(b"\x00" + body).digest()
                        if digest.hex() == leaf_hex:
                            try:
                                data_value, sources_value = _loads(data), _loads(sources)
                            except orjson.JSONDecodeError:
                                pass
                            else:
                                if (
                                    _dumps(data_value, option=_SORTED) == data
                                    and _dumps(sources_value, option=_SORTED) == sources
                                ):
                                    suspect = body.translate(SUSPECT_BYTES)  # plainly_canonical
                                    if (
                                        b"W" not in suspect and SIXTEEN_DIGITS not in suspect
                                    ) or _plain_enough(data_value, sources_value, version, schema):
                                        leaf = digest
                    if leaf is None:
                        try:
                            stored = decode_row(row)
                        except CorruptRecord as exc:
                            return fail(expected, exc.position, exc.reason)
                        position = stored.position
                        if position != expected:
                            return fail(
                                expected,
                                expected,
                                f"missing (the next stored position is {position})",
                            )
                        leaf_hex = leaf_hash_of(stored.canonical())
                        if leaf_hex != stored.leaf_hash:
                            return fail(
                                expected,
                                position,
                                "its fields do not match its leaf hash: the event was altered",
                            )
                        leaf = bytes.fromhex(leaf_hex)
                        subject, version = stored.subject, stored.version
                        recorded_at = stored.recorded_at
                        occurred_at, occurred_key = stored.occurred_at, stored.occurred_key
                    if position != expected:
                        return fail(
                            expected, expected, f"missing (the next stored position is {position})"
                        )
                    # The valid-time sort key, recomputed (once per distinct occurred_at).
                    key = known_key(occurred_at)
                    if key is None:
                        key = key_of(occurred_at)
                        if key is None:
                            return fail(expected, position, sort_keys.problem(occurred_at))
                    if key != occurred_key:
                        return fail(
                            expected, position, sort_keys.mismatch(occurred_at, occurred_key, key)
                        )
                    last = versions.get(subject)
                    if last is None:
                        if deferred is not None:
                            deferred.append((_VERSION, position, subject, version))
                        elif version != 1:
                            return fail(
                                expected, position, f"{subject} version {version} follows version 0"
                            )
                    elif version != last + 1:
                        return fail(
                            expected,
                            position,
                            f"{subject} version {version} follows version {last}",
                        )
                    versions[subject] = version
                    if recorded_at < last_recorded:
                        if deferred is not None and position == start + 1:
                            deferred.append((_RECORDED, position, recorded_at))
                        else:
                            # Appends stamp record time under the append lock, never earlier than
                            # the event before: a time that goes backwards was written behind
                            # the ledger's back.
                            return fail(
                                expected,
                                position,
                                f"recorded at {recorded_at}, before the event before it ({last_recorded})",
                            )
                    last_recorded = recorded_at
                    # The tree: level 0 repeats the leaf; each completed node is compared as it completes.
                    index = position - 1
                    if at0 < len(rows0) and (pair := rows0[at0])[0] == index:
                        node = pair[1]
                        at0 += 1
                    else:
                        leaves.at = at0
                        node = leaves.stored(index)
                        rows0, at0 = leaves.rows, leaves.at
                    if node != leaf_hex and (node is None or not _same_hash(node, leaf)):
                        return fail(expected, *_node_problem(0, index, node))
                    if position & mask:
                        digest, level = leaf, 0
                        while index & 1:
                            digest = _sha256(b"\x01" + hashes.pop() + digest).digest()
                            level, index = level + 1, index >> 1
                            if level == len(levels):
                                levels.append(_Level(fetch, level, batch, start >> level))
                            at_level = levels[level]
                            rows_l, at_l = at_level.rows, at_level.at
                            if at_l < len(rows_l) and (pair := rows_l[at_l])[0] == index:
                                node = pair[1]
                                at_level.at = at_l + 1
                            else:
                                node = at_level.stored(index)
                            if node != digest.hex() and (
                                node is None or not _same_hash(node, digest)
                            ):
                                return fail(expected, *_node_problem(level, index, node))
                        hashes.append(digest)
                    elif not self.climb_across(position, index, leaf):
                        return False
                    if position in checkpoints:
                        if deferred is not None:  # the root needs the first part's subtrees
                            deferred.append((_CHECKPOINT, position, list(hashes)))
                        elif checkpoints[position] != _root(hashes).hex():
                            return fail(
                                expected,
                                position,
                                f"the tree of size {position} no longer has the root of its checkpoint",
                            )
                        else:
                            self.checkpoints_checked += 1
                    expected += 1
                if progress is not None:
                    progress(len(rows))
            return True
        finally:
            leaves.at = at0
            self.expected, self.last_recorded = expected, last_recorded
            self.checked = expected - 1 - start

    def climb_across(self, position: int, index: int, leaf: bytes) -> bool:
        """Push a leaf whose climb may reach the first part's placeholders (second process only)."""
        hashes, levels, deferred = self.hashes, self.levels, self.deferred
        assert deferred is not None
        digest: Node = leaf
        level = 0
        while index & 1:
            left = hashes.pop()
            level, index = level + 1, index >> 1
            if level == len(levels):
                levels.append(_Level(self.fetch, level, self.batch, self.start >> level))
            node = levels[level].stored(index)
            if type(left) is bytes and type(digest) is bytes:
                digest = node_hash(left, digest)
                if node != digest.hex() and (node is None or not _same_hash(node, digest)):
                    return self.fail(position, *_node_problem(level, index, node))
            else:
                digest = (left, digest)
                deferred.append((_NODE, position, level, index, node, digest))
        hashes.append(digest)
        return True


@dataclass
class _Upper:
    """What the second process found after `start`: sent back to the first."""

    checked: int
    fault: Fault | None
    deferred: list[tuple[Any, ...]]
    hashes: list[Node]


def _settle(lower: _Walk, upper: _Upper) -> tuple[Fault | None, int]:
    """The second process's deferred checks, in order, against the verified first part.

    Returns the first fault (None when all pass) and how many checkpoints passed before it.
    """
    base: list[bytes] = lower.hashes
    passed = 0
    for item in upper.deferred:
        kind, position = item[0], item[1]
        if kind == _VERSION:
            subject, version = item[2], item[3]
            last = lower.versions.get(subject, 0)
            if version != last + 1:
                return (
                    position,
                    position,
                    f"{subject} version {version} follows version {last}",
                ), passed
        elif kind == _RECORDED:
            recorded_at, last_recorded = item[2], lower.last_recorded
            if recorded_at < last_recorded:
                return (
                    position,
                    position,
                    f"recorded at {recorded_at}, before the event before it ({last_recorded})",
                ), passed
        elif kind == _NODE:
            level, index, node, expression = item[2:]
            digest = _evaluate(expression, base)
            if node != digest.hex() and (node is None or not _same_hash(node, digest)):
                return (position, *_node_problem(level, index, node)), passed
        else:
            stack = [_evaluate(entry, base) for entry in item[2]]
            if lower.checkpoints[position] != _root(stack).hex():
                return (
                    position,
                    position,
                    f"the tree of size {position} no longer has the root of its checkpoint",
                ), passed
            passed += 1
    return upper.fault, passed


def _check_upper(
    send: Any,
    url: str,
    start: int,
    checkpoints: dict[int, str],
    batch: int,
    counter: Any,
    zone: str | None,
) -> None:
    """The second process: walk the log after `start` on a connection of its own; send what it found.

    Any failure is sent back as text, so that the first process can say why.
    """
    try:
        from ledger.store.sql import SqlEventStore  # only in the second process

        with collector_paused():
            store = SqlEventStore.open(url)
            try:
                walk = _Walk(store, checkpoints, batch, start, zone=zone)

                def progress(count: int) -> None:
                    counter.value += count

                walk.run(store.verify_rows(after=start, batch_size=batch), progress)
                assert walk.deferred is not None
                message: tuple[str, Any] = (
                    "done",
                    _Upper(walk.checked, walk.fault, walk.deferred, walk.hashes),
                )
            finally:
                store.close()
    except BaseException as exc:  # whatever it is, the first process must hear of it
        message = ("error", f"{type(exc).__name__}: {exc}")
    send.send(message)
    send.close()


def _lower_rows(store: VerifyStore, upto: int, batch: int) -> Iterator[Sequence[Sequence[Any]]]:
    """The rows up to `upto`; when the last ones are missing, also the next stored row.

    A single pass would read that row next and report what is missing before
    it, so the first part must see it too.
    """
    last = 0
    for rows in store.verify_rows(upto=upto, batch_size=batch):
        yield rows
        last = rows[-1][0]
    if last < upto:
        # Only the first batch (one row) is read: the reader is dropped, and closed, at once.
        following = next(iter(store.verify_rows(after=last, batch_size=1)), None)
        if following is not None:
            yield following


def _run_in_two(
    store: VerifyStore,
    lower: _Walk,
    url: str,
    start: int,
    batch: int,
    progress: Progress | None,
    start_method: str,
) -> _Upper | None:
    """Walk positions up to `start` here and the rest in a second process.

    Returns what the second process found, or None when the first part
    settles the outcome by itself (a fault, or a log that ends inside it).
    Raises StorageError when the second process fails or dies.
    """
    import multiprocessing  # here: a small ledger's verify never starts a second process

    context: Any = multiprocessing.get_context(
        start_method
    )  # typeshed's BaseContext has no Process
    receive, send = context.Pipe(duplex=False)
    counter: Any = context.Value("q", 0, lock=False)
    worker = context.Process(
        target=_check_upper,
        args=(send, url, start, lower.checkpoints, batch, counter, lower.keys.zone),
        name="policy-ledger verify",
        daemon=True,
    )
    worker.start()
    send.close()  # the worker holds the only writing end: its death reads as end of file
    told = 0
    answered = False

    def tell(count: int) -> None:  # this process's events, and the worker's since last told
        nonlocal told
        if progress is not None:
            done = counter.value
            progress(count + done - told)
            told = done

    try:
        rows = _lower_rows(store, start, batch)
        if not lower.run(rows, tell if progress is not None else None):
            return None
        if lower.expected <= start:  # the log ends inside the first part: nothing after it
            return None
        while not receive.poll(0.2):
            tell(0)
        try:
            kind, found = receive.recv()
        except EOFError:
            worker.join()
            raise StorageError(
                f"verify's second process ended without an answer (exit code {worker.exitcode}): "
                f"the events after position {start} were not verified"
            ) from None
        if kind != "done":
            raise StorageError(
                f"verify's second process failed ({found}): "
                f"the events after position {start} were not verified"
            )
        answered = True
        tell(0)
        upper: _Upper = found
        return upper
    finally:
        # A worker that answered is exiting; one whose answer is not needed is stopped.
        worker.join(timeout=10 if answered else 0)
        if worker.is_alive():
            worker.terminate()
            worker.join()
        receive.close()


def _split_point(size: int) -> int:
    """Where a second process takes over (0: verify in one process).

    Half-way, rounded down to `_ALIGN`: both processes read and hash about as
    many events. Not below PARALLEL_FROM events, nor with one CPU.
    """
    if size < PARALLEL_FROM:
        return 0
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if (cpus or 1) < 2:
        return 0
    return size // 2 // _ALIGN * _ALIGN


@bulk
def verify_ledger(
    store: VerifyStore,
    progress: Progress | None = None,
    batch: int = 2000,
    *,
    split: int | None = None,
    start_method: str | None = None,
) -> VerifyReport:
    """Recompute every leaf, node and checkpoint root from the stored fields; stop at the first fault.

    Each row's leaf is hashed from its stored text when that text is the
    event's canonical bytes (events written since data and sources are stored
    canonically); any other row is decoded and serialised as RFC 8785, as
    before. Stored tree nodes are read level by level in index order and
    compared as the streaming tree completes them. Each row's `occurred_key`
    is recomputed from its `occurred_at` and the ledger's time zone setting.

    A large ledger is verified by two processes: a second one walks the events
    after `split` (default: `_split_point`; 0 for one process) on its own
    connection, and this one the events up to it; the report is the one a
    single pass would give. `start_method` is multiprocessing's (default:
    fork on Linux, where the second process starts at once, else spawn).
    """
    report = VerifyReport()
    checkpoints = {int(c["size"]): str(c["root"]) for c in store.checkpoints()}

    def fail(fault: Fault) -> VerifyReport:
        reached, report.position, report.problem = fault
        report.checked = reached - 1
        return report

    if 0 in checkpoints and checkpoints[0] != EMPTY_TREE.hex():
        return fail((1, 1, "the checkpoint of size 0 has a wrong root"))
    batch = max(batch, 1)
    url = store.reader_url()
    if split is None:
        split = _split_point(store.head()) if url is not None else 0
    lower = _Walk(store, checkpoints, batch, zone=store.setting(TZ_SETTING))
    upper = None
    if split > 0 and url is not None:
        upper = _run_in_two(
            store, lower, url, split, batch, progress, start_method or _START_METHOD
        )
    else:
        lower.run(store.verify_rows(batch_size=batch), progress)
    report.checkpoints = lower.checkpoints_checked
    if lower.fault is not None:
        return fail(lower.fault)
    report.checked = lower.checked
    hashes: list[bytes] = lower.hashes
    if upper is not None:
        fault, passed = _settle(lower, upper)
        report.checkpoints += passed
        if fault is not None:
            return fail(fault)
        report.checked = split + upper.checked
        hashes = [_evaluate(entry, lower.hashes) for entry in upper.hashes]
    leaf_count = store.node_count(0)
    if leaf_count != report.checked:
        return fail(
            (
                report.checked + 1,
                report.checked + 1,
                f"missing: the tree has {leaf_count} leaves but only {report.checked} events are stored",
            )
        )
    beyond = [size for size in checkpoints if size > report.checked]
    if beyond:
        return fail(
            (
                report.checked + 1,
                report.checked + 1,
                f"a checkpoint covers {max(beyond)} events but only {report.checked} are stored",
            )
        )
    report.checkpoints += 1 if 0 in checkpoints else 0
    report.root = _root(hashes).hex()
    return report
