"""Linkability (Article 29 WP 216): can the synthetic data join two partial views of the same patient?

The attacker holds two data sets about the same people with different columns (say, a registry
with age and weight, a claims file with diagnoses). For each target record, the nearest synthetic
record(s) on the first set of columns and on the second are looked up; when they share a synthetic
record, the two halves are linked. Following anonymeter (Giomi et al. 2023), the attack runs on
``n_attacks`` training records (attack), ``n_attacks`` holdout records (control) and with random
synthetic records in place of neighbours (baseline); risk = (attack − control) / (1 − control)
with Wilson intervals (:mod:`._stats`).

Neighbours are Euclidean on the shared encoding restricted to each column set (anonymeter uses a
Gower-like L1 distance on the raw columns; the neighbour a record finds is usually the same). By
default the compared columns are dealt alternately into the two sets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from medsyn.evaluate._base import clip01
from medsyn.evaluate._inputs import EvalInputs, Side
from medsyn.evaluate._neighbors import nearest
from medsyn.evaluate.privacy._common import PrivacyMetric, feature_index
from medsyn.evaluate.privacy._stats import AttackOutcome
from medsyn.metric import METRICS, Detail, Direction, MetricResult, Threshold

__all__ = ["LinkabilityRisk", "default_split", "linkability_attack"]


def default_split(inputs: EvalInputs) -> tuple[list[str], list[str]]:
    """The compared columns dealt alternately into two sets: what each of the attacker's two data sets holds.

    Alternating (not first half / second half) keeps related columns that a schema lists together
    (say, twenty medication flags) from all landing in one set, where most records would tie.
    """
    names = [f.name for f in inputs.feature_fields()]
    return names[0::2], names[1::2]


def _linked(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether each row's two neighbour lists share an index."""
    return np.asarray((a[:, :, None] == b[:, None, :]).any(axis=(1, 2)))


def _random_neighbours(rng: np.random.Generator, n_synthetic: int, n: int, k: int) -> np.ndarray:
    """``k`` distinct random synthetic indices per row."""
    out = rng.integers(0, n_synthetic, (n, k))
    while k > 1:
        s = np.sort(out, axis=1)
        bad = np.flatnonzero((s[:, 1:] == s[:, :-1]).any(axis=1))
        if not len(bad):
            break
        out[bad] = rng.integers(0, n_synthetic, (len(bad), k))
    return out


def linkability_attack(
    inputs: EvalInputs,
    *,
    columns: tuple[Sequence[str], Sequence[str]] | None = None,
    n_attacks: int = 500,
    n_neighbors: int = 1,
    level: float = 0.95,
) -> AttackOutcome:
    """anonymeter's linkability attack: link the two column sets of training, holdout and random targets."""
    first, second = columns if columns is not None else default_split(inputs)
    idx = feature_index(inputs, first), feature_index(inputs, second)
    syn = inputs.matrix("synthetic")
    rng = inputs.rng("linkability_risk")
    k = min(n_neighbors, len(syn))
    n = min(n_attacks, len(inputs.frame("real")), len(inputs.frame("holdout")))

    def links(side: Side) -> int:
        pos = rng.choice(len(inputs.frame(side)), n, replace=False)
        targets = inputs.matrix(side)[pos]
        a, b = (nearest(targets[:, i], syn[:, i], k, seed=inputs.seed).indices for i in idx)
        return int(_linked(a, b).sum())

    n_baseline = int(_linked(*(_random_neighbours(rng, len(syn), n, k) for _ in range(2))).sum())
    n_success = links("real")
    n_control = links("holdout")
    return AttackOutcome(n, n_success, float(n_control), n_baseline, n, n, level)


@METRICS.register("linkability_risk")
class LinkabilityRisk(PrivacyMetric):
    """Linkability risk (Article 29): excess success of joining two partial views of a training record
    through the synthetic data.

    For ``n_attacks`` training records, the ``n_neighbors`` nearest synthetic records on one set of
    columns and on the other are looked up; the record is linked when the two lists share a
    synthetic record. The same attack on holdout records (control) and with random synthetic records
    (baseline) gives risk = (attack − control) / (1 − control), clipped to [0, 1], with Wilson
    intervals, as in anonymeter (Giomi et al. 2023). Column sets: ``columns``, by default the
    compared columns dealt alternately into two sets. Score: ``1 − risk``.
    """

    name = "linkability_risk"
    title = "Linkability risk (anonymeter-style)"
    direction = Direction.MINIMIZE
    ideal = 0.0
    unit = "risk"
    default_threshold = Threshold(warn=0.1, fail=0.25)

    def __init__(
        self,
        *,
        threshold: Threshold | None = None,
        columns: tuple[Sequence[str], Sequence[str]] | None = None,
        n_attacks: int = 500,
        n_neighbors: int = 1,
    ) -> None:
        super().__init__(threshold=threshold)
        self.columns = None if columns is None else (tuple(columns[0]), tuple(columns[1]))
        self.n_attacks = n_attacks
        self.n_neighbors = n_neighbors

    def why_not(self, inputs: EvalInputs) -> str | None:
        why = super().why_not(inputs)
        if why is not None:
            return why
        first, second = self.columns if self.columns is not None else default_split(inputs)
        if not first or not second:
            return "needs at least two compared columns to split between the attacker's two data sets"
        return None

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        first, second = self.columns if self.columns is not None else default_split(inputs)
        o = linkability_attack(inputs, columns=(first, second), n_attacks=self.n_attacks, n_neighbors=self.n_neighbors)
        if math.isnan(o.value):
            return self.skipped("every control attack succeeded, so no residual risk can be measured")
        details: dict[str, Detail] = {
            **o.to_dict(),
            "columns_first": ", ".join(first),
            "columns_second": ", ".join(second),
            "n_neighbors": self.n_neighbors,
        }
        reason = (
            f"linking two halves of a record through the synthetic data succeeds for {o.attack.value:.1%} of "
            f"training records vs {o.control.value:.1%} of holdout records ({o.baseline.value:.1%} at random): "
            f"risk {o.value:.3f}"
        )
        return self.result(o.value, reason, details=details, ci=o.risk_ci)

    def score(self, value: float) -> float:
        return math.nan if math.isnan(value) else 1.0 - clip01(value)
