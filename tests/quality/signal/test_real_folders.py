"""The whole signal audit on every real folder (slow); the crops in the other tests are its small twins."""

from __future__ import annotations

import pytest

from medsyn.data.dataset import SignalDataset
from medsyn.data.io import read
from medsyn.metric import Status
from medsyn.quality import audit
from tests.conftest import shared

FOLDERS = [
    "ecg_wfdb_physionet_samples",
    "ecg_cinc2021_georgia_ptbxl",
    "ecg_cpsc2021_paroxysmal_af",
    "eeg_eegmmidb_s001_motor_imagery",
]


def _check(data: SignalDataset) -> None:
    result = audit(data)
    assert result.errors == ()
    assert all(r.status is not Status.ERROR for r in result.results)
    kind_specific = {"ecg": "signal_eeg_bad_channels", "eeg": "signal_ecg_quality"}[data.kind]
    assert result[kind_specific].status is Status.SKIPPED


@pytest.mark.shared_data
@pytest.mark.slow
@pytest.mark.parametrize("folder", FOLDERS)
def test_audit_every_real_folder(folder: str) -> None:
    data = read(shared(folder))
    assert isinstance(data, SignalDataset)
    _check(data)


@pytest.mark.shared_data
@pytest.mark.parametrize("folder", FOLDERS)
def test_audit_two_records_of_every_real_folder(folder: str) -> None:
    data = read(shared(folder))
    assert isinstance(data, SignalDataset)
    _check(data.select([0, 1]))
