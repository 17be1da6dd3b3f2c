"""Ours, tabular: ``medsyn.quality.audit(medsyn.data.read(path))`` on the prepared Parquet table.

Timed as load: ``medsyn.data.read(path)`` (Parquet → TabularDataset, schema inference, digest);
audit: ``medsyn.quality.audit(dataset)`` with every registered tabular quality metric.
"""

from __future__ import annotations

from typing import Any

import _common

try:
    import medsyn.data
    import medsyn.quality
except Exception as exc:
    _common.skip("medsyn", f"import failed: {type(exc).__name__}: {exc}")
    raise SystemExit(0) from None


def _audit(ds: Any) -> dict[str, Any]:
    res = medsyn.quality.audit(ds)
    return {
        "per_metric_s": dict(res.timings),  # checks run two at a time: each one's own wall time
        "checks": len(res.results),
        "metrics": [r.metric for r in res.results],
        "status": res.status.value,
        "metric_errors": list(res.errors),
    }


if __name__ == "__main__":
    _common.run(
        "medsyn",
        medsyn.data.read,
        _audit,
        size_of=lambda ds: _common.frame_mb(ds.data),
        timed="load = medsyn.data.read(parquet); audit = medsyn.quality.audit(dataset)",
        extra={"version": _common.version("medsyn")},
    )
