"""The published report: a static site of the example ledger, checked as HTML, for what it
shows, for what it must never do (load anything from elsewhere, run injected script), and
against the export document it is made from."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import html5lib
import pytest
from click.testing import CliRunner

from cli.app import cli
from cli.commands_demo import example_lines
from ledger.checkpoint import Checkpoint, generate_key, parse_signer, sign_checkpoint
from ledger.export import export_document
from ledger.merkle import root_of
from ledger.report import render_report
from ledger.report.amounts import amount_text, human_amount, percent
from ledger.report.pages import progress_share
from ledger.report.site import MANIFEST
from ledger.service import Ledger
from tests.builders import actor, ev, lines, made, office

HOSTILE = "<script>alert(1)</script>"
HOSTILE_NAME = '"><img src=x onerror=alert(2)>'
COMMITMENTS = (
    "kr-ai-100-trillion-investment",
    "kr-ai-budget-2025",
    "kr-ai-elite-team",
    "kr-ai-for-all",
    "kr-ai-gpus-10000",
    "kr-ai-innovation-fund",
    "kr-ai-talent-3300",
    "kr-ai-world-best-llm",
)
# Tags whose src/href the browser loads by itself when the page is shown.
LOADING_TAGS = {
    "script",
    "link",
    "img",
    "iframe",
    "source",
    "video",
    "audio",
    "embed",
    "object",
    "image",
    "use",
    "track",
    "input",
    "frame",
}


# --- helpers -----------------------------------------------------------------------


def parse(path: Path) -> Element:
    """The page's tree; html5lib in strict mode raises on the first parse error."""
    parser = html5lib.HTMLParser(
        strict=True, tree=html5lib.getTreeBuilder("etree"), namespaceHTMLElements=False
    )
    return parser.parse(path.read_bytes(), transport_encoding="utf-8")


def tag(element: Element) -> str:
    """The local name: SVG elements keep their namespace in the tree."""
    return element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""


def text(element: Element) -> str:
    return " ".join("".join(element.itertext()).split())


def pages(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.html"))


def figures(index: Path) -> dict[str, str]:
    """The headline figures: each <dt> of the figures list and its <dd>."""
    tree = parse(index)
    found = {}
    for block in tree.iter("dl"):
        if block.get("class") == "figures":
            for item in block:
                dt, dd = item.find("dt"), item.find("dd")
                assert dt is not None and dd is not None
                found[text(dt)] = text(dd)
    return found


@pytest.fixture
def example(ledger: Ledger) -> Ledger:
    ledger.import_lines(example_lines())
    return ledger


@pytest.fixture
def site(example: Ledger, tmp_path: Path) -> Path:
    folder = tmp_path / "site"
    render_report(example.events(), example.view(), folder)
    return folder


def hostile_lines() -> list[bytes]:
    """A small ledger whose every text field a page prints holds markup."""
    archived = {
        "url": "https://example.org/a?q=\"'<b>",
        "publisher": HOSTILE,
        "title": HOSTILE,
        "quote": HOSTILE,
        "archive_url": "https://archive.example.org/x",
        "sha256": "ab" * 32,
    }
    pledge = made(
        "hostile",
        by="actor/han",
        title=HOSTILE,
        summary=HOSTILE,
        on="2024-01-02",
        targets=[
            {
                "key": "budget",
                "description": HOSTILE,
                "quantity": {"amount": "1.8조", "unit": "KRW"},
                "due": "2024-12-31",
            }
        ],
    )
    pledge["sources"] = [archived]
    return lines(
        actor("han", name=HOSTILE_NAME),
        actor("watch", name="Watchdog", kind="organization"),
        actor("assembly", name="Assembly", kind="legislature"),
        office("president", on="2020-01-01"),
        ev(
            "TenureBegan",
            "office/president",
            "2020-05-10",
            {"holder": "actor/han", "role": "acting"},
        ),
        pledge,
        ev(
            "CommitmentRevised",
            "commitment/hostile",
            "2024-02-01",
            {
                "by": "actor/han",
                "capacity": "head-of-government",
                "reason": HOSTILE,
                "targets": [{"key": "budget", "quantity": {"amount": "2조", "unit": "KRW"}}],
            },
        ),
        ev(
            "AssessmentRecorded",
            "commitment/hostile",
            "2024-03-01",
            {
                "assessor": "actor/watch",
                "rubric": "politifact",
                "rating": "stalled",
                "rationale": HOSTILE,
            },
        ),
        ev(
            "AppropriationRecorded",
            "budget/line",
            "2024-04-01",
            {
                "body": "actor/assembly",
                "fiscal_year": 2024,
                "phase": "approved",
                "instrument": "main",
                "quantity": {"amount": "3조", "unit": "KRW"},
                "allocations": [
                    {
                        "commitment": "commitment/hostile",
                        "target": "budget",
                        "quantity": {"amount": "5000억", "unit": "KRW"},
                    }
                ],
            },
        ),
        ev(
            "CommitmentWithdrawn",
            "commitment/hostile",
            "2024-05-01",
            {"by": "actor/han", "capacity": "head-of-government", "reason": HOSTILE},
        ),
    )


# --- the example ledger's report ---------------------------------------------------------


def test_report_writes_a_page_per_commitment_actor_administration_and_tenure(site: Path) -> None:
    assert (site / "index.html").is_file()
    assert (site / "sources.html").is_file()
    assert (site / "checkpoint.html").is_file()
    assert sorted(p.stem for p in (site / "commitments").glob("*.html")) == list(COMMITMENTS)
    assert len(list((site / "actors").glob("*.html"))) == 10
    assert sorted(p.stem for p in (site / "administrations").glob("*.html")) == [
        "lee-jae-myung",
        "yoon-suk-yeol",
    ]
    assert len(list((site / "tenures").glob("president-of-korea-*.html"))) == 5


def test_every_page_parses_as_html_without_a_single_error(site: Path) -> None:
    checked = 0
    for page in pages(site):
        parse(page)  # raises html5lib's ParseError, naming the problem
        checked += 1
    assert checked == 28


def test_every_page_declares_its_language_has_one_h1_and_headings_in_order(site: Path) -> None:
    for page in pages(site):
        tree = parse(page)
        assert tree.get("lang") == "en", page
        levels = [int(tag(e)[1]) for e in tree.iter() if re.fullmatch(r"h[1-6]", tag(e))]
        assert levels[0] == 1 and levels.count(1) == 1, page
        jumps = [(a, b) for a, b in pairwise(levels) if b > a + 1]
        assert jumps == [], f"{page}: heading levels skip {jumps}"
        assert tree.find(".//meta[@name='viewport']") is not None, page


def test_every_table_has_a_caption_and_every_chart_a_title_and_caption(site: Path) -> None:
    charts = 0
    for page in pages(site):
        tree = parse(page)
        for table in tree.iter("table"):
            assert table.find("caption") is not None and text(table.find("caption")), page
        for svg in (e for e in tree.iter() if tag(e) == "svg"):
            assert svg.get("role") == "img", page
            first = next(iter(svg), None)
            assert first is not None and tag(first) == "title" and text(first), page
            charts += 1
        for figure in tree.iter("figure"):
            assert figure.find("figcaption") is not None, page
    assert charts > 20


def test_index_shows_the_headline_figures(site: Path) -> None:
    shown = figures(site / "index.html")
    assert shown["Commitments"] == "8"
    assert shown["Delivered"] == "2"
    assert shown["In-progress"] == "3"
    assert shown["Pledged"] == "3"
    assert shown["Continuity rate, 2025-06-04"] == "66.67%"
    assert shown["Events in the log"] == "48"
    page = text(parse(site / "index.html"))
    assert "Policy commitments: what was promised, and what became of it" in page
    assert "Continuity rate 66.67% (0.6667)" in page
    assert "100조 원 (100000000000000 KRW)" in page
    assert "5.6조 원 (5600000000000 KRW)" in page
    assert "Lee Jae-myung administration" in page and "Yoon Suk Yeol administration" in page


def test_index_figures_are_those_of_the_export_document(example: Ledger, site: Path) -> None:
    document = export_document(example.events(), example.view())
    shown = figures(site / "index.html")
    statuses: dict[str, int] = {}
    for commitment in document["commitments"].values():
        statuses[commitment["status"]] = statuses.get(commitment["status"], 0) + 1
    for status, count in statuses.items():
        assert shown[status.capitalize()] == str(count)
    assert shown["Events in the log"] == str(document["ledger"]["size"])
    index = text(parse(site / "index.html"))
    assert document["ledger"]["root"] in index
    transition = document["continuity"]["office/president-of-korea"]["transitions"][0]
    assert f"({transition['continuity_rate']})" in index


def test_commitment_page_shows_timeline_progress_sources_and_hashes(site: Path) -> None:
    page = site / "commitments" / "kr-ai-gpus-10000.html"
    tree = parse(page)
    assert text(tree.find(".//h1")) == "Secure 10,000 high-performance GPUs within the year"
    assert text(tree.find(".//title")).startswith("Secure 10,000 high-performance GPUs")
    svgs = [e for e in tree.iter() if tag(e) == "svg"]
    timeline = [s for s in svgs if "chart-timeline" in (s.get("class") or "")]
    assert len(timeline) == 1
    assert text(next(iter(timeline[0]))) == (
        "Timeline of 4 events on “Secure 10,000 high-performance GPUs within the year”"
    )
    body = text(tree)
    assert "13,000 GPU" in body and "130%" in body
    assert "due 2025-12-31" in body
    assert "Lee Jae-myung administration begins" in body
    links = [a.get("href") or "" for a in tree.iter() if tag(a) == "a"]  # SVG links too
    assert "http://www.krnews21.co.kr/article/344785?mcode=m43mass243" in links
    assert any(h.startswith("#event-") for h in links)  # timeline marks link to the list
    assert "과학기술정보통신부" in body  # a Korean quote, kept as written
    quotes = [q for q in tree.iter("blockquote") if "과학기술정보통신부" in text(q)]
    assert quotes and all(q.get("lang") == "ko" for q in quotes)
    assert "leaf hash" in body


def test_commitment_page_shows_funding_by_phase(site: Path) -> None:
    body = text(parse(site / "commitments" / "kr-ai-budget-2025.html"))
    assert "Funding by phase" in body
    assert "≈1.91조 원 (1906700000000 KRW)" in body
    assert "1.8조 원 (1800000000000 KRW)" in body


def test_administration_tenure_actor_and_sources_pages_say_what_they_are(site: Path) -> None:
    administration = text(parse(site / "administrations" / "lee-jae-myung.html"))
    assert "Campaign pledges carried into office" in administration
    assert "Open an era of 100 trillion won of AI investment" in administration
    tenure = text(parse(site / "tenures" / "president-of-korea-2.html"))
    assert "Han Duck-soo, acting President of the Republic of Korea" in tenure
    assert "impeached by the National Assembly as acting president" in tenure
    actor = parse(site / "actors" / "han-duck-soo.html")
    assert [e.get("lang") for e in actor.iter("dd") if text(e) == "한덕수"] == ["ko"]
    assert "pledged" in text(actor)
    sources = text(parse(site / "sources.html"))
    assert re.search(r"\d+ documents cited by \d+ events", sources)


def test_checkpoint_page_says_how_to_verify(site: Path, example: Ledger) -> None:
    body = text(parse(site / "checkpoint.html"))
    root = export_document(example.events(), example.view())["ledger"]["root"]
    assert root in body and "48 events" in body
    assert "policy-ledger --db mirror.db verify" in body
    last = list(example.events())[-1].id
    assert f"policy-ledger --db mirror.db prove inclusion {last} --size 48" in body


def test_pages_load_nothing_from_outside_the_folder(site: Path) -> None:
    for page in pages(site):
        tree = parse(page)
        for element in tree.iter():
            if tag(element) in LOADING_TAGS:
                for name in ("src", "href", "srcset", "data", "poster", "xlink:href"):
                    value = element.get(name)
                    assert value is None, f"{page}: <{tag(element)} {name}={value!r}>"
        for style in tree.iter("style"):
            assert "url(" not in (style.text or "") and "@import" not in (style.text or "")
        for element in tree.iter():
            assert element.get("style") is None, f"{page}: inline style on <{tag(element)}>"
        assert not re.search(r"""(src|srcset)\s*=\s*["']?(https?:)?//""", page.read_text("utf-8"))


def test_every_link_inside_the_report_leads_to_a_page_and_anchor_that_exist(site: Path) -> None:
    ids = {page: {e.get("id") for e in parse(page).iter() if e.get("id")} for page in pages(site)}
    for page in pages(site):
        for link in (e for e in parse(page).iter() if tag(e) == "a"):
            href = link.get("href") or ""
            if href.startswith(("http://", "https://")):
                continue  # a cited article: followed by the reader, never loaded by the page
            assert not href.startswith(("/", "file:")) and "://" not in href, f"{page}: {href}"
            path, _, fragment = href.partition("#")
            target = (page.parent / path).resolve() if path else page
            assert target in ids, f"{page}: {href} leads nowhere"
            assert not fragment or fragment in ids[target], f"{page}: no #{fragment} in {target}"


def test_report_is_the_same_bytes_for_the_same_events_and_view(
    example: Ledger, tmp_path: Path
) -> None:
    view = example.view(as_of="2026-01-01")
    render_report(example.events(), view, tmp_path / "a")
    render_report(example.events(), view, tmp_path / "b")
    for page in pages(tmp_path / "a"):
        twin = tmp_path / "b" / page.relative_to(tmp_path / "a")
        assert page.read_bytes() == twin.read_bytes(), page


# --- hostile input ----------------------------------------------------------------------


def test_markup_in_event_text_is_escaped_everywhere(ledger: Ledger, tmp_path: Path) -> None:
    ledger.import_lines(hostile_lines())
    render_report(ledger.events(), ledger.view(), tmp_path)
    commitment = tmp_path / "commitments" / "hostile.html"
    assert commitment.is_file()
    for page in pages(tmp_path):
        html = page.read_text("utf-8")
        assert HOSTILE not in html, page
        assert "<img" not in html, page
        tree = parse(page)
        assert [tag(e) for e in tree.iter() if tag(e) in ("script", "img")] == ["script"], page
    html = commitment.read_text("utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert text(parse(commitment).find(".//h1")) == HOSTILE
    svg_titles = [text(e) for e in parse(commitment).iter() if tag(e) == "title"]
    assert any(HOSTILE in t for t in svg_titles)  # escaped inside SVG too, and still readable


def test_hostile_ledger_pages_still_parse_and_show_assessment_archive_and_withdrawal(
    ledger: Ledger, tmp_path: Path
) -> None:
    ledger.import_lines(hostile_lines())
    render_report(ledger.events(), ledger.view(), tmp_path)
    for page in pages(tmp_path):
        parse(page)
    body = text(parse(tmp_path / "commitments" / "hostile.html"))
    assert "withdrawn" in body
    assert "stalled" in body and "politifact" in body
    assert "ab" * 32 in body
    assert "5,000억 원 (500000000000 KRW)" in body


# --- the clocks, stale pages, the checkpoint ----------------------------------------------


def test_a_report_before_any_pledge_is_empty_and_replaces_the_stale_pages(
    example: Ledger, tmp_path: Path
) -> None:
    render_report(example.events(), example.view(), tmp_path)
    (tmp_path / "notes.html").write_text("mine", "utf-8")
    render_report(example.events(), example.view(as_of="2025-01-01"), tmp_path)
    assert list((tmp_path / "commitments").glob("*.html")) == []
    assert (tmp_path / "notes.html").read_text("utf-8") == "mine"  # not ours: left alone
    assert "commitments/kr-ai-gpus-10000.html" not in (tmp_path / MANIFEST).read_text("utf-8")
    index = text(parse(tmp_path / "index.html"))
    assert "The ledger holds no commitment in this view." in index
    assert "The world as of 2025-01-01" in index
    assert figures(tmp_path / "index.html")["Commitments"] == "0"


def test_known_at_report_shows_the_root_the_export_had_then(ledger: Ledger, tmp_path: Path) -> None:
    ledger.import_lines(example_lines()[:20])
    ledger.import_lines(example_lines()[20:])  # recorded a second later
    events = list(ledger.events())
    view = ledger.view(known_at=events[19].recorded_at)
    render_report(events, view, tmp_path)
    document = export_document(events, view)
    assert document["ledger"]["size"] == 20
    index = text(parse(tmp_path / "index.html"))
    assert document["ledger"]["root"] in index
    assert f"from {document['ledger']['size']} sourced events" in index


def _checkpoint(events: list[Any], size: int, corrupt: bool = False) -> str:
    _, root = root_of(e.leaf_hash for e in events[:size])
    digest = bytes.fromhex(root)
    if corrupt:
        digest = bytes([digest[0] ^ 1]) + digest[1:]
    private, _ = generate_key("watchdog.example/kr-ai")
    return sign_checkpoint(
        Checkpoint("watchdog.example/kr-ai", size, digest), parse_signer(private)
    )


@pytest.mark.parametrize(
    ("size", "corrupt", "verdict"),
    [
        (40, False, "The checkpoint's root is the root of this ledger's first 40 events."),
        (48, True, "is not the root of this ledger's first 48 events"),
        (60, False, "it cannot be checked here"),
    ],
)
def test_a_given_checkpoint_is_shown_and_checked_against_the_log(
    example: Ledger, tmp_path: Path, size: int, corrupt: bool, verdict: str
) -> None:
    events = list(example.events())
    note = _checkpoint(events, min(size, len(events)), corrupt)
    if size > len(events):
        note = note.replace("\n48\n", f"\n{size}\n", 1)
    render_report(events, example.view(), tmp_path, checkpoint=note)
    body = text(parse(tmp_path / "checkpoint.html"))
    assert verdict in body
    assert "watchdog.example/kr-ai" in body


# --- amounts and progress ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "unit", "human"),
    [
        ("1800000000000", "KRW", "1.8조 원"),
        ("100000000000000", "KRW", "100조 원"),
        ("129300000000", "KRW", "1,293억 원"),
        ("10029300000000", "KRW", "≈10.03조 원"),
        ("-500000000000", "KRW", "-5,000억 원"),
        ("50000000", "KRW", "50,000,000 KRW"),
        ("10000", "GPU", "10,000 GPU"),
        ("1.5", "USD", "1.5 USD"),
    ],
)
def test_amounts_read_like_a_newspaper(amount: str, unit: str, human: str) -> None:
    assert human_amount(Decimal(amount), unit) == human


def test_won_amounts_carry_the_exact_figure_alongside() -> None:
    assert amount_text(Decimal("1800000000000"), "KRW") == "1.8조 원 (1800000000000 KRW)"
    assert amount_text(Decimal("3300"), "person") == "3,300 person"
    assert percent(Fraction(2, 3)) == "66.67%"


@pytest.mark.parametrize(
    ("quantity", "baseline", "achieved", "share"),
    [
        ("10000", None, "13000", Fraction(13, 10)),
        ("200", "90", "145", Fraction(1, 2)),
        ("100", "200", "150", Fraction(1, 2)),  # a cut: half way from 200 down to 100
        ("5", None, None, None),
    ],
)
def test_progress_is_measured_from_the_baseline(
    quantity: str, baseline: str | None, achieved: str | None, share: Fraction | None
) -> None:
    target = {
        "quantity": {"amount": quantity, "unit": "x"},
        "baseline": {"amount": baseline, "unit": "x"} if baseline else None,
        "achieved": achieved,
    }
    assert progress_share(target) == share


# --- the command --------------------------------------------------------------------------


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    db = tmp_path / "ledger.db"
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        return runner.invoke(cli, ["--db", str(db), *args], catch_exceptions=False)

    yield invoke


def test_report_command_writes_the_site(run: Callable[..., Any], tmp_path: Path) -> None:
    assert run("init", "--tz", "Asia/Seoul").exit_code == 0
    example = tmp_path / "example.ndjson"
    example.write_bytes(b"\n".join(example_lines()) + b"\n")
    assert run("import", str(example)).exit_code == 0
    result = run("report", "-o", str(tmp_path / "site"), "--as-of", "2025-12-31")
    assert result.exit_code == 0, result.output
    assert "wrote 28 pages" in result.output
    index = text(parse(tmp_path / "site" / "index.html"))
    assert "The world as of 2025-12-31" in index


def test_report_command_rejects_a_bad_clock_and_a_malformed_checkpoint(
    run: Callable[..., Any], tmp_path: Path
) -> None:
    assert run("init").exit_code == 0
    assert run("report", "-o", str(tmp_path / "site"), "--as-of", "soon").exit_code == 2
    bad = tmp_path / "checkpoint.txt"
    bad.write_text("not a checkpoint\n", "utf-8")
    result = run("report", "-o", str(tmp_path / "site"), "--checkpoint", str(bad))
    assert result.exit_code == 1
    assert result.output.startswith("Error: ")


def test_a_report_of_sums_past_forty_digits_renders_them_exactly(ledger, tmp_path):
    """Two budget lines each allocating a 40-digit amount: the funding sum has 41 digits."""
    from ledger.export import export_document
    from ledger.report import render_report
    from tests.builders import ev
    from tests.builders import lines as as_lines

    nines = "9" * 40
    money = {"amount": nines, "unit": "KRW"}
    events = [
        ev("ActorRegistered", "actor/han", "2020-01-01", {"name": "Han", "kind": "person"}),
        ev(
            "ActorRegistered",
            "actor/assembly",
            "2020-01-01",
            {"name": "Assembly", "kind": "legislature"},
        ),
        ev(
            "CommitmentMade",
            "commitment/huge",
            "2025-04-24",
            {
                "by": "actor/han",
                "capacity": "head-of-government",
                "title": "Huge",
                "areas": ["ai"],
                "targets": [{"key": "money", "quantity": money}],
            },
        ),
    ]
    for line in ("a", "b"):
        events.append(
            ev(
                "AppropriationRecorded",
                f"budget/{line}",
                "2025-05-01",
                {
                    "body": "actor/assembly",
                    "fiscal_year": 2025,
                    "phase": "approved",
                    "instrument": "main",
                    "quantity": money,
                    "allocations": [
                        {"commitment": "commitment/huge", "target": "money", "quantity": money}
                    ],
                },
            )
        )
    ledger.import_lines(as_lines(*events))
    view = ledger.view()
    render_report(list(ledger.events()), view, tmp_path / "site")
    funded = export_document(ledger.events(), view)["commitments"]["commitment/huge"]["targets"][
        "money"
    ]
    assert funded["funded"]["approved"] == str(2 * int(nines))
    assert (tmp_path / "site" / "index.html").exists()
