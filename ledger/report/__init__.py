"""The published report: a static, self-contained HTML site of the ledger.

    from ledger.report import render_report
    render_report(ledger.events(), ledger.view(as_of="2026-01-01"), "site")

The pages are computed from the export document of the same events and view
(so the report and `policy-ledger export` never disagree), plus the events
themselves for timelines and sources. Charts are inline SVG; the CSS and the
small sorting script are inlined; links are relative. The folder works from
file:// and the pages request nothing from anywhere.
"""

from ledger.report.site import render_report

__all__ = ["render_report"]
