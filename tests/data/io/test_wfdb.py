"""The WFDB reader on real PhysioNet records, and its errors on damaged copies of them."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from medsyn.data.dataset import SignalDataset
from medsyn.data.io import READERS, read
from medsyn.data.io._wfdb import WfdbReader, parse_header_comments
from medsyn.errors import DataFormatError
from tests.conftest import shared

pytestmark = pytest.mark.shared_data


def _copy_record(src: Path, name: str, dest: Path) -> Path:
    for f in src.glob(f"{name}.*"):
        shutil.copy(f, dest / f.name)
    return dest / f"{name}.hea"


@pytest.fixture(scope="module")
def physionet() -> SignalDataset:
    ds = read(shared("ecg_wfdb_physionet_samples"))
    assert isinstance(ds, SignalDataset)
    return ds


def test_reader_is_registered_and_claims_headers_records_and_folders() -> None:
    folder = shared("ecg_wfdb_physionet_samples")
    assert READERS.get("wfdb") is WfdbReader
    assert WfdbReader.claims(folder)
    assert WfdbReader.claims(folder / "100.hea")
    assert WfdbReader.claims(folder / "100")
    assert not WfdbReader.claims(folder / "100.dat")
    assert not WfdbReader.claims(shared("eeg_eegmmidb_s001_motor_imagery"))


def test_physionet_folder_mixes_rates_and_channel_sets(physionet: SignalDataset) -> None:
    assert physionet.kind == "ecg"
    assert physionet.provenance.reader == "wfdb"
    assert len(physionet.provenance.digest) == 64
    recs = {r.name: r for r in physionet.records}
    assert set(recs) == {"100", "s0010_re", "a103l", "v102s", "03700181"}
    assert {n: r.sampling_rate for n, r in recs.items()} == {
        "100": 360.0,
        "s0010_re": 1000.0,
        "a103l": 250.0,
        "v102s": 250.0,
        "03700181": 125.0,
    }
    assert recs["100"].channels == ("MLII", "V5")
    assert recs["100"].units == ("mV", "mV")
    assert recs["100"].data.shape == (2, 650_000)
    assert recs["100"].data.dtype == np.float32
    assert recs["s0010_re"].data.shape == (15, 38_400)
    assert recs["s0010_re"].channels[-3:] == ("vx", "vy", "vz")
    assert recs["a103l"].channels == ("II", "V", "PLETH")
    assert recs["03700181"].units == ("mV", "mmHg", "mV")
    assert not physionet.is_uniform
    # MCL1 of the MIMIC record has 4 samples per frame: averaged, and said so
    assert any("MCL1" in w and "samples per frame" in w for w in physionet.provenance.warnings)


def test_mitbih_100_beat_annotations(physionet: SignalDataset) -> None:
    ann = next(r for r in physionet.records if r.name == "100").annotations
    atr = ann[ann["annotator"] == "atr"]
    assert len(atr) == 2274  # PROVENANCE.md: 2,274 reference annotations
    counts = atr["label"].value_counts().to_dict()
    assert counts == {"N": 2239, "A": 33, "V": 1, "(N": 1}
    assert atr["onset"].is_monotonic_increasing
    assert atr["onset"].max() < 650_000 / 360
    assert set(atr["channel"]) == {""}
    assert (atr["duration"] == 0).all()


def test_detector_annotations_use_their_own_time_base(physionet: SignalDataset) -> None:
    rec = next(r for r in physionet.records if r.name == "03700181")
    ann = rec.annotations
    assert set(ann["annotator"]) == {"sqrs", "gqrsh", "gqrsl"}
    # gqrsh is stored at 500 Hz, the record at 125 Hz: onsets must still fall inside the 10-min record
    assert ann.groupby("annotator")["onset"].max().between(590, rec.duration).all()


def test_header_comments_give_age_sex_and_free_text(physionet: SignalDataset) -> None:
    attrs = physionet.attributes.set_index("record")
    assert attrs.loc["100", "age"] == 69
    assert attrs.loc["100", "sex"] == "M"
    assert attrs.loc["s0010_re", "age"] == 81
    assert attrs.loc["s0010_re", "sex"] == "F"
    assert attrs.loc["s0010_re", "reason_for_admission"] == "Myocardial infarction"
    assert attrs.loc["a103l", "comments"] == "Asystole | False alarm"


def test_cinc2021_folder_age_sex_and_dx() -> None:
    ds = read(shared("ecg_cinc2021_georgia_ptbxl"))
    assert isinstance(ds, SignalDataset)
    assert len(ds) == 30
    assert ds.is_uniform
    assert ds.kind == "ecg"
    assert ds.records[0].channels == ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
    assert {r.sampling_rate for r in ds.records} == {500.0}
    assert ds.to_array().shape == (30, 12, 5000)
    assert {u for r in ds.records for u in r.units} == {"mV"}  # PTB-XL writes "mv"
    attrs = ds.attributes.set_index("record")
    assert attrs["sex"].value_counts().to_dict() == {"F": 19, "M": 11}
    assert attrs["age"].min() == 19
    assert attrs["age"].max() == 86
    assert attrs.loc["E07500", "dx"] == "67741000119109,426177001"
    assert attrs.loc["HR06002", "dx"] == "426177001,426783006,713426002"
    assert "rx" not in attrs.columns  # "Unknown" everywhere: missing, so no column


def test_cpsc2021_folder_rhythm_annotations() -> None:
    ds = read(shared("ecg_cpsc2021_paroxysmal_af"))
    assert isinstance(ds, SignalDataset)
    assert len(ds) == 18
    assert {r.sampling_rate for r in ds.records} == {200.0}
    assert {r.channels for r in ds.records} == {("I", "II")}
    assert ds.attributes["comments"].value_counts().to_dict() == {
        "non atrial fibrillation": 6,
        "persistent atrial fibrillation": 6,
        "paroxysmal atrial fibrillation": 6,
    }
    labels = {lab for r in ds.records for lab in r.annotations["label"]}
    assert {"N", "(AFIB", "(N"} <= labels
    lengths = [r.n_samples for r in ds.records]
    assert min(lengths) >= 8_235
    assert max(lengths) <= 103_808


def test_single_record_by_header_or_by_name() -> None:
    folder = shared("ecg_cinc2021_georgia_ptbxl")
    by_header = read(folder / "E07500.hea")
    by_name = read(folder / "E07500")
    assert isinstance(by_header, SignalDataset)
    assert isinstance(by_name, SignalDataset)
    assert len(by_header) == 1
    np.testing.assert_array_equal(by_header.records[0].data, by_name.records[0].data)
    # the header's initial value of lead II is -58 adu at 1000 adu/mV
    assert float(by_header.records[0].data[1, 0]) == pytest.approx(-0.058, abs=1e-6)


def test_parse_header_comments() -> None:
    assert parse_header_comments(["Age: 61", "Sex: Female", "Dx: 164889003, 59118001", "Hx: Unknown"]) == {
        "age": 61.0,
        "sex": "F",
        "dx": "164889003,59118001",
        "hx": None,
    }
    assert parse_header_comments(["age: ??", "sex: other"]) == {"age": None, "sex": None}


# -- damaged copies ------------------------------------------------------------------------------


@pytest.fixture
def record(tmp_path: Path) -> Path:
    return _copy_record(shared("ecg_cinc2021_georgia_ptbxl"), "E07500", tmp_path)


def test_bad_sampling_frequency_names_file_and_field(record: Path) -> None:
    # wfdb itself would silently read this as 250 Hz
    record.write_text(record.read_text().replace("E07500 12 500 5000", "E07500 12 5OO 5000"))
    with pytest.raises(DataFormatError, match=r"E07500\.hea: line 1, sampling frequency: '5OO'"):
        read(record)


def test_truncated_header_names_file(record: Path) -> None:
    lines = record.read_text().splitlines()
    record.write_text("\n".join(lines[:5]) + "\n")
    with pytest.raises(DataFormatError, match=r"E07500\.hea: signal lines: 4 listed; expected 12"):
        read(record)


def test_empty_header_and_unknown_format(record: Path) -> None:
    text = record.read_text()
    record.write_text("# only a comment\n")
    with pytest.raises(DataFormatError, match=r"E07500\.hea: holds no record line"):
        read(record)
    record.write_text(text.replace("16x1+24", "999", 1))
    with pytest.raises(DataFormatError, match=r"line 2, signal format: '999'"):
        read(record)


def test_missing_signal_file_names_it(record: Path) -> None:
    record.with_suffix(".mat").unlink()
    with pytest.raises(DataFormatError, match=r"E07500\.mat: does not exist") as info:
        read(record)
    assert "Traceback" not in str(info.value)


def test_truncated_signal_file_says_so(record: Path) -> None:
    mat = record.with_suffix(".mat")
    mat.write_bytes(mat.read_bytes()[:50_000])
    with pytest.raises(DataFormatError, match=r"E07500\.mat: holds 50,000 bytes, fewer than the 120,024"):
        read(record)


def test_zero_length_record(record: Path) -> None:
    record.write_text(record.read_text().replace("E07500 12 500 5000", "E07500 12 500 0"))
    with pytest.raises(DataFormatError, match=r"E07500\.hea: declares 0 samples"):
        read(record)


def test_folder_keeps_good_records_and_warns_about_bad_ones(tmp_path: Path) -> None:
    src = shared("ecg_cinc2021_georgia_ptbxl")
    for name in ("E07500", "E07501", "E07502"):
        _copy_record(src, name, tmp_path)
    (tmp_path / "E07501.mat").unlink()
    hea = tmp_path / "E07502.hea"
    hea.write_text(hea.read_text().replace(" 500 ", " fast ", 1))
    ds = read(tmp_path)
    assert [r.name for r in ds.records] == ["E07500"]
    assert len(ds.attributes) == 1
    warnings = " ".join(ds.provenance.warnings)
    assert "E07501.mat: does not exist" in warnings
    assert "E07502.hea: line 1, sampling frequency" in warnings


def test_folder_of_only_bad_records_raises_every_problem(tmp_path: Path) -> None:
    src = shared("ecg_cinc2021_georgia_ptbxl")
    for name in ("E07500", "E07501"):
        _copy_record(src, name, tmp_path)
        (tmp_path / f"{name}.mat").unlink()
    with pytest.raises(DataFormatError, match="2 problems") as info:
        read(tmp_path)
    assert "E07500.mat" in str(info.value)
    assert "E07501.mat" in str(info.value)


def test_unreadable_annotation_file_is_a_warning_not_a_failure(record: Path) -> None:
    record.with_suffix(".atr").write_bytes(b"\x07\x00garbage")
    ds = read(record)
    assert len(ds) == 1
    assert any("E07500.atr: annotation file not readable" in w for w in ds.provenance.warnings)


def test_all_missing_channel_is_kept_with_a_warning(tmp_path: Path) -> None:
    wfdb = pytest.importorskip("wfdb")
    src = read(shared("ecg_cinc2021_georgia_ptbxl") / "E07500").records[0]  # type: ignore[attr-defined]
    signal = src.data[:2].T.astype(np.float64)
    signal[:, 1] = np.nan  # stored as WFDB's invalid-sample value
    wfdb.wrsamp(
        "gappy",
        fs=500,
        units=["mV", "mV"],
        sig_name=["I", "II"],
        p_signal=signal,
        fmt=["16", "16"],
        adc_gain=[1000.0, 1000.0],
        baseline=[0, 0],
        write_dir=str(tmp_path),
    )
    ds = read(tmp_path / "gappy.hea")
    rec = ds.records[0]
    assert np.isnan(rec.data[1]).all()
    np.testing.assert_allclose(rec.data[0], src.data[0], atol=1e-3)
    assert any("channel 'II' holds no valid samples" in w for w in ds.provenance.warnings)
