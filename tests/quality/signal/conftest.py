"""Real records to inject artefacts into: crops of PhysioNet ECGs and one eegmmidb EEG run."""

from __future__ import annotations

import pytest

from medsyn.data.dataset import SignalDataset
from medsyn.data.io import read
from tests.conftest import shared
from tests.quality.signal.helpers import crop


@pytest.fixture(scope="session")
def clean_ecg() -> SignalDataset:
    """Three real ECGs the audit finds clean on the leads the tests use: two 10-s 12-lead CinC
    records (500 Hz) and the first 60 s of MIT-BIH 100 (360 Hz)."""
    cinc = shared("ecg_cinc2021_georgia_ptbxl")
    records = [read(cinc / name).records[0] for name in ("E07505", "E07517")]  # type: ignore[attr-defined]
    mit = read(shared("ecg_wfdb_physionet_samples") / "100").records[0]  # type: ignore[attr-defined]
    records.append(crop(mit, 60))
    return SignalDataset(records, kind="ecg")


@pytest.fixture(scope="session")
def clean_eeg() -> SignalDataset:
    """The first 30 s of eegmmidb S001R04 (64 channels, 160 Hz, µV)."""
    run = read(shared("eeg_eegmmidb_s001_motor_imagery") / "S001R04.edf").records[0]  # type: ignore[attr-defined]
    return SignalDataset([crop(run, 30)], kind="eeg")
