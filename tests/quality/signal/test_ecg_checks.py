"""Signal checks on real ECGs: quiet on clean leads, loud on artefacts injected into one lead."""

from __future__ import annotations

import json

import numpy as np
import pytest

from medsyn.data.dataset import SignalDataset, SignalRecord
from medsyn.metric import METRICS, ItemResult, MetricResult, Status, get_metric
from medsyn.quality import audit
from medsyn.quality import signal as signal_checks
from tests.quality.signal.helpers import inject

pytestmark = pytest.mark.shared_data

SIGNAL_CHECKS = {
    "signal_amplitude",
    "signal_baseline_wander",
    "signal_clipping",
    "signal_ecg_quality",
    "signal_eeg_bad_channels",
    "signal_flat_line",
    "signal_nan_gaps",
    "signal_powerline",
    "signal_snr",
}
#: What the audit genuinely finds on the clean set (real recordings are not perfect): only these.
GENUINE = {"signal_clipping": {"E07505:aVR"}, "signal_snr": {"E07517:III"}}


def flagged(result: MetricResult) -> set[str]:
    return {i.key for i in result.flagged() if i.scope == "channel"}


def item(result: MetricResult, key: str) -> ItemResult:
    return next(i for i in result.items if i.key == key)


def run(name: str, data: SignalDataset) -> MetricResult:
    return get_metric(name)().compute(data)


def test_checks_are_registered_and_exported() -> None:
    assert set(METRICS.names()) >= SIGNAL_CHECKS
    for name in signal_checks.__all__:
        assert hasattr(signal_checks, name)
    for name in SIGNAL_CHECKS:
        cls = get_metric(name)
        assert cls.kind.value == "quality"
        assert cls.modality.value == "signal"
        assert len(cls.describe()) > 60


def test_clean_records_raise_no_alarm(clean_ecg: SignalDataset) -> None:
    result = audit(clean_ecg)
    assert result.errors == ()
    by_name = {r.metric: r for r in result.results}
    assert set(by_name) == SIGNAL_CHECKS
    for name, res in by_name.items():
        assert flagged(res) <= GENUINE.get(name, set()), (name, flagged(res))
    assert by_name["signal_eeg_bad_channels"].status is Status.SKIPPED
    assert "no EEG channels" in by_name["signal_eeg_bad_channels"].reason
    json.dumps(result.to_dict())  # typed results serialise


def test_flat_segment_in_one_lead(clean_ecg: SignalDataset) -> None:
    def flatten(x: np.ndarray, rate: float) -> np.ndarray:
        x[int(3 * rate) : int(5 * rate)] = x[int(3 * rate)]
        return x

    res = run("signal_flat_line", inject(clean_ecg, "E07505", "II", flatten))
    assert flagged(res) == {"E07505:II"}
    found = item(res, "E07505:II")
    assert found.status is Status.FAIL
    # neighbouring samples may equal the held value by chance (1 µV resolution): a few ms more
    assert found.details["longest_seconds"] == pytest.approx(2.0, abs=0.05)
    assert found.details["first_onset_seconds"] == pytest.approx(3.0, abs=0.05)
    assert item(res, "E07505").status is Status.FAIL  # the record item carries its worst channel
    assert res.status.severity >= Status.WARN.severity


def test_clipping_in_one_lead(clean_ecg: SignalDataset) -> None:
    def saturate(x: np.ndarray, rate: float) -> np.ndarray:
        return np.clip(x, 0.5 * x.min(), 0.5 * x.max())

    res = run("signal_clipping", inject(clean_ecg, "E07505", "V2", saturate))
    assert flagged(res) == {"E07505:V2", "E07505:aVR"}  # aVR is genuinely clipped in the original
    assert item(res, "E07505:V2").status is Status.FAIL


def test_mains_interference(clean_ecg: SignalDataset) -> None:
    def hum(x: np.ndarray, rate: float) -> np.ndarray:
        return x + 0.1 * np.sin(2 * np.pi * 50 * np.arange(len(x)) / rate)

    res = run("signal_powerline", inject(clean_ecg, "100", "MLII", hum))
    assert flagged(res) == {"100:MLII"}
    found = item(res, "100:MLII")
    assert found.status is Status.FAIL
    assert found.details["frequency_hz"] == 50.0
    assert found.value > 20


def test_strong_baseline_wander(clean_ecg: SignalDataset) -> None:
    def breathe(x: np.ndarray, rate: float) -> np.ndarray:
        return x + 1.5 * np.sin(2 * np.pi * 0.25 * np.arange(len(x)) / rate)

    res = run("signal_baseline_wander", inject(clean_ecg, "100", "V5", breathe))
    assert flagged(res) == {"100:V5"}
    assert item(res, "100:V5").value > 0.6
    assert item(res, "100:MLII").value < 0.3


def test_noise_lowers_the_template_snr(clean_ecg: SignalDataset) -> None:
    clean = run("signal_snr", clean_ecg)
    assert item(clean, "E07505:V2").value > 10
    assert item(clean, "E07505:V2").details["method"] == "beat template"

    def noisy(x: np.ndarray, rate: float) -> np.ndarray:
        return x + np.random.default_rng(1).normal(0, 0.5, len(x))

    res = run("signal_snr", inject(clean_ecg, "E07505", "V2", noisy))
    assert "E07505:V2" in flagged(res)
    assert item(res, "E07505:V2").value < item(clean, "E07505:V2").value - 10


def test_ecg_quality_and_heart_rate(clean_ecg: SignalDataset) -> None:
    def replace_by_noise(x: np.ndarray, rate: float) -> np.ndarray:
        return np.random.default_rng(2).normal(0, 0.3, len(x))

    res = run("signal_ecg_quality", inject(clean_ecg, "E07505", "I", replace_by_noise))
    assert "E07505:I" in flagged(res)
    assert item(res, "E07505:I").status is Status.FAIL
    good = item(res, "E07505:II")
    assert good.status is Status.PASS
    assert good.value > 0.9
    assert 40 < good.details["heart_rate_bpm"] < 150
    mit = item(res, "100:MLII")
    assert mit.details["analysed_seconds"] == 60  # capped: the first 60 s
    assert 60 < mit.details["heart_rate_bpm"] < 90  # MIT-BIH 100: about 75 bpm


def test_wrong_unit_is_an_implausible_amplitude(clean_ecg: SignalDataset) -> None:
    res = run("signal_amplitude", inject(clean_ecg, "E07517", "V1", lambda x, rate: x * 1000))
    assert flagged(res) == {"E07517:V1"}
    found = item(res, "E07517:V1")
    assert found.status is Status.FAIL
    assert "wrong gain or unit" in found.note


def test_nan_gap_and_all_nan_channel(clean_ecg: SignalDataset) -> None:
    def gap(x: np.ndarray, rate: float) -> np.ndarray:
        x[int(10 * rate) : int(11 * rate)] = np.nan
        return x

    data = inject(inject(clean_ecg, "100", "MLII", gap), "E07517", "V4", lambda x, rate: np.full_like(x, np.nan))
    res = run("signal_nan_gaps", data)
    assert flagged(res) == {"100:MLII", "E07517:V4"}
    assert item(res, "100:MLII").details["longest_seconds"] == pytest.approx(1.0, abs=0.01)
    assert item(res, "E07517:V4").value == 1.0
    assert item(res, "E07517:V4").status is Status.FAIL
    # the other checks interpolate a short gap and skip a channel with nothing in it, with the reason
    for name in ("signal_flat_line", "signal_powerline", "signal_snr", "signal_amplitude", "signal_ecg_quality"):
        other = run(name, data)
        assert item(other, "E07517:V4").status is Status.SKIPPED, name
        assert item(other, "E07517:V4").note
        assert not np.isnan(item(other, "100:MLII").value), name
        assert "100:MLII" not in flagged(other), name


def test_zero_length_record_is_skipped_not_fatal(clean_ecg: SignalDataset) -> None:
    empty = SignalRecord(
        name="empty",
        data=np.zeros((2, 0), dtype=np.float32),
        sampling_rate=500.0,
        channels=("I", "II"),
        units=("mV", "mV"),
    )
    data = SignalDataset([*clean_ecg.records, empty], kind="ecg")
    result = audit(data)
    assert result.errors == ()
    for res in result.results:
        if res.status is not Status.SKIPPED:
            assert item(res, "empty").status is Status.SKIPPED
