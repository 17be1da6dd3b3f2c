"""The signal metrics are registered, documented, and map their values monotonically to scores in [0, 1]."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from medsyn.data.dataset import Modality
from medsyn.evaluate import EvalMetric
from medsyn.evaluate._inputs import VALIDATORS
from medsyn.evaluate.signal import check_signals
from medsyn.metric import Direction, MetricKind, metrics_for

EXPECTED = {
    "psd_distance": MetricKind.FIDELITY,
    "autocorrelation_difference": MetricKind.FIDELITY,
    "cross_channel_correlation": MetricKind.FIDELITY,
    "band_coherence": MetricKind.FIDELITY,
    "ecg_clinical_features": MetricKind.FIDELITY,
    "eeg_band_powers": MetricKind.FIDELITY,
    "discriminative_score": MetricKind.FIDELITY,
    "dtw_coverage": MetricKind.DIVERSITY,
    "dtw_nearest_neighbour": MetricKind.PRIVACY,
    "predictive_score": MetricKind.UTILITY,
}
GUIDE = Path(__file__).resolve().parents[3] / "docs" / "evaluation.md"


def test_every_signal_metric_is_registered_with_its_kind() -> None:
    found = {cls.name: cls.kind for cls in metrics_for(Modality.SIGNAL) if issubclass(cls, EvalMetric)}
    assert found == EXPECTED


def test_the_signal_validator_is_registered() -> None:
    assert VALIDATORS[Modality.SIGNAL] is check_signals


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_scores_are_monotone_maps_to_the_unit_interval(name: str) -> None:
    cls = next(c for c in metrics_for(Modality.SIGNAL) if c.name == name)
    metric = cls()
    assert isinstance(metric, EvalMetric)
    assert metric.describe()
    assert math.isnan(metric.score(math.nan))
    assert metric.score(metric.ideal) == 1.0
    grid = np.linspace(0.0, 30.0, 301)
    scores = np.array([metric.score(float(v)) for v in grid])
    assert ((scores >= 0) & (scores <= 1)).all()
    away = grid >= metric.ideal if metric.direction is Direction.MINIMIZE else grid <= metric.ideal
    steps = np.diff(scores[away]) if metric.direction is Direction.MINIMIZE else np.diff(scores[away][::-1])
    assert (steps <= 1e-12).all(), "the score must not rise as the value moves away from the ideal"
    assert metric.default_threshold is not None
    assert metric.score(metric.default_threshold.fail) < metric.score(metric.default_threshold.warn)


def test_every_signal_metric_is_in_the_evaluation_guide() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    assert [name for name in EXPECTED if f"`{name}`" not in guide] == []
