"""Decoding events (spec sections 1 and 2): the envelope, every event type, and their refusals."""

from __future__ import annotations

import copy
import unicodedata
import uuid
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import InvalidEvent, LedgerError
from ledger.events import EVENT_TYPE_NAMES, decode_event, references
from ledger.records import derive_event_id, event_content
from tests.builders import actor, ev, lines, made, office

RETRACTED_ID = "6f1c2e0a-5b7d-4c1e-9a57-2b1f7c3d9e10"

# One valid example of every event type, with optional fields filled in where they exist.
EXAMPLES: dict[str, dict[str, Any]] = {
    "ActorRegistered": ev(
        "ActorRegistered",
        "actor/han-duck-soo",
        "2020-01-01",
        {
            "name": "Han Duck-soo",
            "kind": "person",
            "names": {"ko": "한덕수"},
            "parent": "actor/government-kr",
        },
    ),
    "OfficeCreated": ev(
        "OfficeCreated",
        "office/president",
        "1948-07-24",
        {"name": "President", "jurisdiction": "KR", "kind": "head-of-state"},
    ),
    "TenureBegan": ev(
        "TenureBegan",
        "office/president",
        "2025-04-04",
        {"holder": "actor/han-duck-soo", "role": "acting", "administration": "yoon"},
    ),
    "TenureSuspended": ev(
        "TenureSuspended",
        "office/president",
        "2024-12-27T17:00:00+09:00",
        {"holder": "actor/han-duck-soo", "reason": "impeached"},
    ),
    "TenureResumed": ev(
        "TenureResumed",
        "office/president",
        "2025-03-24",
        {"holder": "actor/han-duck-soo", "reason": "impeachment dismissed"},
    ),
    "TenureEnded": ev(
        "TenureEnded",
        "office/president",
        "2025-06-04",
        {"holder": "actor/han-duck-soo", "reason": "term-end"},
    ),
    "CommitmentMade": ev(
        "CommitmentMade",
        "commitment/kr-ai-gpus",
        "2025-04-24",
        {
            "by": "actor/han-duck-soo",
            "capacity": "head-of-government",
            "title": "Secure 10,000 high-performance GPUs",
            "summary": "Within the year",
            "areas": ["ai", "industry"],
            "targets": [
                {
                    "key": "gpus",
                    "description": "GPUs bought or leased",
                    "quantity": {"amount": "10,000", "unit": "GPU"},
                    "baseline": {"amount": 0, "unit": "GPU"},
                    "due": "2025-12-31",
                }
            ],
            "due": "2026-06-30",
        },
        recorded_by="desk@watchdog.example",
        id="3b0e8a4c-1d2f-4e5a-8b6c-7d8e9f0a1b2c",
    ),
    "CommitmentRevised": ev(
        "CommitmentRevised",
        "commitment/kr-ai-gpus",
        "2025-07-01",
        {
            "by": "actor/han-duck-soo",
            "capacity": "government",
            "targets": [{"key": "gpus", "quantity": {"amount": "15000", "unit": "GPU"}}],
            "removed": ["old-target"],
            "due": "2026-12-31",
            "reason": "more demand",
        },
    ),
    "CommitmentReaffirmed": ev(
        "CommitmentReaffirmed",
        "commitment/kr-ai-gpus",
        "2025-08-01",
        {"by": "actor/han-duck-soo", "capacity": "government", "statement": "still on"},
    ),
    "CommitmentSuperseded": ev(
        "CommitmentSuperseded",
        "commitment/kr-ai-gpus",
        "2025-09-01",
        {"by": "actor/lee", "capacity": "government", "successor": "commitment/kr-ai-50k"},
    ),
    "CommitmentWithdrawn": ev(
        "CommitmentWithdrawn",
        "commitment/kr-ai-gpus",
        "2025-09-01",
        {"by": "actor/lee", "capacity": "government", "reason": "no budget"},
    ),
    "ProgressReported": ev(
        "ProgressReported",
        "commitment/kr-ai-gpus",
        "2025-10-01",
        {"target": "gpus", "achieved": {"amount": "2,000", "unit": "GPU"}, "by": "actor/msit"},
    ),
    "AssessmentRecorded": ev(
        "AssessmentRecorded",
        "commitment/kr-ai-gpus",
        "2025-10-02",
        {
            "assessor": "actor/watchdog",
            "rubric": "politifact",
            "rating": "in-the-works",
            "rationale": "orders placed",
        },
    ),
    "AppropriationRecorded": ev(
        "AppropriationRecorded",
        "budget/kr-2025-supp1-ai",
        "2025-05-01",
        {
            "body": "actor/national-assembly",
            "fiscal_year": 2025,
            "phase": "approved",
            "instrument": "supplementary",
            "quantity": {"amount": "1.8조 원"},
            "allocations": [
                {
                    "commitment": "commitment/kr-ai-gpus",
                    "target": "gpus",
                    "quantity": {"amount": "1.46조", "unit": "KRW"},
                }
            ],
        },
    ),
    "EventRetracted": ev(
        "EventRetracted",
        "commitment/kr-ai-gpus",
        "2025-10-03",
        {"event": RETRACTED_ID, "reason": "wrong article"},
    ),
}


def rejection(raw: Any) -> InvalidEvent:
    """The error decoding `raw` raises (failing the test if it decodes)."""
    with pytest.raises(InvalidEvent) as info:
        decode_event(raw)
    assert isinstance(info.value, LedgerError)
    return info.value


def changed(type_: str, **envelope: Any) -> dict[str, Any]:
    """A copy of the example of `type_` with envelope fields replaced (None removes one)."""
    raw = copy.deepcopy(EXAMPLES[type_])
    for name, value in envelope.items():
        if value is None:
            raw.pop(name, None)
        else:
            raw[name] = value
    return raw


def test_the_examples_cover_every_event_type():
    assert sorted(EXAMPLES) == sorted(EVENT_TYPE_NAMES)


@pytest.mark.parametrize("type_", sorted(EXAMPLES))
def test_each_event_type_round_trips_through_its_stored_form(type_):
    event = decode_event(EXAMPLES[type_])
    assert event.type == type_
    stored = {**event_content(event), "id": event.id and str(event.id)}
    stored = {k: v for k, v in stored.items() if v is not None}
    again = decode_event(stored)
    assert again.data == event.data
    assert event_content(again) == event_content(event)
    assert derive_event_id(event_content(again)) == derive_event_id(event_content(event))


def test_the_stored_form_has_plain_amounts_and_iso_codes():
    content = event_content(decode_event(EXAMPLES["AppropriationRecorded"]))
    assert content["data"]["quantity"] == {"amount": "1800000000000", "unit": "KRW"}
    assert content["data"]["allocations"][0]["quantity"] == {
        "amount": "1460000000000",
        "unit": "KRW",
    }
    made_content = event_content(decode_event(EXAMPLES["CommitmentMade"]))
    assert made_content["data"]["targets"][0]["quantity"] == {"amount": "10000", "unit": "GPU"}


def test_a_tenure_without_administration_is_stored_with_the_holders_slug():
    raw = changed("TenureBegan")
    del raw["data"]["administration"]
    event = decode_event(raw)
    assert event_content(event)["data"]["administration"] == "han-duck-soo"


def test_an_explicit_id_and_recorded_by_are_read():
    event = decode_event(EXAMPLES["CommitmentMade"])
    assert event.id == uuid.UUID("3b0e8a4c-1d2f-4e5a-8b6c-7d8e9f0a1b2c")
    assert event.recorded_by == "desk@watchdog.example"


@pytest.mark.parametrize("type_", sorted(EXAMPLES))
def test_an_unknown_field_in_data_is_rejected_naming_it(type_):
    raw = changed(type_)
    raw["data"]["colour"] = "blue"
    error = rejection(raw)
    assert error.field == "data.colour"
    assert "data.colour" in str(error)
    assert "unknown field" in str(error)


def test_an_unknown_field_in_a_target_is_rejected_naming_its_path():
    raw = changed("CommitmentMade")
    raw["data"]["targets"][0]["colour"] = "blue"
    assert str(rejection(raw)) == "data.targets[0].colour: unknown field"


def test_an_unknown_field_in_a_source_is_rejected_naming_its_path():
    raw = changed("CommitmentMade", sources=[{"url": "https://example.org", "author": "x"}])
    assert str(rejection(raw)) == "sources[0].author: unknown field"


@pytest.mark.parametrize("type_", ["CommitmentMade", "ActorRegistered", "EventRetracted"])
def test_an_unknown_field_in_the_envelope_is_rejected_naming_it(type_):
    error = rejection(changed(type_, position=7))
    assert str(error) == "position: unknown field"


def test_an_unknown_event_type_is_rejected_naming_it():
    error = rejection(changed("CommitmentMade", type="CommitmentBroken"))
    assert error.field == "type"
    assert "unknown event type 'CommitmentBroken'" in str(error)


def test_an_event_without_type_is_rejected():
    assert str(rejection(changed("CommitmentMade", type=None))) == "type: missing event type"


@pytest.mark.parametrize("missing", ["subject", "occurred_at", "data"])
def test_an_event_without_a_required_envelope_field_is_rejected_naming_it(missing):
    error = rejection(changed("CommitmentMade", **{missing: None}))
    assert str(error) == f"{missing}: required field is missing"


def test_a_missing_data_field_is_rejected_naming_it():
    raw = changed("CommitmentMade")
    del raw["data"]["title"]
    assert str(rejection(raw)) == "data.title: required field is missing"


@pytest.mark.parametrize("raw", [[1, 2], "CommitmentMade", None, 5])
def test_a_json_value_that_is_not_an_object_is_rejected(raw):
    assert "JSON object" in str(rejection(raw))


WRONG_SUBJECTS = [
    ("ActorRegistered", "office/han-duck-soo", "actor"),
    ("OfficeCreated", "actor/president", "office"),
    ("TenureBegan", "commitment/president", "office"),
    ("TenureSuspended", "actor/president", "office"),
    ("TenureResumed", "budget/president", "office"),
    ("TenureEnded", "commitment/president", "office"),
    ("CommitmentMade", "office/kr-ai-gpus", "commitment"),
    ("CommitmentRevised", "actor/kr-ai-gpus", "commitment"),
    ("CommitmentReaffirmed", "budget/kr-ai-gpus", "commitment"),
    ("CommitmentSuperseded", "office/kr-ai-gpus", "commitment"),
    ("CommitmentWithdrawn", "actor/kr-ai-gpus", "commitment"),
    ("ProgressReported", "budget/kr-ai-gpus", "commitment"),
    ("AssessmentRecorded", "actor/kr-ai-gpus", "commitment"),
    ("AppropriationRecorded", "commitment/kr-2025", "budget"),
]


@pytest.mark.parametrize(("type_", "subject", "kind"), WRONG_SUBJECTS)
def test_an_event_on_a_subject_of_the_wrong_kind_is_rejected(type_, subject, kind):
    error = rejection(changed(type_, subject=subject))
    assert str(error).startswith("subject: ")
    assert f"{type_} event belongs to a {kind}/... subject" in str(error)


@pytest.mark.parametrize("subject", ["actor/x", "office/x", "commitment/x", "budget/x"])
def test_a_retraction_may_be_on_a_subject_of_any_kind(subject):
    assert decode_event(changed("EventRetracted", subject=subject)).subject == subject


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("by", "office/president"),
        ("by", "han-duck-soo"),
        ("capacity", "king"),
        ("areas", ["AI"]),
        ("targets", []),
    ],
)
def test_a_commitment_with_a_bad_data_field_is_rejected_naming_it(field, value):
    raw = changed("CommitmentMade")
    raw["data"][field] = value
    assert str(rejection(raw)).startswith(f"data.{field}")


def test_two_targets_with_one_key_are_rejected():
    raw = changed("CommitmentMade")
    raw["data"]["targets"] = [raw["data"]["targets"][0]] * 2
    assert "target key 'gpus' appears twice" in str(rejection(raw))


def test_a_revision_that_changes_nothing_is_rejected():
    raw = changed("CommitmentRevised")
    raw["data"] = {"by": "actor/lee", "capacity": "government", "reason": "none"}
    assert "must change a target" in str(rejection(raw))


def test_a_baseline_in_another_unit_than_its_quantity_is_rejected():
    raw = changed("CommitmentMade")
    raw["data"]["targets"][0]["baseline"] = {"amount": "5", "unit": "person"}
    error = rejection(raw)
    assert error.field == "data.targets[0]"
    assert "baseline unit person differs from quantity unit GPU" in str(error)


def test_a_revised_target_with_a_baseline_in_another_unit_is_rejected():
    raw = changed("CommitmentRevised")
    raw["data"]["targets"][0]["baseline"] = {"amount": "5", "unit": "wafer"}
    error = rejection(raw)
    assert error.field == "data.targets[0]"
    assert "baseline unit wafer differs from quantity unit GPU" in str(error)


def test_a_known_rubric_refuses_a_rating_it_does_not_have():
    raw = changed("AssessmentRecorded")
    raw["data"]["rating"] = "fulfilled"
    assert "'fulfilled' is not a politifact rating" in str(rejection(raw))


def test_an_unknown_rubric_takes_any_rating_token():
    raw = changed("AssessmentRecorded")
    raw["data"].update(rubric="house-scale", rating="mostly-done")
    assert decode_event(raw).data.rating == "mostly-done"


@pytest.mark.parametrize(
    "amount", ["lots", 1.5, "1.5조 3천억", "1,00,0", "", "1.8조 원 원"], ids=repr
)
def test_a_bad_amount_is_rejected_naming_the_quantity(amount):
    raw = changed("CommitmentMade")
    raw["data"]["targets"][0]["quantity"]["amount"] = amount
    error = rejection(raw)
    assert error.field == "data.targets[0].quantity"


def test_an_amount_naming_another_currency_than_the_unit_is_rejected():
    raw = changed("AppropriationRecorded")
    raw["data"]["quantity"] = {"amount": "1.8조 원", "unit": "USD"}
    error = rejection(raw)
    assert error.field == "data.quantity"
    assert "conflict" in str(error)


@pytest.mark.parametrize("due", [1767139200, "2025-12-31T00:00:00", "31.12.2025", "2025-02-30"])
def test_a_due_date_must_be_a_calendar_date(due):
    raw = changed("CommitmentMade")
    raw["data"]["targets"][0]["due"] = due
    assert rejection(raw).field == "data.targets[0].due"


@pytest.mark.parametrize("year", ["2025", 2025.0, True])
def test_a_fiscal_year_must_be_an_integer(year):
    raw = changed("AppropriationRecorded")
    raw["data"]["fiscal_year"] = year
    assert rejection(raw).field == "data.fiscal_year"


# --- sources -------------------------------------------------------------------


SOURCED_TYPES = sorted(set(EXAMPLES) - {"ActorRegistered", "OfficeCreated"})


@pytest.mark.parametrize("type_", SOURCED_TYPES)
def test_an_event_without_sources_is_rejected(type_):
    error = rejection(changed(type_, sources=None))
    assert str(error) == "sources: at least one source is required"


@pytest.mark.parametrize("type_", SOURCED_TYPES)
def test_an_event_with_an_empty_source_list_is_rejected(type_):
    assert "at least one source" in str(rejection(changed(type_, sources=[])))


@pytest.mark.parametrize("type_", ["ActorRegistered", "OfficeCreated"])
def test_registrations_need_no_source(type_):
    assert decode_event(changed(type_, sources=None)).sources == []


@pytest.mark.parametrize(
    ("source", "field"),
    [
        ({"url": "ftp://example.org/a"}, "sources[0].url"),
        ({"url": "example.org/a"}, "sources[0].url"),
        ({"url": "https://example.org/a", "sha256": "abc"}, "sources[0].sha256"),
        ({"url": "https://example.org/a", "published_on": "2025-02-30"}, "sources[0].published_on"),
        ({"publisher": "Yonhap"}, "sources[0].url"),
    ],
)
def test_a_bad_source_is_rejected_naming_its_field(source, field):
    error = rejection(changed("CommitmentMade", sources=[source]))
    assert error.field == field


def test_a_source_digest_is_stored_in_lowercase():
    digest = "AB" * 32
    event = decode_event(
        changed("CommitmentMade", sources=[{"url": "https://example.org", "sha256": digest}])
    )
    assert event.sources[0].sha256 == "ab" * 32


# --- subjects ------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    [
        "commitment/KR-AI-GPUS",
        "commitment/kr_ai_gpus",
        "commitment/kr--ai",
        "commitment/-kr",
        "commitment/kr-",
        "commitment/",
        "commitment",
        "commitment/kr/ai",
        "pledge/kr-ai",
        "commitment/kr ai",
        "commitment/" + "a" * 101,
        "commitment/공약",
    ],
)
def test_a_bad_subject_is_rejected_naming_the_subject_field(subject):
    error = rejection(changed("CommitmentMade", subject=subject))
    assert error.field == "subject"


def test_a_slug_of_one_hundred_characters_is_accepted():
    subject = "commitment/" + "a" * 100
    assert decode_event(changed("CommitmentMade", subject=subject)).subject == subject


def test_a_reference_to_a_bad_subject_is_rejected_naming_the_field():
    raw = changed("AppropriationRecorded")
    raw["data"]["allocations"][0]["commitment"] = "commitment/Bad_Slug"
    assert rejection(raw).field == "data.allocations[0].commitment"


# --- valid time ----------------------------------------------------------------


@pytest.mark.parametrize(
    "occurred_at",
    [
        "2025-02-30",
        "2025-13-01",
        "2025-02-30T10:00:00+09:00",
        "2025-04-24T10:00:00",
        "2025-04-24T24:00:00+09:00",
        "2025/04/24",
        "24.04.2025",
        "20250424",
        "20250424T100000+0900",
        "2025-04-24T10:00:00+0900",
        "2025-04-24T10:00+09:00",
        "2025-04-24T10:00:00.1234567+09:00",
        "yesterday",
        "",
        20250424,
    ],
    ids=repr,
)
def test_a_bad_occurred_at_is_rejected_naming_the_field(occurred_at):
    error = rejection(changed("CommitmentMade", occurred_at=occurred_at))
    assert error.field == "occurred_at"


def test_an_impossible_date_names_the_date_in_the_message():
    error = rejection(changed("CommitmentMade", occurred_at="2025-02-30"))
    assert "2025-02-30" in str(error)


def test_a_date_time_without_offset_asks_for_one():
    error = rejection(changed("CommitmentMade", occurred_at="2025-04-24T10:00:00"))
    assert "offset" in str(error)


@pytest.mark.parametrize(
    ("occurred_at", "stored"),
    [
        ("2025-04-24", "2025-04-24"),
        ("2025-04-24T10:00:00+09:00", "2025-04-24T10:00:00+09:00"),
        ("2025-04-24T01:00:00Z", "2025-04-24T01:00:00+00:00"),
        ("2025-04-24t01:00:00z", "2025-04-24T01:00:00+00:00"),
        ("2025-04-24 10:00:00+09:00", "2025-04-24T10:00:00+09:00"),
        ("2025-04-24T10:00:00.250+09:00", "2025-04-24T10:00:00.250000+09:00"),
    ],
)
def test_a_valid_occurred_at_is_stored_in_one_form(occurred_at, stored):
    event = decode_event(changed("CommitmentMade", occurred_at=occurred_at))
    assert event.occurred_at == stored


# --- text normalisation ----------------------------------------------------------


def test_nfd_and_nfc_spellings_decode_to_the_same_event():
    nfc = actor("han-duck-soo", name="한덕수")
    nfd = actor("han-duck-soo", name=unicodedata.normalize("NFD", "한덕수"))
    assert nfd["data"]["name"] != nfc["data"]["name"]
    decoded_nfd, decoded_nfc = decode_event(nfd), decode_event(nfc)
    assert decoded_nfd.data.name == "한덕수"
    assert event_content(decoded_nfd) == event_content(decoded_nfc)
    assert derive_event_id(event_content(decoded_nfd)) == derive_event_id(
        event_content(decoded_nfc)
    )


def test_nfd_text_is_stored_as_nfc_with_the_same_derived_id(make_ledger, tmp_path):
    title = "인공지능 반도체 1만 장 확보"
    nfd_line = made("gpus", title=unicodedata.normalize("NFD", title))
    nfc_line = made("gpus", title=title)
    first = make_ledger(str(tmp_path / "nfd.db"))
    second = make_ledger(str(tmp_path / "nfc.db"))
    stored_nfd = first.import_lines(lines(actor("han"), nfd_line)).added[-1]
    stored_nfc = second.import_lines(lines(actor("han"), nfc_line)).added[-1]
    assert stored_nfd.id == stored_nfc.id
    assert stored_nfd.data["title"] == title
    assert first.history("commitment/gpus")[0].data["title"] == title
    assert second.import_lines(lines(nfd_line)).skipped == [stored_nfc.id]


def test_nfd_text_in_sources_and_units_is_normalised():
    unit = unicodedata.normalize("NFD", "대")
    raw = changed(
        "CommitmentMade",
        sources=[{"url": "https://example.org", "quote": unicodedata.normalize("NFD", "확보")}],
    )
    raw["data"]["targets"][0] = {"key": "gpus", "quantity": {"amount": "10", "unit": unit}}
    content = event_content(decode_event(raw))
    assert content["sources"][0]["quote"] == "확보"
    assert content["data"]["targets"][0]["quantity"]["unit"] == "대"


# --- references ------------------------------------------------------------------


def test_references_name_every_subject_the_data_refers_to():
    assert references(decode_event(EXAMPLES["AppropriationRecorded"])) == {
        "actor/national-assembly",
        "commitment/kr-ai-gpus",
    }
    assert references(decode_event(EXAMPLES["CommitmentSuperseded"])) == {
        "actor/lee",
        "commitment/kr-ai-50k",
    }
    assert references(decode_event(EXAMPLES["ActorRegistered"])) == {"actor/government-kr"}
    assert references(decode_event(EXAMPLES["ProgressReported"])) == {"actor/msit"}
    assert references(decode_event(office())) == set()


@pytest.mark.parametrize("source", ["example", "synthetic"])
def test_stored_events_built_without_validation_equal_validated_ones(make_ledger, tmp_path, source):
    """decode_stored (used for rows validated on write) builds exactly what validation builds."""
    import orjson

    from cli.commands_demo import example_lines
    from ledger.events import decode_stored
    from ledger.synthetic import synthetic_events

    ledger = make_ledger(str(tmp_path / "l.db"))
    if source == "example":
        ledger.import_lines(example_lines())
    else:
        ledger.import_lines([orjson.dumps(e) for e in synthetic_events(1500, seed=7)])
    for stored in ledger.events():
        raw = {
            "type": stored.type,
            "subject": stored.subject,
            "occurred_at": stored.occurred_at,
            "data": stored.data,
            "sources": stored.sources,
            "id": stored.id,
            "recorded_by": stored.recorded_by,
        }
        validated, built = decode_event(raw, stored=True), decode_stored(raw)
        assert built == validated
        assert built.model_dump(mode="json") == validated.model_dump(mode="json")
        assert type(built.data) is type(validated.data)


# --- the NFC fast path -------------------------------------------------------------

_COMBINING_TEXT = st.text(
    alphabet=st.sampled_from(list('ae"\\{}[]한\u1100\u1161\u11a8\u0301\u0300\u0323\u00e9e\u030a\u212b\u2126')),
    max_size=8,
)
_NESTED = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | _COMBINING_TEXT,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(_COMBINING_TEXT, children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=1000)
@given(_NESTED)
def test_the_json_text_check_agrees_with_the_walk(value):
    # The fast path may only say "already NFC" when the walk would change nothing.
    from ledger.events import _normalised, _plainly_normal

    if _plainly_normal(value):
        assert _normalised(value) == value
    else:
        walked = _normalised(value)
        assert walked != value or orjson.dumps(value).count(b"{") + orjson.dumps(value).count(b"[") > 32


def test_a_decomposed_title_is_stored_composed_and_a_deep_value_is_refused():
    pledge = made("x", title="Cafe\u0301 \u1100\u1161")
    event = decode_event(pledge)
    assert event.data.title == "Café 가"
    deep: dict = {"x": 1}
    for _ in range(40):
        deep = {"x": deep}
    with pytest.raises(InvalidEvent, match="nested more than 32 levels"):
        decode_event({**pledge, "data": {**pledge["data"], "summary": deep}})
