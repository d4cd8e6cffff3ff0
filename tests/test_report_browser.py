"""The report in a real browser: headless Chromium loads the pages from file://, and the
DevTools protocol (over a pipe, stdlib only) shows the rendered DOM, every request the
page made, script errors, and takes screenshots at desktop and phone widths.

Skips when Chromium is not installed, unless POLICY_LEDGER_REQUIRE_BROWSER=1 (CI), where
a missing browser is a failure.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import struct
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cli.commands_demo import example_lines
from ledger.report import render_report
from ledger.service import Ledger
from tests.conftest import Clock

REQUIRE_BROWSER = os.environ.get("POLICY_LEDGER_REQUIRE_BROWSER") == "1"
TIMEOUT = 30.0
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--mute-audio",
    # Any name lookup fails: a request that tried to leave would fail, and still be seen.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--remote-debugging-pipe",
)


def chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class PageLoad:
    """What a page did when loaded: its DOM, requests, script errors and a screenshot."""

    dom: str
    requests: list[str]
    errors: list[str]
    screenshot: bytes
    overflows: bool  # wider than the window: the reader would scroll sideways


@dataclass
class Chromium:
    """Headless Chromium driven over --remote-debugging-pipe (fd 3 in, fd 4 out, NUL-framed JSON)."""

    binary: str
    profile: Path
    log: Path
    process: subprocess.Popen[bytes] = field(init=False)
    _writer: int = field(init=False)
    _reader: int = field(init=False)
    _buffer: bytes = field(init=False, default=b"")
    _next_id: int = field(init=False, default=0)
    _events: list[dict[str, Any]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        commands_read, self._writer = os.pipe()
        self._reader, replies_write = os.pipe()
        # bash puts the pipe ends on fds 3 and 4, where Chromium expects them (dash's
        # redirections take single-digit fds only).
        script = f'exec "$@" 3<&{commands_read} 4>&{replies_write}'
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    "bash",
                    "-c",
                    script,
                    "bash",
                    self.binary,
                    *FLAGS,
                    f"--user-data-dir={self.profile}",
                ],
                pass_fds=(commands_read, replies_write),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        os.close(commands_read)
        os.close(replies_write)

    def close(self) -> None:
        with contextlib.suppress(OSError, TimeoutError, RuntimeError):  # already gone
            self.send("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._writer)
        os.close(self._reader)

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._reader], [], [], max(left, 0))
            if not ready:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._reader, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium closed the pipe; see {self.log}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return dict(json.loads(message))

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send a command and wait for its reply, keeping the events that arrive meanwhile."""
        self._next_id += 1
        command: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            command["sessionId"] = session
        os.write(self._writer, json.dumps(command).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            message = self._receive(deadline)
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            self._events.append(message)

    def wait_for(self, method: str, session: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while True:
            for event in self._events:
                if event.get("method") == method and event.get("sessionId") == session:
                    return
            self._events.append(self._receive(deadline))

    def load(self, url: str, width: int, height: int = 1200) -> PageLoad:
        """Open the URL in a fresh tab of the given window size and record what it did."""
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self._events.clear()
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.send(f"{domain}.enable", session)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            session,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=width < 600,
        )
        self.send("Page.navigate", session, url=url)
        self.wait_for("Page.loadEventFired", session)
        dom = self.evaluate(session, "document.documentElement.outerHTML")
        overflows = self.evaluate(
            session, "document.documentElement.scrollWidth > window.innerWidth"
        )
        shot = self.send("Page.captureScreenshot", session, format="png")["data"]
        mine = [e for e in self._events if e.get("sessionId") == session]
        requests = [
            e["params"]["request"]["url"]
            for e in mine
            if e["method"] == "Network.requestWillBeSent"
        ]
        errors = [json.dumps(e["params"]) for e in mine if e["method"] == "Runtime.exceptionThrown"]
        errors += [
            e["params"]["entry"]["text"]
            for e in mine
            if e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error"
        ]
        self.send("Target.closeTarget", targetId=target)
        return PageLoad(str(dom), requests, errors, base64.b64decode(shot), bool(overflows))

    def evaluate(self, session: str, expression: str) -> Any:
        result = self.send("Runtime.evaluate", session, expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    binary = chromium_binary()
    if binary is None:
        reason = "Chromium is not installed (apt-get install chromium)"
        if REQUIRE_BROWSER:
            pytest.fail(f"{reason}, and POLICY_LEDGER_REQUIRE_BROWSER=1")
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("chromium")
    chromium = Chromium(binary, folder / "profile", folder / "chromium.log")
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    ledger = Ledger.init(
        str(folder / "ledger.db"), tz="Asia/Seoul", clock=Clock(), user="desk@test"
    )
    try:
        ledger.import_lines(example_lines())
        render_report(ledger.events(), ledger.view(), folder / "site")
    finally:
        ledger.close()
    return folder / "site"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def stayed_inside(requests: list[str], folder: Path) -> list[str]:
    """The requests that went anywhere but a file in the folder (or an inline data: URL)."""
    inside = folder.resolve().as_uri() + "/"
    return [url for url in requests if not url.startswith((inside, "data:", "about:"))]


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (
            "index.html",
            [
                "Policy commitments: what was promised",
                ">8</dd>",
                ">66.67%</dd>",
                ">48</dd>",
                "100조 원",
            ],
        ),
        (
            "commitments/kr-ai-gpus-10000.html",
            ["Secure 10,000 high-performance GPUs within the year", "130%", "chart-timeline"],
        ),
    ],
)
@pytest.mark.parametrize("width", [1280, 390])
def test_page_renders_in_chromium_from_file_without_leaving_the_folder(
    browser: Chromium, site: Path, tmp_path: Path, page: str, expected: list[str], width: int
) -> None:
    url = (site / page).resolve().as_uri()
    load = browser.load(url, width)
    for text in expected:
        assert text in load.dom, f"{text!r} not in the rendered DOM of {page}"
    assert url in load.requests  # the log sees the page's own load, so it would see others
    assert stayed_inside(load.requests, site) == []
    assert load.errors == []
    assert not load.overflows, f"{page} scrolls sideways at {width} px"
    shot = tmp_path / f"{Path(page).stem}-{width}.png"
    shot.write_bytes(load.screenshot)
    assert png_size(shot.read_bytes())[0] == width
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one


def test_a_request_outside_the_folder_would_be_caught(browser: Chromium, tmp_path: Path) -> None:
    page = tmp_path / "leaky.html"
    page.write_text(
        '<!DOCTYPE html><html lang="en"><title>leak</title><img src="https://example.org/x.png" alt="">',
        "utf-8",
    )
    load = browser.load(page.as_uri(), 800)
    assert stayed_inside(load.requests, tmp_path) == ["https://example.org/x.png"]


def test_tables_sort_and_filter_in_the_browser(browser: Chromium, site: Path) -> None:
    script = """
    (() => {
      const column = (table, index) =>
        Array.from(table.tBodies[0].rows).map(r => r.cells[index].textContent.trim());
      const budgets = document.getElementById('budget-lines');
      const approved = budgets.tHead.rows[0].cells[5];
      approved.querySelector('button').click();
      const ascending = column(budgets, 0);
      approved.querySelector('button').click();
      const descending = column(budgets, 0);
      const table = document.getElementById('all-commitments');
      const input = document.querySelector('input[data-filter="all-commitments"]');
      input.value = 'GPUs';
      input.dispatchEvent(new Event('input'));
      return JSON.stringify({
        ascending, descending, sort: approved.getAttribute('aria-sort'),
        shown: Array.from(table.tBodies[0].rows).filter(r => !r.hidden).length,
        visible: !input.closest('.filter').hidden,
      });
    })()
    """
    target = browser.send("Target.createTarget", url="about:blank")["targetId"]
    session = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    browser.send("Page.enable", session)
    browser.send("Page.navigate", session, url=(site / "index.html").resolve().as_uri())
    browser.wait_for("Page.loadEventFired", session)
    result = json.loads(browser.evaluate(session, script))
    browser.send("Target.closeTarget", targetId=target)
    # By the exact approved amount (data-sort), not by the text "9.9조 원".
    by_amount = ["budget/kr-2026-main-ai", "budget/kr-2025-supp-1", "budget/kr-2025-supp-2"]
    assert result["ascending"] == by_amount
    assert result["descending"] == list(reversed(by_amount))
    assert result["sort"] == "descending"
    assert result["visible"] is True  # the filter box shows only when script runs
    assert result["shown"] == 2  # the two pledges whose text mentions GPUs
