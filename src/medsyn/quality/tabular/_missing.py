"""Missingness: how much is missing, where, and whether it depends on a protected group."""

from __future__ import annotations

import numpy as np
import pandas as pd

from medsyn.data.dataset import Dataset, Modality, TabularDataset
from medsyn.metric import METRICS, Direction, ItemResult, Metric, MetricKind, MetricResult, Status, Threshold

__all__ = ["Missingness"]


@METRICS.register("missingness")
class Missingness(Metric):
    """Share of missing cells overall and per column; a column more than 30 % empty warns, 60 % fails.

    The value is the overall share of missing cells. Each column is an item with its own share,
    so a report can show which fields a clinician should look at.
    """

    name = "missingness"
    title = "Missing values"
    modality = Modality.TABULAR
    kind = MetricKind.QUALITY
    direction = Direction.MINIMIZE
    ideal = 0.0
    default_threshold = Threshold(warn=0.05, fail=0.30)

    def __init__(self, *, column_threshold: Threshold | None = None, threshold: Threshold | None = None) -> None:
        super().__init__(threshold=threshold)
        self.column_threshold = column_threshold or Threshold(warn=0.30, fail=0.60)

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        assert isinstance(real, TabularDataset)
        frame: pd.DataFrame = real.data
        share = frame.isna().mean()
        items = [
            ItemResult(
                "column",
                str(col),
                float(v),
                self.column_threshold.judge(float(v), Direction.MINIMIZE),
                f"{int(round(v * len(frame)))} of {len(frame)} missing",
            )
            for col, v in share.items()
        ]
        overall = float(np.mean(share.to_numpy())) if len(share) else 0.0
        worst = max(items, key=lambda i: i.value, default=None)
        status = max([self.judge(overall), *(i.status for i in items)], key=lambda s: s.severity)
        reason = f"{overall:.1%} of cells missing"
        if worst is not None and worst.value > 0:
            reason += f"; most in '{worst.key}' ({worst.value:.1%})"
        if status is Status.PASS:
            reason += " — within limits"
        return self.result(overall, reason, status=status, items=items, details={"columns_with_missing": int((share > 0).sum())})
