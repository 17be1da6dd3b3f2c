"""TimeGAN-style discriminative and predictive scores on real ECGs (small twins by default, full size slow)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from medsyn.evaluate import EvalInputs
from medsyn.evaluate.signal import DiscriminativeScore, PredictiveScore, WindowSpec, signal_windows
from medsyn.metric import Status
from tests.evaluate.signal.conftest import Split
from tests.evaluate.signal.helpers import crop, noise, phase_randomise, scale, shuffle, variant

pytestmark = pytest.mark.shared_data

LEADS = ("I", "II", "V2")


@pytest.fixture(scope="module")
def small(ecg: Split) -> Split:
    return Split(*(crop(d, 10.0, LEADS) for d in (ecg.real, ecg.holdout, ecg.other)))


def test_windows_are_cut_per_record_and_standardised_on_real(small: Split) -> None:
    inputs = EvalInputs.build(small.real, small.other, small.holdout)
    spec = WindowSpec()
    real = signal_windows(inputs, "real", spec)
    assert real.data.shape == (50, 3, 100)  # 10 records × five 2-s windows at 50 Hz
    assert real.owner.tolist() == np.repeat(np.arange(10), 5).tolist()
    np.testing.assert_allclose(real.data.mean(axis=(0, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(real.data.std(axis=(0, 2)), 1.0, atol=1e-4)
    assert signal_windows(inputs, "synthetic", spec).data.shape == (50, 3, 100)


def test_discriminative_score_small(small: Split) -> None:
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    state = torch.random.get_rng_state()
    metric = DiscriminativeScore(steps=60)
    ideal_inputs = EvalInputs.build(small.real, small.other, small.holdout, n_bootstrap=20)
    ideal = metric.evaluate(ideal_inputs)
    shuffled = metric.evaluate(EvalInputs.build(small.real, variant(small.other, shuffle, "s"), n_bootstrap=20))
    assert shuffled.value >= 0.4
    assert shuffled.status is Status.FAIL
    assert ideal.value < shuffled.value - 0.2
    assert metric.score(shuffled.value) <= 0.2
    assert 0 <= ideal.details["balanced_accuracy"] <= 1
    # seeded: the same inputs give the same result; the caller's torch state is left as it was
    quick = DiscriminativeScore(steps=10)
    assert quick.evaluate(ideal_inputs).details == quick.evaluate(ideal_inputs).details
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.random.get_rng_state(), state)
    json.dumps(ideal.to_dict())


def test_predictive_score_small(small: Split) -> None:
    pytest.importorskip("torch")
    metric = PredictiveScore(steps=100)
    ideal = metric.evaluate(EvalInputs.build(small.real, small.other, small.holdout, n_bootstrap=20))
    shuffled = metric.evaluate(
        EvalInputs.build(small.real, variant(small.other, shuffle, "s"), small.holdout, n_bootstrap=20)
    )
    assert ideal.details["test_set"] == "holdout"
    assert ideal.value < 1.25
    assert shuffled.value > ideal.value + 0.3
    assert metric.score(ideal.value) > metric.score(shuffled.value)
    assert ideal.ci is not None
    assert len(ideal.replicates) == 20


def test_predictive_score_without_holdout_tests_on_unseen_real_records(small: Split) -> None:
    pytest.importorskip("torch")
    result = PredictiveScore(steps=50).evaluate(EvalInputs.build(small.real, small.other, n_bootstrap=5))
    assert result.status is not Status.SKIPPED
    assert result.details["test_set"] == "30% of the real records"
    assert result.details["test_windows"] == 15  # 3 of 10 records × 5 windows


def test_discriminative_score_needs_enough_records_and_long_enough_records(small: Split) -> None:
    too_few = DiscriminativeScore().evaluate(EvalInputs.build(small.real, small.other.select([0, 1])))
    assert too_few.status is Status.SKIPPED
    assert "at least 3 synthetic records (one per fold)" in too_few.reason
    short = DiscriminativeScore().evaluate(EvalInputs.build(crop(small.real, 1.0), crop(small.other, 1.0)))
    assert short.status is Status.SKIPPED
    assert "shorter than one 2-s window" in short.reason


@pytest.mark.slow
def test_timegan_scores_order_the_variants(ecg: Split) -> None:
    variants = {
        "ideal": ecg.other,
        "noise": variant(ecg.other, noise(1.0), "n", seed=1),
        "scaled": variant(ecg.other, scale(2.0), "a"),
        "shuffled": variant(ecg.other, shuffle, "s", seed=3),
        "phase": variant(ecg.other, phase_randomise, "p", seed=4),
    }
    disc, pred = {}, {}
    for name, synthetic in variants.items():
        inputs = EvalInputs.build(ecg.real, synthetic, ecg.holdout)
        disc[name] = DiscriminativeScore().evaluate(inputs).value
        pred[name] = PredictiveScore().evaluate(inputs).value
    # with 10 + 10 records the score of a near-ideal set varies by about ±0.1 with the seed; only
    # signals without ECG structure are separated by a wide margin
    assert disc["ideal"] <= 0.2
    assert min(disc["shuffled"], disc["phase"]) > disc["ideal"] + 0.2
    assert pred["ideal"] < 1.25
    assert min(pred["shuffled"], pred["phase"]) > pred["ideal"] + 0.3
