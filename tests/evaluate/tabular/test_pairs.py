"""Pairwise fidelity: correlations, contingency tables and mutual information, against pandas/sklearn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import normalized_mutual_info_score

from medsyn.evaluate import EvalInputs
from medsyn.evaluate.tabular import (
    ContingencySimilarity,
    CorrelationDifference,
    MutualInformationDifference,
    normalized_mutual_information,
    pairwise_correlation,
)
from medsyn.metric import Status
from tests.evaluate.tabular.conftest import inputs_of


def test_pairwise_correlation_equals_pandas_pairwise_complete() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4))
    x[:, 1] += 0.8 * x[:, 0]
    x[rng.random((300, 4)) < 0.15] = np.nan
    expect = pd.DataFrame(x).corr().to_numpy()
    assert np.allclose(pairwise_correlation(x), expect, atol=1e-10)
    # weights are multiplicities: weight 2 = the row twice
    w = rng.integers(0, 3, 300).astype(float)
    repeated = np.repeat(x, w.astype(int), axis=0)
    assert np.allclose(pairwise_correlation(x, w), pd.DataFrame(repeated).corr().to_numpy(), atol=1e-10)
    # no missing value and no weights: the one-product path, equal to pandas and to the weighted path
    full = rng.normal(size=(300, 4))
    full[:, 2] = 3.0 - 0.5 * full[:, 1]
    fast = pairwise_correlation(full)
    assert np.allclose(fast, pd.DataFrame(full).corr().to_numpy(), atol=1e-12)
    assert np.allclose(fast, pairwise_correlation(full, np.ones(300)), atol=1e-14)


def test_constant_column_has_no_correlation() -> None:
    x = np.column_stack([np.arange(10.0), np.full(10, 3.0)])
    c = pairwise_correlation(x)
    assert np.isnan(c[0, 1])
    assert np.isnan(c[1, 0])


def test_normalised_mutual_information_equals_sklearn() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 4, 500)
    b = (a + rng.integers(0, 2, 500)) % 5
    assert normalized_mutual_information(a, b) == pytest.approx(normalized_mutual_info_score(a, b), abs=1e-12)
    c = rng.integers(0, 7, 500)
    assert normalized_mutual_information(a, c) == pytest.approx(normalized_mutual_info_score(a, c), abs=1e-12)
    # deliberate difference: two constant columns share no information (sklearn says 1.0)
    assert normalized_mutual_information(np.zeros(9, int), np.zeros(9, int)) == 0.0


def test_correlation_difference_by_hand_and_sdmetrics_similarity() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=400)
    real = pd.DataFrame({"x": x, "y": x + rng.normal(scale=0.5, size=400), "z": rng.normal(size=400)})
    syn = pd.DataFrame({"x": x, "y": rng.normal(size=400), "z": rng.normal(size=400)})
    r = CorrelationDifference().evaluate(inputs_of(real, syn))
    items = {i.key: i for i in r.items}
    expect = abs(real["x"].corr(real["y"]) - syn["x"].corr(syn["y"]))
    assert items["x ~ y"].value == pytest.approx(expect)
    assert items["x ~ y"].details["correlation_similarity"] == pytest.approx(1 - expect / 2)
    assert r.details["worst_pair"] == "x ~ y"
    assert r.value == pytest.approx(np.mean([i.value for i in r.items]))
    spearman = CorrelationDifference(method="spearman").evaluate(inputs_of(real, syn))
    exp_s = abs(spearmanr(real["x"], real["y"]).statistic - spearmanr(syn["x"], syn["y"]).statistic)
    assert {i.key: i.value for i in spearman.items}["x ~ y"] == pytest.approx(exp_s)


def test_collapsed_synthetic_column_is_penalised_and_constant_real_column_left_out() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=200)
    real = pd.DataFrame({"x": x, "y": x + rng.normal(size=200), "k": np.full(200, 3.5)})
    syn = real.copy()
    syn["y"] = 0.5
    r = CorrelationDifference().evaluate(inputs_of(real, syn))
    item = next(i for i in r.items if i.key == "x ~ y")
    assert item.value == pytest.approx(abs(real["x"].corr(real["y"])))
    assert "taken as 0" in item.note
    assert r.details["pairs_undefined_in_real"] == 2  # k is constant in the real data
    assert r.details["pairs_undefined_in_synthetic"] == 1


def _sdmetrics_contingency(real: pd.DataFrame, syn: pd.DataFrame) -> float:
    """SDMetrics 0.32 ContingencySimilarity.compute_breakdown for two categorical columns, transcribed."""
    cols = list(real.columns)
    cr = real.groupby(cols, dropna=False).size() / len(real)
    cs = syn.groupby(cols, dropna=False).size() / len(syn)
    index = cr.index.union(cs.index, sort=False).drop_duplicates()
    diff = (cr.reindex(index, fill_value=0) - cs.reindex(index, fill_value=0)).abs().fillna(0)
    return float(1 - (diff / 2).sum())


def test_contingency_similarity_equals_sdmetrics_on_categorical_pairs(actg_inputs: EvalInputs) -> None:
    r = ContingencySimilarity().evaluate(actg_inputs)
    real, syn = actg_inputs.frame("real"), actg_inputs.frame("synthetic")
    items = {i.key: i.value for i in r.items}
    for a, b in (("race", "gender"), ("hemo", "homo"), ("treat", "offtrt")):
        key = f"{a} ~ {b}"
        if key in items:
            assert items[key] == pytest.approx(_sdmetrics_contingency(real[[a, b]], syn[[a, b]]), abs=1e-12)


def test_contingency_with_missing_and_unseen_categories_by_hand() -> None:
    real = pd.DataFrame({"a": ["x", "x", "y", "y"], "b": ["p", "q", "p", None]})
    syn = pd.DataFrame({"a": ["x", "z", "y", "y"], "b": ["p", "q", None, None]})
    r = ContingencySimilarity().evaluate(inputs_of(real, syn))
    assert r.value == pytest.approx(_sdmetrics_contingency(real, syn))


def test_independent_synthetic_columns_lose_mutual_information(actg_inputs: EvalInputs) -> None:
    real, other = actg_inputs.real, actg_inputs.synthetic
    frame = other.attributes.copy()
    rng = np.random.default_rng(4)
    for column in frame.columns:  # shuffling each column keeps every marginal, breaks every relation
        frame[column] = rng.permutation(frame[column].to_numpy())
    shuffled = EvalInputs.build(real, type(other)(frame, other.schema), n_bootstrap=20)
    for metric in (MutualInformationDifference(), CorrelationDifference()):
        clean, broken = metric.evaluate(actg_inputs), metric.evaluate(shuffled)
        assert broken.value > 2 * clean.value, metric.name
    assert ContingencySimilarity().evaluate(shuffled).value < ContingencySimilarity().evaluate(actg_inputs).value - 0.01


def test_wide_tables_sample_pairs_with_a_fixed_seed(actg_inputs: EvalInputs) -> None:
    a = MutualInformationDifference(max_pairs=40).evaluate(actg_inputs)
    b = MutualInformationDifference(max_pairs=40).evaluate(actg_inputs)
    assert a.details["pairs_measured"] == 40
    assert a.details["pairs_sampled"] is True
    assert a.value == b.value
    assert [i.key for i in a.items] == [i.key for i in b.items]


def test_real_split_passes_with_ci_around_value(actg_inputs: EvalInputs) -> None:
    for metric in (CorrelationDifference(), ContingencySimilarity(), MutualInformationDifference()):
        r = metric.evaluate(actg_inputs)
        assert r.status is Status.PASS, r
        assert r.ci is not None
        assert r.ci[0] <= r.value <= r.ci[1]
        assert len(r.replicates) == actg_inputs.n_bootstrap
