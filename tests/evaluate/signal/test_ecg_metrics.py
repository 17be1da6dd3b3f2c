"""Signal fidelity, diversity and privacy on real 12-lead ECGs: a disjoint real set scores near the
ideal, corrupted variants lose in the expected order, a copy of the training records fails privacy."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from medsyn.data.dataset import SignalDataset
from medsyn.evaluate import EvalInputs
from medsyn.evaluate.signal import EcgClinicalFeatures, ecg_features
from medsyn.metric import MetricResult, Status, get_metric
from tests.conftest import shared
from tests.evaluate.signal.conftest import Split
from tests.evaluate.signal.helpers import copy, crop, noise, phase_randomise, scale, shuffle, variant

pytestmark = pytest.mark.shared_data

CHEAP = [
    "psd_distance",
    "autocorrelation_difference",
    "cross_channel_correlation",
    "dtw_nearest_neighbour",
    "dtw_coverage",
]


def _collapsed(data: SignalDataset, rng: np.random.Generator) -> SignalDataset:
    """Mode collapse: every synthetic record is the same real record with a little noise."""
    one = data.select(np.zeros(len(data), dtype=int))
    return variant(one, noise(0.05), "m", seed=int(rng.integers(1 << 30)))


def variants(split: Split) -> dict[str, SignalDataset]:
    other = split.other
    return {
        "ideal": other,
        "noise_small": variant(other, noise(0.2), "n", seed=1),
        "noise_large": variant(other, noise(1.0), "N", seed=2),
        "scaled": variant(other, scale(2.0), "a"),
        "shuffled": variant(other, shuffle, "s", seed=3),
        "phase": variant(other, phase_randomise, "p", seed=4),
        "copy": variant(split.real, copy, "c"),
        "collapsed": _collapsed(other, np.random.default_rng(5)),
    }


@pytest.fixture(scope="module")
def results(ecg: Split) -> dict[str, dict[str, MetricResult]]:
    out: dict[str, dict[str, MetricResult]] = {}
    for name, synthetic in variants(ecg).items():
        inputs = EvalInputs.build(ecg.real, synthetic, ecg.holdout, n_bootstrap=30)
        out[name] = {m: get_metric(m)().evaluate(inputs) for m in CHEAP}  # type: ignore[attr-defined]
    return out


def values(results: dict[str, dict[str, MetricResult]], metric: str) -> dict[str, float]:
    return {v: r[metric].value for v, r in results.items()}


def test_every_result_is_measured_serialisable_and_scored(results: dict[str, dict[str, MetricResult]]) -> None:
    for by_metric in results.values():
        for name, result in by_metric.items():
            assert result.status is not Status.SKIPPED, (name, result.reason)
            assert math.isfinite(result.value)
            json.dumps(result.to_dict())
            metric = get_metric(name)()
            assert 0.0 <= metric.score(result.value) <= 1.0  # type: ignore[attr-defined]
            assert result.ci is not None
            assert len(result.replicates) == 30


def test_psd_distance_orders_the_variants(results: dict[str, dict[str, MetricResult]]) -> None:
    v = values(results, "psd_distance")
    assert v["copy"] == pytest.approx(0.0, abs=1e-9)
    assert v["ideal"] < 3.0
    assert v["scaled"] > v["ideal"] + 2.0
    # twice the amplitude is +6.02 dB in every bin
    ideal_db = [i.details["mean_signed_db"] for i in results["ideal"]["psd_distance"].items]
    scaled_db = [i.details["mean_signed_db"] for i in results["scaled"]["psd_distance"].items]
    np.testing.assert_allclose(np.subtract(scaled_db, ideal_db), 6.02, atol=0.05)
    assert v["ideal"] + 5 < v["noise_small"] < v["noise_large"] - 5
    assert v["shuffled"] > v["noise_small"]
    assert v["phase"] == pytest.approx(v["ideal"], abs=1.0)  # phases do not change a spectrum
    assert results["ideal"]["psd_distance"].status is Status.PASS
    assert results["noise_large"]["psd_distance"].status is Status.FAIL
    leads = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    assert [i.key for i in results["ideal"]["psd_distance"].items] == leads


def test_autocorrelation_difference_sees_lost_temporal_structure(results: dict[str, dict[str, MetricResult]]) -> None:
    v = values(results, "autocorrelation_difference")
    assert v["copy"] == pytest.approx(0.0, abs=1e-9)
    assert v["scaled"] == pytest.approx(v["ideal"], abs=1e-6)
    assert v["ideal"] < 0.1
    assert v["ideal"] + 0.2 < v["shuffled"]
    assert v["ideal"] + 0.05 < v["noise_large"] < v["shuffled"]
    assert v["collapsed"] > v["ideal"] + 0.03
    assert v["phase"] == pytest.approx(v["ideal"], abs=0.02)  # the autocorrelation is the spectrum's transform


def test_cross_channel_correlation_sees_broken_lead_geometry(results: dict[str, dict[str, MetricResult]]) -> None:
    v = values(results, "cross_channel_correlation")
    assert v["copy"] == pytest.approx(0.0, abs=1e-9)
    assert v["phase"] > v["ideal"] + 0.2  # each lead's phases randomised on its own
    assert v["noise_large"] > v["ideal"] + 0.05
    assert v["shuffled"] == pytest.approx(v["ideal"], abs=1e-6)  # the same permutation in every lead
    assert results["phase"]["cross_channel_correlation"].status is Status.FAIL


def test_dtw_nearest_neighbour_flags_a_copy_of_the_training_records(
    results: dict[str, dict[str, MetricResult]],
) -> None:
    copy_result = results["copy"]["dtw_nearest_neighbour"]
    assert copy_result.value == 1.0
    assert copy_result.status is Status.FAIL
    assert copy_result.details["copies"] == 10
    assert all(i.status is Status.FAIL and i.value < 1e-3 for i in copy_result.items)
    ideal = results["ideal"]["dtw_nearest_neighbour"]
    assert ideal.value <= 0.2
    assert ideal.status is not Status.FAIL
    assert ideal.details["median_ratio"] > 0.5
    metric = get_metric("dtw_nearest_neighbour")()
    assert metric.score(copy_result.value) == 0.0  # type: ignore[attr-defined]
    assert metric.score(0.05) == 1.0  # type: ignore[attr-defined]


def test_dtw_coverage_falls_with_mode_collapse_and_destroyed_signals(
    results: dict[str, dict[str, MetricResult]],
) -> None:
    v = values(results, "dtw_coverage")
    assert v["ideal"] >= 0.7
    assert v["copy"] == 1.0
    assert v["collapsed"] <= v["ideal"] - 0.3
    assert v["shuffled"] <= 0.2
    assert v["phase"] <= 0.3
    collapsed = results["collapsed"]["dtw_coverage"]
    assert collapsed.items
    assert all(i.value > 1.0 for i in collapsed.items)


def test_dtw_nearest_neighbour_needs_a_holdout(ecg: Split) -> None:
    inputs = EvalInputs.build(ecg.real, ecg.other)
    result = get_metric("dtw_nearest_neighbour")().evaluate(inputs)  # type: ignore[attr-defined]
    assert result.status is Status.SKIPPED
    assert "holdout" in result.reason


def test_ecg_features_of_a_real_record_are_plausible(ecg: Split) -> None:
    record = ecg.real.records[0]
    hr, sdnn, rmssd, lf_hf, qrs, pr, qt, qtc = ecg_features(record.data[1].astype(np.float64), record.sampling_rate)
    assert 40 < hr < 150
    assert 0 <= sdnn < 300
    assert 0 <= rmssd < 300
    assert math.isnan(lf_hf)  # 10 s is too short for LF/HF
    assert 60 < qrs < 160
    assert 200 < qt < 600
    assert 300 < qtc < 600
    assert math.isnan(pr) or 80 < pr < 300


def test_lf_hf_on_a_long_real_recording_agrees_with_neurokit() -> None:
    import neurokit2 as nk

    from medsyn.data.io import read

    mit = read(shared("ecg_wfdb_physionet_samples") / "100")
    assert isinstance(mit, SignalDataset)
    record = mit.records[0]
    rate = record.sampling_rate
    x = record.data[0, : round(300 * rate)].astype(np.float64)
    features = ecg_features(x, rate, delineate_seconds=10.0)
    assert 60 < features[0] < 90  # MIT-BIH 100: about 75 bpm
    # neurokit2 interpolates the tachogram and takes a Welch spectrum; Lomb–Scargle differs a little
    _, info = nk.ecg_peaks(nk.ecg_clean(x, sampling_rate=round(rate)), sampling_rate=round(rate))
    reference = float(nk.hrv_frequency(info["ECG_R_Peaks"], sampling_rate=round(rate))["HRV_LFHF"].iloc[0])
    assert reference / 2 < features[3] < reference * 2


def test_ecg_clinical_features_small(ecg: Split) -> None:
    """Small twin of the slow test: 6-s crops, 8 records a side; a disjoint real set against shuffled samples."""
    real, other, holdout = (crop(d, 6.0) for d in (ecg.real, ecg.other, ecg.holdout))
    metric = EcgClinicalFeatures(max_records=8)
    ideal = metric.evaluate(EvalInputs.build(real, other, holdout, n_bootstrap=20))
    broken = metric.evaluate(EvalInputs.build(real, variant(other, shuffle, "s", seed=3), holdout, n_bootstrap=20))
    assert ideal.details["lead"] == "II"
    assert ideal.value < 0.45
    assert broken.value > ideal.value + 0.3
    assert broken.status is Status.FAIL
    lf_hf = next(i for i in ideal.items if i.key == "lf_hf")
    assert lf_hf.status is Status.SKIPPED
    assert "shorter than 120 s" in lf_hf.note
    json.dumps(ideal.to_dict())


@pytest.mark.slow
def test_ecg_clinical_features_order_the_variants(ecg: Split) -> None:
    out = {}
    for name, synthetic in variants(ecg).items():
        if name in {"collapsed"}:
            continue
        out[name] = EcgClinicalFeatures().evaluate(EvalInputs.build(ecg.real, synthetic, ecg.holdout)).value
    assert out["copy"] == 0.0
    assert out["scaled"] == pytest.approx(out["ideal"], abs=0.1)
    # neurokit2's cleaning filters most white noise out before it measures, and 10 + 10 records
    # leave a KS noise floor of about 0.4: only signals without ECG structure are far off
    assert out["ideal"] + 0.3 < out["shuffled"]
    assert out["ideal"] + 0.1 < out["phase"]


def test_metrics_for_other_signals_skip_with_a_reason(ecg: Split) -> None:
    inputs = EvalInputs.build(ecg.real, ecg.other)
    result = get_metric("eeg_band_powers")().evaluate(inputs)  # type: ignore[attr-defined]
    assert result.status is Status.SKIPPED
    assert "no EEG channels" in result.reason
    single = EvalInputs.build(crop(ecg.real, 2.0, ("II",)), crop(ecg.other, 2.0, ("II",)))
    skipped = get_metric("cross_channel_correlation")().evaluate(single)  # type: ignore[attr-defined]
    assert skipped.status is Status.SKIPPED
    assert "two channels" in skipped.reason
