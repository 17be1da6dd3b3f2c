"""Univariate (robust z + IQR) and multivariate (isolation forest) outliers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medsyn.data import TabularDataset
from medsyn.metric import Status
from medsyn.quality.tabular import MultivariateOutliers, UnivariateOutliers
from tests.quality.tabular.conftest import ACTG, HEART, PBC, real, variant


@pytest.mark.parametrize("path", [ACTG, HEART, PBC])
def test_clean_real_tables_pass(path: str) -> None:
    # PBC's bilirubin and alkaline phosphatase have long natural tails: judged on a log scale.
    assert UnivariateOutliers().compute(real(path)).status is Status.PASS


def test_weights_entered_in_grams_are_found(actg: TabularDataset) -> None:
    before = next(i for i in UnivariateOutliers().compute(actg).items if i.key == "wtkg")
    assert before.status is Status.PASS
    frame = actg.data.copy()
    rows = np.random.default_rng(3).choice(len(frame), size=25, replace=False)
    frame.loc[rows, "wtkg"] = frame.loc[rows, "wtkg"] * 1000
    res = UnivariateOutliers().compute(variant(actg, frame))
    item = next(i for i in res.items if i.key == "wtkg")
    # Every weight in grams is flagged; borderline real weights may tip either way as the spread moves.
    assert 25 <= item.details["outliers"] <= before.details["outliers"] + 25  # type: ignore[operator]
    assert f"{frame.loc[rows, 'wtkg'].max():g}" in item.note
    assert item.status is Status.WARN
    assert res.status is not Status.PASS
    assert "wtkg" in res.reason


def test_column_with_one_dominant_value_is_not_judged() -> None:
    x = np.zeros(200)
    x[:5] = [1, 2, 3, 4, 50]
    y = np.random.default_rng(12).normal(size=200)
    res = UnivariateOutliers().compute(TabularDataset(pd.DataFrame({"count": x, "y": y})))
    assert [i.key for i in res.items] == ["y"]


def test_no_numeric_column_is_skipped() -> None:
    res = UnivariateOutliers().compute(TabularDataset(pd.DataFrame({"sex": ["F", "M"] * 5})))
    assert res.status is Status.SKIPPED


def test_isolation_forest_clean_and_injected(actg: TabularDataset) -> None:
    clean = MultivariateOutliers().compute(actg)
    assert clean.status is Status.PASS
    cols = ["cd40", "cd420", "cd80", "cd820", "preanti", "wtkg"]
    frame = actg.data.astype(dict.fromkeys(cols, float))
    rng = np.random.default_rng(4)
    rows = rng.choice(len(frame), size=60, replace=False)
    for col in cols:  # 60 garbled records, each with its own far-out values
        frame.loc[rows, col] = frame[col].max() * rng.uniform(2, 6, len(rows))
    res = MultivariateOutliers().compute(variant(actg, frame))
    assert res.status is Status.WARN
    assert res.value * len(frame) >= 40
    assert {int(i.key) for i in res.items} <= set(rows.tolist())


def test_isolation_forest_is_seeded_and_samples_large_tables(actg: TabularDataset) -> None:
    big = actg.select(np.random.default_rng(0).integers(0, len(actg), size=30_000))
    a = MultivariateOutliers(score_size=5_000, fit_size=2_000, seed=7).compute(big)
    b = MultivariateOutliers(score_size=5_000, fit_size=2_000, seed=7).compute(big)
    assert a.value == b.value
    assert a.details["scored_rows"] == 5_000
    assert a.details["sampled"] is True
    assert "sample of 5,000 rows" in a.reason


def test_isolation_forest_needs_two_numeric_columns() -> None:
    res = MultivariateOutliers().compute(TabularDataset(pd.DataFrame({"x": np.arange(50.0)})))
    assert res.status is Status.SKIPPED
