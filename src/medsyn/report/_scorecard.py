"""The scorecard of a synthetic-data evaluation as JSON and as one self-contained HTML page.

The page opens with the release-gate verdict (when a policy was given), the four axis scores
with their bootstrap intervals, how the inputs were handled and what could not be computed;
then one table per axis and one block per metric with its items and details. Figures a metric
drew during the evaluation (e.g. memorised image pairs side by side) are embedded; otherwise
the generic per-item chart of the audit report is used.
"""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import TYPE_CHECKING

from medsyn import __version__
from medsyn._atomic import write_text
from medsyn.metric import MetricKind, MetricResult, Status
from medsyn.report._report import _ENV, Report, ReportFiles, _num, _subject_value

if TYPE_CHECKING:
    from medsyn.evaluate import Scorecard

__all__ = ["scorecard_html", "write_scorecard"]


def _pct(x: float) -> float:
    return round(100 * min(1.0, max(0.0, x)), 1)


def _result_view(card: Scorecard, r: MetricResult, scored: bool) -> dict[str, object]:
    view = Report._result_view(r)
    png = card.figures.get(r.metric)
    if png:
        view["figure"] = base64.b64encode(png).decode()
    score = card.scores.get(r.metric, math.nan)
    items = sorted(r.items, key=lambda i: -i.status.severity)
    view.update(
        score_text="" if math.isnan(score) else f"{score:.2f}",
        scored=scored,
        seconds_text=f"{card.timings[r.metric]:.2f} s" if r.metric in card.timings else "",
        item_rows=[
            {"scope": i.scope, "key": i.key, "status": i.status.value, "value_text": _num(i.value), "note": i.note}
            for i in items
        ],
    )
    return view


def scorecard_html(card: Scorecard) -> str:
    """The scorecard as one HTML page (inline CSS, embedded PNG charts)."""
    from medsyn.evaluate import AXES, EvalMetric
    from medsyn.metric import get_metric

    def is_scored(name: str) -> bool:
        try:
            cls = get_metric(name)
        except LookupError:
            return False
        return bool(issubclass(cls, EvalMetric) and cls.scored)

    views = [_result_view(card, r, is_scored(r.metric)) for r in card.results]
    by_axis = [(axis.value, [v for v, r in zip(views, card.results, strict=True) if r.kind is axis]) for axis in AXES]
    axes = []
    for a in card.axes:
        has_ci = a.ci is not None and not math.isnan(a.score)
        axes.append(
            {
                "axis": a.axis.value,
                "score_text": "—" if math.isnan(a.score) else f"{a.score:.2f}",
                "score_pct": None if math.isnan(a.score) else _pct(a.score),
                "ci_text": f"[{a.ci[0]:.2f}, {a.ci[1]:.2f}]" if has_ci and a.ci else "",
                "ci_lo": _pct(a.ci[0]) if has_ci and a.ci else None,
                "ci_w": round(_pct(a.ci[1]) - _pct(a.ci[0]), 1) if has_ci and a.ci else None,
                "reason": a.reason,
            }
        )
    gate = None
    if card.gate is not None:
        gate = {
            "source": card.gate.source,
            "passed": card.gate.passed,
            "checks": [
                {**c.to_dict(), "value_text": "—" if c.value is None else _num(c.value)} for c in card.gate.checks
            ],
        }
    subject = card.subject
    rows = [
        (k, _subject_value(v.get("records") if isinstance(v, dict) else v)) for k, v in subject.items() if v is not None
    ]
    real = subject.get("real")
    syn = subject.get("synthetic")
    line = (
        f"{subject.get('modality', '')} · {real.get('records', '?') if isinstance(real, dict) else '?'} real vs "
        f"{syn.get('records', '?') if isinstance(syn, dict) else '?'} synthetic records"
    )
    not_computed = [v for v, r in zip(views, card.results, strict=True) if r.status in (Status.SKIPPED, Status.ERROR)]
    return _ENV.get_template("scorecard.html").render(
        title="Synthetic-data scorecard",
        version=__version__,
        created=card.created,
        subject_line=line,
        gate=gate,
        axes=axes,
        notes=[n.to_dict() for n in card.notes],
        not_computed=not_computed,
        by_axis=[(a, v) for a, v in by_axis if v],
        subject=rows,
        results=views,
        seed=subject.get("seed", ""),
        n_boot=subject.get("bootstrap_replicates", ""),
        kinds=[k.value for k in MetricKind],
    )


def write_scorecard(card: Scorecard, out_dir: str | Path, *, stem: str = "scorecard") -> ReportFiles:
    """Write ``<stem>.json`` and ``<stem>.html`` into ``out_dir`` (created if needed), each atomically."""
    out = Path(out_dir)
    files = ReportFiles(json=out / f"{stem}.json", html=out / f"{stem}.html")
    write_text(files.json, card.to_json())
    write_text(files.html, scorecard_html(card))
    return files
