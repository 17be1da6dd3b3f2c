"""Multivariate fidelity and diversity metrics on EvalInputs: PRDC, α/β, detection AUC, MMD."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from medsyn.data import TabularDataset
from medsyn.evaluate import EvalInputs, EvalMetric
from medsyn.evaluate.tabular import (
    AlphaPrecision,
    BetaRecall,
    Coverage,
    Density,
    DetectionAuc,
    ImprovedPrecision,
    ImprovedRecall,
    Mmd,
    median_bandwidth,
    mmd_unbiased,
    prdc,
    weighted_auc,
)
from medsyn.metric import MetricKind, MetricResult, Status
from tests.evaluate.tabular.conftest import inputs_of, noisy

PRDC = (ImprovedPrecision, ImprovedRecall, Density, Coverage)


def test_prdc_metrics_read_the_shared_encoding(actg_inputs: EvalInputs) -> None:
    expect = prdc(actg_inputs.matrix("real"), actg_inputs.matrix("synthetic"), k=5).to_dict()
    got = {cls.name: cls().evaluate(actg_inputs) for cls in PRDC}
    assert got["improved_precision"].value == pytest.approx(expect["precision"])
    assert got["improved_recall"].value == pytest.approx(expect["recall"])
    assert got["density"].value == pytest.approx(expect["density"])
    assert got["coverage"].value == pytest.approx(expect["coverage"])
    assert got["improved_recall"].kind is MetricKind.DIVERSITY
    assert got["coverage"].kind is MetricKind.DIVERSITY
    for r in got.values():
        assert r.ci is not None, r
        assert r.ci[0] <= r.value <= r.ci[1], r
        assert len(r.replicates) == actg_inputs.n_bootstrap
        assert r.details["neighbours"] == "exact"
        assert r.details["sampled"] is False


#: The manifold parts each PRDC metric needs (see ``ManifoldTerms.computed``).
OWN_PARTS = {
    "improved_precision": {"real_radii", "precision"},
    "density": {"real_radii", "density"},
    "improved_recall": {"synthetic_radii", "recall"},
    "coverage": {"real_radii", "nearest_synthetic"},
}


@pytest.fixture(scope="module")
def prdc_together(actg_split: tuple[TabularDataset, TabularDataset]) -> dict[str, MetricResult]:
    inputs = EvalInputs.build(*actg_split, n_bootstrap=20)
    return {cls.name: cls().evaluate(inputs) for cls in PRDC}


@pytest.mark.parametrize("cls", PRDC, ids=lambda c: c.name)
def test_a_prdc_metric_alone_computes_only_its_parts_and_gives_the_shared_result(
    cls: type[EvalMetric], actg_split: tuple[TabularDataset, TabularDataset], prdc_together: dict[str, MetricResult]
) -> None:
    from medsyn.evaluate.tabular import manifold

    inputs = EvalInputs.build(*actg_split, n_bootstrap=20)
    alone = cls().evaluate(inputs)
    assert manifold(inputs).terms.computed() == OWN_PARTS[cls.name]
    shared = prdc_together[cls.name]
    assert (alone.value, alone.ci, alone.details) == (shared.value, shared.ci, shared.details)
    np.testing.assert_array_equal(alone.replicates, shared.replicates)


def test_bootstrap_of_unsampled_terms_is_the_evaluations_shared_bootstrap(actg_inputs: EvalInputs) -> None:
    from medsyn.evaluate.tabular import manifold

    m = manifold(actg_inputs)
    _, reps = actg_inputs.bootstrap_mean(m.terms.precision_terms, "synthetic")
    assert ImprovedPrecision().evaluate(actg_inputs).replicates == pytest.approx(reps)


def test_sampling_is_stated_and_shared(actg_inputs: EvalInputs) -> None:
    a = ImprovedPrecision(max_records=300).evaluate(actg_inputs)
    b = Coverage(max_records=300).evaluate(actg_inputs)
    assert a.details["sampled"] is True
    assert a.details["real_records_used"] == 300
    assert b.details["synthetic_records_used"] == 300
    assert 0.8 < a.value <= 1.0


def test_alpha_precision_and_beta_recall_on_real_split(actg_inputs: EvalInputs) -> None:
    a, b = AlphaPrecision().evaluate(actg_inputs), BetaRecall().evaluate(actg_inputs)
    assert a.kind is MetricKind.FIDELITY
    assert b.kind is MetricKind.DIVERSITY
    assert a.value > 0.9
    assert b.value > 0.9
    for r in (a, b):
        assert r.ci is not None
        assert r.ci[0] <= r.value <= r.ci[1]
    synthcity_rule = BetaRecall(beta_reach="nearest").evaluate(actg_inputs)
    assert synthcity_rule.value < 0.7  # synthcity's rule caps an ideal generator near 0.5


def test_weighted_auc_equals_sklearn_with_ties() -> None:
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 10, 400) / 10
    labels = (rng.random(400) < scores).astype(int)
    assert weighted_auc(scores, labels, np.ones(400))[0] == pytest.approx(roc_auc_score(labels, scores))
    w = rng.integers(0, 3, 400).astype(float)
    expect = roc_auc_score(labels, scores, sample_weight=w)
    assert weighted_auc(scores, labels, w)[0] == pytest.approx(expect)


def test_detection_is_at_chance_on_a_real_split_and_high_on_noise(
    actg_inputs: EvalInputs, actg_noisy_inputs: EvalInputs
) -> None:
    fast = DetectionAuc(models=("gradient_boosting",), folds=3, max_records=400)
    clean, dirty = fast.evaluate(actg_inputs), fast.evaluate(actg_noisy_inputs)
    assert clean.value < 0.6
    assert clean.status is Status.PASS
    assert dirty.value > 0.9  # noise keeps every mean: logistic regression stays near 0.5, the trees do not
    assert DetectionAuc(models=("logistic",), folds=3, max_records=400).evaluate(actg_noisy_inputs).value < 0.6
    assert fast.score(clean.value) > 0.8
    assert fast.score(dirty.value) < fast.score(clean.value)
    assert fast.score(0.4) == 1.0  # below chance is noise around 0.5
    assert clean.ci is not None
    assert clean.ci[0] <= clean.value <= clean.ci[1]
    assert clean.details["records_per_side"] == 400


def test_detection_uses_the_better_model() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=300)
    real = pd.DataFrame({"x": x, "y": x + rng.normal(scale=0.2, size=300)})
    # same marginals, relation broken in a way a linear model cannot see on its own: |y| swapped
    syn = pd.DataFrame({"x": x, "y": np.abs(real["y"]) * np.sign(rng.normal(size=300))})
    r = DetectionAuc(folds=3).evaluate(inputs_of(real, syn))
    models = {i.key: i.value for i in r.items}
    assert set(models) == {"logistic", "gradient_boosting"}
    assert r.value == max(models.values())


def test_mmd_equals_a_direct_computation() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(60, 3)), rng.normal(0.5, 1.0, size=(50, 3))
    sigma = 1.3
    k = lambda a, b: np.exp(-((a[:, None, :] - b[None, :, :]) ** 2).sum(-1) / (2 * sigma**2))  # noqa: E731
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    expect = (kxx.sum() - 60) / (60 * 59) + (kyy.sum() - 50) / (50 * 49) - 2 * kxy.mean()
    est = mmd_unbiased(x, y, bandwidth=sigma)
    assert est.mmd2 == pytest.approx(expect, rel=1e-10)
    # first-order terms average to twice the estimate's two halves
    assert est.real_terms.mean() + est.synthetic_terms.mean() == pytest.approx(2 * expect, rel=1e-10)
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    assert median_bandwidth(x, x[:0], np.random.default_rng(0)) == pytest.approx(np.median(d[np.triu_indices(60, 1)]))


def test_mmd_near_zero_on_real_split_and_grows_with_the_damage(
    actg_inputs: EvalInputs, actg_collapsed_inputs: EvalInputs
) -> None:
    mmd = Mmd(max_records=600)
    real, other = actg_inputs.real, actg_inputs.synthetic
    assert isinstance(other, TabularDataset)
    clean = mmd.evaluate(actg_inputs)
    # the median-heuristic kernel is wide on a mostly categorical encoding: moderate noise moves it a little
    mild = mmd.evaluate(EvalInputs.build(real, noisy(other, scale=1.0, flip=0.5), n_bootstrap=50))
    strong = mmd.evaluate(EvalInputs.build(real, noisy(other, scale=2.0, flip=0.5), n_bootstrap=50))
    collapsed = mmd.evaluate(actg_collapsed_inputs)
    assert abs(clean.value) < 0.002
    assert clean.status is Status.PASS
    assert clean.ci is not None
    assert clean.ci[1] < mild.value < strong.value < collapsed.value
    assert strong.status is Status.FAIL
    assert clean.ci is not None
    assert clean.ci[0] <= clean.value <= clean.ci[1]
    assert mmd.score(clean.value) > mmd.score(strong.value)
    assert mmd.score(2.0) == 0.0
    assert math.isnan(mmd.score(math.nan))


def test_prdc_cautions_when_records_repeat_k_times(actg_split: tuple[TabularDataset, TabularDataset]) -> None:
    """Balls of radius 0 (a record repeated ≥ k times) hold only exact copies: the result says so."""
    real, other = actg_split
    plain = EvalInputs.build(real, other, n_bootstrap=20)
    for cls in PRDC:
        r = cls().evaluate(plain)
        assert r.details["zero_radius_share"] < 0.1
        assert "caution" not in r.details
    repeated = real.select(np.repeat(np.arange(len(real)), 6))  # every real record six times: radius 0
    dup = EvalInputs.build(repeated, other, n_bootstrap=20)
    for cls in (ImprovedPrecision, Density, Coverage):  # the real balls
        r = cls().evaluate(dup)
        assert r.details["zero_radius_share"] == 1.0
        assert "radius 0" in str(r.details["caution"])
        assert "caution:" in r.reason
    assert "caution" not in ImprovedRecall().evaluate(dup).details  # synthetic balls are fine
    collapsed_syn = EvalInputs.build(real, other.select(np.repeat(np.arange(len(other)), 6)), n_bootstrap=20)
    assert ImprovedRecall().evaluate(collapsed_syn).details["zero_radius_share"] == 1.0


def test_grouped_prdc_passes_the_caution_to_the_group(actg_split: tuple[TabularDataset, TabularDataset]) -> None:
    """A group whose sample holds each real record ≥ k times gets the caution beside its (zero) value."""
    from medsyn.metric import get_metric

    real, other = actg_split
    repeated = real.select(np.repeat(np.arange(len(real)), 6))  # women: ~190 records × 6, all in the sample
    inputs = EvalInputs.build(repeated, other, protected=["gender"], n_bootstrap=20)
    items = {i.key: i for i in get_metric("improved_precision_by_group")().evaluate(inputs).items}
    assert items["gender=0"].value == 0.0
    assert "radius 0" in items["gender=0"].note
    assert items["gender=1"].value > 0.5  # men: 2,000 sampled of ~5,300, most records fewer than 5 times
    assert items["gender=1"].note == ""
