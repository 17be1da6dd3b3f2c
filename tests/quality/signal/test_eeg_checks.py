"""Signal checks on a real EEG run: dead, noisy and mains-contaminated channels injected into it."""

from __future__ import annotations

import numpy as np
import pytest

from medsyn.data.dataset import SignalDataset
from medsyn.metric import MetricResult, Status, get_metric
from medsyn.quality import audit
from tests.quality.signal.helpers import inject

pytestmark = pytest.mark.shared_data

REC = "S001R04"
CLEAN_CENTRAL = {f"{REC}:{c}" for c in ("C1..", "C2..", "C4..", "Cpz.", "Fcz.")}


def flagged(result: MetricResult) -> set[str]:
    return {i.key for i in result.flagged() if i.scope == "channel"}


def run(name: str, data: SignalDataset) -> MetricResult:
    return get_metric(name)().compute(data)


def test_clean_run(clean_eeg: SignalDataset) -> None:
    result = audit(clean_eeg)
    assert result.errors == ()
    by_name = {r.metric: r for r in result.results}
    assert by_name["signal_ecg_quality"].status is Status.SKIPPED
    assert "no ECG channels" in by_name["signal_ecg_quality"].reason
    for name in (
        "signal_flat_line",
        "signal_clipping",
        "signal_nan_gaps",
        "signal_powerline",
        "signal_amplitude",
        "signal_snr",
    ):
        assert flagged(by_name[name]) == set(), name
    bad = flagged(by_name["signal_eeg_bad_channels"])
    assert not bad & CLEAN_CENTRAL
    # this subject's right temporal electrodes are genuinely noisy (muscle); nothing else is flagged
    assert bad <= {f"{REC}:{c}" for c in ("T10.", "T8..", "Ft8.", "Tp8.", "T9..")}


def test_dead_and_noisy_channels(clean_eeg: SignalDataset) -> None:
    rng = np.random.default_rng(3)
    data = inject(clean_eeg, REC, "C3..", lambda x, rate: rng.normal(0, 0.3, len(x)))
    data = inject(data, REC, "Cz..", lambda x, rate: x + rng.normal(0, 150, len(x)))
    res = run("signal_eeg_bad_channels", data)
    by_key = {i.key: i for i in res.items}
    assert by_key[f"{REC}:C3.."].status is Status.FAIL
    assert "far below" in by_key[f"{REC}:C3.."].note
    assert by_key[f"{REC}:Cz.."].status is Status.FAIL
    assert "noise" in by_key[f"{REC}:Cz.."].note or "far above" in by_key[f"{REC}:Cz.."].note
    assert not flagged(res) & (CLEAN_CENTRAL - {f"{REC}:C3..", f"{REC}:Cz.."})


def test_mains_noise_on_one_electrode(clean_eeg: SignalDataset) -> None:
    data = inject(clean_eeg, REC, "Pz..", lambda x, rate: x + 20 * np.sin(2 * np.pi * 60 * np.arange(len(x)) / rate))
    res = run("signal_powerline", data)
    assert flagged(res) == {f"{REC}:Pz.."}
    found = next(i for i in res.items if i.key == f"{REC}:Pz..")
    assert found.details["frequency_hz"] == 60.0


def test_flat_channel_is_found_by_flat_line_and_bad_channels(clean_eeg: SignalDataset) -> None:
    data = inject(clean_eeg, REC, "O1..", lambda x, rate: np.zeros_like(x))
    assert f"{REC}:O1.." in flagged(run("signal_flat_line", data))
    bad = run("signal_eeg_bad_channels", data)
    assert next(i for i in bad.items if i.key == f"{REC}:O1..").status is Status.FAIL
    amp = run("signal_amplitude", data)
    assert next(i for i in amp.items if i.key == f"{REC}:O1..").status is Status.FAIL


def test_eeg_amplitude_in_microvolts(clean_eeg: SignalDataset) -> None:
    res = run("signal_amplitude", clean_eeg)
    values = [i.value for i in res.items if i.scope == "channel"]
    assert 50 < float(np.median(values)) < 1000  # µV peak to peak
