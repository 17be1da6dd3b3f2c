"""Privacy by distance: exact copies, distance to closest record, nearest-neighbour distance ratio, authenticity.

Each compares the synthetic records with the training records *and* says what a fresh real sample
(the holdout) gives on the same measure, because real data is not free of near-duplicates: two
patients can share every recorded attribute. A synthetic set is suspicious when it sits closer to
its training records than new real records do, not when it sits close at all.

Distances are Euclidean on the evaluation's shared encoding (numbers scaled to the training range,
one-hot categories scaled so a different category counts 1, identifiers and text left out);
neighbours come from :mod:`medsyn.evaluate.privacy._knn`. Sides larger than ``max_records`` are
sampled (same sample for every metric), and the details say how many records were used.
"""

from __future__ import annotations

import math

import numpy as np

from medsyn.evaluate._base import clip01
from medsyn.evaluate._inputs import EvalInputs
from medsyn.evaluate.privacy._common import (
    MAX_RECORDS,
    PrivacyMetric,
    exact_codes,
    replicate_weights,
    row_keys,
    weighted_ci,
    weighted_means,
)
from medsyn.evaluate.privacy._gower import gower_dcr
from medsyn.evaluate.privacy._knn import (
    BASELINE_RECORDS,
    ToTraining,
    synthetic_to_holdout,
    to_training,
    training_radius,
)
from medsyn.metric import METRICS, Detail, Direction, ItemResult, MetricResult, Status, Threshold

__all__ = ["Authenticity", "DistanceToClosestRecord", "ExactCopies", "NearestNeighbourDistanceRatio"]

#: The holdout quantile below which a synthetic record counts as "closer than real records get".
CLOSE_QUANTILE = 0.05
#: Example records listed as items.
N_EXAMPLES = 5


@METRICS.register("exact_copies")
class ExactCopies(PrivacyMetric):
    """Share of synthetic records identical to a training record on every compared column.

    A copied record discloses a real patient outright. Records are compared on every column but
    identifiers and free text, value for value (a missing value equals only a missing value), by an
    exact integer key per record — no distances, no rounding, no hashing collisions. Real data has
    natural duplicates, so the share of holdout records identical to a training record is reported
    as the baseline when a holdout is given. The count is in ``details["count"]``. Score:
    ``1 − min(1, share / 0.01)`` (1 % copies or more scores 0).
    """

    name = "exact_copies"
    title = "Exact copies of training records"
    direction = Direction.MINIMIZE
    ideal = 0.0
    unit = "share of synthetic records"
    default_threshold = Threshold(warn=0.0, fail=0.01)
    needs_holdout = False

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        codes = exact_codes(inputs)
        keys = row_keys(codes.codes)
        spans = codes.spans
        real = keys[slice(*spans["real"])]
        syn = keys[slice(*spans["synthetic"])]
        unique_real, first_real = np.unique(real, return_index=True)
        copied = np.isin(syn, unique_real)
        count = int(copied.sum())
        share = count / len(syn)
        ci, reps = inputs.bootstrap_mean(copied.astype(np.float64), "synthetic")
        details: dict[str, Detail] = {"count": count, "n_synthetic": len(syn), "n_compared_columns": len(codes.columns)}
        baseline = ""
        if "holdout" in spans:
            hold = keys[slice(*spans["holdout"])]
            hold_share = float(np.isin(hold, unique_real).mean())
            details["holdout_share"] = hold_share
            details["holdout_count"] = int(np.isin(hold, unique_real).sum())
            baseline = f"; {hold_share:.2%} of holdout records also equal a training record (natural duplicates)"
        examples = np.flatnonzero(copied)[:N_EXAMPLES]
        source = first_real[np.searchsorted(unique_real, syn[examples])]
        items = [
            ItemResult(
                "record",
                f"synthetic #{int(s)}",
                1.0,
                Status.WARN,
                note=f"identical to training record #{int(r)}",
                details={"training_position": int(r)},
            )
            for s, r in zip(examples, source, strict=True)
        ]
        return self.result(
            share,
            f"{count} of {len(syn)} synthetic records ({share:.2%}) copy a training record{baseline}",
            items=items,
            details=details,
            ci=ci,
            replicates=reps,
        )

    def score(self, value: float) -> float:
        return math.nan if math.isnan(value) else clip01(1.0 - value / 0.01)


def _close_share_score(value: float) -> float:
    """1 up to the 5 % a real sample gives, falling linearly to 0 at 50 %."""
    if math.isnan(value):
        return math.nan
    return clip01(1.0 - (value - CLOSE_QUANTILE) / (0.5 - CLOSE_QUANTILE))


def _nearest_examples(tt: ToTraining, order: np.ndarray, values: np.ndarray, what: str) -> list[ItemResult]:
    return [
        ItemResult(
            "record",
            f"synthetic #{int(tt.synthetic_positions[i])}",
            float(values[i]),
            Status.INFO,
            note=f"{what} {values[i]:.4g} to training record #{int(tt.synthetic.indices[i, 0])}",
            details={"training_position": int(tt.synthetic.indices[i, 0])},
        )
        for i in order[:N_EXAMPLES]
    ]


@METRICS.register("dcr")
class DistanceToClosestRecord(PrivacyMetric):
    """Share of synthetic records closer to a training record than 95 % of real holdout records get.

    The distance to closest record (DCR) of each synthetic record and of each holdout record is
    measured to the training set. A fresh real sample puts 5 % of its records below the holdout's
    5th percentile by construction; a generator that memorises puts many more there. The details
    also give SDMetrics' *DCR overfitting protection* on the same distances — the share of
    synthetic records strictly closer to the training set than to the holdout
    (``closer_to_training``, on at most 10,000 synthetic records, fewer against a holdout of more
    than 100,000) and its score
    ``min(1, 2·(1 − share))`` — which is comparable only when training and holdout have the same
    size; with ``sdmetrics_exact=True`` that share uses SDMetrics' own distance (mean per-column
    Gower, O(n·m·columns)) and equals ``DCROverfittingProtection`` on the same records. The
    holdout's percentile comes from at most 10,000 holdout records. CI: the evaluation's
    bootstrap over synthetic records. Score: 1 up to 5 %, falling linearly to 0 at 50 %.
    """

    name = "dcr"
    title = "Distance to closest record (share closer than real records)"
    direction = Direction.MINIMIZE
    ideal = CLOSE_QUANTILE
    unit = "share of synthetic records"
    default_threshold = Threshold(warn=0.10, fail=0.20)

    def __init__(
        self, *, threshold: Threshold | None = None, max_records: int = MAX_RECORDS, sdmetrics_exact: bool = False
    ) -> None:
        super().__init__(threshold=threshold, max_records=max_records)
        self.sdmetrics_exact = sdmetrics_exact

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        tt = to_training(inputs, self.max_records)
        assert tt.holdout is not None
        d_syn = tt.synthetic.first().astype(np.float64)
        d_hold = tt.holdout.first().astype(np.float64)
        cut = float(np.quantile(d_hold, CLOSE_QUANTILE))
        close = d_syn < cut
        value = float(close.mean())
        ci, reps = weighted_ci(weighted_means(close, replicate_weights(inputs, "synthetic", tt.synthetic_positions)))
        # SDMetrics' share, on at most BASELINE_RECORDS of the sampled synthetic records, and at most
        # 10⁹ synthetic × holdout pairs (an exact search: 1,000 records against a million)
        n_sdm = min(len(d_syn), BASELINE_RECORDS, max(1_000, 10**9 // len(inputs.frame("holdout"))))
        some = tt.synthetic_positions[:n_sdm]
        if self.sdmetrics_exact:
            closer = float(
                (gower_dcr(inputs, "synthetic", some, "real") < gower_dcr(inputs, "synthetic", some, "holdout")).mean()
            )
        else:
            to_hold = synthetic_to_holdout(inputs, some).first().astype(np.float64)
            closer = float((d_syn[:n_sdm] < to_hold).mean())
        details: dict[str, Detail] = {
            "holdout_quantile": CLOSE_QUANTILE,
            "distance_cut": cut,
            "holdout_share_below_cut": float((d_hold < cut).mean()),
            "median_dcr_synthetic": float(np.median(d_syn)),
            "median_dcr_holdout": float(np.median(d_hold)),
            "closer_to_training": closer,
            "sdmetrics_overfitting_protection": min(1.0, 2.0 * (1.0 - closer)),
            "n_synthetic_used_closer_to_training": n_sdm,
            "closer_to_training_distance": "SDMetrics (mean Gower)" if self.sdmetrics_exact else "shared encoding",
            "n_synthetic_used": len(d_syn),
            "n_holdout_used": len(d_hold),
            "neighbours": tt.method,
        }
        reason = (
            f"{value:.1%} of synthetic records lie closer to a training record than 95% of holdout records "
            f"(distance < {cut:.3g}); a real sample gives 5%"
        )
        return self.result(
            value,
            reason,
            items=_nearest_examples(tt, np.argsort(d_syn, kind="stable"), d_syn, "distance"),
            details=details,
            ci=ci,
            replicates=reps,
        )

    def score(self, value: float) -> float:
        return _close_share_score(value)


def _ratio(nb_distances: np.ndarray) -> np.ndarray:
    d1 = nb_distances[:, 0].astype(np.float64)
    d2 = nb_distances[:, 1].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = d1 / d2
    # 0/0: as close to two records as to one — not singled out; ratio 1
    return np.where(d2 > 0, r, 1.0)


@METRICS.register("nndr")
class NearestNeighbourDistanceRatio(PrivacyMetric):
    """Share of synthetic records much nearer one training record than the next (NNDR below the holdout's 5 %).

    The nearest-neighbour distance ratio d₁/d₂ (nearest over second-nearest training record) is
    small when a record sits next to one specific training record rather than in a crowd: that
    record is the one it reveals. The cut is the holdout's 5th percentile of the same ratio, so a
    fresh real sample scores 5 %. A record at distance 0 from two identical training records has
    ratio 1 (it singles out no one). CI: bootstrap over synthetic records. Score: 1 up to 5 %,
    falling linearly to 0 at 50 %.
    """

    name = "nndr"
    title = "Nearest-neighbour distance ratio (share below real records)"
    direction = Direction.MINIMIZE
    ideal = CLOSE_QUANTILE
    unit = "share of synthetic records"
    default_threshold = Threshold(warn=0.10, fail=0.20)

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        tt = to_training(inputs, self.max_records)
        assert tt.holdout is not None
        r_syn = _ratio(tt.synthetic.distances)
        r_hold = _ratio(tt.holdout.distances)
        cut = float(np.quantile(r_hold, CLOSE_QUANTILE))
        low = r_syn < cut
        value = float(low.mean())
        ci, reps = weighted_ci(weighted_means(low, replicate_weights(inputs, "synthetic", tt.synthetic_positions)))
        details: dict[str, Detail] = {
            "holdout_quantile": CLOSE_QUANTILE,
            "ratio_cut": cut,
            "median_nndr_synthetic": float(np.median(r_syn)),
            "median_nndr_holdout": float(np.median(r_hold)),
            "n_synthetic_used": len(r_syn),
            "n_holdout_used": len(r_hold),
            "neighbours": tt.method,
        }
        return self.result(
            value,
            f"{value:.1%} of synthetic records have a nearest-neighbour ratio below {cut:.3g}, "
            "where 5% of holdout records fall",
            items=_nearest_examples(tt, np.argsort(r_syn, kind="stable"), r_syn, "ratio"),
            details=details,
            ci=ci,
            replicates=reps,
        )

    def score(self, value: float) -> float:
        return _close_share_score(value)


@METRICS.register("authenticity")
class Authenticity(PrivacyMetric):
    """Share of synthetic records that are authentic: not closer to their nearest training record
    than that record's own nearest neighbour is.

    Alaa et al. (2022, "How faithful is your synthetic data?"): a synthetic record whose nearest
    training record ``i`` lies closer to it than ``i``'s nearest other training record is a likely
    copy of ``i`` ("unauthentic"). Unlike synthcity's ``AlphaPrecision`` code, which compares each
    *real* record's nearest synthetic distance with a radius looked up by the synthetic index, this
    follows the paper: per synthetic record, with the radius of its own nearest training record.
    A fresh real sample is not fully authentic either (about half, in many dimensions), so the
    holdout's share is reported as the baseline when given. CI: bootstrap over synthetic records.
    Score: ``min(1, share / baseline)`` against a nominal baseline of 0.5.
    """

    name = "authenticity"
    title = "Authenticity (share of synthetic records that are not copies)"
    direction = Direction.MAXIMIZE
    ideal = 1.0
    unit = "share of synthetic records"
    default_threshold = Threshold(warn=0.4, fail=0.25)
    needs_holdout = False

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        tt = to_training(inputs, self.max_records)
        d = tt.synthetic.first().astype(np.float64)
        n_syn = len(d)
        nearest_train = tt.synthetic.indices[:, 0]
        if tt.holdout is not None:
            nearest_train = np.concatenate([nearest_train, tt.holdout.indices[:, 0]])
        radius = training_radius(inputs, nearest_train)
        authentic = d >= radius[:n_syn]
        value = float(authentic.mean())
        ci, reps = weighted_ci(
            weighted_means(authentic, replicate_weights(inputs, "synthetic", tt.synthetic_positions))
        )
        details: dict[str, Detail] = {"n_synthetic_used": len(d), "neighbours": tt.method}
        baseline = ""
        if tt.holdout is not None:
            hold = tt.holdout.first().astype(np.float64) >= radius[n_syn:]
            details["holdout_share"] = float(hold.mean())
            details["n_holdout_used"] = len(hold)
            baseline = f"; {hold.mean():.1%} of holdout records are, as a real baseline"
        return self.result(
            value,
            f"{value:.1%} of synthetic records are authentic (not inside their nearest training record's "
            f"neighbour radius){baseline}",
            details=details,
            ci=ci,
            replicates=reps,
        )

    def score(self, value: float) -> float:
        return math.nan if math.isnan(value) else clip01(value / 0.5)
