"""Missingness: how much is missing, where, and whether it depends on a protected group."""

from __future__ import annotations

import numpy as np
import pandas as pd

from medsyn.data.dataset import Dataset, Modality, TabularDataset
from medsyn.data.schema import Role
from medsyn.metric import METRICS, Detail, Direction, ItemResult, Metric, MetricKind, MetricResult, Status, Threshold
from medsyn.quality.tabular._common import GroupCodes, missing_mask, protected_groups, table, worst

__all__ = ["Missingness", "MissingnessByGroup"]


@METRICS.register("missingness")
class Missingness(Metric):
    """Share of missing cells overall and per column; a column more than 30 % empty warns, 60 % fails.
    Missing values shrink the usable sample and, unless they are missing at random, bias every
    analysis restricted to complete records.

    The value is the overall share of missing cells. Each column is an item with its own share,
    so a report can show which fields a clinician should look at.

    Parameters
    ----------
    column_threshold
        Verdict for each column's missing share.
    threshold
        Verdict on the overall missing share.
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
        share = pd.Series(
            {col: float(missing_mask(frame, str(col)).mean()) if len(frame) else 0.0 for col in frame.columns},
            dtype=float,
        )
        items = [
            ItemResult(
                "column",
                str(col),
                float(v),
                self.column_threshold.judge(float(v), Direction.MINIMIZE),
                f"{round(v * len(frame))} of {len(frame)} missing",
            )
            for col, v in share.items()
        ]
        overall = float(np.mean(share.to_numpy())) if len(share) else 0.0
        top = max(items, key=lambda i: i.value, default=None)
        status = worst([self.judge(overall), *(i.status for i in items)])
        reason = f"{overall:.1%} of cells missing"
        if top is not None and top.value > 0:
            reason += f"; most in '{top.key}' ({top.value:.1%})"
        if status is Status.PASS:
            reason += " — within limits"
        details = {"columns_with_missing": int((share > 0).sum())}
        return self.result(overall, reason, status=status, items=items, details=details)


@METRICS.register("missingness_by_group")
class MissingnessByGroup(Metric):
    """Whether missing values depend on a protected group (sex, age band, race), per column.
    Data missing more often for one group (blood tests not ordered for women, weight not
    recorded for the elderly) bias every model and statistic built on the complete cases. For
    each column with missing values and each protected field, a chi-square test of the
    missing-value indicator against the group gives Cramér's V (0 = unrelated, 1 = missing
    exactly for one group); the value is the largest V. The group missing rates are reported.

    Parameters
    ----------
    alpha
        A pair is judged only when its chi-square test is significant at this level, so
        small tables do not flag noise.
    threshold
        Verdict on Cramér's V.
    """

    name = "missingness_by_group"
    title = "Missingness by protected group"
    modality = Modality.TABULAR
    kind = MetricKind.QUALITY
    direction = Direction.MINIMIZE
    ideal = 0.0
    default_threshold = Threshold(warn=0.10, fail=0.25)

    def __init__(self, *, alpha: float = 0.01, threshold: Threshold | None = None) -> None:
        super().__init__(threshold=threshold)
        self.alpha = alpha

    def applies_to(self, data: Dataset) -> str | None:
        if not data.schema.by_role(Role.PROTECTED):
            return "no protected field in the schema (give a column such as sex or age the role 'protected')"
        return None

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        frame, schema = table(real)
        protected = protected_groups(frame, schema)
        items: list[ItemResult] = []
        missing_cols = []
        for col in map(str, frame.columns):
            miss = missing_mask(frame, col)
            if not miss.any():
                continue
            missing_cols.append(col)
            for g in protected:
                if g.name == col:
                    continue
                item = self._pair(col, miss, g)
                if item is not None:
                    items.append(item)
        if not items:
            why = "no column has missing values" if not missing_cols else "no protected field has two groups"
            return self.result(0.0, f"{why}, so missingness cannot depend on a group", status=Status.PASS)
        top = max(items, key=lambda i: i.value)
        status = worst(i.status for i in items)
        reason = (
            f"missing values in '{top.details['column']}' depend most on '{top.details['group_field']}' "
            f"(Cramér's V {top.value:.2f}; {top.note})"
        )
        if status is Status.PASS:
            reason = f"missing values are spread evenly across protected groups (largest Cramér's V {top.value:.2f})"
        flagged = sum(i.status.severity >= Status.WARN.severity for i in items)
        return self.result(
            top.value,
            reason,
            status=status,
            items=items,
            details={"pairs_tested": len(items), "pairs_flagged": flagged, "alpha": self.alpha},
        )

    def _pair(self, col: str, miss: np.ndarray, g: GroupCodes) -> ItemResult | None:
        # One integer bincount over (group + 1) * 2 + missing: rows with no group fall into bins 0-1.
        size = len(g.labels) + 1
        both = np.bincount(g.codes * 2 + (2 + miss.astype(np.int64)), minlength=2 * size).reshape(size, 2)[1:]
        n_group = both.sum(axis=1).astype(float)
        n_miss = both[:, 1].astype(float)
        present = n_group > 0
        n_group, n_miss = n_group[present], n_miss[present]
        labels = [lab for lab, p in zip(g.labels, present, strict=True) if p]
        n = float(n_group.sum())
        total_miss = float(n_miss.sum())
        if len(labels) < 2 or n == 0 or total_miss in (0.0, n):
            return None
        observed = np.stack([n_miss, n_group - n_miss])
        expected = np.stack([n_group * total_miss / n, n_group * (n - total_miss) / n])
        chi2 = float(((observed - expected) ** 2 / expected).sum())
        dof = len(labels) - 1
        from scipy import stats

        p_value = float(stats.chi2.sf(chi2, dof))
        v = float(np.sqrt(chi2 / n))
        rates = n_miss / n_group
        status = self.judge(v) if p_value < self.alpha else Status.PASS
        hi, lo = int(np.argmax(rates)), int(np.argmin(rates))
        note = f"{rates[hi]:.1%} missing for {g.name}={labels[hi]} vs {rates[lo]:.1%} for {g.name}={labels[lo]}"
        details: dict[str, Detail] = {
            "column": col,
            "group_field": g.name,
            "chi2": chi2,
            "dof": dof,
            "p_value": p_value,
        }
        for lab, r, k in zip(labels, rates, n_group, strict=True):
            details[f"missing_rate[{lab}]"] = float(r)
            details[f"n[{lab}]"] = int(k)
        return ItemResult("column", f"{col} × {g.name}", v, status, note, details)
