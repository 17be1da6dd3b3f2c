"""Diversity: category and range coverage by hand, mode collapse on real and collapsed data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medsyn.evaluate import EvalInputs
from medsyn.evaluate.tabular import CategoryCoverage, ModeCollapse, RangeCoverage, mode_collapse_indicators
from medsyn.metric import MetricKind, Status
from tests.evaluate.tabular.conftest import inputs_of


def _sdmetrics_range_coverage(real: pd.Series, syn: pd.Series) -> float:
    """SDMetrics 0.32 RangeCoverage.compute, transcribed."""
    min_r, max_r, min_s, max_s = real.min(), real.max(), syn.min(), syn.max()
    normalized_min = max((min_s - min_r) / (max_r - min_r), 0)
    normalized_max = max((max_r - max_s) / (max_r - min_r), 0)
    return float(max(1 - (normalized_min + normalized_max), 0))


def test_category_coverage_by_hand() -> None:
    real = pd.DataFrame({"c": ["a"] * 6 + ["b"] * 3 + ["rare"], "d": ["x", "y"] * 5})
    syn = pd.DataFrame({"c": ["a"] * 5 + ["b"] * 4 + ["new"], "d": ["x", "y"] * 5})
    r = CategoryCoverage().evaluate(inputs_of(real, syn))
    items = {i.key: i for i in r.items}
    assert items["c"].value == pytest.approx(2 / 3)  # 'rare' never appears; 'new' does not count
    assert items["c"].details["record_weighted"] == pytest.approx(0.9)
    assert "rare" in items["c"].note
    assert items["d"].value == 1.0
    assert r.value == pytest.approx((2 / 3 + 1) / 2)
    assert r.kind is MetricKind.DIVERSITY


def test_range_coverage_equals_sdmetrics() -> None:
    rng = np.random.default_rng(0)
    real = pd.DataFrame({"x": rng.normal(size=200), "y": rng.uniform(0, 10, 200)})
    syn = pd.DataFrame({"x": rng.normal(size=200) * 0.5, "y": rng.uniform(2, 14, 200)})
    r = RangeCoverage().evaluate(inputs_of(real, syn))
    for item in r.items:
        assert item.value == pytest.approx(_sdmetrics_range_coverage(real[item.key], syn[item.key]))
    assert r.ci is not None
    assert r.ci[0] <= r.value <= r.ci[1]


def test_range_coverage_stated_handling_of_constant_and_empty_columns() -> None:
    real = pd.DataFrame({"k": [2.5] * 10, "x": np.arange(10.0)})
    syn = pd.DataFrame({"k": [2.5] * 10, "x": [np.nan] * 10})
    r = RangeCoverage().evaluate(inputs_of(real, syn))
    items = {i.key: i for i in r.items}
    assert items["k"].status is Status.SKIPPED
    assert "constant" in items["k"].note
    assert items["x"].value == 0.0
    assert "all missing" in items["x"].note
    assert r.details["columns_skipped"] == 1


def test_no_mode_collapse_on_a_real_split(actg_inputs: EvalInputs) -> None:
    r = ModeCollapse().evaluate(actg_inputs)
    assert r.value < 0.1
    assert r.status is Status.PASS
    keys = {i.key for i in r.items if i.scope == "indicator"}
    assert keys == {"excess_duplicates", "missing_modes"}
    assert r.ci is not None
    assert r.ci[0] <= r.value <= r.ci[1]


def test_collapsed_generator_shows_both_indicators(actg_collapsed_inputs: EvalInputs) -> None:
    m = mode_collapse_indicators(actg_collapsed_inputs)
    assert m.duplicate_share_synthetic > 0.95  # ten distinct records repeated
    assert m.excess_duplicates > 0.95
    assert m.missing_modes >= 1
    r = ModeCollapse().evaluate(actg_collapsed_inputs)
    assert r.value == pytest.approx(max(m.excess_duplicates, m.missing_mode_mass))
    assert r.status is Status.FAIL
    assert m.duplicate_share_synthetic > 0.95


def test_real_duplicates_are_not_blamed_on_the_generator() -> None:
    real = pd.DataFrame({"a": ["x", "y", "z", "w"] * 25, "b": [1, 2] * 50})  # only 4 distinct records
    r = ModeCollapse().evaluate(inputs_of(real, real.sample(frac=1.0, random_state=0)))
    assert r.details["excess_duplicates"] == 0.0
    assert r.value == pytest.approx(0.0, abs=1e-9)


def test_categories_lost_by_the_collapsed_generator(actg_inputs: EvalInputs, actg_collapsed_inputs: EvalInputs) -> None:
    clean = CategoryCoverage().evaluate(actg_inputs)
    lost = CategoryCoverage().evaluate(actg_collapsed_inputs)
    assert clean.value == pytest.approx(1.0)
    assert lost.value < 0.95  # ACTG's categories are mostly binary: ten records still show most of them
    assert RangeCoverage().evaluate(actg_collapsed_inputs).value < RangeCoverage().evaluate(actg_inputs).value - 0.3
