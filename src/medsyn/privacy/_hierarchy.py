"""Generalisation hierarchies: how a quasi-identifier's values are coarsened, level by level.

A :class:`Hierarchy` maps every *leaf* (a value of the column) to a group at each level: level 0
is the value itself, the last level is ``*`` (everything in one group). Each level is stored as
integer codes (``table[level, leaf] -> group``), so generalising a million records is one array
lookup, and a lattice node's classes come from packing those codes (see
:mod:`medsyn.privacy._lattice`). Levels must *refine* each other: two leaves in one group at
level ``l`` stay in one group at ``l + 1``. That is what makes full-domain generalisation
monotone, and it is checked when a hierarchy is made.

Missing values form a group of their own at every level below the top (they stay missing in the
output) and join ``*`` at the top. Builders for numbers, ages, dates, codes and YAML mapping
tables live in :mod:`medsyn.privacy._hierarchy_build`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from medsyn.errors import InputError, Problem

__all__ = ["TOP", "Hierarchy", "assemble"]

#: Label of the top level, where every value is one group.
TOP = "*"


@dataclass(frozen=True, eq=False)
class Hierarchy:
    """Levels of generalisation for one column, integer-coded per level.

    Parameters
    ----------
    column
        The column it generalises.
    kind
        How it was built (``interval``, ``age``, ``date``, ``prefix``, ``flat``, ``ordinal``,
        ``mapping``); shown in reports.
    leaves
        The values it covers (no missing value), in code order.
    table
        ``(levels, n_codes)`` int32: the group of each leaf code at each level; code
        ``len(leaves)`` is the missing value when ``has_missing``.
    labels
        Per level, an object array with the label of each group (``None`` for missing).
    spans
        Per level, each group's generalisation penalty in [0, 1] (0 = exact value, 1 = ``*``):
        the share of the value range it spans for numbers and dates, else
        (leaves in the group − 1) / (leaves − 1).
    level_names
        A short name per level ("value", "5-year bands", "month", "*").
    has_missing
        Whether a leaf code stands for missing values.
    text_keys
        Values are matched as text (YAML/CSV mapping tables, whose keys are strings).

    Examples
    --------
    >>> from medsyn.privacy import age_hierarchy
    >>> h = age_hierarchy(pd.Series([34, 47, 71]))
    >>> h.level_names
    ('value', '5-year bands', '10-year bands', '20-year bands', '*')
    >>> list(h.generalize(pd.Series([47, 71]), 2))
    ['40-49', '70-79']
    """

    column: str
    kind: str
    leaves: pd.Index
    table: np.ndarray
    labels: tuple[np.ndarray, ...]
    spans: tuple[np.ndarray, ...]
    level_names: tuple[str, ...]
    has_missing: bool = False
    text_keys: bool = False

    def __post_init__(self) -> None:
        problems = self._problems()
        if problems:
            raise InputError(problems)

    def _problems(self) -> list[Problem]:
        where = f"hierarchy of '{self.column}'"
        n_codes = len(self.leaves) + int(self.has_missing)
        table = self.table
        if table.ndim != 2 or table.shape[1] != n_codes or table.shape[0] < 1:
            return [Problem(where, f"a code table of shape {table.shape}", f"(levels, {n_codes})")]
        if not (len(self.labels) == len(self.spans) == len(self.level_names) == table.shape[0]):
            return [Problem(where, "labels, spans or level names do not match the number of levels", "one per level")]
        if not self.leaves.is_unique:
            dupes = self.leaves[self.leaves.duplicated()].unique()[:5].tolist()
            return [Problem(where, f"values listed twice: {dupes}", "each value once")]
        problems: list[Problem] = []
        if not np.array_equal(table[0], np.arange(n_codes)):
            problems.append(Problem(f"{where}: level 0", "does not keep every value apart", "the values themselves"))
        for level in range(table.shape[0]):
            groups = int(table[level].max()) + 1 if n_codes else 0
            if len(self.labels[level]) != groups or len(self.spans[level]) != groups:
                problems.append(Problem(f"{where}: level {level}", "labels or spans do not match its groups", ""))
        for level in range(1, table.shape[0]):
            fine, coarse = table[level - 1], table[level]
            pairs = np.unique(fine.astype(np.int64) * (int(coarse.max()) + 1) + coarse)
            if len(pairs) != len(np.unique(fine)):
                split = _split_example(fine, coarse, self.labels[level - 1])
                problems.append(
                    Problem(
                        f"{where}: level {level} ({self.level_names[level]})",
                        f"splits the group {split!r} of level {level - 1}",
                        "each level to merge whole groups of the level below",
                        "List every value of a group under the same parent.",
                    )
                )
        if int(table[-1].max(initial=0)) != 0:
            problems.append(Problem(f"{where}: top level", "holds several groups", "one group, '*'"))
        return problems

    # -- shape -----------------------------------------------------------------------------
    @property
    def height(self) -> int:
        """Number of levels, value and ``*`` included."""
        return int(self.table.shape[0])

    @property
    def n_codes(self) -> int:
        return int(self.table.shape[1])

    def groups(self, level: int) -> int:
        """Number of groups at ``level``."""
        return len(self.labels[level])

    def transition(self, start: int, stop: int) -> np.ndarray:
        """Group code at level ``start`` → group code at level ``stop`` (``stop >= start``)."""
        out = np.zeros(self.groups(start), dtype=np.int32)
        out[self.table[start]] = self.table[stop]
        return out

    # -- use ---------------------------------------------------------------------------------
    def encode(self, values: pd.Series) -> np.ndarray:
        """Leaf code of every value; a value the hierarchy does not cover is an :class:`InputError`."""
        missing = values.isna().to_numpy()
        codes = self._lookup(values)
        bad = (codes < 0) & ~missing
        problems: list[Problem] = []
        if bad.any():
            shown = pd.unique(values[bad].astype(str))[:5].tolist()
            problems.append(
                Problem(
                    f"column '{self.column}'",
                    f"{int(bad.sum())} value(s) not covered by its {self.kind} hierarchy, e.g. {shown}",
                    "every value of the column to be a leaf of the hierarchy",
                    "Add these values to the hierarchy file.",
                )
            )
        if missing.any() and not self.has_missing:
            problems.append(
                Problem(
                    f"column '{self.column}'",
                    f"{int(missing.sum())} missing value(s), which its hierarchy does not cover",
                    "a hierarchy with a missing group (Hierarchy.with_missing())",
                )
            )
        if problems:
            raise InputError(problems)
        codes[missing] = len(self.leaves)
        return codes.astype(np.int32, copy=False)

    def _lookup(self, values: pd.Series) -> np.ndarray:
        if self.text_keys:
            values = _as_text(values)
        if isinstance(values.dtype, pd.CategoricalDtype):
            categories = values.cat.categories
            cat_codes = self.leaves.get_indexer(
                pd.Index(_as_text(pd.Series(categories)) if self.text_keys else categories)
            )
            codes = values.cat.codes.to_numpy()
            return np.where(codes >= 0, cat_codes[np.maximum(codes, 0)], -1).astype(np.int64)
        return np.asarray(self.leaves.get_indexer(pd.Index(values)), dtype=np.int64)

    def generalize(self, values: pd.Series, level: int) -> pd.Categorical:
        """``values`` at ``level`` as labels (missing values stay missing until ``*``)."""
        return self.labels_of(self.table[level][self.encode(values)], level)

    def labels_of(self, group_codes: np.ndarray, level: int) -> pd.Categorical:
        """A categorical of the labels of ``group_codes`` at ``level``, missing where the label is ``None``."""
        labels = self.labels[level]
        present = np.array([lab is not None for lab in labels], dtype=bool)
        new_code = np.where(present, np.cumsum(present) - 1, -1)
        categories = pd.Index([str(lab) for lab in labels[present]], dtype=object)
        codes = np.asarray(new_code[group_codes], dtype=np.int64)
        out: pd.Categorical = pd.Categorical.from_codes(codes, categories=categories)
        return out

    def with_missing(self) -> Hierarchy:
        """This hierarchy with a group for missing values (its own below the top, ``*`` at the top)."""
        if self.has_missing:
            return self
        rows, labels, spans = [], [], []
        for level in range(self.height):
            top = level == self.height - 1
            groups = self.groups(level)
            rows.append(np.append(self.table[level], 0 if top else groups))
            labels.append(self.labels[level] if top else np.concatenate([self.labels[level], np.array([None])]))
            spans.append(self.spans[level] if top else np.append(self.spans[level], 0.0))
        return Hierarchy(
            self.column,
            self.kind,
            self.leaves,
            np.vstack(rows).astype(np.int32),
            tuple(labels),
            tuple(spans),
            self.level_names,
            has_missing=True,
            text_keys=self.text_keys,
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "column": self.column,
            "kind": self.kind,
            "values": len(self.leaves),
            "levels": [{"name": n, "groups": self.groups(i)} for i, n in enumerate(self.level_names)],
        }

    def __repr__(self) -> str:
        levels = " → ".join(f"{n} ({self.groups(i)})" for i, n in enumerate(self.level_names))
        return f"Hierarchy({self.column!r}, {self.kind}: {levels})"


def _split_example(fine: np.ndarray, coarse: np.ndarray, fine_labels: np.ndarray) -> object:
    frame = pd.DataFrame({"fine": fine, "coarse": coarse}).drop_duplicates()
    split = frame["fine"][frame["fine"].duplicated()].iloc[0]
    return fine_labels[int(split)]


def _as_text(values: pd.Series) -> pd.Series:
    """Values as the strings a mapping table lists (1.0 → "1", so integer codes match)."""
    if pd.api.types.is_float_dtype(values.dtype):
        finite = values.dropna()
        if len(finite) and bool(np.all(np.mod(finite.to_numpy(), 1) == 0)):
            return values.astype("Int64").astype("string").astype(object).where(values.notna(), None)
    if isinstance(values.dtype, pd.CategoricalDtype) or values.dtype == object or pd.api.types.is_string_dtype(values):
        return values.astype(object).where(values.notna(), None).map(lambda v: v if v is None else str(v))
    return values.astype("string").astype(object).where(values.notna(), None)


def assemble(
    column: str,
    kind: str,
    leaves: pd.Index,
    keys: Sequence[np.ndarray],
    labelers: Sequence[Callable[[np.ndarray], Sequence[str]]],
    names: Sequence[str],
    *,
    numeric: np.ndarray | None = None,
    has_missing: bool = False,
    text_keys: bool = False,
) -> Hierarchy:
    """Build a hierarchy from a group key per leaf and level (``keys[i]``; labels from ``labelers[i]``).

    Level 0 (the values) and the top (``*``) are added here; trailing levels with a single group
    are dropped (they are the top). ``numeric`` holds each leaf as a number (for range-based spans);
    ``None`` means categorical spans.
    """
    n = len(leaves)
    level0_labels = np.array([_label(v) for v in leaves], dtype=object)
    rows: list[np.ndarray] = [np.arange(n, dtype=np.int32)]
    labels: list[np.ndarray] = [level0_labels]
    kept_names: list[str] = ["value"]
    levels = [pd.factorize(np.asarray(key), sort=True) for key in keys]
    # trailing levels with a single group are the top, which is added below
    last = max((i for i, (_, uniques) in enumerate(levels) if len(uniques) > 1), default=-1)
    for (codes, uniques), labeler, name in zip(levels[: last + 1], labelers, names, strict=False):
        rows.append(codes.astype(np.int32))
        labels.append(np.asarray(labeler(np.asarray(uniques)), dtype=object))
        kept_names.append(name)
    rows.append(np.zeros(n, dtype=np.int32))
    labels.append(np.array([TOP], dtype=object))
    kept_names.append(TOP)
    spans = [_spans(row, int(lab.shape[0]), numeric) for row, lab in zip(rows, labels, strict=True)]
    spans[0] = np.zeros(n, dtype=np.float64)  # the values themselves lose nothing
    hierarchy = Hierarchy(
        column,
        kind,
        leaves,
        np.vstack(rows).astype(np.int32) if n else np.zeros((len(rows), 0), dtype=np.int32),
        tuple(labels),
        tuple(spans),
        tuple(kept_names),
        text_keys=text_keys,
    )
    return hierarchy.with_missing() if has_missing else hierarchy


def _spans(codes: np.ndarray, groups: int, numeric: np.ndarray | None) -> np.ndarray:
    if groups <= 1:
        return np.ones(max(groups, 1), dtype=np.float64)
    if numeric is not None and len(numeric):
        lo_all, hi_all = float(np.min(numeric)), float(np.max(numeric))
        if hi_all > lo_all:
            lo = np.full(groups, np.inf)
            hi = np.full(groups, -np.inf)
            np.minimum.at(lo, codes, numeric)
            np.maximum.at(hi, codes, numeric)
            return np.asarray((hi - lo) / (hi_all - lo_all), dtype=np.float64)
    sizes = np.bincount(codes, minlength=groups)
    total = len(codes)
    return np.asarray((sizes - 1) / max(total - 1, 1), dtype=np.float64)


def _label(value: object) -> str:
    if isinstance(value, float | np.floating):
        return fmt_number(float(value))
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d") if value == value.normalize() else value.isoformat()
    return str(value)


def fmt_number(value: float) -> str:
    """A number as short text: 40 not 40.0, 2.5, 0.3 (not 0.30000000000000004), 1e+20."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.12g}"
