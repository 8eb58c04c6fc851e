"""Reports: a self-contained HTML page of a run (map, scorecard, forecast, stock, service, cost)."""

from engine.report.compare import Comparison, compare_runs
from engine.report.html import render_html, write_report

__all__ = ["Comparison", "compare_runs", "render_html", "write_report"]
