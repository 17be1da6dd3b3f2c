"""Membership inference: can an attacker holding the synthetic data tell who was in the training set?

Both attacks score every training record (members) and every holdout record (non-members) and
report the AUC of telling them apart: 0.5 means the synthetic data reveals nothing about
membership, 1 means it reveals it perfectly. The CI pairs the evaluation's bootstrap resamples of
the training and the holdout records. Sides larger than ``max_records`` are sampled (stated in
the details): an AUC needs a sample, not every record.

- :class:`MembershipInferenceDistance`: a record is a member when a synthetic record lies close to
  it (score = −distance to the nearest synthetic record).
- :class:`MembershipInferenceDomias`: DOMIAS (van Breugel et al., AISTATS 2023) scores the density
  ratio ``p_synthetic(x) / p_reference(x)``, which corrects the distance attack for records that
  are merely typical. Densities are k-nearest-neighbour estimates (Loftsgaarden & Quesenberry
  1965), ``p(x) ≈ k / (n · V_d · r_k(x)^d)`` with ``r_k`` the distance to the k-th neighbour, so
  the ratio is ``(k_syn n_ref / k_ref n_syn) · (r_ref / r_syn)^d``: a monotone function of
  ``log r_ref − log r_syn``, which is therefore the score (an AUC depends only on the order of
  scores, so neither ``d`` nor the constants matter). The synthetic density uses the nearest
  synthetic record (k = 1: overfitting is local, and a wider estimate would smooth a copied record
  away); the reference density, estimated from fewer real records, uses k = 5 for stability.
  Chosen over a Gaussian KDE because it costs one neighbour query (O(n·k), faiss at 100k+) where a
  KDE costs n × m kernel evaluations, and it needs no bandwidth in 100+ dimensions. The reference
  set must not contain members: the holdout is split at random into halves, one for the reference
  density, the other as the non-members.
"""

from __future__ import annotations

import math

import numpy as np

from medsyn.evaluate._inputs import EvalInputs
from medsyn.evaluate._neighbors import nearest
from medsyn.evaluate.privacy._common import PrivacyMetric, replicate_weights, roc, weighted_ci
from medsyn.evaluate.privacy._knn import to_synthetic
from medsyn.metric import METRICS, Detail, Direction, MetricResult, Threshold

__all__ = ["MembershipInferenceDistance", "MembershipInferenceDomias"]

#: Neighbours of the k-NN estimate of the reference density (DOMIAS); the synthetic density uses 1.
REFERENCE_K = 5


def _auc_score(value: float) -> float:
    """1 at AUC ≤ 0.5 (no better than guessing), 0 at AUC 1: ``1 − 2·max(0, AUC − 0.5)``."""
    return math.nan if math.isnan(value) else 1.0 - 2.0 * max(0.0, min(value, 1.0) - 0.5)


def _auc_result(
    metric: PrivacyMetric,
    inputs: EvalInputs,
    member_scores: np.ndarray,
    member_positions: np.ndarray,
    other_scores: np.ndarray,
    other_positions: np.ndarray,
    details: dict[str, Detail],
    what: str,
) -> MetricResult:
    curve = roc(member_scores, other_scores)
    value = curve.auc()
    w1 = replicate_weights(inputs, "real", member_positions)
    w0 = replicate_weights(inputs, "holdout", other_positions)
    reps = np.array([curve.auc(w1[b], w0[b]) for b in range(inputs.n_bootstrap)])
    ci, replicates = weighted_ci(reps)
    advantage, tpr = curve.advantage()
    details = {
        **details,
        "advantage": advantage,
        "tpr_at_best_advantage": tpr,
        "n_members_used": len(member_scores),
        "n_non_members_used": len(other_scores),
    }
    reason = f"{what} tells training records from holdout records with AUC {value:.3f} (0.5 = no better than chance)"
    return metric.result(value, reason, details=details, ci=ci, replicates=replicates)


@METRICS.register("membership_inference_distance")
class MembershipInferenceDistance(PrivacyMetric):
    """AUC of a distance-based membership attack: are training records closer to the synthetic data
    than holdout records?

    Each training record (member) and holdout record (non-member) is scored by minus its distance
    to the nearest synthetic record; the AUC says how well that score tells members from
    non-members (0.5: not at all). The details give the membership advantage, max(TPR − FPR). CI:
    the evaluation's bootstrap over training and holdout records. Score: ``1 − 2·max(0, AUC − 0.5)``.
    """

    name = "membership_inference_distance"
    title = "Membership inference (distance attack AUC)"
    direction = Direction.MINIMIZE
    ideal = 0.5
    unit = "AUC"
    default_threshold = Threshold(warn=0.55, fail=0.6)

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        ts = to_synthetic(inputs, self.max_records, 1)
        return _auc_result(
            self,
            inputs,
            -ts.real.first().astype(np.float64),
            ts.real_positions,
            -ts.holdout.first().astype(np.float64),
            ts.holdout_positions,
            {"neighbours": ts.method},
            "the distance to the nearest synthetic record",
        )

    def score(self, value: float) -> float:
        return _auc_score(value)


@METRICS.register("membership_inference_domias")
class MembershipInferenceDomias(PrivacyMetric):
    """AUC of DOMIAS, a density-ratio membership attack: is the synthetic data denser than real data
    around training records?

    DOMIAS (van Breugel et al. 2023) scores a record by ``p_synthetic(x) / p_reference(x)``: a
    generator that overfits piles density on its training records beyond what the population
    density explains. Densities are k-nearest-neighbour estimates on the shared encoding (distance
    to the nearest synthetic record, to the 5th nearest reference record); the reference density
    comes from a random half of the holdout and the other half are the non-members, so no record
    is both. CI: bootstrap over training and holdout records. Score:
    ``1 − 2·max(0, AUC − 0.5)``.
    """

    name = "membership_inference_domias"
    title = "Membership inference (DOMIAS density-ratio AUC)"
    direction = Direction.MINIMIZE
    ideal = 0.5
    unit = "AUC"
    default_threshold = Threshold(warn=0.55, fail=0.6)
    min_records = 4

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        n_hold = len(inputs.frame("holdout"))
        order = inputs.rng(self.name).permutation(n_hold)
        reference = np.sort(order[: n_hold // 2])
        in_reference = np.zeros(n_hold, dtype=bool)
        in_reference[reference] = True
        ts = to_synthetic(inputs, self.max_records, 1)
        keep = ~in_reference[ts.holdout_positions]
        non_members = ts.holdout_positions[keep]
        k = min(REFERENCE_K, len(reference))
        r_syn = np.concatenate([ts.real.first(), ts.holdout.first()[keep]])
        ref_rows = reference
        if len(reference) > self.max_records:
            ref_rows = np.sort(inputs.rng(f"{self.name}-reference").choice(reference, self.max_records, replace=False))
        query = np.vstack([inputs.matrix("real")[ts.real_positions], inputs.matrix("holdout")[non_members]])
        ref = nearest(query, inputs.matrix("holdout")[ref_rows], k, seed=inputs.seed)
        r_ref = ref.distances[:, k - 1].astype(np.float64)
        tiny = np.finfo(np.float32).tiny
        score = np.log(np.maximum(r_ref, tiny)) - np.log(np.maximum(r_syn.astype(np.float64), tiny))
        n_members = len(ts.real_positions)
        details: dict[str, Detail] = {
            "density": f"k-NN density ratio: synthetic k=1, reference k={k}",
            "n_reference": len(ref_rows),
            "neighbours": ts.method,
        }
        return _auc_result(
            self,
            inputs,
            score[:n_members],
            ts.real_positions,
            score[n_members:],
            non_members,
            details,
            "the synthetic-to-reference density ratio",
        )

    def score(self, value: float) -> float:
        return _auc_score(value)
