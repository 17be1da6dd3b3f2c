"""Values breaking the data dictionary, and mixed types within a column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medsyn.data import TabularDataset
from medsyn.metric import Status
from medsyn.quality.tabular import MixedTypes, SchemaViolations
from tests.quality.tabular.conftest import ACTG, HEART, ICU, PBC, real, variant


@pytest.mark.parametrize("path", [ACTG, HEART, PBC, ICU])
def test_clean_real_tables_fit_their_dictionary(path: str) -> None:
    res = SchemaViolations().compute(real(path))
    assert res.status is Status.PASS
    assert res.value == 0.0


def test_out_of_range_and_implausible_values(heart: TabularDataset) -> None:
    frame = heart.data.copy()
    frame.loc[[3, 9, 27], "chol"] = 2000
    frame.loc[[5, 6], "age"] = 150
    res = SchemaViolations().compute(variant(heart, frame))
    problems = {(i.details["column"], i.details["problem"]): i for i in res.items}
    assert problems[("chol", "above_maximum")].details["rows"] == 3
    assert problems[("age", "above_maximum")].details["rows"] == 2
    assert problems[("age", "implausible_for_unit")].status is Status.FAIL
    assert ("chol", "implausible_for_unit") not in problems  # mg/dL has no fixed plausible range here
    assert res.status is Status.FAIL
    assert "150" in problems[("age", "implausible_for_unit")].note


def test_unknown_category(icu: TabularDataset) -> None:
    frame = icu.data.copy()
    frame["race"] = frame["race"].astype(object)  # text is read as a categorical; free it to inject a new value
    frame.loc[[1, 2, 3], "race"] = "Martian"
    res = SchemaViolations().compute(variant(icu, frame))
    item = next(i for i in res.items if i.details["problem"] == "unknown_category")
    assert item.details["column"] == "race"
    assert item.details["rows"] == 3
    assert "'Martian'" in item.note


def test_stray_tokens_in_an_integer_field(actg: TabularDataset) -> None:
    frame = actg.data.copy()
    karnof = frame["karnof"].astype(object)
    karnof[[10, 11, 12, 40]] = ["?", "n/a", "?", "unknown"]
    frame["karnof"] = karnof
    ds = variant(actg, frame)
    res = SchemaViolations().compute(ds)
    item = next(i for i in res.items if i.details["problem"] == "wrong_type")
    assert item.details["column"] == "karnof"
    assert item.details["rows"] == 4
    assert item.status is Status.FAIL
    mixed = MixedTypes().compute(ds)
    assert [i.key for i in mixed.flagged()] == ["karnof"]


def test_decimals_in_an_integer_field(actg: TabularDataset) -> None:
    frame = actg.data.copy()
    frame["age"] = frame["age"].astype(float)
    frame.loc[[0, 1], "age"] = [35.5, 41.25]
    res = SchemaViolations().compute(variant(actg, frame))
    item = next(i for i in res.items if i.details["problem"] == "not_integer")
    assert item.details["rows"] == 2


def test_boolean_field_with_other_values(actg: TabularDataset) -> None:
    frame = actg.data.copy()
    frame.loc[[0, 5], "drugs"] = 7
    res = SchemaViolations().compute(variant(actg, frame))
    item = next(i for i in res.items if i.details["column"] == "drugs")
    assert item.details["problem"] == "unknown_category"
    assert item.details["rows"] == 2


def test_mixed_types_clean_and_real_icd_codes(icu: TabularDataset, diabetes_sample: TabularDataset) -> None:
    assert MixedTypes().compute(icu).status is Status.PASS
    res = MixedTypes().compute(diabetes_sample)
    flagged = {i.key for i in res.flagged()}
    assert "diag_1" in flagged  # ICD-9 numbers beside 'V' and 'E' codes
    assert "V" in next(i for i in res.items if i.key == "diag_1").note


def test_python_level_mixed_objects() -> None:
    frame = pd.DataFrame({"x": pd.Series([1, "a", 2.5, "b"] * 5, dtype=object), "y": np.arange(20)})
    res = MixedTypes().compute(TabularDataset(frame))
    assert res.items
    assert res.items[0].key == "x"


def test_mixed_types_skipped_without_text() -> None:
    res = MixedTypes().compute(TabularDataset(pd.DataFrame({"x": [0, 1, 1, 0]})))
    assert res.status is Status.SKIPPED
