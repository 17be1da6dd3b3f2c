"""Utility metrics on the real ACTG 175 trial: real splits keep skill, shuffled labels lose it."""

from __future__ import annotations

import numpy as np
import pytest

from medsyn.data import TabularDataset, read
from medsyn.evaluate import EvalInputs
from medsyn.evaluate.utility import AugmentationGain, FeatureImportanceAgreement, TstrUtility, TstrUtilityByGroup
from medsyn.evaluate.utility._task import auc, prediction_task
from medsyn.metric import Status
from tests.conftest import shared

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def trial() -> tuple[TabularDataset, np.ndarray]:
    ds = read(shared("actg175_hiv_trial/ACTG175.csv"))
    assert isinstance(ds, TabularDataset)
    order = np.random.default_rng(0).permutation(len(ds))
    return ds, order


def _inputs(ds: TabularDataset, order: np.ndarray, synthetic: TabularDataset | None = None, **kw) -> EvalInputs:
    train, holdout = ds.select(order[:1000]), ds.select(order[1400:])
    syn = synthetic if synthetic is not None else ds.select(order[1000:1400])
    return EvalInputs.build(train, syn, holdout, n_bootstrap=20, **kw)


def _with(ds: TabularDataset, rows: np.ndarray, **columns: np.ndarray) -> TabularDataset:
    frame = ds.data.iloc[rows].reset_index(drop=True).copy()
    for name, values in columns.items():
        frame[name] = values
    return TabularDataset(frame, ds.schema)


def test_fast_auc_matches_sklearn() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400).astype(bool)
    score = rng.integers(0, 6, 400) + y  # many ties
    assert auc(y, score) == pytest.approx(roc_auc_score(y, score))


def test_real_split_keeps_skill_and_shuffled_labels_lose_it(trial) -> None:
    ds, order = trial
    real = TstrUtility().evaluate(_inputs(ds, order, target="cens"))
    assert real.value > 0.8
    assert real.ci is not None
    assert real.ci[0] <= real.value <= real.ci[1]
    assert len(real.replicates) == 20
    rows = order[1000:1400]
    labels = np.random.default_rng(1).permutation(ds.data["cens"].to_numpy()[rows])
    shuffled = TstrUtility().evaluate(_inputs(ds, order, _with(ds, rows, cens=labels), target="cens"))
    assert shuffled.value < 0.35
    assert shuffled.status is Status.FAIL
    assert {i.key for i in real.items} == {"linear", "gradient_boosting"}


def test_one_class_synthetic_data_scores_zero_with_the_reason(trial) -> None:
    ds, order = trial
    rows = order[1000:1400]
    card = TstrUtility().evaluate(_inputs(ds, order, _with(ds, rows, cens=np.zeros(len(rows), int)), target="cens"))
    assert card.value == 0
    assert all("single outcome class" in i.note for i in card.items)


def test_regression_target(trial) -> None:
    ds, order = trial
    result = TstrUtility().evaluate(_inputs(ds, order, target="cd420"))
    assert prediction_task(_inputs(ds, order, target="cd420")).kind == "regression"
    assert result.value > 0.7


def test_skips_say_why(trial) -> None:
    ds, order = trial
    no_holdout = EvalInputs.build(ds.select(order[:500]), ds.select(order[500:900]), target="cens")
    assert "holdout" in TstrUtility().evaluate(no_holdout).reason
    plain = ds.with_schema(ds.schema.with_overrides({"fields": {"cens": {"role": "feature"}}}))
    no_target = _inputs(plain, order)
    assert TstrUtility().evaluate(no_target).status is Status.SKIPPED
    assert "target" in TstrUtility().evaluate(no_target).reason


def test_group_utility_finds_the_group_whose_labels_were_corrupted(trial) -> None:
    ds, order = trial
    rows = order[1000:1400]
    frame = ds.data.iloc[rows]
    labels = frame["cens"].to_numpy().copy()
    women = (frame["gender"] == 0).to_numpy()
    labels[women] = np.random.default_rng(2).permutation(labels[women])
    inputs = _inputs(ds, order, _with(ds, rows, cens=labels), target="cens", protected=["gender"])
    result = TstrUtilityByGroup().evaluate(inputs)
    by_group = {i.key: i.value for i in result.items}
    assert by_group["gender=0"] < by_group["gender=1"]
    assert result.value == by_group["gender=0"]


def test_feature_importances_agree_for_real_data_not_for_shuffled_features(trial) -> None:
    ds, order = trial
    real = FeatureImportanceAgreement().evaluate(_inputs(ds, order, target="cens"))
    assert real.value > 0.5
    rows = order[1000:1400]
    rng = np.random.default_rng(3)
    scrambled = {c: rng.permutation(ds.data[c].to_numpy()[rows]) for c in ("days", "cd420", "cd820", "cd40")}
    broken = FeatureImportanceAgreement().evaluate(_inputs(ds, order, _with(ds, rows, **scrambled), target="cens"))
    assert broken.value < real.value


def test_augmentation_with_wrong_labels_hurts(trial) -> None:
    ds, order = trial
    rows = order[1000:1400]
    flipped = 1 - ds.data["cens"].to_numpy()[rows]
    result = AugmentationGain().evaluate(_inputs(ds, order, _with(ds, rows, cens=flipped), target="cens"))
    assert result.value < -0.05
    assert AugmentationGain().score(result.value) < 0.5
    assert AugmentationGain().score(0.03) == 1.0
