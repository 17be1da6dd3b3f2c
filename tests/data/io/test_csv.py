"""The CSV reader: dialects, missing-value tokens, archives, and one clear error per bad file."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medsyn.data import TabularDataset, read, write_table
from medsyn.data.io import CsvReader, from_frame
from medsyn.errors import DataFormatError, InputError
from tests.conftest import shared


def _write(tmp_path: Path, text: str | bytes, name: str = "t.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_missing_tokens_are_read_as_missing(tmp_path: Path) -> None:
    path = _write(tmp_path, "age,sex,bmi\n70,F,?\nNA,M,31.5\n,F,\n65,?,N/A\n")
    ds = read(path)
    assert isinstance(ds, TabularDataset)
    assert ds.data.isna().sum().to_dict() == {"age": 2, "sex": 1, "bmi": 3}
    assert ds.data["age"].dtype.kind in "if"


def test_semicolon_and_decimal_comma_are_detected(tmp_path: Path) -> None:
    path = _write(tmp_path, "age;weight_kg;sex\n70;81,5;F\n81;64,25;M\n")
    frame = read(path).data
    assert list(frame.columns) == ["age", "weight_kg", "sex"]
    assert frame["weight_kg"].tolist() == [81.5, 64.25]


def test_explicit_delimiter_and_encoding(tmp_path: Path) -> None:
    path = _write(tmp_path, "name\tcity\nJosé\tMálaga\n".encode("cp1252"))
    with pytest.raises(
        DataFormatError, match=r"t\.csv: byte 0x\w\w at offset \d+ is not valid utf-8.*encoding='cp1252'"
    ):
        read(path)
    frame = read(path, delimiter="\t", encoding="cp1252").data
    assert frame.iloc[0].tolist() == ["José", "Málaga"]


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match=r"e\.csv: the file is empty"):
        read(_write(tmp_path, "", "e.csv"))
    with pytest.raises(DataFormatError, match="the file is empty"):
        read(_write(tmp_path, "\n\n  \n", "blank.csv"))


def test_header_only(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match=r"h\.csv: has a header line but no data rows"):
        read(_write(tmp_path, "age,sex\n", "h.csv"))


def test_wrong_delimiter_is_named_with_the_fix(tmp_path: Path) -> None:
    path = _write(tmp_path, "age;sex;bmi\n70;F;22\n")
    with pytest.raises(DataFormatError, match=r"the header has no ',' but 2 ';'.*delimiter=';'"):
        read(path, delimiter=",")


def test_ragged_rows_name_the_problem(tmp_path: Path) -> None:
    path = _write(tmp_path, "a,b,c\n1,2,3\n4,5\n")
    with pytest.raises(DataFormatError, match=r"a row has 2 fields where the header has 3"):
        read(path)


def test_mixed_types_lose_nothing(tmp_path: Path) -> None:
    path = _write(tmp_path, "code\n" + "\n".join(["250", "401", "V57", "428"] * 30) + "\n")
    ds = read(path)
    assert (ds.data["code"] == "V57").sum() == 30, "stray non-numeric codes are kept, not coerced to NaN"
    assert "mixed types" in (ds.schema["code"].reason or "")


def test_all_nan_column_and_single_row_are_usable_with_warnings(tmp_path: Path) -> None:
    ds = read(_write(tmp_path, "a,b\n1,?\n"))
    assert len(ds) == 1
    assert ds.data["b"].isna().all()
    assert any("single row" in w for w in ds.provenance.warnings)


def test_ten_thousand_columns(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.integers(0, 100, size=(5, 10_000)), columns=[f"c{i}" for i in range(10_000)])
    path = tmp_path / "wide.csv"
    frame.to_csv(path, index=False)
    ds = read(path)
    assert ds.data.shape == (5, 10_000)
    assert len(ds.schema) == 10_000


def test_duplicate_header_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match=r"duplicate column names \['a'\]"):
        read(_write(tmp_path, "a,b,a\n1,2,3\n"))


def test_zip_member_and_archive_errors(tmp_path: Path) -> None:
    archive = tmp_path / "d.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("x/data.csv", "a,b\n1,2\n")
        zf.writestr("x/ids.csv", "id\n1\n")
    with pytest.raises(DataFormatError, match=r"archive holds 2 table files.*Read e\.g\."):
        read(archive)
    assert read(archive / "x" / "data.csv").data.to_dict("list") == {"a": [1], "b": [2]}
    with pytest.raises(DataFormatError, match="no such member"):
        read(archive / "x" / "nope.csv")
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(DataFormatError, match="not a readable zip"):
        read(tmp_path / "bad.zip")


def test_unknown_suffix_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="does not exist"):
        read(tmp_path / "nothing.csv")
    (tmp_path / "x.weird").write_text("a\n1\n")
    with pytest.raises(DataFormatError, match=r"no reader recognises it.*--format"):
        read(tmp_path / "x.weird")
    assert len(read(tmp_path / "x.weird", format="csv")) == 1


def test_options_that_do_not_apply_are_named(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2]})
    path = write_table(frame, tmp_path / "t.parquet")
    with pytest.raises(InputError, match=r"reader 'parquet': options \['delimiter'\]"):
        read(path, delimiter=";")


def test_parquet_round_trip_and_atomic_write(tmp_path: Path) -> None:
    frame = pd.DataFrame({"age": [70, 81], "sex": ["F", "M"], "t": pd.to_datetime(["2020-01-01", "2021-02-03"])})
    for name in ("t.parquet", "t.csv"):
        write_table(frame, tmp_path / name)
        back = read(tmp_path / name).data
        assert back["age"].tolist() == [70, 81]
        assert back["sex"].tolist() == ["F", "M"]
    assert not list(tmp_path.glob(".*tmp")), "no temporary files are left behind"
    with pytest.raises(InputError, match=r"suffix '\.xlsx'"):
        write_table(frame, tmp_path / "t.xlsx")


def test_from_frame_copies_the_callers_data() -> None:
    frame = pd.DataFrame({"a": [1, 2]})
    ds = from_frame(frame)
    frame.loc[0, "a"] = 99
    assert ds.data["a"].tolist() == [1, 2]


def test_real_uci_file_without_header() -> None:
    path = shared("heart_disease_cleveland/processed.cleveland.data")
    ds = read(path, header=False)
    assert ds.data.shape == (303, 14)
    assert ds.data.isna().sum().sum() == 6, "UCI marks 6 missing values with '?'"


def test_real_csv_inside_zip_reads_every_row() -> None:
    ds = read(shared("diabetes_130us_hospitals/dataset_diabetes.zip/dataset_diabetes/diabetic_data.csv"))
    assert ds.data.shape == (101_766, 50)
    assert ds.data["weight"].isna().mean() > 0.9, "'?' is missing in this table"
    assert ds.provenance.digest
    assert ds.provenance.source.endswith("diabetic_data.csv")


_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=6
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.integers(-(10**6), 10**6), st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: round(x, 3)), _text
        ),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from([",", ";", "\t", "|"]),
)
def test_property_round_trip_any_delimiter(tmp_path: Path, rows: list[tuple[int, float, str]], delimiter: str) -> None:
    frame = pd.DataFrame(rows, columns=["n", "x", "s"])
    path = tmp_path / "p.csv"
    frame.to_csv(path, index=False, sep=delimiter)
    ds = CsvReader(delimiter=delimiter, na_values=[]).read(path)
    back = ds.data
    assert back["n"].tolist() == frame["n"].tolist()
    assert np.allclose(back["x"].to_numpy(dtype=float), frame["x"].to_numpy(dtype=float))
    assert back["s"].astype(str).tolist() == frame["s"].astype(str).tolist() or back["s"].dtype.kind in "if"


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_property_arbitrary_bytes_never_raise_anything_but_a_format_error(tmp_path: Path, blob: bytes) -> None:
    path = tmp_path / "fuzz.csv"
    path.write_bytes(blob)
    try:
        ds = read(path)
    except InputError:
        return
    assert len(ds.schema) == ds.data.shape[1]


def test_compressed_whitespace_table_without_header(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "raw.csv.gz"
    path.write_bytes(gzip.compress(b"59 2  32.1 101.0\n  48 1 21.6 87.0\n72 2 30.5 93.0\n"))
    ds = read(path)
    assert ds.data.shape == (3, 4)
    assert list(ds.data.columns) == ["col_0", "col_1", "col_2", "col_3"]
    assert ds.data["col_2"].tolist() == [32.1, 21.6, 30.5]
    assert any("only numbers" in w for w in ds.provenance.warnings)
    (tmp_path / "cut.csv.gz").write_bytes(gzip.compress(b"a,b\n1,2\n")[:12])
    with pytest.raises(DataFormatError, match=r"cut\.csv\.gz: cannot be decompressed"):
        read(tmp_path / "cut.csv.gz")


def test_real_compressed_sklearn_table() -> None:
    ds = read(shared("sklearn_diabetes_progression/diabetes_data_raw.csv.gz"))
    assert ds.data.shape == (442, 10)
    assert ds.data.iloc[0].tolist()[:3] == [59, 2, 32.1]


def test_real_arff_tables_keep_nominal_categories(tmp_path: Path) -> None:
    ds = read(shared("survival_sets_sksurv_lifelines/GBSG2.arff"))
    assert ds.data.shape == (686, 10)
    assert list(ds.data["tgrade"].cat.categories) == ["I", "II", "III"]
    whas = read(shared("survival_sets_sksurv_lifelines/whas500.arff"))
    assert whas.schema["fstat"].type.value == "boolean"
    (tmp_path / "bad.arff").write_text("@RELATION x\n@ATTRIBUTE a bogus_type\n@DATA\n1\n")
    with pytest.raises(DataFormatError, match=r"bad\.arff"):
        read(tmp_path / "bad.arff")
