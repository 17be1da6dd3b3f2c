"""Privacy metrics on real data: a copy of the training set fails, a disjoint real sample passes.

ACTG 175 (2,139 patients) is split at random into three disjoint thirds: training, holdout, and a
third real sample that plays a perfect "synthetic" set (the generator never saw it, like the
holdout, so every attack should do no better than on the holdout). A copy of the training third
must fail; the training third with noise must land in between.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from medsyn.data import read
from medsyn.data.dataset import TabularDataset
from medsyn.evaluate import EvalInputs, EvalMetric
from medsyn.evaluate.privacy import (
    Authenticity,
    DistanceToClosestRecord,
    ExactCopies,
    MembershipInferenceDistance,
    MembershipInferenceDomias,
    NearestNeighbourDistanceRatio,
)
from medsyn.metric import MetricKind, MetricResult, Status, get_metric, metrics_for
from tests.conftest import shared

pytestmark = pytest.mark.shared_data

PRIVACY = [
    cls.name
    for cls in metrics_for("tabular", MetricKind.PRIVACY)
    if cls.__module__.startswith("medsyn.evaluate.privacy")
]


def _thirds() -> tuple[TabularDataset, TabularDataset, TabularDataset]:
    data = read(shared("actg175_hiv_trial/ACTG175.csv"))
    assert isinstance(data, TabularDataset)
    order = np.random.default_rng(0).permutation(len(data))
    n = len(data) // 3
    return data.select(order[:n]), data.select(order[n : 2 * n]), data.select(order[2 * n :])


def _noisy(data: TabularDataset, scale: float) -> TabularDataset:
    """Gaussian noise of ``scale`` × the column's sd on every number (categories kept)."""
    frame = data.data.copy()
    rng = np.random.default_rng(1)
    for f in data.schema:
        if f.is_numeric and f.role.value != "identifier":
            x = frame[f.name].astype(float)
            frame[f.name] = x + rng.normal(0, scale * x.std(), len(x))
    return TabularDataset(frame, data.schema)


def _evaluate(synthetic: str) -> dict[str, MetricResult]:
    train, holdout, other = _thirds()
    syn = {"copy": train, "disjoint": other, "noisy": _noisy(train, 0.5)}[synthetic]
    inputs = EvalInputs.build(train, syn, holdout, n_bootstrap=50)
    return {
        cls.name: cls().evaluate(inputs) for cls in metrics_for("tabular", MetricKind.PRIVACY) if cls.name in PRIVACY
    }


@pytest.fixture(scope="module")
def copy() -> dict[str, MetricResult]:
    return _evaluate("copy")


@pytest.fixture(scope="module")
def disjoint() -> dict[str, MetricResult]:
    return _evaluate("disjoint")


@pytest.fixture(scope="module")
def noisy() -> dict[str, MetricResult]:
    return _evaluate("noisy")


def test_every_privacy_metric_is_registered_and_runs() -> None:
    assert set(PRIVACY) == {
        "exact_copies",
        "dcr",
        "nndr",
        "authenticity",
        "membership_inference_distance",
        "membership_inference_domias",
        "attribute_inference",
        "singling_out_risk",
        "linkability_risk",
        "inference_risk",
    }


def test_a_copy_of_the_training_set_fails_every_privacy_metric(copy: dict[str, MetricResult]) -> None:
    assert copy["exact_copies"].value == 1.0
    assert copy["exact_copies"].details["count"] == copy["exact_copies"].details["n_synthetic"]
    assert copy["exact_copies"].details["holdout_share"] == 0.0, "ACTG 175 has no natural duplicates"
    assert copy["dcr"].value == 1.0
    assert copy["nndr"].value == 1.0
    assert copy["authenticity"].value == 0.0
    assert copy["membership_inference_distance"].value == 1.0
    assert copy["membership_inference_domias"].value > 0.99
    assert copy["singling_out_risk"].value > 0.9
    assert copy["linkability_risk"].value > 0.9
    assert copy["inference_risk"].value > 0.5
    assert copy["attribute_inference"].value > 0.1
    assert [name for name, r in copy.items() if r.status is not Status.FAIL] == []
    assert [name for name, r in copy.items() if r.ci is None] == []
    assert {
        name: _metric(name).score(r.value) for name, r in copy.items() if _metric(name).score(r.value) >= 0.55
    } == {}


def _metric(name: str) -> EvalMetric:
    metric = get_metric(name)()
    assert isinstance(metric, EvalMetric)
    return metric


def test_a_disjoint_real_sample_sits_at_the_holdout_baseline(disjoint: dict[str, MetricResult]) -> None:
    assert disjoint["exact_copies"].value == 0.0
    for name in ("dcr", "nndr"):
        lo, hi = disjoint[name].ci or (math.nan, math.nan)
        assert lo <= 0.08, name
        assert hi >= 0.02, name
    auth = disjoint["authenticity"]
    assert abs(auth.value - float(auth.details["holdout_share"])) < 0.06
    for name in ("membership_inference_distance", "membership_inference_domias"):
        lo, hi = disjoint[name].ci or (math.nan, math.nan)
        assert lo < 0.5 < hi or abs(disjoint[name].value - 0.5) < 0.05, name
    for name in ("singling_out_risk", "linkability_risk", "inference_risk"):
        lo, _ = disjoint[name].ci or (math.nan, math.nan)
        assert lo == 0.0, f"{name}: risk {disjoint[name].value} not within its CI of 0"
    lo, hi = disjoint["attribute_inference"].ci or (math.nan, math.nan)
    assert lo < 0.0 < hi
    assert all(r.status is not Status.FAIL for r in disjoint.values())


def test_noisy_copies_land_between_a_copy_and_a_real_sample(
    copy: dict[str, MetricResult], noisy: dict[str, MetricResult], disjoint: dict[str, MetricResult]
) -> None:
    assert noisy["exact_copies"].value == 0.0, "noise on every number breaks exact equality"
    for name, lower_is_safer in (
        ("nndr", True),
        ("membership_inference_distance", True),
        ("membership_inference_domias", True),
        ("linkability_risk", True),
        ("authenticity", False),
    ):
        a, b, c = disjoint[name].value, noisy[name].value, copy[name].value
        assert (a < b < c) if lower_is_safer else (a > b > c), (name, a, b, c)


def test_results_serialise_and_carry_replicates(disjoint: dict[str, MetricResult]) -> None:
    json.dumps({k: r.to_dict() for k, r in disjoint.items()}, allow_nan=False)
    for name in ("exact_copies", "dcr", "nndr", "authenticity", "membership_inference_distance", "attribute_inference"):
        assert len(disjoint[name].replicates) == 50, name
    so = disjoint["singling_out_risk"].details
    for key in ("control_ci_high", "baseline_ci_high", "multivariate_control_ci_high", "univariate_attack_rate"):
        assert key in so


def test_without_a_holdout_the_baseline_metrics_are_skipped_with_the_reason() -> None:
    train, _, other = _thirds()
    inputs = EvalInputs.build(train, other)
    for cls in (
        DistanceToClosestRecord,
        NearestNeighbourDistanceRatio,
        MembershipInferenceDistance,
        MembershipInferenceDomias,
    ):
        r = cls().evaluate(inputs)
        assert r.status is Status.SKIPPED
        assert "holdout" in r.reason
    for name in PRIVACY:
        metric = _metric(name)
        assert (metric.evaluate(inputs).status is Status.SKIPPED) == metric.needs_holdout, name
    copies = ExactCopies().evaluate(inputs)
    assert "holdout_share" not in copies.details
    assert "holdout_share" not in Authenticity().evaluate(inputs).details


def test_sampling_large_sides_keeps_the_verdict() -> None:
    """With ``max_records`` below the table size the attacks run on a sample and say so."""
    train, holdout, _ = _thirds()
    inputs = EvalInputs.build(train, train, holdout, n_bootstrap=20)
    r = MembershipInferenceDistance(max_records=200).evaluate(inputs)
    assert r.details["n_members_used"] == 200
    assert r.details["n_non_members_used"] == 200
    assert r.value == 1.0
    d = DistanceToClosestRecord(max_records=150).evaluate(inputs)
    assert d.details["n_synthetic_used"] == 150
    assert d.value == 1.0


@pytest.mark.slow
def test_large_real_table_copy_fails_and_real_sample_passes() -> None:
    """The ACTG tests at scale: 10,000-encounter samples of the diabetes table (48 columns, 380 features)."""
    data = read(shared("diabetes_130us_hospitals/dataset_diabetes.zip/dataset_diabetes/diabetic_data.csv"))
    assert isinstance(data, TabularDataset)
    order = np.random.default_rng(0).permutation(len(data))
    train, holdout, other = (data.select(order[i * 10_000 : (i + 1) * 10_000]) for i in range(3))
    copied, fresh = (
        {name: _metric(name).evaluate(EvalInputs.build(train, syn, holdout, n_bootstrap=20)) for name in PRIVACY}
        for syn in (train, other)
    )
    assert [name for name, r in fresh.items() if r.status is Status.FAIL] == []
    # the quasi-identifiers (race, gender, age band, mostly missing weight) single no one out, so
    # guessing diagnoses from them gains little even from a copy — but more than from a real sample
    assert [name for name, r in copied.items() if r.status is not Status.FAIL] == ["attribute_inference"]
    assert copied["attribute_inference"].value > (fresh["attribute_inference"].ci or (1.0, 1.0))[1]
