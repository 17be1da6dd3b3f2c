"""Ours: medsyn's measured privacy models on the prepared table.

Runs with the project's Python. The quasi-identifiers and sensitive attributes come from the
table's ``.json`` sidecar written by ``benchmarks/privacy.py``.

Timed, each call on its own from the table in memory (each builds its own equivalence classes, as
pycanon does; passing ``classes=`` would share them):

- ``k``: ``k_anonymity(df, qi)``
- ``l``: ``l_diversity(df, qi, sensitive_equal)`` (distinct l)
- ``t_equal``: ``t_closeness(df, qi, sensitive_equal)`` (text → equal-distance EMD)
- ``t_ordered``: ``t_closeness(df, qi, sensitive_ordered)`` (numbers → ordered EMD)

``--measures`` of the driver (environment ``PRIVACY_BENCH_MEASURES``) picks a subset.

Load: ``medsyn.data.read(path)`` (Parquet → TabularDataset, text as categoricals, schema inference).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import _common

try:
    import medsyn.data
    from medsyn.privacy import k_anonymity, l_diversity, t_closeness
except Exception as exc:
    _common.skip("medsyn", f"import failed: {type(exc).__name__}: {exc}")
    raise SystemExit(0) from None


def _load(path: str) -> tuple[Any, dict[str, Any]]:
    meta = json.loads(Path(path).with_suffix(".json").read_text())
    return medsyn.data.read(path), meta


def _measure(loaded: tuple[Any, dict[str, Any]]) -> dict[str, Any]:
    ds, meta = loaded
    df = ds.data
    qi, s_eq, s_ord = meta["quasi_identifiers"], meta["sensitive_equal"], meta["sensitive_ordered"]
    calls = {
        "k": lambda: k_anonymity(df, qi).k,
        "l": lambda: int(l_diversity(df, qi, s_eq).l),
        "t_equal": lambda: t_closeness(df, qi, s_eq).t,
        "t_ordered": lambda: t_closeness(df, qi, s_ord).t,
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
        "medsyn",
        _load,
        _measure,
        size_of=lambda loaded: _common.frame_mb(loaded[0].data),
        timed="load = medsyn.data.read(parquet); each measure called on its own from the table",
        extra={"version": _common.version("medsyn"), "pandas": _common.version("pandas")},
    )
