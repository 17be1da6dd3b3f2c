"""Target leakage: single features that give the outcome away.

Each feature alone is scored by a shallow decision tree under cross-validation on a seeded
sample of at most ``sample_size`` rows, so the cost does not grow with the table. Missing values
stay missing (the trees split on them), which catches leaks such as "date of death is filled
only for patients who died".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from medsyn.data.dataset import Dataset, Modality
from medsyn.data.schema import Field, Role
from medsyn.metric import METRICS, Detail, Direction, ItemResult, Metric, MetricKind, MetricResult, Status, Threshold
from medsyn.quality.tabular._common import feature_fields, sample_positions, table, target_fields, worst

__all__ = ["TargetLeakage"]

_TOP_ITEMS = 5


def _encode(s: pd.Series) -> np.ndarray:
    """A column as float: numbers as they are, text as category codes; missing stays NaN."""
    if pd.api.types.is_numeric_dtype(s):
        return s.to_numpy(dtype=np.float64, na_value=np.nan)
    codes, _ = pd.factorize(s)
    out = codes.astype(np.float64)
    out[codes < 0] = np.nan
    return out


def _is_relabelled_copy(x: np.ndarray, y: np.ndarray) -> bool:
    """Whether ``x`` and ``y`` map one-to-one where ``x`` is filled (a renamed copy of the target)."""
    keep = ~np.isnan(x)
    if keep.sum() < 10:
        return False
    xv, yv = x[keep], y[keep]
    nx, ny = len(np.unique(xv)), len(np.unique(yv))
    pairs = len(np.unique(np.column_stack([xv, yv]), axis=0))
    return nx == ny == pairs and ny >= 2


@METRICS.register("target_leakage")
class TargetLeakage(Metric):
    """Features that predict the target (almost) perfectly on their own: likely leaks of the outcome.
    A column recorded after the outcome (a discharge code, a date of death, a copy of the
    label under another name) makes a model look excellent in development and fail in the
    clinic. Each feature alone is scored by a depth-``max_depth`` decision tree with
    ``folds``-fold cross-validation; the skill is balanced accuracy rescaled so that chance is 0
    and perfect is 1 (R² for a continuous target). The value is the highest skill of any feature.

    Parameters
    ----------
    sample_size, seed
        Rows (seeded sample) on which the trees are cross-validated.
    max_depth, folds
        Depth of each single-feature tree and number of cross-validation folds.
    max_classes
        Targets with more distinct values are treated as continuous (scored by R²).
    threshold
        Verdict on the best single-feature skill.
    """

    name = "target_leakage"
    title = "Target leakage"
    modality = Modality.TABULAR
    kind = MetricKind.QUALITY
    direction = Direction.MINIMIZE
    ideal = 0.0
    default_threshold = Threshold(warn=0.9, fail=0.98)

    def __init__(
        self,
        *,
        sample_size: int = 5_000,
        max_depth: int = 4,
        folds: int = 3,
        max_classes: int = 20,
        seed: int = 0,
        threshold: Threshold | None = None,
    ) -> None:
        super().__init__(threshold=threshold)
        self.sample_size = sample_size
        self.max_depth = max_depth
        self.folds = folds
        self.max_classes = max_classes
        self.seed = seed

    def applies_to(self, data: Dataset) -> str | None:
        if not data.schema.by_role(Role.TARGET):
            return "no target in the schema (give the outcome column the role 'target')"
        if not feature_fields(data.schema):
            return "no feature columns besides identifiers and targets"
        if len(data) < 30:
            return f"only {len(data)} rows; leakage needs at least 30 to cross-validate"
        return None

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        frame, schema = table(real)
        pos = sample_positions(len(frame), self.sample_size, self.seed)
        sample = frame if pos is None else frame.iloc[pos]
        features = feature_fields(schema)
        encoded = {f.name: _encode(sample[f.name]) for f in features}
        items: list[ItemResult] = []
        best = 0.0
        # Inputs are validated here once; sklearn's per-fit checks would cost more than the small trees.
        from sklearn import config_context

        with config_context(assume_finite=True, skip_parameter_validation=True):
            per_target = [self._target(sample[t.name], t, features, encoded) for t in target_fields(schema)]
        for found in per_target:
            if found:
                best = max(best, max(i.value for i in found))
                items.extend(found)
        if not items:
            return self.skipped("no target has enough filled rows in every class to cross-validate")
        status = worst(i.status for i in items)
        flagged = [i for i in items if i.status.severity >= Status.WARN.severity]
        if flagged:
            reason = "; ".join(i.note for i in flagged[:3])
            reason = f"{len(flagged)} features give the outcome away on their own: {reason}"
        else:
            top = max(items, key=lambda i: i.value)
            reason = f"no single feature predicts the outcome suspiciously well (best: {top.note})"
        details = {
            "rows_used": len(sample),
            "sampled": pos is not None,
            "folds": self.folds,
            "max_depth": self.max_depth,
            "seed": self.seed,
        }
        if pos is not None:
            reason += f" (estimated on a seeded sample of {len(pos):,} rows)"
        return self.result(best, reason, status=status, items=items, details=details)

    def _target(
        self, target: pd.Series, t: Field, features: list[Field], encoded: dict[str, np.ndarray]
    ) -> list[ItemResult]:
        filled = target.notna().to_numpy()
        counts = target[filled].value_counts()
        classify = len(counts) <= self.max_classes
        if classify:
            keep_classes = counts.index[counts >= self.folds]
            if len(keep_classes) < 2:
                return []
            filled &= target.isin(keep_classes).to_numpy()
            y = pd.factorize(target[filled])[0].astype(np.int64)
        elif pd.api.types.is_numeric_dtype(target):
            y = target[filled].to_numpy(dtype=np.float64)
        else:
            return []
        if len(y) < 30:
            return []
        folds = _folds(y if classify else None, len(y), self.folds, self.seed)
        scored: list[tuple[float, str, bool]] = []
        for f in features:
            x = encoded[f.name][filled]
            if np.all(np.isnan(x)):
                continue
            skill = self._skill(x, y, folds, classify)
            copy = classify and _is_relabelled_copy(x, y.astype(np.float64))
            scored.append((skill, f.name, copy))
        scored.sort(key=lambda s: -s[0])
        score = "balanced accuracy above chance" if classify else "R²"
        items = []
        for i, (skill, name, copy) in enumerate(scored):
            status = Status.FAIL if copy else self.judge(skill)
            if i >= _TOP_ITEMS and status.severity < Status.WARN.severity:
                break
            what = "is a relabelled copy of" if copy else f"predicts with skill {skill:.2f}"
            note = f"'{name}' alone {what} '{t.name}'"
            details: dict[str, Detail] = {"target": t.name, "feature": name, "copy_of_target": copy, "score": score}
            items.append(ItemResult("column", f"{name} → {t.name}", skill, status, note, details))
        return items

    def _skill(self, x: np.ndarray, y: np.ndarray, folds: list[np.ndarray], classify: bool) -> float:
        """Cross-validated skill of a shallow tree on one feature: 0 = chance, 1 = perfect."""

        from sklearn.metrics import r2_score
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

        scores = []
        xs = x.reshape(-1, 1)
        for test in folds:
            train = np.ones(len(y), dtype=bool)
            train[test] = False
            if classify:
                clf = DecisionTreeClassifier(max_depth=self.max_depth, min_samples_leaf=5, random_state=self.seed)
                pred = clf.fit(xs[train], y[train]).predict(xs[test])
                scores.append(_balanced_skill(y[test], pred))
            else:
                reg = DecisionTreeRegressor(max_depth=self.max_depth, min_samples_leaf=5, random_state=self.seed)
                scores.append(float(r2_score(y[test], reg.fit(xs[train], y[train]).predict(xs[test]))))
        return float(np.clip(np.mean(scores), 0.0, 1.0))


def _balanced_skill(y: np.ndarray, pred: np.ndarray) -> float:
    """Balanced accuracy (mean recall over the classes present) rescaled so chance is 0, perfect 1."""
    size = int(max(y.max(), pred.max())) + 1
    total = np.bincount(y, minlength=size)
    right = np.bincount(y[pred == y], minlength=size)
    present = total > 0
    k = int(present.sum())
    if k < 2:
        return 0.0
    recall = float(np.mean(right[present] / total[present]))
    return (recall - 1 / k) / (1 - 1 / k)


def _folds(y: np.ndarray | None, n: int, k: int, seed: int) -> list[np.ndarray]:
    """Test positions of ``k`` folds, stratified by class when ``y`` is given."""
    order = np.random.default_rng(seed).permutation(n)
    if y is not None:
        order = order[np.argsort(y[order], kind="stable")]  # classes dealt round-robin into folds
    return [np.sort(order[i::k]) for i in range(k)]
