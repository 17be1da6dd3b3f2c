"""Representativeness: who is in the table, group by group and in pairs of groups.

Group sizes come from ``np.bincount`` over integer group codes, and missingness per group from
one weighted ``bincount`` of the per-row count of missing cells, so a million rows cost a few
vectorised passes per protected field.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from medsyn.data.dataset import Dataset, Modality
from medsyn.data.schema import Field, Role
from medsyn.metric import METRICS, Detail, Direction, ItemResult, Metric, MetricKind, MetricResult, Status, Threshold
from medsyn.quality.tabular._common import GroupCodes, missing_mask, protected_groups, table, target_fields, worst

__all__ = ["Representativeness"]

_MAX_GROUPS = 50


def _positive_class(target: pd.Series) -> tuple[np.ndarray, str] | None:
    """A 0/1/NaN indicator of the target's rarest class (the outcome of interest), and its label."""
    counts = target.value_counts(dropna=True)
    if len(counts) < 2 or len(counts) > 20:
        return None
    label = counts.index[-1]
    hit = (target == label).to_numpy(dtype=np.float64)
    hit[target.isna().to_numpy()] = np.nan
    return hit, str(label)


def _missing_per_row(frame: pd.DataFrame, columns: list[str]) -> np.ndarray | None:
    """Missing cells per row over ``columns``, one column at a time (no boolean copy of the table)."""
    if not columns:
        return None
    out = np.zeros(len(frame), dtype=np.float64)
    for c in columns:
        out += missing_mask(frame, c)
    return out


@METRICS.register("representativeness")
class Representativeness(Metric):
    """Size, share, outcome prevalence and missingness of each protected group, and small groups.
    A group with very few records (women over 80, a minority ethnicity) cannot be learnt from
    or audited for fairness, and a group with a different outcome rate or more missing data is
    a bias a clinician must know about. Each protected field is split into groups (ages into
    <18, 18–39, 40–64, 65–79, 80+); groups and pairwise intersections with fewer than
    ``min_cell`` records are flagged. The value is the number of single-field groups below
    ``min_cell``; small intersections are reported without failing the check.

    Parameters
    ----------
    min_cell
        Groups (and intersections) with fewer records are flagged.
    intersections
        Whether pairs of protected fields are crossed.
    threshold
        Verdict on the number of small single-field groups.
    """

    name = "representativeness"
    title = "Representation of protected groups"
    modality = Modality.TABULAR
    kind = MetricKind.QUALITY
    direction = Direction.MINIMIZE
    ideal = 0.0
    unit = "small groups"
    default_threshold = Threshold(warn=0.0, fail=2.0)

    def __init__(self, *, min_cell: int = 10, intersections: bool = True, threshold: Threshold | None = None) -> None:
        super().__init__(threshold=threshold)
        self.min_cell = min_cell
        self.intersections = intersections

    def applies_to(self, data: Dataset) -> str | None:
        if not data.schema.by_role(Role.PROTECTED):
            return "no protected field in the schema (give a column such as sex, age or race the role 'protected')"
        return None

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        frame, schema = table(real)
        protected = schema.by_role(Role.PROTECTED)
        groups = protected_groups(frame, schema)
        others = [str(c) for c in frame.columns if c not in {f.name for f in protected}]
        missing_per_row = _missing_per_row(frame, others)
        targets = [(t, _positive_class(frame[t.name])) for t in target_fields(schema)]
        items: list[ItemResult] = []
        small_single = 0
        for g in groups:
            found = self._single(g, len(frame), missing_per_row, len(others), targets)
            small_single += sum(i.status.severity >= Status.WARN.severity for i in found)
            items.extend(found)
        small_cross = 0
        if self.intersections:
            for a, b in itertools.combinations(groups, 2):
                found = self._cross(a, b, len(frame))
                small_cross += len(found)
                items.extend(found)
        status = worst([self.judge(small_single), *(i.status for i in items)])
        smallest = min(
            (i for i in items if i.scope == "group" and "×" not in i.key),
            key=lambda i: float(i.details["n"] or 0),
            default=None,
        )
        if small_single:
            names = ", ".join(i.key for i in items if i.status.severity >= Status.WARN.severity)
            reason = (
                f"{small_single} protected groups have fewer than {self.min_cell} records ({names}): too few "
                "to learn from or to check a model's fairness for them"
            )
        else:
            reason = f"every protected group has at least {self.min_cell} records"
            if smallest is not None:
                reason += f" (smallest: {smallest.key}, n={smallest.details['n']}, {smallest.value:.1%})"
        if small_cross:
            reason += f"; {small_cross} intersections of two protected fields are smaller than {self.min_cell}"
        details: dict[str, Detail] = {
            "protected_fields": ", ".join(f.name for f in protected),
            "min_cell": self.min_cell,
            "small_intersections": small_cross,
        }
        return self.result(small_single, reason, status=status, items=items, details=details)

    def _single(
        self,
        g: GroupCodes,
        n_rows: int,
        missing_per_row: np.ndarray | None,
        n_other: int,
        targets: list[tuple[Field, tuple[np.ndarray, str] | None]],
    ) -> list[ItemResult]:
        k = len(g.labels)
        codes = np.where(g.codes >= 0, g.codes, k)  # missing group value → its own "(missing)" group
        n = np.bincount(codes, minlength=k + 1)
        labels = [*g.labels, "(missing)"]
        miss = (
            np.bincount(codes, weights=missing_per_row, minlength=k + 1) / np.maximum(n * n_other, 1)
            if missing_per_row is not None
            else np.zeros(k + 1)
        )
        prevalence: list[tuple[str, np.ndarray]] = []
        for t, pos in targets:
            if pos is None or t.name == g.name:
                continue
            hit, label = pos
            filled = ~np.isnan(hit)
            num = np.bincount(codes[filled], weights=hit[filled], minlength=k + 1)
            den = np.bincount(codes[filled], minlength=k + 1)
            with np.errstate(invalid="ignore", divide="ignore"):
                prevalence.append((f"prevalence[{t.name}={label}]", num / den))
        items = []
        for j in np.flatnonzero(n)[:_MAX_GROUPS]:
            share = n[j] / n_rows
            small = n[j] < self.min_cell
            details: dict[str, Detail] = {
                "field": g.name,
                "group": labels[j],
                "n": int(n[j]),
                "share": float(share),
                "missing_rate": float(miss[j]),
            }
            for key, values in prevalence:
                details[key] = float(values[j])
            note = f"{int(n[j])} records ({share:.1%})"
            if prevalence:
                note += f", outcome {prevalence[0][0][len('prevalence[') : -1]} in {prevalence[0][1][j]:.1%}"
            if small:
                note = f"only {note}: fewer than {self.min_cell}"
            items.append(
                ItemResult(
                    "group", f"{g.name}={labels[j]}", float(share), Status.WARN if small else Status.INFO, note, details
                )
            )
        return items

    def _cross(self, a: GroupCodes, b: GroupCodes, n_rows: int) -> list[ItemResult]:
        """Intersections of two fields that exist in the data but hold fewer than ``min_cell`` records."""
        keep = (a.codes >= 0) & (b.codes >= 0)
        kb = len(b.labels)
        n = np.bincount(a.codes[keep] * kb + b.codes[keep], minlength=len(a.labels) * kb).reshape(-1, kb)
        rows_a, rows_b = n.sum(axis=1) >= self.min_cell, n.sum(axis=0) >= self.min_cell
        items = []
        for i, j in zip(*np.nonzero((n < self.min_cell) & rows_a[:, None] & rows_b[None, :]), strict=True):
            key = f"{a.name}={a.labels[i]} × {b.name}={b.labels[j]}"
            items.append(
                ItemResult(
                    "group",
                    key,
                    float(n[i, j] / n_rows),
                    Status.INFO,
                    f"intersection with only {int(n[i, j])} records",
                    {
                        "field": f"{a.name} × {b.name}",
                        "group": f"{a.labels[i]} × {b.labels[j]}",
                        "n": int(n[i, j]),
                        "share": float(n[i, j] / n_rows),
                    },
                )
            )
        return items[:_MAX_GROUPS]
