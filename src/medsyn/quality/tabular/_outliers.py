"""Outliers: values far from the bulk of a column, and records unusual as a whole.

Location and spread are estimated on a seeded sample of at most ``sample_size`` rows (exact below
that), then every row is compared with them in one vectorised pass. The multivariate check fits an
isolation forest on a sample and scores a bounded sample, so its cost does not grow with the table.
"""

from __future__ import annotations

import numpy as np

from medsyn.data.dataset import Dataset, Modality
from medsyn.metric import METRICS, Direction, ItemResult, Metric, MetricKind, MetricResult, Status, Threshold
from medsyn.quality.tabular._common import float_values, numeric_fields, sample_positions, table, worst

__all__ = ["MultivariateOutliers", "UnivariateOutliers"]

_MAD_TO_SD = 0.6745  # robust z = 0.6745 (x - median) / MAD (Iglewicz & Hoaglin)
_MEAN_AD_TO_SD = 1.2533  # sqrt(pi/2): scale from the mean absolute deviation when the MAD is 0


def _robust_scale(x: np.ndarray) -> tuple[float, float, float, float]:
    """Median, robust SD, first and third quartile of the finite values of ``x``."""
    med = float(np.median(x))
    mad = float(np.median(np.abs(x - med)))
    sd = mad / _MAD_TO_SD if mad > 0 else _MEAN_AD_TO_SD * float(np.mean(np.abs(x - med)))
    q1, q3 = (float(v) for v in np.quantile(x, [0.25, 0.75]))
    return med, sd, q1, q3


@METRICS.register("outliers")
class UnivariateOutliers(Metric):
    """Share of values that both a robust z-score (median/MAD) and Tukey's far-out fences call outliers.

    A blood pressure of 1200 or an age of 999 is usually a typing or unit error, and a few such
    values distort means, scaling and models. A value counts when its robust z-score exceeds
    ``z_limit`` *and* it lies beyond ``iqr_factor`` interquartile ranges from the quartiles, so the
    long natural tail of skewed lab values is not flagged. Each numeric column is an item.
    """

    name = "outliers"
    title = "Outlying values"
    modality = Modality.TABULAR
    kind = MetricKind.QUALITY
    direction = Direction.MINIMIZE
    ideal = 0.0
    default_threshold = Threshold(warn=0.005, fail=0.02)

    def __init__(
        self,
        *,
        z_limit: float = 3.5,
        iqr_factor: float = 3.0,
        column_threshold: Threshold | None = None,
        sample_size: int = 200_000,
        seed: int = 0,
        threshold: Threshold | None = None,
    ) -> None:
        super().__init__(threshold=threshold)
        self.z_limit = z_limit
        self.iqr_factor = iqr_factor
        self.column_threshold = column_threshold or Threshold(warn=0.01, fail=0.05)
        self.sample_size = sample_size
        self.seed = seed

    def applies_to(self, data: Dataset) -> str | None:
        frame, schema = table(data)
        if not numeric_fields(frame, schema):
            return "no numeric column to check for outliers"
        return None

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        frame, schema = table(real)
        pos = sample_positions(len(frame), self.sample_size, self.seed)
        items: list[ItemResult] = []
        total = flagged_cells = 0
        for f in numeric_fields(frame, schema):
            x = float_values(frame[f.name])
            est = x if pos is None else x[pos]
            est = est[np.isfinite(est)]
            if len(np.unique(est)) < 5:  # codes and counts with a handful of levels have no outliers
                continue
            med, sd, q1, q3 = _robust_scale(est)
            iqr = q3 - q1
            if sd <= 0:
                continue
            with np.errstate(invalid="ignore"):
                z = np.abs(x - med) / sd
                by_z = z > self.z_limit
                by_iqr = (x < q1 - self.iqr_factor * iqr) | (x > q3 + self.iqr_factor * iqr)
            both = by_z & by_iqr
            n = int(np.isfinite(x).sum())
            k = int(both.sum())
            total += n
            flagged_cells += k
            share = k / n if n else 0.0
            status = self.column_threshold.judge(share, Direction.MINIMIZE)
            note = f"{k} of {n} values are outliers"
            if k:
                vals = x[both]
                note += f" (from {vals.min():g} to {vals.max():g}; typical range {q1:g}–{q3:g})"
            items.append(ItemResult("column", f.name, share, status, note, {
                "outliers": k, "robust_z": int(by_z.sum()), "iqr_fence": int(by_iqr.sum()), "median": med,
                "robust_sd": sd, "q1": q1, "q3": q3, "max_robust_z": float(np.nanmax(z)) if n else 0.0,
            }))
        if not items:
            return self.skipped("no numeric column with at least 5 distinct values and a non-zero spread")
        value = flagged_cells / total if total else 0.0
        status = worst([self.judge(value), *(i.status for i in items)])
        bad = sorted((i for i in items if i.status.severity >= Status.WARN.severity), key=lambda i: -i.value)
        if bad:
            cols = ", ".join(f"'{i.key}' ({i.value:.1%})" for i in bad[:5])
            reason = f"{value:.2%} of numeric values are far outside their column's usual range; most in {cols}"
        else:
            reason = f"{value:.2%} of numeric values are far outside their column's usual range — within limits"
        details = {"columns_checked": len(items), "outlier_values": flagged_cells, "z_limit": self.z_limit,
                   "iqr_factor": self.iqr_factor, "estimated_on_rows": len(frame) if pos is None else len(pos)}
        return self.result(value, reason, status=status, items=items, details=details)


@METRICS.register("multivariate_outliers")
class MultivariateOutliers(Metric):
    """Share of records an isolation forest finds unusual as a whole, across all numeric columns.

    Some records are implausible only in combination (a 1.50 m adult weighing 150 kg with a
    normal BMI). An isolation forest isolates records with few random splits; a record whose
    anomaly score is above ``score_limit`` (0.5 is ordinary, 1 is extreme) counts. The forest is
    fitted on ``fit_size`` rows and scores at most ``score_size`` rows, both drawn with ``seed``.
    """

    name = "multivariate_outliers"
    title = "Unusual records (isolation forest)"
    modality = Modality.TABULAR
    kind = MetricKind.QUALITY
    direction = Direction.MINIMIZE
    ideal = 0.0
    default_threshold = Threshold(warn=0.01, fail=0.05)

    def __init__(
        self,
        *,
        score_limit: float = 0.7,
        fit_size: int = 10_000,
        score_size: int = 50_000,
        seed: int = 0,
        threshold: Threshold | None = None,
    ) -> None:
        super().__init__(threshold=threshold)
        self.score_limit = score_limit
        self.fit_size = fit_size
        self.score_size = score_size
        self.seed = seed

    def applies_to(self, data: Dataset) -> str | None:
        frame, schema = table(data)
        if len(numeric_fields(frame, schema, include_boolean=True)) < 2:
            return "fewer than two numeric columns: records cannot be unusual in combination"
        if len(frame) < 20:
            return f"only {len(frame)} rows; an isolation forest needs at least 20"
        return None

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        from sklearn.ensemble import IsolationForest

        frame, schema = table(real)
        fields = numeric_fields(frame, schema, include_boolean=True)
        pos = sample_positions(len(frame), self.score_size, self.seed)
        rows = np.arange(len(frame)) if pos is None else pos
        x = np.column_stack([float_values(frame[f.name])[rows] for f in fields])
        med = np.nanmedian(x, axis=0)
        med = np.where(np.isnan(med), 0.0, med)
        x = np.where(np.isnan(x), med, x)
        q1, q3 = np.quantile(x, [0.25, 0.75], axis=0)
        scale = np.where(q3 - q1 > 0, q3 - q1, np.maximum(np.std(x, axis=0), 1.0))
        z = (x - med) / scale
        rng = np.random.default_rng(self.seed)
        fit_rows = rng.choice(len(z), size=min(self.fit_size, len(z)), replace=False)
        forest = IsolationForest(n_estimators=100, max_samples=min(256, len(fit_rows)), random_state=self.seed)
        forest.fit(z[fit_rows])
        score = -forest.score_samples(z)
        unusual = score > self.score_limit
        share = float(unusual.mean())
        top = np.argsort(-score, kind="stable")[:10]
        items = []
        for i in top:
            if not unusual[i]:
                break
            j = np.argsort(-np.abs(z[i]))[:3]
            cols = ", ".join(f"{fields[c].name}={x[i, c]:g}" for c in j)
            items.append(ItemResult("record", str(int(rows[i])), float(score[i]), Status.WARN,
                                    f"unusual combination, most extreme: {cols}", {"anomaly_score": float(score[i])}))
        reason = (f"{share:.2%} of records are unusual as a whole (isolation-forest anomaly score > "
                  f"{self.score_limit:g})")
        if pos is not None:
            reason += f", estimated on a sample of {len(rows):,} rows"
        details = {"columns": len(fields), "scored_rows": len(rows), "fit_rows": len(fit_rows),
                   "sampled": pos is not None, "score_limit": self.score_limit, "seed": self.seed}
        return self.result(share, reason, items=items, details=details)
