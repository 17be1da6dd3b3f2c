"""Per-column fidelity: KS, total variation, Wasserstein, Jensen–Shannon against scipy and by hand."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp, wasserstein_distance

from medsyn.evaluate.tabular import (
    JensenShannon,
    KsStatistic,
    TotalVariation,
    Wasserstein,
    jensen_shannon_distance,
    ks_statistic_1d,
    total_variation_distance,
    wasserstein_1d,
)
from medsyn.metric import Status
from tests.evaluate.tabular.conftest import inputs_of

RNG = np.random.default_rng(0)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (RNG.normal(size=200), RNG.normal(0.3, 1.2, size=150)),
        (RNG.integers(0, 5, 300).astype(float), RNG.integers(0, 6, 100).astype(float)),  # many ties
        (np.array([1.0]), np.array([2.0, 3.0])),
    ],
)
def test_one_dimensional_distances_equal_scipy(a: np.ndarray, b: np.ndarray) -> None:
    assert ks_statistic_1d(a, b) == pytest.approx(ks_2samp(a, b).statistic, abs=1e-12)
    assert wasserstein_1d(a, b) == pytest.approx(wasserstein_distance(a, b), abs=1e-12)


def test_count_distances_equal_scipy_and_hand_values() -> None:
    p, q = np.array([5.0, 3.0, 2.0, 0.0]), np.array([1.0, 1.0, 1.0, 1.0])
    assert jensen_shannon_distance(p, q) == pytest.approx(jensenshannon(p, q, base=2), abs=1e-12)
    assert total_variation_distance(p, q) == pytest.approx(0.5 * (0.25 + 0.05 + 0.05 + 0.25))
    assert jensen_shannon_distance(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)


def _sdmetrics_tv_complement(real: pd.Series, synthetic: pd.Series) -> float:
    """SDMetrics 0.32 TVComplement, transcribed (utils.get_frequencies + the sum)."""
    r, s = Counter(real.dropna()), Counter(synthetic.dropna())
    for value in s:
        if value not in r:
            r[value] += 1e-6
    f_obs = [s[v] / sum(s.values()) for v in r]
    f_exp = [r[v] / sum(r.values()) for v in r]
    return 1 - 0.5 * sum(abs(o - e) for o, e in zip(f_obs, f_exp, strict=True))


def test_tiny_table_by_hand() -> None:
    real = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "c": ["a", "a", "b", "c"]})
    syn = pd.DataFrame({"x": [1.0, 2.0, 3.0, 5.0], "c": ["a", "b", "b", "d"]})
    inputs = inputs_of(real, syn)
    ks = KsStatistic().evaluate(inputs)
    assert ks.value == pytest.approx(0.25)
    assert [i.key for i in ks.items] == ["x"]
    assert ks.details["ks_complement"] == pytest.approx(0.75)
    w = Wasserstein().evaluate(inputs)
    assert w.value == pytest.approx(wasserstein_distance([0, 1 / 3, 2 / 3, 1], [0, 1 / 3, 2 / 3, 4 / 3]))
    tv = TotalVariation().evaluate(inputs)
    by_column = {i.key: i.value for i in tv.items}
    # c: real a .5 b .25 c .25, synthetic a .25 b .5 d .25 (an unseen category counts) -> TV .5
    assert by_column["c"] == pytest.approx(0.5)
    assert 1 - by_column["c"] == pytest.approx(_sdmetrics_tv_complement(real["c"], syn["c"]))
    js = JensenShannon().evaluate(inputs)
    expect = jensenshannon([0.5, 0.25, 0.25, 0.0], [0.25, 0.5, 0.0, 0.25], base=2)
    assert {i.key: i.value for i in js.items}["c"] == pytest.approx(expect)


def test_total_variation_matches_sdmetrics_on_a_real_categorical_column(actg_inputs) -> None:  # type: ignore[no-untyped-def]
    tv = TotalVariation().evaluate(actg_inputs)
    real, syn = actg_inputs.frame("real"), actg_inputs.frame("synthetic")
    for item in tv.items:
        if item.key in ("race", "gender", "arms", "strat"):
            assert 1 - item.value == pytest.approx(_sdmetrics_tv_complement(real[item.key], syn[item.key]), abs=1e-9)


def test_missing_values_are_reported_not_dropped_silently() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=200)
    real = pd.DataFrame({"x": x, "c": rng.choice(["a", "b"], 200)})
    syn = real.copy()
    syn.loc[:59, "x"] = np.nan  # 30 % missing where the real column has none
    syn.loc[:59, "c"] = None
    inputs = inputs_of(real, syn)
    ks = KsStatistic().evaluate(inputs)
    item = ks.items[0]
    assert item.details["missing_synthetic"] == pytest.approx(0.3)
    assert "compared separately" in item.note
    assert ks.value == pytest.approx(ks_2samp(x, x[60:]).statistic)
    js = {i.key: i for i in JensenShannon().evaluate(inputs).items}
    tv = {i.key: i for i in TotalVariation().evaluate(inputs).items}
    # Jensen–Shannon counts "missing" as a value, so the 30 % gap shows; TV (SDMetrics) compares observed values
    assert js["c"].value > 0.2
    assert tv["c"].details["missing_synthetic"] == pytest.approx(0.3)
    assert any("missing" in n.message for n in inputs.notes)


def test_all_missing_synthetic_column_counts_as_largest_difference() -> None:
    real = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0], "y": [1.0, 1.0, 2.0, 2.0, 3.0]})
    syn = pd.DataFrame({"x": [np.nan] * 5, "y": [1.0, 1.0, 2.0, 2.0, 3.0]})
    inputs = inputs_of(real, syn)
    for metric in (KsStatistic(), Wasserstein(), TotalVariation()):
        items = {i.key: i for i in metric.evaluate(inputs).items}
        assert items["x"].value == 1.0
        assert "all missing" in items["x"].note
        assert items["y"].value == 0.0


def test_constant_columns_compare_cleanly() -> None:
    real = pd.DataFrame({"k": [7.0] * 10, "x": np.arange(10.0)})
    same = inputs_of(real, real.copy())
    assert KsStatistic().evaluate(same).value == 0.0
    moved = real.copy()
    moved["k"] = 8.0
    items = {i.key: i.value for i in KsStatistic().evaluate(inputs_of(real, moved)).items}
    assert items["k"] == 1.0
    assert math.isfinite(Wasserstein().evaluate(inputs_of(real, moved)).value)


def test_real_split_is_near_ideal_with_ci_around_the_value(actg_inputs) -> None:  # type: ignore[no-untyped-def]
    for metric in (KsStatistic(), TotalVariation(), Wasserstein(), JensenShannon()):
        r = metric.evaluate(actg_inputs)
        assert r.status is Status.PASS, r
        assert r.ci is not None
        assert r.ci[0] <= r.value <= r.ci[1]
        assert len(r.replicates) == actg_inputs.n_bootstrap
        assert r.details["worst_column"] in {i.key for i in r.items}


def test_noise_raises_every_per_column_distance(actg_inputs, actg_noisy_inputs) -> None:  # type: ignore[no-untyped-def]
    for metric in (KsStatistic(), TotalVariation(), Wasserstein(), JensenShannon()):
        clean, dirty = metric.evaluate(actg_inputs), metric.evaluate(actg_noisy_inputs)
        assert dirty.value > max(2 * clean.value, clean.value + 0.015), (metric.name, clean.value, dirty.value)


def test_bootstrap_on_a_sample_rescales_the_spread() -> None:
    rng = np.random.default_rng(5)
    real = pd.DataFrame({"x": rng.normal(size=3000)})
    syn = pd.DataFrame({"x": rng.normal(0.1, 1.0, size=3000)})
    inputs = inputs_of(real, syn)
    full = KsStatistic(bootstrap_records=5000).evaluate(inputs)
    sampled = KsStatistic(bootstrap_records=1000).evaluate(inputs)
    assert full.value == sampled.value  # the value always uses every record
    assert full.ci is not None
    assert sampled.ci is not None
    width_full, width_sampled = full.ci[1] - full.ci[0], sampled.ci[1] - sampled.ci[0]
    assert 0.4 < width_sampled / width_full < 2.5
