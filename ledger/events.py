"""The event catalogue: the envelope and every event type of the contract.

Events are facts, named in the past tense, and immutable: frozen pydantic
models that forbid unknown fields. One discriminated union (`Event`, decoded by
`decode_event`) reads any of them from a JSON object. Text is normalised to
Unicode NFC before validation, so two spellings of the same Korean text are one
event.
"""

from __future__ import annotations

import re
import types
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin
from uuid import UUID

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

# The names imported "as" themselves live in modules that import no pydantic,
# so that the folds, the audit queries and the quick read path can use them
# without the catalogue; re-exported here, where callers have always found them.
from ledger.amounts import stored_quantity as stored_quantity
from ledger.errors import InvalidEvent
from ledger.moments import DATE_RE as _DATE_RE
from ledger.moments import EARLIEST as EARLIEST
from ledger.moments import LATEST as LATEST
from ledger.moments import check_range as _check_range
from ledger.moments import normalise_occurred_at as normalise_occurred_at
from ledger.quantities import Quantity, format_amount
from ledger.vocabulary import GOVERNING_CAPACITIES as GOVERNING_CAPACITIES
from ledger.vocabulary import MAX_SLUG, SLUG_PATTERN
from ledger.vocabulary import check_subject as check_subject
from ledger.vocabulary import shown as shown
from ledger.vocabulary import subject_kind as subject_kind
from ledger.vocabulary import subject_slug as subject_slug

_SLUG_RE = re.compile(rf"^{SLUG_PATTERN}$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
MAX_ITEMS = 100
"""Most targets, allocations, removed keys, sources or names one event may hold."""
MAX_DEPTH = 32
"""How deeply an input event may nest arrays and objects (the contract needs six levels)."""


def one_line(message: str) -> str:
    """An error message that prints as one line, whatever input it echoes.

    Line breaks and control characters are escaped, and so are format characters
    such as U+202E, which would otherwise reorder the message on a terminal.
    """
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")
        else ch
        for ch in message
    )


def _check_slug(value: str) -> str:
    if not _SLUG_RE.fullmatch(value):
        raise ValueError(
            f"{shown(value)} is not a slug (lowercase letters, digits and single hyphens)"
        )
    if len(value) > MAX_SLUG:
        raise ValueError(
            f"a slug is limited to {MAX_SLUG} characters (got {len(value)}: {shown(value)})"
        )
    return value


def _of_kind(kind: str) -> AfterValidator:
    return AfterValidator(lambda value: check_subject(value, kind))


def _iso_date(value: Any, info: ValidationInfo) -> Any:
    # pydantic alone would also read 1767139200 or "2025-12-31T00:00:00" as a date.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value.strip()):
        raise ValueError(f"{shown(value, 40)} is not a date YYYY-MM-DD")
    try:
        day = date.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValueError(f"{shown(value.strip())} is not a valid date ({exc})") from None
    if not _is_stored(info):
        _check_range(day, value.strip())
    return day


def _is_stored(info: ValidationInfo) -> bool:
    # Stored events were checked when written; reading them back must not refuse
    # what an earlier release accepted.
    return bool(info.context and info.context.get("stored"))


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
Subject = Annotated[str, AfterValidator(check_subject)]
ActorRef = Annotated[str, _of_kind("actor")]
OfficeRef = Annotated[str, _of_kind("office")]
CommitmentRef = Annotated[str, _of_kind("commitment")]
Slug = Annotated[str, AfterValidator(_check_slug)]


# Whitespace and the invisible format marks (zero-width spaces and joiners,
# direction marks, word joiners, the BOM, the soft hyphen): a text of only
# these says nothing, yet would pass as a title or a statement.
_VISIBLE = re.compile(r"[^\s\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")


def has_visible_character(text: str) -> bool:
    """Whether `text` shows anything: not only spaces and invisible format marks."""
    return _VISIBLE.search(text) is not None


def _no_control(allowed: str) -> AfterValidator:
    # NUL and other control characters: PostgreSQL refuses NUL in text, and no
    # title or quote needs them; line breaks and tabs are fine in long text.
    # One regex search per value (category Cc is exactly U+0000-U+001F and
    # U+007F-U+009F), not a Python loop over its characters.
    refused = "".join(chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)] if chr(c) not in allowed)
    if not allowed:
        refused += "\u2028\u2029"
    forbidden = re.compile(f"[{re.escape(refused)}]")

    def check(value: str) -> str:
        found = forbidden.search(value)
        if found is not None:
            ch = found.group()
            if ch in "\u2028\u2029":
                raise ValueError(f"line separator U+{ord(ch):04X} is not allowed in one-line text")
            raise ValueError(f"control character U+{ord(ch):04X} is not allowed in text")
        if not has_visible_character(value):
            raise ValueError("has no visible character (only spaces or invisible marks)")
        return value

    return AfterValidator(check)


Text = Annotated[str, Field(min_length=1, max_length=10_000), _no_control("\n\t")]
ShortText = Annotated[str, Field(min_length=1, max_length=500), _no_control("")]

Capacity = Literal[
    "head-of-government", "government", "legislature", "opposition", "candidate", "other"
]
ActorKind = Literal[
    "person", "party", "government", "ministry", "legislature", "organization", "other"
]
OfficeKind = Literal["head-of-government", "head-of-state", "minister", "other"]
TenureRole = Literal["elected", "acting", "interim", "appointed"]
EndReason = Literal["term-end", "removed", "resigned", "died", "superseded", "other"]
Phase = Literal["proposed", "approved", "adjusted", "executed"]
Instrument = Literal["main", "supplementary"]

KNOWN_RUBRICS: dict[str, tuple[str, ...]] = {
    "politifact": ("not-yet-rated", "in-the-works", "stalled", "compromise", "kept", "broken"),
    "polimetre": ("fulfilled", "partially-fulfilled", "in-progress", "in-abeyance", "broken"),
    "pledge-3": ("fulfilled", "partially-fulfilled", "not-fulfilled"),
}


class Frozen(BaseModel):
    """Base of every event part: immutable, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


_HTTP_URL = re.compile(r"https?://[^\s/$.?#][^\s]*", re.IGNORECASE)
_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc, exactly


def _http_url(value: str) -> str:
    if not _HTTP_URL.fullmatch(value):
        raise ValueError(f"{shown(value, 80)} is not an http(s) URL")
    if _CONTROL_CHARACTER.search(value):
        raise ValueError(f"{shown(value, 80)} is not an http(s) URL (control characters)")
    return value


HttpUrl = Annotated[str, Field(max_length=2000), AfterValidator(_http_url)]


class Source(Frozen):
    """Where an event is documented: a page, optionally quoted and archived."""

    url: HttpUrl
    title: ShortText | None = None
    publisher: ShortText | None = None
    published_on: IsoDate | None = None
    quote: Text | None = None
    archive_url: HttpUrl | None = None
    sha256: str | None = None

    @field_validator("sha256")
    @classmethod
    def _lowercase_hex(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.lower()
        if not _SHA256_RE.match(value):
            raise ValueError("must be the 64-character hex SHA-256 digest of the archived copy")
        return value


# --- data of each event type -------------------------------------------------


_LANGUAGE_RE = re.compile(r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8}){0,4}")


def _check_language(value: str) -> str:
    if not _LANGUAGE_RE.fullmatch(value):
        raise ValueError(f"{shown(value, 40)} is not a language code (like ko, en or zh-Hant)")
    return value


LanguageCode = Annotated[str, AfterValidator(_check_language)]


class ActorRegisteredData(Frozen):
    name: ShortText
    kind: ActorKind
    names: Annotated[dict[LanguageCode, ShortText], Field(max_length=MAX_ITEMS)] | None = None
    parent: ActorRef | None = None


class OfficeCreatedData(Frozen):
    name: ShortText
    jurisdiction: Annotated[str, Field(min_length=2, max_length=20)]
    kind: OfficeKind


class TenureBeganData(Frozen):
    holder: ActorRef
    role: TenureRole
    administration: Slug | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_administration(cls, value: Any) -> Any:
        # Stored explicitly so the stored form (and its hash) says what it means.
        holder = value.get("holder") if isinstance(value, dict) else None
        if isinstance(holder, str) and "/" in holder and value.get("administration") is None:
            return {**value, "administration": holder.split("/", 1)[1]}
        return value


class TenureSuspendedData(Frozen):
    holder: ActorRef
    reason: ShortText | None = None


class TenureResumedData(Frozen):
    holder: ActorRef
    reason: ShortText | None = None


class TenureEndedData(Frozen):
    holder: ActorRef
    reason: EndReason


class Target(Frozen):
    """A measurable part of a commitment; a qualitative pledge is quantity 1."""

    key: Slug
    description: ShortText | None = None
    quantity: Quantity
    baseline: Quantity | None = None
    due: IsoDate | None = None

    @model_validator(mode="after")
    def _units_agree(self, info: ValidationInfo) -> Target:
        if self.baseline is not None and self.baseline.unit != self.quantity.unit:
            raise ValueError(
                f"baseline unit {self.baseline.unit} differs from quantity unit "
                f"{self.quantity.unit}"
            )
        if not _is_stored(info):
            _check_reachable(self.quantity, self.baseline)
        return self


def _check_reachable(quantity: Quantity, baseline: Quantity | None) -> None:
    problem = unreachable_target(
        quantity.amount, quantity.unit, baseline.amount if baseline is not None else None
    )
    if problem is not None:
        raise ValueError(problem)


def unreachable_target(amount: Decimal, unit: str, baseline: Decimal | None) -> str | None:
    """Why a target of this quantity and baseline means nothing, or None when it is sound."""
    # A target is reached when the achieved level gets to its quantity: upwards,
    # or downwards from a baseline above it. One of zero or less with no baseline
    # above would count as delivered on the first report of anything.
    if amount > 0 or (baseline is not None and baseline > amount):
        return None
    return (
        f"a target quantity of {format_amount(amount)} {unit} is reached by "
        "any progress: it must be above zero, or below the baseline for a reduction "
        "(baseline 200, quantity 0)"
    )


class TargetChange(Frozen):
    """A revision of one target: what it gives replaces, what it omits is kept."""

    key: Slug
    description: ShortText | None = None
    quantity: Quantity | None = None
    baseline: Quantity | None = None
    due: IsoDate | None = None

    @model_validator(mode="after")
    def _units_agree(self, info: ValidationInfo) -> TargetChange:
        if (
            self.quantity is not None
            and self.baseline is not None
            and self.baseline.unit != self.quantity.unit
        ):
            raise ValueError(
                f"baseline unit {self.baseline.unit} differs from quantity unit "
                f"{self.quantity.unit}"
            )
        if self.quantity is not None and self.baseline is not None and not _is_stored(info):
            # Without a baseline here the target keeps its own: the rules judge that case.
            _check_reachable(self.quantity, self.baseline)
        return self


def _unique_keys(keys: list[str], what: str) -> None:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise ValueError(f"{what} '{key}' appears twice")
        seen.add(key)


class CommitmentMadeData(Frozen):
    by: ActorRef
    capacity: Capacity
    title: ShortText
    summary: Text | None = None
    areas: Annotated[list[Slug], Field(max_length=20)]
    targets: Annotated[list[Target], Field(min_length=1, max_length=MAX_ITEMS)]
    due: IsoDate | None = None

    @model_validator(mode="after")
    def _distinct(self) -> CommitmentMadeData:
        _unique_keys([t.key for t in self.targets], "target key")
        _unique_keys(self.areas, "area")
        return self


class CommitmentRevisedData(Frozen):
    by: ActorRef
    capacity: Capacity
    targets: Annotated[list[TargetChange], Field(max_length=MAX_ITEMS)] = []
    removed: Annotated[list[Slug], Field(max_length=MAX_ITEMS)] | None = None
    due: IsoDate | None = None
    reason: Text | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> CommitmentRevisedData:
        _unique_keys([t.key for t in self.targets], "target key")
        removed = self.removed or []
        _unique_keys(removed, "removed key")
        both = {t.key for t in self.targets} & set(removed)
        if both:
            raise ValueError(f"target '{sorted(both)[0]}' is both revised and removed")
        if not self.targets and not removed and self.due is None:
            raise ValueError("a revision must change a target, remove one, or set due")
        return self


class CommitmentReaffirmedData(Frozen):
    by: ActorRef
    capacity: Capacity
    statement: Text | None = None


class CommitmentSupersededData(Frozen):
    by: ActorRef
    capacity: Capacity
    successor: CommitmentRef


class CommitmentWithdrawnData(Frozen):
    by: ActorRef
    capacity: Capacity
    reason: Text


class ProgressReportedData(Frozen):
    target: Slug
    achieved: Quantity
    by: ActorRef | None = None

    @field_validator("achieved")
    @classmethod
    def _not_below_zero(cls, achieved: Quantity, info: ValidationInfo) -> Quantity:
        if achieved.amount < 0 and not _is_stored(info):
            raise ValueError(
                f"the level reached cannot be below zero (got {format_amount(achieved.amount)} "
                f"{achieved.unit})"
            )
        return achieved


class AssessmentRecordedData(Frozen):
    assessor: ActorRef
    rubric: Slug
    rating: Slug
    rationale: Text | None = None

    @model_validator(mode="after")
    def _known_rating(self) -> AssessmentRecordedData:
        ratings = KNOWN_RUBRICS.get(self.rubric)
        if ratings is not None and self.rating not in ratings:
            raise ValueError(
                f"'{self.rating}' is not a {self.rubric} rating (one of {', '.join(ratings)})"
            )
        return self


class Allocation(Frozen):
    commitment: CommitmentRef
    target: Slug | None = None
    quantity: Quantity


class AppropriationRecordedData(Frozen):
    body: ActorRef
    fiscal_year: Annotated[int, Field(strict=True, ge=1900, le=2200)]
    phase: Phase
    instrument: Instrument
    quantity: Quantity
    allocations: Annotated[list[Allocation], Field(max_length=MAX_ITEMS)] = []


class EventRetractedData(Frozen):
    event: UUID
    reason: Text


# --- the envelope ------------------------------------------------------------


class _TooDeep(Exception):
    """A JSON value nests arrays and objects more than MAX_DEPTH levels."""


class _RepeatedKey(Exception):
    """Two keys of one object are the same once normalised to NFC."""


def _plainly_normal(value: Any) -> bool:
    """Whether a JSON value is NFC throughout and shallow, judged from its JSON text.

    Cheaper than the walk for the usual input. The text's `"` characters are
    safe points for normalisation (a starter that composes with nothing), so
    the whole text is NFC exactly when every key and string inside it is;
    and a value cannot nest deeper than the number of its brackets.
    """
    try:
        text = orjson.dumps(value)
    except TypeError:
        return False  # not plain JSON (a caller's own objects): walk it
    if text.count(b"{") + text.count(b"[") > MAX_DEPTH:
        return False
    return text.isascii() or unicodedata.is_normalized("NFC", text.decode("utf-8"))


def _normalised(value: Any, depth: int = 1) -> Any:
    """The value with every string NFC-normalised, refusing nesting beyond MAX_DEPTH.

    One walk for both. Input is almost always NFC already, so strings are
    tested first (ASCII, then `is_normalized`: both in C) and containers are
    rebuilt only when something inside them changed. The recursion stops at
    MAX_DEPTH, far inside Python's own limit.
    """
    if isinstance(value, str):
        if value.isascii() or unicodedata.is_normalized("NFC", value):
            return value
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        if depth > MAX_DEPTH:
            raise _TooDeep
        items = [(_normalised(k, depth), _normalised(v, depth + 1)) for k, v in value.items()]
        if all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(items, value.items(), strict=True)):
            return value
        normalised = dict(items)
        if len(normalised) < len(items):  # two keys equal once normalised (K and KELVIN SIGN)
            seen: set[str] = set()
            for key, _ in items:
                if key in seen:
                    raise _RepeatedKey(key)
                seen.add(key)
        return normalised
    if isinstance(value, list):
        if depth > MAX_DEPTH:
            raise _TooDeep
        children = [_normalised(v, depth + 1) for v in value]
        if all(c is v for c, v in zip(children, value, strict=True)):
            return value
        return children
    return value


class EventBase(Frozen):
    """Fields shared by every event type (the envelope)."""

    SUBJECT_KIND: ClassVar[str | None] = None
    SOURCES_REQUIRED: ClassVar[bool] = True

    subject: Subject
    occurred_at: str
    sources: Annotated[list[Source], Field(max_length=MAX_ITEMS)] = []
    id: UUID | None = None
    recorded_by: ShortText | None = None

    @model_validator(mode="before")
    @classmethod
    def _nfc(cls, value: Any, info: ValidationInfo) -> Any:
        # Stored events were normalised when written; reading them back skips the walk.
        if _is_stored(info):
            return value
        if _plainly_normal(value):
            return value
        try:
            return _normalised(value)
        except _TooDeep:
            raise ValueError(f"nested more than {MAX_DEPTH} levels deep (the limit)") from None
        except _RepeatedKey as repeated:
            key = str(repeated.args[0])
            raise ValueError(
                f"the key {shown(key)} appears twice in one object (once normalised to NFC)"
            ) from None

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _occurred_at(cls, value: Any, info: ValidationInfo) -> str:
        return normalise_occurred_at(value, in_range=not _is_stored(info))

    @model_validator(mode="after")
    def _envelope_rules(self) -> EventBase:
        kind = type(self).SUBJECT_KIND
        if kind is not None and subject_kind(self.subject) != kind:
            type_name = getattr(self, "type", type(self).__name__)
            raise ValueError(f"subject: a {type_name} event belongs to a {kind}/... subject")
        if type(self).SOURCES_REQUIRED and not self.sources:
            raise ValueError("sources: at least one source is required")
        return self


class ActorRegistered(EventBase):
    SUBJECT_KIND = "actor"
    SOURCES_REQUIRED = False
    type: Literal["ActorRegistered"]
    data: ActorRegisteredData


class OfficeCreated(EventBase):
    SUBJECT_KIND = "office"
    SOURCES_REQUIRED = False
    type: Literal["OfficeCreated"]
    data: OfficeCreatedData


class TenureBegan(EventBase):
    SUBJECT_KIND = "office"
    type: Literal["TenureBegan"]
    data: TenureBeganData


class TenureSuspended(EventBase):
    SUBJECT_KIND = "office"
    type: Literal["TenureSuspended"]
    data: TenureSuspendedData


class TenureResumed(EventBase):
    SUBJECT_KIND = "office"
    type: Literal["TenureResumed"]
    data: TenureResumedData


class TenureEnded(EventBase):
    SUBJECT_KIND = "office"
    type: Literal["TenureEnded"]
    data: TenureEndedData


class CommitmentMade(EventBase):
    SUBJECT_KIND = "commitment"
    type: Literal["CommitmentMade"]
    data: CommitmentMadeData


class CommitmentRevised(EventBase):
    SUBJECT_KIND = "commitment"
    type: Literal["CommitmentRevised"]
    data: CommitmentRevisedData


class CommitmentReaffirmed(EventBase):
    SUBJECT_KIND = "commitment"
    type: Literal["CommitmentReaffirmed"]
    data: CommitmentReaffirmedData


class CommitmentSuperseded(EventBase):
    SUBJECT_KIND = "commitment"
    type: Literal["CommitmentSuperseded"]
    data: CommitmentSupersededData


class CommitmentWithdrawn(EventBase):
    SUBJECT_KIND = "commitment"
    type: Literal["CommitmentWithdrawn"]
    data: CommitmentWithdrawnData


class ProgressReported(EventBase):
    SUBJECT_KIND = "commitment"
    type: Literal["ProgressReported"]
    data: ProgressReportedData


class AssessmentRecorded(EventBase):
    SUBJECT_KIND = "commitment"
    type: Literal["AssessmentRecorded"]
    data: AssessmentRecordedData


class AppropriationRecorded(EventBase):
    SUBJECT_KIND = "budget"
    type: Literal["AppropriationRecorded"]
    data: AppropriationRecordedData


class EventRetracted(EventBase):
    type: Literal["EventRetracted"]
    data: EventRetractedData


Event = Annotated[
    ActorRegistered
    | OfficeCreated
    | TenureBegan
    | TenureSuspended
    | TenureResumed
    | TenureEnded
    | CommitmentMade
    | CommitmentRevised
    | CommitmentReaffirmed
    | CommitmentSuperseded
    | CommitmentWithdrawn
    | ProgressReported
    | AssessmentRecorded
    | AppropriationRecorded
    | EventRetracted,
    Field(discriminator="type"),
]
EVENT_TYPES: tuple[type[EventBase], ...] = (
    ActorRegistered,
    OfficeCreated,
    TenureBegan,
    TenureSuspended,
    TenureResumed,
    TenureEnded,
    CommitmentMade,
    CommitmentRevised,
    CommitmentReaffirmed,
    CommitmentSuperseded,
    CommitmentWithdrawn,
    ProgressReported,
    AssessmentRecorded,
    AppropriationRecorded,
    EventRetracted,
)
EVENT_TYPE_NAMES: tuple[str, ...] = tuple(cls.__name__ for cls in EVENT_TYPES)
_EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


_PLAIN_STEP = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,39}")
# What the items of a limited list are called in messages ("at most 100 targets").
_ITEM_NOUNS = {"removed": "removed keys", "areas": "areas", "names": "names"}


def _location(loc: tuple[int | str, ...], event_type: str | None) -> str:
    # Drop the union tag pydantic inserts ("CommitmentMade") and pydantic-internal
    # steps ("function-after[...]") so the path reads like the input: data.targets[0].key
    parts: list[str] = []
    for step in loc:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        elif step == event_type or step.startswith(("function-", "constrained-")):
            continue
        elif step == "[key]":
            parts.append(" (key)")
        elif not _PLAIN_STEP.fullmatch(step):
            parts.append(f"[{shown(step, 40)}]")  # a key from the input: quoted, shortened
        else:
            parts.append(("." if parts else "") + step)
    return "".join(parts)


def _limit_message(kind: str, error: Any, field: str) -> str | None:
    """Say which limit a too long (or too short, too large) value broke, and by how much."""
    ctx = error.get("ctx") or {}
    value = error.get("input")
    noun = _ITEM_NOUNS.get(field.rsplit(".", 1)[-1].split("[", 1)[0], "items")
    if noun == "items" and field:
        noun = field.rsplit(".", 1)[-1].split("[", 1)[0]
    if kind == "too_long":
        length = ctx.get("actual_length") or (len(value) if hasattr(value, "__len__") else None)
        got = f" (got {length:,})" if isinstance(length, int) else ""
        return f"at most {ctx['max_length']:,} {noun}{got}"
    if kind == "too_short":
        wanted = ctx["min_length"]
        return f"at least {wanted:,} {noun.removesuffix('s') if wanted == 1 else noun} (got 0)"
    if kind == "string_too_long":
        length = len(value.strip()) if isinstance(value, str) else None
        got = f" (got {length:,})" if length is not None else ""
        return f"at most {ctx['max_length']:,} characters{got}"
    if kind == "string_too_short":
        wanted = ctx["min_length"]
        return "must not be empty" if wanted == 1 else f"at least {wanted:,} characters"
    if kind in ("less_than_equal", "greater_than_equal"):
        bound = "at most" if kind == "less_than_equal" else "at least"
        number = str(value) if isinstance(value, int) else shown(value, 40)
        return f"{bound} {ctx.get('le', ctx.get('ge'))} (got {number})"
    return None


def describe_validation_error(exc: ValidationError, raw: Any) -> InvalidEvent:
    """Turn pydantic's report into one line naming the first bad field and why."""
    event_type = raw.get("type") if isinstance(raw, dict) else None
    error = exc.errors(include_url=False)[0]
    field = one_line(
        _location(tuple(error["loc"]), event_type if isinstance(event_type, str) else None)
    )
    kind = error["type"]
    if kind == "union_tag_invalid":
        return InvalidEvent(
            f"unknown event type {shown(event_type)} (known: {', '.join(EVENT_TYPE_NAMES)})",
            field="type",
        )
    if kind == "union_tag_not_found":
        return InvalidEvent("missing event type", field="type")
    if kind == "extra_forbidden":
        return InvalidEvent("unknown field", field=field or None)
    if kind == "missing":
        return InvalidEvent("required field is missing", field=field or None)
    if kind == "model_type" and not field:
        return InvalidEvent("an event must be a JSON object")
    message = _limit_message(kind, error, field)
    if message is None:
        message = str(error["msg"])
        for prefix in ("Value error, ", "Assertion failed, "):
            message = message.removeprefix(prefix)
    return InvalidEvent(one_line(message), field=field or None)


def decode_event(raw: Any, *, stored: bool = False) -> Event:
    """Validate a JSON value (already parsed) as one event of the catalogue.

    `stored` marks an event read back from the ledger: already NFC-normalised.
    """
    if not isinstance(raw, dict):
        raise InvalidEvent("an event must be a JSON object")
    try:
        return _EVENT_ADAPTER.validate_python(raw, context={"stored": True} if stored else None)
    except ValidationError as exc:
        raise describe_validation_error(exc, raw) from None


def references(event: Event) -> set[str]:
    """The subjects an event's data names (actors, commitments), other than its own."""
    data = event.data
    fields = (
        data.__dict__
    )  # a missing attribute costs pydantic an exception; a dict lookup does not
    named: set[str] = set()
    for attribute in ("by", "holder", "body", "assessor", "parent", "successor"):
        value = fields.get(attribute)
        if isinstance(value, str):
            named.add(value)
    if isinstance(data, AppropriationRecordedData):
        named.update(allocation.commitment for allocation in data.allocations)
    named.discard(event.subject)
    return named


# --- trusted decoding of stored events ----------------------------------------------
#
# Every stored event was validated when it was written. Reading millions back
# through full validation would dominate a rebuild, so stored events are built
# with model_construct by converters compiled once per model from its field
# annotations. tests/test_events.py holds this equal to full validation.

_Converter = Callable[[Any], Any]
_CONSTRUCTORS: dict[type[BaseModel], _Converter] = {}


def _identity(value: Any) -> Any:
    return value


def _converter(annotation: Any) -> _Converter:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _converter(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        inner = _converter(options[0]) if len(options) == 1 else _identity
        return lambda value: None if value is None else inner(value)
    if origin is list:
        item = _converter(get_args(annotation)[0])
        return lambda value: [item(v) for v in value]
    if origin is dict:
        item = _converter(get_args(annotation)[1])
        return lambda value: {k: item(v) for k, v in value.items()}
    if annotation is Quantity:
        build_quantity = _constructor(Quantity)
        return lambda value: build_quantity(
            {"amount": Decimal(value["amount"]), "unit": value["unit"]}
        )
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _constructor(annotation)
    if annotation is date:
        return date.fromisoformat
    if annotation is UUID:
        return UUID
    return _identity


def _constructor(model: type[BaseModel]) -> _Converter:
    if model not in _CONSTRUCTORS:
        fields = model.model_fields
        converters = {name: _converter(field.annotation) for name, field in fields.items()}
        # Defaults are immutable or copied per instance (a list default must not be shared).
        defaults = {name: f.default for name, f in fields.items() if not f.is_required()}
        mutable = {name for name, value in defaults.items() if isinstance(value, list | dict)}
        new, set_attr = object.__new__, object.__setattr__

        def build(raw: dict[str, Any]) -> BaseModel:
            # What model_construct does, without its per-call bookkeeping.
            values = {k: converters[k](v) for k, v in raw.items()}
            state = {
                **defaults,
                **{k: defaults[k].copy() for k in mutable if k not in values},
                **values,
            }
            instance = new(model)
            set_attr(instance, "__dict__", state)
            set_attr(instance, "__pydantic_fields_set__", set(values))
            set_attr(instance, "__pydantic_extra__", None)
            set_attr(instance, "__pydantic_private__", None)
            return instance

        _CONSTRUCTORS[model] = build
    return _CONSTRUCTORS[model]


_BY_TYPE: dict[str, type[EventBase]] = {cls.__name__: cls for cls in EVENT_TYPES}


def decode_stored(raw: dict[str, Any]) -> Event:
    """Build a stored (already validated, current-schema) event without validating it again."""
    cls = _BY_TYPE.get(raw.get("type", ""))
    if cls is None:
        return decode_event(raw, stored=True)
    built: Event = _constructor(cls)(raw)
    return built


def upcast_data(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """Upcast data of an earlier schema, validated as stored data, in its stored JSON form.

    What the folds read for an event an earlier release wrote: the upcaster's
    output goes through the current model (as `decode_event(..., stored=True)`
    would take it), so the folds see the same normalised form as for an event
    written today.
    """
    model: Any = _BY_TYPE[event_type].model_fields["data"].annotation
    try:
        validated = model.model_validate(data, context={"stored": True})
    except ValidationError as exc:
        raise describe_validation_error(exc, {"type": event_type, "data": data}) from None
    dumped: dict[str, Any] = validated.model_dump(mode="json", exclude_none=True)
    return dumped
