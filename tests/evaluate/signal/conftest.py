"""Real recordings for the signal evaluation tests, read once per test module.

ECG: the 30 CinC 2021 12-lead records (20 Georgia, 10 PTB-XL; 500 Hz, 10 s), shuffled with a
fixed seed and split into training "real" (10), holdout (10) and a disjoint third (10) that
plays a near-ideal synthetic set. EEG: eegmmidb subject S001, runs R03–R06, cut into 10-s
windows (8 channels), with runs R03/R04 as real, R05 as holdout and R06 as the near-ideal set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from medsyn.data.dataset import SignalDataset
from medsyn.data.io import read
from tests.conftest import shared
from tests.evaluate.signal.helpers import windows

EEG_CHANNELS = ("Fz..", "Cz..", "Pz..", "Oz..", "C3..", "C4..", "O1..", "O2..")


@dataclass(frozen=True)
class Split:
    real: SignalDataset
    holdout: SignalDataset
    other: SignalDataset


@pytest.fixture(scope="module")
def ecg() -> Split:
    data = read(shared("ecg_cinc2021_georgia_ptbxl"))
    assert isinstance(data, SignalDataset)
    order = np.random.default_rng(7).permutation(len(data))
    return Split(*(data.select(np.sort(order[i : i + 10])) for i in (0, 10, 20)))


@pytest.fixture(scope="module")
def eeg() -> Split:
    folder = shared("eeg_eegmmidb_s001_motor_imagery")
    runs = {}
    for run in ("R03", "R04", "R05", "R06"):
        data = read(folder / f"S001{run}.edf")
        assert isinstance(data, SignalDataset)
        runs[run] = data.records[0]
    return Split(
        windows([runs["R03"], runs["R04"]], 10.0, EEG_CHANNELS),
        windows([runs["R05"]], 10.0, EEG_CHANNELS),
        windows([runs["R06"]], 10.0, EEG_CHANNELS),
    )
