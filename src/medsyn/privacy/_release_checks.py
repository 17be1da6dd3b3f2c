"""Re-measure a released table: do the requested models hold on the values actually released?

The search decides on integer codes; this module starts again from the released table's values
(a pandas group-by over the released quasi-identifier columns, missing values included), so a
bug in encoding or labelling would show up as a failed check. Each :class:`ModelCheck` carries
the required and the achieved value, which is also what an infeasible request reports for the
whole table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from medsyn.privacy._criteria import LVariant, Requirements, SensitiveCodes, aggregate_pairs, emd

__all__ = ["ModelCheck", "RiskSummary", "check_release", "risk_summary"]


@dataclass(frozen=True, slots=True)
class ModelCheck:
    """One model on one table: required vs achieved (``at_least``: achieved must be ≥ required)."""

    model: str
    required: float
    achieved: float
    at_least: bool
    satisfied: bool

    @property
    def achieved_text(self) -> str:
        op = "≥" if self.at_least else "≤"
        return f"{self.achieved:.4g} (required {op} {self.required:g})"

    def to_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "required": self.required,
            "achieved": self.achieved,
            "rule": "at least" if self.at_least else "at most",
            "satisfied": self.satisfied,
        }


@dataclass(frozen=True, slots=True)
class RiskSummary:
    """Prosecutor re-identification risk from equivalence-class sizes."""

    records: int
    classes: int
    smallest_class: int
    max_risk: float
    avg_risk: float
    records_below_k: int

    def to_dict(self) -> dict[str, float | int]:
        return {
            "records": self.records,
            "classes": self.classes,
            "smallest_class": self.smallest_class,
            "max_risk": self.max_risk,
            "avg_risk": self.avg_risk,
            "records_below_k": self.records_below_k,
        }


def risk_summary(sizes: np.ndarray, k: int) -> RiskSummary:
    """Risk of a table whose classes have ``sizes`` records (``records_below_k``: in classes < k)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    sizes = sizes[sizes > 0]
    records = int(sizes.sum())
    if records == 0:
        return RiskSummary(0, 0, 0, 0.0, 0.0, 0)
    smallest = int(sizes.min())
    return RiskSummary(
        records,
        len(sizes),
        smallest,
        1.0 / smallest,
        len(sizes) / records,
        int(sizes[sizes < k].sum()),
    )


def _close(achieved: float, required: float, *, at_least: bool) -> bool:
    slack = 1e-9 * max(1.0, abs(required))
    return achieved >= required - slack if at_least else achieved <= required + slack


def check_release(
    frame: pd.DataFrame, quasi_identifiers: Sequence[str], sensitive: Sequence[str], req: Requirements
) -> tuple[ModelCheck, ...]:
    """Every requested model measured on ``frame`` (no quasi-identifiers: the whole table as one class)."""
    n = len(frame)
    if quasi_identifiers:
        group = frame.groupby(list(quasi_identifiers), dropna=False, observed=True, sort=False).ngroup().to_numpy()
    else:
        group = np.zeros(n, dtype=np.int64)
    sizes = np.bincount(group).astype(np.int64) if n else np.zeros(0, dtype=np.int64)
    smallest = int(sizes.min()) if len(sizes) else 0
    checks: list[ModelCheck] = []
    if req.k is not None:
        checks.append(ModelCheck("k-anonymity", req.k, smallest, True, _close(smallest, req.k, at_least=True)))
    if req.max_risk is not None:
        risk = 1.0 / smallest if smallest else 0.0
        checks.append(ModelCheck("max risk", req.max_risk, risk, False, _close(risk, req.max_risk, at_least=False)))
    if req.avg_risk is not None:
        avg = len(sizes) / n if n else 0.0
        checks.append(ModelCheck("average risk", req.avg_risk, avg, False, _close(avg, req.avg_risk, at_least=False)))
    ones = np.ones(n, dtype=np.int64)
    for name in sensitive:
        codes = SensitiveCodes.encode(frame[name], name=name, distance=req.t_distance)
        pairs = aggregate_pairs(group, codes.codes, ones, codes.size)
        if req.l is not None:
            achieved = _l_achieved(pairs.cls, pairs.count, sizes, req)
            label = f"{req.l_variant.value} l-diversity of '{name}'"
            checks.append(ModelCheck(label, req.l, achieved, True, _close(achieved, req.l, at_least=True)))
        if req.t is not None:
            distance = float(emd(pairs, sizes, codes).max()) if len(sizes) else 0.0
            label = f"t-closeness of '{name}' ({'ordered' if codes.ordered else 'equal'} EMD)"
            checks.append(ModelCheck(label, req.t, distance, False, _close(distance, req.t, at_least=False)))
    return tuple(checks)


def _l_achieved(cls: np.ndarray, counts: np.ndarray, sizes: np.ndarray, req: Requirements) -> float:
    """The smallest l any class reaches, in the requested variant."""
    n = len(sizes)
    if n == 0:
        return 0.0
    if req.l_variant is LVariant.DISTINCT:
        return float(np.bincount(cls, minlength=n).min())
    if req.l_variant is LVariant.ENTROPY:
        share = counts / sizes[cls]
        entropy = np.bincount(cls, weights=-share * np.log(share), minlength=n)
        return float(math.exp(entropy.min()))
    # recursive (c, l): the largest l for which the most frequent count < c × (r_l + r_{l+1} + …)
    order = np.lexsort((-counts, cls))
    c_sorted, k_sorted = cls[order], counts[order].astype(np.float64)
    starts = np.r_[0, np.flatnonzero(c_sorted[1:] != c_sorted[:-1]) + 1]
    lengths = np.diff(np.r_[starts, len(c_sorted)])
    class_total = np.add.reduceat(k_sorted, starts)
    before = np.cumsum(k_sorted) - k_sorted - np.repeat(np.cumsum(class_total) - class_total, lengths)
    tail = np.repeat(class_total, lengths) - before
    top = np.repeat(k_sorted[starts], lengths)
    reached = np.bincount(c_sorted, weights=(top < req.c * tail).astype(np.float64), minlength=n)
    return float(reached.min())
