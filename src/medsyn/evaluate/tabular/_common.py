"""What the tabular fidelity and diversity metrics share: a base class, samples, bootstrap weights, columns.

- :class:`TabularMetric` — tabular, one evaluation's result memoised per metric and parameters
  (so a per-group metric can read the overall value without measuring it twice), and a check
  that there is something to compare.
- Large inputs are *sampled, never truncated*: a metric that works on at most ``m`` records per
  side uses the seeded sample of :func:`sample_positions`, the same for every metric of the
  evaluation asking for the same ``m``, and says so in its details.
- Confidence intervals use the evaluation's shared bootstrap resamples
  (:meth:`EvalInputs.resample`): :func:`replicate_weights` counts how often replicate ``b`` drew
  each sampled record, so a replicate is a weighted recomputation on the same records that
  replicate ``b`` of every other metric resamples. :func:`centred` turns the replicates of a
  distance into a confidence interval around the estimate (see there why).
- Replicates are computed for all replicates at once, never in a loop over them:
  :func:`replicate_counts` counts codes of many columns under every replicate's weights in one
  matrix product (weights are whole multiplicities, so the counts are exact).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Callable, Sequence
from typing import ClassVar

import numpy as np

from medsyn.data.dataset import Modality
from medsyn.data.schema import Field
from medsyn.evaluate._base import EvalMetric
from medsyn.evaluate._encode import ColumnCodes, is_numeric_field, numeric_values
from medsyn.evaluate._inputs import EvalInputs, Side, percentile_ci
from medsyn.evaluate._parallel import cores_for, one_blas_thread, split_over_cores
from medsyn.metric import Detail, Direction, ItemResult, MetricResult, Status

__all__ = [
    "DEFAULT_BINS",
    "BootstrapWeights",
    "TabularMetric",
    "category_fields",
    "centred",
    "column_numbers",
    "loop_workers",
    "numeric_fields",
    "one_blas_thread",
    "replicate_counts",
    "replicate_weights",
    "sample_positions",
    "select_pairs",
    "shared_codes",
    "skipped_item",
    "weighted_counts",
    "weighted_replicates",
    "worst_item",
]

#: Bins of a number column in the per-column metrics (and the cache key of category codes).
DEFAULT_BINS = 20
_SIDE_INDEX: dict[Side, int] = {"real": 0, "synthetic": 1, "holdout": 2}
#: Replicates × records up to which every record's multiplicities are counted once per side (one
#: byte each: 32 MB), so that every sample size a metric asks for slices the same counts.
_FULL_COUNTS_CELLS = 32_000_000
#: Whole numbers up to this are exact in single precision (each replicate draws ``n`` records).
_EXACT_SINGLE = 2**24
#: One-hot entries (records × columns) of one sparse product in :func:`replicate_counts`: a group
#: of columns at most this large is counted at once (16 MB of values and indices).
_ONEHOT_ENTRIES = 2_097_152


class TabularMetric(EvalMetric):
    """Base of the tabular fidelity and diversity metrics.

    Subclasses implement :meth:`_measure`; :meth:`_evaluate` memoises its result per evaluation,
    metric parameters and threshold, so the per-group metrics and the scorecard share one run.
    """

    modality = Modality.TABULAR
    #: The fewest records each side must hold.
    min_records: ClassVar[int] = 2

    def why_not(self, inputs: EvalInputs) -> str | None:
        why = super().why_not(inputs)
        if why is not None:
            return why
        if not inputs.feature_fields():
            return "no column to compare: every column is an identifier or free text"
        short = [
            f"{side} has {len(inputs.frame(side))}"
            for side in ("real", "synthetic")
            if len(inputs.frame(side)) < self.min_records
        ]
        if short:
            return f"needs at least {self.min_records} records per side ({', '.join(short)})"
        return None

    def parameters(self) -> tuple[tuple[str, object], ...]:
        """The instance's parameters (everything set in ``__init__``), for memo keys and details."""
        return tuple(sorted((k, v) for k, v in vars(self).items() if k != "threshold"))

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        key = ("tabular-result", self.name, self.parameters(), self.threshold)
        return inputs.memo(key, lambda: self._measure(inputs))

    @abstractmethod
    def _measure(self, inputs: EvalInputs) -> MetricResult:
        """The measurement itself (inputs validated, needs met)."""

    def column_item(self, key: str, value: float, note: str = "", **details: Detail) -> ItemResult:
        """One column's (or pair's) finding, judged with the metric's threshold."""
        return ItemResult("column" if " ~ " not in key else "pair", key, value, self.judge(value), note, details)


def numeric_fields(inputs: EvalInputs) -> list[Field]:
    """Feature columns compared as numbers (numbers, integers, dates)."""
    return [f for f in inputs.feature_fields() if is_numeric_field(f)]


def category_fields(inputs: EvalInputs) -> list[Field]:
    """Feature columns compared as categories (categories, booleans)."""
    return [f for f in inputs.feature_fields() if not is_numeric_field(f)]


def shared_codes(inputs: EvalInputs, f: Field, bins: int) -> ColumnCodes:
    """The evaluation's codes of a column; ``bins`` only matters for numbers (categories are cached once)."""
    return inputs.codes(f.name, bins=bins if is_numeric_field(f) else DEFAULT_BINS)


def loop_workers(inputs: EvalInputs) -> int:
    """Threads for a loop over the columns, pairs or replicates of the real and synthetic tables."""
    return cores_for(max(len(inputs.frame("real")), len(inputs.frame("synthetic"))))


def column_numbers(inputs: EvalInputs, side: Side, name: str) -> np.ndarray:
    """A column of one side as float64 (dates as days; missing as NaN), converted once per evaluation."""
    return inputs.memo(("tabular-numbers", side, name), lambda: numeric_values(inputs.frame(side)[name]))


def sample_positions(inputs: EvalInputs, side: Side, cap: int | None) -> np.ndarray:
    """Sorted positions of a seeded sample of at most ``cap`` records of ``side`` (all when fewer).

    The same ``(side, cap)`` gives the same sample for every metric of the evaluation.
    """
    n = len(inputs.frame(side))
    if cap is None or n <= cap:
        return np.arange(n)

    def draw() -> np.ndarray:
        rng = np.random.default_rng([inputs.seed, 4201, _SIDE_INDEX[side], cap])
        return np.sort(rng.choice(n, size=cap, replace=False))

    return inputs.memo(("tabular-sample", side, cap), draw)


class BootstrapWeights:
    """How often each replicate of the shared bootstrap drew each sampled record of one side.

    ``weights[b, i]`` counts record ``positions[i]`` in replicate ``b``'s resample. ``scale`` is
    ``√(m / n)`` for a sample of ``m`` of ``n`` records (1 when every record is used): the spread
    of a statistic computed on the sample, times ``scale``, estimates its spread on all records.
    ``single`` is ``weights`` in single precision when that is exact for sums of them (whole
    multiplicities, each replicate drawing fewer than 2²⁴ records), for faster matrix products.
    Both are made from the integer counts when first read (a metric reading only one does not
    pay for the other). The arrays are shared by the metrics of an evaluation: read only.
    """

    __slots__ = ("_counts", "_single", "_weights", "exact_single", "positions", "scale")

    def __init__(self, positions: np.ndarray, counts: np.ndarray, scale: float, *, exact_single: bool) -> None:
        self.positions = positions
        self.scale = scale
        self.exact_single = exact_single
        self._counts = counts
        self._weights: np.ndarray | None = None
        self._single: np.ndarray | None = None

    @property
    def replicates(self) -> int:
        return int(self._counts.shape[0])

    @property
    def weights(self) -> np.ndarray:
        if self._weights is None:
            self._weights = _read_only(self._counts.astype(np.float64))
        return self._weights

    @property
    def single(self) -> np.ndarray | None:
        if self._single is None and self.exact_single:
            # column-major: its transpose (records × replicates), which sparse products take, is free
            self._single = _read_only(np.asfortranarray(self._counts, dtype=np.float32))
        return self._single


def _read_only(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def replicate_weights(inputs: EvalInputs, side: Side, cap: int | None) -> BootstrapWeights:
    """The bootstrap multiplicities of the records :func:`sample_positions` picks (memoised).

    The multiplicities of every record are counted once per side when that matrix is small, and
    each cap's sample takes its columns (so two caps do not draw the resamples twice).
    """

    def compute() -> BootstrapWeights:
        positions = sample_positions(inputs, side, cap)
        n = len(inputs.frame(side))
        if inputs.n_bootstrap * n <= _FULL_COUNTS_CELLS:
            full = _record_counts(inputs, side)
            counts = full if len(positions) == n else full[:, positions]
        else:
            where = np.full(n, -1, dtype=np.int64)
            where[positions] = np.arange(len(positions))
            counts = np.zeros((inputs.n_bootstrap, len(positions)), dtype=np.float64)
            for b in range(inputs.n_bootstrap):
                drawn = where[inputs.resample(side, b)]
                counts[b] = np.bincount(drawn[drawn >= 0], minlength=len(positions))
        return BootstrapWeights(positions, counts, math.sqrt(len(positions) / n), exact_single=n < _EXACT_SINGLE)

    return inputs.memo(("tabular-boot-weights", side, cap), compute)


def _record_counts(inputs: EvalInputs, side: Side) -> np.ndarray:
    """``out[b, i]``: how often replicate ``b`` drew record ``i`` of ``side`` (every record; memoised).

    Drawn once per side, whatever the caps asking, and kept in one byte per count (a record drawn
    more than 255 times in one replicate, which needs n > 255 and luck beyond e⁻¹⁰⁰⁰, widens it).
    """

    def compute() -> np.ndarray:
        n = len(inputs.frame(side))
        counts = np.empty((inputs.n_bootstrap, n), dtype=np.uint8)
        overflow: list[int] = []

        def draw(b: int) -> np.ndarray:
            # bincount converts an int32 array slowly: widened first, drawing and counting at 50k
            # records take 0.06 s per side instead of 0.10 s
            return np.bincount(inputs.resample(side, b).astype(np.intp, copy=False), minlength=n)

        def fill(replicates: range) -> None:
            for b in replicates:
                drawn = draw(b)
                if drawn.max(initial=0) > np.iinfo(counts.dtype).max:
                    overflow.append(b)
                else:
                    counts[b] = drawn

        # replicates are seeded one by one: any split draws the same
        split_over_cores(fill, inputs.n_bootstrap, per_thread=8, workers=cores_for(n))
        if overflow:
            counts = counts.astype(np.uint32)
            for b in overflow:
                counts[b] = draw(b)
        counts.flags.writeable = False  # shared by every metric (and cap) of the evaluation
        return counts

    return inputs.memo(("tabular-boot-record-counts", side), compute)


def weighted_counts(codes: np.ndarray, weights: np.ndarray, n_codes: int) -> np.ndarray:
    """Weighted code counts, one row per weight row: ``out[b, c] = Σ_i weights[b, i]·[codes[i] = c]``."""
    rows = weights.shape[0]
    offsets = (np.arange(rows) * n_codes)[:, None] + codes[None, :]
    counts: np.ndarray = np.bincount(offsets.ravel(), weights=weights.ravel(), minlength=rows * n_codes)
    return counts.reshape(rows, n_codes)


def replicate_counts(
    codes: Sequence[np.ndarray], sizes: Sequence[int], weights: BootstrapWeights | np.ndarray
) -> list[np.ndarray]:
    """Weighted code counts of many code columns at once: ``out[j][b, c] = Σ_i weights[b, i]·[codes[j][i] = c]``.

    ``codes[j]`` holds one code per weight column; a code outside ``0 .. sizes[j] − 1`` (e.g.
    ``sizes[j]`` for a record left out) is not counted. Every replicate of every column comes
    from one sparse product per group of columns: the records' one-hot rows, which hold exactly
    one entry per column (an uncounted code points at a spare code that is dropped), are a CSR
    matrix built without sorting, and its transpose times the weights counts every code under
    every replicate (work in proportion to records × columns × replicates, whatever the number
    of codes). Whole multiplicities summing to less than 2²⁴ per replicate are added exactly in
    single precision, so the counts equal a ``bincount`` per replicate to the last bit.
    ``weights`` is the shared :class:`BootstrapWeights` (its single-precision copy is used) or
    any matrix.
    """
    import scipy.sparse as sp

    if isinstance(weights, BootstrapWeights):
        wd = weights.single if weights.single is not None else weights.weights
    else:
        w = np.asarray(weights, dtype=np.float64)
        exact = bool(w.sum(axis=1).max(initial=0.0) < _EXACT_SINGLE) and bool(np.array_equal(w, np.rint(w)))
        wd = w.astype(np.float32) if exact else w
    n_rows, n_records = wd.shape
    out: list[np.ndarray] = [np.zeros((n_rows, 0))] * len(sizes)
    counted = [j for j, k in enumerate(sizes) if k > 0]
    per_group = max(1, _ONEHOT_ENTRIES // max(n_records, 1))
    weights_t = np.ascontiguousarray(wd.T)  # records × replicates (free for the column-major shared copy)
    for start in range(0, len(counted), per_group):
        group = counted[start : start + per_group]
        offsets = np.cumsum([0] + [sizes[j] for j in group])
        spare = int(offsets[-1])
        index = np.int32 if max(spare, n_records * len(group)) < 2**31 else np.int64
        at = np.empty((n_records, len(group)), dtype=index)  # each record's one-hot column per column
        for k, (j, lo) in enumerate(zip(group, offsets[:-1], strict=True)):
            c = np.asarray(codes[j], dtype=np.int64)
            at[:, k] = np.where((c >= 0) & (c < sizes[j]), lo + c, spare)
        onehot = sp.csr_matrix(
            (np.ones(at.size, dtype=wd.dtype), at.ravel(), np.arange(0, at.size + 1, len(group), dtype=index)),
            shape=(n_records, spare + 1),
        )
        counts = np.ascontiguousarray(np.asarray(onehot.T @ weights_t)[:spare].T, dtype=np.float64)
        for j, lo, hi in zip(group, offsets[:-1], offsets[1:], strict=True):
            out[j] = counts[:, lo:hi]
    return out


def weighted_replicates(terms: np.ndarray, weights: BootstrapWeights) -> np.ndarray:
    """Replicates of ``terms.mean()`` (one term per sampled record) under the shared resamples."""
    totals = weights.weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"), one_blas_thread():
        reps: np.ndarray = weights.weights @ np.asarray(terms, dtype=np.float64) / totals
    return reps


def centred(
    value: float, replicates: np.ndarray, *, scale: float = 1.0, low: float = 0.0, high: float = math.inf
) -> tuple[tuple[float, float], tuple[float, ...]]:
    """Replicates recentred on ``value`` (and scaled), clipped to ``[low, high]``, with their CI.

    A distance between two samples is biased upward, and its bootstrap replicates more so
    (resampling adds noise of its own), so raw percentile intervals of a distance near 0 can miss
    the estimate altogether. The basic-bootstrap fix keeps the replicates' spread and moves their
    centre to the estimate: ``value + scale · (rep_b − mean(rep))``, where ``scale = √(m/n)``
    when the replicates were computed on a sample of ``m`` of ``n`` records.
    """
    reps = np.asarray(replicates, dtype=np.float64)
    finite = np.isfinite(reps)
    if not finite.any() or math.isnan(value):
        return (math.nan, math.nan), ()
    shifted = value + scale * (reps - reps[finite].mean())
    shifted = np.clip(np.where(finite, shifted, value), low, high)
    return percentile_ci(shifted), tuple(float(v) for v in shifted)


def select_pairs(
    names: Sequence[str], max_pairs: int | None, rng: np.random.Generator
) -> tuple[list[tuple[int, int]], int]:
    """All column pairs ``(i, j)``, ``i < j``, or a seeded sample of ``max_pairs``; and the total."""
    p = len(names)
    total = p * (p - 1) // 2
    iu, ju = np.triu_indices(p, k=1)
    if max_pairs is not None and total > max_pairs:
        keep = np.sort(rng.choice(total, size=max_pairs, replace=False))
        iu, ju = iu[keep], ju[keep]
    return [(int(i), int(j)) for i, j in zip(iu, ju, strict=True)], total


def worst_item(items: Sequence[ItemResult], direction: Direction) -> ItemResult | None:
    """The item furthest from ideal in ``direction`` (NaN values ignored)."""
    finite = [i for i in items if not math.isnan(i.value)]
    if not finite:
        return None
    pick: Callable[..., ItemResult] = max if direction is Direction.MINIMIZE else min
    return pick(finite, key=lambda i: i.value)


def skipped_item(key: str, why: str) -> ItemResult:
    """A column or group that could not be measured, with the reason."""
    return ItemResult("column", key, math.nan, Status.SKIPPED, why)
