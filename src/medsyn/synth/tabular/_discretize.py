"""Bins for numeric model columns: the integer-coded table that graphical-model generators count.

A :class:`Discretizer` turns a model table (see :mod:`._plan`) into a matrix of integer codes,
one column per model column, and turns codes back into a model table. Categorical columns
keep their category codes. A numeric column gets up to ``bins`` bins:

- private (``private=True``): bins from the column's *public* bounds ``low`` and ``high`` only
  (from the schema; the data is never looked at), so they cost no privacy budget. Equal width
  in general; equal *ratio* for a positive measurement whose bounds span a factor of 10 or
  more (not whole numbers, ``0 < low``, ``high >= 10·low``: lab values and concentrations,
  which are right-skewed, so equal-width bins would put most records in the first bin).
  Values are uniform within a private bin, so ``edges`` say all there is. A whole-number column gets
  bins that hold whole numbers (edges at half-integers, one bin per value when the range has
  at most ``bins`` values);
- otherwise: one bin per distinct value when the column has at most ``bins`` of them (small
  scores and counts are then exact), else bins at the column's quantiles, so each holds about
  the same share of rows; a value held by at least 1/``bins`` of the rows (the zeros of a
  zero-inflated lab value) gets a bin of its own, which may add a few bins.

Decoding draws a value inside each row's bin. Within a bin the value follows a piecewise-linear
quantile function with ``KNOTS + 1`` knots: equally spaced from one edge to the other (a uniform
draw) under privacy, the training values' own quantiles in the bin otherwise (so a spike such
as a zero-inflated lab value, or the shape of a wide tail bin, is kept).

The state is plain arrays (:meth:`to_state` / :meth:`from_state`): per numeric column its
edges and a ``(bins, KNOTS + 1)`` array of within-bin knots. :meth:`allowed` tells a sampler
which codes can meet a condition, so it can draw under the condition exactly.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from medsyn.synth.tabular._plan import ModelColumn
>>> cols = [ModelColumn("age", "numeric", low=0, high=100, integer=True), ModelColumn("sex", "categorical", ("F", "M"))]
>>> table = pd.DataFrame({"age": [30.0, 45.0, 80.0], "sex": pd.Categorical(["F", "M", "F"])})
>>> disc = Discretizer.fit(table, cols, bins=10, private=True)
>>> disc.sizes.tolist()
[10, 2]
>>> disc.encode(table).tolist()
[[2, 0], [4, 1], [7, 0]]
>>> disc.edges["age"][2:4].tolist()  # whole ages 22-32 share a bin
[21.5, 32.5]
>>> back = disc.decode(disc.encode(table), np.random.default_rng(0))
>>> disc.encode(back).tolist() == disc.encode(table).tolist()
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from medsyn.data.conditions import Conditions
from medsyn.synth.tabular._plan import ModelColumn

__all__ = ["Discretizer"]

#: within-bin knots (a bin's quantile function is linear between them)
KNOTS = 16
#: a positive measured column whose public bounds span this ratio gets equal-ratio (log) bins
_RATIO = 10.0


class Discretizer:
    """Numeric model columns ↔ bin codes; categorical columns ↔ category codes.

    Build it with :meth:`fit`; ``edges`` and ``knots`` map each numeric column to its bin edges
    (``bins + 1`` increasing values) and within-bin knots (``(bins, KNOTS + 1)``).
    """

    def __init__(
        self, columns: Sequence[ModelColumn], edges: Mapping[str, np.ndarray], knots: Mapping[str, np.ndarray]
    ) -> None:
        self.columns = list(columns)
        self.edges = {k: np.asarray(v, dtype=float) for k, v in edges.items()}
        self.knots = {k: np.asarray(v, dtype=float) for k, v in knots.items()}
        missing = [c.name for c in self.columns if c.kind == "numeric" and c.name not in self.edges]
        bad = [k for k, v in self.knots.items() if v.ndim != 2 or v.shape[0] != self.edges[k].size - 1]
        if missing or bad:
            raise ValueError(f"bins missing for {missing}, malformed for {bad}")

    # -- learning ---------------------------------------------------------------------------
    @classmethod
    def fit(
        cls, table: pd.DataFrame, columns: Sequence[ModelColumn], *, bins: int = 20, private: bool = False
    ) -> Discretizer:
        """Bins for every numeric column of ``table``.

        Parameters
        ----------
        table
            A model table (float64 numbers, Categorical categories, nothing missing).
        columns
            Its model columns.
        bins
            Bins per numeric column (>= 1): at most this many, except that without privacy a
            value held by >= 1/``bins`` of the rows adds a bin of its own.
        private
            Use only the public bounds ``low``/``high`` of each column (the data is not read).

        Raises
        ------
        ValueError
            ``private`` and a numeric column without finite bounds (the table plan prevents it).
        """
        if bins < 1:
            raise ValueError(f"bins must be >= 1, got {bins}")
        edges: dict[str, np.ndarray] = {}
        knots: dict[str, np.ndarray] = {}
        for col in columns:
            if col.kind != "numeric":
                continue
            if private:
                if not (math.isfinite(col.low) and math.isfinite(col.high)):
                    raise ValueError(f"column '{col.name}' has no public bounds to bin by")
                e = _public_edges(col.low, col.high, bins, col.integer)
                k = np.linspace(e[:-1], e[1:], KNOTS + 1, axis=1)
            else:
                e, k = _quantile_bins(table[col.name].to_numpy(dtype=float), bins)
            edges[col.name], knots[col.name] = e, k
        return cls(columns, edges, knots)

    @property
    def sizes(self) -> np.ndarray:
        """Number of codes of each column (bins, or categories), in column order."""
        return np.array(
            [self.edges[c.name].size - 1 if c.kind == "numeric" else len(c.categories) for c in self.columns],
            dtype=np.int64,
        )

    # -- codes ------------------------------------------------------------------------------
    def encode(self, table: pd.DataFrame) -> np.ndarray:
        """An ``(n, columns)`` int64 matrix of codes; values outside the bins go to the end bins."""
        out = np.empty((len(table), len(self.columns)), dtype=np.int64)
        for j, col in enumerate(self.columns):
            if col.kind == "numeric":
                e = self.edges[col.name]
                x = table[col.name].to_numpy(dtype=float)
                out[:, j] = np.searchsorted(e[1:-1], x, side="right")
            else:
                out[:, j] = np.asarray(table[col.name].cat.codes, dtype=np.int64)
        return out

    def decode(self, codes: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
        """The model table for ``codes``: categories by code, numbers drawn inside their bin."""
        out: dict[str, object] = {}
        n = codes.shape[0]
        for j, col in enumerate(self.columns):
            c = codes[:, j]
            if col.kind == "numeric":
                k = self.knots[col.name]
                pos = rng.random(n) * (k.shape[1] - 1)
                i = np.minimum(pos.astype(np.int64), k.shape[1] - 2)
                lo, hi = k[c, i], k[c, i + 1]
                out[col.name] = lo + (pos - i) * (hi - lo)
            else:
                out[col.name] = pd.Categorical.from_codes(c, categories=pd.Index(list(col.categories)))
        return pd.DataFrame(out, index=range(n))

    def allowed(self, conditions: Conditions) -> dict[int, np.ndarray]:
        """Per conditioned column (by position), which codes can decode to a value meeting ``conditions``.

        A numeric bin is allowed when the range it decodes into meets the condition's interval,
        widened by 1 % of the bin width so rounding at the edge never excludes a bin that can
        hold a valid value. The masks may allow more than is valid (the caller verifies rows),
        never less: a sampler restricted to them stays exact.
        """
        out: dict[int, np.ndarray] = {}
        for j, col in enumerate(self.columns):
            if col.name not in conditions.columns:
                continue
            if col.kind == "numeric":
                low, high, _, _ = conditions.interval(col.name)
                k = self.knots[col.name]
                slack = 0.01 * (k[:, -1] - k[:, 0]) + 1e-9 * np.maximum(1.0, np.abs(k[:, -1]))
                out[j] = (k[:, 0] - slack <= high) & (k[:, -1] + slack >= low)
            else:
                ok = set(conditions.allowed(col.name, list(col.categories)))
                out[j] = np.array([c in ok for c in col.categories], dtype=bool)
        return out

    # -- state ------------------------------------------------------------------------------
    def to_state(self, prefix: str = "bins") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(plain JSON, named arrays); array names start with ``prefix/``."""
        arrays = {f"{prefix}/edges/{k}": v for k, v in self.edges.items()}
        arrays |= {f"{prefix}/knots/{k}": v for k, v in self.knots.items()}
        return {"numeric": sorted(self.edges)}, arrays

    @classmethod
    def from_state(
        cls,
        columns: Sequence[ModelColumn],
        state: Mapping[str, Any],
        arrays: Mapping[str, np.ndarray],
        prefix: str = "bins",
    ) -> Discretizer:
        """Inverse of :meth:`to_state`; raises ``ValueError`` / ``KeyError`` when arrays are missing."""
        names = list(state["numeric"])
        edges = {k: arrays[f"{prefix}/edges/{k}"] for k in names}
        knots = {k: arrays[f"{prefix}/knots/{k}"] for k in names}
        return cls(columns, edges, knots)


def _public_edges(low: float, high: float, bins: int, integer: bool) -> np.ndarray:
    """Edges from the bounds alone: whole-number bins, equal-ratio bins, or equal-width bins."""
    if integer:
        first, last = math.ceil(low), math.floor(high)
        if last < first:  # no whole number inside the bounds: one bin over the bounds
            return np.array([low, high], dtype=float)
        count = last - first + 1
        width = math.ceil(count / bins)
        n_bins = math.ceil(count / width)
        edges = first - 0.5 + width * np.arange(n_bins + 1, dtype=float)
        edges[-1] = last + 0.5
        return edges
    if high <= low:
        return np.array([low, high], dtype=float)
    if low > 0 and high >= _RATIO * low:  # a positive measurement over orders of magnitude: equal ratios
        edges = np.geomspace(low, high, bins + 1)
        edges[[0, -1]] = low, high
        return edges
    return np.linspace(low, high, bins + 1)


def _quantile_bins(x: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Data-driven edges and within-bin knots (non-private only)."""
    values = np.unique(x)
    if values.size <= bins:  # one bin per distinct value: decoded exactly
        mids = (values[:-1] + values[1:]) / 2
        edges = np.concatenate([[values[0]], mids, [values[-1]]])
        return edges, np.repeat(values[:, None], KNOTS + 1, axis=1)
    edges = np.quantile(x, np.linspace(0.0, 1.0, bins + 1))
    # a value held by >= 1/bins of the rows (zeros of a lab value) is an edge already; ending its
    # bin at the next value gives it a bin of its own, so it is decoded exactly (the largest
    # value gets its own last bin from the midpoint below it)
    counts = np.bincount(np.searchsorted(values, x), minlength=values.size)
    atoms = np.flatnonzero(counts[:-1] * bins >= x.size)
    top = [(values[-2] + values[-1]) / 2] if counts[-1] * bins >= x.size else []
    edges = np.unique(np.concatenate([edges, values[atoms + 1], top]))
    codes = np.searchsorted(edges[1:-1], x, side="right")
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    levels = np.linspace(0.0, 1.0, KNOTS + 1)
    knots = np.linspace(edges[:-1], edges[1:], KNOTS + 1, axis=1)
    bounds = np.searchsorted(sorted_codes, np.arange(edges.size), side="left")
    for b in range(edges.size - 1):
        inside = x[order[bounds[b] : bounds[b + 1]]]
        if inside.size:
            knots[b] = np.quantile(inside, levels)
    return edges, knots
