"""The table's shape: columns that carry no information, and too few rows for the columns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from medsyn.data.dataset import Dataset, Modality
from medsyn.metric import METRICS, Direction, ItemResult, Metric, MetricKind, MetricResult, Status, Threshold
from medsyn.quality.tabular._common import factorized, feature_fields, is_text, sample_positions, table, worst

__all__ = ["ConstantColumns", "RowsPerColumn"]

#: Rows inspected first; a column whose commonest value is clearly below the limit there is skipped.
_SCREEN_ROWS = 20_000


def _top_share(counts: np.ndarray, values: np.ndarray) -> tuple[int, float, str, int]:
    """Distinct values, share of the commonest value among non-missing rows, that value, non-missing count."""
    n = int(counts.sum())
    if n == 0:
        return 0, 1.0, "", 0
    top = int(np.argmax(counts))
    return len(counts), float(counts[top]) / n, str(values[top]), n


def _counts(frame: pd.DataFrame, column: str, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Counts of each distinct non-missing value (over ``rows`` when given) and the values."""
    s = frame[column]
    if rows is None and is_text(s):
        shared = factorized(frame, column)
        return shared.counts(), shared.uniques
    vc = (s if rows is None else s.iloc[rows]).value_counts(dropna=True, sort=False)
    return vc.to_numpy(), vc.index.to_numpy()


@METRICS.register("constant_columns")
class ConstantColumns(Metric):
    """Columns with a single value (constant) or one value in nearly every row (near-constant).
    Such a column tells a model or a clinician nothing: it is often an export artefact (a site
    code, a field never filled in) or a flag so rare that it cannot be learnt from. The value is
    the share of columns that are constant or near-constant; each such column is listed.

    Parameters
    ----------
    near
        Share of filled rows one value must reach for a column to be near-constant.
    seed
        Seed of the 20,000-row screen used on large tables before exact counts.
    threshold
        Verdict on the share of (near-)constant columns.
    """

    name = "constant_columns"
    title = "Constant and near-constant columns"
    modality = Modality.TABULAR
    kind = MetricKind.QUALITY
    direction = Direction.MINIMIZE
    ideal = 0.0
    default_threshold = Threshold(warn=0.0, fail=0.25)

    def __init__(self, *, near: float = 0.995, seed: int = 0, threshold: Threshold | None = None) -> None:
        super().__init__(threshold=threshold)
        self.near = near
        self.seed = seed

    def applies_to(self, data: Dataset) -> str | None:
        if len(data) < 2:
            return "fewer than two rows: every column is trivially constant"
        return None

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        frame, _ = table(real)
        pos = sample_positions(len(frame), _SCREEN_ROWS, self.seed)
        items: list[ItemResult] = []
        for col in frame.columns:
            if pos is not None:
                # With 20,000 rows, a commonest-value share 2 points under the limit rules the column out.
                _, screen_share, _, screen_n = _top_share(*_counts(frame, str(col), pos))
                if screen_n > 1000 and screen_share < self.near - 0.02:
                    continue
            n_unique, share, top, n = _top_share(*_counts(frame, str(col), None))
            if n_unique <= 1:
                what = "has no values at all" if n == 0 else f"holds the single value '{top}' in every filled row"
                items.append(
                    ItemResult(
                        "column",
                        str(col),
                        1.0,
                        Status.WARN,
                        f"constant: {what}",
                        {"distinct": n_unique, "top_value": top, "top_share": 1.0, "filled": n},
                    )
                )
            elif share >= self.near:
                rare = n - round(share * n)
                items.append(
                    ItemResult(
                        "column",
                        str(col),
                        share,
                        Status.WARN,
                        f"near-constant: '{top}' in {share:.2%} of filled rows; only {rare} rows differ",
                        {"distinct": n_unique, "top_value": top, "top_share": share, "filled": n},
                    )
                )
        value = len(items) / frame.shape[1] if frame.shape[1] else 0.0
        status = worst([self.judge(value), *(i.status for i in items)])
        if items:
            names = ", ".join(f"'{i.key}'" for i in items[:8]) + (" …" if len(items) > 8 else "")
            reason = f"{len(items)} of {frame.shape[1]} columns carry (almost) no information: {names}"
        else:
            reason = f"every column varies (no value fills more than {self.near:.1%} of a column)"
        details = {"near_limit": self.near, "screen_rows": 0 if pos is None else len(pos)}
        return self.result(value, reason, status=status, items=items, details=details)


@METRICS.register("rows_per_column")
class RowsPerColumn(Metric):
    """Rows per feature column, and whether there are enough rows at all.
    With few patients per variable, models overfit and subgroup statistics are noise; a common
    rule of thumb asks for at least 10 records per candidate predictor. The value is the number
    of rows divided by the number of feature columns (identifiers and targets excluded).

    Parameters
    ----------
    min_rows
        Fewer rows than this warns (fewer than a quarter of it fails), whatever the columns.
    threshold
        Verdict on rows per feature column.
    """

    name = "rows_per_column"
    title = "Rows per column"
    modality = Modality.TABULAR
    kind = MetricKind.QUALITY
    direction = Direction.MAXIMIZE
    ideal = 10.0  # the usual rule of thumb; more is better (JSON has no infinity)
    unit = "rows per column"
    default_threshold = Threshold(warn=10.0, fail=3.0)

    def __init__(self, *, min_rows: int = 100, threshold: Threshold | None = None) -> None:
        super().__init__(threshold=threshold)
        self.min_rows = min_rows

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        frame, schema = table(real)
        n_rows = len(frame)
        n_features = len(feature_fields(schema))
        ratio = n_rows / n_features if n_features else float(n_rows)
        status = self.judge(ratio)
        reason = f"{n_rows} rows for {n_features} feature columns ({ratio:.1f} rows per column)"
        if n_rows < self.min_rows:
            status = worst([status, Status.FAIL if n_rows < self.min_rows / 4 else Status.WARN])
            reason += f"; fewer than {self.min_rows} rows is too few for reliable statistics"
        elif status is not Status.PASS:
            reason += "; fewer than 10 rows per variable invites overfitting"
        details = {
            "rows": n_rows,
            "feature_columns": n_features,
            "all_columns": int(frame.shape[1]),
            "min_rows": self.min_rows,
        }
        return self.result(ratio, reason, status=status, details=details)
