"""Multivariate fidelity and diversity from k-NN manifolds: PRDC, α-precision and β-recall.

All six metrics read one :class:`~medsyn.evaluate.tabular._knn.ManifoldTerms` per evaluation
(:func:`manifold`), on the shared encoding of at most ``max_records`` records per side (a seeded
sample beyond; the same sample for all six). Its parts are computed when a metric first reads
them and kept for the others, so a metric run alone pays only for its own parts (precision: the
real radii and one pass of synthetic against real balls) and a scorecard pays for each part once:

- ``improved_precision`` (fidelity) and ``improved_recall`` (diversity), Kynkäänniemi et al. 2019;
- ``density`` (fidelity) and ``coverage`` (diversity), Naeem et al. 2020;
- ``alpha_precision`` (fidelity) and ``beta_recall`` (diversity), Alaa et al. 2022, as
  synthcity's ``AlphaPrecision.metrics`` computes them with the real data's mean as the centre
  (synthcity's "naive" variant): we use the shared encoding, not a trained one-class embedding.

PRDC values are exactly pyMDMA's on the same arrays (closed balls; ``ball="open"`` gives the
``prdc`` package's). Each is a mean of per-record terms, so its confidence interval resamples the
records of that side with the evaluation's shared bootstrap (precision and density over synthetic
records, recall and coverage over real ones; the other side's balls held fixed).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from medsyn.evaluate._inputs import EvalInputs, Side, percentile_ci
from medsyn.evaluate.tabular._common import (
    TabularMetric,
    replicate_weights,
    sample_positions,
    weighted_replicates,
)
from medsyn.evaluate.tabular._knn import Ball, ManifoldTerms, NeighbourMethod, manifold_terms
from medsyn.metric import METRICS, Detail, Direction, MetricKind, MetricResult, Threshold

__all__ = [
    "DEGENERATE_BALLS",
    "MAX_RECORDS",
    "AlphaBetaCurves",
    "AlphaPrecision",
    "BetaReach",
    "BetaRecall",
    "Coverage",
    "Density",
    "ImprovedPrecision",
    "ImprovedRecall",
    "Manifold",
    "alpha_beta_curves",
    "manifold",
]

#: Which real neighbourhood a real record's nearest synthetic record must fall in for β-recall:
#: its k-NN ball (``"k"``, default) or, as synthcity, its nearest real neighbour's distance.
BetaReach = Literal["k", "nearest"]

#: Records per side on which the k-NN manifolds are built (a seeded sample beyond).
MAX_RECORDS = 10_000
#: Share of zero-radius k-NN balls (records repeated ≥ k times) from which a result carries a caution:
#: such balls hold only exact copies of their centre, so the metric then mostly counts exact matches.
DEGENERATE_BALLS = 0.1
#: The α (and β) levels of the curves, as synthcity: 30 steps from 0 to 1.
ALPHAS = np.linspace(0.0, 1.0, 30)


@dataclass(frozen=True, slots=True)
class Manifold:
    """The manifold terms of one evaluation and which records they describe."""

    terms: ManifoldTerms
    real_positions: np.ndarray
    synthetic_positions: np.ndarray
    n_real: int
    n_synthetic: int

    def details(self) -> dict[str, Detail]:
        sampled = len(self.real_positions) < self.n_real or len(self.synthetic_positions) < self.n_synthetic
        return {
            "k": self.terms.k,
            "ball": self.terms.ball,
            "neighbours": self.terms.method,
            "real_records_used": len(self.real_positions),
            "synthetic_records_used": len(self.synthetic_positions),
            "sampled": sampled,
        }


def manifold(
    inputs: EvalInputs,
    *,
    k: int = 5,
    max_records: int | None = MAX_RECORDS,
    ball: Ball = "closed",
    neighbours: NeighbourMethod = "auto",
) -> Manifold:
    """The k-NN manifolds of the (sampled) real and synthetic encodings: one per evaluation, parts computed as read."""

    def compute() -> Manifold:
        pr = sample_positions(inputs, "real", max_records)
        ps = sample_positions(inputs, "synthetic", max_records)
        real = inputs.matrix("real")[pr]
        syn = inputs.matrix("synthetic")[ps]
        terms = manifold_terms(real, syn, k=k, ball=ball, method=neighbours, seed=inputs.seed)
        return Manifold(terms, pr, ps, len(inputs.frame("real")), len(inputs.frame("synthetic")))

    return inputs.memo(("tabular-manifold", k, max_records, ball, neighbours), compute)


class _ManifoldMetric(TabularMetric):
    """A metric read off the k-NN manifolds."""

    direction = Direction.MAXIMIZE
    ideal = 1.0
    unit = "share"

    def __init__(
        self,
        *,
        threshold: Threshold | None = None,
        k: int = 5,
        max_records: int | None = MAX_RECORDS,
        ball: Ball = "closed",
        neighbours: NeighbourMethod = "auto",
    ) -> None:
        super().__init__(threshold=threshold)
        self.k = k
        self.max_records = max_records
        self.ball = ball
        self.neighbours = neighbours

    def why_not(self, inputs: EvalInputs) -> str | None:
        why = super().why_not(inputs)
        if why is not None:
            return why
        short = [f"{s} has {len(inputs.frame(s))}" for s in ("real", "synthetic") if len(inputs.frame(s)) <= self.k]
        if short:
            return f"k={self.k} nearest neighbours need more than {self.k} records per side ({', '.join(short)})"
        return None

    def _manifold(self, inputs: EvalInputs) -> Manifold:
        return manifold(inputs, k=self.k, max_records=self.max_records, ball=self.ball, neighbours=self.neighbours)


@dataclass(frozen=True, slots=True)
class _Terms:
    """What a PRDC metric averages: the per-record terms of one side, whose k-NN balls they count in, how to say it."""

    side: Side
    terms: Callable[[ManifoldTerms], np.ndarray]
    what: str
    balls: Side


def _ball_radius(terms: ManifoldTerms, balls: Side) -> np.ndarray:
    return terms.real_radius if balls == "real" else terms.synthetic_radius


def _caution(zero_share: float, balls: Side) -> str:
    """A warning when many balls have radius 0 (each centre repeats ≥ k times), else ''."""
    if zero_share < DEGENERATE_BALLS:
        return ""
    return (
        f"{zero_share:.0%} of the {balls} k-NN balls have radius 0 (their record repeats at least k times), "
        "so this counts exact matches more than closeness"
    )


class _TermMetric(_ManifoldMetric):
    """A mean of per-record terms of one side, with a bootstrap CI over that side's records.

    Only the manifold parts behind these terms are computed (and kept for the other metrics).
    """

    reads: ClassVar[_Terms]
    default_threshold = Threshold(warn=0.8, fail=0.6)

    def _measure(self, inputs: EvalInputs) -> MetricResult:
        m = self._manifold(inputs)
        side = self.reads.side
        terms = self.reads.terms(m.terms)
        value = float(terms.mean())
        reps = weighted_replicates(terms, replicate_weights(inputs, side, self.max_records))
        ci = percentile_ci(reps)
        reason = f"{self.reads.what}: {value:.3f} (k={self.k}, {len(terms)} {side} records)"
        radius = _ball_radius(m.terms, self.reads.balls)
        zero_share = float((radius == 0).mean()) if len(radius) else 0.0
        details: dict[str, Detail] = {**m.details(), "bootstrap_over": f"{side} records"}
        details["zero_radius_share"] = zero_share
        caution = _caution(zero_share, self.reads.balls)
        if caution:
            details["caution"] = caution
            reason += f"; caution: {caution}"
        return self.result(value, reason, details=details, ci=ci, replicates=reps)


@METRICS.register("improved_precision")
class ImprovedPrecision(_TermMetric):
    """The share of synthetic records that look real: inside the k-NN ball of at least one real record.

    Improved precision (Kynkäänniemi et al. 2019): each real record's ball reaches its ``k``-th
    nearest real neighbour (k = 5); a synthetic record counts when it lies in any ball (closed,
    as pyMDMA; the value equals pyMDMA's ``ImprovedPrecision``). Low precision means synthetic
    records off the real data's support — implausible patients. One far-out real record has a
    wide ball, so precision forgives outliers; ``density`` does not.
    """

    name = "improved_precision"
    title = "Improved precision (synthetic records inside the real manifold)"
    kind = MetricKind.FIDELITY
    reads = _Terms(
        "synthetic", lambda t: t.precision_terms, "share of synthetic records inside a real k-NN ball", "real"
    )


@METRICS.register("density")
class Density(_TermMetric):
    """How crowded the real neighbourhoods around synthetic records are: real balls per synthetic record, over k.

    Density (Naeem et al. 2020): for each synthetic record, the number of real k-NN balls (k = 5)
    containing it, divided by k, averaged. About 1 when the synthetic data follows the real
    density; below 1 when synthetic records sit in sparse or empty regions; above 1 when they
    crowd the dense real regions (a mode-seeking generator). Unlike precision it is not fooled
    by a few wide outlier balls. Equals pyMDMA's ``Density``. Scored as ``min(d, 1/d)``.
    """

    name = "density"
    title = "Density (real neighbourhoods around synthetic records)"
    kind = MetricKind.FIDELITY
    unit = "balls / k"
    reads = _Terms("synthetic", lambda t: t.density_terms, "mean real balls per synthetic record over k", "real")

    def score(self, value: float) -> float:
        """``min(d, 1/d)``: 1 at density 1, ½ at half or twice the real density, 0 at 0."""
        if math.isnan(value):
            return math.nan
        if value <= 0:
            return 0.0
        return min(value, 1.0 / value)


@METRICS.register("improved_recall")
class ImprovedRecall(_TermMetric):
    """The share of real records the synthetic data reaches: inside the k-NN ball of some synthetic record.

    Improved recall (Kynkäänniemi et al. 2019), the mirror of improved precision: synthetic
    records get balls to their ``k``-th nearest synthetic neighbour (k = 5), and a real record
    counts when some ball holds it. Low recall means parts of the real population (rare
    subgroups, extreme values) that the generator never produces. Equals pyMDMA's
    ``ImprovedRecall``.
    """

    name = "improved_recall"
    title = "Improved recall (real records reached by the synthetic manifold)"
    kind = MetricKind.DIVERSITY
    reads = _Terms("real", lambda t: t.recall_terms, "share of real records inside a synthetic k-NN ball", "synthetic")


@METRICS.register("coverage")
class Coverage(_TermMetric):
    """The share of real records with a synthetic record inside their own k-NN ball.

    Coverage (Naeem et al. 2020): for each real record, is its nearest synthetic record closer
    than its ``k``-th nearest real neighbour (k = 5)? It measures how much of the real data the
    synthetic data covers, using only real balls, so — unlike recall — a few synthetic outliers
    with huge balls cannot inflate it. Equals pyMDMA's ``Coverage``.
    """

    name = "coverage"
    title = "Coverage (real neighbourhoods holding a synthetic record)"
    kind = MetricKind.DIVERSITY
    reads = _Terms(
        "real", lambda t: t.coverage_terms, "share of real records with a synthetic record in their k-NN ball", "real"
    )


# -- α-precision and β-recall ----------------------------------------------------------------
def _integrated(curve: np.ndarray) -> np.ndarray:
    """synthcity's Δ: ``1 − Σ_α |α − curve(α)| / Σ_α α`` (per row of ``curve``)."""
    out: np.ndarray = 1.0 - np.abs(ALPHAS - curve).sum(axis=-1) / ALPHAS.sum()
    return out


@dataclass(frozen=True, slots=True)
class AlphaBetaCurves:
    """α-precision and β-recall curves at :data:`ALPHAS`, their integrated values and replicates."""

    alpha_precision_curve: np.ndarray
    beta_recall_curve: np.ndarray
    alpha_precision: float
    beta_recall: float
    alpha_replicates: np.ndarray
    beta_replicates: np.ndarray


def alpha_beta_curves(
    real: np.ndarray,
    synthetic: np.ndarray,
    terms: ManifoldTerms,
    real_weights: np.ndarray | None = None,
    synthetic_weights: np.ndarray | None = None,
    *,
    beta_reach: BetaReach = "k",
) -> AlphaBetaCurves:
    """α-precision and β-recall of encoded samples, after synthcity's ``AlphaPrecision.metrics(X, X_syn)``.

    With the real mean as centre: the α-support is the ball around it holding a share α of the
    real records, and ``P_α`` the share of synthetic records inside it; ``β_α`` the share of real
    records whose nearest synthetic record is within reach *and* lies within the β-quantile of
    those records' distances to the synthetic mean. Each curve is integrated as
    ``1 − Σ|α − curve(α)| / Σα``.

    "Within reach" is where we differ from synthcity on purpose. synthcity asks that the nearest
    synthetic record be closer than the real record's *nearest* real neighbour: for a perfect,
    non-copying generator that holds for about half of the real records (coverage with k = 1),
    so β-recall tops out near 0.5 and only a copy of the training data reaches 1.
    ``beta_reach="k"`` (default) uses the real record's k-NN ball, as ``coverage`` does, so an
    ideal generator scores near 1; ``beta_reach="nearest"`` is synthcity's rule exactly.

    Weight rows (bootstrap multiplicities) give the replicates: α over synthetic records, β over
    real records, radii held at their full-sample values.
    """
    real = real.astype(np.float64)
    synthetic = synthetic.astype(np.float64)
    centre = real.mean(axis=0)
    radii = np.quantile(np.sqrt(((real - centre) ** 2).sum(axis=1)), ALPHAS)
    to_centre = np.sqrt(((synthetic - centre) ** 2).sum(axis=1))
    inside_alpha = to_centre[:, None] <= radii[None, :]  # synthetic × α
    precision_curve = inside_alpha.mean(axis=0)
    syn_centre = synthetic.mean(axis=0)
    closest = synthetic[terms.nearest_synthetic_index]
    closest_d = np.sqrt(((closest - syn_centre) ** 2).sum(axis=1))
    beta_radii = np.quantile(closest_d, ALPHAS)
    reached = terms.covered if beta_reach == "k" else terms.nearest_synthetic <= terms.real_nearest_real
    inside_beta = reached[:, None] & (closest_d[:, None] <= beta_radii[None, :])  # real × β
    recall_curve = inside_beta.mean(axis=0)
    alpha_reps = beta_reps = np.empty(0)
    if synthetic_weights is not None:
        alpha_reps = _integrated(synthetic_weights @ inside_alpha / synthetic_weights.sum(axis=1, keepdims=True))
    if real_weights is not None:
        beta_reps = _integrated(real_weights @ inside_beta / real_weights.sum(axis=1, keepdims=True))
    return AlphaBetaCurves(
        precision_curve,
        recall_curve,
        float(_integrated(precision_curve)),
        float(_integrated(recall_curve)),
        alpha_reps,
        beta_reps,
    )


class _AlphaBeta(_ManifoldMetric):
    """α-precision or β-recall: one curve of :func:`alpha_beta_curves`, computed once for both."""

    #: Which curve the metric integrates, its symbol and the prefix of its points in the details.
    curve: ClassVar[Literal["alpha", "beta"]]
    label: ClassVar[str]
    prefix: ClassVar[str]
    #: How the centre is taken, and whose records the bootstrap resamples (for the details).
    centre: ClassVar[str]
    bootstrap_over: ClassVar[str]

    def __init__(
        self,
        *,
        threshold: Threshold | None = None,
        k: int = 5,
        max_records: int | None = MAX_RECORDS,
        ball: Ball = "closed",
        neighbours: NeighbourMethod = "auto",
        beta_reach: BetaReach = "k",
    ) -> None:
        super().__init__(threshold=threshold, k=k, max_records=max_records, ball=ball, neighbours=neighbours)
        self.beta_reach = beta_reach

    def _curves(self, inputs: EvalInputs) -> AlphaBetaCurves:
        def compute() -> AlphaBetaCurves:
            m = self._manifold(inputs)
            real = inputs.matrix("real")[m.real_positions]
            syn = inputs.matrix("synthetic")[m.synthetic_positions]
            wr = replicate_weights(inputs, "real", self.max_records).weights
            ws = replicate_weights(inputs, "synthetic", self.max_records).weights
            return alpha_beta_curves(real, syn, m.terms, wr, ws, beta_reach=self.beta_reach)

        key = ("tabular-alpha-beta", self.k, self.max_records, self.ball, self.neighbours, self.beta_reach)
        return inputs.memo(key, compute)

    def _about(self) -> dict[str, Detail]:
        """Details of the metric's own settings."""
        return {"centre": self.centre}

    def _measure(self, inputs: EvalInputs) -> MetricResult:
        c = self._curves(inputs)
        if self.curve == "alpha":
            curve, value, reps = c.alpha_precision_curve, c.alpha_precision, c.alpha_replicates
        else:
            curve, value, reps = c.beta_recall_curve, c.beta_recall, c.beta_replicates
        details: dict[str, Detail] = {
            **self._manifold(inputs).details(),
            **self._about(),
            "levels": len(ALPHAS),
            "bootstrap_over": self.bootstrap_over,
            **{f"{self.prefix}_{a:.2f}": float(p) for a, p in zip(ALPHAS[::5], curve[::5], strict=True)},
        }
        reason = f"integrated {self.label} {value:.3f} over {len(ALPHAS)} levels"
        return self.result(value, reason, details=details, ci=percentile_ci(reps), replicates=reps)


@METRICS.register("alpha_precision")
class AlphaPrecision(_AlphaBeta):
    """Whether synthetic records fall in the real data's typical region as often as they should: integrated α-precision.

    α-precision (Alaa et al. 2022), as synthcity's ``AlphaPrecision`` with the real mean as
    centre on the shared encoding (no one-class embedding): for each α in 30 steps from 0 to 1,
    the share of synthetic records inside the smallest ball around the real centre that holds a
    share α of the real records should be α. The value ``1 − Σ|α − P_α| / Σα`` is 1 when it is at
    every α; too many synthetic records in the core *or* too many outside it both lower it.
    """

    name = "alpha_precision"
    title = "α-precision (integrated)"
    kind = MetricKind.FIDELITY
    default_threshold = Threshold(warn=0.9, fail=0.8)
    curve, label, prefix = "alpha", "α-precision", "p_alpha"
    centre = "mean of the real encoding (synthcity's naive variant)"
    bootstrap_over = "synthetic records"


@METRICS.register("beta_recall")
class BetaRecall(_AlphaBeta):
    """Whether the synthetic data reaches the real records across their whole spread: integrated β-recall.

    β-recall (Alaa et al. 2022), after synthcity's ``AlphaPrecision`` (its "β-coverage") with
    means as centres on the shared encoding: for each β in 30 steps, the share of real records
    whose nearest synthetic record lies inside their k-NN ball (k = 5) and within the β-quantile
    of those records' distances to the synthetic centre should be β. The value is
    ``1 − Σ|β − R_β| / Σβ``; low when the synthetic data misses parts of the real population.
    synthcity asks the nearest synthetic record to beat the *nearest* real neighbour instead,
    which caps a perfect generator near 0.5 (``beta_reach="nearest"`` reproduces it).
    """

    name = "beta_recall"
    title = "β-recall (integrated)"
    kind = MetricKind.DIVERSITY
    default_threshold = Threshold(warn=0.8, fail=0.6)
    curve, label, prefix = "beta", "β-recall", "r_beta"
    centre = "means of the real and synthetic encodings (synthcity's naive variant)"
    bootstrap_over = "real records (β-radii held at their full-sample values)"

    def _about(self) -> dict[str, Detail]:
        reach = "real k-NN ball" if self.beta_reach == "k" else "nearest real neighbour (synthcity)"
        return {**super()._about(), "reach": reach}
