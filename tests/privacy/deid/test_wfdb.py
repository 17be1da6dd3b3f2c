"""WFDB header de-identification: dates and identifiers out of headers, signals and annotations unchanged."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pytest
import wfdb

from medsyn.errors import DataFormatError, InputError
from medsyn.privacy import SecretKey
from medsyn.privacy.deid import DeidOptions, Keyring, deidentify_wfdb, deidentify_wfdb_files
from tests.conftest import shared

KEY = SecretKey(b"medsyn-test-key-" * 2)


def _comments(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.lstrip().startswith("#")]


@pytest.mark.shared_data
def test_ptb_header_loses_dates_and_keeps_clinical_lines(tmp_path: Path) -> None:
    folder = shared("ecg_wfdb_physionet_samples")
    report = deidentify_wfdb(folder / "s0010_re.hea", tmp_path, key=KEY)
    comments = "\n".join(_comments(tmp_path / "s0010_re.hea"))
    for gone in ("ECG date", "Infarction date (acute)", "Catheterization date", "Admission date", "29-Sep-90"):
        assert gone not in comments
    for kept in ("age: 81", "sex: female", "Reason for admission: Myocardial infarction", "Smoker: no"):
        assert kept in comments
    assert "Previous infarction (1) date: n/a" in comments  # a date key without a date stays
    assert report.details["comment_lines_in"] == 48
    assert report.actions["X"] == 6  # ECG, acute infarction, admission and infarction dates, 2 catheterisations
    assert report.details["comment_lines_out"] == 42
    for name in ("s0010_re.dat", "s0010_re.xyz"):
        assert (tmp_path / name).read_bytes() == (folder / name).read_bytes()
    original = wfdb.rdrecord(str(folder / "s0010_re"))
    cleaned = wfdb.rdrecord(str(tmp_path / "s0010_re"))
    np.testing.assert_array_equal(
        original.d_signal if original.d_signal is not None else original.p_signal,
        cleaned.d_signal if cleaned.d_signal is not None else cleaned.p_signal,
    )
    assert cleaned.sig_name == original.sig_name


@pytest.mark.shared_data
def test_dates_are_shifted_with_the_modified_dates_option(tmp_path: Path) -> None:
    folder = shared("ecg_wfdb_physionet_samples")
    deidentify_wfdb(folder / "s0010_re.hea", tmp_path, key=KEY, options=DeidOptions(retain_dates=True))
    offset = Keyring(KEY).date_offset("s0010_re")
    comments = _comments(tmp_path / "s0010_re.hea")
    ecg = next(c for c in comments if c.startswith("# ECG date:"))
    assert ecg == f"# ECG date: {(dt.date(1990, 10, 1) + dt.timedelta(days=offset)).strftime('%d/%m/%Y')}"
    acute = next(c for c in comments if c.startswith("# Infarction date (acute):"))
    assert acute.endswith((dt.date(1990, 9, 29) + dt.timedelta(days=offset)).strftime("%d-%b-%y"))
    # the MIMIC record line: base date shifted, time kept
    deidentify_wfdb(folder / "03700181.hea", tmp_path, key=KEY, options=DeidOptions(retain_dates=True))
    record = wfdb.rdheader(str(tmp_path / "03700181"))
    assert record.base_date == dt.date(1994, 8, 15) + dt.timedelta(days=Keyring(KEY).date_offset("03700181"))
    assert record.base_time == dt.time(17, 27, 45)


@pytest.mark.shared_data
def test_record_line_date_removed_and_mitbih_line_generalised(tmp_path: Path) -> None:
    folder = shared("ecg_wfdb_physionet_samples")
    run = deidentify_wfdb_files(folder, tmp_path / "out", key=KEY)
    assert len(run.reports) == 5
    assert run.skipped == (f"{folder / 'PROVENANCE.md'} (not part of a WFDB record)",)
    header = wfdb.rdheader(str(tmp_path / "out" / "03700181"))
    assert header.base_date is None
    assert header.base_time is None
    assert _comments(tmp_path / "out" / "100.hea") == ["# unnecessary comment", "# 69 M", "# Aldomet, Inderal"]
    for name in ("100.atr", "100.dat", "03700181.gqrsh", "a103l.mat"):
        assert (tmp_path / "out" / name).read_bytes() == (folder / name).read_bytes()
    ann = wfdb.rdann(str(tmp_path / "out" / "100"), "atr")
    assert len(ann.sample) == 2274


@pytest.mark.shared_data
def test_challenge_headers_keep_age_sex_and_codes(tmp_path: Path) -> None:
    folder = shared("ecg_cinc2021_georgia_ptbxl")
    src = tmp_path / "in"
    src.mkdir()
    for name in ("E07500.hea", "E07500.mat", "HR06000.hea", "HR06000.mat"):
        shutil.copy(folder / name, src / name)
    with (src / "E07500.hea").open("a") as fh:  # what some sites add
        fh.write("# Patient name: John Doe\n# MRN: 12345678\n# Age: 93\n")
    deidentify_wfdb_files(src, tmp_path / "out", key=KEY)
    comments = _comments(tmp_path / "out" / "E07500.hea")
    assert comments == [
        "# Age: 78",
        "# Sex: Male",
        "# Dx: 67741000119109,426177001",
        "# Rx: Unknown",
        "# Hx: Unknown",
        "# Age: 90+",
    ]
    record = wfdb.rdrecord(str(tmp_path / "out" / "HR06000"))
    assert record.comments[:3] == ["Age: 59", "Sex: Female", "Dx: 164934002,426783006"]


def test_bad_headers_are_refused_before_writing(tmp_path: Path) -> None:
    (tmp_path / "good.hea").write_text("good 1 250 10\ngood.dat 16 200 16 0 0 0 0 I\n# Age: 40\n")
    (tmp_path / "good.dat").write_bytes(bytes(20))
    (tmp_path / "bad.hea").write_text("# only comments\n")
    with pytest.raises(InputError) as err:
        deidentify_wfdb_files(tmp_path, tmp_path / "out", key=KEY)
    assert "bad.hea" in str(err.value)
    assert not (tmp_path / "out").exists()
    with pytest.raises(DataFormatError, match="no such header"):
        deidentify_wfdb(tmp_path / "missing", tmp_path / "o2")
