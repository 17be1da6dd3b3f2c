"""Class imbalance of the target(s): how rare the rarest outcome is."""

from __future__ import annotations

import numpy as np

from medsyn.data.dataset import Dataset, Modality
from medsyn.data.schema import Role
from medsyn.metric import METRICS, Detail, Direction, ItemResult, Metric, MetricKind, MetricResult, Status, Threshold
from medsyn.quality.tabular._common import table, target_fields, worst

__all__ = ["ClassImbalance"]


@METRICS.register("class_imbalance")
class ClassImbalance(Metric):
    """Imbalance of each target's classes: the commonest class's count over the rarest's.
    When an outcome is rare (few deaths, few readmissions), a model can score well by always
    predicting the common class, and the rare class — usually the one that matters clinically —
    is learnt poorly. The value is the worst imbalance ratio over the targets (1 = balanced);
    each target also reports its minority share and an entropy balance (1 = all classes equal).
    Targets with more than ``max_classes`` distinct values are treated as continuous and skipped.

    Parameters
    ----------
    max_classes
        Targets with more distinct values are treated as continuous.
    threshold
        Verdict on the imbalance ratio.
    """

    name = "class_imbalance"
    title = "Class imbalance of the target"
    modality = Modality.TABULAR
    kind = MetricKind.QUALITY
    direction = Direction.MINIMIZE
    ideal = 1.0
    unit = "majority / minority"
    default_threshold = Threshold(warn=4.0, fail=20.0)

    def __init__(self, *, max_classes: int = 20, threshold: Threshold | None = None) -> None:
        super().__init__(threshold=threshold)
        self.max_classes = max_classes

    def applies_to(self, data: Dataset) -> str | None:
        if not data.schema.by_role(Role.TARGET):
            return "no target in the schema (give the outcome column the role 'target')"
        return None

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        frame, schema = table(real)
        items: list[ItemResult] = []
        ratios: list[tuple[float, str]] = []
        for f in target_fields(schema):
            counts = frame[f.name].value_counts(dropna=True)
            if len(counts) > self.max_classes:
                items.append(
                    ItemResult(
                        "target",
                        f.name,
                        float("nan"),
                        Status.INFO,
                        f"{len(counts)} distinct values: a continuous target, no classes to balance",
                    )
                )
                continue
            if len(counts) < 2:
                items.append(
                    ItemResult(
                        "target",
                        f.name,
                        float("inf"),
                        Status.FAIL,
                        f"only one outcome value in {int(counts.sum())} filled rows: nothing to learn",
                        {"classes": len(counts)},
                    )
                )
                ratios.append((float("inf"), f.name))
                continue
            total = float(counts.sum())
            p = counts.to_numpy(dtype=float) / total
            ratio = float(counts.iloc[0] / counts.iloc[-1])
            balance = float(-(p * np.log(p)).sum() / np.log(len(p)))
            details: dict[str, Detail] = {
                "classes": len(counts),
                "minority_class": str(counts.index[-1]),
                "minority_share": float(p[-1]),
                "majority_class": str(counts.index[0]),
                "entropy_balance": balance,
            }
            for label, k in counts.items():
                details[f"n[{label}]"] = int(k)
            note = (
                f"rarest class '{counts.index[-1]}' is {p[-1]:.1%} of {int(total)} rows; the commonest "
                f"'{counts.index[0]}' is {ratio:.1f}× as frequent"
            )
            items.append(ItemResult("target", f.name, ratio, self.judge(ratio), note, details))
            for label, k in counts.items():
                items.append(
                    ItemResult(
                        "class",
                        f"{f.name}={label}",
                        float(k) / total,
                        Status.INFO,
                        f"{int(k)} rows",
                        {"n": int(k), "share": float(k) / total},
                    )
                )
            ratios.append((ratio, f.name))
        if not ratios:
            return self.skipped(
                f"no target has between 2 and {self.max_classes} classes (continuous targets have no class balance)"
            )
        value, which = max(ratios)
        status = worst(i.status for i in items)
        top = next(i for i in items if i.scope == "target" and i.key == which)
        reason = f"target '{which}': {top.note}"
        if status is Status.PASS:
            reason += " — balanced enough"
        elif status is not Status.FAIL:
            reason += "; consider stratified splits and class-aware metrics"
        else:
            reason += "; the rare outcome is too rare to learn without rebalancing or more data"
        return self.result(
            value, reason, status=status, items=items, details={"targets": len(ratios), "worst_target": which}
        )
