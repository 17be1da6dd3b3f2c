"""Information loss of a generalised table: what anonymisation cost, and what the search minimises.

Measures (all 0 for the original table except discernibility and the class size):

- ``ncp`` — normalised certainty penalty (GCP, Xu et al. 2006): the mean over records and
  quasi-identifiers of each cell's generalisation penalty (share of the value range for numbers
  and dates, (leaves − 1) / (all leaves − 1) for categories); a suppressed cell costs 1.
- ``entropy`` — non-uniform entropy (Gionis & Tassa 2009): bits of information lost per cell,
  −log2 P(original value | released value), summed, as a share of the bits lost when everything
  is suppressed.
- ``discernibility`` — Σ |class|² over released classes plus n per suppressed record.
- ``avg_class_size`` — C_avg: (released records / classes) / k.

Each measure the lattice search can minimise also gives a cheap *lower bound* per lattice node,
computed from per-column marginals before any class is formed; the search skips nodes whose
bound exceeds the best loss found. For ``ncp`` and ``entropy`` the bound is exact when nothing
is suppressed, because they add up per column.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from medsyn._registry import Registry
from medsyn.privacy._hierarchy import Hierarchy

__all__ = ["LOSSES", "Loss", "LossReport", "LossTables", "loss_report"]


@dataclass(frozen=True, eq=False)
class LossTables:
    """Per quasi-identifier and level, what generalising costs, from how often each value occurs."""

    n: int
    spans: tuple[tuple[np.ndarray, ...], ...]
    ncp: tuple[np.ndarray, ...]
    entropy: tuple[np.ndarray, ...]
    entropy_extra: tuple[tuple[np.ndarray, ...], ...]
    entropy_max: float

    @classmethod
    def build(cls, hierarchies: Sequence[Hierarchy], leaf_counts: Sequence[np.ndarray], n: int) -> LossTables:
        ncp, entropy, extra = [], [], []
        for h, counts in zip(hierarchies, leaf_counts, strict=True):
            counts = counts.astype(np.float64)
            per_level_ncp, per_level_bits, per_level_extra = [], [], []
            for level in range(h.height):
                groups = h.table[level]
                per_level_ncp.append(float(counts @ h.spans[level][groups]) / max(n, 1))
                group_counts = np.bincount(groups, weights=counts, minlength=h.groups(level))
                with np.errstate(divide="ignore", invalid="ignore"):
                    bits = np.where(counts > 0, counts * np.log2(group_counts[groups] / counts), 0.0)
                    per_level_extra.append(np.where(group_counts > 0, np.log2(max(n, 1) / group_counts), 0.0))
                per_level_bits.append(float(bits.sum()))
            ncp.append(np.asarray(per_level_ncp))
            entropy.append(np.asarray(per_level_bits))
            extra.append(tuple(per_level_extra))
        entropy_max = float(sum(e[-1] for e in entropy))
        return cls(n, tuple(h.spans for h in hierarchies), tuple(ncp), tuple(entropy), tuple(extra), entropy_max)

    def ncp_bound(self, levels: np.ndarray) -> np.ndarray:
        """Mean NCP of every node (rows of ``levels``) with nothing suppressed."""
        total = np.zeros(len(levels))
        for j, per_level in enumerate(self.ncp):
            total += per_level[levels[:, j]]
        return total / max(len(self.ncp), 1)

    def entropy_bound(self, levels: np.ndarray) -> np.ndarray:
        total = np.zeros(len(levels))
        for j, per_level in enumerate(self.entropy):
            total += per_level[levels[:, j]]
        return total / self.entropy_max if self.entropy_max > 0 else total

    def ncp_extra(self, levels: Sequence[int], codes: np.ndarray, sizes: np.ndarray) -> float:
        """Added NCP when the classes (group ``codes`` at ``levels``, ``sizes`` records) are suppressed."""
        if len(sizes) == 0:
            return 0.0
        cells = np.zeros(len(sizes))
        for j, level in enumerate(levels):
            cells += 1.0 - self.spans[j][level][codes[:, j]]
        return float(sizes @ cells) / (max(self.n, 1) * max(len(levels), 1))

    def entropy_extra_share(self, levels: Sequence[int], codes: np.ndarray, sizes: np.ndarray) -> float:
        if len(sizes) == 0 or self.entropy_max <= 0:
            return 0.0
        bits = np.zeros(len(sizes))
        for j, level in enumerate(levels):
            bits += self.entropy_extra[j][level][codes[:, j]]
        return float(sizes @ bits) / self.entropy_max


class Loss(ABC):
    """A loss the lattice search can minimise: exact value per node, and a lower bound per node."""

    name: ClassVar[str]
    #: the bound equals the loss whenever no record is suppressed
    exact_unsuppressed: ClassVar[bool]

    def __init__(self, tables: LossTables, n_classes_base: int) -> None:
        self.tables = tables
        self.n_classes_base = n_classes_base

    @abstractmethod
    def bound(self, levels: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """A lower bound of the loss of every node; ``groups[i, j]`` = groups of QI j at node i."""

    @abstractmethod
    def value(
        self, levels: Sequence[int], codes: np.ndarray, sizes: np.ndarray, suppressed: np.ndarray, bound: float
    ) -> float:
        """The loss of a node whose classes are (``codes``, ``sizes``), ``suppressed`` classes removed."""

    def successor_bound(self, sizes: np.ndarray) -> float | None:
        """A bound every less-specific node inherits from this node's classes (``None``: none)."""
        return None


LOSSES = Registry[type[Loss]]("loss")


@LOSSES.register("ncp")
class NcpLoss(Loss):
    """Normalised certainty penalty (GCP), suppressed cells counted as fully generalised."""

    name = "ncp"
    exact_unsuppressed = True

    def bound(self, levels: np.ndarray, groups: np.ndarray) -> np.ndarray:
        return self.tables.ncp_bound(levels)

    def value(
        self, levels: Sequence[int], codes: np.ndarray, sizes: np.ndarray, suppressed: np.ndarray, bound: float
    ) -> float:
        if not suppressed.any():
            return bound
        return bound + self.tables.ncp_extra(levels, codes[suppressed], sizes[suppressed])


@LOSSES.register("entropy")
class EntropyLoss(Loss):
    """Non-uniform entropy, as a share of the entropy lost when everything is suppressed."""

    name = "entropy"
    exact_unsuppressed = True

    def bound(self, levels: np.ndarray, groups: np.ndarray) -> np.ndarray:
        return self.tables.entropy_bound(levels)

    def value(
        self, levels: Sequence[int], codes: np.ndarray, sizes: np.ndarray, suppressed: np.ndarray, bound: float
    ) -> float:
        if not suppressed.any():
            return bound
        return bound + self.tables.entropy_extra_share(levels, codes[suppressed], sizes[suppressed])


@LOSSES.register("discernibility")
class DiscernibilityLoss(Loss):
    """Discernibility: Σ |class|² over released classes + n × suppressed records."""

    name = "discernibility"
    exact_unsuppressed = False

    def bound(self, levels: np.ndarray, groups: np.ndarray) -> np.ndarray:
        # Σ e² ≥ n² / (number of classes) (Cauchy–Schwarz); classes ≤ possible combinations and
        # ≤ the classes of the original table; suppressing a record costs n ≥ its class size.
        n = float(self.tables.n)
        combos = np.prod(groups.astype(np.float64), axis=1)
        return np.asarray(n * n / np.minimum(combos, float(max(self.n_classes_base, 1))), dtype=np.float64)

    def value(
        self, levels: Sequence[int], codes: np.ndarray, sizes: np.ndarray, suppressed: np.ndarray, bound: float
    ) -> float:
        kept = sizes[~suppressed].astype(np.float64)
        return float(kept @ kept) + float(self.tables.n) * float(sizes[suppressed].sum())

    def successor_bound(self, sizes: np.ndarray) -> float | None:
        as_float = sizes.astype(np.float64)
        return float(as_float @ as_float)


@dataclass(frozen=True, slots=True)
class LossReport:
    """Information loss of one version of a table (original or released)."""

    ncp: float
    entropy: float
    discernibility: float
    avg_class_size: float
    classes: int
    records: int
    suppressed: int

    def to_dict(self) -> dict[str, float | int]:
        return {
            "ncp": self.ncp,
            "entropy": self.entropy,
            "discernibility": self.discernibility,
            "avg_class_size": self.avg_class_size,
            "classes": self.classes,
            "records": self.records,
            "suppressed": self.suppressed,
        }


def loss_report(
    tables: LossTables,
    levels: Sequence[int],
    codes: np.ndarray,
    sizes: np.ndarray,
    suppressed: np.ndarray,
    *,
    k: int,
) -> LossReport:
    """Every measure for one lattice node (its classes, with ``suppressed`` classes removed)."""
    row = np.asarray([levels], dtype=np.int64)
    ncp = float(tables.ncp_bound(row)[0]) + tables.ncp_extra(levels, codes[suppressed], sizes[suppressed])
    entropy = float(tables.entropy_bound(row)[0]) + tables.entropy_extra_share(
        levels, codes[suppressed], sizes[suppressed]
    )
    kept = sizes[~suppressed].astype(np.float64)
    n_supp = int(sizes[suppressed].sum())
    dm = float(kept @ kept) + float(tables.n) * n_supp
    classes = int((~suppressed).sum())
    avg = (float(kept.sum()) / classes / max(k, 1)) if classes else 0.0
    return LossReport(ncp, entropy, dm, avg, classes, int(kept.sum()), n_supp)
