"""Reports from typed results: JSON for machines, self-contained HTML with charts for people."""

from medsyn.report._figures import FIGURES, figure_for
from medsyn.report._report import Report, ReportFiles
from medsyn.report._scorecard import scorecard_html, write_scorecard

__all__ = ["FIGURES", "Report", "ReportFiles", "figure_for", "scorecard_html", "write_scorecard"]
