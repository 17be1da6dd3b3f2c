"""What the signal metrics share: the base class, per-record summaries, the paired bootstrap and
two-sample statistics on columns.

Most signal metrics reduce each record to a summary (a spectrum, an autocorrelation, a
correlation matrix, clinical features) and compare the real and synthetic summaries. Summaries
are computed once per evaluation and side (:meth:`SignalMetric.summary`, cached on
``inputs.memo``), and bootstrap replicate ``b`` resamples the real and the synthetic records
with the evaluation's shared resamples, so replicates pair up across metrics for the scorecard;
replicates of a distance are centred on the estimate (see :func:`paired_bootstrap`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import ClassVar

import numpy as np

from medsyn.data.dataset import Modality
from medsyn.evaluate._base import EvalMetric
from medsyn.evaluate._inputs import EvalInputs, Side, percentile_ci
from medsyn.evaluate.signal._prepare import SignalLayout, layout, segments
from medsyn.metric import Detail, MetricResult, Status

__all__ = ["SignalMetric", "bootstrap_terms", "ks_columns", "ks_null", "paired_bootstrap", "replicate_rows"]

Summary = Callable[[np.ndarray, SignalLayout], np.ndarray]


class SignalMetric(EvalMetric):
    """Base of the signal metrics: modality ``signal``, the shared layout and cached per-record summaries.

    ``min_records`` is the number of records each compared side needs.
    """

    modality = Modality.SIGNAL
    min_records: ClassVar[int] = 2

    def why_not(self, inputs: EvalInputs) -> str | None:
        why = super().why_not(inputs)
        if why is not None:
            return why
        for side in ("real", "synthetic"):
            n = len(inputs.frame(side))
            if n < self.min_records:
                return f"needs at least {self.min_records} {side} records, got {n}"
        return None

    def evaluate(self, inputs: EvalInputs) -> MetricResult:
        """The measurement, its details stating the common segment every signal metric reads.

        ``common_seconds`` is the length of the shortest record over all sides (each record is
        cut to it; a metric may read less, its ``analysed_seconds`` or similar), and
        ``lengths_differ`` says whether any record was cut; see :mod:`._prepare`.
        """
        result = super().evaluate(inputs)
        if result.status is Status.SKIPPED or inputs.modality is not self.modality:
            return result
        lay = self.layout(inputs)
        common: dict[str, Detail] = {"common_seconds": lay.seconds, "lengths_differ": lay.lengths_differ}
        return replace(result, details={**common, **result.details})

    @staticmethod
    def layout(inputs: EvalInputs) -> SignalLayout:
        return layout(inputs)

    @staticmethod
    def summary(
        inputs: EvalInputs, side: Side, key: tuple[object, ...], compute: Summary, *, max_seconds: float | None
    ) -> np.ndarray:
        """``compute(chunk, layout)`` over every record of ``side`` (chunked), stacked and cached under ``key``."""

        def run() -> np.ndarray:
            lay = layout(inputs)
            parts = [compute(x, lay) for _, x in segments(inputs, side, max_seconds=max_seconds)]
            return np.concatenate(parts)

        return inputs.memo(("signal", "summary", side, *key), run)


def replicate_rows(inputs: EvalInputs, side: Side, b: int, rows: np.ndarray | None = None) -> np.ndarray:
    """Replicate ``b``'s resample of ``side``, as rows of a summary computed on records ``rows`` (all: ``None``).

    A summary computed on a subsample keeps the resampled records it holds, so replicates stay
    paired with the other metrics' replicates.
    """
    res = inputs.resample(side, b)
    if rows is None:
        return res
    where = np.full(len(inputs.frame(side)), -1)
    where[rows] = np.arange(len(rows))
    kept = where[res]
    kept = kept[kept >= 0]
    return kept if len(kept) else np.arange(len(rows))


def paired_bootstrap(
    inputs: EvalInputs,
    statistic: Callable[[np.ndarray, np.ndarray], float],
    estimate: float,
    *,
    real_rows: np.ndarray | None = None,
    synthetic_rows: np.ndarray | None = None,
    lower: float = 0.0,
) -> tuple[tuple[float, float] | None, tuple[float, ...]]:
    """CI and replicates of a distance ``statistic(real_positions, synthetic_positions)``, centred on ``estimate``.

    Replicate ``b`` passes the evaluation's shared resamples of the real and the synthetic
    records (mapped onto ``*_rows`` when the summaries cover a subsample). A distance between
    two resampled sets is biased upwards (resampling adds spread of its own: two copies of one
    dataset resample to a positive distance), so the replicates are shifted by their mean's
    excess over the estimate (the bootstrap bias correction) and kept at or above ``lower``;
    the CI is their percentile interval and contains the estimate.
    """
    if inputs.n_bootstrap < 2:
        return None, ()
    reps = np.array(
        [
            statistic(
                replicate_rows(inputs, "real", b, real_rows), replicate_rows(inputs, "synthetic", b, synthetic_rows)
            )
            for b in range(inputs.n_bootstrap)
        ]
    )
    finite = np.isfinite(reps)
    if finite.sum() < 2 or not math.isfinite(estimate):
        return None, tuple(float(v) for v in reps)
    reps = np.maximum(reps - (reps[finite].mean() - estimate), lower)
    return percentile_ci(reps[finite]), tuple(float(v) for v in reps)


def bootstrap_terms(
    inputs: EvalInputs, terms: np.ndarray, side: Side, rows: np.ndarray | None = None
) -> tuple[tuple[float, float] | None, tuple[float, ...]]:
    """Percentile CI and replicates of ``terms.mean()`` (one term per record ``rows`` of ``side``; all: ``None``)."""
    if inputs.n_bootstrap < 2:
        return None, ()
    terms = np.asarray(terms, dtype=np.float64)
    reps = np.array([terms[replicate_rows(inputs, side, b, rows)].mean() for b in range(inputs.n_bootstrap)])
    return percentile_ci(reps), tuple(float(v) for v in reps)


def ks_null(n: int, m: int) -> float:
    """About the KS statistic two samples of ``n`` and ``m`` values from one distribution give (its mean).

    The mean of the Kolmogorov distribution, √(π/2)·ln 2 ≈ 0.87, over √(n·m / (n + m)):
    0.39 for 10 against 10 records, 0.09 for 200 against 200. Differences below it are noise.
    """
    return 0.8687 / math.sqrt(n * m / (n + m)) if n and m else math.nan


def ks_columns(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Two-sample Kolmogorov–Smirnov statistic per column of ``x`` (n × m) and ``y`` (k × m).

    NaNs are left out column by column; a column with no finite value on one side gets NaN.
    Vectorised over columns: one sort of the pooled samples, then the largest gap between the
    two empirical CDFs, read only where the pooled value changes (ties count once).

    Examples
    --------
    >>> float(ks_columns(np.array([[0.0], [1.0]]), np.array([[2.0], [3.0]]))[0])
    1.0
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    pooled = np.concatenate([x, y])
    nx = np.isfinite(x).sum(axis=0)
    ny = np.isfinite(y).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        wx = np.where(np.isfinite(x), 1.0 / nx, 0.0)
        wy = np.where(np.isfinite(y), 1.0 / ny, 0.0)
    weights = np.concatenate([wx, -wy])
    order = np.argsort(np.where(np.isfinite(pooled), pooled, np.inf), axis=0, kind="stable")
    values = np.take_along_axis(pooled, order, axis=0)
    gap = np.cumsum(np.take_along_axis(weights, order, axis=0), axis=0)
    last = np.ones_like(values, dtype=bool)
    last[:-1] = values[1:] != values[:-1]
    stat = np.where(last, np.abs(gap), 0.0).max(axis=0)
    return np.where((nx > 0) & (ny > 0), stat, math.nan)
