"""SDMetrics' quality score (MIT) for one real table against any number of synthetic tables.

``<sdv venv python> sdmetrics_quality.py --real T.parquet --meta T.meta.json --synthetic A.parquet
B.parquet ... [--score-rows N --seed S]`` prints one ``RESULT_JSON`` line with, per synthetic file,
the overall score (the mean of the "Column Shapes" and "Column Pair Trends" properties) and each
property. Every generator's sample, ours included, is scored by this same code, on the same
column metadata (the driver's sdtypes), after the same value alignment (``_align.align``).

Tables larger than ``--score-rows`` are scored on a seeded sample of that many rows (the real
table's sample is drawn once and shared).
"""

from __future__ import annotations

import argparse
import json
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import _align
import _common

try:
    import pandas as pd

    try:  # sdmetrics ≥ 0.2x: the unified report; the single-table one is deprecated (FutureWarning)
        from sdmetrics.reports import QualityReport

        UNIFIED = True
    except ImportError:
        from sdmetrics.reports.single_table import QualityReport

        UNIFIED = False
except Exception as exc:
    _common.skip("sdmetrics", f"import failed: {type(exc).__name__}: {exc}")
    raise SystemExit(0) from None

TABLE = "table"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--real", required=True)
    p.add_argument("--meta", required=True)
    p.add_argument("--synthetic", nargs="+", required=True)
    p.add_argument("--score-rows", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def cap(df: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    return df.sample(n=rows, random_state=seed).reset_index(drop=True) if len(df) > rows else df


def score(real: pd.DataFrame, synthetic: pd.DataFrame, columns: dict[str, Any]) -> dict[str, Any]:
    report = QualityReport()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if UNIFIED:
            report.generate({TABLE: real}, {TABLE: synthetic}, {"tables": {TABLE: {"columns": columns}}}, verbose=False)
        else:
            report.generate(real, synthetic, {"columns": columns}, verbose=False)
    props = report.get_properties()
    return {
        "quality": float(report.get_score()),
        **{str(row["Property"]): float(row["Score"]) for _, row in props.iterrows()},
    }


def main() -> None:
    args = parse_args()
    columns = json.loads(Path(args.meta).read_text())["columns"]
    out: dict[str, Any] = {
        "tool": "sdmetrics",
        "version": _common.version("sdmetrics"),
        "report": f"sdmetrics.reports{'' if UNIFIED else '.single_table'}.QualityReport",
        "scores": {},
    }
    try:
        real_full = pd.read_parquet(args.real)
        real = cap(real_full, args.score_rows, args.seed)
        out["real_rows_scored"] = len(real)
        for path in args.synthetic:
            t = time.perf_counter()
            try:
                synthetic = cap(pd.read_parquet(path), args.score_rows, args.seed + 1)
                r, s = _align.align(real, synthetic, columns)
                res = score(r, s, columns)
                res["rows_scored"] = len(s)
            except Exception as exc:
                res = {"error": f"{type(exc).__name__}: {exc}"}
                traceback.print_exc()
            res["score_s"] = time.perf_counter() - t
            out["scores"][path] = res
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    _common.emit(out)


if __name__ == "__main__":
    main()
