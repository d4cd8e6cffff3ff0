"""The event catalogue: the envelope and every event type of the contract.

Events are facts, named in the past tense, and immutable: frozen pydantic
models that forbid unknown fields. One discriminated union (`Event`, decoded by
`decode_event`) reads any of them from a JSON object. Text is normalised to
Unicode NFC before validation, so two spellings of the same Korean text are one
event.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

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

from ledger.errors import InvalidEvent
from ledger.quantities import Quantity

SLUG_PATTERN = r"[a-z0-9]+(?:-[a-z0-9]+)*"
SUBJECT_KINDS = ("actor", "office", "commitment", "budget")
_SUBJECT_RE = re.compile(rf"^({'|'.join(SUBJECT_KINDS)})/({SLUG_PATTERN})$")
_SLUG_RE = re.compile(rf"^{SLUG_PATTERN}$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
MAX_SLUG = 100


def subject_kind(subject: str) -> str:
    """The KIND part of a `KIND/SLUG` subject."""
    return subject.split("/", 1)[0]


def subject_slug(subject: str) -> str:
    """The SLUG part of a `KIND/SLUG` subject."""
    return subject.split("/", 1)[1]


def check_subject(value: str, kind: str | None = None) -> str:
    """Validate a `KIND/SLUG` subject, optionally of one kind."""
    match = _SUBJECT_RE.match(value)
    if not match:
        raise ValueError(
            f"'{value}' is not a subject: expected KIND/SLUG with KIND one of "
            f"{', '.join(SUBJECT_KINDS)} and a lowercase slug like kr-ai-gpus"
        )
    if len(match.group(2)) > MAX_SLUG:
        raise ValueError(f"the slug of '{value}' is longer than {MAX_SLUG} characters")
    if kind is not None and match.group(1) != kind:
        raise ValueError(f"'{value}' must be a {kind} subject ({kind}/...)")
    return value


def _check_slug(value: str) -> str:
    if not _SLUG_RE.match(value) or len(value) > MAX_SLUG:
        raise ValueError(f"'{value}' is not a slug (lowercase letters, digits and single hyphens)")
    return value


def _of_kind(kind: str) -> AfterValidator:
    return AfterValidator(lambda value: check_subject(value, kind))


def _iso_date(value: Any) -> Any:
    # pydantic alone would also read 1767139200 or "2025-12-31T00:00:00" as a date.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _DATE_RE.match(value.strip()):
        raise ValueError(f"{str(value)[:40]!r} is not a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValueError(f"'{value.strip()}' is not a valid date ({exc})") from None


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
Subject = Annotated[str, AfterValidator(check_subject)]
ActorRef = Annotated[str, _of_kind("actor")]
OfficeRef = Annotated[str, _of_kind("office")]
CommitmentRef = Annotated[str, _of_kind("commitment")]
Slug = Annotated[str, AfterValidator(_check_slug)]


def _no_control(allowed: str) -> AfterValidator:
    # NUL and other control characters: PostgreSQL refuses NUL in text, and no
    # title or quote needs them; line breaks and tabs are fine in long text.
    def check(value: str) -> str:
        for ch in value:
            if unicodedata.category(ch) == "Cc" and ch not in allowed:
                raise ValueError(f"control character U+{ord(ch):04X} is not allowed in text")
        return value

    return AfterValidator(check)


Text = Annotated[str, Field(min_length=1, max_length=10_000), _no_control("\n\t")]
ShortText = Annotated[str, Field(min_length=1, max_length=500), _no_control("")]

Capacity = Literal[
    "head-of-government", "government", "legislature", "opposition", "candidate", "other"
]
GOVERNING_CAPACITIES: frozenset[str] = frozenset({"head-of-government", "government"})
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


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/$.?#][^\s]*$", value, re.IGNORECASE):
        raise ValueError(f"'{value[:80]}' is not an http(s) URL")
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


class ActorRegisteredData(Frozen):
    name: ShortText
    kind: ActorKind
    names: dict[str, ShortText] | None = None
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
    def _units_agree(self) -> Target:
        if self.baseline is not None and self.baseline.unit != self.quantity.unit:
            raise ValueError(
                f"baseline unit {self.baseline.unit} differs from quantity unit "
                f"{self.quantity.unit}"
            )
        return self


class TargetChange(Frozen):
    """A revision of one target: what it gives replaces, what it omits is kept."""

    key: Slug
    description: ShortText | None = None
    quantity: Quantity | None = None
    baseline: Quantity | None = None
    due: IsoDate | None = None

    @model_validator(mode="after")
    def _units_agree(self) -> TargetChange:
        if (
            self.quantity is not None
            and self.baseline is not None
            and self.baseline.unit != self.quantity.unit
        ):
            raise ValueError(
                f"baseline unit {self.baseline.unit} differs from quantity unit "
                f"{self.quantity.unit}"
            )
        return self


def _unique_keys(keys: list[str], what: str) -> None:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise ValueError(f"{what} '{key}' appears twice")
        seen.add(key)


MAX_ITEMS = 100


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


def _normalise_text(value: Any) -> Any:
    """NFC-normalise every string inside a JSON value."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {_normalise_text(k): _normalise_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise_text(v) for v in value]
    return value


_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
# RFC 3339 section 5.6 (a space may stand for the T, as its note allows); Python's
# fromisoformat alone would also take ISO 8601 forms such as 20250424T100000+0900.
_DATE_TIME_RE = re.compile(
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ]([0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?)"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})?$"
)
_MOMENT_FORMS = "a date YYYY-MM-DD or an RFC 3339 date-time with offset"


def normalise_occurred_at(value: str) -> str:
    """A bare date stays `YYYY-MM-DD`; a date-time must carry an offset and is kept ISO."""
    if not isinstance(value, str):
        raise ValueError(f"must be {_MOMENT_FORMS}")
    text = value.strip()
    if _DATE_RE.match(text):
        try:
            date.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"'{text}' is not a valid date ({exc})") from None
        return text
    match = _DATE_TIME_RE.match(text)
    if match is None:
        raise ValueError(f"'{text[:40]}' is not {_MOMENT_FORMS}")
    day, clock, offset = match.groups()
    if offset is None:
        raise ValueError(f"'{text[:40]}' needs a time zone offset, e.g. 2025-04-24T10:00:00+09:00")
    offset = "+00:00" if offset in ("Z", "z") else offset
    try:
        moment = datetime.fromisoformat(f"{day}T{clock}{offset}")
    except ValueError as exc:
        raise ValueError(f"'{text[:40]}' is not a valid date-time ({exc})") from None
    return moment.isoformat()


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
        if info.context and info.context.get("stored"):
            return value
        return _normalise_text(value)

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _occurred_at(cls, value: Any) -> str:
        return normalise_occurred_at(value)

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


def _location(loc: tuple[int | str, ...], event_type: str | None) -> str:
    # Drop the union tag pydantic inserts ("CommitmentMade") and pydantic-internal
    # steps ("function-after[...]") so the path reads like the input: data.targets[0].key
    parts: list[str] = []
    for step in loc:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        elif step == event_type or step.startswith(("function-", "constrained-")):
            continue
        else:
            parts.append(("." if parts else "") + step)
    return "".join(parts)


def describe_validation_error(exc: ValidationError, raw: Any) -> InvalidEvent:
    """Turn pydantic's report into one line naming the first bad field and why."""
    event_type = raw.get("type") if isinstance(raw, dict) else None
    error = exc.errors(include_url=False)[0]
    field = _location(tuple(error["loc"]), event_type if isinstance(event_type, str) else None)
    kind = error["type"]
    if kind == "union_tag_invalid":
        return InvalidEvent(
            f"unknown event type '{event_type}' (known: {', '.join(EVENT_TYPE_NAMES)})",
            field="type",
        )
    if kind == "union_tag_not_found":
        return InvalidEvent("missing event type", field="type")
    if kind == "extra_forbidden":
        return InvalidEvent("unknown field", field=field or None)
    if kind == "missing":
        return InvalidEvent("required field is missing", field=field or None)
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if kind == "model_type" and not field:
        return InvalidEvent("an event must be a JSON object")
    return InvalidEvent(message, field=field or None)


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
    named: set[str] = set()
    for attribute in ("by", "holder", "body", "assessor", "parent", "successor"):
        value = getattr(data, attribute, None)
        if isinstance(value, str):
            named.add(value)
    if isinstance(data, AppropriationRecordedData):
        named.update(allocation.commitment for allocation in data.allocations)
    named.discard(event.subject)
    return named
