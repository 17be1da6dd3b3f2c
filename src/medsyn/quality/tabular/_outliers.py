"""Outliers: values far from the bulk of a column, and records unusual as a whole.

Location and spread are estimated on a seeded sample of at most ``sample_size`` rows (exact below
that), then every row is compared with them in one vectorised pass. The multivariate check fits an
isolation forest on a sample and scores a bounded sample, so its cost does not grow with the table.
"""

from __future__ import annotations

import re

import numpy as np

from medsyn.data.dataset import Dataset, Modality
from medsyn.metric import METRICS, Direction, ItemResult, Metric, MetricKind, MetricResult, Status, Threshold
from medsyn.quality.tabular._common import float_values, numeric_fields, sample_positions, table, worst

__all__ = ["MultivariateOutliers", "UnivariateOutliers"]

#: Numeric columns named like codes (admission_type_id, icd_code) hold categories, not measurements.
_CODE_NAME = re.compile(r"(_id|_code|_type|_cd)$", re.IGNORECASE)
_MAD_TO_SD = 0.6745  # robust z = 0.6745 (x - median) / MAD (Iglewicz & Hoaglin)
_MEAN_AD_TO_SD = 1.2533  # sqrt(pi/2): scale from the mean absolute deviation when the MAD is 0


def _robust_scale(x: np.ndarray) -> tuple[float, float, float, float]:
    """Median, robust SD, first and third quartile of the finite values of ``x``."""
    q1, med, q3 = (float(v) for v in np.quantile(x, [0.25, 0.5, 0.75]))
    mad = float(np.median(np.abs(x - med)))
    sd = mad / _MAD_TO_SD if mad > 0 else _MEAN_AD_TO_SD * float(np.mean(np.abs(x - med)))
    return med, sd, q1, q3


def _bowley(q1: float, med: float, q3: float) -> float:
    """Quartile skewness: 0 for a symmetric column, towards 1 for a long right tail."""
    return (q3 + q1 - 2 * med) / (q3 - q1) if q3 > q1 else 0.0


def _log_if_skewed(est: np.ndarray) -> bool:
    """Whether a positive column is markedly more symmetric on a log scale (lab values, counts)."""
    if est.min() <= 0:
        return False
    raw = _bowley(*np.quantile(est, [0.25, 0.5, 0.75]))
    logged = _bowley(*np.quantile(np.log(est), [0.25, 0.5, 0.75]))
    return bool(raw > 0.1 and abs(logged) < abs(raw))


@METRICS.register("outliers")
class UnivariateOutliers(Metric):
    """Share of values that both a robust z-score (median/MAD) and Tukey's far-out fences call outliers.
    A blood pressure of 1200 or an age of 999 is usually a typing or unit error, and a few such
    values distort means, scaling and models. A value counts when its robust z-score exceeds
    ``z_limit`` *and* it lies beyond ``iqr_factor`` interquartile ranges from the quartiles; a
    positive, right-skewed column (bilirubin, counts) is judged on a log scale and on its upper
    side only, so its long natural tail is not flagged. Columns named like codes (``*_id``,
    ``*_code``) are left out. Each numeric column is an item.

    Parameters
    ----------
    z_limit
        Robust z-score beyond which a value is far from the median.
    iqr_factor
        Interquartile ranges beyond the quartiles (Tukey's far-out fences use 3).
    column_threshold
        Verdict for each column's outlier share.
    sample_size, seed
        Rows (seeded sample) on which medians, spreads and quartiles are estimated.
    threshold
        Verdict on the share of outlying numeric values.
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
            if _CODE_NAME.search(f.name):
                continue
            x = float_values(frame[f.name])
            est = x if pos is None else x[pos]
            est = est[np.isfinite(est)]
            if len(np.unique(est)) < 5:  # codes and counts with a handful of levels have no outliers
                continue
            log = _log_if_skewed(est)
            if log:
                est = np.log(est)
                with np.errstate(invalid="ignore", divide="ignore"):
                    x = np.log(x)
            med, sd, q1, q3 = _robust_scale(est)
            iqr = q3 - q1
            if sd <= 0 or iqr <= 0:  # one value fills half the column: "far from the bulk" has no meaning
                continue
            with np.errstate(invalid="ignore"):
                z = np.abs(x - med) / sd
                by_z = z > self.z_limit
                high = x > q3 + self.iqr_factor * iqr
                # On a log scale the short lower tail of a positive value stretches out; judge only the top.
                by_iqr = high if log else high | (x < q1 - self.iqr_factor * iqr)
            both = by_z & by_iqr
            back = np.exp if log else (lambda v: v)
            n = int(np.isfinite(x).sum())
            k = int(both.sum())
            total += n
            flagged_cells += k
            share = k / n if n else 0.0
            status = self.column_threshold.judge(share, Direction.MINIMIZE)
            note = f"{k} of {n} values are outliers"
            if k:
                vals = back(x[both])
                note += f" (from {vals.min():g} to {vals.max():g}; typical range {back(q1):g}–{back(q3):g})"
            items.append(
                ItemResult(
                    "column",
                    f.name,
                    share,
                    status,
                    note,
                    {
                        "outliers": k,
                        "robust_z": int(by_z.sum()),
                        "iqr_fence": int(by_iqr.sum()),
                        "log_scale": log,
                        "median": float(back(med)),
                        "q1": float(back(q1)),
                        "q3": float(back(q3)),
                        "max_robust_z": float(np.nanmax(z)) if n else 0.0,
                    },
                )
            )
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
        details = {
            "columns_checked": len(items),
            "outlier_values": flagged_cells,
            "z_limit": self.z_limit,
            "iqr_factor": self.iqr_factor,
            "estimated_on_rows": len(frame) if pos is None else len(pos),
        }
        if pos is not None:
            reason += f" (medians and spreads estimated on a seeded sample of {len(pos):,} rows)"
        return self.result(value, reason, status=status, items=items, details=details)


@METRICS.register("multivariate_outliers")
class MultivariateOutliers(Metric):
    """Share of records an isolation forest finds unusual as a whole, across all numeric columns.
    Some records are implausible only in combination (a 1.50 m adult weighing 150 kg with a
    normal BMI). An isolation forest isolates records with few random splits; a record whose
    anomaly score is above ``score_limit`` (0.5 is ordinary, 1 is extreme; clean clinical tables
    stay below about 0.62) counts. The forest is
    fitted on ``fit_size`` rows and scores at most ``score_size`` rows, both drawn with ``seed``.

    Parameters
    ----------
    score_limit
        Anomaly score above which a record counts as unusual.
    fit_size, score_size, seed
        Rows the forest is fitted on and rows it scores (seeded samples).
    threshold
        Verdict on the share of unusual records.
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
        score_limit: float = 0.65,
        fit_size: int = 10_000,
        score_size: int = 20_000,
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

        frame, schema = table(real)
        fields = numeric_fields(frame, schema, include_boolean=True)
        pos = sample_positions(len(frame), self.score_size, self.seed)
        rows = np.arange(len(frame)) if pos is None else pos
        x = np.column_stack([float_values(frame[f.name] if pos is None else frame[f.name].iloc[pos]) for f in fields])
        filled = ~np.all(np.isnan(x), axis=0)  # an empty column says nothing about a record
        x, fields = x[:, filled], [f for f, keep in zip(fields, filled, strict=True) if keep]
        med = np.nanmedian(x, axis=0)
        x = np.where(np.isnan(x), med, x)
        q1, q3 = np.quantile(x, [0.25, 0.75], axis=0)
        scale = np.where(q3 - q1 > 0, q3 - q1, np.maximum(np.std(x, axis=0), 1.0))
        z = (x - med) / scale
        rng = np.random.default_rng(self.seed)
        fit_rows = rng.choice(len(z), size=min(self.fit_size, len(z)), replace=False)
        from sklearn import config_context
        from sklearn.ensemble import IsolationForest

        forest = IsolationForest(n_estimators=100, max_samples=min(256, len(fit_rows)), random_state=self.seed)
        with config_context(assume_finite=True, skip_parameter_validation=True):
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
            items.append(
                ItemResult(
                    "record",
                    str(int(rows[i])),
                    float(score[i]),
                    Status.WARN,
                    f"unusual combination, most extreme: {cols}",
                    {"anomaly_score": float(score[i])},
                )
            )
        reason = (
            f"{share:.2%} of records are unusual as a whole (isolation-forest anomaly score > {self.score_limit:g})"
        )
        if pos is not None:
            reason += f", estimated on a sample of {len(rows):,} rows"
        details = {
            "columns": len(fields),
            "scored_rows": len(rows),
            "fit_rows": len(fit_rows),
            "sampled": pos is not None,
            "score_limit": self.score_limit,
            "seed": self.seed,
        }
        return self.result(share, reason, items=items, details=details)
