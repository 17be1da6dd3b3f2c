"""The EDF reader on the real eegmmidb runs, on EDF files written here, and on damaged copies."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from medsyn.data.dataset import SignalDataset
from medsyn.data.io import READERS, read
from medsyn.data.io._edf import EdfReader
from medsyn.errors import DataFormatError
from tests.conftest import shared

pytestmark = pytest.mark.shared_data

EEG = "eeg_eegmmidb_s001_motor_imagery"


@pytest.fixture(scope="module")
def runs() -> SignalDataset:
    ds = read(shared(EEG))
    assert isinstance(ds, SignalDataset)
    return ds


def test_reader_is_registered_and_claims_files_and_folders() -> None:
    folder = shared(EEG)
    assert READERS.get("edf") is EdfReader
    assert EdfReader.claims(folder)
    assert EdfReader.claims(folder / "S001R03.edf")
    assert not EdfReader.claims(folder / "S001R03.edf.event")
    assert not EdfReader.claims(shared("ecg_cinc2021_georgia_ptbxl"))


def test_eegmmidb_folder(runs: SignalDataset) -> None:
    assert runs.kind == "eeg"
    assert [r.name for r in runs.records] == [f"S001R{i:02d}" for i in range(3, 15)]
    assert runs.is_uniform
    assert runs.to_array().shape == (12, 64, 20_000)
    first = runs.records[0]
    assert first.sampling_rate == 160.0
    assert first.channels[:3] == ("Fc5.", "Fc3.", "Fc1.")
    assert first.channels[-1] == "Iz.."
    assert set(first.units) == {"uV"}
    assert first.data.dtype == np.float32
    assert first.duration == 125.0
    # EEG in µV: tens to hundreds
    assert 5 < float(np.median(np.abs(first.data))) < 200
    assert runs.provenance.warnings == ()


def test_edf_plus_annotations(runs: SignalDataset) -> None:
    ann = runs.records[0].annotations
    assert list(ann.columns[:4]) == ["onset", "duration", "label", "channel"]
    assert ann["label"].value_counts().to_dict() == {"T0": 15, "T1": 8, "T2": 7}
    assert ann["onset"].iloc[:3].tolist() == pytest.approx([0.0, 4.2, 8.3])
    assert ann["duration"].iloc[0] == pytest.approx(4.2)
    assert all(len(r.annotations) == 30 for r in runs.records)


def test_header_gives_no_name_and_no_demographics(runs: SignalDataset) -> None:
    # eegmmidb writes "X" (EDF+ for unknown) as the patient name and no sex or birth date
    assert list(runs.attributes.columns) == ["record", "header_has_patient_name"]
    assert not runs.attributes["header_has_patient_name"].any()


def _write_edf(path: Path, *, rates: tuple[int, ...], name: str = "Jane_Doe", sex: int = 0) -> None:
    pyedflib = pytest.importorskip("pyedflib")
    seconds = 4
    rng = np.random.default_rng(0)
    writer = pyedflib.EdfWriter(str(path), len(rates), file_type=pyedflib.FILETYPE_EDFPLUS)
    try:
        headers = []
        for i, rate in enumerate(rates):
            headers.append(
                {
                    "label": ["Fp1", "ECG"][i % 2],
                    "dimension": "uV" if i % 2 == 0 else "mV",
                    "sample_frequency": rate,
                    "physical_max": 500.0,
                    "physical_min": -500.0,
                    "digital_max": 32767,
                    "digital_min": -32768,
                }
            )
        writer.setSignalHeaders(headers)
        writer.setPatientName(name)
        writer.setSex(sex)
        writer.setBirthdate(datetime(1950, 6, 30).date())
        writer.setStartdatetime(datetime(2020, 3, 1, 10, 0, 0))
        writer.writeSamples([rng.normal(0, 20, seconds * r) for r in rates])
        writer.writeAnnotation(1.5, 0.5, "blink")
    finally:
        writer.close()


def test_written_file_with_mixed_rates_name_sex_and_age(tmp_path: Path) -> None:
    path = tmp_path / "mixed.edf"
    _write_edf(path, rates=(256, 128))
    ds = read(path)
    assert isinstance(ds, SignalDataset)
    rec = ds.records[0]
    assert rec.sampling_rate == 256.0
    assert rec.data.shape == (2, 1024)  # the 128-Hz ECG resampled to 256 Hz
    assert any("ECG (128 Hz) resampled to the most common rate 256 Hz" in w for w in ds.provenance.warnings)
    row = ds.attributes.iloc[0]
    assert bool(row["header_has_patient_name"]) is True
    assert "Jane" not in " ".join(map(str, ds.attributes.to_numpy().ravel()))
    assert row["sex"] == "F"
    assert row["age"] == 69
    assert rec.annotations["label"].tolist() == ["blink"]


def test_truncated_edf_names_the_file(tmp_path: Path) -> None:
    src = shared(EEG) / "S001R03.edf"
    cut = tmp_path / "S001R03.edf"
    cut.write_bytes(src.read_bytes()[:1_000_000])
    expected = r"S001R03\.edf: holds 1,000,000 bytes but its header announces 125 data records"
    with pytest.raises(DataFormatError, match=expected) as info:
        read(cut)
    assert "truncated" in str(info.value)


def test_text_mode_copy_is_recognised(tmp_path: Path) -> None:
    damaged = tmp_path / "S001R04.edf"
    damaged.write_bytes((shared(EEG) / "S001R04.edf").read_bytes().replace(b"\n", b"\r\n"))
    with pytest.raises(DataFormatError, match=r"S001R04\.edf: holds .* more than its header announces.*CRLF"):
        read(damaged)


def test_not_an_edf_and_an_empty_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.edf"
    junk.write_bytes(b"%PDF-1.4 " + bytes(300))
    with pytest.raises(DataFormatError, match=r"junk\.edf: version field"):
        read(junk)
    empty = tmp_path / "empty.edf"
    empty.write_bytes(b"")
    with pytest.raises(DataFormatError, match=r"empty\.edf: holds 0 bytes"):
        read(empty)


def test_folder_keeps_good_files_and_warns_about_bad_ones(tmp_path: Path) -> None:
    src = shared(EEG)
    shutil.copy(src / "S001R05.edf", tmp_path / "S001R05.edf")
    (tmp_path / "S001R06.edf").write_bytes((src / "S001R06.edf").read_bytes()[:500_000])
    ds = read(tmp_path)
    assert [r.name for r in ds.records] == ["S001R05"]
    assert any("S001R06.edf" in w and "truncated" in w for w in ds.provenance.warnings)
    (tmp_path / "S001R05.edf").unlink()
    with pytest.raises(DataFormatError, match=r"S001R06\.edf"):
        read(tmp_path)
