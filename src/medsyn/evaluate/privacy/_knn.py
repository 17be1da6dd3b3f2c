"""The neighbour queries the distance-based privacy metrics share, each run once per evaluation.

Distance to closest record, the nearest-neighbour distance ratio and authenticity read the same
query: the two nearest *training* records of every (sampled) synthetic and holdout record, asked
in one call so the training index is built once (:func:`to_training`); authenticity adds the
radius of the training records reached (:func:`training_radius`). The membership attacks
read the nearest *synthetic* records of the sampled training and holdout records
(:func:`to_synthetic`). All go through :func:`medsyn.evaluate.nearest` on the shared encoding:
exact up to ~100k × 100k pairs, faiss IVF beyond, memory O(n·k).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medsyn.evaluate._inputs import EvalInputs
from medsyn.evaluate._neighbors import Neighbours, nearest
from medsyn.evaluate.privacy._common import sample_positions

__all__ = [
    "BASELINE_RECORDS",
    "ToSynthetic",
    "ToTraining",
    "synthetic_to_holdout",
    "to_synthetic",
    "to_training",
    "training_radius",
]

#: Holdout records that supply a baseline (a quantile or a share) for the distance metrics.
BASELINE_RECORDS = 10_000


@dataclass(frozen=True, slots=True)
class ToTraining:
    """The two nearest training records of sampled synthetic (and holdout) records."""

    synthetic_positions: np.ndarray
    synthetic: Neighbours
    holdout_positions: np.ndarray | None
    holdout: Neighbours | None
    method: str


@dataclass(frozen=True, slots=True)
class ToSynthetic:
    """The ``k`` nearest synthetic records of sampled training and holdout records."""

    real_positions: np.ndarray
    real: Neighbours
    holdout_positions: np.ndarray
    holdout: Neighbours
    method: str


def _split(nb: Neighbours, n_first: int) -> tuple[Neighbours, Neighbours]:
    return (
        Neighbours(nb.distances[:n_first], nb.indices[:n_first], nb.method),
        Neighbours(nb.distances[n_first:], nb.indices[n_first:], nb.method),
    )


def to_training(inputs: EvalInputs, cap: int) -> ToTraining:
    """Sampled synthetic (and holdout) records' two nearest training records, in one query (cached).

    At most ``cap`` synthetic records and :data:`BASELINE_RECORDS` holdout records: the holdout only
    supplies a baseline quantile or share, which a sample of that size pins down to ±1 %.
    """

    def compute() -> ToTraining:
        syn_pos = sample_positions(inputs, "synthetic", cap)
        query = [inputs.matrix("synthetic")[syn_pos]]
        hold_pos = None
        if inputs.holdout is not None:
            hold_pos = sample_positions(inputs, "holdout", min(cap, BASELINE_RECORDS))
            query.append(inputs.matrix("holdout")[hold_pos])
        both = nearest(np.vstack(query), inputs.matrix("real"), 2, seed=inputs.seed)
        syn, hold = _split(both, len(syn_pos))
        return ToTraining(syn_pos, syn, hold_pos, hold if hold_pos is not None else None, both.method)

    return inputs.memo(("privacy-knn", "to-training", cap), compute)


def training_radius(inputs: EvalInputs, records: np.ndarray) -> np.ndarray:
    """For training records ``records``, the distance to their own nearest other training record.

    ``k = 2`` from a training record finds itself (distance 0) and its nearest other record; when an
    identical record exists both are at 0, which is then the right radius too.
    """
    train = inputs.matrix("real")
    unique, inverse = np.unique(records, return_inverse=True)
    own = nearest(train[unique], train, 2, seed=inputs.seed)
    return np.asarray(own.distances[:, 1].astype(np.float64)[inverse])


def to_synthetic(inputs: EvalInputs, cap: int, k: int) -> ToSynthetic:
    """Sampled training and holdout records' ``k`` nearest synthetic records (``k`` capped by the synthetic size)."""

    def compute() -> ToSynthetic:
        syn = inputs.matrix("synthetic")
        real_pos = sample_positions(inputs, "real", cap)
        hold_pos = sample_positions(inputs, "holdout", cap)
        query = np.vstack([inputs.matrix("real")[real_pos], inputs.matrix("holdout")[hold_pos]])
        both = nearest(query, syn, min(k, len(syn)), seed=inputs.seed)
        real, hold = _split(both, len(real_pos))
        return ToSynthetic(real_pos, real, hold_pos, hold, both.method)

    return inputs.memo(("privacy-knn", "to-synthetic", cap, k), compute)


def synthetic_to_holdout(inputs: EvalInputs, positions: np.ndarray) -> Neighbours:
    """The nearest holdout record of the given synthetic records (SDMetrics' DCR overfitting protection)."""
    return nearest(inputs.matrix("synthetic")[positions], inputs.matrix("holdout"), 1, seed=inputs.seed)
