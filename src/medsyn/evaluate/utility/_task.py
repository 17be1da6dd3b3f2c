"""The prediction task behind the utility metrics: features, outcome, model families, skill.

Utility asks whether a model trained on synthetic data predicts real outcomes as well as one
trained on real data. The task is built once per evaluation (:func:`prediction_task`, cached on
the inputs): features are the shared encoding without the target's columns; the outcome is the
target column, a classification when it is categorical, boolean or an integer with few values,
else a regression. Rows whose outcome is missing are left out and counted.

Models are trained on at most :data:`MAX_TRAIN` rows per side and tested on at most
:data:`MAX_TEST` holdout rows (sampled with the evaluation's seed; stated in results).

Skill puts every task on one scale where 0 is chance and 1 perfect: the Gini coefficient
``2·AUC − 1`` for classification (macro one-vs-rest AUC for several classes) and R² clipped at 0
for regression. The ratio of two skills is the utility ratio.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from medsyn.data.schema import FieldType
from medsyn.evaluate._encode import category_labels, numeric_values
from medsyn.evaluate._inputs import EvalInputs
from medsyn.evaluate._parallel import one_native_thread

__all__ = ["MAX_TEST", "MAX_TRAIN", "MODEL_FAMILIES", "PredictionTask", "auc", "prediction_task", "skill"]

MAX_TRAIN = 50_000
MAX_TEST = 100_000
#: An integer target with at most this many values is a classification.
MAX_INTEGER_CLASSES = 10

Kind = Literal["classification", "regression"]


def _linear(kind: Kind, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression, Ridge

    if kind == "classification":
        return LogisticRegression(max_iter=300)
    return Ridge(alpha=1.0)


def _boosting(kind: Kind, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    if kind == "classification":
        return HistGradientBoostingClassifier(max_iter=100, random_state=seed)
    return HistGradientBoostingRegressor(max_iter=100, random_state=seed)


#: Model families the utility metrics train, by name: ``factory(kind, seed) -> estimator``.
MODEL_FAMILIES: dict[str, Callable[[Kind, int], Any]] = {"linear": _linear, "gradient_boosting": _boosting}


@dataclass(frozen=True, slots=True)
class Side:
    """Features and outcome of one side, with how many rows were left out and why."""

    x: np.ndarray
    y: np.ndarray
    positions: np.ndarray
    dropped_missing: int
    dropped_unknown: int = 0


@dataclass(frozen=True, slots=True)
class PredictionTask:
    """Real-train, synthetic and holdout-test sides of one prediction problem."""

    target: str
    kind: Kind
    classes: tuple[str, ...]
    real: Side
    synthetic: Side
    test: Side
    features: np.ndarray  # positions of the encoded features used

    def summary(self) -> dict[str, float | int | str]:
        return {
            "task": self.kind,
            "target": self.target,
            "classes": len(self.classes),
            "train_real_rows": len(self.real.y),
            "train_synthetic_rows": len(self.synthetic.y),
            "test_rows": len(self.test.y),
            "rows_without_outcome": self.real.dropped_missing
            + self.synthetic.dropped_missing
            + self.test.dropped_missing,
            "synthetic_rows_with_unseen_class": self.synthetic.dropped_unknown,
        }


def _is_classification(inputs: EvalInputs) -> bool:
    assert inputs.target is not None
    f = inputs.schema[inputs.target]
    if f.type in (FieldType.CATEGORICAL, FieldType.BOOLEAN, FieldType.TEXT):
        return True
    if f.type is FieldType.INTEGER:
        values = numeric_values(inputs.frame("real")[f.name])
        return len(np.unique(values[np.isfinite(values)])) <= MAX_INTEGER_CLASSES
    return False


def _side(
    inputs: EvalInputs,
    which: Literal["real", "synthetic", "holdout"],
    kind: Kind,
    classes: dict[str, int],
    features: np.ndarray,
    cap: int,
) -> Side:
    assert inputs.target is not None
    column = inputs.frame(which)[inputs.target]
    unknown = 0
    if kind == "classification":
        labels = pd.Series(category_labels(column))
        present = (labels != "<missing>").to_numpy()
        y = labels.map(classes).to_numpy(dtype=np.float64, na_value=np.nan)
        unknown = int((present & np.isnan(y)).sum())
        keep = np.flatnonzero(present & ~np.isnan(y))
    else:
        y = numeric_values(column)
        keep = np.flatnonzero(np.isfinite(y))
    missing = len(column) - len(keep) - unknown
    if len(keep) > cap:
        keep = np.sort(inputs.rng(f"utility-{which}").choice(keep, cap, replace=False))
    x = inputs.matrix(which)[np.ix_(keep, features)]
    yy = y[keep].astype(np.int64) if kind == "classification" else y[keep]
    return Side(x, yy, keep, missing, unknown)


def prediction_task(inputs: EvalInputs) -> PredictionTask:
    """The task of this evaluation, built once (needs a target and a holdout)."""

    def build() -> PredictionTask:
        assert inputs.target is not None
        kind: Kind = "classification" if _is_classification(inputs) else "regression"
        features = inputs.encoding().without(inputs.target)
        if kind == "classification":
            levels = pd.Series(category_labels(inputs.frame("real")[inputs.target])).value_counts().index
            names = tuple(sorted(str(v) for v in levels if v != "<missing>"))
        else:
            names = ()
        lookup = {name: i for i, name in enumerate(names)}
        return PredictionTask(
            inputs.target,
            kind,
            names,
            _side(inputs, "real", kind, lookup, features, MAX_TRAIN),
            _side(inputs, "synthetic", kind, lookup, features, MAX_TRAIN),
            _side(inputs, "holdout", kind, lookup, features, MAX_TEST),
            features,
        )

    return inputs.memo(("utility-task",), build)


def predict(model: Any, task: PredictionTask, x: np.ndarray) -> np.ndarray:
    """Class probabilities over all task classes (columns for classes the model never saw are 0), or values."""
    if task.kind == "regression":
        return np.asarray(model.predict(x), dtype=np.float64)
    proba = np.zeros((len(x), len(task.classes)))
    proba[:, np.asarray(model.classes_, dtype=np.int64)] = model.predict_proba(x)
    return proba


def auc(positive: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC from ranks (ties averaged): the Mann–Whitney statistic, as sklearn's roc_auc_score.

    Called hundreds of times per bootstrap, so it skips sklearn's per-call validation.
    """
    n1 = int(positive.sum())
    n0 = len(positive) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    from scipy.stats import rankdata

    ranks = rankdata(score)
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def skill(task: PredictionTask, y: np.ndarray, pred: np.ndarray) -> float:
    """0 = chance, 1 = perfect: Gini (2·AUC − 1, macro one-vs-rest) or R² clipped at 0."""
    if task.kind == "regression":
        resid = float(np.sum((y - pred) ** 2))
        total = float(np.sum((y - y.mean()) ** 2))
        return max(0.0, 1.0 - resid / total) if total > 0 else float("nan")
    present = np.unique(y)
    if len(present) < 2:
        return float("nan")
    if len(task.classes) == 2:
        area = auc(y == 1, pred[:, 1])
    else:
        area = float(np.mean([auc(y == c, pred[:, c]) for c in present]))
    return 2 * area - 1


def fit_family(family: str, task: PredictionTask, x: np.ndarray, y: np.ndarray, seed: int) -> Any | str:
    """A fitted model, or the reason none could be fitted (e.g. one class only)."""
    if task.kind == "classification" and len(np.unique(y)) < 2:
        return "the training data holds a single outcome class"
    if len(y) < 2:
        return "fewer than 2 training rows with an outcome"
    model = MODEL_FAMILIES[family](task.kind, seed)
    with one_native_thread():  # fits run side by side instead (map_over_cores), each on one thread
        model.fit(x, y)
    return model
