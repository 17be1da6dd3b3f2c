"""The evaluation-metric contract: a :class:`~medsyn.metric.Metric` that reads :class:`EvalInputs`.

An evaluation metric compares synthetic data with real data (and, for privacy and utility, with
a holdout of real records the generator never saw). It keeps the plain ``compute(real,
synthetic)`` of every metric, and adds :meth:`EvalMetric.evaluate`, which takes the validated
:class:`EvalInputs` of a whole evaluation so that metrics share encodings and neighbour queries.

A metric that cannot run on the inputs (no holdout, no target, no protected column, too few
records) returns a ``skipped`` result saying why — the scorecard lists it; nothing is dropped.

Each metric maps its value to a score in [0, 1] (1 = ideal) with :meth:`EvalMetric.score`, a
monotone function documented on the class; the scorecard averages scores per axis.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import ClassVar

from medsyn.data.dataset import Dataset
from medsyn.evaluate._inputs import EvalInputs
from medsyn.metric import Direction, Metric, MetricResult

__all__ = ["EvalMetric", "clip01"]


def clip01(x: float) -> float:
    """``x`` clipped to [0, 1] (NaN stays NaN)."""
    return x if math.isnan(x) else min(1.0, max(0.0, x))


class EvalMetric(Metric):
    """Base of every synthetic-vs-real metric.

    Subclasses set ``name``, ``title``, ``modality``, ``kind`` (fidelity, diversity, privacy or
    utility), ``direction``, ``ideal`` and the needs below, and implement :meth:`_evaluate`.
    """

    needs_synthetic = True
    #: Needs real records the generator never saw (privacy baselines, utility test sets).
    needs_holdout: ClassVar[bool] = False
    #: Needs an outcome column (utility, attribute inference).
    needs_target: ClassVar[bool] = False
    #: Needs protected columns (per-group metrics).
    needs_groups: ClassVar[bool] = False
    #: Reported in the scorecard, but left out of the axis score (e.g. a per-group breakdown
    #: that repeats its overall metric).
    scored: ClassVar[bool] = True

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        assert synthetic is not None
        return self.evaluate(EvalInputs.build(real, synthetic))

    def evaluate(self, inputs: EvalInputs) -> MetricResult:
        """Measure on validated inputs; skipped with the reason when a need is not met."""
        if inputs.modality is not self.modality:
            return self.skipped(f"measures {self.modality.value} data, not {inputs.modality.value}")
        why = self.why_not(inputs)
        if why is not None:
            return self.skipped(why)
        return self._evaluate(inputs)

    def why_not(self, inputs: EvalInputs) -> str | None:
        """``None`` when the metric can run, else the reason it cannot."""
        if self.needs_holdout and inputs.holdout is None:
            return "needs a holdout (real records the generator never saw): pass --holdout"
        if self.needs_target and inputs.target is None:
            return "needs a target column: pass --target or give one column the role 'target'"
        if self.needs_groups and not inputs.protected:
            return "needs protected columns: give columns the role 'protected' or pass --protected"
        return None

    @abstractmethod
    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        """The measurement on validated inputs."""

    def figure(self, inputs: EvalInputs, result: MetricResult) -> bytes | None:
        """A PNG for the report drawn with access to the data (e.g. memorised pairs); ``None``: none."""
        return None

    def score(self, value: float) -> float:
        """``value`` as a score in [0, 1], 1 at the ideal; NaN when it cannot be scored.

        The default suits values on [0, 1]: ``1 − |value − ideal|``. Metrics on other scales
        override it with a documented monotone map.
        """
        if math.isnan(value):
            return math.nan
        if self.direction is Direction.MINIMIZE:
            return clip01(1.0 - (value - self.ideal))
        return clip01(1.0 - (self.ideal - value))
