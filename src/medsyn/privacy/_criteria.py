"""The privacy models anonymisation enforces, checked per equivalence class on integer codes.

This is the *search's* fast path: the lattice search and Mondrian check thousands of candidate
partitions, so every check here works on a class-size vector and a sparse table of
(class, sensitive value, count) triples, with no per-record Python. The independent measuring
path (:mod:`medsyn.privacy._models`) re-checks the released table from its values.

Models: k-anonymity; l-diversity (distinct, entropy, recursive (c, l)); t-closeness with the
equal-distance or the ordered Earth Mover's Distance to the whole table's distribution; a
limit on the maximum re-identification risk (1 / smallest class, i.e. a k) and on the average
risk (classes / records, prosecutor model). Which of them are monotone, and therefore safe for
predictive tagging in the lattice, depends on whether records may be suppressed:
:meth:`Requirements.monotone_models` says.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

from medsyn.errors import Problem

__all__ = [
    "LVariant",
    "Pairs",
    "Requirements",
    "SensitiveCodes",
    "TDistance",
    "aggregate_pairs",
    "class_violations",
    "needs_order",
]

_EPS = 1e-12


class LVariant(StrEnum):
    """Which l-diversity: distinct values, entropy ≥ log l, or recursive (c, l)."""

    DISTINCT = "distinct"
    ENTROPY = "entropy"
    RECURSIVE = "recursive"


class TDistance(StrEnum):
    """Ground distance of t-closeness: ``equal``, ``ordered``, or ``auto`` (ordered for numbers, ordered categories)."""

    AUTO = "auto"
    EQUAL = "equal"
    ORDERED = "ordered"


@dataclass(frozen=True, slots=True)
class Requirements:
    """What a released table must satisfy, and how many records may be suppressed to get there.

    Parameters
    ----------
    k
        Every record shares its quasi-identifiers with at least ``k - 1`` others (``None``: no k).
    l, l_variant, c
        l-diversity of every sensitive attribute in every class: ``distinct`` (≥ l values),
        ``entropy`` (entropy ≥ log l) or ``recursive`` (most frequent count < c × the sum of
        the counts from the l-th most frequent on).
    t, t_distance
        t-closeness: each class's sensitive distribution within Earth Mover's Distance ``t`` of
        the whole table's (ordered distance for numbers, equal distance for categories).
    max_risk, avg_risk
        Limits on the prosecutor re-identification risk: the largest (1 / smallest class) and
        the average over records (classes / records).
    max_suppression
        Share of records that may be removed (record suppression) to satisfy the models.
    """

    k: int | None = 5
    l: float | None = None  # noqa: E741  (the model's name)
    l_variant: LVariant = LVariant.DISTINCT
    c: float = 1.0
    t: float | None = None
    t_distance: TDistance = TDistance.AUTO
    max_risk: float | None = None
    avg_risk: float | None = None
    max_suppression: float = 0.0

    def problems(self) -> list[Problem]:
        """Parameter values that make no sense, each with what was expected."""
        out: list[Problem] = []
        if self.k is not None and (isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1):
            out.append(Problem("k", repr(self.k), "a whole number ≥ 1"))
        if self.l is not None and not self.l >= 1:
            out.append(Problem("l", repr(self.l), "a number ≥ 1"))
        if self.l is not None and self.l_variant is not LVariant.ENTROPY and self.l != int(self.l):
            out.append(Problem("l", repr(self.l), f"a whole number for {self.l_variant.value} l-diversity"))
        if not self.c > 0:
            out.append(Problem("c", repr(self.c), "a positive number (recursive (c, l)-diversity)"))
        if self.t is not None and not 0 <= self.t <= 1:
            out.append(Problem("t", repr(self.t), "a distance in [0, 1]"))
        for name in ("max_risk", "avg_risk"):
            value = getattr(self, name)
            if value is not None and not 0 < value <= 1:
                out.append(Problem(name, repr(value), "a probability in (0, 1]"))
        if not 0 <= self.max_suppression <= 1:
            out.append(Problem("max_suppression", repr(self.max_suppression), "a share in [0, 1]"))
        if not out and self.min_class_size < 2 and self.l is None and self.t is None and self.avg_risk is None:
            out.append(Problem("privacy models", "none requested", "k ≥ 2, l, t, max_risk or avg_risk"))
        return out

    @property
    def min_class_size(self) -> int:
        """The smallest class allowed: k, or 1 / max_risk when that is stricter."""
        size = self.k or 1
        if self.max_risk is not None:
            size = max(size, math.ceil(1 / self.max_risk - 1e-9))
        return size

    @property
    def needs_sensitive(self) -> bool:
        return self.l is not None or self.t is not None

    def suppression_limit(self, n: int) -> int:
        """How many of ``n`` records may be suppressed."""
        return math.floor(self.max_suppression * n + 1e-9)

    def models(self) -> frozenset[str]:
        """The class-based models in force: ``k``, ``l-distinct``/``l-entropy``/``l-recursive``, ``t``."""
        out = set()
        if self.min_class_size > 1:
            out.add("k")
        if self.l is not None:
            out.add(f"l-{self.l_variant.value}")
        if self.t is not None:
            out.add("t")
        return frozenset(out)

    def monotone_models(self, *, suppression: bool) -> frozenset[str]:
        """Models whose violations can only shrink as the data is generalised.

        Without suppression every model here is monotone (k, every l-diversity, t-closeness with
        either EMD, average risk). With suppression, a class that violates entropy/recursive
        l-diversity or t-closeness may be the union of a violating and a satisfying class, so
        generalising can *add* suppressed records: only k and distinct l-diversity stay monotone.
        """
        models = self.models()
        if not suppression:
            return models
        return frozenset(m for m in models if m in {"k", "l-distinct"})

    def to_dict(self) -> dict[str, object]:
        return {
            "k": self.k,
            "l": self.l,
            "l_variant": self.l_variant.value,
            "c": self.c,
            "t": self.t,
            "t_distance": self.t_distance.value,
            "max_risk": self.max_risk,
            "avg_risk": self.avg_risk,
            "max_suppression": self.max_suppression,
        }

    def describe(self) -> str:
        parts = []
        if self.k is not None:
            parts.append(f"{self.k}-anonymity")
        if self.l is not None:
            extra = f", c={self.c:g}" if self.l_variant is LVariant.RECURSIVE else ""
            parts.append(f"{self.l_variant.value} {self.l:g}-diversity{extra}")
        if self.t is not None:
            parts.append(f"{self.t:g}-closeness ({self.t_distance.value} EMD)")
        if self.max_risk is not None:
            parts.append(f"max risk ≤ {self.max_risk:g}")
        if self.avg_risk is not None:
            parts.append(f"average risk ≤ {self.avg_risk:g}")
        return ", ".join(parts) + f"; at most {self.max_suppression:.2%} of records suppressed"


@dataclass(frozen=True, eq=False)
class SensitiveCodes:
    """A sensitive attribute as integer codes, with the whole table's distribution of them."""

    name: str
    codes: np.ndarray
    values: pd.Index
    distribution: np.ndarray
    ordered: bool

    @property
    def size(self) -> int:
        return len(self.values)

    @classmethod
    def encode(cls, values: pd.Series, *, name: str, distance: TDistance) -> SensitiveCodes:
        """Codes in value order (so the ordered EMD walks the values in order); missing last."""
        numeric = pd.api.types.is_numeric_dtype(values.dtype) and not isinstance(values.dtype, pd.CategoricalDtype)
        ordered_cat = isinstance(values.dtype, pd.CategoricalDtype) and bool(values.cat.ordered)
        if ordered_cat:
            codes = values.cat.codes.to_numpy().astype(np.int64)
            uniques = pd.Index(values.cat.categories)
        else:
            codes, uniques = pd.factorize(values, sort=True)
            codes = np.asarray(codes, dtype=np.int64)
            uniques = pd.Index(uniques)
        missing = codes < 0
        if missing.any():
            codes = np.where(missing, len(uniques), codes)
            uniques = (
                uniques.append(pd.Index([None], dtype=object))
                if uniques.dtype == object
                else pd.Index([*uniques.astype(object), None], dtype=object)
            )
        counts = np.bincount(codes, minlength=len(uniques)).astype(np.float64)
        ordered = distance is TDistance.ORDERED or (distance is TDistance.AUTO and (numeric or ordered_cat))
        return cls(name, codes.astype(np.int32), uniques, counts / max(len(codes), 1), ordered)


@dataclass(frozen=True, eq=False)
class Pairs:
    """Sparse per-class counts of a sensitive attribute: rows sorted by (class, value)."""

    cls: np.ndarray
    value: np.ndarray
    count: np.ndarray

    def __len__(self) -> int:
        return len(self.cls)


def aggregate_pairs(
    cls: np.ndarray, value: np.ndarray, count: np.ndarray, n_values: int, *, ordered: bool = True
) -> Pairs:
    """Sum ``count`` over equal (class, value) pairs; sorted by class then value when ``ordered``.

    Only the ordered EMD needs the order; without it the pairs are found by hashing (O(n)).
    """
    key = cls.astype(np.int64) * n_values + value
    if ordered:
        uniq, inverse = np.unique(key, return_inverse=True)
    else:
        inverse, uniq = pd.factorize(key)
    summed = np.bincount(inverse, weights=count, minlength=len(uniq)).astype(np.int64)
    return Pairs(uniq // n_values, (uniq % n_values).astype(np.int32), summed)


def class_violations(
    models: frozenset[str],
    sizes: np.ndarray,
    pairs: Sequence[Pairs],
    sensitive: Sequence[SensitiveCodes],
    req: Requirements,
) -> np.ndarray:
    """Boolean per class: does it break any of ``models``? (``sizes[c]`` > 0 for every class.)"""
    bad = np.zeros(len(sizes), dtype=bool)
    if "k" in models:
        bad |= sizes < req.min_class_size
    for table, attr in zip(pairs, sensitive, strict=True):
        if req.l is not None and f"l-{req.l_variant.value}" in models:
            bad |= ~_l_diverse(table, sizes, req)
        if req.t is not None and "t" in models:
            bad |= emd(table, sizes, attr) > req.t + _EPS
    return bad


def needs_order(req: Requirements, sensitive: Sequence[SensitiveCodes]) -> bool:
    """Whether the pair tables must be sorted (the ordered EMD walks each class's values in order)."""
    return req.t is not None and any(s.ordered for s in sensitive)


def _l_diverse(p: Pairs, sizes: np.ndarray, req: Requirements) -> np.ndarray:
    assert req.l is not None
    n = len(sizes)
    distinct = np.bincount(p.cls, minlength=n)
    if req.l_variant is LVariant.DISTINCT:
        return distinct >= req.l
    if req.l_variant is LVariant.ENTROPY:
        share = p.count / sizes[p.cls]
        entropy = np.bincount(p.cls, weights=-share * np.log(share), minlength=n)
        return entropy >= math.log(req.l) - 1e-9
    order = np.lexsort((-p.count, p.cls))
    cls, counts = p.cls[order], p.count[order]
    starts = np.r_[0, np.flatnonzero(cls[1:] != cls[:-1]) + 1]
    rank = np.arange(len(cls)) - np.repeat(starts, np.diff(np.r_[starts, len(cls)]))
    top = np.bincount(cls, weights=np.where(rank == 0, counts, 0), minlength=n)
    tail = np.bincount(cls, weights=np.where(rank >= int(req.l) - 1, counts, 0), minlength=n)
    return (distinct >= req.l) & (top < req.c * tail)


def emd(p: Pairs, sizes: np.ndarray, attr: SensitiveCodes) -> np.ndarray:
    """Earth Mover's Distance of every class's distribution to the whole table's, in [0, 1]."""
    n, q = len(sizes), attr.distribution
    share = p.count / sizes[p.cls]
    if not attr.ordered or attr.size < 2:
        # equal distance: half the L1 distance; absent values contribute their q
        part = np.bincount(p.cls, weights=np.abs(share - q[p.value]) - q[p.value], minlength=n)
        return np.asarray(np.clip(0.5 * (1.0 + part), 0.0, 1.0), dtype=np.float64)
    # ordered distance: sum_i |P_i - Q_i| / (S - 1) over cumulative distributions. P is a step
    # function per class (constant between the class's values), Q is increasing, so each step's
    # sum of |P - Q_i| splits where Q crosses P and comes from prefix sums of Q.
    size = attr.size
    big_q = np.cumsum(q)
    prefix = np.r_[0.0, np.cumsum(big_q)]
    cls, value = p.cls, p.value.astype(np.int64)
    first = np.r_[True, cls[1:] != cls[:-1]]
    starts = np.flatnonzero(first)
    running = np.cumsum(p.count)
    offset = np.repeat(running[starts] - p.count[starts], np.diff(np.r_[starts, len(cls)]))
    step = (running - offset) / sizes[cls]
    same_next = np.r_[~first[1:], False]
    lo = value
    hi = np.where(same_next, np.r_[value[1:], 0], size)
    cross = np.clip(np.searchsorted(big_q, step, side="left"), lo, hi)
    seg = step * (cross - lo) - (prefix[cross] - prefix[lo]) + (prefix[hi] - prefix[cross]) - step * (hi - cross)
    total = np.bincount(cls, weights=seg, minlength=n) + np.bincount(
        cls[first], weights=prefix[value[first]], minlength=n
    )
    return np.asarray(np.clip(total / (size - 1), 0.0, 1.0), dtype=np.float64)
