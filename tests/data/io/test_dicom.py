"""DICOM reader on the 16 real pydicom sample objects (CT, MR, NM, US, SEG, RT, SR, ECG) and broken copies."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate
from pydicom.pixels import apply_modality_lut
from pydicom.uid import JPEGLSLossless

from medsyn.data import ImageDataset, read
from medsyn.data.io._dicom import DicomReader, by_series, dicom_age_years
from medsyn.errors import DataFormatError
from medsyn.quality import audit
from tests.conftest import shared

DICOM = "dicom_pydicom_samples"


@pytest.fixture(scope="module")
def dicom_folder() -> Path:
    return shared(DICOM)


@pytest.fixture(scope="module")
def dicom_ds(dicom_folder: Path) -> ImageDataset:
    return read(dicom_folder)


def test_folder_reads_images_and_leaves_out_objects_without_pixels(dicom_folder: Path, dicom_ds: ImageDataset) -> None:
    ds = dicom_ds
    assert ds.provenance.reader == "dicom"
    files = set(ds.attributes["file"])
    assert files == {
        "CT_small.dcm",
        "MR_small.dcm",
        "JPEG2000.dcm",
        "liver_1frame.dcm",
        "examples_overlay.dcm",
        "examples_rgb_color.dcm",
        "examples_jpeg2k.dcm",
        "examples_ybr_color.dcm",
        "examples_palette.dcm",
        "rtdose.dcm",
        "image_dfl.dcm",
    }
    warning = " ".join(ds.provenance.warnings)
    for name, sop in [
        ("waveform_ecg.dcm", "12-lead ECG Waveform Storage"),
        ("rtplan.dcm", "RT Plan Storage"),
        ("test-SR.dcm", "Comprehensive SR Storage"),
        ("reportsi.dcm", "Basic Text SR Storage"),
        ("rtstruct.dcm", "RT Structure Set Storage"),
    ]:
        assert f"{name} ({sop})" in warning
    # multi-frame objects give one row per frame
    assert (ds.attributes["file"] == "examples_ybr_color.dcm").sum() == 30
    assert (ds.attributes["file"] == "rtdose.dcm").sum() == 15
    assert len(ds) == 9 + 30 + 15


def test_header_attributes_without_identifying_values(dicom_folder: Path, dicom_ds: ImageDataset) -> None:
    ds = dicom_ds
    a = ds.attributes.set_index(["file", "frame"])
    ct = a.loc[("CT_small.dcm", 0)]
    assert ct["modality"] == "CT"
    assert ct["rows"] == 128
    assert ct["columns"] == 128
    assert ct["bits_allocated"] == 16
    assert ct["manufacturer"] == "GE MEDICAL SYSTEMS"
    assert ct["pixel_spacing_row"] == pytest.approx(0.661468)
    assert a.loc[("MR_small.dcm", 0), "sex"] == "F"
    assert a.loc[("examples_overlay.dcm", 0), "age"] == 58.0
    assert a.loc[("liver_1frame.dcm", 0), "age"] == 60.0
    assert a.loc[("examples_rgb_color.dcm", 0), "channels"] == 3
    # names, IDs and birth dates are recorded as present, never copied
    assert {"has_patient_name", "has_patient_id", "has_birth_date"} <= set(ds.attributes.columns)
    assert not {"patient_name", "PatientName", "patient_id", "PatientID", "birth_date"} & set(ds.attributes.columns)
    name = str(pydicom.dcmread(dicom_folder / "CT_small.dcm").PatientName)
    assert name
    assert not ds.attributes.astype(str).apply(lambda col: col.str.contains(name, regex=False)).any().any()
    assert bool(a.loc[("CT_small.dcm", 0), "has_patient_name"])


def test_pixels_load_lazily_with_modality_lut(dicom_folder: Path, dicom_ds: ImageDataset) -> None:
    ds = dicom_ds
    i = int(np.flatnonzero(ds.attributes["file"] == "CT_small.dcm")[0])
    raw = pydicom.dcmread(dicom_folder / "CT_small.dcm")
    expected = apply_modality_lut(raw.pixel_array, raw)
    assert np.allclose(ds.image(i), expected)
    j = int(np.flatnonzero((ds.attributes["file"] == "examples_ybr_color.dcm") & (ds.attributes["frame"] == 7))[0])
    assert ds.image(j).shape == (240, 320, 3)
    k = int(np.flatnonzero(ds.attributes["file"] == "examples_palette.dcm")[0])
    assert ds.image(k).shape == (350, 800, 3)  # palette colour becomes RGB


def test_series_are_grouped_and_ordered(dicom_folder: Path, dicom_ds: ImageDataset) -> None:
    ds = dicom_ds
    groups = by_series(ds)
    assert sum(len(g) for g in groups.values()) == len(ds)
    series = ds.attributes["series_uid"].tolist()
    # each series is one contiguous block
    assert len([s for i, s in enumerate(series) if i == 0 or s != series[i - 1]]) == len(groups)
    us = next(g for g in groups.values() if "examples_jpeg2k.dcm" in set(g.attributes["file"]))
    assert us.attributes["instance_number"].tolist() == sorted(us.attributes["instance_number"].tolist())


def test_single_file_without_pixel_data_is_an_error(dicom_folder: Path) -> None:
    with pytest.raises(
        DataFormatError, match=r"waveform_ecg\.dcm: has no pixel data \(SOP class: 12-lead ECG Waveform Storage\)"
    ):
        read(dicom_folder / "waveform_ecg.dcm")
    with pytest.raises(DataFormatError, match=r"rtplan\.dcm: has no pixel data \(SOP class: RT Plan Storage\)"):
        DicomReader().read(dicom_folder / "rtplan.dcm")


def test_file_without_suffix_but_with_preamble_is_read(dicom_folder: Path, tmp_path: Path) -> None:
    shutil.copy(dicom_folder / "MR_small.dcm", tmp_path / "IM0001")
    (tmp_path / "notes").write_text("not DICOM")
    assert DicomReader.claims(tmp_path / "IM0001")
    assert DicomReader.claims(tmp_path)
    ds = read(tmp_path)
    assert ds.attributes["file"].tolist() == ["IM0001"]
    assert ds.image(0).shape == (64, 64)


def _undecodable_copy(source: Path, target: Path) -> None:
    """A real CT header whose pixel data claim JPEG-LS, which no installed plugin decodes."""
    ds = pydicom.dcmread(source)
    ds.file_meta.TransferSyntaxUID = JPEGLSLossless
    ds.PixelData = encapsulate([b"\xff\xd8" + bytes(64) + b"\xff\xd9"])
    ds["PixelData"].VR = "OB"
    ds.save_as(target, enforce_file_format=True)


def test_undecodable_transfer_syntax_is_a_warning_not_a_crash(dicom_folder: Path, tmp_path: Path) -> None:
    pytest.importorskip("pydicom.pixels")
    if pydicom.pixels.get_decoder(JPEGLSLossless).is_available:
        pytest.skip("a JPEG-LS plugin is installed here, so the file would decode")
    folder = tmp_path / "series"
    folder.mkdir()
    shutil.copy(dicom_folder / "CT_small.dcm", folder / "ct.dcm")
    _undecodable_copy(dicom_folder / "CT_small.dcm", folder / "jls.dcm")
    ds = read(folder)
    assert ds.attributes["file"].tolist() == ["ct.dcm"]
    warning = " ".join(ds.provenance.warnings)
    assert "jls.dcm" in warning
    assert "JPEG-LS Lossless" in warning
    assert "pylibjpeg" in warning
    single = read(folder / "jls.dcm")  # a single file is kept; its pixels raise the same advice
    assert "JPEG-LS" in " ".join(single.provenance.warnings)
    with pytest.raises(DataFormatError, match=r"jls\.dcm.*JPEG-LS.*Install a decoder"):
        single.image(0)


def test_garbage_dcm_is_skipped_in_a_folder_and_an_error_alone(dicom_folder: Path, tmp_path: Path) -> None:
    shutil.copy(dicom_folder / "CT_small.dcm", tmp_path / "ok.dcm")
    (tmp_path / "broken.dcm").write_bytes(b"\x00" * 10)
    ds = read(tmp_path)
    assert ds.attributes["file"].tolist() == ["ok.dcm"]
    assert any(w.startswith("broken.dcm: skipped") for w in ds.provenance.warnings)
    with pytest.raises(DataFormatError, match=r"broken\.dcm"):
        read(tmp_path / "broken.dcm")


def test_age_strings() -> None:
    assert dicom_age_years("042Y") == 42.0
    assert dicom_age_years("018M") == 1.5
    assert dicom_age_years("bad") is None


def test_image_audit_runs_on_real_dicom_without_errors(dicom_ds: ImageDataset) -> None:
    res = audit(dicom_ds)
    assert res.errors == ()
    assert res["fundus_gradability"].status.value == "skipped"
    # the 30 cine frames are near-copies of each other and the audit says so
    near = {i.key for i in res["image_near_duplicates"].flagged()}
    assert any(k.startswith("examples_ybr_color.dcm#") for k in near)
