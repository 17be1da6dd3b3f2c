"""Invariants on generated tables: identical data is ideal, symmetric metrics are symmetric, values stay in range."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medsyn.data import TabularDataset
from medsyn.data.schema import Field, FieldType, Schema
from medsyn.evaluate import EvalInputs
from medsyn.evaluate.tabular import (
    CategoryCoverage,
    ContingencySimilarity,
    CorrelationDifference,
    Coverage,
    Density,
    ImprovedPrecision,
    ImprovedRecall,
    JensenShannon,
    KsStatistic,
    ModeCollapse,
    MutualInformationDifference,
    RangeCoverage,
    TotalVariation,
    Wasserstein,
    jensen_shannon_distance,
    ks_statistic_1d,
    manifold_terms,
    total_variation_distance,
    wasserstein_1d,
)

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SCHEMA = Schema(
    [
        Field("x", FieldType.NUMERIC),
        Field("n", FieldType.INTEGER),
        Field("c", FieldType.CATEGORICAL),
        Field("d", FieldType.CATEGORICAL),
    ]
)


@st.composite
def tables(draw: st.DrawFn, min_rows: int = 8, max_rows: int = 40) -> pd.DataFrame:
    n = draw(st.integers(min_rows, max_rows))
    x = draw(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=n, max_size=n))
    ints = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    c = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n))
    d = draw(st.lists(st.sampled_from(["u", "v"]), min_size=n, max_size=n))
    return pd.DataFrame({"x": x, "n": ints, "c": c, "d": d})


def _inputs(real: pd.DataFrame, syn: pd.DataFrame) -> EvalInputs:
    return EvalInputs.build(TabularDataset(real, SCHEMA), TabularDataset(syn, SCHEMA), n_bootstrap=10)


@SETTINGS
@given(tables())
def test_identical_data_scores_the_ideal(frame: pd.DataFrame) -> None:
    inputs = _inputs(frame, frame.copy())
    for metric in (
        KsStatistic(),
        TotalVariation(),
        Wasserstein(),
        JensenShannon(),
        ContingencySimilarity(),
        MutualInformationDifference(),
        CategoryCoverage(),
        ModeCollapse(),
    ):
        r = metric.evaluate(inputs)
        assert math.isclose(r.value, metric.ideal, abs_tol=1e-9), r
    for metric in (ImprovedPrecision(k=3), ImprovedRecall(k=3), Coverage(k=3)):
        assert metric.evaluate(inputs).value == 1.0  # each record sits at the centre of its own ball
    range_cov = RangeCoverage().evaluate(inputs)
    assert math.isnan(range_cov.value) or range_cov.value == 1.0  # NaN: every number column constant
    corr = CorrelationDifference().evaluate(inputs)
    assert math.isnan(corr.value) or corr.value < 1e-9


@SETTINGS
@given(tables(), tables())
def test_values_stay_in_their_ranges(real: pd.DataFrame, syn: pd.DataFrame) -> None:
    inputs = _inputs(real, syn)
    for metric in (
        KsStatistic(),
        TotalVariation(),
        JensenShannon(),
        ContingencySimilarity(),
        MutualInformationDifference(),
        CategoryCoverage(),
        ModeCollapse(),
        ImprovedPrecision(k=3),
        ImprovedRecall(k=3),
        Coverage(k=3),
    ):
        r = metric.evaluate(inputs)
        assert 0.0 <= r.value <= 1.0, r
        assert 0.0 <= metric.score(r.value) <= 1.0
    density = Density(k=3).evaluate(inputs).value
    assert 0.0 <= density <= len(real) / 3
    assert Wasserstein().evaluate(inputs).value >= 0.0


@SETTINGS
@given(
    st.lists(st.floats(-50, 50, allow_nan=False), min_size=1, max_size=30),
    st.lists(st.floats(-50, 50, allow_nan=False), min_size=1, max_size=30),
)
def test_one_dimensional_distances_are_symmetric(a: list[float], b: list[float]) -> None:
    x, y = np.array(a), np.array(b)
    assert ks_statistic_1d(x, y) == ks_statistic_1d(y, x)
    assert math.isclose(wasserstein_1d(x, y), wasserstein_1d(y, x), rel_tol=1e-9, abs_tol=1e-9)
    assert 0.0 <= ks_statistic_1d(x, y) <= 1.0


@SETTINGS
@given(st.lists(st.integers(0, 20), min_size=4, max_size=4), st.lists(st.integers(0, 20), min_size=4, max_size=4))
def test_count_distances_are_symmetric_and_bounded(p: list[int], q: list[int]) -> None:
    if sum(p) == 0 or sum(q) == 0:
        return
    a, b = np.array(p, float), np.array(q, float)
    assert math.isclose(total_variation_distance(a, b), total_variation_distance(b, a))
    assert math.isclose(jensen_shannon_distance(a, b), jensen_shannon_distance(b, a), abs_tol=1e-12)
    assert 0.0 <= jensen_shannon_distance(a, b) <= 1.0 + 1e-12


@SETTINGS
@given(st.integers(0, 10_000), st.integers(8, 30), st.integers(8, 30))
def test_precision_of_a_against_b_is_recall_of_b_against_a(seed: int, n: int, m: int) -> None:
    rng = np.random.default_rng(seed)
    a = (rng.integers(0, 3, (n, 2)) / 2).astype(np.float32)
    b = (rng.integers(0, 3, (m, 2)) / 2).astype(np.float32)
    ab, ba = manifold_terms(a, b, k=3), manifold_terms(b, a, k=3)
    assert ab.precision_terms.mean() == ba.recall_terms.mean()
    assert (ab.containing > 0).tolist() == ba.recalled.tolist()
