from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames

from medsyn.data import FieldType, Role, infer_field, infer_schema, read
from tests.conftest import shared


def test_roles_from_medical_column_names() -> None:
    n = 120
    frame = pd.DataFrame(
        {
            "PatientID": [f"H{i:05d}" for i in range(n)],
            "date_of_birth": pd.date_range("1940-01-01", periods=n, freq="90D").strftime("%Y-%m-%d"),
            "Gender": ["Female", "Male", "Male"] * (n // 3),
            "ethnicity": ["A", "B", "C", "D"] * (n // 4),
            "zip": [f"{10000 + i % 7}" for i in range(n)],
            "hba1c": np.linspace(5, 11, n),
            "readmitted": ["NO", "<30", ">30"] * (n // 3),
            "consent_research": ["yes", "no"] * (n // 2),
        }
    )
    s = infer_schema(frame)
    assert s["PatientID"].type is FieldType.IDENTIFIER
    assert s["PatientID"].role is Role.IDENTIFIER
    assert s["date_of_birth"].type is FieldType.DATETIME
    assert s["date_of_birth"].has_role("quasi_identifier")
    assert s["Gender"].has_role("protected")
    assert s["ethnicity"].has_role("protected")
    assert s["zip"].has_role("quasi_identifier")
    assert s["hba1c"].type is FieldType.NUMERIC
    assert s["hba1c"].role is Role.FEATURE
    assert s["readmitted"].role is Role.TARGET
    assert s["consent_research"].has_role("consent")
    assert s["consent_research"].type is FieldType.BOOLEAN
    assert all(f.reason for f in s), "every inferred field says why"


def test_code_columns_named_id_are_not_identifiers() -> None:
    f = infer_field("admission_type_id", pd.Series([1, 2, 3, 1, 2, 3] * 50))
    assert f.role is not Role.IDENTIFIER
    assert f.type is FieldType.INTEGER


def test_mixed_type_column_keeps_every_value_and_says_so() -> None:
    values = pd.Series([str(v) for v in range(250, 330)] * 3 + ["V57", "E878"])
    f = infer_field("diag_1", values)
    assert f.type is FieldType.CATEGORICAL
    assert "mixed types" in (f.reason or "")
    assert "V57" in (f.categories or ())


def test_row_number_column_is_an_identifier() -> None:
    assert infer_field("unnamed_0", pd.Series(range(1, 101))).type is FieldType.IDENTIFIER


def test_all_missing_column_does_not_break_inference() -> None:
    f = infer_field("empty", pd.Series([np.nan] * 10))
    assert f.type is FieldType.NUMERIC
    assert f.minimum is None


def test_real_tables_get_sensible_roles() -> None:
    actg = read(shared("actg175_hiv_trial/ACTG175.csv")).schema
    assert actg["pidnum"].role is Role.IDENTIFIER
    assert {f.name for f in actg.by_role("protected")} == {"age", "race", "gender"}
    assert actg["cens"].role is Role.TARGET
    diabetes = read(shared("diabetes_130us_hospitals/dataset_diabetes.zip/dataset_diabetes/diabetic_data.csv")).schema
    assert {f.name for f in diabetes.by_role("identifier")} == {"encounter_id", "patient_nbr"}
    assert diabetes["readmitted"].role is Role.TARGET
    assert diabetes["age"].type is FieldType.CATEGORICAL
    assert diabetes["age"].has_role("protected")


_cell = st.one_of(st.none(), st.integers(-1000, 1000), st.floats(-1e6, 1e6, allow_nan=False), st.text(max_size=8))


@settings(max_examples=60, deadline=None)
@given(
    data_frames(
        [column("a", elements=_cell, dtype=object), column("b", elements=st.floats(allow_nan=True), dtype=float)]
    )
)
def test_inference_never_fails_and_describes_every_column(frame: pd.DataFrame) -> None:
    s = infer_schema(frame)
    assert s.names == ["a", "b"]
    for f in s:
        assert f.reason
        if f.minimum is not None and f.maximum is not None:
            assert f.minimum <= f.maximum
        if f.categories is not None:
            assert len(set(f.categories)) == len(f.categories)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 120), min_size=2, max_size=60))
def test_integer_ranges_cover_the_data(values: list[int]) -> None:
    f = infer_field("value", pd.Series(values))
    if f.type in {FieldType.INTEGER, FieldType.NUMERIC}:
        assert f.minimum == min(values)
        assert f.maximum == max(values)


@pytest.mark.parametrize(
    ("values", "expected"), [(["Yes", "No", "yes"], FieldType.BOOLEAN), ([0, 1, 1], FieldType.BOOLEAN)]
)
def test_boolean_detection(values: list[object], expected: FieldType) -> None:
    assert infer_field("flag", pd.Series(values)).type is expected


def test_single_letter_columns_are_not_booleans() -> None:
    assert infer_field("sex", pd.Series(["F"] * 20)).type is FieldType.CATEGORICAL
    assert infer_field("flag", pd.Series(["0", "1", "1"])).type is FieldType.BOOLEAN
    assert infer_field("smoker", pd.Series(["Y", "N", "N"])).type is FieldType.BOOLEAN
