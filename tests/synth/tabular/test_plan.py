"""The table plan: model table in, original table out; privacy rules; identifier formats."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medsyn.data import Field, FieldType, Role, Schema, TabularDataset
from medsyn.errors import InputError
from medsyn.synth.tabular import TablePlan
from medsyn.synth.tabular._plan import MISSING, _fresh_identifiers, _learn_identifier


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "mrn": ["MRN-0001", "MRN-0002", "MRN-0003", "MRN-0004"],
            "age": [70, 81, 65, 90],
            "weight": [70.5, np.nan, 80.25, 60.0],
            "sex": pd.Categorical(["F", "M", None, "F"]),
            "smoker": ["yes", "no", "yes", "no"],
            "visit": pd.to_datetime(["2020-01-01", "2020-02-03", "2021-05-06", "2019-12-31"]),
            "site": ["A", "A", "A", "A"],
        }
    )


def test_model_table_has_only_numbers_and_categories() -> None:
    df = _table()
    plan = TablePlan.learn(df, TabularDataset(df).schema)
    model = plan.encode(df, np.random.default_rng(0))
    assert [c.name for c in plan.model_columns] == list(model.columns)
    assert "mrn" not in model
    assert "site" not in model
    assert not model.isna().any().any()
    assert list(model["weight__missing"]) == ["0", "1", "0", "0"]
    assert model["sex"].cat.categories.tolist() == ["F", "M", MISSING]
    assert model["smoker"].cat.categories.tolist() == ["False", "True"]


def test_decode_restores_types_resolution_and_spelling() -> None:
    df = _table()
    plan = TablePlan.learn(df, TabularDataset(df).schema)
    rng = np.random.default_rng(0)
    back = plan.decode(plan.encode(df, rng), rng)
    assert back.dtypes.astype(str).to_dict() == df.dtypes.astype(str).to_dict()
    pd.testing.assert_frame_equal(back.drop(columns="mrn"), df.drop(columns="mrn"), check_categorical=False)
    assert not set(back["mrn"]) & set(df["mrn"])
    assert back["mrn"].str.fullmatch(r"MRN-\d{4,}").all()


def test_numeric_identifiers_continue_above_the_training_maximum() -> None:
    plan = _learn_identifier(pd.Series([5, 17, 3]), Field("id", FieldType.IDENTIFIER), False, "int64")
    ids = _fresh_identifiers(plan, 5, np.random.default_rng(0), 0)
    assert sorted(ids) == [18, 19, 20, 21, 22]


def test_private_plan_takes_bounds_and_categories_from_the_schema() -> None:
    df = _table()[["age", "sex"]]
    schema = Schema(
        (
            Field("age", FieldType.INTEGER, (Role.PROTECTED,)),
            Field("sex", FieldType.CATEGORICAL, (Role.PROTECTED,)),
        )
    )
    with pytest.raises(InputError) as info:
        TablePlan.learn(df, schema, private=True)
    text = str(info.value)
    assert "column 'age': no minimum/maximum in the schema" in text
    assert "column 'sex'" in text
    fixed = schema.with_overrides(
        {"fields": {"age": {"minimum": 0, "maximum": 120}, "sex": {"categories": ["F", "M", "X"]}}}
    )
    plan = TablePlan.learn(df, fixed, private=True)
    assert plan.plan("age").low == 0
    assert plan.plan("age").high == 120
    assert plan.plan("sex").categories == ("F", "M", "X")  # 'X' never occurs in the data: nothing leaks
    assert plan.plan("age").has_missing  # nullable fields keep a missing indicator whatever the data


def test_all_missing_column_is_named() -> None:
    df = _table().assign(empty=np.nan)
    with pytest.raises(InputError, match="column 'empty': every value missing"):
        TablePlan.learn(df, TabularDataset(df).schema)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: round(x, 3))), min_size=3, max_size=40
    )
)
def test_numeric_round_trip_keeps_values_and_missingness(values: list[float | None]) -> None:
    df = pd.DataFrame({"x": pd.Series(values, dtype="float64"), "y": np.arange(len(values)) % 2})
    if df["x"].isna().all() or df["x"].nunique() < 2:
        return
    plan = TablePlan.learn(df, TabularDataset(df).schema)
    rng = np.random.default_rng(0)
    back = plan.decode(plan.encode(df, rng), rng)
    pd.testing.assert_series_equal(back["x"], df["x"], check_exact=False, atol=1e-9)
