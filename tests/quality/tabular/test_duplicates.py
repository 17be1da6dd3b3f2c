"""Exact and near-duplicate rows: a pasted block of real records is found, the clean table is not flagged."""

from __future__ import annotations

import numpy as np
import pandas as pd

from medsyn.data import TabularDataset
from medsyn.metric import Status
from medsyn.quality.tabular import DuplicateRows, NearDuplicateRows
from medsyn.quality.tabular._duplicates import row_hashes
from tests.quality.tabular.conftest import variant


def _with_copied_block(ds: TabularDataset, start: int, size: int) -> pd.DataFrame:
    block = ds.data.iloc[start : start + size].copy()
    block["pidnum"] = np.arange(900_000, 900_000 + size)  # re-entered records get new ids
    block["unnamed_0"] = np.arange(len(ds), len(ds) + size)
    return pd.concat([ds.data, block], ignore_index=True)


def test_clean_actg_has_no_duplicates(actg: TabularDataset) -> None:
    assert DuplicateRows().compute(actg).status is Status.PASS
    assert NearDuplicateRows().compute(actg).status is Status.PASS


def test_duplicated_block_with_new_ids_is_found(actg: TabularDataset) -> None:
    res = DuplicateRows().compute(variant(actg, _with_copied_block(actg, 100, 60)))
    assert res.details["duplicate_rows"] == 60
    assert res.status is Status.WARN
    assert "pidnum" in str(res.details["ignored_identifiers"])
    first = res.items[0]
    assert first.scope == "record"
    assert int(first.key) in range(100, 160)


def test_large_duplicated_block_fails(actg: TabularDataset) -> None:
    res = DuplicateRows().compute(variant(actg, _with_copied_block(actg, 0, 300)))
    assert res.status is Status.FAIL
    assert res.value == 300 / (len(actg) + 300)


def test_rounded_copies_are_near_not_exact_duplicates(actg: TabularDataset) -> None:
    frame = _with_copied_block(actg, 500, 40)
    frame.loc[len(actg) :, "wtkg"] += 1e-4  # the copy was re-typed with a rounding difference
    ds = variant(actg, frame)
    assert DuplicateRows().compute(ds).details["duplicate_rows"] == 0
    near = NearDuplicateRows().compute(ds)
    assert near.details["near_duplicate_rows"] == 40
    assert near.status is Status.WARN


def test_case_and_space_changes_are_near_duplicates(icu: TabularDataset) -> None:
    block = icu.data.iloc[:30].copy()
    block["sex"] = block["sex"].str.upper()
    block["race"] = block["race"].astype(str) + "  "
    ds = variant(icu, pd.concat([icu.data, block], ignore_index=True))
    assert DuplicateRows().compute(ds).details["duplicate_rows"] == 0
    assert NearDuplicateRows().compute(ds).details["near_duplicate_rows"] == 30


def test_row_hashes_treat_nan_alike_and_keep_order() -> None:
    frame = pd.DataFrame({"a": [1.0, np.nan, 1.0, np.nan, 2.0], "b": ["x", None, "x", None, "x"], "c": [0, 1, 0, 1, 0]})
    h = row_hashes(frame, ["a", "b", "c"])
    assert h[0] == h[2]
    assert h[1] == h[3]
    assert len({h[0], h[1], h[4]}) == 3
    swapped = pd.DataFrame({"a": [1, 2], "b": [2, 1]})
    hs = row_hashes(swapped, ["a", "b"])
    assert hs[0] != hs[1]


def test_one_row_is_skipped() -> None:
    res = DuplicateRows().compute(TabularDataset(pd.DataFrame({"x": [1.0]})))
    assert res.status is Status.SKIPPED
