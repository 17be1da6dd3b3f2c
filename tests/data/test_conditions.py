"""Conditions: the parser (property-tested round trip), typing against a schema, vectorised masks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medsyn.data import TabularDataset
from medsyn.data.conditions import Condition, Conditions, Op
from medsyn.errors import InputError


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sex": pd.Categorical(["F", "M", None, "F"]),
            "age": [71.0, 80.0, np.nan, 65.0],
            "dx": ["AF", "x", "flutter", "AF"],
            "smoker": [True, False, True, False],
            "admitted": pd.to_datetime(["2020-01-01", "2021-06-01", None, "2019-03-04"]),
        }
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('sex == "F" and age >= 70', [Condition("sex", Op.EQ, "F"), Condition("age", Op.GE, 70.0)]),
        ("sex=F", [Condition("sex", Op.EQ, "F")]),
        ("dx in AF,flutter", [Condition("dx", Op.IN, ("AF", "flutter"))]),
        ('dx not in {"AF"}', [Condition("dx", Op.NOT_IN, ("AF",))]),
        ("40 <= age < 70", [Condition("age", Op.GE, 40.0), Condition("age", Op.LT, 70.0)]),
        ('"F" == sex', [Condition("sex", Op.EQ, "F")]),
        ("age is missing & sex is not missing", [Condition("age", Op.MISSING), Condition("sex", Op.NOT_MISSING)]),
        ("`blood pressure` > 120", [Condition("blood pressure", Op.GT, 120.0)]),
    ],
)
def test_parse_forms(text: str, expected: list[Condition]) -> None:
    assert list(Conditions.parse(text)) == expected


def test_mapping_and_list_forms() -> None:
    c = Conditions.parse({"sex": "F", "dx": ["flutter", "AF"], "age": None})
    assert list(c) == [
        Condition("sex", Op.EQ, "F"),
        Condition("dx", Op.IN, ("AF", "flutter")),
        Condition("age", Op.MISSING),
    ]
    assert Conditions.parse(["sex=F", "age>=70"]).columns == ["sex", "age"]


@pytest.mark.parametrize("bad", ["age >>= 3", "sex == F and", "", "age ~ 3", "dx in {}", "sex is here"])
def test_parse_errors_point_at_the_problem(bad: str) -> None:
    with pytest.raises(InputError) as info:
        Conditions.parse(bad)
    assert "character" in str(info.value)


_names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(lambda s: s not in {"and", "in", "not", "is"})
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=10)
_values = st.one_of(st.integers(-1000, 1000).map(float), _text)
_clauses = st.one_of(
    st.builds(Condition, _names, st.sampled_from([Op.EQ, Op.NE]), _values),
    st.builds(Condition, _names, st.sampled_from([Op.LT, Op.LE, Op.GT, Op.GE]), st.integers(-99, 99).map(float)),
    st.builds(
        Condition, _names, st.sampled_from([Op.IN, Op.NOT_IN]), st.lists(_values, min_size=1, max_size=4).map(tuple)
    ),
    st.builds(Condition, _names, st.sampled_from([Op.MISSING, Op.NOT_MISSING])),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_clauses, min_size=1, max_size=5))
def test_text_round_trip(clauses: list[Condition]) -> None:
    """Any condition set prints as text that parses back to the same clauses."""
    conds = Conditions(tuple(clauses))
    assert Conditions.parse(str(conds)) == conds
    assert Conditions.from_list(conds.to_list()) == conds


def test_bind_types_values_against_the_schema(frame: pd.DataFrame) -> None:
    schema = TabularDataset(frame).schema
    c = Conditions.parse("age >= 70 and smoker == yes and admitted < 2021-01-01 and sex == F").bind(schema)
    assert c.on("smoker")[0].value is True
    assert c.on("admitted")[0].value == pd.Timestamp("2021-01-01")
    assert c.mask(frame).tolist() == [True, False, False, False]


def test_bind_reports_every_problem_at_once(frame: pd.DataFrame) -> None:
    schema = TabularDataset(frame).schema
    with pytest.raises(InputError) as info:
        Conditions.parse("sexx == F and sex == Q and age == abc and dx < 3 and age == 200").bind(schema)
    text = str(info.value)
    assert "did you mean 'sex'" in text
    assert "category 'Q' never seen in training" in text
    assert "a number" in text
    assert "'<' on categorical column" in text
    assert "outside the column's range" in text
    assert len(info.value.problems) == 5


def test_bind_rejects_contradictions(frame: pd.DataFrame) -> None:
    schema = TabularDataset(frame).schema
    for text in ("age > 75 and age < 72", "dx == AF and dx != AF", "age > 90", "sex is missing and sex == F"):
        with pytest.raises(InputError, match="can satisfy"):
            Conditions.parse(text).bind(schema)
    # a bound beyond the range is fine when it still selects something
    assert Conditions.parse("age < 500").bind(schema).mask(frame).sum() == 3


def test_missing_values_satisfy_no_value_clause(frame: pd.DataFrame) -> None:
    assert Conditions.parse("sex != F").mask(frame).tolist() == [False, True, False, False]
    assert Conditions.parse("age is missing").mask(frame).tolist() == [False, False, True, False]
    assert Conditions.parse("age != 71").mask(frame).tolist() == [False, True, False, True]


def test_interval_and_allowed() -> None:
    c = Conditions.parse("age >= 40 and age < 70 and age > 45 and dx in {a, b} and dx != b")
    assert c.interval("age") == (45.0, 70.0, False, False)
    assert c.allowed("dx", ["a", "b", "c"]) == ["a"]


def test_mask_names_an_unknown_column(frame: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="no column 'weight'"):
        Conditions.parse("weight > 3").mask(frame)
