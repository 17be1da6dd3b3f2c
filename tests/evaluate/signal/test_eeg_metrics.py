"""EEG: relative band powers per channel and band, and the generic signal metrics, on real eegmmidb windows."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from medsyn.data.dataset import SignalDataset
from medsyn.evaluate import EvalInputs
from medsyn.evaluate.signal import EEG_BANDS, EegBandPowers, band_powers
from medsyn.metric import MetricResult, Status, get_metric
from tests.evaluate.signal.conftest import EEG_CHANNELS, Split
from tests.evaluate.signal.helpers import noise, scale, shuffle, variant

pytestmark = pytest.mark.shared_data

METRICS = ["eeg_band_powers", "psd_distance", "autocorrelation_difference", "cross_channel_correlation", "dtw_coverage"]


def lowpass(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Everything above 8 Hz removed: no alpha, beta or gamma left."""
    return sosfiltfilt(butter(4, 8.0, fs=160.0, output="sos"), x, axis=1)


@pytest.fixture(scope="module")
def results(eeg: Split) -> dict[str, dict[str, MetricResult]]:
    variants: dict[str, SignalDataset] = {
        "ideal": eeg.other,
        "noise": variant(eeg.other, noise(0.5), "n", seed=1),
        "lowpass": variant(eeg.other, lowpass, "l"),
        "scaled": variant(eeg.other, scale(2.0), "a"),
        "shuffled": variant(eeg.other, shuffle, "s", seed=2),
    }
    out = {}
    for name, synthetic in variants.items():
        inputs = EvalInputs.build(eeg.real, synthetic, eeg.holdout, n_bootstrap=30)
        out[name] = {m: get_metric(m)().evaluate(inputs) for m in METRICS}  # type: ignore[attr-defined]
    return out


def test_band_powers_are_relative_and_per_band() -> None:
    rate = 160.0
    t = np.arange(0, 10, 1 / rate)
    alpha = np.sin(2 * np.pi * 10 * t) + 0.01 * np.random.default_rng(0).normal(size=t.size)
    from medsyn.quality.signal._base import welch

    freqs, psd = welch(alpha[None, None], rate, 2.0)
    powers = band_powers(freqs, psd, EEG_BANDS)[0, 0]
    assert powers.sum() == pytest.approx(1.0)
    assert powers[list(EEG_BANDS).index("alpha")] > 0.95


def test_eeg_band_powers_order_the_variants(results: dict[str, dict[str, MetricResult]]) -> None:
    v = {name: r["eeg_band_powers"].value for name, r in results.items()}
    assert v["scaled"] == pytest.approx(v["ideal"], abs=1e-9)  # relative powers ignore amplitude
    assert v["ideal"] < 0.45
    assert v["ideal"] + 0.15 < v["noise"] < v["lowpass"]
    assert v["ideal"] + 0.4 < v["shuffled"]
    result = results["lowpass"]["eeg_band_powers"]
    assert result.status is Status.FAIL
    assert len(result.items) == len(EEG_CHANNELS) * len(EEG_BANDS)
    alpha = next(i for i in result.items if i.key == "Oz..:alpha")
    assert alpha.value > 0.9
    assert alpha.details["synthetic_median"] < alpha.details["real_median"] / 5
    assert result.details["ks_alpha"] > result.details["ks_delta"]
    json.dumps(result.to_dict())


def test_generic_metrics_on_eeg(results: dict[str, dict[str, MetricResult]]) -> None:
    psd = {name: r["psd_distance"].value for name, r in results.items()}
    assert psd["ideal"] < 3.0
    assert psd["ideal"] < psd["noise"] < psd["lowpass"]
    acf = {name: r["autocorrelation_difference"].value for name, r in results.items()}
    assert acf["ideal"] < 0.1
    assert acf["ideal"] + 0.2 < acf["shuffled"]
    corr = {name: r["cross_channel_correlation"].value for name, r in results.items()}
    assert corr["ideal"] < 0.1
    assert corr["noise"] > corr["ideal"] + 0.05  # independent noise decorrelates the electrodes
    coverage = {name: r["dtw_coverage"].value for name, r in results.items()}
    assert coverage["ideal"] >= 0.7
    assert coverage["shuffled"] <= 0.1


def test_band_powers_left_out_above_nyquist(eeg: Split) -> None:
    def decimate(data: SignalDataset) -> SignalDataset:
        from medsyn.data.dataset import SignalRecord

        records = [SignalRecord(r.name, r.data[:, ::4], 40.0, r.channels, r.units) for r in data.records]
        return SignalDataset(records, data.attributes, kind="eeg")

    result = EegBandPowers().evaluate(EvalInputs.build(decimate(eeg.real), decimate(eeg.other)))
    assert result.status is not Status.SKIPPED
    assert result.details["bands_left_out"] == "gamma"
    assert result.details["bands_cut_at_nyquist"] == "beta"
    assert "ks_gamma" not in result.details
    assert len(result.items) == len(EEG_CHANNELS) * 4


def test_ecg_clinical_features_skip_on_eeg(eeg: Split) -> None:
    result = get_metric("ecg_clinical_features")().evaluate(EvalInputs.build(eeg.real, eeg.other))  # type: ignore[attr-defined]
    assert result.status is Status.SKIPPED
    assert "no ECG channels" in result.reason
