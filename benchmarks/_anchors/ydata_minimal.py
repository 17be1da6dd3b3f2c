"""Anchor, tabular: ydata-profiling's minimal profile, computed but not rendered.

Timed as load: ``pandas.read_parquet(path)``; audit:
``ProfileReport(df, minimal=True, progress_bar=False).get_description()`` (all statistics of
the minimal profile; no HTML or JSON rendering).
"""

from __future__ import annotations

from typing import Any

import _common

try:
    import pandas as pd
    from ydata_profiling import ProfileReport
except Exception as exc:
    _common.skip("ydata-profiling", f"import failed: {type(exc).__name__}: {exc}")
    raise SystemExit(0) from None


def _audit(df: pd.DataFrame) -> dict[str, Any]:
    report = ProfileReport(df, minimal=True, progress_bar=False)
    desc = report.get_description()
    alerts = getattr(desc, "alerts", [])
    return {"checks": len(getattr(desc, "variables", {})), "checks_unit": "variables profiled", "alerts": len(alerts)}


if __name__ == "__main__":
    _common.run(
        "ydata-profiling",
        pd.read_parquet,
        _audit,
        size_of=_common.frame_mb,
        timed="load = pandas.read_parquet; audit = ProfileReport(df, minimal=True).get_description()",
        extra={"version": _common.version("ydata-profiling"), "pandas": pd.__version__},
    )
