"""EDF/EDF+ header de-identification: identifying fields gone, data records byte-identical."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyedflib
import pytest

from medsyn.errors import DataFormatError, InputError
from medsyn.privacy import SecretKey
from medsyn.privacy.deid import DeidOptions, Keyring, deidentify_edf, deidentify_edf_files, read_edf_header
from tests.conftest import shared

KEY = SecretKey(b"medsyn-test-key-" * 2)


def _write_identified(path: Path) -> np.ndarray:
    """A 2-channel EDF+ file written with pyedflib that names its patient, with an annotation."""
    rng = np.random.default_rng(0)
    signals = rng.normal(0, 50, size=(2, 256 * 4))
    with pyedflib.EdfWriter(str(path), 2, file_type=pyedflib.FILETYPE_EDFPLUS) as writer:
        writer.setSignalHeaders(
            [
                {
                    "label": f"EEG C{i}",
                    "dimension": "uV",
                    "sample_frequency": 256,
                    "physical_max": 500.0,
                    "physical_min": -500.0,
                    "digital_max": 32767,
                    "digital_min": -32768,
                    "transducer": "",
                    "prefilter": "",
                }
                for i in range(2)
            ]
        )
        writer.setPatientCode("MRN-0042")
        writer.setPatientName("Jane_Roe")
        writer.setSex(0)  # female
        writer.setBirthdate(dt.date(1961, 3, 14))
        writer.setTechnician("Dr_Alan_Smithers")
        writer.setEquipment("NeuroAmp-7_SN991")
        writer.setAdmincode("ADM-77")
        writer.setStartdatetime(dt.datetime(2019, 5, 6, 14, 30, 0))
        writer.writeSamples(list(signals))
        writer.writeAnnotation(1.0, 0.5, "Jane called nurse 06/05/2019")
        writer.writeAnnotation(2.0, -1, "eyes closed")
    return signals


def test_identifying_header_fields_are_replaced_and_data_kept(tmp_path: Path) -> None:
    src = tmp_path / "in.edf"
    signals = _write_identified(src)
    before = read_edf_header(src)
    assert "Jane_Roe" in before.patient
    assert "Smithers" in before.recording
    out = tmp_path / "out.edf"
    report = deidentify_edf(src, out, key=KEY, scrub_annotations=True)
    header = read_edf_header(out)
    pseudonym = Keyring(KEY).pseudonym("MRN-0042")
    assert header.patient == f"{pseudonym} X X X"  # code pseudonymised; sex, birthdate, name removed
    assert header.recording == "Startdate X X X X"
    assert (header.startdate, header.starttime) == ("01.01.85", "00.00.00")
    raw_in, raw_out = src.read_bytes(), out.read_bytes()
    assert len(raw_in) == len(raw_out)
    for text in (b"Jane", b"Roe", b"Smithers", b"MRN-0042", b"1961", b"ADM-77", b"SN991"):
        assert text not in raw_out[: header.header_bytes]
    assert b"Jane" not in raw_out
    assert b"06/05/2019" not in raw_out
    with pyedflib.EdfReader(str(out)) as reader:
        assert reader.signals_in_file == 2
        np.testing.assert_allclose(reader.readSignal(0), signals[0], atol=500 / 32767 * 2)
        onsets, _, texts = reader.readAnnotations()
        assert list(onsets) == [1.0, 2.0]
        assert texts[1] == "eyes closed"
        assert "Jane" not in texts[0]
        assert "[NAME]" in texts[0]
    assert report.details["annotations_scrubbed"] == 1
    # the non-annotation samples are byte-identical: compare record by record outside the TAL bytes
    step, tal = header.record_bytes, header.annotation_slices[0]
    body_in, body_out = raw_in[header.header_bytes :], raw_out[header.header_bytes :]
    for start in range(0, len(body_in), step):
        rec_in, rec_out = body_in[start : start + step], body_out[start : start + step]
        assert rec_in[: tal.start] + rec_in[tal.stop :] == rec_out[: tal.start] + rec_out[tal.stop :]


def test_sex_and_shifted_date_with_options(tmp_path: Path) -> None:
    src = tmp_path / "in.edf"
    _write_identified(src)
    out = tmp_path / "out.edf"
    options = DeidOptions(retain_dates=True, retain_patient_characteristics=True)
    deidentify_edf(src, out, key=KEY, options=options)
    header = read_edf_header(out)
    assert header.patient.split()[1] == "F"
    offset = Keyring(KEY).date_offset("MRN-0042")
    moved = dt.date(2019, 5, 6) + dt.timedelta(days=offset)
    assert header.startdate == moved.strftime("%d.%m.%y")
    assert header.starttime == "14.30.00"
    assert header.recording.startswith(f"Startdate {moved.day:02d}-{moved.strftime('%b').upper()}-{moved.year} X X X")
    assert src.read_bytes()[header.header_bytes :] == out.read_bytes()[header.header_bytes :]  # no scrubbing


@pytest.mark.shared_data
def test_real_edf_plus_files_keep_every_data_byte(tmp_path: Path) -> None:
    folder = shared("eeg_eegmmidb_s001_motor_imagery")
    run = deidentify_edf_files(folder, tmp_path / "out", key=KEY)
    assert len(run.reports) == 12
    assert all("event" in s or "PROVENANCE" in s for s in run.skipped)
    src, out = folder / "S001R03.edf", tmp_path / "out" / "S001R03.edf"
    header = read_edf_header(out)
    assert header.recording == "Startdate X X X X"  # 'BCI2000' equipment removed
    assert header.startdate == "01.01.85"
    assert src.read_bytes()[header.header_bytes :] == out.read_bytes()[header.header_bytes :]
    with pyedflib.EdfReader(str(src)) as a, pyedflib.EdfReader(str(out)) as b:
        assert a.signals_in_file == b.signals_in_file == 64
        np.testing.assert_array_equal(a.readSignal(10), b.readSignal(10))
        assert list(a.readAnnotations()[2]) == list(b.readAnnotations()[2])  # T0/T1/T2 events kept


def test_bad_edf_input_is_refused_before_writing(tmp_path: Path) -> None:
    bad = tmp_path / "notes.edf"
    bad.write_text("not an EDF file at all")
    with pytest.raises(DataFormatError, match=r"notes\.edf"):
        deidentify_edf(bad, tmp_path / "x.edf")
    good = tmp_path / "ok.edf"
    _write_identified(good)
    truncated = tmp_path / "cut.edf"
    truncated.write_bytes(good.read_bytes()[:-600])
    with pytest.raises(InputError) as err:
        deidentify_edf_files(tmp_path, tmp_path / "out", key=KEY)
    message = str(err.value)
    assert "notes.edf" in message
    assert "cut.edf" in message
    assert "truncated" in message
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "x.edf").exists()
