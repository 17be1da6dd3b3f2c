"""Shared helpers: the per-column codes cache, protected groups and age bands."""

from __future__ import annotations

import numpy as np
import pandas as pd

from medsyn.data.schema import Field, FieldType, Role
from medsyn.quality.tabular._common import factorized, group_codes, missing_mask


def test_codes_are_shared_and_refreshed_when_the_column_changes() -> None:
    frame = pd.DataFrame({"race": ["A", "B", None, "A"] * 50})
    first = factorized(frame, "race")
    assert factorized(frame, "race") is first
    assert first.counts().tolist() == [100, 50]
    frame["race"] = ["C"] * 200  # a replaced column is factorised again
    again = factorized(frame, "race")
    assert again is not first
    assert again.uniques.tolist() == ["C"]
    assert missing_mask(frame, "race").sum() == 0


def test_age_bands_and_readable_labels() -> None:
    age = Field("age", FieldType.NUMERIC, (Role.PROTECTED,), unit="years")
    g = group_codes(pd.Series([5.0, 18.0, 39.9, 40.0, 64.0, 65.0, 79.0, 80.0, np.nan]), age)
    assert [g.labels[c] if c >= 0 else None for c in g.codes] == [
        "<18",
        "18–39",
        "18–39",
        "40–64",
        "40–64",
        "65–79",
        "65–79",
        "80+",
        None,
    ]
    sex = Field("sex", FieldType.BOOLEAN, (Role.PROTECTED,))
    assert group_codes(pd.Series([1.0, 0.0, 1.0]), sex).labels == ("0", "1")


def test_other_numeric_protected_fields_get_quartiles() -> None:
    income = Field("income", FieldType.NUMERIC, (Role.PROTECTED,))
    g = group_codes(pd.Series(np.arange(100.0)), income)
    assert len(g.labels) == 4
    assert g.counts().tolist() == [25, 25, 25, 25]


def test_shared_codes_give_the_same_sorted_groups() -> None:
    sex = Field("sex", FieldType.CATEGORICAL, (Role.PROTECTED,))
    frame = pd.DataFrame({"sex": ["M", None, "F", "M", "X"]})
    plain = group_codes(frame["sex"], sex)
    reused = group_codes(frame["sex"], sex, shared=factorized(frame, "sex"))
    assert plain.labels == reused.labels == ("F", "M", "X")
    assert plain.codes.tolist() == reused.codes.tolist() == [1, -1, 0, 1, 2]
