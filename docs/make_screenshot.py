"""Make docs/report-index.png, the README's picture of the report's index page.

Renders the example ledger's report with a fixed clock (so the picture only
changes when the report's look or the example does) and has headless Chromium
photograph the index. Run it again after changing the report's templates:

    .venv/bin/python docs/make_screenshot.py

Needs Debian's chromium (apt-get install chromium) and, for the Korean text,
a Korean font such as fonts-noto-cjk.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from cli.commands_demo import example_lines
from ledger.report import render_report
from ledger.service import Ledger

OUT = Path(__file__).resolve().parent / "report-index.png"
WIDTH, HEIGHT = 1280, 1700
JUDGED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def render(folder: Path) -> Path:
    """The example ledger's report in folder; the index page's path."""
    ledger = Ledger.init(
        str(folder / "ledger.db"), tz="Asia/Seoul", clock=lambda: JUDGED_AT, user="docs"
    )
    try:
        ledger.import_lines(example_lines())
        render_report(ledger.events(), ledger.view(), folder / "site")
    finally:
        ledger.close()
    return folder / "site" / "index.html"


def main() -> int:
    """Write the screenshot; 1 when Chromium is missing."""
    chromium = shutil.which("chromium")
    if chromium is None:
        print("chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as temp:
        index = render(Path(temp))
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                "--host-resolver-rules=MAP * ~NOTFOUND",
                f"--user-data-dir={Path(temp) / 'profile'}",
                f"--window-size={WIDTH},{HEIGHT}",
                f"--screenshot={OUT}",
                index.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
