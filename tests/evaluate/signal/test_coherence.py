"""Band coherence: equal to scipy's estimate, near the ideal for disjoint real records, worse for
signals whose channels were permuted, made independently or drowned in noise (real ECG and EEG).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.signal import coherence

from medsyn.data.dataset import SignalDataset, SignalRecord
from medsyn.evaluate import EvalInputs
from medsyn.evaluate.signal import (
    COHERENCE_EEG_BANDS,
    ECG_COHERENCE_BANDS,
    BandCoherence,
    coherence_bands,
    coherence_matrix,
    segment_length,
)
from medsyn.metric import MetricResult, Status
from tests.evaluate.signal.conftest import EEG_CHANNELS, Split
from tests.evaluate.signal.helpers import crop, noise, variant


def channel_permuted(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each record's channels in a random order: every channel still real, the montage scrambled."""
    return x[rng.permutation(x.shape[0])]


def channels_from_other_records(data: SignalDataset) -> SignalDataset:
    """Record k takes channel c from record (k + c): each channel real, but made without the others."""
    recs = data.records
    out = [
        SignalRecord(
            "m" + r.name,
            np.stack([recs[(k + c) % len(recs)].data[c] for c in range(len(r.channels))]),
            r.sampling_rate,
            r.channels,
            r.units,
        )
        for k, r in enumerate(recs)
    ]
    attributes = data.attributes.copy()
    attributes["record"] = [r.name for r in out]
    return SignalDataset(out, attributes, data.schema, kind=data.kind)


def test_coherence_matrix_equals_scipy_for_every_pair() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 700)).cumsum(axis=-1)
    x[:, 1] += 0.5 * x[:, 0]
    x[1, 2] = 4.0  # a flat channel: no coherence defined
    freqs, msc = coherence_matrix(x, 128.0, 96)
    for r in range(2):
        for i in range(3):
            for j in range(3):
                with np.errstate(invalid="ignore"):
                    f, expected = coherence(x[r, i], x[r, j], 128.0, nperseg=96)
                np.testing.assert_allclose(freqs, f)
                if r == 1 and 2 in (i, j):
                    assert np.isnan(msc[r, :, i, j]).all()
                else:
                    np.testing.assert_allclose(msc[r, :, i, j], expected, atol=1e-10)


def test_segments_are_two_seconds_at_most_a_quarter_of_the_record() -> None:
    assert segment_length(1600, 160.0, 2.0) == 320
    assert segment_length(1000, 500.0, 2.0) == 250  # a 2-s record: 0.5-s segments, 7 of them


def test_bands_follow_the_signal_kind_and_stop_at_nyquist() -> None:
    eeg, dropped = coherence_bands("eeg", 160.0, 320)
    assert eeg == COHERENCE_EEG_BANDS
    assert dropped == []
    slow, dropped = coherence_bands("eeg", 40.0, 80)
    assert dropped == ["gamma"]
    assert slow["beta"] == (13.0, 20.0)
    ecg, _ = coherence_bands("ecg", 500.0, 1000)
    assert ecg == ECG_COHERENCE_BANDS
    other, _ = coherence_bands("signal", 10.0, 40)
    assert len(other) == 4
    edges = [b for band in other.values() for b in band]
    assert edges[0] == pytest.approx(0.5)  # two frequency bins
    assert edges[-1] == pytest.approx(5.0)  # Nyquist
    coarse, dropped = coherence_bands("eeg", 160.0, 16)  # 10-Hz bins: only alpha, beta and gamma hold one
    assert dropped == ["delta", "theta"]
    assert list(coarse) == ["alpha", "beta", "gamma"]


def _value(real: SignalDataset, synthetic: SignalDataset, holdout: SignalDataset | None = None) -> MetricResult:
    return BandCoherence().evaluate(EvalInputs.build(real, synthetic, holdout, n_bootstrap=20))


@pytest.fixture(scope="module")
def eeg_results(eeg: Split) -> dict[str, MetricResult]:
    return {
        "ideal": _value(eeg.real, eeg.other),
        "holdout": _value(eeg.real, eeg.holdout),
        "permuted": _value(eeg.real, variant(eeg.other, channel_permuted, "p", seed=3)),
        "independent": _value(eeg.real, channels_from_other_records(eeg.other)),
        "noise": _value(eeg.real, variant(eeg.other, noise(0.5), "n", seed=1)),
    }


@pytest.mark.shared_data
def test_real_eeg_runs_score_near_the_ideal(eeg_results: dict[str, MetricResult]) -> None:
    for name in ("ideal", "holdout"):
        result = eeg_results[name]
        assert result.value < 0.05, name
        assert result.status is Status.PASS
        assert result.ci is not None
        assert result.ci[0] <= result.value <= result.ci[1]
        assert BandCoherence().score(result.value) > 0.85
    details = eeg_results["ideal"].details
    assert details["band_set"] == "eeg"
    assert details["pairs"] == 28
    assert details["segments_per_record"] == 9
    assert details["bands_left_out"] == ""
    alpha = details["real_msc_alpha"]
    assert isinstance(alpha, float)
    assert 0.3 < alpha < 0.9  # neighbouring electrodes share their rhythms
    assert len(eeg_results["ideal"].items) == len(EEG_CHANNELS)
    json.dumps(eeg_results["ideal"].to_dict())


@pytest.mark.shared_data
def test_scrambled_or_independent_eeg_channels_score_worse(eeg_results: dict[str, MetricResult]) -> None:
    v = {name: r.value for name, r in eeg_results.items()}
    assert v["permuted"] > v["ideal"] + 0.08
    assert v["independent"] > v["ideal"] + 0.3
    assert v["noise"] > v["ideal"] + 0.1
    independent = eeg_results["independent"]
    assert independent.status is Status.FAIL
    # independently made channels fall to the estimator's floor for unrelated signals
    alpha, floor = independent.details["synthetic_msc_alpha"], independent.details["coherence_floor"]
    assert isinstance(alpha, float)
    assert isinstance(floor, float)
    assert alpha < 2.5 * floor


@pytest.mark.shared_data
def test_ecg_split_near_ideal_noise_and_independent_leads_worse(ecg: Split) -> None:
    ideal = _value(ecg.real, ecg.other)
    noisy = _value(ecg.real, variant(ecg.other, noise(1.0), "n", seed=1))
    independent = _value(ecg.real, channels_from_other_records(ecg.other))
    assert ideal.value < 0.06
    assert ideal.status is Status.PASS
    assert ideal.details["band_set"] == "ecg"
    assert ideal.details["pairs"] == 66
    assert noisy.value > ideal.value + 0.15
    assert independent.value > ideal.value + 0.4
    assert independent.status is Status.FAIL
    worst = max(independent.items, key=lambda i: i.value)
    assert worst.details["worst_band"] in ECG_COHERENCE_BANDS


@pytest.mark.shared_data
def test_short_records_and_single_channels(ecg: Split) -> None:
    short = _value(crop(ecg.real, 2.0, ("I", "II", "V1")), crop(ecg.other, 2.0, ("I", "II", "V1")))
    assert short.status is not Status.SKIPPED
    assert short.details["segment_seconds"] == 0.5
    one = _value(crop(ecg.real, 2.0, ("II",)), crop(ecg.other, 2.0, ("II",)))
    assert one.status is Status.SKIPPED
    assert "two channels" in one.reason
    tiny = _value(crop(ecg.real, 0.05, ("I", "II")), crop(ecg.other, 0.05, ("I", "II")))
    assert tiny.status is Status.SKIPPED
    assert "too short" in tiny.reason
