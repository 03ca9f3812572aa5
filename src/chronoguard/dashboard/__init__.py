"""chronoguard.dashboard: read-only views of a run; here, the static HTML lifecycle report.

The dashboard takes plain data in and imports no other chronoguard layer (only
:mod:`chronoguard.errors`), so it can render a report from a replay, a store query or a test.
"""

from __future__ import annotations

from chronoguard.dashboard.fleet import FleetSection
from chronoguard.dashboard.report import ReportData, render_report, write_report

__all__ = ["FleetSection", "ReportData", "render_report", "write_report"]
