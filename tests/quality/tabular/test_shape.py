"""Constant columns and rows per column."""

from __future__ import annotations

import numpy as np
import pandas as pd

from medsyn.data import TabularDataset
from medsyn.metric import Status
from medsyn.quality.tabular import ConstantColumns, RowsPerColumn
from tests.quality.tabular.conftest import variant


def test_clean_pbc_has_no_constant_column(pbc: TabularDataset) -> None:
    res = ConstantColumns().compute(pbc)
    assert res.status is Status.PASS
    assert res.items == ()


def test_real_constant_site_column_is_found(heart: TabularDataset) -> None:
    res = ConstantColumns().compute(heart)
    assert [i.key for i in res.items] == ["site"]
    assert res.status is Status.WARN


def test_injected_constant_and_near_constant_columns(pbc: TabularDataset) -> None:
    frame = pbc.data.copy()
    frame["centre"] = "Mayo"
    frame["ascites"] = 0
    frame.loc[7, "ascites"] = 1  # one patient of 418 differs: 99.8 % the same
    ds = TabularDataset(frame)
    res = ConstantColumns().compute(ds)
    found = {i.key: i for i in res.items}
    assert set(found) == {"centre", "ascites"}
    assert found["centre"].note.startswith("constant")
    assert found["ascites"].note.startswith("near-constant")


def test_screening_on_large_tables_still_finds_rare_variation(actg: TabularDataset) -> None:
    rows = np.random.default_rng(0).integers(0, len(actg), size=40_000)
    frame = actg.data.iloc[rows].reset_index(drop=True)
    frame["rare"] = 0
    frame.loc[:59, "rare"] = 1  # 0.15 % differ
    res = ConstantColumns().compute(TabularDataset(frame))
    assert {i.key for i in res.items} == {"zprior", "rare"}
    assert res.details["screen_rows"] == 20_000


def test_all_missing_column_is_constant() -> None:
    ds = TabularDataset(pd.DataFrame({"x": np.arange(10.0), "empty": [np.nan] * 10}))
    res = ConstantColumns().compute(ds)
    assert [i.key for i in res.items] == ["empty"]
    assert "no values" in res.items[0].note


def test_rows_per_column(actg: TabularDataset, heart: TabularDataset) -> None:
    ok = RowsPerColumn().compute(actg)
    assert ok.status is Status.PASS
    assert ok.details["feature_columns"] == 25  # two identifiers and the target left out
    small = RowsPerColumn().compute(variant(heart, heart.data.iloc[:20]))
    assert small.status is Status.FAIL
    assert "too few" in small.reason
