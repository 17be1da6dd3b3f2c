"""Correlated pairs, VIF and associated categories."""

from __future__ import annotations

import numpy as np
import pandas as pd

from medsyn.data import TabularDataset
from medsyn.metric import Status
from medsyn.quality.tabular import Collinearity
from tests.quality.tabular.conftest import variant


def test_clean_heart_has_no_redundant_features(heart: TabularDataset) -> None:
    res = Collinearity().compute(heart)
    assert res.status is Status.PASS
    assert res.value < 0.9


def test_cholesterol_in_two_units_is_found(heart: TabularDataset) -> None:
    frame = heart.data.copy()
    noise = np.random.default_rng(5).normal(0, 0.01, len(frame))
    frame["chol_mmol"] = frame["chol"] / 38.67 + noise
    res = Collinearity().compute(TabularDataset(frame))
    pair = next(i for i in res.items if i.scope == "pair")
    assert pair.key == "chol ~ chol_mmol"
    assert pair.details["pearson"] > 0.99  # type: ignore[operator]
    vifs = {i.key for i in res.items if i.scope == "column"}
    assert {"chol", "chol_mmol"} <= vifs
    assert res.status is Status.FAIL


def test_exact_linear_combination_has_infinite_vif(heart: TabularDataset) -> None:
    frame = heart.data.copy()
    frame["bp_plus_hr"] = frame["trestbps"] + frame["thalach"]
    res = Collinearity().compute(TabularDataset(frame))
    assert res.details["max_vif"] == float("inf")
    assert "bp_plus_hr" in {i.key for i in res.items if i.scope == "column"}


def test_categorical_pairs_use_cramers_v(icu: TabularDataset) -> None:
    # Real finding: in the ICU table 'white' is 'race' recoded.
    res = Collinearity().compute(icu)
    pair = next(i for i in res.items if i.key == "race ~ white")
    assert pair.value > 0.99
    kept = [c for c in icu.schema.names if c != "white"]
    clean = variant(icu, icu.data[kept], icu.schema.select(kept))
    assert all(i.key != "race ~ white" for i in Collinearity().compute(clean).items)


def test_single_numeric_feature_has_no_pairs() -> None:
    x = np.random.default_rng(11).normal(size=30)
    ds = TabularDataset(pd.DataFrame({"x": x, "sex": ["F", "M", "F"] * 10}))
    res = Collinearity().compute(ds)
    assert res.status is Status.PASS
    assert res.items == ()
