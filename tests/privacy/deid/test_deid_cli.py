"""``medsyn deid dicom|edf|wfdb`` through Typer's test runner, on the sub-app itself."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from typer.testing import CliRunner

from medsyn._deid_cli import deid_app
from medsyn.errors import InputError
from medsyn.privacy import SecretKey
from tests.conftest import shared

runner = CliRunner()


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return SecretKey(b"medsyn-test-key-" * 2).save(tmp_path / "deid.key")


def test_dicom_file_with_key_is_reproducible(tmp_path: Path, key_file: Path) -> None:
    src = get_testdata_file("CT_small.dcm")
    for name in ("a.dcm", "b.dcm"):
        result = runner.invoke(
            deid_app, ["dicom", src, "-o", str(tmp_path / name), "--key", str(key_file), "--retain-dates"]
        )
        assert result.exit_code == 0, result.output
    assert "De-identified 1 DICOM file(s)" in result.output
    assert "Burned In Annotation" in result.output  # the warning is shown
    a, b = pydicom.dcmread(tmp_path / "a.dcm"), pydicom.dcmread(tmp_path / "b.dcm")
    assert a.StudyInstanceUID == b.StudyInstanceUID != pydicom.dcmread(src).StudyInstanceUID
    report = json.loads((tmp_path / "a.dcm.deid-report.json").read_text())
    assert report["files"] == 1
    assert report["options"]["retain_dates"] is True
    assert report["key_fingerprint"] == SecretKey(b"medsyn-test-key-" * 2).fingerprint


def test_dicom_folder_with_safe_private_list(tmp_path: Path, key_file: Path) -> None:
    src = tmp_path / "study"
    src.mkdir()
    shutil.copy(get_testdata_file("CT_small.dcm"), src / "ct.dcm")
    safe = tmp_path / "safe.txt"
    safe.write_text("(0009,xx01) GEMS_IDEN_01\n")
    result = runner.invoke(
        deid_app,
        [
            "dicom",
            str(src),
            "-o",
            str(tmp_path / "out"),
            "--key",
            str(key_file),
            "--safe-private",
            str(safe),
            "--report",
            str(tmp_path / "r.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    (out,) = (tmp_path / "out").iterdir()
    assert [e.tag for e in pydicom.dcmread(out) if e.tag.is_private] == [0x00090010, 0x00091001]
    assert json.loads((tmp_path / "r.json").read_text())["reports"][0]["kept_private"]


def test_empty_key_file_and_non_dicom_input_are_clear_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.key"
    empty.write_text("")
    empty.chmod(0o600)
    result = runner.invoke(
        deid_app, ["dicom", get_testdata_file("CT_small.dcm"), "-o", str(tmp_path / "o.dcm"), "--key", str(empty)]
    )
    assert isinstance(result.exception, InputError)
    assert "empty" in str(result.exception)
    assert not (tmp_path / "o.dcm").exists()
    fake = tmp_path / "scan.dcm"
    fake.write_text("not dicom")
    result = runner.invoke(deid_app, ["dicom", str(fake), "-o", str(tmp_path / "o.dcm")])
    assert isinstance(result.exception, InputError)
    assert "scan.dcm" in str(result.exception)
    assert not (tmp_path / "o.dcm").exists()


@pytest.mark.shared_data
def test_edf_and_wfdb_commands(tmp_path: Path, key_file: Path) -> None:
    edf = shared("eeg_eegmmidb_s001_motor_imagery") / "S001R04.edf"
    result = runner.invoke(deid_app, ["edf", str(edf), "-o", str(tmp_path / "r04.edf"), "--key", str(key_file)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r04.edf").read_bytes()[88:168].decode().strip() == "Startdate X X X X"
    record = shared("ecg_wfdb_physionet_samples") / "s0010_re"
    result = runner.invoke(
        deid_app, ["wfdb", str(record), "-o", str(tmp_path / "ecg"), "--retain-dates", "--key", str(key_file)]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ecg" / "s0010_re.hea").exists()
    assert json.loads((tmp_path / "ecg.deid-report.json").read_text())["format"] == "wfdb"
