"""Per-protected-group metrics: generated from the table of base metrics, and finding the corrupted group."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from medsyn.data import TabularDataset
from medsyn.evaluate import EvalInputs
from medsyn.evaluate.tabular import BY_GROUP, BY_GROUP_BASES, GroupedMetric, KsStatistic
from medsyn.metric import METRICS, MetricKind, Status, get_metric
from tests.evaluate.tabular.conftest import inputs_of, noisy


def test_one_registered_metric_per_base_metric() -> None:
    assert set(BY_GROUP) == {f"{b.name}_by_group" for b in BY_GROUP_BASES}
    # per column, per pair and multivariate are all covered
    assert {"ks_statistic", "contingency_similarity", "detection_auc", "improved_precision"} <= {
        b.name for b in BY_GROUP_BASES
    }
    for name, cls in BY_GROUP.items():
        assert get_metric(name) is cls
        assert name in METRICS
        assert issubclass(cls, GroupedMetric)
        assert cls.needs_groups
        assert not cls.scored
        assert cls.kind is MetricKind.FIDELITY
        assert cls.direction is cls.base.direction
        assert cls.ideal == cls.base.ideal
        assert cls.describe().startswith(cls.base.title)


@pytest.fixture(scope="module")
def women_corrupted(actg_inputs: EvalInputs) -> EvalInputs:
    """The synthetic half with noise added to the women's records only (gender 0 = female in ACTG 175)."""
    syn = actg_inputs.synthetic
    assert isinstance(syn, TabularDataset)
    women = np.flatnonzero(syn.attributes["gender"].to_numpy() == 0)
    bad = noisy(syn.select(women), scale=1.5, flip=0.5, seed=7).attributes
    frame = syn.attributes.copy()
    frame.iloc[women] = bad.to_numpy()
    corrupted = TabularDataset(frame.astype(syn.attributes.dtypes.to_dict()), syn.schema)
    return EvalInputs.build(actg_inputs.real, corrupted, n_bootstrap=30)


@pytest.mark.parametrize("name", ["ks_statistic_by_group", "total_variation_by_group", "improved_precision_by_group"])
def test_the_corrupted_group_is_the_worst(women_corrupted: EvalInputs, name: str) -> None:
    r = BY_GROUP[name]().evaluate(women_corrupted)
    assert r.details["worst_group"] == "gender=0", r
    groups = {i.key: i for i in r.items}
    assert {"gender=0", "gender=1", "race=0", "race=1"} <= set(groups)
    men = groups["gender=1"].value
    women = groups["gender=0"].value
    assert abs(women - r.ideal) > abs(men - r.ideal) + 0.05
    assert r.value == women
    assert r.ci is not None
    assert r.ci[0] <= r.value <= r.ci[1]
    assert groups["gender=0"].details["real_records"] > 100


def test_overall_value_and_gap_are_reported(women_corrupted: EvalInputs) -> None:
    r = BY_GROUP["ks_statistic_by_group"]().evaluate(women_corrupted)
    overall = KsStatistic().evaluate(women_corrupted)
    assert r.details["overall_value"] == overall.value
    assert r.details["gap_to_overall"] == pytest.approx(r.value - overall.value)


def test_small_groups_are_listed_with_the_reason() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=120), "site": ["a"] * 100 + ["b"] * 20})
    r = BY_GROUP["ks_statistic_by_group"](min_records=30).evaluate(
        inputs_of(frame, frame.sample(frac=1.0, random_state=1), protected=["site"])
    )
    items = {i.key: i for i in r.items}
    assert items["site=b"].status is Status.SKIPPED
    assert "not measured" in items["site=b"].note
    assert items["site=a"].value == pytest.approx(0.0)
    assert r.details["groups_not_measured"] == 1


def test_without_protected_columns_the_reason_is_given() -> None:
    frame = pd.DataFrame({"x": np.arange(50.0)})
    r = BY_GROUP["density_by_group"]().evaluate(inputs_of(frame, frame, protected=[]))
    assert r.status is Status.SKIPPED
    assert "protected" in r.reason
    assert math.isnan(r.value)


def test_groups_share_one_restricted_evaluation(actg_inputs: EvalInputs) -> None:
    from medsyn.evaluate.tabular import group_inputs

    groups, _ = actg_inputs.groups()
    assert group_inputs(actg_inputs, groups[0]) is group_inputs(actg_inputs, groups[0])
