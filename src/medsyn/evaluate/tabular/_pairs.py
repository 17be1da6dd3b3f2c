"""Pairwise fidelity: correlation difference, contingency similarity, mutual-information difference.

A generator can get every marginal right and still break the relations between columns. These
metrics compare each *pair* of feature columns:

- ``correlation_difference`` — number/date pairs: ``|ρ_real − ρ_syn|`` with Pearson's ρ (or
  Spearman's) on the rows where both values are present, all pairs in a few matrix products;
  SDMetrics' CorrelationSimilarity of a pair is ``1 − |ρ_real − ρ_syn| / 2``;
- ``contingency_similarity`` — every pair as shared codes (numbers binned at real quantiles,
  missing as a value): ``1 − TV`` of the two joint tables, SDMetrics' ContingencySimilarity;
- ``mutual_information_difference`` — the same joint tables: ``|NMI_real − NMI_syn|`` with the
  normalised mutual information of scikit-learn (``normalized_mutual_info_score``, arithmetic
  mean of the entropies).

Joint tables are ``bincount`` s of combined codes, computed once per pair for both the
contingency and the mutual-information metric (mutual information only when that metric asks).
A table with more than ``max_pairs`` pairs has a seeded sample of pairs measured (the details
say how many of how many). Confidence intervals come from the shared bootstrap resamples,
recomputed on at most ``bootstrap_records`` sampled records per side and recentred on the
estimate. No loop runs over replicates: every replicate's weighted correlation sums are one
matrix product of the bootstrap multiplicities with per-record terms
(:func:`replicate_correlations`), and every replicate's joint tables one product with the
pairs' one-hot cells (:func:`~medsyn.evaluate.tabular._common.replicate_counts`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np

from medsyn.evaluate._encode import ColumnCodes
from medsyn.evaluate._inputs import EvalInputs
from medsyn.evaluate._parallel import map_over_cores
from medsyn.evaluate.tabular._common import (
    BootstrapWeights,
    TabularMetric,
    centred,
    column_numbers,
    loop_workers,
    numeric_fields,
    one_blas_thread,
    replicate_counts,
    replicate_weights,
    select_pairs,
    shared_codes,
    weighted_counts,
)
from medsyn.metric import METRICS, Detail, Direction, ItemResult, MetricKind, MetricResult, Threshold

__all__ = [
    "ContingencySimilarity",
    "CorrelationDifference",
    "MutualInformationDifference",
    "PairTables",
    "normalized_mutual_information",
    "pair_tables",
    "pairwise_correlation",
    "replicate_correlations",
]

#: Records per side on which bootstrap replicates of the pairwise metrics are recomputed.
PAIR_BOOTSTRAP_RECORDS = 5_000
#: Bins (at real quantiles) of a number column in a joint table: as SDMetrics' 10, but by quantile.
PAIR_BINS = 10
#: Pairs measured at most; wider tables have a seeded sample of pairs measured.
MAX_PAIRS = 1_000
#: Pairs on which bootstrap replicates are recomputed (a seeded sample of the measured pairs).
REPLICATE_PAIRS = 50
#: Items (pairs) listed in a result at most: the pairs furthest from ideal.
MAX_ITEMS = 200
#: Per-record terms (records × terms) of one replicate-sum product: 16 MB in double precision.
_TERM_CELLS = 2_000_000
#: Joint tables up to this many cells are counted densely; larger ones over the observed cells.
_DENSE_CELLS = 4_000_000


# -- correlations -----------------------------------------------------------------------------
def pairwise_correlation(x: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Pearson correlation of every column pair on the rows where both are present (NaN: missing).

    Pairwise-complete like ``pandas.DataFrame.corr`` and SDMetrics (which drop the rows where
    either value is missing), in matrix products instead of a loop over pairs. ``weights``
    (one per row) gives the weighted correlation, e.g. for a bootstrap replicate. A pair with
    fewer than two complete rows or no spread in either column is NaN.
    """
    present = np.isfinite(x)
    if weights is None and present.all():  # the usual case: every pair on every row, 1 product instead of 4
        x0 = x - x.mean(axis=0)
        sums = x0.sum(axis=0)
        n = np.full((x.shape[1], x.shape[1]), float(len(x)))
        sx = np.broadcast_to(sums[:, None], n.shape)
        sxx = np.broadcast_to((x0**2).sum(axis=0)[:, None], n.shape)
        sxy = _cross(x0, x0)
    else:
        m = present.astype(np.float64)
        w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64)
        centre = np.array([np.mean(col[ok]) if ok.any() else 0.0 for col, ok in zip(x.T, present.T, strict=True)])
        x0 = np.where(present, x - centre, 0.0)
        mw = m * w[:, None]
        n = _cross(m, mw)
        sx = _cross(x0, mw)  # sx[a, b] = Σ w·x_a over rows where a and b are present
        sxx = _cross(x0**2, mw)
        sxy = _cross(x0, x0 * w[:, None])
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sx.T / n
        var_a = sxx - sx**2 / n
        var_b = var_a.T
        tiny = 1e-12 * np.maximum(sxx, sxx.T) + 1e-300
        corr = cov / np.sqrt(var_a * var_b)
        corr[(var_a <= tiny) | (var_b <= tiny) | (n < 2)] = np.nan
    out: np.ndarray = np.clip(corr, -1.0, 1.0)
    return out


def replicate_correlations(x: np.ndarray, weights: np.ndarray, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    """Weighted Pearson correlations of the pairs ``(ia[p], ib[p])``, one row per weight row.

    ``out[b, p]`` equals ``pairwise_correlation(x, weights[b])[ia[p], ib[p]]``, but every
    replicate's weighted sums come from one matrix product of the weights with the per-record
    terms of the pairs: on the rows where both columns are present, the count, each column's
    values and squares, and the cross products. Without missing values the count, values and
    squares are the same for every pair and enter once.
    """
    present = np.isfinite(x)
    centre = np.array([np.mean(col[ok]) if ok.any() else 0.0 for col, ok in zip(x.T, present.T, strict=True)])
    x0 = np.where(present, x - centre, 0.0)
    complete = bool(present.all())
    out = np.empty((weights.shape[0], len(ia)))
    step = max(1, _TERM_CELLS // (6 * max(len(x), 1)))  # pairs per product
    for lo in range(0, len(ia), step):
        a, b = ia[lo : lo + step], ib[lo : lo + step]
        k = len(a)
        if complete:  # terms: 1, x, x², then the pairs' cross products
            p = x.shape[1]
            terms = np.hstack([np.ones((len(x), 1)), x0, x0**2, x0[:, a] * x0[:, b]])
            at = [np.zeros(k, dtype=np.int64), 1 + a, 1 + b, 1 + p + a, 1 + p + b, 1 + 2 * p + np.arange(k)]
        else:  # per pair, each term on the rows where the other column is present too
            ma, mb = present[:, a], present[:, b]
            xa, xb = x0[:, a], x0[:, b]
            terms = np.hstack([ma & mb, xa * mb, xb * ma, xa**2 * mb, xb**2 * ma, xa * xb])
            at = [j * k + np.arange(k) for j in range(6)]
        with one_blas_thread():
            sums = weights @ terms
        n, sa, sb, saa, sbb, sab = (sums[:, i] for i in at)
        with np.errstate(invalid="ignore", divide="ignore"):
            cov = sab - sa * sb / n
            var_a = saa - sa**2 / n
            var_b = sbb - sb**2 / n
            tiny = 1e-12 * np.maximum(saa, sbb) + 1e-300
            corr = cov / np.sqrt(var_a * var_b)
            corr[(var_a <= tiny) | (var_b <= tiny) | (n < 2)] = np.nan
        out[:, lo : lo + k] = np.clip(corr, -1.0, 1.0)
    return out


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``aᵀ b`` through BLAS on one thread (threaded BLAS stalls on a busy machine; einsum is 3× slower)."""
    with one_blas_thread():
        out: np.ndarray = a.T @ b
    return out


def _ranks(x: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    ranked: np.ndarray = rankdata(x, axis=0, method="average", nan_policy="omit")
    return ranked


# -- joint tables -----------------------------------------------------------------------------
def _entropy(counts: np.ndarray, axis: int = -1) -> np.ndarray:
    """Shannon entropy (nats) of count vectors along ``axis``."""
    total = counts.sum(axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = counts / total
        h = -np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0).sum(axis=axis)
    return np.asarray(h)


def _nmi(joint: np.ndarray, cell_a: np.ndarray, cell_b: np.ndarray, n_a: int, n_b: int) -> np.ndarray:
    """Normalised mutual information of each row of ``joint`` (counts over cells ``(cell_a, cell_b)``).

    scikit-learn's ``normalized_mutual_info_score`` with the arithmetic mean: ``MI / ((H_a +
    H_b) / 2)``, 0 when the mutual information is 0 — *including* when both columns are
    constant, where scikit-learn returns 1 ("a perfect match"): a constant column shares no
    information, and that convention would make two near-constant columns look fully dependent
    on one side and independent on the other.
    """
    total = joint.sum(axis=1, keepdims=True)
    marg_a = weighted_counts(cell_a, joint, n_a)
    marg_b = weighted_counts(cell_b, joint, n_b)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = joint * total / (marg_a[:, cell_a] * marg_b[:, cell_b])
        mi = np.where(joint > 0, joint / total * np.log(np.where(joint > 0, ratio, 1.0)), 0.0).sum(axis=1)
    mi = np.maximum(mi, 0.0)
    h_a, h_b = _entropy(marg_a), _entropy(marg_b)
    with np.errstate(invalid="ignore", divide="ignore"):
        nmi = np.where(mi <= 1e-15, 0.0, mi / ((h_a + h_b) / 2))
    out: np.ndarray = np.clip(nmi, 0.0, 1.0)
    return out


def normalized_mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """NMI of two integer code vectors (as ``sklearn.metrics.normalized_mutual_info_score``, but 0 for constants)."""
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    n_b = int(bi.max()) + 1
    joint = np.bincount(ai * n_b + bi, minlength=(int(ai.max()) + 1) * n_b).astype(np.float64)
    cells = np.arange(len(joint))
    return float(_nmi(joint[None, :], cells // n_b, cells % n_b, int(ai.max()) + 1, n_b)[0])


@dataclass(frozen=True, slots=True)
class _Joint:
    """One pair's joint counts over its observed cells (``cells``: ``code_a · n_b + code_b``, sorted).

    ``counts`` holds one row per count vector (real and synthetic; or one per replicate). The
    replicates' tables number the columns' codes afresh over the cells they saw (``compact``).
    """

    counts: tuple[np.ndarray, ...]
    cells: np.ndarray
    n_a: int
    n_b: int
    compact: bool = False

    def nmi(self) -> tuple[np.ndarray, ...]:
        """Normalised mutual information of every row of every count matrix."""
        cell_a, cell_b, n_a, n_b = self.cells // self.n_b, self.cells % self.n_b, self.n_a, self.n_b
        if self.compact:
            _, cell_a = np.unique(cell_a, return_inverse=True)
            _, cell_b = np.unique(cell_b, return_inverse=True)
            n_a, n_b = int(cell_a.max()) + 1, int(cell_b.max()) + 1
        return tuple(_nmi(c, cell_a, cell_b, n_a, n_b) for c in self.counts)


@dataclass(frozen=True)
class PairTables:
    """Joint-table comparisons of the measured column pairs of one evaluation.

    Per pair ``p`` (columns ``names[pairs[p][0]]`` and ``names[pairs[p][1]]``): the total
    variation distance of the joint tables and each side's normalised mutual information;
    ``*_replicates`` are bootstrap replicates of the pair means (not yet recentred): the mean
    over all pairs plus the replicate's mean deviation on a seeded sample of at most
    :data:`REPLICATE_PAIRS` pairs (``replicated``), which stands for the deviation of all of
    them. Mutual information is computed from the kept joint tables when first asked for, so
    an evaluation without the mutual-information metric never pays for it.
    """

    names: tuple[str, ...]
    pairs: tuple[tuple[int, int], ...]
    total_pairs: int
    tv: np.ndarray
    tv_replicates: np.ndarray
    scale: float
    bootstrap_records: int
    joints: tuple[_Joint, ...] = field(repr=False)
    replicated: np.ndarray = field(repr=False)
    replicate_joints: tuple[_Joint, ...] = field(repr=False)

    def key(self, p: int) -> str:
        a, b = self.pairs[p]
        return f"{self.names[a]} ~ {self.names[b]}"

    @cached_property
    def _nmi_sides(self) -> tuple[np.ndarray, np.ndarray]:
        both = np.array([j.nmi()[0] for j in self.joints]).reshape(-1, 2)
        return both[:, 0], both[:, 1]

    @property
    def nmi_real(self) -> np.ndarray:
        """Normalised mutual information of each pair in the real data."""
        return self._nmi_sides[0]

    @property
    def nmi_synthetic(self) -> np.ndarray:
        """Normalised mutual information of each pair in the synthetic data."""
        return self._nmi_sides[1]

    @cached_property
    def nmi_replicates(self) -> np.ndarray:
        """Bootstrap replicates of the mean ``|NMI_real − NMI_syn|`` (not yet recentred)."""
        diff = np.abs(self.nmi_real - self.nmi_synthetic)
        rows = len(self.tv_replicates)
        reps = [np.abs(np.subtract(*j.nmi())) for j in self.replicate_joints]
        deviation = (np.array(reps).reshape(-1, rows).T - diff[self.replicated]).sum(axis=1)
        out: np.ndarray = diff.mean() + deviation / max(len(self.replicated), 1)
        return out


def _full_pair(
    ar: np.ndarray, br: np.ndarray, as_: np.ndarray, bs: np.ndarray, n_a: int, n_b: int
) -> tuple[np.ndarray, np.ndarray]:
    """Joint counts of both sides (2 × cells) over the observed cells, and each cell's codes."""
    if n_a * n_b <= _DENSE_CELLS:
        jr = np.bincount(ar * n_b + br, minlength=n_a * n_b)
        js = np.bincount(as_ * n_b + bs, minlength=n_a * n_b)
        used = np.flatnonzero((jr > 0) | (js > 0))
        return np.vstack([jr[used], js[used]]).astype(np.float64), used
    cells, inverse = np.unique(np.concatenate([ar * n_b + br, as_ * n_b + bs]), return_inverse=True)
    jr = np.bincount(inverse[: len(ar)], minlength=len(cells))
    js = np.bincount(inverse[len(ar) :], minlength=len(cells))
    return np.vstack([jr, js]).astype(np.float64), cells


def pair_tables(
    inputs: EvalInputs,
    *,
    bins: int = PAIR_BINS,
    max_pairs: int | None = MAX_PAIRS,
    bootstrap_records: int = PAIR_BOOTSTRAP_RECORDS,
) -> PairTables:
    """Compare the joint tables of every (sampled) pair of feature columns, once per evaluation."""

    def compute() -> PairTables:
        fields = inputs.feature_fields()
        names = tuple(f.name for f in fields)
        pairs, total = select_pairs(names, max_pairs, inputs.rng("tabular-pairs"))
        workers = loop_workers(inputs)
        codes = map_over_cores(lambda i: shared_codes(inputs, fields[i], bins), len(fields), workers=workers)
        wr = replicate_weights(inputs, "real", bootstrap_records)
        ws = replicate_weights(inputs, "synthetic", bootstrap_records)
        n_pairs = len(pairs)

        def tabulate(p: int) -> tuple[float, _Joint]:
            ca, cb = codes[pairs[p][0]], codes[pairs[p][1]]
            n_a, n_b = len(ca.labels), len(cb.labels)
            joint, cells = _full_pair(ca.codes[0], cb.codes[0], ca.codes[1], cb.codes[1], n_a, n_b)
            tv = 0.5 * np.abs(joint[0] / joint[0].sum() - joint[1] / joint[1].sum()).sum()
            return float(tv), _Joint((joint,), cells, n_a, n_b)

        tabulated = map_over_cores(tabulate, n_pairs, per_thread=4, workers=workers)  # pairs are independent
        tv = np.array([t for t, _ in tabulated], dtype=np.float64)
        joints = [j for _, j in tabulated]
        replicated = _replicate_subset(n_pairs, inputs)
        t_rep, replicate_joints = _replicate_pairs(
            [(codes[pairs[p][0]], codes[pairs[p][1]]) for p in replicated], wr, ws
        )
        tv_reps = (t_rep - tv[replicated]).sum(axis=1)
        n_real, n_syn = len(inputs.frame("real")), len(inputs.frame("synthetic"))
        scale = math.sqrt((1 / n_real + 1 / n_syn) / (1 / len(wr.positions) + 1 / len(ws.positions)))
        return PairTables(
            names,
            tuple(pairs),
            total,
            tv,
            tv.mean() + tv_reps / max(len(replicated), 1),
            scale,
            max(len(wr.positions), len(ws.positions)),
            tuple(joints),
            replicated,
            replicate_joints,
        )

    return inputs.memo(("tabular-pairs", bins, max_pairs, bootstrap_records), compute)


def _replicate_subset(n_pairs: int, inputs: EvalInputs) -> np.ndarray:
    """The measured pairs whose bootstrap replicates stand for all (at most :data:`REPLICATE_PAIRS`)."""
    if n_pairs <= REPLICATE_PAIRS:
        return np.arange(n_pairs)
    return np.sort(inputs.rng("tabular-pair-replicates").choice(n_pairs, size=REPLICATE_PAIRS, replace=False))


def _replicate_pairs(
    chosen: list[tuple[ColumnCodes, ColumnCodes]], wr: BootstrapWeights, ws: BootstrapWeights
) -> tuple[np.ndarray, tuple[_Joint, ...]]:
    """Per replicate and pair (replicates × pairs): TV of the joint tables; and each pair's replicate tables.

    Each pair's cells (the code combinations seen in the sampled records of either side) are
    codes of their own; one :func:`replicate_counts` per side counts every pair's cells under
    every replicate.
    """
    tv = np.zeros((wr.replicates, len(chosen)))
    cell_codes: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for ca, cb in chosen:
        n_b = len(cb.labels)
        jr = ca.codes[0][wr.positions] * n_b + cb.codes[0][wr.positions]
        js = ca.codes[1][ws.positions] * n_b + cb.codes[1][ws.positions]
        if len(ca.labels) * n_b <= _DENSE_CELLS:
            seen = np.bincount(jr, minlength=len(ca.labels) * n_b) + np.bincount(js, minlength=len(ca.labels) * n_b)
            cells = np.flatnonzero(seen)
            where = np.zeros(len(seen), dtype=np.int64)
            where[cells] = np.arange(len(cells))
            cell_codes.append((cells, where[jr], where[js]))
        else:
            cells, inverse = np.unique(np.concatenate([jr, js]), return_inverse=True)
            cell_codes.append((cells, inverse[: len(jr)], inverse[len(jr) :]))
    sizes = [len(cells) for cells, _, _ in cell_codes]
    counts_r = replicate_counts([c for _, c, _ in cell_codes], sizes, wr)
    counts_s = replicate_counts([c for _, _, c in cell_codes], sizes, ws)
    if chosen:  # TV of every pair and replicate at once: shares within each pair's cells
        starts = np.cumsum([0, *sizes[:-1]])
        pair_of = np.repeat(np.arange(len(chosen)), sizes)
        all_r, all_s = np.hstack(counts_r), np.hstack(counts_s)
        with np.errstate(invalid="ignore", divide="ignore"):
            gap = all_r / np.add.reduceat(all_r, starts, axis=1)[:, pair_of]
            gap -= all_s / np.add.reduceat(all_s, starts, axis=1)[:, pair_of]
        tv = 0.5 * np.add.reduceat(np.abs(gap), starts, axis=1)
    joints = tuple(
        _Joint((r, s), cells, len(ca.labels), len(cb.labels), compact=True)
        for (ca, cb), (cells, _, _), r, s in zip(chosen, cell_codes, counts_r, counts_s, strict=True)
    )
    return tv, joints


# -- the registered metrics -------------------------------------------------------------------
class _PairMetric(TabularMetric):
    kind = MetricKind.FIDELITY

    def __init__(
        self,
        *,
        threshold: Threshold | None = None,
        bins: int = PAIR_BINS,
        max_pairs: int | None = MAX_PAIRS,
        bootstrap_records: int = PAIR_BOOTSTRAP_RECORDS,
    ) -> None:
        super().__init__(threshold=threshold)
        self.bins = bins
        self.max_pairs = max_pairs
        self.bootstrap_records = bootstrap_records

    def why_not(self, inputs: EvalInputs) -> str | None:
        why = super().why_not(inputs)
        if why is None and len(inputs.feature_fields()) < 2:
            return "fewer than two feature columns: no pair to compare"
        return why

    def _shown(self, items: list[ItemResult]) -> list[ItemResult]:
        """At most :data:`MAX_ITEMS` pairs, the furthest from ideal first."""
        sign = -1.0 if self.direction is Direction.MINIMIZE else 1.0
        ordered = sorted(items, key=lambda i: sign * i.value)
        return ordered[:MAX_ITEMS]

    def _pair_details(self, tables: PairTables) -> dict[str, Detail]:
        return {
            "pairs_measured": len(tables.pairs),
            "pairs_total": tables.total_pairs,
            "pairs_sampled": len(tables.pairs) < tables.total_pairs,
            "pair_sample_seed": "evaluation seed, stream 'tabular-pairs'",
            "bins": self.bins,
            "bootstrap_records": tables.bootstrap_records,
            "items_shown": min(len(tables.pairs), MAX_ITEMS),
        }


@METRICS.register("contingency_similarity")
class ContingencySimilarity(_PairMetric):
    """How well the joint distribution of every column pair is kept: the mean contingency-table similarity.

    Per pair, ``1 − ½ Σ_{a,b} |P_real(a, b) − P_syn(a, b)|``: one minus the total variation
    distance of the two joint tables (SDMetrics' ContingencySimilarity). Columns enter as shared
    codes: categories as they are, numbers binned at up to 10 real quantiles (SDMetrics: 10
    equal-width bins), missing as a value of its own. It sees any broken relation between two
    columns, linear or not, categorical or not. The value is the mean over pairs (a seeded
    sample of ``max_pairs`` pairs for wide tables).
    """

    name = "contingency_similarity"
    title = "Contingency-table similarity of column pairs (mean)"
    direction = Direction.MAXIMIZE
    ideal = 1.0
    unit = "similarity"
    default_threshold = Threshold(warn=0.85, fail=0.7)

    def _measure(self, inputs: EvalInputs) -> MetricResult:
        t = pair_tables(inputs, bins=self.bins, max_pairs=self.max_pairs, bootstrap_records=self.bootstrap_records)
        sim = 1.0 - t.tv
        items = [self.column_item(t.key(p), float(sim[p]), total_variation=float(t.tv[p])) for p in range(len(t.pairs))]
        value = float(sim.mean())
        ci, reps = centred(value, 1.0 - t.tv_replicates, scale=t.scale, low=0.0, high=1.0)
        worst = int(np.argmin(sim))
        reason = f"mean similarity {value:.3f} over {len(t.pairs)} pair(s); worst {t.key(worst)} ({sim[worst]:.3f})"
        details: dict[str, Detail] = {
            **self._pair_details(t),
            "worst_pair": t.key(worst),
            "worst_value": float(sim[worst]),
        }
        return self.result(value, reason, items=self._shown(items), details=details, ci=ci, replicates=reps)


@METRICS.register("mutual_information_difference")
class MutualInformationDifference(_PairMetric):
    """How much the dependence between columns changed: the mean difference of normalised mutual information.

    Per pair, ``|NMI_real − NMI_syn|`` with ``NMI = MI / ((H_a + H_b) / 2)`` on the shared codes
    (scikit-learn's ``normalized_mutual_info_score``): 0 for independent columns, 1 when one
    column determines the other. Unlike a correlation it measures any dependence, between
    categories too. A generator that makes columns independent scores the real NMI itself. The
    value is the mean over pairs (a seeded sample of ``max_pairs`` pairs for wide tables).
    """

    name = "mutual_information_difference"
    title = "Normalised mutual information difference of column pairs (mean)"
    direction = Direction.MINIMIZE
    ideal = 0.0
    unit = "NMI"
    default_threshold = Threshold(warn=0.05, fail=0.1)

    def _measure(self, inputs: EvalInputs) -> MetricResult:
        t = pair_tables(inputs, bins=self.bins, max_pairs=self.max_pairs, bootstrap_records=self.bootstrap_records)
        diff = np.abs(t.nmi_real - t.nmi_synthetic)
        items = [
            self.column_item(
                t.key(p), float(diff[p]), nmi_real=float(t.nmi_real[p]), nmi_synthetic=float(t.nmi_synthetic[p])
            )
            for p in range(len(t.pairs))
        ]
        value = float(diff.mean())
        ci, reps = centred(value, t.nmi_replicates, scale=t.scale, low=0.0, high=1.0)
        worst = int(np.argmax(diff))
        reason = f"mean |ΔNMI| {value:.3f} over {len(t.pairs)} pair(s); worst {t.key(worst)} ({diff[worst]:.3f})"
        details: dict[str, Detail] = {
            **self._pair_details(t),
            "worst_pair": t.key(worst),
            "worst_value": float(diff[worst]),
            "normalisation": "arithmetic mean of the entropies (scikit-learn default)",
        }
        return self.result(value, reason, items=self._shown(items), details=details, ci=ci, replicates=reps)


@METRICS.register("correlation_difference")
class CorrelationDifference(_PairMetric):
    """How much the linear relations between number columns changed: the mean absolute correlation difference.

    Per pair of number/date columns, ``|ρ_real − ρ_syn|`` with Pearson's ρ (``method="spearman"``
    for rank correlation) on the rows where both values are present, as SDMetrics'
    CorrelationSimilarity does (its score is ``1 − |Δ| / 2``, given per pair). A pair whose real
    correlation is undefined (a constant column) is left out and counted; a synthetic
    correlation that is undefined while the real one is not counts as 0, so a synthetic column
    collapsed to one value is penalised. The value is the mean over pairs.
    """

    name = "correlation_difference"
    title = "Correlation difference of number-column pairs (mean)"
    direction = Direction.MINIMIZE
    ideal = 0.0
    unit = "|Δρ|"
    default_threshold = Threshold(warn=0.1, fail=0.2)

    def __init__(
        self,
        *,
        threshold: Threshold | None = None,
        method: Literal["pearson", "spearman"] = "pearson",
        max_pairs: int | None = MAX_PAIRS,
        bootstrap_records: int = PAIR_BOOTSTRAP_RECORDS,
    ) -> None:
        super().__init__(threshold=threshold, max_pairs=max_pairs, bootstrap_records=bootstrap_records)
        self.method = method

    def why_not(self, inputs: EvalInputs) -> str | None:
        why = super().why_not(inputs)
        if why is None and len(numeric_fields(inputs)) < 2:
            return "fewer than two number or date columns: no correlation to compare"
        return why

    def _matrix(self, inputs: EvalInputs, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        def compute() -> tuple[np.ndarray, np.ndarray]:
            xr = np.column_stack([column_numbers(inputs, "real", n) for n in names])
            xs = np.column_stack([column_numbers(inputs, "synthetic", n) for n in names])
            if self.method == "spearman":
                return _ranks(xr), _ranks(xs)
            return xr, xs

        return inputs.memo(("tabular-correlation-matrix", self.method, tuple(names)), compute)

    def _measure(self, inputs: EvalInputs) -> MetricResult:
        names = [f.name for f in numeric_fields(inputs)]
        pairs, total = select_pairs(names, self.max_pairs, inputs.rng("tabular-correlation-pairs"))
        xr, xs = self._matrix(inputs, names)
        cr, cs = pairwise_correlation(xr), pairwise_correlation(xs)
        ia = np.array([a for a, _ in pairs])
        ib = np.array([b for _, b in pairs])
        real, syn = cr[ia, ib], cs[ia, ib]
        defined = np.isfinite(real)
        syn_undefined = defined & ~np.isfinite(syn)
        syn = np.where(syn_undefined, 0.0, syn)
        diff = np.abs(real - syn)
        items = [
            self.column_item(
                f"{names[ia[p]]} ~ {names[ib[p]]}",
                float(diff[p]),
                "synthetic correlation undefined (a constant column): taken as 0" if syn_undefined[p] else "",
                real=float(real[p]),
                synthetic=float(syn[p]),
                correlation_similarity=float(1 - diff[p] / 2),
            )
            for p in np.flatnonzero(defined)
        ]
        if not items:
            return self.skipped("no pair has a defined real correlation (constant columns)")
        value = float(diff[defined].mean())
        reps = self._replicates(inputs, names, ia[defined], ib[defined])
        n_real, n_syn = len(inputs.frame("real")), len(inputs.frame("synthetic"))
        wr = replicate_weights(inputs, "real", self.bootstrap_records)
        ws = replicate_weights(inputs, "synthetic", self.bootstrap_records)
        scale = math.sqrt((1 / n_real + 1 / n_syn) / (1 / len(wr.positions) + 1 / len(ws.positions)))
        ci, replicates = centred(value, reps, scale=scale, low=0.0, high=2.0)
        worst = max(items, key=lambda i: i.value)
        details: dict[str, Detail] = {
            "coefficient": self.method,
            "pairs_measured": len(items),
            "pairs_total": total,
            "pairs_sampled": len(pairs) < total,
            "pairs_undefined_in_real": int((~defined).sum()),
            "pairs_undefined_in_synthetic": int(syn_undefined.sum()),
            "correlation_similarity": float(1 - value / 2),
            "worst_pair": worst.key,
            "worst_value": worst.value,
            "bootstrap_records": max(len(wr.positions), len(ws.positions)),
            "items_shown": min(len(items), MAX_ITEMS),
        }
        reason = (
            f"mean |Δρ| ({self.method}) {value:.3f} over {len(items)} pair(s); worst {worst.key} ({worst.value:.3f})"
        )
        return self.result(value, reason, items=self._shown(items), details=details, ci=ci, replicates=replicates)

    def _replicates(self, inputs: EvalInputs, names: list[str], ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
        wr = replicate_weights(inputs, "real", self.bootstrap_records)
        ws = replicate_weights(inputs, "synthetic", self.bootstrap_records)
        xr, xs = self._matrix(inputs, names)
        real = replicate_correlations(xr[wr.positions], wr.weights, ia, ib)
        syn = replicate_correlations(xs[ws.positions], ws.weights, ia, ib)
        syn = np.where(np.isfinite(syn), syn, 0.0)
        diff = np.abs(real - syn)
        defined = np.isfinite(diff)
        with np.errstate(invalid="ignore", divide="ignore"):
            out: np.ndarray = np.where(defined, diff, 0.0).sum(axis=1) / defined.sum(axis=1)
        return out
