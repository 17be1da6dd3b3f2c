"""Classifier two-sample test: can a model tell synthetic records from real ones?

``detection_auc`` trains classifiers to separate real (label 0) from synthetic (label 1) records
with stratified k-fold cross-validation and reports the out-of-fold ROC AUC of the better one.
0.5 means no classifier could tell them apart; 1 means every synthetic record is recognisable.

- **Balanced:** both sides are cut to the same size, the smaller side's or ``max_records``,
  whichever is less, by the evaluation's seeded samples; the details say how many.
- **Models:** logistic regression on the shared encoding (sees shifted means and linear
  relations), and histogram gradient boosting on the same encoding collapsed to one feature per
  column — each categorical column's one-hot block back to a category code, handled natively —
  which sees interactions and non-linear shapes. The value is the larger AUC: the synthetic data
  is as detectable as the best detector finds it.
- **Confidence interval:** the out-of-fold scores are fixed and the records resampled with the
  evaluation's shared bootstrap (replicate ``b`` weighs each record by how often it was drawn);
  refitting per replicate would cost 100 fits. The fold-to-fold spread is in the details.
- **Score:** ``1 − 2·max(0, AUC − 0.5)``; an AUC below 0.5 is noise around 0.5, not "better
  than indistinguishable", and scores 1.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np

from medsyn.evaluate._base import clip01
from medsyn.evaluate._inputs import EvalInputs, percentile_ci
from medsyn.evaluate._parallel import one_native_thread
from medsyn.evaluate.tabular._common import BootstrapWeights, TabularMetric, replicate_weights, sample_positions
from medsyn.metric import METRICS, Detail, Direction, ItemResult, MetricKind, MetricResult, Status, Threshold

__all__ = ["DetectionAuc", "DetectionModel", "weighted_auc"]

DetectionModel = Literal["logistic", "gradient_boosting"]
#: Records per side the classifiers see at most.
MAX_RECORDS = 5_000


def weighted_auc(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC of ``scores`` for ``labels`` (1 positive) under each row of ``weights`` (ties count ½).

    The weighted Mann–Whitney statistic: for each positive, the weight of negatives scored below
    it plus half of those tied, over the product of the two totals. One row of ones gives
    ``sklearn.metrics.roc_auc_score(labels, scores)``.
    """
    weights = np.atleast_2d(weights).astype(np.float64)
    order = np.argsort(scores, kind="stable")
    s = scores[order]
    group = np.concatenate([[0], np.cumsum(s[1:] != s[:-1])])
    n_groups = int(group[-1]) + 1
    positive = labels[order] == 1
    w = weights[:, order]
    rows = weights.shape[0]
    offsets = (np.arange(rows) * n_groups)[:, None] + group[None, :]
    neg = np.bincount(offsets.ravel(), weights=np.where(positive, 0.0, w).ravel(), minlength=rows * n_groups)
    pos = np.bincount(offsets.ravel(), weights=np.where(positive, w, 0.0).ravel(), minlength=rows * n_groups)
    neg, pos = neg.reshape(rows, n_groups), pos.reshape(rows, n_groups)
    below = np.cumsum(neg, axis=1) - neg
    with np.errstate(invalid="ignore", divide="ignore"):
        auc: np.ndarray = (pos * (below + 0.5 * neg)).sum(axis=1) / (neg.sum(axis=1) * pos.sum(axis=1))
    return auc


def _compact(inputs: EvalInputs, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The encoding with each categorical one-hot block turned back into a code (NaN: none set)."""
    columns: list[np.ndarray] = []
    categorical: list[bool] = []
    slices = inputs.encoding().slices()
    for c in inputs.encoding().columns:
        block = matrix[:, slices[c.name]]
        if c.kind == "numeric":
            columns.extend(block.T.astype(np.float64))
            categorical.extend([False] * block.shape[1])
            continue
        code = block.argmax(axis=1).astype(np.float64)
        code[block.max(axis=1) <= 0] = np.nan
        columns.append(code)
        categorical.append(True)
    return np.column_stack(columns), np.array(categorical)


@dataclass(frozen=True, slots=True)
class _Fit:
    model: str
    scores: np.ndarray
    fold_auc: tuple[float, ...]
    auc: float


def _cross_validate(
    model: DetectionModel, x: np.ndarray, y: np.ndarray, categorical: np.ndarray, folds: int, seed: int
) -> _Fit:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    scores = np.empty(len(y))
    fold_auc = []
    for train, test in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(x, y):
        if model == "logistic":
            clf: LogisticRegression | HistGradientBoostingClassifier = LogisticRegression(max_iter=300)
        else:
            clf = HistGradientBoostingClassifier(
                max_iter=100, early_stopping=False, categorical_features=categorical, random_state=seed
            )
        # One thread: on a busy machine OpenMP's barriers make two threads 10–25× slower than
        # one (measured on the shared 2-core development machine); on a quiet one this costs ≤ 2×.
        # The folds stay in turn: fits of ≤ 10k records are mostly Python and gain nothing from
        # running side by side (measured: 0.87 s for two in turn, 0.81 s side by side).
        with warnings.catch_warnings(), one_native_thread():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(x[train], y[train])
        scores[test] = clf.predict_proba(x[test])[:, 1]
        fold_auc.append(float(roc_auc_score(y[test], scores[test])))
    return _Fit(model, scores, tuple(fold_auc), float(roc_auc_score(y, scores)))


@METRICS.register("detection_auc")
class DetectionAuc(TabularMetric):
    """How easily a classifier tells synthetic records from real ones: the cross-validated detection AUC.

    A classifier two-sample test: logistic regression (on the shared encoding) and histogram
    gradient boosting (one feature per column, categories native) learn to separate real from
    synthetic records in stratified 5-fold cross-validation on balanced samples (at most 5,000
    records per side). The value is the better out-of-fold ROC AUC: 0.5 when no model can tell
    them apart, 1 when every synthetic record gives itself away. It catches any difference the
    models can learn — shifted marginals, broken interactions, impossible combinations — and is
    scored as ``1 − 2·max(0, AUC − 0.5)``.
    """

    name = "detection_auc"
    title = "Detection AUC (classifier two-sample test)"
    kind = MetricKind.FIDELITY
    direction = Direction.MINIMIZE
    ideal = 0.5
    unit = "AUC"
    default_threshold = Threshold(warn=0.6, fail=0.75)
    min_records = 20

    def __init__(
        self,
        *,
        threshold: Threshold | None = None,
        models: tuple[DetectionModel, ...] = ("logistic", "gradient_boosting"),
        folds: int = 5,
        max_records: int = MAX_RECORDS,
    ) -> None:
        super().__init__(threshold=threshold)
        self.models = models
        self.folds = folds
        self.max_records = max_records

    def why_not(self, inputs: EvalInputs) -> str | None:
        why = super().why_not(inputs)
        if why is None and min(len(inputs.frame("real")), len(inputs.frame("synthetic"))) < 2 * self.folds:
            return f"{self.folds}-fold cross-validation needs at least {2 * self.folds} records per side"
        return why

    def _measure(self, inputs: EvalInputs) -> MetricResult:
        n_each = min(len(inputs.frame("real")), len(inputs.frame("synthetic")), self.max_records)
        pr, ps = sample_positions(inputs, "real", n_each), sample_positions(inputs, "synthetic", n_each)
        real, syn = inputs.matrix("real")[pr], inputs.matrix("synthetic")[ps]
        y = np.r_[np.zeros(len(pr)), np.ones(len(ps))]
        seed = int(inputs.rng(self.name).integers(2**31 - 1))
        fits = []
        for model in self.models:
            if model == "logistic":
                x, categorical = np.vstack([real, syn]).astype(np.float64), np.zeros(real.shape[1], dtype=bool)
            else:
                (xr, categorical), (xs, _) = _compact(inputs, real), _compact(inputs, syn)
                x = np.vstack([xr, xs])
            fits.append(_cross_validate(model, x, y, categorical, self.folds, seed))
        best = max(fits, key=lambda f: f.auc)
        reps = self._replicates(inputs, best, n_each, y)
        items = [
            ItemResult(
                "model",
                f.model,
                f.auc,
                self.judge(f.auc) if f is best else Status.INFO,
                "the better detector" if f is best else "",
                {"fold_auc_min": min(f.fold_auc), "fold_auc_max": max(f.fold_auc)},
            )
            for f in fits
        ]
        details: dict[str, Detail] = {
            "model": best.model,
            "folds": self.folds,
            "records_per_side": n_each,
            "sampled": n_each < max(len(inputs.frame("real")), len(inputs.frame("synthetic"))),
            "fold_auc_min": min(best.fold_auc),
            "fold_auc_max": max(best.fold_auc),
            "ci": "bootstrap over records of the out-of-fold scores (models not refitted)",
        }
        reason = (
            f"{best.model} tells synthetic from real with AUC {best.auc:.3f} ({self.folds}-fold, {n_each} per side)"
        )
        return self.result(best.auc, reason, items=items, details=details, ci=percentile_ci(reps), replicates=reps)

    def _replicates(self, inputs: EvalInputs, fit: _Fit, n_each: int, y: np.ndarray) -> np.ndarray:
        wr: BootstrapWeights = replicate_weights(inputs, "real", n_each)
        ws: BootstrapWeights = replicate_weights(inputs, "synthetic", n_each)
        return weighted_auc(fit.scores, y, np.hstack([wr.weights, ws.weights]))

    def score(self, value: float) -> float:
        """``1 − 2·max(0, AUC − 0.5)``: 1 at chance level (or below it), 0 at a perfect detector."""
        if math.isnan(value):
            return math.nan
        return clip01(1.0 - 2.0 * max(0.0, value - 0.5))
