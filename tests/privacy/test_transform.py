"""Transformations on real tables: generalise, suppress records or cells, top/bottom-code, microaggregate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medsyn.data import TabularDataset
from medsyn.errors import InputError
from medsyn.privacy import (
    generalize,
    microaggregate,
    suppress_cells,
    suppress_records,
    top_bottom_code,
)
from medsyn.privacy._models import k_anonymity
from tests.conftest import shared


def _whas() -> TabularDataset:
    """WHAS500 (500 real heart-attack patients)."""
    return TabularDataset(pd.read_csv(shared("survival_sets_sksurv_lifelines/whas500.csv")))


def test_generalize_by_level_and_leaves_the_input_alone() -> None:
    ds = _whas()
    before = ds.data.copy()
    out = generalize(ds, {"age": 2, "gender": 0})
    assert out.data["age"].astype(str).str.fullmatch(r"\d+-\d+").all()
    assert (out.data["gender"] == ds.data["gender"]).all()
    assert out.schema["age"].type.value == "categorical"
    pd.testing.assert_frame_equal(ds.data, before)
    with pytest.raises(InputError, match=r"levels\['age'\]"):
        generalize(ds, {"age": 99})
    with pytest.raises(InputError, match="not columns"):
        generalize(ds, {"postcode": 1})


def test_suppress_records_within_the_limit() -> None:
    ds = _whas()
    coarse = generalize(ds, {"age": 3, "bmi": 3})
    out = suppress_records(coarse, ["age", "gender", "bmi"], k=3, max_suppression=0.2)
    assert k_anonymity(out.data, ["age", "gender", "bmi"]).k >= 3
    assert len(out) < len(ds)
    with pytest.raises(InputError, match="classes smaller than 3"):
        suppress_records(ds, ["age", "gender", "bmi"], k=3, max_suppression=0.01)


def test_suppress_cells_until_every_class_has_k() -> None:
    ds = _whas()
    qis = ["age", "gender", "hr"]
    out = suppress_cells(ds, qis, k=4)
    assert len(out) == len(ds)
    assert k_anonymity(out.data, qis).k >= 4
    blanked = (out.data[qis].astype(str) == "*").to_numpy()
    assert blanked.any()
    assert blanked[:, qis.index("hr")].sum() >= blanked[:, qis.index("gender")].sum()  # most distinct first


def test_top_bottom_code() -> None:
    ds = _whas()
    out = top_bottom_code(ds, "age", bottom=40, top=90)
    assert out.data["age"].min() >= 40
    assert out.data["age"].max() <= 90
    assert (out.data["age"] == 90).sum() == (ds.data["age"] >= 90).sum()
    with pytest.raises(InputError, match="bottom ≤ top"):
        top_bottom_code(ds, "age", bottom=90, top=40)


@pytest.mark.parametrize("method", ["mdav", "sorted"])
def test_microaggregation_groups_have_at_least_k_records(method: str) -> None:
    ds = _whas()
    cols = ["age", "bmi", "hr"]
    out = microaggregate(ds, cols, k=5, method=method)
    sizes = out.data.groupby(cols).size()
    assert sizes.min() >= 5
    np.testing.assert_allclose(out.data[cols].mean(), ds.data[cols].mean(), rtol=1e-9)  # group means keep the total
    assert out.data["gender"].equals(ds.data["gender"])
    with pytest.raises(InputError, match="method"):
        microaggregate(ds, cols, k=5, method="kmeans")
