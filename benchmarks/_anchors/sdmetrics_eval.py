"""Anchor, evaluation: SDMetrics' QualityReport (MIT) on the prepared real and synthetic tables.

One unit, ``quality_report``: ``QualityReport().generate(real, synthetic, metadata)`` — "Column
Shapes" (KSComplement for numerical columns, TVComplement for categorical ones) and "Column Pair
Trends" (CorrelationSimilarity, Pearson, for two numerical columns; ContingencySimilarity for the
other pairs, numerical columns cut into 10 equal-width bins) — on the column description the
driver wrote from medsyn's schema, after the same value alignment as every SDMetrics run here
(``_align.align``; not timed). The values returned are the overall score, both properties, and
the per-column and per-pair scores (with the real and synthetic correlations) for the driver's
column-by-column agreement check.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import _align
import _common
import _eval_common
from _eval_common import Unit, finite

try:
    import pandas as pd
    from sdmetrics.reports import QualityReport
except Exception as exc:
    _eval_common.skip("sdmetrics", f"import failed: {type(exc).__name__}: {exc}")
    raise SystemExit(0) from None

TABLE = "table"


def _load(spec: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    columns = json.loads(Path(spec["meta"]).read_text())["columns"]
    real, syn = _align.align(pd.read_parquet(spec["real"]), pd.read_parquet(spec["synthetic"]), columns)
    return real, syn, columns


def _report(data: tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]], spec: dict[str, Any]) -> dict[str, Any]:
    real, syn, columns = data
    report = QualityReport()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.generate({TABLE: real}, {TABLE: syn}, {"tables": {TABLE: {"columns": columns}}}, verbose=False)
    props = {str(r["Property"]): finite(r["Score"]) for _, r in report.get_properties().iterrows()}
    shapes = report.get_details("Column Shapes")
    pairs = report.get_details("Column Pair Trends")
    return {
        "quality": finite(report.get_score()),
        "column_shapes": props.get("Column Shapes"),
        "column_pair_trends": props.get("Column Pair Trends"),
        "per_column": {str(r["Column"]): [str(r["Metric"]), finite(r["Score"])] for _, r in shapes.iterrows()},
        "per_pair": [
            [
                str(r["Column 1"]),
                str(r["Column 2"]),
                str(r["Metric"]),
                finite(r["Score"]),
                finite(r.get("Real Correlation")),
                finite(r.get("Synthetic Correlation")),
            ]
            for _, r in pairs.iterrows()
        ],
    }


UNITS = {"quality_report": Unit(_load, _report, "QualityReport().generate(real, synthetic, metadata)")}

if __name__ == "__main__":
    _eval_common.run("sdmetrics", UNITS, extra={"version": _common.version("sdmetrics")})
