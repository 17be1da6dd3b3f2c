"""Anchor: pycanon's k-anonymity, l-diversity and t-closeness on the prepared table.

Runs in pycanon's own venv (pycanon pins its numpy/pandas). The quasi-identifiers and sensitive
attributes come from the table's ``.json`` sidecar written by ``benchmarks/privacy.py``.

Timed, each call on its own from the DataFrame in memory (pycanon regroups the table every call):

- ``k``: ``anonymity.k_anonymity(df, qi)``
- ``l``: ``anonymity.l_diversity(df, qi, [sensitive_equal])`` (distinct l)
- ``t_equal``: ``anonymity.t_closeness(df, qi, [sensitive_equal])`` (text → equal-distance EMD)
- ``t_ordered``: ``anonymity.t_closeness(df, qi, [sensitive_ordered])`` (numbers → ordered EMD)

``--measures`` of the driver (environment ``PRIVACY_BENCH_MEASURES``) picks a subset.

Load: ``pd.read_parquet(path)``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import _common

try:
    import pandas as pd
    from pycanon import anonymity
except Exception as exc:
    _common.skip("pycanon", f"import failed: {type(exc).__name__}: {exc}")
    raise SystemExit(0) from None


def _load(path: str) -> tuple[Any, dict[str, Any]]:
    meta = json.loads(Path(path).with_suffix(".json").read_text())
    return pd.read_parquet(path), meta


def _measure(loaded: tuple[Any, dict[str, Any]]) -> dict[str, Any]:
    df, meta = loaded
    qi, s_eq, s_ord = meta["quasi_identifiers"], meta["sensitive_equal"], meta["sensitive_ordered"]
    calls = {
        "k": lambda: int(anonymity.k_anonymity(df, qi)),
        "l": lambda: int(anonymity.l_diversity(df, qi, [s_eq])),
        "t_equal": lambda: float(anonymity.t_closeness(df, qi, [s_eq])),
        "t_ordered": lambda: float(anonymity.t_closeness(df, qi, [s_ord])),
    }
    wanted = os.environ.get("PRIVACY_BENCH_MEASURES")  # set by the driver's --measures
    if wanted:
        calls = {name: call for name, call in calls.items() if name in wanted.split(",")}
    times, values = {}, {}
    for name, call in calls.items():
        t0 = time.perf_counter()
        values[name] = call()
        times[name] = time.perf_counter() - t0
    return {"per_metric_s": times, "values": values, "checks": len(calls)}


if __name__ == "__main__":
    _common.run(
        "pycanon",
        _load,
        _measure,
        size_of=lambda loaded: _common.frame_mb(loaded[0]),
        timed="load = pd.read_parquet; each measure called on its own from the DataFrame",
        extra={"version": _common.version("pycanon"), "pandas": _common.version("pandas")},
    )
