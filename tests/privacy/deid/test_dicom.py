"""DICOM de-identification on pydicom's bundled test files and the real samples in ../shared/data."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import pydicom
import pytest
from pydicom import config
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.valuerep import validate_value

from medsyn.errors import DataFormatError, InputError
from medsyn.privacy import SecretKey
from medsyn.privacy.deid import (
    Action,
    DeidOptions,
    Keyring,
    SafePrivateTag,
    deidentify_dicom,
    deidentify_dicom_files,
    load_profile,
    read_safe_private,
)
from tests.conftest import shared

KEY = SecretKey(b"medsyn-test-key-" * 2)
FILES = ["CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "waveform_ecg.dcm", "liver_1frame.dcm"]


def _elements(ds: Dataset):  # type: ignore[no-untyped-def]
    """Every element at every depth (sequence items included)."""
    for elem in ds:
        yield elem
        if elem.VR == "SQ":
            for item in elem.value:
                yield from _elements(item)


def _original(name: str) -> Dataset:
    return pydicom.dcmread(get_testdata_file(name))


@pytest.mark.parametrize("name", FILES)
def test_basic_profile_leaves_no_removed_attribute_and_valid_dummies(name: str) -> None:
    table = load_profile()
    out = deidentify_dicom(_original(name), key=KEY).dataset
    for elem in _elements(out):
        assert not elem.tag.is_private, f"{name}: private {elem.tag} kept"
        action = table.action_for(int(elem.tag), DeidOptions())
        assert action is not Action.REMOVE, f"{name}: {elem.tag} ({elem.name}) should be removed"
        if action is Action.ZERO and elem.tag != 0x00100020:  # Patient ID (Z/D) gets a keyed pseudonym
            assert elem.is_empty, f"{name}: {elem.tag} should be empty"
        if action is Action.DUMMY and elem.VR != "SQ":
            assert not elem.is_empty
            validate_value(elem.VR, elem.value, config.RAISE)  # a dummy of the right VR
    assert out.PatientIdentityRemoved == "YES"
    assert out.LongitudinalTemporalInformationModified == "REMOVED"
    assert [item.CodeValue for item in out.DeidentificationMethodCodeSequence] == ["113100"]


def test_identifiers_are_gone_and_pixels_are_identical() -> None:
    original = _original("CT_small.dcm")
    snapshot = copy.deepcopy(original)
    result = deidentify_dicom(original, key=KEY)
    out = result.dataset
    assert original == snapshot  # the caller's dataset is not changed
    assert out.PatientName == ""
    assert out.get("PatientBirthDate", "") == ""
    assert out.PatientID.startswith("P-")
    assert out.PatientID != original.PatientID
    assert out.StudyDate == ""
    assert "InstitutionName" not in out
    assert out.PixelData == original.PixelData
    assert out.SOPInstanceUID != original.SOPInstanceUID
    assert out.SOPInstanceUID.startswith("2.25.")
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
    assert out.SOPClassUID == original.SOPClassUID  # not listed in Table E.1-1: kept
    assert len(result.report.removed_private) == sum(1 for e in original if e.tag.is_private)
    assert result.report.actions["X"] >= len(result.report.removed_private)


def test_patient_id_links_with_the_table_pseudonym_under_the_same_key() -> None:
    from medsyn.privacy import Pseudonymizer

    original = _original("CT_small.dcm")
    out = deidentify_dicom(original, key=KEY).dataset
    assert out.PatientID == Pseudonymizer(KEY, prefix="P-").token(original.PatientID)


def test_uids_map_consistently_across_files_runs_and_references() -> None:
    keyring = Keyring(KEY)
    a = _original("CT_small.dcm")
    b = copy.deepcopy(a)
    b.SOPInstanceUID = a.SOPInstanceUID + ".2"  # a second instance of the same series
    b.ReferencedSeriesSequence = Sequence([Dataset()])
    item = b.ReferencedSeriesSequence[0]
    item.SeriesInstanceUID = a.SeriesInstanceUID
    item.PatientName = "Doe^Jane"  # identifying text nested in a sequence the profile keeps
    item.ReferencedInstanceSequence = Sequence([Dataset()])
    item.ReferencedInstanceSequence[0].ReferencedSOPInstanceUID = a.SOPInstanceUID
    out_a = deidentify_dicom(a, keyring=keyring).dataset
    out_b = deidentify_dicom(b, keyring=keyring).dataset
    assert out_a.StudyInstanceUID == out_b.StudyInstanceUID
    assert out_a.SeriesInstanceUID == out_b.SeriesInstanceUID
    assert out_a.SOPInstanceUID != out_b.SOPInstanceUID
    nested = out_b.ReferencedSeriesSequence[0]
    assert nested.SeriesInstanceUID == out_a.SeriesInstanceUID
    assert nested.ReferencedInstanceSequence[0].ReferencedSOPInstanceUID == out_a.SOPInstanceUID
    assert nested.PatientName == ""
    again = deidentify_dicom(a, key=KEY).dataset  # a new run with the same key agrees
    assert again.StudyInstanceUID == out_a.StudyInstanceUID
    other = deidentify_dicom(a, key=SecretKey(b"another-test-key" * 2)).dataset
    assert other.StudyInstanceUID != out_a.StudyInstanceUID
    kept = deidentify_dicom(a, key=KEY, options=DeidOptions(retain_uids=True)).dataset
    assert kept.StudyInstanceUID == a.StudyInstanceUID


def test_rtplan_reference_follows_the_referenced_instance() -> None:
    keyring = Keyring(KEY)
    plan = _original("rtplan.dcm")
    referenced = plan.ReferencedStructureSetSequence[0].ReferencedSOPInstanceUID
    out = deidentify_dicom(plan, keyring=keyring).dataset
    assert out.ReferencedStructureSetSequence[0].ReferencedSOPInstanceUID == keyring.uids(referenced)
    structure = Dataset()
    structure.SOPInstanceUID = referenced
    structure.SOPClassUID = plan.ReferencedStructureSetSequence[0].ReferencedSOPClassUID
    assert deidentify_dicom(structure, keyring=keyring).dataset.SOPInstanceUID == keyring.uids(referenced)


def _date(text: str) -> dt.date:
    return dt.datetime.strptime(str(text)[:8], "%Y%m%d").date()


def test_modified_dates_shift_every_date_of_a_patient_alike() -> None:
    keyring = Keyring(KEY)
    options = DeidOptions(retain_dates=True)
    a = _original("CT_small.dcm")
    b = copy.deepcopy(a)
    b.StudyDate, b.SOPInstanceUID = "20050101", a.SOPInstanceUID + ".9"  # a later study of the same patient
    out_a = deidentify_dicom(a, keyring=keyring, options=options).dataset
    out_b = deidentify_dicom(b, keyring=keyring, options=options).dataset
    offset = keyring.date_offset(str(a.PatientID))
    assert offset != 0
    for original, out in ((a, out_a), (b, out_b)):
        for keyword in ("StudyDate", "AcquisitionDate", "ContentDate"):
            assert (_date(out[keyword].value) - _date(original[keyword].value)).days == offset
        assert out.StudyTime == original.StudyTime  # whole-day shifts keep times
    assert (_date(out_b.StudyDate) - _date(out_a.StudyDate)) == (_date(b.StudyDate) - _date(a.StudyDate))
    assert out_a.LongitudinalTemporalInformationModified == "MODIFIED"
    assert "113107" in [item.CodeValue for item in out_a.DeidentificationMethodCodeSequence]
    fixed = deidentify_dicom(a, key=KEY, options=options, date_offset=-10).dataset
    assert (_date(fixed.StudyDate) - _date(a.StudyDate)).days == -10


def test_patient_characteristics_clean_descriptors_and_options_codes() -> None:
    mr = _original("MR_small.dcm")
    plain = deidentify_dicom(mr, key=KEY).dataset
    assert plain.PatientSex == ""
    assert "PatientWeight" not in plain
    kept = deidentify_dicom(mr, key=KEY, options=DeidOptions(retain_patient_characteristics=True)).dataset
    assert kept.PatientSex == mr.PatientSex == "F"
    assert kept.PatientWeight == mr.PatientWeight
    ct = _original("CT_small.dcm")
    ct.SeriesDescription = "Chest 03/04/2004 CompressedSamples MRN 1234567"
    out = deidentify_dicom(ct, key=KEY, options=DeidOptions(clean_descriptors=True)).dataset
    assert out.SeriesDescription == "Chest [DATE] [NAME] MRN [ID]"
    assert "SeriesDescription" not in deidentify_dicom(ct, key=KEY).dataset
    codes = [i.CodeValue for i in out.DeidentificationMethodCodeSequence]
    assert codes == ["113100", "113105"]


def test_private_tags_are_removed_unless_declared_safe(tmp_path: Path) -> None:
    ct = _original("CT_small.dcm")
    safe_file = tmp_path / "safe.txt"
    safe_file.write_text("# vendor tags reviewed as safe\n(0009,xx01) GEMS_IDEN_01\n(0043,xx1A) NOT_IN_THIS_FILE\n")
    safe = read_safe_private(safe_file)
    assert safe[0] == SafePrivateTag(0x0009, 0x01, "GEMS_IDEN_01")
    result = deidentify_dicom(ct, key=KEY, safe_private=safe)
    private = [e.tag for e in result.dataset if e.tag.is_private]
    assert private == [0x00090010, 0x00091001]  # the creator and the one declared element
    assert result.dataset[0x00091001].value == ct[0x00091001].value
    assert "113111" in [i.CodeValue for i in result.dataset.DeidentificationMethodCodeSequence]
    assert len(result.report.kept_private) == 2
    bad = tmp_path / "bad.txt"
    bad.write_text("(0008,xx10) EVEN_GROUP\nnonsense\n")
    with pytest.raises(InputError) as err:
        read_safe_private(bad)
    assert len(err.value.problems) == 2
    assert "bad.txt:1" in str(err.value)


def test_burned_in_annotation_findings() -> None:
    ct = _original("CT_small.dcm")
    assert [f.code for f in deidentify_dicom(ct, key=KEY).report.warnings] == ["burned_in_annotation_unknown"]
    ct.BurnedInAnnotation = "YES"
    assert [f.code for f in deidentify_dicom(ct, key=KEY).report.warnings] == ["burned_in_annotation"]
    ct.BurnedInAnnotation = "NO"
    assert deidentify_dicom(ct, key=KEY).report.warnings == ()
    assert deidentify_dicom(_original("rtplan.dcm"), key=KEY).report.warnings == ()  # no pixel data


def test_dummy_sequence_keeps_structure_and_replaces_free_text() -> None:
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.88.11", "1.2.3.4"
    item = Dataset()
    item.TextValue = "Seen by Dr Who on 01/02/2003"
    item.ValueType = "TEXT"
    ds.ContentSequence = Sequence([item])  # Table E.1-1: D
    out = deidentify_dicom(ds, key=KEY).dataset
    assert len(out.ContentSequence) == 1
    assert out.ContentSequence[0].TextValue == "ANONYMIZED"
    assert out.ContentSequence[0].ValueType == "TEXT"


def test_written_file_is_readable_and_input_errors_are_clear(tmp_path: Path) -> None:
    out = tmp_path / "ct.dcm"
    deidentify_dicom(get_testdata_file("CT_small.dcm"), key=KEY, output=out)
    again = pydicom.dcmread(out)
    assert again.PatientIdentityRemoved == "YES"
    assert again.PixelData == _original("CT_small.dcm").PixelData
    fake = tmp_path / "fake.dcm"
    fake.write_text("this is not DICOM")
    with pytest.raises(DataFormatError, match=r"fake\.dcm"):
        deidentify_dicom(fake, key=KEY, output=tmp_path / "never.dcm")
    assert not (tmp_path / "never.dcm").exists()


def test_folder_run_refuses_a_non_dicom_file_and_writes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "study"
    src.mkdir()
    for name in ("CT_small.dcm", "MR_small.dcm"):
        (src / name).write_bytes(Path(get_testdata_file(name)).read_bytes())
    (src / "broken.dcm").write_text("not dicom")
    (src / "notes.txt").write_text("reading notes")
    with pytest.raises(InputError) as err:
        deidentify_dicom_files(src, tmp_path / "out", key=KEY)
    assert "broken.dcm" in str(err.value)
    assert "notes.txt" not in str(err.value)
    assert not (tmp_path / "out").exists()
    (src / "broken.dcm").unlink()
    run = deidentify_dicom_files(src, tmp_path / "out", key=KEY)
    assert len(run.reports) == 2
    assert len(run.skipped) == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        f"{pydicom.dcmread(r.output).SOPInstanceUID}.dcm" for r in run.reports if r.output
    )


@pytest.mark.shared_data
def test_real_dicom_samples_folder_run(tmp_path: Path) -> None:
    folder = shared("dicom_pydicom_samples")
    table = load_profile()
    run = deidentify_dicom_files(folder, tmp_path / "out", key=KEY, options=DeidOptions(retain_dates=True))
    assert len(run.reports) == 16  # every DICOM object; LICENSE, PROVENANCE.md and the README are skipped
    assert len(run.skipped) == 3
    for report in run.reports:
        assert report.output is not None
        original = pydicom.dcmread(report.source, force=True)
        out = pydicom.dcmread(report.output)
        assert out.PatientIdentityRemoved == "YES"
        if "PixelData" in original:
            assert out.PixelData == original.PixelData, report.source
        for elem in _elements(out):
            assert not elem.tag.is_private
            assert table.action_for(int(elem.tag), DeidOptions(retain_dates=True)) is not Action.REMOVE
        if "SOPInstanceUID" in original:
            assert out.SOPInstanceUID == run_uid(original.SOPInstanceUID)
    # images without Burned In Annotation = NO are flagged for review
    assert {f.code for f in run.warnings} <= {"burned_in_annotation", "burned_in_annotation_unknown"}
    assert run.warnings


def run_uid(uid: str) -> str:
    return Keyring(KEY).uids(uid)


def test_a_file_into_an_existing_folder_is_named_by_its_new_uid(tmp_path: Path) -> None:
    run = deidentify_dicom_files(get_testdata_file("MR_small.dcm"), tmp_path, key=KEY)
    (written,) = tmp_path.glob("*.dcm")
    assert written.name == f"{pydicom.dcmread(written).SOPInstanceUID}.dcm"
    assert run.output == str(written)
