"""Missingness by protected group: finds missing values concentrated in one sex, not random gaps."""

from __future__ import annotations

import numpy as np
import pandas as pd

from medsyn.data import TabularDataset
from medsyn.data.schema import Role
from medsyn.metric import Status
from medsyn.quality.tabular import Missingness, MissingnessByGroup
from tests.quality.tabular.conftest import variant


def test_clean_actg_missingness_is_not_tied_to_a_group(actg: TabularDataset) -> None:
    res = MissingnessByGroup().compute(actg)
    assert res.status is Status.PASS
    assert res.value < 0.10  # cd496 is missing for 37% of patients, evenly across sex, race and age


def test_missing_weight_for_women_only_is_found(actg: TabularDataset) -> None:
    frame = actg.data.copy()
    women = np.flatnonzero(frame["gender"].to_numpy() == 0)
    hidden = np.random.default_rng(1).choice(women, size=int(0.4 * len(women)), replace=False)
    frame.loc[hidden, "wtkg"] = np.nan
    res = MissingnessByGroup().compute(variant(actg, frame))
    assert res.status is Status.FAIL
    top = max(res.items, key=lambda i: i.value)
    assert top.key == "wtkg × gender"
    assert top.details["missing_rate[0]"] == len(hidden) / len(women)
    assert top.details["missing_rate[1]"] == 0.0
    assert "wtkg" in res.reason
    assert "gender" in res.reason


def test_missing_at_random_is_no_alarm(actg: TabularDataset) -> None:
    frame = actg.data.copy()
    rows = np.random.default_rng(2).choice(len(frame), size=len(frame) // 10, replace=False)
    frame.loc[rows, "wtkg"] = np.nan
    res = MissingnessByGroup().compute(variant(actg, frame))
    item = next(i for i in res.items if i.key == "wtkg × gender")
    assert item.status is Status.PASS
    assert res.status is Status.PASS


def test_numeric_age_is_banded(pbc: TabularDataset) -> None:
    res = MissingnessByGroup().compute(pbc)
    ages = [i for i in res.items if i.details["group_field"] == "age"]
    assert ages
    assert any(k.startswith("missing_rate[40–64]") for k in ages[0].details)


def test_no_protected_field_is_skipped_with_reason(heart: TabularDataset) -> None:
    schema = heart.schema.with_overrides({"fields": {"age": {"role": "feature"}, "sex": {"role": "feature"}}})
    res = MissingnessByGroup().compute(heart.with_schema(schema))
    assert res.status is Status.SKIPPED
    assert "protected" in res.reason


def test_no_missing_values_passes() -> None:
    ds = TabularDataset(pd.DataFrame({"sex": ["F", "M"] * 10, "x": np.arange(20.0)}))
    assert ds.schema["sex"].has_role(Role.PROTECTED)
    res = MissingnessByGroup().compute(ds)
    assert res.status is Status.PASS
    assert res.value == 0.0


def test_overall_missingness_uses_shared_codes_for_text(icu: TabularDataset) -> None:
    res = Missingness().compute(icu)
    coma = next(i for i in res.items if i.key == "coma")
    assert coma.value == float(icu.data["coma"].isna().mean())
    assert coma.status is Status.FAIL
