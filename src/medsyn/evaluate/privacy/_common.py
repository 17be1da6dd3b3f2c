"""What the privacy metrics share: their base class, record samples, paired bootstraps, AUCs, exact codes.

- :class:`PrivacyMetric` — tabular, kind ``privacy``, needs a holdout unless a subclass says not.
- Large inputs are *sampled, never truncated*: a side with more than ``max_records`` records is
  attacked on a seeded random sample of that many (:func:`sample_positions`), the same sample for
  every privacy metric of the evaluation; the details say how many records were used.
- Confidence intervals reuse the evaluation's shared bootstrap resamples
  (:meth:`EvalInputs.resample`): replicate ``b`` of a privacy metric weighs each sampled record by
  how often replicate ``b`` drew it (:func:`replicate_weights`), so the scorecard can pair it with
  replicate ``b`` of every other metric.
- :func:`exact_codes` gives every compared column (all but identifiers and free text) as integer
  codes shared by the training, synthetic and holdout tables: numbers by rank of their exact value
  (so order predicates work on codes), categories by their text (1, 1.0 and "1" agree; categories
  the training data lacks keep their own codes, unlike the pooled ``<other>`` of the encoding); a
  missing value is always code −1. :func:`row_keys` turns a table of codes into one exact integer per
  distinct record (mixed-radix, no hashing, so no collisions).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from medsyn.data.dataset import Modality
from medsyn.data.schema import Role
from medsyn.evaluate._base import EvalMetric
from medsyn.evaluate._encode import MISSING, category_labels, is_numeric_field, numeric_values
from medsyn.evaluate._inputs import EvalInputs, Side, percentile_ci
from medsyn.metric import MetricKind, Threshold

__all__ = [
    "MAX_RECORDS",
    "ExactCodes",
    "PrivacyMetric",
    "Roc",
    "exact_codes",
    "feature_index",
    "replicate_weights",
    "roc",
    "row_keys",
    "sample_positions",
    "sensitive_columns",
    "weighted_ci",
]

#: Records per side that a distance or membership metric attacks; larger sides are sampled (a share
#: or an AUC from 20,000 records is known to ±0.01).
MAX_RECORDS = 20_000


class PrivacyMetric(EvalMetric):
    """Base of the privacy metrics of synthetic tables (a holdout is needed unless a metric says not)."""

    modality = Modality.TABULAR
    kind = MetricKind.PRIVACY
    needs_holdout: ClassVar[bool] = True
    #: The fewest records each side must hold for the metric to mean anything.
    min_records: ClassVar[int] = 2

    def __init__(self, *, threshold: Threshold | None = None, max_records: int = MAX_RECORDS) -> None:
        super().__init__(threshold=threshold)
        self.max_records = max_records

    def why_not(self, inputs: EvalInputs) -> str | None:
        why = super().why_not(inputs)
        if why is not None:
            return why
        if not inputs.feature_fields():
            return "no column to compare: every column is an identifier or free text"
        sides: list[Side] = ["real", "synthetic", "holdout"] if self.needs_holdout else ["real", "synthetic"]
        short = [f"{s} has {len(inputs.frame(s))}" for s in sides if len(inputs.frame(s)) < self.min_records]
        if short:
            return f"needs at least {self.min_records} records per side ({', '.join(short)})"
        return None

    def _sampled(self, inputs: EvalInputs, side: Side) -> np.ndarray:
        return sample_positions(inputs, side, self.max_records)


def sample_positions(inputs: EvalInputs, side: Side, cap: int) -> np.ndarray:
    """All positions of ``side`` when it holds at most ``cap`` records, else a seeded sample (sorted)."""

    def draw() -> np.ndarray:
        n = len(inputs.frame(side))
        if n <= cap:
            return np.arange(n)
        return np.sort(inputs.rng(f"privacy-sample-{side}").choice(n, cap, replace=False))

    return inputs.memo(("privacy-sample", side, cap), draw)


#: Replicates widened to double precision at once in :func:`weighted_means`.
_MEAN_ROWS = 16


def replicate_weights(inputs: EvalInputs, side: Side, positions: np.ndarray) -> np.ndarray:
    """(n_bootstrap × len(positions)) weights: how often replicate ``b`` resampled each position."""

    def compute() -> np.ndarray:
        n = len(inputs.frame(side))
        out = np.empty((inputs.n_bootstrap, len(positions)), dtype=np.float32)
        for b in range(inputs.n_bootstrap):
            out[b] = np.bincount(inputs.resample(side, b), minlength=n)[positions]
        return out

    key = ("privacy-weights", side, len(positions), zlib.crc32(np.ascontiguousarray(positions).tobytes()))
    return inputs.memo(key, compute)


def weighted_ci(replicates: np.ndarray) -> tuple[tuple[float, float] | None, tuple[float, ...]]:
    """Percentile CI and the replicate tuple; no CI when a replicate is undefined (NaN)."""
    reps = np.asarray(replicates, dtype=np.float64)
    if len(reps) == 0 or np.isnan(reps).any():
        return None, ()
    return percentile_ci(reps), tuple(float(v) for v in reps)


def weighted_means(terms: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Replicate means ``Σ w·t / Σ w`` (NaN where a replicate drew none of the records).

    In double precision, a few replicates at a time: the single-precision weights are widened
    per block, not as a whole second copy.
    """
    t = np.asarray(terms, dtype=np.float64)
    sums = np.empty(len(weights))
    for start in range(0, len(weights), _MEAN_ROWS):
        sums[start : start + _MEAN_ROWS] = weights[start : start + _MEAN_ROWS].astype(np.float64) @ t
    total = weights.sum(axis=1, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(sums / total)


# -- ROC of a score separating members from non-members -----------------------------------------
@dataclass(frozen=True, slots=True)
class Roc:
    """Scores of members and non-members, tied values grouped once so AUCs are O(n) per replicate."""

    member_group: np.ndarray  # tie-group of each member score (groups sorted by score ascending)
    other_group: np.ndarray
    n_groups: int

    def auc(self, member_weights: np.ndarray | None = None, other_weights: np.ndarray | None = None) -> float:
        """P(member score > non-member score) + ½ P(tie), records weighted (bootstrap) or not."""
        w1 = np.bincount(self.member_group, weights=member_weights, minlength=self.n_groups)
        w0 = np.bincount(self.other_group, weights=other_weights, minlength=self.n_groups)
        total = w1.sum() * w0.sum()
        if total <= 0:
            return math.nan
        below = np.cumsum(w0) - w0
        return float((w1 * (below + 0.5 * w0)).sum() / total)

    def advantage(self) -> tuple[float, float]:
        """The largest TPR − FPR over thresholds (membership advantage) and the score rank where it is reached."""
        w1 = np.bincount(self.member_group, minlength=self.n_groups)[::-1]
        w0 = np.bincount(self.other_group, minlength=self.n_groups)[::-1]
        tpr = np.cumsum(w1) / max(w1.sum(), 1)
        fpr = np.cumsum(w0) / max(w0.sum(), 1)
        gap = tpr - fpr
        best = int(np.argmax(gap))
        return float(max(gap[best], 0.0)), float(tpr[best])


def roc(member_scores: np.ndarray, other_scores: np.ndarray) -> Roc:
    """Group the pooled scores (higher = more likely a member) for :meth:`Roc.auc`."""
    pooled = np.concatenate([member_scores, other_scores]).astype(np.float64)
    pooled[np.isnan(pooled)] = -np.inf
    uniques, inverse = np.unique(pooled, return_inverse=True)
    n1 = len(member_scores)
    return Roc(inverse[:n1], inverse[n1:], len(uniques))


# -- columns ------------------------------------------------------------------------------------
def feature_index(inputs: EvalInputs, columns: Sequence[str]) -> np.ndarray:
    """Positions in the shared encoding of the features that encode ``columns``."""
    wanted = set(columns)
    out: list[np.ndarray] = []
    at = 0
    for c in inputs.encoding().columns:
        if c.name in wanted:
            out.append(np.arange(at, at + c.width))
        at += c.width
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def sensitive_columns(inputs: EvalInputs) -> tuple[list[str], str]:
    """Columns an attacker would want to learn: role ``sensitive``, else the target; and which rule chose them."""
    names = {f.name for f in inputs.feature_fields()}
    sensitive = [f.name for f in inputs.schema.by_role(Role.SENSITIVE) if f.name in names]
    if sensitive:
        return sensitive, "columns with the role 'sensitive'"
    if inputs.target is not None and inputs.target in names:
        return [inputs.target], f"no column has the role 'sensitive'; the target '{inputs.target}' is the secret"
    return [], "no column has the role 'sensitive' and there is no target"


# -- exact codes --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ExactCodes:
    """Every compared column as int32 codes over real, synthetic and holdout; −1 is a missing value.

    ``codes`` is (columns × records), the sides concatenated in :attr:`spans` order; numbers are
    ranks of their exact values (``values[c][code]`` is the value), categories codes of ``labels``.
    """

    columns: tuple[str, ...]
    numeric: np.ndarray
    codes: np.ndarray
    values: tuple[np.ndarray, ...]
    spans: dict[str, tuple[int, int]]

    def side(self, side: Side) -> np.ndarray:
        lo, hi = self.spans[side]
        return self.codes[:, lo:hi]

    def text(self, column: int, code: int) -> str:
        """A code as the value it stands for."""
        if code < 0:
            return "missing"
        value = self.values[column][code]
        return f"{value:g}" if isinstance(value, float | np.floating) else str(value)


def _numeric_codes(values: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    pooled = np.concatenate(values)
    finite = np.isfinite(pooled)
    uniques, inverse = np.unique(pooled[finite], return_inverse=True)
    codes = np.full(len(pooled), -1, dtype=np.int32)
    codes[finite] = inverse.astype(np.int32)
    return codes, uniques


def _categorical_codes(texts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Codes of every distinct category over all sides (none pooled: exact equality), missing −1."""
    pooled = np.concatenate(texts)
    codes, labels = pd.factorize(pooled)
    codes = codes.astype(np.int32)
    missing = np.flatnonzero(np.asarray(labels, dtype=object) == MISSING)
    if len(missing):
        codes[codes == missing[0]] = -1
    return codes, np.asarray(labels, dtype=object)


def exact_codes(inputs: EvalInputs) -> ExactCodes:
    """The exact codes of the evaluation (cached)."""

    def compute() -> ExactCodes:
        fields = inputs.feature_fields()
        all_sides: tuple[Side, ...] = ("real", "synthetic", "holdout")
        sides = [s for s in all_sides if inputs.data(s) is not None]
        spans: dict[str, tuple[int, int]] = {}
        at = 0
        for s in sides:
            n = len(inputs.frame(s))
            spans[s] = (at, at + n)
            at += n
        codes = np.empty((len(fields), at), dtype=np.int32)
        values = []
        for i, f in enumerate(fields):
            if is_numeric_field(f):
                codes[i], uniq = _numeric_codes([numeric_values(inputs.frame(s)[f.name]) for s in sides])
            else:
                codes[i], uniq = _categorical_codes([category_labels(inputs.frame(s)[f.name]) for s in sides])
            values.append(uniq)
        numeric = np.array([is_numeric_field(f) for f in fields], dtype=bool)
        return ExactCodes(tuple(f.name for f in fields), numeric, codes, tuple(values), spans)

    return inputs.memo(("privacy-exact-codes",), compute)


def row_keys(codes: np.ndarray) -> np.ndarray:
    """One int64 per record, equal exactly when two records agree on every column (codes: columns × records).

    Columns are combined mixed-radix while the product fits in 62 bits, then re-factorised, so the
    key never overflows and never collides.
    """
    n = codes.shape[1]
    key = np.zeros(n, dtype=np.int64)
    bound = 1
    for column in codes:
        radix = int(column.max(initial=-1)) + 2
        if bound * radix >= 2**62:
            key = pd.factorize(key)[0].astype(np.int64)
            bound = int(key.max(initial=0)) + 1
        key = key * radix + (column.astype(np.int64) + 1)
        bound *= radix
    return np.asarray(pd.factorize(key)[0], dtype=np.int64)
