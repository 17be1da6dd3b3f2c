"""The whole tabular audit on a bootstrap-resampled real table: sampling is reported, nothing errors."""

from __future__ import annotations

import time

import numpy as np
import pytest

from medsyn.data import TabularDataset
from medsyn.metric import Status
from medsyn.quality import audit


def _bootstrap(ds: TabularDataset, n: int) -> TabularDataset:
    """``n`` rows resampled with replacement (seed 0) from a real table — resampled, not simulated."""
    return ds.select(np.random.default_rng(0).integers(0, len(ds), size=n))


def _check(res_seconds: float, limit: float, results: dict[str, object]) -> None:
    assert res_seconds < limit, f"audit took {res_seconds:.1f}s"
    assert not [n for n, s in results.items() if s is Status.ERROR]


def test_audit_of_60k_resampled_rows(actg: TabularDataset) -> None:
    big = _bootstrap(actg, 60_000)
    res = audit(big)
    _check(res.seconds, 60.0, {r.metric: r.status for r in res.results})
    assert res["multivariate_outliers"].details["sampled"] is True
    assert res["target_leakage"].details["rows_used"] == 5_000
    assert res["duplicate_rows"].status is Status.FAIL  # resampling repeats rows, and the check sees it


@pytest.mark.slow
def test_audit_of_a_million_resampled_rows(actg: TabularDataset) -> None:
    big = _bootstrap(actg, 1_000_000)
    started = time.perf_counter()
    res = audit(big)
    _check(time.perf_counter() - started, 60.0, {r.metric: r.status for r in res.results})
    assert res["outliers"].details["estimated_on_rows"] == 200_000
