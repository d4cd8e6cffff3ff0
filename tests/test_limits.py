"""Limits: each one refused with a message that names it, and text stored in Unicode NFC.

The limits keep one event to a size a reader can check and a database can hold:
an input line of at most 1 MiB, quotes and summaries of at most 10,000
characters, at most 100 targets, allocations, sources, removed keys or names in
one event, slugs of at most 100 characters, amounts of at most 40 digits.
Just at a limit is accepted; one past it is refused, and nothing is written.
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import orjson
import pytest

from cli.commands_demo import example_lines
from ledger.decoding import MAX_LINE_BYTES
from ledger.errors import InvalidEvent
from ledger.events import MAX_DEPTH, MAX_ITEMS, MAX_SLUG, decode_event
from ledger.quantities import MAX_DIGITS, exact_arithmetic, format_total
from ledger.records import derive_event_id, event_content
from ledger.service import Ledger
from tests.builders import actor, ev, lines, made
from tests.test_cli import Cli

SOURCE = {"url": "https://example.org/source", "publisher": "Example Daily"}
KOREAN = "인공지능 반도체"  # "AI semiconductors"


def money_target(key: str) -> dict[str, Any]:
    return {"key": key, "quantity": {"amount": "1조 원", "unit": "KRW"}}


def pledge(**data: Any) -> dict[str, Any]:
    """CommitmentMade for commitment/chips by actor/han, with DATA replacing fields."""
    event = made("chips", targets=[money_target("budget")])
    event["data"].update(data)
    return event


def appropriation(allocations: int) -> dict[str, Any]:
    """A budget line of 1000조 원 with ALLOCATIONS allocations of 1억 원 to commitment/chips."""
    return ev(
        "AppropriationRecorded",
        "budget/kr-2026-chips",
        "2025-12-02",
        {
            "body": "actor/assembly",
            "fiscal_year": 2026,
            "phase": "approved",
            "instrument": "main",
            "quantity": {"amount": "1000조 원"},
            "allocations": [
                {
                    "commitment": "commitment/chips",
                    "target": "budget",
                    "quantity": {"amount": "1억 원"},
                }
            ]
            * allocations,
        },
    )


def quoted(quote: str) -> dict[str, Any]:
    return pledge() | {"sources": [SOURCE | {"quote": quote}]}


def refusal(event: dict[str, Any]) -> str:
    """The one-line message decoding EVENT is refused with."""
    with pytest.raises(InvalidEvent) as info:
        decode_event(event)
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.fixture
def chips(tmp_path: Path) -> Cli:
    """The command line on a ledger with actor/han, actor/assembly and commitment/chips."""
    cli = Cli(tmp_path / "ledger.db")
    cli.ok("init --tz Asia/Seoul")
    cli.import_events(actor("han"), actor("assembly", kind="legislature"), pledge())
    return cli


def import_refused(cli: Cli, payload: bytes) -> str:
    """`import -` refused with one line and the ledger left as it was; the message."""
    before = cli.events()
    message = cli.fails("import -", input=payload)
    assert cli.events() == before
    return message


# --- the four limits of the issue, end to end -----------------------------------------


def test_an_input_line_over_one_mebibyte_is_refused_naming_the_limit(chips: Cli) -> None:
    padded = orjson.dumps(actor("kim")) + b" " * MAX_LINE_BYTES
    message = import_refused(chips, padded + b"\n")
    assert message == (
        f"Error: line 1: the line is longer than the limit of 1 MiB ({len(padded) + 1:,} bytes)"
    )


def test_a_line_of_exactly_one_mebibyte_is_read(chips: Cli) -> None:
    event = orjson.dumps(actor("kim"))
    line = event + b" " * (MAX_LINE_BYTES - len(event))
    assert len(line) == MAX_LINE_BYTES
    assert "added 1 events" in chips.ok("import -", input=line).stdout


def test_a_quote_over_ten_thousand_characters_is_refused_naming_the_limit(chips: Cli) -> None:
    line = orjson.dumps(quoted("x" * 10_001) | {"subject": "commitment/long"})
    assert import_refused(chips, line) == (
        "Error: line 1: sources[0].quote: at most 10,000 characters (got 10,001)"
    )


def test_a_quote_of_ten_thousand_characters_is_kept(chips: Cli) -> None:
    chips.import_events(quoted("x" * 10_000) | {"subject": "commitment/long"})
    assert len(chips.json("history commitment/long")[0]["sources"][0]["quote"]) == 10_000


def test_more_than_one_hundred_targets_are_refused_naming_the_limit(chips: Cli) -> None:
    targets = [money_target(f"part-{i}") for i in range(MAX_ITEMS + 1)]
    line = orjson.dumps(pledge(targets=targets) | {"subject": "commitment/many"})
    assert import_refused(chips, line) == (
        "Error: line 1: data.targets: at most 100 targets (got 101)"
    )


def test_more_than_one_hundred_targets_from_flags_are_refused_naming_the_limit(
    chips: Cli,
) -> None:
    flags = " ".join(f"--target 'part-{i}=1억 원'" for i in range(MAX_ITEMS + 1))
    before = chips.events()
    message = chips.fails(
        "pledge commitment/many --by actor/han --capacity government --title Many "
        f"{flags} --on 2025-05-01 --source https://example.org/x"
    )
    assert message == "Error: data.targets: at most 100 targets (got 101)"
    assert chips.events() == before


def test_more_than_one_hundred_allocations_are_refused_naming_the_limit(chips: Cli) -> None:
    assert import_refused(chips, orjson.dumps(appropriation(MAX_ITEMS + 1))) == (
        "Error: line 1: data.allocations: at most 100 allocations (got 101)"
    )


def test_more_than_one_hundred_allocations_from_flags_are_refused_naming_the_limit(
    chips: Cli,
) -> None:
    flags = " ".join(["--allocate 'chips:budget=1억 원'"] * (MAX_ITEMS + 1))
    before = chips.events()
    message = chips.fails(
        "appropriate budget/kr-2026 --body actor/assembly --fiscal-year 2026 --phase approved "
        f"--instrument main --total '1000조 원' {flags} --on 2025-12-02 "
        "--source https://example.org/x"
    )
    assert message == "Error: data.allocations: at most 100 allocations (got 101)"
    assert chips.events() == before


def test_an_amount_with_too_many_digits_across_the_point_is_refused_naming_it(
    chips: Cli,
) -> None:
    # Each side of the point is within the limit, so the stored-form reader
    # took it; it used to fail only when dumped, as an internal error.
    digits = "1" * 30 + "." + "1" * (MAX_DIGITS - 29)
    line = orjson.dumps(amount(digits) | {"subject": "commitment/precise"})
    assert import_refused(chips, line) == (
        "Error: line 1: data.targets[0].quantity: cannot read amount "
        f"'{digits}': more than 40 significant digits"
    )


@pytest.mark.parametrize(
    ("line", "key"),
    [
        (
            b'{"type":"ActorRegistered","subject":"actor/kim","occurred_at":"2020-01-01",'
            b'"data":{"name":"Kim","name":"Lee","kind":"person"}}',
            "name",
        ),
        (
            b'{"type":"ActorRegistered","subject":"actor/kim","subject":"actor/lee",'
            b'"occurred_at":"2020-01-01","data":{"name":"Kim","kind":"person"}}',
            "subject",
        ),
    ],
    ids=["in data", "in the envelope"],
)
def test_a_key_given_twice_in_one_object_is_refused_naming_it(chips: Cli, line, key) -> None:
    # A JSON reader keeps the last of the two, silently.
    assert import_refused(chips, line) == (
        f"Error: line 1: the key '{key}' appears twice in one object"
    )


def test_a_value_holding_quote_colon_is_not_taken_for_a_repeated_key(chips: Cli) -> None:
    name = 'He said "yes": then "no":'
    chips.import_events(actor("kim") | {"data": {"name": name, "kind": "person"}})
    assert chips.json("history actor/kim")[0]["data"]["name"] == name


def test_an_integer_amount_beyond_64_bits_is_read_exactly(chips: Cli) -> None:
    # The JSON reader turns integers beyond 64 bits into floats; such a line
    # used to be refused as "floats are not accepted", naming a float.
    event = amount("1") | {"subject": "commitment/exact"}
    line = orjson.dumps(event).replace(b'"amount":"1"', b'"amount":18446744073709551616')
    chips.ok("import -", input=line)
    stored = chips.json("history commitment/exact")[0]["data"]["targets"][0]["quantity"]
    assert stored["amount"] == "18446744073709551616"


def test_an_integer_amount_below_minus_2_to_the_63_is_read_exactly(chips: Cli) -> None:
    event = amount("1") | {"subject": "commitment/exact"}
    line = orjson.dumps(event).replace(b'"amount":"1"', b'"amount":-9223372036854775809')
    message = import_refused(chips, line)  # a negative target: refused for what it is
    assert "-9223372036854775809" in message and "float" not in message


def test_a_deeply_nested_line_with_a_long_number_is_refused_in_one_line(chips: Cli) -> None:
    line = b'{"a": 12345678901234567890, "b": ' + b"[" * 1020 + b"]" * 1020 + b"}"
    message = import_refused(chips, line)
    assert message.startswith("Error: line 1: ") and "internal error" not in message


def test_an_integer_amount_of_too_many_digits_is_refused_for_its_digits(chips: Cli) -> None:
    digits = "1" * (MAX_DIGITS + 5)
    event = amount("1") | {"subject": "commitment/exact"}
    line = orjson.dumps(event).replace(b'"amount":"1"', b'"amount":' + digits.encode())
    assert import_refused(chips, line) == (
        f"Error: line 1: data.targets[0].quantity: cannot read amount '{digits}': "
        "more than 40 significant digits"
    )


def test_one_hundred_targets_and_one_hundred_allocations_are_accepted(chips: Cli) -> None:
    targets = [money_target(f"part-{i}") for i in range(MAX_ITEMS)]
    chips.import_events(pledge(targets=targets) | {"subject": "commitment/many"})
    chips.import_events(appropriation(MAX_ITEMS))
    assert len(chips.json("show commitment/many")["targets"]) == MAX_ITEMS
    assert chips.json("show commitment/chips")["targets"]["budget"]["funded"]["approved"] == (
        "10000000000"  # 100 allocations of 1억 원
    )


# --- every other limit, at the decoder -------------------------------------------------


def with_sources(count: int) -> dict[str, Any]:
    return pledge() | {"sources": [SOURCE] * count}


def revision(removed: int) -> dict[str, Any]:
    data = {
        "by": "actor/han",
        "capacity": "government",
        "removed": [f"k-{i}" for i in range(removed)],
    }
    return ev("CommitmentRevised", "commitment/chips", "2025-05-01", data)


def names(count: int) -> dict[str, Any]:
    event = actor("kim")
    event["data"]["names"] = {f"ko-x{i}": "Kim" for i in range(count)}
    return event


def nested(depth: int) -> dict[str, Any]:
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return actor("kim") | {"data": {"name": "Kim", "kind": "person", "names": value}}


def amount(digits: str) -> dict[str, Any]:
    return pledge(targets=[{"key": "budget", "quantity": {"amount": digits, "unit": "KRW"}}])


LIMITS = [
    # (what, the event one past the limit, the message, the event at the limit)
    (
        "title",
        pledge(title="x" * 501),
        "data.title: at most 500 characters (got 501)",
        pledge(title="x" * 500),
    ),
    (
        "summary",
        pledge(summary="x" * 10_001),
        "data.summary: at most 10,000 characters (got 10,001)",
        pledge(summary="x" * 10_000),
    ),
    (
        "subject slug",
        pledge() | {"subject": "commitment/" + "a" * (MAX_SLUG + 1)},
        "subject: the slug of 'commitment/aaaa",  # then: is longer than the limit of 100 ...
        pledge() | {"subject": "commitment/" + "a" * MAX_SLUG},
    ),
    (
        "target key",
        pledge(targets=[money_target("k" * (MAX_SLUG + 1))]),
        "data.targets[0].key: a slug is limited to 100 characters (got 101: ",
        pledge(targets=[money_target("k" * MAX_SLUG)]),
    ),
    (
        "amount digits",
        amount("9" * (MAX_DIGITS + 1)),
        "data.targets[0].quantity: cannot read amount '9999",  # ...: more than 40 significant digits
        amount("9" * MAX_DIGITS),
    ),
    (
        # stored form ("digits.digits"), each side within bounds, together past them
        "amount digits across the point",
        amount("1" * 30 + "." + "1" * (MAX_DIGITS - 29)),
        "more than 40 significant digits",
        amount("1" * 30 + "." + "1" * (MAX_DIGITS - 30)),
    ),
    (
        "amount fraction digits",
        amount("0." + "0" * MAX_DIGITS + "1"),
        "more than 40 digits after the decimal point",
        amount("0." + "0" * (MAX_DIGITS - 2) + "1"),
    ),
    (
        "sources",
        with_sources(MAX_ITEMS + 1),
        "sources: at most 100 sources (got 101)",
        with_sources(MAX_ITEMS),
    ),
    (
        "areas",
        pledge(areas=[f"area-{i}" for i in range(21)]),
        "data.areas: at most 20 areas (got 21)",
        pledge(areas=[f"area-{i}" for i in range(20)]),
    ),
    (
        "removed keys",
        revision(MAX_ITEMS + 1),
        "data.removed: at most 100 removed keys (got 101)",
        revision(MAX_ITEMS),
    ),
    (
        "names",
        names(MAX_ITEMS + 1),
        "data.names: at most 100 names (got 101)",
        names(MAX_ITEMS),
    ),
    (
        "unit",
        pledge(targets=[{"key": "k", "quantity": {"amount": "1", "unit": "u" * 41}}]),
        "data.targets[0].quantity: bad unit 'uuuu",  # then: longer than 40 characters
        pledge(targets=[{"key": "k", "quantity": {"amount": "1", "unit": "u" * 40}}]),
    ),
    (
        "amount text",
        amount("1" + " " * 200 + "원"),
        "longer than 200 characters",
        amount("1" + " " * 197 + "원"),
    ),
    (
        "url",
        pledge() | {"sources": [{"url": "https://example.org/" + "a" * 1981}]},
        "sources[0].url: at most 2,000 characters (got 2,001)",
        pledge() | {"sources": [{"url": "https://example.org/" + "a" * 1980}]},
    ),
    (
        "fiscal year",
        appropriation(1) | {"data": appropriation(1)["data"] | {"fiscal_year": 2201}},
        "data.fiscal_year: at most 2200 (got 2201)",
        appropriation(1) | {"data": appropriation(1)["data"] | {"fiscal_year": 2200}},
    ),
    (
        "nesting",
        nested(MAX_DEPTH),
        "nested more than 32 levels deep (the limit)",
        None,
    ),
    (
        "dates",
        pledge() | {"occurred_at": "9999-01-01"},
        "occurred_at: '9999-01-01' is out of range: dates run from 1000-01-01 to 9998-12-31",
        pledge() | {"occurred_at": "9998-12-31"},
    ),
    (
        "recorder",
        pledge() | {"recorded_by": "x" * 501},
        "recorded_by: at most 500 characters (got 501)",
        pledge() | {"recorded_by": "x" * 500},
    ),
]


@pytest.mark.parametrize(
    ("past", "message", "at"), [case[1:] for case in LIMITS], ids=[case[0] for case in LIMITS]
)
def test_each_limit_is_refused_naming_it_and_accepted_at_the_limit(
    past: dict[str, Any], message: str, at: dict[str, Any] | None
) -> None:
    assert message in refusal(past)
    if at is not None:
        decode_event(at)


def test_the_slug_limit_message_says_how_long_the_slug_was() -> None:
    message = refusal(pledge() | {"subject": "commitment/" + "a" * 150})
    assert "is longer than the limit of 100 characters (got 150)" in message
    assert len(message) < 200  # the subject is shown shortened, not in full


def test_a_limit_counts_characters_after_nfc_normalisation() -> None:
    # 6,000 syllables typed decomposed are 12,000+ code points, but 6,000 characters stored.
    quote = unicodedata.normalize("NFD", "반도체" * 2_000)
    assert len(quote) > 10_000
    event = decode_event(quoted(quote))
    assert event.sources[0].quote == "반도체" * 2_000


# --- dates at the limits ----------------------------------------------------------------


def test_events_on_the_earliest_dates_keep_their_order(ledger: Ledger) -> None:
    # 1000-01-01 in Seoul is 0999-12-31 in UTC, the zone of the ordering keys.
    ledger.import_lines(lines(actor("han", on="1000-01-01")))
    progress = ev(
        "ProgressReported",
        "commitment/old",
        "1000-01-02",
        {"target": "gpus", "achieved": {"amount": "5", "unit": "GPU"}},
    )
    result = ledger.import_lines(lines(made("old", on="1000-01-01"), progress))
    assert len(result.added) == 2


def test_a_horizon_past_any_date_is_refused_as_wrong_usage(tmp_path: Path) -> None:
    korea = Cli(tmp_path / "korea.db")
    korea.ok("init --tz Asia/Seoul")
    korea.ok("import -", input=b"\n".join(example_lines()))
    result = korea.run("continuity --horizon 3000000")
    assert result.exit_code == 2, (result.output, result.exception)


# --- amounts at the 40-digit limit, summed -------------------------------------------
#
# Each stored amount has at most 40 digits, but sums of them (a line's
# allocations, a target's funding across lines) may pass 40 digits, and Python's
# default Decimal context keeps only 28, rounding quietly. Sums are made under
# `exact_arithmetic` and shown with `format_total`, so they stay exact.

FORTY_NINES = "9" * MAX_DIGITS


def line_of(slug: str, total: str, *amounts: str, to: str = "chips") -> dict[str, Any]:
    """An approved budget line with allocations to commitment/TO's budget target."""
    event = appropriation(0)
    event["subject"] = f"budget/{slug}"
    event["data"]["quantity"] = {"amount": total, "unit": "KRW"}
    event["data"]["allocations"] = [
        {
            "commitment": f"commitment/{to}",
            "target": "budget",
            "quantity": {"amount": a, "unit": "KRW"},
        }
        for a in amounts
    ]
    return event


def test_allocations_one_won_over_a_forty_digit_line_are_refused(chips: Cli) -> None:
    line = "1" + "0" * (MAX_DIGITS - 1)
    message = import_refused(chips, orjson.dumps(line_of("over", line, line, "1")))
    assert "allocations add up to" in message


def test_funding_past_forty_digits_across_budget_lines_is_shown_exactly(chips: Cli) -> None:
    target = {"key": "budget", "quantity": {"amount": FORTY_NINES, "unit": "KRW"}}
    chips.import_events(
        pledge(targets=[target]) | {"subject": "commitment/big"},
        line_of("one", FORTY_NINES, FORTY_NINES, to="big"),
        line_of("two", FORTY_NINES, FORTY_NINES, to="big"),
    )
    funded = chips.json("show commitment/big")["targets"]["budget"]["funded"]["approved"]
    assert funded == str(2 * int(FORTY_NINES))


def test_a_revision_from_the_smallest_amount_to_the_largest_is_listed_exactly(
    chips: Cli,
) -> None:
    tiny = "0." + "0" * (MAX_DIGITS - 1) + "1"
    chips.import_events(
        pledge(targets=[{"key": "budget", "quantity": {"amount": tiny, "unit": "KRW"}}])
        | {"subject": "commitment/grown"},
        ev(
            "CommitmentRevised",
            "commitment/grown",
            "2025-05-01",
            {
                "by": "actor/han",
                "capacity": "government",
                "targets": [{"key": "budget", "quantity": {"amount": FORTY_NINES, "unit": "KRW"}}],
            },
        ),
    )
    [revision] = chips.json("revisions")
    assert revision["absolute"] == f"{int(FORTY_NINES) - 1}.{'9' * MAX_DIGITS}"


def test_exact_arithmetic_adds_amounts_at_the_limit_without_rounding() -> None:
    big, small = Decimal(FORTY_NINES), Decimal("0." + "0" * (MAX_DIGITS - 1) + "1")

    @exact_arithmetic
    def add(*amounts: Decimal) -> Decimal:
        return sum(amounts, Decimal(0))

    assert big + 1 == big + 2  # the default context rounds to 28 digits
    assert add(big, big, small) == Decimal(f"{2 * int(FORTY_NINES)}.{'0' * 39}1")
    assert format_total(add(big, big)) == str(2 * int(FORTY_NINES))  # 41 digits


# --- NFC: two spellings of the same Korean text are one event --------------------------


def spelled(form: Literal["NFC", "NFD"]) -> dict[str, Any]:
    """The same pledge with its Korean text in normal form FORM."""
    text = unicodedata.normalize(form, KOREAN)
    event = pledge(title=f"{text} 육성", summary=f"{text}에 1조 원")
    event["sources"] = [SOURCE | {"quote": f"{text}에 1조 원", "publisher": text}]
    return event


def test_the_korean_text_really_is_spelled_two_ways() -> None:
    nfc, nfd = orjson.dumps(spelled("NFC")), orjson.dumps(spelled("NFD"))
    assert nfc != nfd
    assert len(nfd.decode()) > len(nfc.decode())


def test_two_spellings_of_the_same_korean_text_derive_the_same_id() -> None:
    ids = {derive_event_id(event_content(decode_event(spelled(form)))) for form in ("NFC", "NFD")}
    assert len(ids) == 1


def test_two_spellings_of_the_same_korean_text_are_one_event(
    ledger: Ledger, tmp_path: Path
) -> None:
    ledger.import_lines(lines(actor("han"), actor("assembly", kind="legislature")))
    first = ledger.import_lines(lines(spelled("NFC")))
    second = ledger.import_lines(lines(spelled("NFD")))
    assert len(first.added) == 1
    assert second.added == [] and second.skipped == [first.added[0].id]
    stored = ledger.history("commitment/chips")
    assert len(stored) == 1
    assert stored[0].data["title"] == f"{KOREAN} 육성"
    assert unicodedata.is_normalized("NFC", orjson.dumps(stored[0].to_json()).decode())


def test_decomposed_text_is_stored_composed_whichever_comes_first(ledger: Ledger) -> None:
    ledger.import_lines(lines(actor("han"), actor("assembly", kind="legislature")))
    result = ledger.import_lines(lines(spelled("NFD"), spelled("NFC")))
    assert len(result.added) == 1 and len(result.skipped) == 1
    stored = result.added[0]
    assert stored.data["summary"] == f"{KOREAN}에 1조 원"
    assert stored.sources[0]["publisher"] == KOREAN
    assert stored.id == derive_event_id(event_content(decode_event(spelled("NFC"))))


def test_a_recording_command_typed_decomposed_gives_the_imported_event(chips: Cli) -> None:
    nfd = unicodedata.normalize("NFD", KOREAN)
    chips.ok(f"register-actor actor/kim --name '{nfd}' --kind person --on 2020-01-01")
    before = chips.events()
    typed = actor("kim", KOREAN) | {"sources": []}
    result = chips.ok("import -", input=orjson.dumps(typed) + b"\n")
    assert "skipped 1" in result.stdout
    assert chips.events() == before


@pytest.mark.parametrize(
    "text", ["\u200b", "\ufeff\u200b", "\u200e\u200f", "\u2060 \u00ad"], ids=repr
)
def test_a_text_of_only_invisible_marks_is_refused(text: str) -> None:
    # It would pass as a title or a statement, and say nothing.
    assert refusal(pledge(title=text)) == (
        "data.title: has no visible character (only spaces or invisible marks)"
    )


def test_a_text_with_a_joiner_inside_visible_characters_is_kept() -> None:
    event = decode_event(pledge(title="AI\u200dLab \u00adplan"))
    assert event.data.title == "AI\u200dLab \u00adplan"  # type: ignore[union-attr]


def test_two_keys_equal_once_normalised_are_refused() -> None:
    # U+212A KELVIN SIGN is K once normalised to NFC: the second would replace the first.
    names = {"Ko-KR": "A", "\u212ao-KR": "B"}
    event = actor("kim") | {"data": {"name": "Kim", "kind": "person", "names": names}}
    assert refusal(event) == "the key 'Ko-KR' appears twice in one object (once normalised to NFC)"
