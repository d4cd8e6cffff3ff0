"""The report: a static site of the ledger, written from the export document and the events.

`render_report` computes the export document for the view itself, so every
figure on the pages is one `policy-ledger export` gives with the same clocks;
the events add the timelines, quotes and sources. Pages are Jinja templates
with autoescape on (event text is user input), links are relative and the CSS
and JS are inlined, so the folder works from file:// and makes no request.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from ledger.events import subject_slug
from ledger.projections import View
from ledger.records import StoredEvent
from ledger.report.amounts import amount_markup, language_of
from ledger.report.links import Links
from ledger.report.overview import index_context
from ledger.report.pages import (
    ReportData,
    actor_context,
    administration_context,
    checkpoint_context,
    commitment_context,
    sources_context,
    tenure_context,
)

# Lists what the last render wrote, so a new one removes its stale pages (a
# commitment not in this view) and never anything it did not write itself.
MANIFEST = ".policy-ledger-report"


def render_report(
    events: Iterable[StoredEvent], view: View, out_dir: Path | str, checkpoint: str | None = None
) -> list[Path]:
    """Write the report of the events as the view sees them into out_dir; the pages written.

    `checkpoint` is a checkpoint note (signed or not) to show and check against the log.
    """
    ordered = sorted(events, key=lambda e: e.position)
    data = ReportData.build(ordered, view, checkpoint)
    return write_pages(Path(out_dir), dict(pages(data)))


def pages(data: ReportData) -> Iterator[tuple[str, str]]:
    """(relative path, HTML) of every page."""
    env = environment()
    shared = {
        "ledger": data.document["ledger"],
        "clocks": clocks(data.view),
        "css": _static("report.css"),
        "js": _static("report.js"),
    }

    def render(path: str, template: str, context: dict[str, Any]) -> tuple[str, str]:
        root = "../" * (len(PurePosixPath(path).parts) - 1)
        page = {**shared, **context, "root": root, "links": Links(data, root), "data": data}
        return path, env.get_template(template).render(page)

    document = data.document
    yield render("index.html", "index.html", index_context(data))
    for subject in sorted(document["commitments"]):
        path = f"commitments/{subject_slug(subject)}.html"
        yield render(path, "commitment.html", commitment_context(data, subject))
    for subject in sorted(document["actors"]):
        yield render(
            f"actors/{subject_slug(subject)}.html", "actor.html", actor_context(data, subject)
        )
    for slug in data.administrations:
        path = data.administrations[slug].page
        yield render(path, "administration.html", administration_context(data, slug))
    for tenure in data.tenures:
        yield render(tenure.page, "tenure.html", tenure_context(data, tenure))
    yield render("sources.html", "sources.html", sources_context(data))
    yield render("checkpoint.html", "checkpoint.html", checkpoint_context(data))


def clocks(view: View) -> dict[str, str | None]:
    """The view's clocks as a reader of the ledger's zone reads them: "2025-12-31T00:00+09:00"."""

    def local(moment: datetime | None) -> str | None:
        return moment.astimezone(view.tz).isoformat(timespec="minutes") if moment else None

    return {"as_of": local(view.as_of), "known_at": local(view.known_at)}


def environment() -> Environment:
    """Templates from the package, escaping everything not marked safe."""
    env = Environment(
        loader=PackageLoader("ledger.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["amount"] = lambda q: amount_markup(q["amount"], q["unit"])
    env.filters["money"] = amount_markup
    env.filters["lang"] = lang_attribute
    return env


def lang_attribute(text: str | None) -> Markup:
    """` lang="ko"` for mostly-Korean text, else nothing (the page is English)."""
    language = language_of(text)
    return Markup(' lang="{}"').format(language) if language else Markup("")


def _static(name: str) -> Markup:
    text = resources.files("ledger.report").joinpath("static", name).read_text("utf-8")
    # Inlined into <style> or <script>: a closing tag inside would end the element early.
    if "</" in text:
        raise ValueError(f"static/{name} must not contain '</'")
    return Markup(text)


def write_pages(out_dir: Path, pages: dict[str, str]) -> list[Path]:
    """Write the pages, remove those of the last render that this one lacks, update the manifest."""
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = out_dir / MANIFEST
    previous = set(manifest.read_text("utf-8").split()) if manifest.exists() else set()
    written = []
    for relative, html in sorted(pages.items()):
        path = out_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8", newline="\n")
        written.append(path)
    for relative in sorted(previous - pages.keys()):
        # Only plain relative names of our own pages: a hand-edited manifest cannot reach out.
        name = PurePosixPath(relative)
        if name.suffix == ".html" and not name.is_absolute() and ".." not in name.parts:
            (out_dir / relative).unlink(missing_ok=True)
    manifest.write_text("".join(f"{p}\n" for p in sorted(pages)), encoding="utf-8")
    return written
