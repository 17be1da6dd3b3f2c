"""Per-column fidelity: KS, total variation, Wasserstein and Jensen–Shannon, one item per column.

Each metric compares the real and synthetic distribution of every feature column on its own and
reports one :class:`~medsyn.metric.ItemResult` per column; the metric's value is the **mean**
over the measured columns (the worst column is named in the details and flagged by its item
status). The definitions follow scipy and SDMetrics exactly, so a benchmark can check equality:

- ``ks_statistic`` = ``scipy.stats.ks_2samp(real, syn).statistic`` on the observed values of a
  number or date column; SDMetrics' ``KSComplement`` is ``1 − ks_statistic``;
- ``total_variation`` = ``½ Σ |p_real − p_syn|`` over the observed categories (numbers through
  the shared bins); SDMetrics' ``TVComplement`` is ``1 − total_variation``;
- ``wasserstein`` = ``scipy.stats.wasserstein_distance`` on values scaled to the real range;
- ``jensen_shannon`` = ``scipy.spatial.distance.jensenshannon(p_real, p_syn, base=2)`` over all
  shared codes, *including* missing values as their own code.

Missing values are never dropped silently: KS, total variation and Wasserstein compare the
observed values (as scipy and SDMetrics do) and report each column's missing shares beside the
value, and Jensen–Shannon counts "missing" as a value of the column, so a generator that invents
or loses missing values moves it.

Confidence intervals come from the evaluation's shared bootstrap resamples, recomputed on at
most ``bootstrap_records`` sampled records per side and recentred on the estimate
(:func:`~medsyn.evaluate.tabular._common.centred`). Replicates are counts: every column's
sampled records are coded (a category or bin; for KS and Wasserstein the rank of the value among
the distinct values), and matrix products per side count the codes of every column under every
replicate's multiplicities (:func:`~medsyn.evaluate.tabular._common.replicate_counts`); a
replicate distance is then the distance of its two count vectors, so no loop runs over
replicates. KS itself is computed from the same counts at the distinct values, which gives
``ks_statistic_1d`` to the last bit.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from medsyn.data.schema import Field
from medsyn.evaluate._encode import ColumnCodes, distinct_ranks, is_numeric_field
from medsyn.evaluate._inputs import EvalInputs, Side
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
    shared_codes,
    skipped_item,
    worst_item,
)
from medsyn.metric import METRICS, Detail, Direction, ItemResult, MetricKind, MetricResult, Threshold

__all__ = [
    "BOOTSTRAP_RECORDS",
    "JensenShannon",
    "KsStatistic",
    "TotalVariation",
    "Wasserstein",
    "jensen_shannon_distance",
    "ks_statistic_1d",
    "total_variation_distance",
    "wasserstein_1d",
]

#: Records per side on which bootstrap replicates of the per-column metrics are recomputed.
BOOTSTRAP_RECORDS = 20_000
#: Codes (distinct values, categories) whose replicate counts are computed together at most:
#: 100 replicates × 2¹⁶ codes is 52 MB per side.
_GROUP_CODES = 65_536


# -- the distances themselves -----------------------------------------------------------------
def ks_statistic_1d(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov–Smirnov statistic ``sup_x |F_a(x) − F_b(x)|`` (as ``scipy.stats.ks_2samp``).

    Examples
    --------
    >>> ks_statistic_1d(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    0.0
    """
    a, b = np.sort(a), np.sort(b)
    pooled = np.concatenate([a, b])
    fa = np.searchsorted(a, pooled, side="right") / len(a)
    fb = np.searchsorted(b, pooled, side="right") / len(b)
    return float(np.max(np.abs(fa - fb)))


def wasserstein_1d(a: np.ndarray, b: np.ndarray) -> float:
    """First Wasserstein distance ``∫ |F_a − F_b| dx`` (as ``scipy.stats.wasserstein_distance``).

    Equal to the mean absolute difference of the two quantile functions; exact, O(n log n).

    Examples
    --------
    >>> wasserstein_1d(np.array([0.0, 1.0]), np.array([0.5, 1.5]))
    0.5
    """
    a, b = np.sort(a), np.sort(b)
    pooled = np.sort(np.concatenate([a, b]))
    gaps = np.diff(pooled)
    fa = np.searchsorted(a, pooled[:-1], side="right") / len(a)
    fb = np.searchsorted(b, pooled[:-1], side="right") / len(b)
    return float(np.sum(np.abs(fa - fb) * gaps))


def total_variation_distance(p: np.ndarray, q: np.ndarray) -> float:
    """``½ Σ |p − q|`` of two count (or frequency) vectors over the same codes, each normalised."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    return float(0.5 * np.abs(p / p.sum() - q / q.sum()).sum())


def jensen_shannon_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen–Shannon distance in bits (as ``scipy.spatial.distance.jensenshannon(p, q, base=2)``).

    The square root of the mean Kullback–Leibler divergence of ``p`` and ``q`` from their
    average; 0 for equal distributions, 1 for disjoint ones.
    """
    return float(_js_rows(np.asarray(p, dtype=np.float64)[None, :], np.asarray(q, dtype=np.float64)[None, :])[0])


def _js_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen–Shannon distance (base 2) of each row pair of two count matrices."""
    with np.errstate(invalid="ignore", divide="ignore"):
        p = p / p.sum(axis=1, keepdims=True)
        q = q / q.sum(axis=1, keepdims=True)
        m = (p + q) / 2
        left = np.where(p > 0, p * np.log2(p / np.where(m > 0, m, 1)), 0.0)
        right = np.where(q > 0, q * np.log2(q / np.where(m > 0, m, 1)), 0.0)
    js: np.ndarray = np.sqrt(np.maximum((left.sum(axis=1) + right.sum(axis=1)) / 2, 0.0))
    return js


def _tv_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        tv: np.ndarray = 0.5 * np.abs(p / p.sum(axis=1, keepdims=True) - q / q.sum(axis=1, keepdims=True)).sum(axis=1)
    return tv


def _ecdf_replicates(counts_r: np.ndarray, counts_s: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """KS and Wasserstein statistics of weighted samples, one per row of the count matrices.

    ``counts_r[b, u]`` and ``counts_s[b, u]`` weigh the distinct sorted values ``grid[u]`` on
    each side (bootstrap multiplicities summed per value). The weighted ECDFs are cumulative
    sums over the grid; KS is the largest gap between them, Wasserstein its integral.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        step = counts_r / counts_r.sum(axis=1, keepdims=True)
        step -= counts_s / counts_s.sum(axis=1, keepdims=True)
    gap = np.abs(np.cumsum(step, axis=1))
    ks = gap.max(axis=1)
    with one_blas_thread():
        w1 = gap[:, :-1] @ np.diff(grid) if len(grid) > 1 else np.zeros(len(gap))
    return ks, w1


# -- the per-column metric pattern ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Replicable:
    """What a column's replicates are computed from: codes of the sampled records of each side.

    A code at or beyond ``n_codes`` marks a record that is not counted (a missing value).
    ``finish`` turns the replicate counts of both sides (replicates × codes) into the column's
    replicate distances.
    """

    codes_real: np.ndarray
    codes_synthetic: np.ndarray
    n_codes: int
    finish: Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True, slots=True)
class _ColumnValue:
    value: float
    replicable: _Replicable | None = None
    note: str = ""
    details: dict[str, Detail] = field(default_factory=dict)


def _combined_scale(wr: BootstrapWeights, ws: BootstrapWeights, nr: int, ns: int) -> float:
    """√(var on all records / var on the samples) when each side's records vary alike."""
    return math.sqrt((1 / nr + 1 / ns) / (1 / len(wr.positions) + 1 / len(ws.positions)))


class _PerColumn(TabularMetric):
    """A metric measured column by column; the value is the mean over measured columns."""

    kind = MetricKind.FIDELITY
    direction = Direction.MINIMIZE
    ideal = 0.0
    unit = "distance"
    #: What the value is, in the result's reason (e.g. "mean KS statistic").
    what: str = ""

    def __init__(
        self, *, threshold: Threshold | None = None, bins: int = 20, bootstrap_records: int = BOOTSTRAP_RECORDS
    ) -> None:
        super().__init__(threshold=threshold)
        self.bins = bins
        self.bootstrap_records = bootstrap_records

    def fields(self, inputs: EvalInputs) -> list[Field]:
        return inputs.feature_fields()

    def why_not(self, inputs: EvalInputs) -> str | None:
        why = super().why_not(inputs)
        if why is None and not self.fields(inputs):
            return "no column of the kind this metric compares"
        return why

    @abstractmethod
    def _column(self, inputs: EvalInputs, f: Field, wr: BootstrapWeights, ws: BootstrapWeights) -> _ColumnValue:
        """One column's value (NaN with a note when it cannot be measured) and its replicates."""

    def _measure(self, inputs: EvalInputs) -> MetricResult:
        wr = replicate_weights(inputs, "real", self.bootstrap_records)
        ws = replicate_weights(inputs, "synthetic", self.bootstrap_records)
        items: list[ItemResult] = []
        values: list[float] = []
        replicable: list[_Replicable | None] = []
        fields = self.fields(inputs)
        columns = map_over_cores(  # columns are independent: each core measures a run of them
            lambda i: self._column(inputs, fields[i], wr, ws), len(fields), workers=loop_workers(inputs)
        )
        for f, col in zip(fields, columns, strict=True):
            if math.isnan(col.value):
                items.append(skipped_item(f.name, col.note))
                continue
            items.append(self.column_item(f.name, col.value, col.note, **col.details))
            values.append(col.value)
            replicable.append(col.replicable)
        reps = _column_replicates(values, replicable, wr, ws)
        if not values:
            return self.skipped("no column could be measured: " + "; ".join(f"{i.key}: {i.note}" for i in items))
        value = float(np.mean(values))
        n_real, n_syn = len(inputs.frame("real")), len(inputs.frame("synthetic"))
        ci, replicates = centred(
            value, reps.mean(axis=0), scale=_combined_scale(wr, ws, n_real, n_syn), low=0.0, high=1.0
        )
        worst = worst_item(items, self.direction)
        assert worst is not None
        details: dict[str, Detail] = {
            "aggregate": "mean over columns",
            "columns_measured": len(values),
            "columns_skipped": len(items) - len(values),
            "worst_column": worst.key,
            "worst_value": worst.value,
            "bootstrap_records": max(len(wr.positions), len(ws.positions)),
            **self._extra_details(value),
        }
        reason = f"{self.what} {value:.3f} over {len(values)} column(s); worst {worst.key} ({worst.value:.3f})"
        return self.result(value, reason, items=items, details=details, ci=ci, replicates=replicates)

    def _extra_details(self, value: float) -> dict[str, Detail]:
        return {}


class _NumericColumn(_PerColumn):
    """Compares the observed values of number and date columns; missing shares reported beside."""

    def fields(self, inputs: EvalInputs) -> list[Field]:
        return numeric_fields(inputs)

    @abstractmethod
    def _distance(self, xr: np.ndarray, xs: np.ndarray, low: float, span: float, counts: np.ndarray) -> float:
        """The distance between the observed real and synthetic values.

        ``counts`` (2 × distinct values) counts each side's values at every distinct observed
        value of either side, in increasing order.
        """

    @abstractmethod
    def _pick(self, ks: np.ndarray, w1: np.ndarray) -> np.ndarray:
        """Which of the ECDF replicates this metric reports."""

    def _column(self, inputs: EvalInputs, f: Field, wr: BootstrapWeights, ws: BootstrapWeights) -> _ColumnValue:
        xr, xs = column_numbers(inputs, "real", f.name), column_numbers(inputs, "synthetic", f.name)
        okr, oks = np.isfinite(xr), np.isfinite(xs)
        if not okr.any():
            return _ColumnValue(math.nan, note="the real column has no values")
        missing_r, missing_s = float(1 - okr.mean()), float(1 - oks.mean())
        details: dict[str, Detail] = {"missing_real": missing_r, "missing_synthetic": missing_s}
        note = (
            f"missing values compared separately: real {missing_r:.1%}, synthetic {missing_s:.1%}"
            if abs(missing_r - missing_s) >= 0.005
            else ""
        )
        if not oks.any():
            return _ColumnValue(
                1.0, None, "no synthetic values (all missing): counted as the largest difference, 1", details
            )
        vr, vs = xr[okr], xs[oks]
        low = float(vr.min())
        span = float(vr.max()) - low
        span = span if span > 0 else 1.0
        # every observed value's rank among the distinct values of both sides: the grid of the
        # ECDFs, for the value and (through each sampled record's rank) for every replicate
        grid, rank = distinct_ranks(np.concatenate([vr, vs]))
        code_r = np.full(len(xr), len(grid), dtype=np.int64)
        code_s = np.full(len(xs), len(grid), dtype=np.int64)
        code_r[okr], code_s[oks] = rank[: len(vr)], rank[len(vr) :]
        counts = np.vstack([np.bincount(c, minlength=len(grid) + 1)[:-1] for c in (code_r, code_s)])
        value = self._distance(vr, vs, low, span, counts)
        code_r, code_s = code_r[wr.positions], code_s[ws.positions]
        if not ((code_r < len(grid)).any() and (code_s < len(grid)).any()):
            return _ColumnValue(value, None, note, details)
        seen = np.zeros(len(grid) + 1, dtype=bool)
        seen[code_r] = seen[code_s] = True
        if not seen[:-1].all():  # a sample of the records: its replicates need only the values it holds
            kept = np.flatnonzero(seen[:-1])
            renumber = np.full(len(grid) + 1, len(kept), dtype=np.int64)
            renumber[kept] = np.arange(len(kept))
            code_r, code_s, grid = renumber[code_r], renumber[code_s], grid[kept]
        scaled = (grid - low) / span

        def finish(counts_r: np.ndarray, counts_s: np.ndarray) -> np.ndarray:
            return self._pick(*_ecdf_replicates(counts_r, counts_s, scaled))

        return _ColumnValue(value, _Replicable(code_r, code_s, len(grid), finish), note, details)


class _CodedColumn(_PerColumn):
    """Compares shared codes (categories; numbers binned at real quantiles)."""

    #: Whether missing values count as a code (else they are dropped and reported beside).
    missing_as_code: bool = True

    @abstractmethod
    def _rows(self, p: np.ndarray, q: np.ndarray) -> np.ndarray:
        """The distance of each row pair of two count matrices."""

    def _column(self, inputs: EvalInputs, f: Field, wr: BootstrapWeights, ws: BootstrapWeights) -> _ColumnValue:
        codes: ColumnCodes = shared_codes(inputs, f, self.bins)
        n_codes = len(codes.labels)
        cr, cs = codes.codes[0], codes.codes[1]
        miss_r, miss_s = _missing(inputs, "real", f), _missing(inputs, "synthetic", f)
        missing_r, missing_s = float(miss_r.mean()), float(miss_s.mean())
        details: dict[str, Detail] = {
            "codes": n_codes,
            "binned": codes.binned,
            "missing_real": missing_r,
            "missing_synthetic": missing_s,
        }
        note = f"numbers binned at up to {self.bins} real quantiles" if is_numeric_field(f) else ""
        keep_r, keep_s = np.ones(len(cr), dtype=bool), np.ones(len(cs), dtype=bool)
        if not self.missing_as_code:
            keep_r, keep_s = ~miss_r, ~miss_s
            if abs(missing_r - missing_s) >= 0.005:
                note = (note + "; " if note else "") + (
                    f"missing values compared separately: real {missing_r:.1%}, synthetic {missing_s:.1%}"
                )
        if not keep_r.any():
            return _ColumnValue(math.nan, note="the real column has no values")
        if not keep_s.any():
            return _ColumnValue(
                1.0, None, "no synthetic values (all missing): counted as the largest difference, 1", details
            )
        counts_r = np.bincount(cr[keep_r], minlength=n_codes).astype(np.float64)
        counts_s = np.bincount(cs[keep_s], minlength=n_codes).astype(np.float64)
        value = float(self._rows(counts_r[None, :], counts_s[None, :])[0])
        code_r = np.where(keep_r[wr.positions], cr[wr.positions], n_codes)
        code_s = np.where(keep_s[ws.positions], cs[ws.positions], n_codes)
        return _ColumnValue(value, _Replicable(code_r, code_s, n_codes, self._rows), note, details)


def _column_replicates(
    values: list[float], replicable: list[_Replicable | None], wr: BootstrapWeights, ws: BootstrapWeights
) -> np.ndarray:
    """Replicates (columns × replicates) of every measured column, counted in one pass per side.

    A column without replicates (no sampled values on a side, or an all-missing synthetic
    column, counted as 1) repeats its value.
    """
    reps = np.repeat(np.asarray(values, dtype=np.float64)[:, None], wr.replicates, axis=1)
    todo = [(i, r) for i, r in enumerate(replicable) if r is not None]
    groups: list[list[tuple[int, _Replicable]]] = []
    codes = 0
    for item in todo:  # columns counted together, up to _GROUP_CODES codes (memory: replicates × codes)
        if not groups or codes + item[1].n_codes > _GROUP_CODES:
            groups.append([])
            codes = 0
        groups[-1].append(item)
        codes += item[1].n_codes
    for group in groups:
        sizes = [r.n_codes for _, r in group]
        counts_r = replicate_counts([r.codes_real for _, r in group], sizes, wr)
        counts_s = replicate_counts([r.codes_synthetic for _, r in group], sizes, ws)
        for (i, r), cr, cs in zip(group, counts_r, counts_s, strict=True):
            reps[i] = r.finish(cr, cs)
    return reps


def _missing(inputs: EvalInputs, side: Side, f: Field) -> np.ndarray:
    """Missing values of a column (numbers and dates: anything that is not a finite value)."""
    if is_numeric_field(f):
        out: np.ndarray = ~np.isfinite(column_numbers(inputs, side, f.name))
        return out
    return inputs.frame(side)[f.name].isna().to_numpy()


# -- the registered metrics -------------------------------------------------------------------
@METRICS.register("ks_statistic")
class KsStatistic(_NumericColumn):
    """How far each number/date column's distribution is from the real one: the mean Kolmogorov–Smirnov statistic.

    Per column, ``KS = sup_x |F_real(x) − F_syn(x)|`` over the observed values (exactly
    ``scipy.stats.ks_2samp(...).statistic``; SDMetrics' KSComplement is ``1 − KS``). It catches
    any shift, spread or shape change of a marginal, in the column's own units. Missing values
    are compared separately: each column's missing shares are reported beside its KS. A
    synthetic column with no values at all counts as KS = 1. The value is the mean over the
    number and date columns; the worst column is named.
    """

    name = "ks_statistic"
    title = "Kolmogorov–Smirnov statistic per column (mean)"
    default_threshold = Threshold(warn=0.1, fail=0.2)
    what = "mean KS statistic"

    def _distance(self, xr: np.ndarray, xs: np.ndarray, low: float, span: float, counts: np.ndarray) -> float:
        # = ks_statistic_1d(xr, xs) to the last bit: the same counts over the same sizes, maximised
        # over the distinct values instead of every value
        cdf = np.cumsum(counts, axis=1)
        return float(np.max(np.abs(cdf[0] / len(xr) - cdf[1] / len(xs))))

    def _pick(self, ks: np.ndarray, w1: np.ndarray) -> np.ndarray:
        return ks

    def _extra_details(self, value: float) -> dict[str, Detail]:
        return {"ks_complement": 1.0 - value}


@METRICS.register("wasserstein")
class Wasserstein(_NumericColumn):
    """How much mass must move to turn each real number column into the synthetic one: the mean Wasserstein distance.

    Per column, ``W1 = ∫ |F_real − F_syn| dx`` (the mean absolute difference of the quantile
    functions, exactly ``scipy.stats.wasserstein_distance``) on values scaled to the real range,
    ``(x − min_real) / (max_real − min_real)``, so columns in different units are comparable and
    0.1 means "a tenth of the real range". Unlike KS it grows with *how far* values moved. Missing
    values are compared separately (their shares beside each column); a synthetic column with no
    values counts as 1. The value is the mean over number and date columns.
    """

    name = "wasserstein"
    title = "Wasserstein distance per column, real-range scaled (mean)"
    default_threshold = Threshold(warn=0.05, fail=0.1)
    unit = "share of real range"
    what = "mean scaled Wasserstein distance"

    def _distance(self, xr: np.ndarray, xs: np.ndarray, low: float, span: float, counts: np.ndarray) -> float:
        return wasserstein_1d((xr - low) / span, (xs - low) / span)

    def _pick(self, ks: np.ndarray, w1: np.ndarray) -> np.ndarray:
        return w1


@METRICS.register("total_variation")
class TotalVariation(_CodedColumn):
    """How much probability mass differs per column: the mean total variation distance of the marginals.

    Per column, ``TV = ½ Σ_c |p_real(c) − p_syn(c)|`` over the column's categories (numbers over
    the shared bins at up to 20 real quantiles), on the observed values, exactly as SDMetrics'
    TVComplement (``1 − TV``) computes it; categories the real data never had count on the
    synthetic side. Missing values are compared separately (their shares beside each column). TV
    is the largest difference in probability that any set of values can show, from 0 to 1.
    """

    name = "total_variation"
    title = "Total variation distance per column (mean)"
    default_threshold = Threshold(warn=0.1, fail=0.2)
    what = "mean total variation distance"
    missing_as_code = False

    def _rows(self, p: np.ndarray, q: np.ndarray) -> np.ndarray:
        return _tv_rows(p, q)

    def _extra_details(self, value: float) -> dict[str, Detail]:
        return {"tv_complement": 1.0 - value}


@METRICS.register("jensen_shannon")
class JensenShannon(_CodedColumn):
    """How distinguishable each column's value distribution is: the mean Jensen–Shannon distance in bits.

    Per column, ``JS = √(½ KL(p_real ‖ m) + ½ KL(p_syn ‖ m))`` with ``m`` the average
    distribution and logarithms in base 2 (exactly ``scipy.spatial.distance.jensenshannon(...,
    base=2)``), over the shared codes: categories, numbers binned at up to 20 real quantiles, and
    *missing as a value of its own*, so invented or lost missing values count. 0 means equal
    distributions, 1 disjoint ones.
    """

    name = "jensen_shannon"
    title = "Jensen–Shannon distance per column (mean)"
    default_threshold = Threshold(warn=0.1, fail=0.2)
    what = "mean Jensen–Shannon distance"

    def _rows(self, p: np.ndarray, q: np.ndarray) -> np.ndarray:
        return _js_rows(p, q)
