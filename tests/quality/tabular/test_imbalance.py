"""Class imbalance of the target."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medsyn.data import TabularDataset
from medsyn.metric import Status
from medsyn.quality.tabular import ClassImbalance
from tests.quality.tabular.conftest import variant


def test_actg_censoring_is_balanced_enough(actg: TabularDataset) -> None:
    res = ClassImbalance().compute(actg)
    assert res.status is Status.PASS
    counts = actg.data["cens"].value_counts()
    assert res.value == counts.max() / counts.min()
    target = next(i for i in res.items if i.scope == "target")
    assert target.details["minority_class"] == "1"
    p = counts.to_numpy() / counts.sum()
    assert target.details["entropy_balance"] == pytest.approx(-(p * np.log(p)).sum() / np.log(2))


def test_rare_outcome_fails(actg: TabularDataset) -> None:
    events = np.flatnonzero(actg.data["cens"].to_numpy() == 1)
    drop = events[40:]  # keep 40 events among ~1,600 non-events
    res = ClassImbalance().compute(variant(actg, actg.data.drop(index=drop)))
    assert res.status is Status.FAIL
    assert "too rare" in res.reason


def test_multiclass_target_warns(pbc: TabularDataset) -> None:
    res = ClassImbalance().compute(pbc)
    assert res.status is Status.WARN
    classes = [i for i in res.items if i.scope == "class"]
    assert sorted(i.key for i in classes) == ["status=0", "status=1", "status=2"]
    assert abs(sum(i.value for i in classes) - 1.0) < 1e-12


def test_single_class_target_fails(actg: TabularDataset) -> None:
    frame = actg.data.copy()
    frame["cens"] = 0
    assert ClassImbalance().compute(variant(actg, frame)).status is Status.FAIL


def test_without_target_or_with_continuous_target_is_skipped(heart: TabularDataset) -> None:
    schema = heart.schema.with_overrides({"fields": {"num": {"role": "feature"}}})
    res = ClassImbalance().compute(heart.with_schema(schema))
    assert res.status is Status.SKIPPED
    assert "target" in res.reason
    cont = TabularDataset(pd.DataFrame({"outcome": np.linspace(0, 1, 50), "x": np.arange(50)}))
    cont = cont.with_schema(cont.schema.with_overrides({"fields": {"outcome": {"role": "target"}}}))
    assert ClassImbalance().compute(cont).status is Status.SKIPPED
