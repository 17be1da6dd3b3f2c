"""One numeric encoding of real, synthetic and holdout tables, fitted on the real table.

Distance-based metrics need every record as a vector in one space. The encoding is learned on
the real (training) table only and applied unchanged to the others, so a synthetic value outside
the real range stays outside it:

- numbers, integers and dates (as days) are scaled to the real range: ``(x − min) / (max − min)``;
  a column with missing values gains an indicator, and a missing value sits at the middle (0.5),
  so "missing" differs from every observed extreme by at most half the range;
- categories and booleans are one-hot over the real levels (the ``max_levels`` most frequent, the
  rest pooled with values unseen in the real table into ``<other>``), each one-hot block scaled
  by 1/√2 so that a different category moves a record by exactly 1, like a full-range number;
- identifiers and free text are left out (they are never comparable between real and synthetic
  records) and listed in :attr:`TableEncoding.excluded`.

:func:`column_codes` gives the per-column integer codes that count-based metrics (total
variation, contingency tables, mutual information) need: categories as codes, numbers binned at
the real quantiles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from medsyn.data.schema import Field, FieldType, Role, Schema

__all__ = [
    "ColumnCodes",
    "EncodedColumn",
    "TableEncoding",
    "category_labels",
    "column_codes",
    "distinct_ranks",
    "is_numeric_field",
    "numeric_values",
]

OTHER = "<other>"
MISSING = "<missing>"
_NUMERIC = frozenset({FieldType.NUMERIC, FieldType.INTEGER, FieldType.DATETIME})
_CATEGORICAL = frozenset({FieldType.CATEGORICAL, FieldType.BOOLEAN})
#: Whole-number values spanning at most this many times their count are ranked by counting, not sorting.
_COUNTING_SPAN = 4


def is_numeric_field(f: Field) -> bool:
    """Numbers, integers and dates are compared as numbers; the rest as categories."""
    return f.type in _NUMERIC


def numeric_values(s: pd.Series) -> np.ndarray:
    """A column as float64; dates as days since 1970, anything unparsable as NaN."""
    if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(s):
        stamps = pd.to_datetime(s, errors="coerce")
        if isinstance(stamps.dtype, pd.DatetimeTZDtype):
            stamps = stamps.dt.tz_convert(None)
        days = stamps.to_numpy(dtype="datetime64[ns]").astype("int64").astype(np.float64) / 86_400e9
        days[stamps.isna().to_numpy()] = np.nan
        return days
    if pd.api.types.is_bool_dtype(s):
        return s.astype("float64").to_numpy()
    if isinstance(s.dtype, np.dtype) and s.dtype.kind in "iuf":  # already numbers: no parsing
        return s.to_numpy(dtype=np.float64)
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def category_labels(s: pd.Series) -> np.ndarray:
    """Category values as text, missing as ``<missing>`` (so 1, 1.0 and "1" agree)."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        x = pd.to_numeric(s, errors="coerce").astype("float64")
        whole = x.notna() & (x % 1 == 0)
        out = x.astype("string")
        out[whole] = x[whole].astype("int64").astype("string")
    else:
        out = s.astype("string")
    return out.fillna(MISSING).to_numpy(dtype=object)


@dataclass(frozen=True, slots=True)
class EncodedColumn:
    """How one table column becomes encoded features."""

    name: str
    kind: str  # "numeric" | "categorical"
    low: float = 0.0
    high: float = 1.0
    missing_indicator: bool = False
    levels: tuple[str, ...] = ()
    has_other: bool = False

    @property
    def width(self) -> int:
        if self.kind == "numeric":
            return 1 + int(self.missing_indicator)
        return len(self.levels) + int(self.has_other)

    def feature_names(self) -> list[str]:
        if self.kind == "numeric":
            return [self.name] + ([f"{self.name}{MISSING}"] if self.missing_indicator else [])
        return [f"{self.name}={level}" for level in self.levels] + ([f"{self.name}={OTHER}"] if self.has_other else [])


@dataclass(frozen=True, slots=True)
class TableEncoding:
    """The fitted encoding: apply with :meth:`transform` to any table with the same columns."""

    columns: tuple[EncodedColumn, ...]
    excluded: tuple[str, ...]

    @property
    def width(self) -> int:
        return sum(c.width for c in self.columns)

    @property
    def feature_names(self) -> list[str]:
        return [name for c in self.columns for name in c.feature_names()]

    def slices(self) -> dict[str, slice]:
        """Column name → its features' positions in the encoded matrix."""
        out, at = {}, 0
        for c in self.columns:
            out[c.name] = slice(at, at + c.width)
            at += c.width
        return out

    def without(self, *names: str) -> np.ndarray:
        """Positions of every feature except those of the named columns (e.g. the target's)."""
        keep = np.ones(self.width, dtype=bool)
        for name, sl in self.slices().items():
            if name in names:
                keep[sl] = False
        return np.flatnonzero(keep)

    @classmethod
    def fit(
        cls,
        real: pd.DataFrame,
        schema: Schema,
        others: Sequence[pd.DataFrame] = (),
        *,
        max_levels: int = 64,
        exclude: Sequence[str] = (),
    ) -> TableEncoding:
        """Learn ranges and levels from ``real``; ``others`` only decide indicator/``<other>`` columns."""
        columns: list[EncodedColumn] = []
        excluded: list[str] = []
        for f in schema:
            if f.name in exclude or f.type in (FieldType.TEXT, FieldType.IDENTIFIER) or f.role is Role.IDENTIFIER:
                excluded.append(f.name)
                continue
            frames = [real, *others]
            if is_numeric_field(f):
                x = numeric_values(real[f.name])
                finite = x[np.isfinite(x)]
                low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
                indicator = any(bool(pd.isna(fr[f.name]).any()) for fr in frames)
                columns.append(EncodedColumn(f.name, "numeric", low, high, missing_indicator=indicator))
            else:
                counts = pd.Series(category_labels(real[f.name])).value_counts(sort=True)
                levels = tuple(str(v) for v in counts.index[:max_levels])
                known = set(levels)
                other = len(counts) > max_levels or any(
                    not set(pd.unique(category_labels(fr[f.name]))) <= known for fr in others
                )
                columns.append(EncodedColumn(f.name, "categorical", levels=levels, has_other=other))
        return cls(tuple(columns), tuple(excluded))

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """The encoded float32 matrix (rows × :attr:`width`)."""
        out = np.zeros((len(frame), self.width), dtype=np.float32)
        at = 0
        for c in self.columns:
            if c.kind == "numeric":
                x = numeric_values(frame[c.name])
                span = c.high - c.low
                scaled = (x - c.low) / span if span > 0 else x - c.low
                missing = ~np.isfinite(scaled)
                out[:, at] = np.where(missing, 0.5, scaled)
                if c.missing_indicator:
                    out[:, at + 1] = missing
            else:
                lookup = {level: i for i, level in enumerate(c.levels)}
                other = len(c.levels) if c.has_other else -1
                codes = pd.Series(category_labels(frame[c.name])).map(lookup).fillna(other).to_numpy(dtype=np.int64)
                rows = np.flatnonzero(codes >= 0)
                out[rows, at + codes[rows]] = 1 / math.sqrt(2)
            at += c.width
        return out


def _whole_span(x: np.ndarray) -> tuple[float, int] | None:
    """``(min, max − min)`` of finite values that are all whole numbers within a countable span, else None.

    Clinical tables are full of such columns (counts, days, codes stored as numbers); their
    distinct values and ranks come from one counting pass instead of a sort.
    """
    if len(x) == 0:
        return None
    lo, hi = float(x.min()), float(x.max())
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi - lo > _COUNTING_SPAN * len(x) + 1_024:
        return None
    if not np.array_equal(x, np.floor(x)):
        return None
    return lo, int(hi - lo)


def distinct_ranks(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(x, return_inverse=True)`` for finite float values, by counting when they are small whole numbers."""
    span = _whole_span(x)
    if span is None:
        grid, rank = np.unique(x, return_inverse=True)
        return grid, rank.reshape(-1)
    lo, width = span
    offset = (x - lo).astype(np.int64)
    present = np.bincount(offset, minlength=width + 1) > 0
    below = np.cumsum(present) - 1
    return np.flatnonzero(present) + lo, below[offset]


def _bin_codes(edges: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``searchsorted(edges, x, side="right")``, through a lookup table when ``x`` holds small whole numbers."""
    finite = np.isfinite(x)
    span = _whole_span(x[finite]) if not finite.all() else _whole_span(x)
    if span is None:
        return np.searchsorted(edges, x, side="right").astype(np.int64)
    lo, width = span
    table = np.searchsorted(edges, lo + np.arange(width + 1, dtype=np.float64), side="right").astype(np.int64)
    codes = np.full(len(x), len(edges), dtype=np.int64)
    codes[finite] = table[(x[finite] - lo).astype(np.int64)]
    return codes


@dataclass(frozen=True, slots=True)
class ColumnCodes:
    """One column of several tables as shared integer codes in ``0 .. len(labels) - 1``."""

    name: str
    labels: tuple[str, ...]
    codes: tuple[np.ndarray, ...]
    binned: bool

    def counts(self, which: int) -> np.ndarray:
        return np.bincount(self.codes[which], minlength=len(self.labels))


def column_codes(frames: Sequence[pd.DataFrame], f: Field, *, bins: int = 20) -> ColumnCodes:
    """Codes of column ``f`` in every frame, the first frame (real) deciding levels or bin edges.

    Numbers are binned at the real quantiles (at most ``bins`` bins, missing its own bin); values
    outside the real range fall in the outer bins. Categories unseen in the real table share one
    ``<other>`` code, so their mass is counted, not dropped.
    """
    codes: list[np.ndarray] = []
    if is_numeric_field(f):
        values = [numeric_values(fr[f.name]) for fr in frames]
        finite = values[0][np.isfinite(values[0])]
        observed = distinct_ranks(finite)[0]
        if len(observed) <= bins:
            edges = observed[1:]
        else:
            edges = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1]))
        lows = [-math.inf, *edges.tolist()]
        labels = [f"≥{lo:g}" if i else f"<{edges[0]:g}" if len(edges) else "all" for i, lo in enumerate(lows)]
        for x in values:
            c = _bin_codes(edges, x)
            c[~np.isfinite(x)] = len(labels)
            codes.append(c)
        if any(bool((c == len(labels)).any()) for c in codes):
            labels.append(MISSING)
        return ColumnCodes(f.name, tuple(labels), tuple(codes), True)
    distinct = [_distinct_labels(fr[f.name]) for fr in frames]
    uniques = pd.unique(distinct[0][1])
    lookup = {str(v): i for i, v in enumerate(uniques)}
    labels = [str(v) for v in uniques]
    codes = [np.array([lookup.get(t, len(labels)) for t in texts], dtype=np.int64)[rows] for rows, texts in distinct]
    if any(bool((c == len(labels)).any()) for c in codes):
        labels.append(OTHER)
    return ColumnCodes(f.name, tuple(labels), tuple(codes), False)


def _distinct_labels(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each record's distinct value (numbered in order of first appearance) and each distinct value's text.

    :func:`category_labels` works value by value, so it runs on one record per distinct value.
    Mixed Python objects (1, 1.0, "1") are equal as keys but not as text: they are labelled
    record by record.
    """
    if s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) not in ("string", "empty"):
        texts = category_labels(s)
        rows, uniques = pd.factorize(texts)
        return rows, np.asarray(uniques, dtype=object)
    keys, _ = pd.factorize(s, use_na_sentinel=False)
    # factorize numbers values in order of first appearance, so each new value raises the running
    # maximum by one: the first positions come in one pass, without sorting the keys
    rises = np.flatnonzero(np.diff(np.maximum.accumulate(keys), prepend=-1) > 0)
    if np.array_equal(keys[rises], np.arange(len(rises))):
        return keys, category_labels(s.iloc[rises])
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[inverse.reshape(-1)], category_labels(s.iloc[first[order]])
