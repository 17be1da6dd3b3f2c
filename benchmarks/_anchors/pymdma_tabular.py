"""Anchor, tabular: every pyMDMA tabular *input* (no-reference) metric on the prepared table.

pyMDMA's metrics take a numeric ``(n, d)`` array, so the audit timing includes the cheapest
fair conversion: numeric columns as float, text columns as category codes (missing → NaN),
then a median-imputed copy for the metrics that cannot take NaN (pyMDMA's own loader also
encodes and imputes, more slowly). Metrics, from ``pymdma.tabular.measures.input_val``:

- ``MissingScore`` on the raw codes (it counts NaN),
- ``CorrelationScore``, ``UniquenessScore``, ``UniformityScore`` (with a ``col_map`` so that each
  column's kind is known, as pyMDMA's loader provides), ``OutlierScore``, ``DimCurseScore``,
  ``VIFactorScore`` and ``KAnonymityScore`` (quasi-identifiers race, gender, age) on the
  imputed copy.

pyMDMA's ``TabularInputLayer`` is not used: it reads only CSV/JSON/XML/XLSX and needs torch.
"""

from __future__ import annotations

import time
from typing import Any

import _common

try:
    import numpy as np
    import pandas as pd
    from pymdma.tabular.measures.input_val import (
        CorrelationScore,
        DimCurseScore,
        KAnonymityScore,
        MissingScore,
        OutlierScore,
        UniformityScore,
        UniquenessScore,
        VIFactorScore,
    )
except Exception as exc:
    _common.skip("pymdma", f"import failed: {type(exc).__name__}: {exc}")
    raise SystemExit(0) from None

QUASI_IDENTIFIERS = ["race", "gender", "age"]


def _encode(df: pd.DataFrame) -> tuple[np.ndarray, dict[str, Any]]:
    columns: list[np.ndarray] = []
    col_map: dict[str, Any] = {}
    for name in df.columns:
        s = df[name]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            columns.append(s.to_numpy(dtype=float, na_value=np.nan))
            col_map[name] = {"type": {"tag": "continuous", "opt": []}}
        else:
            codes, uniques = pd.factorize(s, use_na_sentinel=True)
            col = codes.astype(float)
            col[codes < 0] = np.nan
            columns.append(col)
            col_map[name] = {"type": {"tag": "discrete", "opt": list(range(len(uniques)))}}
    return np.column_stack(columns), col_map


def _audit(df: pd.DataFrame) -> dict[str, Any]:
    names = [str(c) for c in df.columns]
    t0 = time.perf_counter()
    raw, col_map = _encode(df)
    imputed = raw.copy()
    medians = np.nanmedian(raw, axis=0)
    rows, cols = np.nonzero(np.isnan(imputed))
    imputed[rows, cols] = medians[cols]
    per_metric: dict[str, float] = {"encode+impute": time.perf_counter() - t0}
    qi = [c for c in QUASI_IDENTIFIERS if c in names]
    plan = [
        (MissingScore(column_names=names), raw),
        (CorrelationScore(column_names=names), imputed),
        (UniquenessScore(), imputed),
        (UniformityScore(column_names=names, col_map=col_map), imputed),
        (OutlierScore(column_names=names), imputed),
        (DimCurseScore(), imputed),
        (VIFactorScore(column_names=names), imputed),
        (KAnonymityScore(column_names=names, qi_names=qi), imputed),
    ]
    errors: list[str] = []
    for metric, data in plan:
        name = type(metric).__name__
        t = time.perf_counter()
        try:
            metric.compute(data)
        except Exception as exc:
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
        per_metric[name] = time.perf_counter() - t
    return {
        "checks": len(plan) - len(errors),
        "metrics": [type(m).__name__ for m, _ in plan],
        "metric_errors": errors,
        "per_metric_s": per_metric,
    }


if __name__ == "__main__":
    _common.run(
        "pymdma",
        pd.read_parquet,
        _audit,
        size_of=_common.frame_mb,
        timed="load = pandas.read_parquet; audit = encode + impute + 8 pymdma tabular input_val metrics",
        extra={"version": _common.version("pymdma"), "pandas": pd.__version__},
    )
