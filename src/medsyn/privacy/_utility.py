"""Downstream utility of an anonymised table: does a model trained on it predict as well as before?

The same gradient-boosted model (scikit-learn's ``HistGradientBoosting``, fixed seed) is trained
to predict the target from the other columns twice — on the original records and on their
released versions — with the same records in train and test, and scored on held-out records
(balanced accuracy for categories, R² for numbers). Generalised values (``[40, 50)``, ``{A, B}``)
enter as ordered category codes. Suppressed records are left out of both runs, so the
comparison isolates what generalisation did to the features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["UtilityReport", "downstream_utility"]

_MAX_ROWS = 20_000


@dataclass(frozen=True, slots=True)
class UtilityReport:
    """Held-out score of one model trained before and after anonymisation."""

    target: str
    task: str
    metric: str
    before: float
    after: float
    train_rows: int
    test_rows: int
    model: str = "HistGradientBoosting"

    @property
    def change(self) -> float:
        return self.after - self.before

    def to_dict(self) -> dict[str, object]:
        return {
            "target": self.target,
            "task": self.task,
            "metric": self.metric,
            "before": self.before,
            "after": self.after,
            "change": self.change,
            "train_rows": self.train_rows,
            "test_rows": self.test_rows,
            "model": self.model,
        }


def _features(frame: pd.DataFrame) -> np.ndarray:
    columns = []
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_bool_dtype(col.dtype):
            columns.append(col.astype(np.float64).to_numpy())
        elif pd.api.types.is_numeric_dtype(col.dtype) and not isinstance(col.dtype, pd.CategoricalDtype):
            columns.append(col.to_numpy(dtype=np.float64, na_value=np.nan))
        elif pd.api.types.is_datetime64_any_dtype(col.dtype):
            stamps = col.astype("datetime64[ns]")
            columns.append(np.where(stamps.isna(), np.nan, stamps.to_numpy().astype(np.int64) / 86_400e9))
        else:
            codes, _ = pd.factorize(col.astype(str).where(col.notna()), sort=True)
            columns.append(np.where(codes < 0, np.nan, codes).astype(np.float64))
    return np.column_stack(columns) if columns else np.zeros((len(frame), 0))


def downstream_utility(
    original: pd.DataFrame,
    released: pd.DataFrame,
    *,
    target: str,
    seed: int = 0,
) -> UtilityReport | None:
    """Score a model trained on ``original`` vs on ``released`` (same rows, same order) for ``target``.

    ``None`` when the target has fewer than two classes or values, or fewer than 40 records
    remain.
    """
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    y_raw = original[target]
    keep = y_raw.notna().to_numpy()
    if keep.sum() < 40:
        return None
    rng = np.random.default_rng(seed)
    rows = np.flatnonzero(keep)
    if len(rows) > _MAX_ROWS:
        rows = np.sort(rng.choice(rows, _MAX_ROWS, replace=False))
    y_col = y_raw.iloc[rows]
    numeric = pd.api.types.is_numeric_dtype(y_col.dtype) and not isinstance(y_col.dtype, pd.CategoricalDtype)
    regression = numeric and not pd.api.types.is_bool_dtype(y_col.dtype) and y_col.nunique() > 20
    if regression:
        y = y_col.to_numpy(dtype=np.float64)
    else:
        y, uniques = pd.factorize(y_col.astype(str), sort=True)
        if len(uniques) < 2:
            return None
    if not regression and len(np.unique(y)) < 2:
        return None
    perm = rng.permutation(len(rows))
    cut = int(0.7 * len(rows))
    train, test = perm[:cut], perm[cut:]
    features = [c for c in released.columns if c != target]
    scores = []
    # one thread: the two small fits gain nothing from OpenMP, which stalls on a busy machine
    with threadpool_limits(limits=1):
        scores = [
            _score(frame[features].iloc[rows], y, train, test, regression=regression, seed=seed)
            for frame in (original, released)
        ]
    return UtilityReport(
        target=target,
        task="regression" if regression else "classification",
        metric="r2" if regression else "balanced_accuracy",
        before=scores[0],
        after=scores[1],
        train_rows=len(train),
        test_rows=len(test),
    )


def _score(
    frame: pd.DataFrame, y: np.ndarray, train: np.ndarray, test: np.ndarray, *, regression: bool, seed: int
) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import balanced_accuracy_score, r2_score

    x = _features(frame)
    if regression:
        reg = HistGradientBoostingRegressor(max_iter=50, random_state=seed).fit(x[train], y[train])
        return float(r2_score(y[test], reg.predict(x[test])))
    clf = HistGradientBoostingClassifier(max_iter=50, random_state=seed).fit(x[train], y[train])
    return float(balanced_accuracy_score(y[test], clf.predict(x[test])))
