from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from medsyn.data import Field, FieldType, Role, Schema, TabularDataset, infer_schema, read
from medsyn.errors import SchemaError
from tests.conftest import shared


@pytest.fixture
def schema() -> Schema:
    frame = pd.DataFrame(
        {
            "patient_id": [f"P{i:03d}" for i in range(80)],
            "age": [30 + i % 50 for i in range(80)],
            "sex": ["F", "M"] * 40,
            "sbp": [120.5 + i for i in range(80)],
            "readmitted": ["NO", "<30", ">30", "NO"] * 20,
        }
    )
    return infer_schema(frame)


def test_yaml_override_in_the_documented_shape(tmp_path: Path, schema: Schema) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("fields: {age: {type: integer, role: quasi_identifier, unit: years}, readmitted: {role: target}}\n")
    out = schema.with_yaml(path)
    assert out["age"].roles == (Role.QUASI_IDENTIFIER,)
    assert out["age"].unit == "years"
    assert out["readmitted"].role is Role.TARGET
    assert out["sbp"] == schema["sbp"], "fields not mentioned stay as inferred"
    assert "set in" in (out["age"].reason or "")


def test_override_accepts_several_roles_and_categories(schema: Schema) -> None:
    out = schema.with_overrides(
        {"fields": {"sex": {"role": ["protected", "quasi_identifier"], "categories": ["F", "M", "X"]}}}
    )
    assert out["sex"].roles == (Role.PROTECTED, Role.QUASI_IDENTIFIER)
    assert out["sex"].categories == ("F", "M", "X")
    assert [f.name for f in out.by_role("protected")] == ["age", "sex"]


def test_bad_overrides_are_collected_into_one_error(schema: Schema) -> None:
    with pytest.raises(SchemaError) as info:
        schema.with_overrides(
            {
                "fields": {
                    "age": {"type": "integr", "role": "boss"},
                    "weight": {"unit": "kg"},
                    "sbp": {"minimum": "low", "colour": 1},
                }
            },
            source="s.yaml",
        )
    problems = info.value.problems
    text = str(info.value)
    assert len(problems) == 5
    assert "s.yaml: fields.age.type: 'integr'" in text
    assert "fields.weight: no such column" in text
    assert "unknown key(s) ['colour']" in text


def test_minimum_above_maximum_is_refused(schema: Schema) -> None:
    with pytest.raises(SchemaError, match=r"minimum 10\.0 > maximum 1\.0"):
        schema.with_overrides({"fields": {"sbp": {"minimum": 10, "maximum": 1}}})


def test_invalid_yaml_file_names_the_file(tmp_path: Path, schema: Schema) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("fields: {age: [unclosed\n")
    with pytest.raises(SchemaError, match=r"bad\.yaml: not valid YAML"):
        schema.with_yaml(bad)
    with pytest.raises(SchemaError, match="file not found"):
        schema.with_yaml(tmp_path / "missing.yaml")


def test_round_trip_through_yaml_and_json(schema: Schema) -> None:
    again = Schema.from_dict(yaml.safe_load(schema.to_yaml()))
    assert again == schema
    assert Schema.from_dict(json.loads(schema.to_json())) == schema


def test_full_export_can_be_fed_back_as_overrides(schema: Schema) -> None:
    assert schema.with_overrides(yaml.safe_load(schema.to_yaml())).fields[0].type == schema.fields[0].type


def test_markdown_dictionary_lists_every_field(schema: Schema) -> None:
    md = schema.to_markdown()
    assert md.count("\n| ") == len(schema) + 1
    assert "| sex | categorical | protected, quasi_identifier |" in md


def test_duplicate_field_names_are_refused() -> None:
    with pytest.raises(SchemaError, match="duplicate field name 'a'"):
        Schema((Field("a", FieldType.NUMERIC), Field("a", FieldType.INTEGER)))


def test_dataset_refuses_a_schema_that_does_not_fit() -> None:
    frame = pd.DataFrame({"a": [1, 2]})
    with pytest.raises(Exception, match="columns"):
        TabularDataset(frame, Schema((Field("b", FieldType.NUMERIC),)))


def test_schema_cli_shape_on_real_data(tmp_path: Path) -> None:
    ds = read(shared("heart_disease_cleveland/heart_cleveland.csv"))
    path = tmp_path / "s.yaml"
    path.write_text("fields: {num: {role: target, description: angiographic disease 0-4}, chol: {unit: mg/dl}}\n")
    again = read(shared("heart_disease_cleveland/heart_cleveland.csv"), schema=path)
    assert again.schema["num"].description == "angiographic disease 0-4"
    assert again.schema["chol"].unit == "mg/dl"
    assert ds.schema["age"].has_role("protected")
