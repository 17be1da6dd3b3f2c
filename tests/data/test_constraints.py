"""Constraints: parsing, validity, repair, consistency checks and the schema YAML round trip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medsyn.data import Schema, TabularDataset
from medsyn.data.constraints import (
    FixedCombinations,
    Inequality,
    Predicate,
    Range,
    Sum,
    check_consistent,
    parse_constraint,
    parse_constraints,
)
from medsyn.errors import InputError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("systolic > diastolic", Inequality("diastolic", "systolic", strict=True)),
        ("admission <= discharge", Inequality("admission", "discharge")),
        ("0 <= bmi <= 80", Range("bmi", 0.0, 80.0)),
        ("bmi >= 10", Range("bmi", minimum=10.0)),
        ("10 <= bmi", Range("bmi", minimum=10.0)),
        ("a + b + c == total", Sum(("a", "b", "c"), "total")),
        ("a + b == 100", Sum(("a", "b"), 100.0)),
        ("fixed(drug, form)", FixedCombinations(("drug", "form"))),
    ],
)
def test_parse_and_print_round_trip(text: str, expected: object) -> None:
    c = parse_constraint(text)
    assert c == expected
    assert parse_constraint(str(c)) == c


def test_mapping_form_and_errors_collected() -> None:
    assert parse_constraint({"kind": "inequality", "low": "dbp", "high": "sbp", "strict": True}) == Inequality(
        "dbp", "sbp", True
    )
    with pytest.raises(InputError) as info:
        parse_constraints(["a >", {"kind": "nope"}, "b < c"])
    assert len(info.value.problems) == 2


def test_inequality_validity_repair_and_missing() -> None:
    df = pd.DataFrame({"sbp": [120.0, 80.0, np.nan], "dbp": [80.0, 110.0, 70.0]})
    rule = parse_constraint("sbp > dbp")
    assert rule.is_valid(df).tolist() == [True, False, True]
    fixed = rule.repair(df)
    assert fixed is not None
    assert rule.is_valid(fixed).all()
    assert fixed.loc[1, "sbp"] == 110.0
    assert fixed.loc[1, "dbp"] == 80.0


def test_sum_and_range_repair() -> None:
    df = pd.DataFrame({"a": [1.0, 2.0], "b": [2.0, 2.0], "total": [3.0, 5.0]})
    rule = parse_constraint("a + b == total")
    assert rule.is_valid(df).tolist() == [True, False]
    assert rule.is_valid(rule.repair(df)).all()
    rng = parse_constraint("0 <= a <= 1.5")
    assert rng.is_valid(rng.repair(df)).all()


def test_fixed_combinations_learn_from_training() -> None:
    train = pd.DataFrame({"drug": ["a", "a", "b"], "form": ["tab", "iv", "tab"]})
    rule = parse_constraint("fixed(drug, form)").fit(train)
    assert rule.is_valid(pd.DataFrame({"drug": ["a", "b"], "form": ["iv", "iv"]})).tolist() == [True, False]
    assert parse_constraint(rule.to_dict()) == rule


def test_predicate_checks_its_output_and_cannot_be_saved() -> None:
    rule = Predicate(lambda f: f["x"] > 0, "positive x", ("x",))
    assert rule.is_valid(pd.DataFrame({"x": [1, -1]})).tolist() == [True, False]
    with pytest.raises(InputError, match="one boolean per row"):
        Predicate(lambda f: np.array([True]), "bad").is_valid(pd.DataFrame({"x": [1, 2]}))
    with pytest.raises(InputError, match="sample"):
        rule.to_dict()


def _schema() -> Schema:
    return TabularDataset(pd.DataFrame({"sbp": [120.0, 140.0], "dbp": [80.0, 90.0], "sex": ["F", "M"]})).schema


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (["sbp > dbp", "dbp > sbp"], "cycle"),
        (["sbp <= 50", "dbp >= 100", "sbp >= dbp"], "leave no value"),
        (["sex > sbp"], "is categorical"),
        (["pulse > sbp"], "unknown column 'pulse'"),
        (["10 <= sbp <= 5"], "minimum above maximum"),
    ],
)
def test_contradictions_and_bad_columns(rules: list[str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        check_consistent(parse_constraints(rules), _schema())


def test_schema_yaml_constraints_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    yaml_file = tmp_path / "s.yaml"
    yaml_file.write_text("constraints:\n  - sbp > dbp\n  - {kind: range, column: dbp, minimum: 30}\n")
    schema = _schema().with_yaml(yaml_file)
    assert schema.constraints == (Inequality("dbp", "sbp", True), Range("dbp", 30.0))
    assert Schema.from_dict(schema.to_dict()).constraints == schema.constraints
    assert schema.select(["sbp", "sex"]).constraints == ()
    bad = tmp_path / "bad.yaml"
    bad.write_text("constraints:\n  - sbp >> dbp\n")
    with pytest.raises(InputError, match=r"bad\.yaml"):
        _schema().with_yaml(bad)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)), min_size=1, max_size=50))
def test_inequality_repair_always_valid(pairs: list[tuple[float, float]]) -> None:
    df = pd.DataFrame(pairs, columns=["lo", "hi"])
    rule = Inequality("lo", "hi")
    fixed = rule.repair(df)
    assert fixed is not None
    assert rule.is_valid(fixed).all()
    assert sorted(fixed.to_numpy().ravel()) == sorted(df.to_numpy().ravel())
