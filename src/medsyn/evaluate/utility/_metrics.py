"""Utility metrics: train on synthetic, test on real (TSTR) against train on real (TRTR).

Every metric here tests on the holdout (real records the generator never saw) and needs a
target. Models of each family in :data:`~medsyn.evaluate.utility._task.MODEL_FAMILIES` are fitted
once per evaluation on the real training data and on the synthetic data, and shared by the
metrics. Confidence intervals resample the holdout records (the evaluation's shared resamples),
with the models fixed: they say how sure the test set makes us, not how a refit would vary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from medsyn.data.dataset import Modality
from medsyn.evaluate._base import EvalMetric, clip01
from medsyn.evaluate._inputs import EvalInputs, percentile_ci
from medsyn.evaluate._parallel import cores_for, map_over_cores, one_native_thread
from medsyn.evaluate.utility._task import (
    MAX_TEST,
    MAX_TRAIN,
    MODEL_FAMILIES,
    PredictionTask,
    fit_family,
    predict,
    prediction_task,
    skill,
)
from medsyn.metric import METRICS, Direction, ItemResult, MetricKind, MetricResult, Status, Threshold

__all__ = ["AugmentationGain", "FeatureImportanceAgreement", "TstrUtility", "TstrUtilityByGroup"]

#: Below this real skill (Gini / R²) the target is not predictable enough for a ratio to mean anything.
MIN_REAL_SKILL = 0.02
#: Rows used for permutation importances.
IMPORTANCE_ROWS = 2_000


@dataclass(frozen=True, slots=True)
class FamilyFit:
    """One model family trained on real and on synthetic data, with its test predictions."""

    family: str
    real_model: Any | None
    synthetic_model: Any | None
    real_pred: np.ndarray | None
    synthetic_pred: np.ndarray | None
    why_not: str  # why the synthetic model could not be fitted ("" when it was)


def family_fits(inputs: EvalInputs) -> list[FamilyFit]:
    """Each family fitted once per evaluation (cached)."""

    def fit() -> list[FamilyFit]:
        task = prediction_task(inputs)
        jobs = [(family, side) for family in MODEL_FAMILIES for side in (task.real, task.synthetic)]

        def fit_one(j: int) -> tuple[Any | str, np.ndarray | None]:
            family, side = jobs[j]
            model = fit_family(family, task, side.x, side.y, inputs.seed)
            return model, None if isinstance(model, str) else _predict(model, task)

        # independent fits, each on one thread, side by side once they are big enough to gain
        # (small fits are mostly Python: two of 8k records take 0.87 s in turn, 0.81 s side by side)
        done = map_over_cores(fit_one, len(jobs), workers=cores_for(len(task.real.y)))
        out = []
        for k, family in enumerate(MODEL_FAMILIES):
            (real, real_pred), (syn, syn_pred) = done[2 * k], done[2 * k + 1]
            out.append(
                FamilyFit(
                    family,
                    None if isinstance(real, str) else real,
                    None if isinstance(syn, str) else syn,
                    real_pred,
                    syn_pred,
                    syn if isinstance(syn, str) else "",
                )
            )
        return out

    return inputs.memo(("utility-fits",), fit)


def _predict(model: Any, task: PredictionTask) -> np.ndarray:
    with one_native_thread():
        return predict(model, task, task.test.x)


def _test_rows(inputs: EvalInputs, task: PredictionTask, b: int | None, subset: np.ndarray | None = None) -> np.ndarray:
    """Rows of the test side: all (b=None) or replicate b's resample of the holdout, within ``subset``."""
    n_holdout = len(inputs.frame("holdout"))
    row_of = np.full(n_holdout, -1, dtype=np.int64)
    row_of[task.test.positions] = np.arange(len(task.test.positions))
    if subset is not None:
        allowed = np.zeros(n_holdout, dtype=bool)
        allowed[subset] = True
        row_of[~allowed] = -1
    picked = np.arange(n_holdout) if b is None else inputs.resample("holdout", b)
    rows = row_of[picked]
    return rows[rows >= 0]


def _ratios(task: PredictionTask, fits: list[FamilyFit], rows: np.ndarray) -> dict[str, tuple[float, float, float]]:
    """Per family: (TSTR skill, TRTR skill, ratio) on the given test rows; families without real skill left out."""
    y = task.test.y[rows]
    out = {}
    for f in fits:
        if f.real_pred is None:
            continue
        real = skill(task, y, f.real_pred[rows])
        if not real > MIN_REAL_SKILL:
            continue
        syn = 0.0 if f.synthetic_pred is None else skill(task, y, f.synthetic_pred[rows])
        # worse than chance counts as no skill
        out[f.family] = (syn, real, max(0.0, 0.0 if math.isnan(syn) else syn) / real)
    return out


class _UtilityMetric(EvalMetric):
    modality = Modality.TABULAR
    kind = MetricKind.UTILITY
    needs_holdout = True
    needs_target = True

    def why_not(self, inputs: EvalInputs) -> str | None:
        why = super().why_not(inputs)
        if why is not None:
            return why
        task = prediction_task(inputs)
        if len(task.real.y) < 10 or len(task.test.y) < 10:
            return f"needs at least 10 real training and 10 holdout rows with a '{task.target}' value"
        return None

    def _caps(self, task: PredictionTask) -> dict[str, float | int | str | bool | None]:
        return {**task.summary(), "max_train_rows": MAX_TRAIN, "max_test_rows": MAX_TEST}


@METRICS.register("tstr_utility")
class TstrUtility(_UtilityMetric):
    """Skill of models trained on synthetic data relative to those trained on real data, on real holdout records.

    For each model family (linear, gradient boosting) the skill on the holdout — Gini ``2·AUC − 1``
    for a classification, R² (≥ 0) for a regression — of the model trained on synthetic data is
    divided by that of the same family trained on the real training data; the value is the mean
    ratio. 1 means the synthetic data teaches as much as the real data. Families that show no
    skill even on real data are left out (their ratio is meaningless). The CI resamples the
    holdout. Score: ``min(1, ratio)``.
    """

    name = "tstr_utility"
    title = "Train synthetic, test real (utility ratio)"
    direction = Direction.MAXIMIZE
    ideal = 1.0
    unit = "ratio"
    default_threshold = Threshold(warn=0.9, fail=0.7)

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        task = prediction_task(inputs)
        fits = family_fits(inputs)
        ratios = _ratios(task, fits, _test_rows(inputs, task, None))
        if not ratios:
            return self.skipped(f"models trained on the real data show no skill at predicting '{task.target}'")
        value = float(np.mean([r for _, _, r in ratios.values()]))
        reps = []
        for b in range(inputs.n_bootstrap):
            rep = _ratios(task, fits, _test_rows(inputs, task, b))
            if rep:
                reps.append(float(np.mean([r for _, _, r in rep.values()])))
        items = [
            ItemResult(
                "model family",
                family,
                ratio,
                self.judge(ratio),
                note=f"TSTR skill {syn:.3f} vs TRTR {real:.3f}"
                + (f" ({fit.why_not})" if (fit := next(f for f in fits if f.family == family)).why_not else ""),
                details={"tstr_skill": syn, "trtr_skill": real},
            )
            for family, (syn, real, ratio) in ratios.items()
        ]
        worst = min(ratios, key=lambda k: ratios[k][2])
        return self.result(
            value,
            f"synthetic-trained models reach {value:.0%} of the real-trained skill (worst: {worst})",
            items=items,
            details=self._caps(task),
            ci=percentile_ci(np.array(reps)) if reps else None,
            replicates=reps if len(reps) == inputs.n_bootstrap else (),
        )

    def score(self, value: float) -> float:
        return clip01(value)


@METRICS.register("tstr_utility_by_group")
class TstrUtilityByGroup(_UtilityMetric):
    """The utility ratio within each protected group of the holdout; the value is the worst group's.

    Same models as ``tstr_utility``, tested on each group's holdout records separately: synthetic
    data can teach a model that works for the majority and fails women or the over-80s. Groups
    with too few holdout records, or without both outcome classes, are listed, not scored.
    Reported, not part of the utility score (it repeats ``tstr_utility`` by group).
    """

    name = "tstr_utility_by_group"
    title = "Utility ratio by protected group (worst group)"
    direction = Direction.MAXIMIZE
    ideal = 1.0
    unit = "ratio"
    default_threshold = Threshold(warn=0.85, fail=0.6)
    needs_groups = True
    scored = False

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        task = prediction_task(inputs)
        fits = family_fits(inputs)
        groups, notes = inputs.groups()
        items = []
        for g in groups:
            if g.holdout is None:
                continue
            rows = _test_rows(inputs, task, None, g.holdout)
            ratios = _ratios(task, fits, rows) if len(rows) >= 20 else {}
            if not ratios:
                note = f"{len(rows)} test rows; no skill to compare"
                items.append(ItemResult("group", g.key, math.nan, Status.SKIPPED, note=note))
                continue
            ratio = float(np.mean([r for _, _, r in ratios.values()]))
            items.append(ItemResult("group", g.key, ratio, self.judge(ratio), note=f"{len(rows)} holdout rows"))
        scored = [i for i in items if not math.isnan(i.value)]
        if not scored:
            return self.skipped("no protected group has enough holdout records with both outcomes")
        worst = min(scored, key=lambda i: i.value)
        return self.result(
            worst.value,
            f"worst group {worst.key}: {worst.value:.0%} of the real-trained skill",
            items=items,
            details={**self._caps(task), "groups_not_measured": len(notes)},
        )

    def score(self, value: float) -> float:
        return clip01(value)


def _importances(
    model: Any, task: PredictionTask, x: np.ndarray, y: np.ndarray, blocks: list[np.ndarray], rng: np.random.Generator
) -> np.ndarray:
    """Permutation importance per original column (its encoded features shuffled together)."""
    base = skill(task, y, predict(model, task, x))
    out = np.zeros(len(blocks))
    for j, cols in enumerate(blocks):
        drops = []
        for _ in range(2):
            shuffled = x.copy()
            shuffled[:, cols] = x[rng.permutation(len(x))][:, cols]
            drops.append(base - skill(task, y, predict(model, task, shuffled)))
        out[j] = float(np.mean(drops))
    return out


@METRICS.register("feature_importance_agreement")
class FeatureImportanceAgreement(_UtilityMetric):
    """Rank agreement (Spearman) between the feature importances learnt from synthetic and from real data.

    A gradient-boosting model is fitted on each; the permutation importance of every original
    column (its encoded features shuffled together, two repeats) is measured on up to 2,000
    holdout records. 1 means the synthetic data teaches the same reasons for a prediction; low
    or negative values mean a model learns other drivers from it. Score: the correlation
    clipped to [0, 1].
    """

    name = "feature_importance_agreement"
    title = "Feature-importance agreement (synthetic vs real)"
    direction = Direction.MAXIMIZE
    ideal = 1.0
    unit = "Spearman ρ"
    default_threshold = Threshold(warn=0.7, fail=0.4)

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        task = prediction_task(inputs)
        fit = next((f for f in family_fits(inputs) if f.family == "gradient_boosting"), None)
        if fit is None or fit.real_model is None or fit.synthetic_model is None:
            return self.skipped(f"no gradient-boosting model on both sides ({fit.why_not if fit else 'no family'})")
        rng = inputs.rng(self.name)
        rows = np.arange(len(task.test.y))
        if len(rows) > IMPORTANCE_ROWS:
            rows = np.sort(rng.choice(rows, IMPORTANCE_ROWS, replace=False))
        x, y = task.test.x[rows], task.test.y[rows]
        slices = inputs.encoding().slices()
        names = [n for n in slices if n != task.target]
        position = {int(f): i for i, f in enumerate(task.features)}
        blocks = [np.array([position[j] for j in range(slices[n].start, slices[n].stop)]) for n in names]
        with one_native_thread():
            real = _importances(fit.real_model, task, x, y, blocks, rng)
            syn = _importances(fit.synthetic_model, task, x, y, blocks, rng)
        if np.ptp(real) == 0 or np.ptp(syn) == 0:
            return self.skipped("importances are constant on one side (no column matters to the model)")
        from scipy.stats import spearmanr

        rho = float(spearmanr(real, syn).statistic)
        order = np.argsort(-real)
        items = [
            ItemResult(
                "column",
                names[j],
                float(syn[j]),
                Status.INFO,
                note=f"real importance {real[j]:.4f}",
                details={"real_importance": float(real[j]), "synthetic_importance": float(syn[j])},
            )
            for j in order
        ]
        top = min(5, len(names))
        overlap = len(set(np.argsort(-real)[:top]) & set(np.argsort(-syn)[:top])) / top
        return self.result(
            rho,
            f"importance ranks agree with ρ = {rho:.2f}; {overlap:.0%} of the real top-{top} columns"
            f" are in the synthetic top-{top}",
            items=items,
            details={**self._caps(task), "top_overlap": overlap, "rows": len(rows)},
        )

    def score(self, value: float) -> float:
        return clip01(value)


@METRICS.register("augmentation_gain")
class AugmentationGain(_UtilityMetric):
    """Change in holdout skill when synthetic records are added to the real training data.

    Each family is trained on the real training data plus as many synthetic records (at most
    as many as real ones), and its skill (Gini or R²) on the holdout is compared with the same
    family trained on the real data alone; the value is the mean difference. Positive: the
    synthetic data adds information (e.g. for rare groups); negative: it misleads. Score:
    1 for any gain, falling linearly to 0 at a loss of 0.1 (Gini or R²).
    """

    name = "augmentation_gain"
    title = "Augmentation gain (real + synthetic vs real)"
    direction = Direction.MAXIMIZE
    ideal = 0.0
    unit = "skill difference"
    default_threshold = Threshold(warn=-0.02, fail=-0.1)

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        task = prediction_task(inputs)
        rng = inputs.rng(self.name)
        n_syn = min(len(task.synthetic.y), len(task.real.y))
        pick = rng.choice(len(task.synthetic.y), n_syn, replace=False)
        x = np.vstack([task.real.x, task.synthetic.x[pick]])
        y = np.concatenate([task.real.y, task.synthetic.y[pick]])
        gains, items, real_skills = [], [], []
        all_fits = family_fits(inputs)
        real_skill = {f.family: skill(task, task.test.y, f.real_pred) for f in all_fits if f.real_pred is not None}
        fits = [f for f in all_fits if real_skill.get(f.family, math.nan) > MIN_REAL_SKILL]

        def augmented(j: int) -> Any | str:
            return fit_family(fits[j].family, task, x, y, inputs.seed)

        models = map_over_cores(augmented, len(fits), workers=cores_for(len(y)))  # side by side, as above
        for fit, model in zip(fits, models, strict=True):
            real = real_skill[fit.family]
            if isinstance(model, str):
                continue
            both = skill(task, task.test.y, _predict(model, task))
            gains.append(both - real)
            real_skills.append(real)
            items.append(
                ItemResult(
                    "model family",
                    fit.family,
                    both - real,
                    self.judge(both - real),
                    note=f"skill {both:.3f} with synthetic vs {real:.3f} without",
                )
            )
        if not gains:
            return self.skipped(f"models trained on the real data show no skill at predicting '{task.target}'")
        value = float(np.mean(gains))
        return self.result(
            value,
            f"adding {n_syn} synthetic records changes holdout skill by {value:+.3f}",
            items=items,
            details={**self._caps(task), "synthetic_rows_added": n_syn, "real_skill": float(np.mean(real_skills))},
        )

    def score(self, value: float) -> float:
        if math.isnan(value):
            return math.nan
        return clip01(1.0 + min(value, 0.0) / 0.1)
