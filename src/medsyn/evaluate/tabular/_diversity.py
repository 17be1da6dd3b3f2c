"""Diversity of synthetic tables: category and range coverage, and mode-collapse indicators.

(``improved_recall``, ``coverage`` and ``beta_recall``, the manifold measures of diversity, live
with their fidelity twins in :mod:`._manifold`.)

- ``category_coverage`` — per categorical column, the share of the real categories that appear
  in the synthetic data (each category counts once, as SDMetrics' CategoryCoverage; the share
  of *real records* whose category appears is given beside it). Mean over columns.
- ``range_coverage`` — per number/date column, the share of the real range ``[min, max]`` that
  the synthetic range covers (SDMetrics' RangeCoverage). Mean over columns.
- ``mode_collapse`` — the worse of two indicators, each in [0, 1], 0 = no collapse:
  *excess duplicates* (the share of synthetic records repeating another synthetic record,
  beyond the real data's own duplicate share) and *missing modes* (the real data's share in
  the k-means clusters of the real encoding that receive less than half their real share of
  synthetic records).

Confidence intervals resample the synthetic records with the evaluation's shared bootstrap (the
real categories, ranges and clusters are the target, held fixed) and are recentred on the
estimate: dropping records can only lose categories and shrink ranges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from medsyn.evaluate._encode import MISSING, OTHER, numeric_values
from medsyn.evaluate._inputs import EvalInputs
from medsyn.evaluate._neighbors import nearest
from medsyn.evaluate._parallel import one_native_thread
from medsyn.evaluate.tabular._columns import BOOTSTRAP_RECORDS
from medsyn.evaluate.tabular._common import (
    TabularMetric,
    category_fields,
    centred,
    numeric_fields,
    replicate_weights,
    sample_positions,
    skipped_item,
    weighted_counts,
    worst_item,
)
from medsyn.metric import METRICS, Detail, Direction, ItemResult, MetricKind, MetricResult, Status, Threshold

__all__ = ["CategoryCoverage", "ModeCollapse", "ModeCollapseIndicators", "RangeCoverage", "mode_collapse_indicators"]

#: Records per side the k-means modes are fitted and counted on.
MODE_RECORDS = 10_000
#: Rows hashed per block when looking for duplicates.
_HASH_ROWS = 65_536
#: A mode is missing when it receives less than this fraction of its real share of synthetic records.
MODE_SHARE = 0.5


class _CoverageMetric(TabularMetric):
    kind = MetricKind.DIVERSITY
    direction = Direction.MAXIMIZE
    ideal = 1.0
    unit = "share"
    default_threshold = Threshold(warn=0.85, fail=0.7)

    def __init__(self, *, threshold: Threshold | None = None, bootstrap_records: int = BOOTSTRAP_RECORDS) -> None:
        super().__init__(threshold=threshold)
        self.bootstrap_records = bootstrap_records

    def _finish(
        self, inputs: EvalInputs, items: list[ItemResult], reps: list[np.ndarray], what: str, extra: dict[str, Detail]
    ) -> MetricResult:
        measured = [i for i in items if not math.isnan(i.value)]
        if not measured:
            return self.skipped("no column could be measured: " + "; ".join(f"{i.key}: {i.note}" for i in items))
        value = float(np.mean([i.value for i in measured]))
        ws = replicate_weights(inputs, "synthetic", self.bootstrap_records)
        ci, replicates = centred(value, np.mean(reps, axis=0), scale=ws.scale, low=0.0, high=1.0)
        worst = worst_item(measured, self.direction)
        assert worst is not None
        details: dict[str, Detail] = {
            "aggregate": "mean over columns",
            "columns_measured": len(measured),
            "columns_skipped": len(items) - len(measured),
            "worst_column": worst.key,
            "worst_value": worst.value,
            "bootstrap_over": "synthetic records",
            **extra,
        }
        reason = f"{what} {value:.3f} over {len(measured)} column(s); worst {worst.key} ({worst.value:.3f})"
        return self.result(value, reason, items=items, details=details, ci=ci, replicates=replicates)


@METRICS.register("category_coverage")
class CategoryCoverage(_CoverageMetric):
    """Whether the synthetic data uses every category of the real data: the share of real categories it contains.

    Per categorical column, the number of distinct real categories (missing values left out)
    that appear at least once in the synthetic data, over the number of real categories — each
    category counts once, however rare (SDMetrics' CategoryCoverage). A generator that drops
    rare diagnoses or small sites loses it; the share of real *records* whose category appears
    (the frequency-weighted coverage) is given beside each column. Mean over columns.
    """

    name = "category_coverage"
    title = "Category coverage (mean over categorical columns)"

    def why_not(self, inputs: EvalInputs) -> str | None:
        why = super().why_not(inputs)
        return why if why is not None or category_fields(inputs) else "no categorical column"

    def _measure(self, inputs: EvalInputs) -> MetricResult:
        ws = replicate_weights(inputs, "synthetic", self.bootstrap_records)
        items: list[ItemResult] = []
        reps: list[np.ndarray] = []
        weighted: list[float] = []
        for f in category_fields(inputs):
            codes = inputs.codes(f.name)
            n_codes = len(codes.labels)
            real_counts = np.bincount(codes.codes[0], minlength=n_codes)
            real_levels = real_counts > 0
            for label in (MISSING, OTHER):
                if label in codes.labels:
                    real_levels[codes.labels.index(label)] = False
            if not real_levels.any():
                items.append(skipped_item(f.name, "the real column has no values"))
                continue
            present = np.bincount(codes.codes[1], minlength=n_codes) > 0
            value = float((present & real_levels).sum() / real_levels.sum())
            share = float(real_counts[present & real_levels].sum() / real_counts[real_levels].sum())
            weighted.append(share)
            missing = [codes.labels[i] for i in np.flatnonzero(real_levels & ~present)][:5]
            note = f"missing e.g. {missing}" if missing else ""
            items.append(
                self.column_item(
                    f.name,
                    value,
                    note,
                    real_categories=int(real_levels.sum()),
                    covered=int((present & real_levels).sum()),
                    record_weighted=share,
                )
            )
            counts = weighted_counts(codes.codes[1][ws.positions], ws.weights, n_codes)
            reps.append(((counts > 0) & real_levels).sum(axis=1) / real_levels.sum())
        extra: dict[str, Detail] = {
            "weighting": "each category once (unweighted)",
            "record_weighted_mean": float(np.mean(weighted)) if weighted else math.nan,
        }
        return self._finish(inputs, items, reps, "mean category coverage", extra)


@METRICS.register("range_coverage")
class RangeCoverage(_CoverageMetric):
    """Whether the synthetic values span the real range of each number column: the share of the range covered.

    Per number/date column, ``1 − (max(min_syn − min_real, 0) + max(max_real − max_syn, 0)) /
    (max_real − min_real)``, at least 0 (SDMetrics' RangeCoverage), on the observed values. A
    generator that never produces the extreme ages, doses or lab values of the real data loses
    it. A constant real column has no range to cover and is listed, not scored; a synthetic
    column with no values covers nothing (0). Mean over columns.
    """

    name = "range_coverage"
    title = "Range coverage (mean over number columns)"

    def why_not(self, inputs: EvalInputs) -> str | None:
        why = super().why_not(inputs)
        return why if why is not None or numeric_fields(inputs) else "no number or date column"

    def _measure(self, inputs: EvalInputs) -> MetricResult:
        ws = replicate_weights(inputs, "synthetic", self.bootstrap_records)
        items: list[ItemResult] = []
        reps: list[np.ndarray] = []
        for f in numeric_fields(inputs):
            xr = numeric_values(inputs.frame("real")[f.name])
            xs = numeric_values(inputs.frame("synthetic")[f.name])
            xr = xr[np.isfinite(xr)]
            if len(xr) == 0 or xr.min() == xr.max():
                why = "the real column has no values" if len(xr) == 0 else "the real column is constant: no range"
                items.append(skipped_item(f.name, why))
                continue
            low, high = float(xr.min()), float(xr.max())
            sub = xs[ws.positions]
            present = ws.weights > 0
            with np.errstate(invalid="ignore"):
                rep_low = np.where(present & np.isfinite(sub), sub, np.inf).min(axis=1)
                rep_high = np.where(present & np.isfinite(sub), sub, -np.inf).max(axis=1)
            reps.append(_range_share(rep_low, rep_high, low, high))
            ok = xs[np.isfinite(xs)]
            if len(ok) == 0:
                items.append(self.column_item(f.name, 0.0, "no synthetic values (all missing): nothing covered"))
                continue
            value = float(_range_share(np.array([ok.min()]), np.array([ok.max()]), low, high)[0])
            items.append(
                self.column_item(
                    f.name,
                    value,
                    real_min=low,
                    real_max=high,
                    synthetic_min=float(ok.min()),
                    synthetic_max=float(ok.max()),
                )
            )
        return self._finish(inputs, items, reps, "mean range coverage", {})


def _range_share(s_low: np.ndarray, s_high: np.ndarray, low: float, high: float) -> np.ndarray:
    span = high - low
    with np.errstate(invalid="ignore"):
        share = 1.0 - (np.maximum((s_low - low) / span, 0.0) + np.maximum((high - s_high) / span, 0.0))
    out: np.ndarray = np.where(np.isfinite(share), np.maximum(share, 0.0), 0.0)
    return out


# -- mode collapse ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ModeCollapseIndicators:
    """The two mode-collapse indicators and what they were computed from."""

    duplicate_share_real: float
    duplicate_share_synthetic: float
    excess_duplicates: float
    modes: int
    missing_modes: int
    missing_mode_mass: float
    real_share: np.ndarray
    synthetic_share: np.ndarray
    mass_replicates: np.ndarray

    @property
    def value(self) -> float:
        return max(self.excess_duplicates, self.missing_mode_mass)


def _duplicate_share(x: np.ndarray, rng: np.random.Generator) -> float:
    """Share of rows equal to an earlier row (rows compared through a seeded random projection).

    Equal rows always project to the same number; different rows collide only if a random
    Gaussian combination of their differences is exactly 0, which does not happen in practice.
    """
    if len(x) < 2:
        return 0.0
    w = rng.standard_normal(x.shape[1])
    key = np.empty(len(x))
    for start in range(0, len(x), _HASH_ROWS):  # float64 in blocks: no float64 copy of the whole matrix
        key[start : start + _HASH_ROWS] = x[start : start + _HASH_ROWS].astype(np.float64) @ w
    return 1.0 - len(np.unique(key)) / len(x)


def mode_collapse_indicators(
    inputs: EvalInputs, *, modes: int | None = None, max_records: int = MODE_RECORDS
) -> ModeCollapseIndicators:
    """Excess synthetic duplicates and missing real modes (see the module docstring), once per evaluation."""

    def compute() -> ModeCollapseIndicators:
        from sklearn.cluster import KMeans

        rng = inputs.rng("mode_collapse")
        dup_r = _duplicate_share(inputs.matrix("real"), np.random.default_rng(inputs.seed))
        dup_s = _duplicate_share(inputs.matrix("synthetic"), np.random.default_rng(inputs.seed))
        excess = max(0.0, dup_s - dup_r) / (1.0 - dup_r) if dup_r < 1 else 0.0
        pr = sample_positions(inputs, "real", max_records)
        ps = sample_positions(inputs, "synthetic", max_records)
        real, syn = inputs.matrix("real")[pr], inputs.matrix("synthetic")[ps]
        k = modes if modes is not None else int(min(20, max(2, len(real) // 100)))
        distinct = int(len(real) * (1.0 - _duplicate_share(real, np.random.default_rng(inputs.seed))))
        k = max(1, min(k, distinct))
        with one_native_thread():
            centres = (
                KMeans(n_clusters=k, n_init=3, random_state=int(rng.integers(2**31 - 1))).fit(real).cluster_centers_
            )
        to_r = nearest(real, centres, 1).indices[:, 0]
        to_s = nearest(syn, centres, 1).indices[:, 0]
        real_share = np.bincount(to_r, minlength=k) / len(to_r)
        syn_share = np.bincount(to_s, minlength=k) / len(to_s)
        missing = syn_share < MODE_SHARE * real_share
        ws = replicate_weights(inputs, "synthetic", max_records).weights
        rep_counts = weighted_counts(to_s, ws, k)
        rep_share = rep_counts / rep_counts.sum(axis=1, keepdims=True)
        mass_reps = ((rep_share < MODE_SHARE * real_share) * real_share).sum(axis=1)
        return ModeCollapseIndicators(
            dup_r,
            dup_s,
            float(excess),
            k,
            int(missing.sum()),
            float(real_share[missing].sum()),
            real_share,
            syn_share,
            mass_reps,
        )

    return inputs.memo(("tabular-mode-collapse", modes, max_records), compute)


@METRICS.register("mode_collapse")
class ModeCollapse(TabularMetric):
    """Whether the generator collapsed onto a few kinds of record: the worse of excess duplicates and missing modes.

    Two indicators in [0, 1], 0 = no collapse. *Excess duplicates*: the share of synthetic
    records that repeat another synthetic record, beyond the real data's own duplicate share
    (``max(0, d_syn − d_real) / (1 − d_real)``). *Missing modes*: k-means (k = 20 at most, one
    per 100 real records) on the real encoding finds the real data's modes; a mode receiving less
    than half its real share of synthetic records is missing, and the indicator is the real
    share held by missing modes. The value is the larger of the two.
    """

    name = "mode_collapse"
    title = "Mode collapse (excess duplicates, missing modes)"
    kind = MetricKind.DIVERSITY
    direction = Direction.MINIMIZE
    ideal = 0.0
    unit = "share"
    default_threshold = Threshold(warn=0.1, fail=0.3)
    min_records = 4

    def __init__(
        self, *, threshold: Threshold | None = None, modes: int | None = None, max_records: int = MODE_RECORDS
    ) -> None:
        super().__init__(threshold=threshold)
        self.modes = modes
        self.max_records = max_records

    def _measure(self, inputs: EvalInputs) -> MetricResult:
        m = mode_collapse_indicators(inputs, modes=self.modes, max_records=self.max_records)
        items = [
            ItemResult(
                "indicator",
                "excess_duplicates",
                m.excess_duplicates,
                self.judge(m.excess_duplicates),
                f"{m.duplicate_share_synthetic:.1%} of synthetic records repeat another "
                f"(real: {m.duplicate_share_real:.1%})",
                {
                    "duplicate_share_real": m.duplicate_share_real,
                    "duplicate_share_synthetic": m.duplicate_share_synthetic,
                },
            ),
            ItemResult(
                "indicator",
                "missing_modes",
                m.missing_mode_mass,
                self.judge(m.missing_mode_mass),
                f"{m.missing_modes} of {m.modes} real modes get under half their share of synthetic records",
                {"modes": m.modes, "missing_modes": m.missing_modes},
            ),
        ]
        for c in np.argsort(-m.real_share)[: m.modes]:
            missing = m.synthetic_share[c] < MODE_SHARE * m.real_share[c]
            items.append(
                ItemResult(
                    "mode",
                    f"mode {int(c)}",
                    float(m.synthetic_share[c]),
                    Status.WARN if missing else Status.INFO,
                    "missing" if missing else "",
                    {"real_share": float(m.real_share[c])},
                )
            )
        reps = np.maximum(m.excess_duplicates, m.mass_replicates)
        ci, replicates = centred(m.value, reps, low=0.0, high=1.0)
        details: dict[str, Detail] = {
            "excess_duplicates": m.excess_duplicates,
            "missing_mode_mass": m.missing_mode_mass,
            "distinct_synthetic_share": 1.0 - m.duplicate_share_synthetic,
            "modes": m.modes,
            "mode_rule": f"synthetic share < {MODE_SHARE:g} × real share",
            "records_per_side_for_modes": min(self.max_records, len(inputs.frame("real"))),
        }
        which = "excess duplicates" if m.excess_duplicates >= m.missing_mode_mass else "missing modes"
        reason = (
            f"{which}: {m.value:.3f} (excess duplicates {m.excess_duplicates:.3f}, "
            f"missing-mode mass {m.missing_mode_mass:.3f}, {m.missing_modes}/{m.modes} modes)"
        )
        return self.result(m.value, reason, items=items, details=details, ci=ci, replicates=replicates)
