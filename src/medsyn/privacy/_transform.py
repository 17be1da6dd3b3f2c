"""Transformations a release is built from, usable on their own.

- :func:`generalize` — full-domain generalisation: each column to one hierarchy level.
- :func:`suppress_records` — remove the records of classes smaller than k, within a limit.
- :func:`suppress_cells` — local suppression: blank (``*``) quasi-identifier cells of the
  records in small classes, one column at a time, until every class has k records.
- :func:`top_bottom_code` — clip numbers to a floor and a ceiling (ages over 89 → 90).
- :func:`microaggregate` — replace numbers by the mean of groups of at least k similar records
  (MDAV, or fixed-size groups along the sorted values).

Each returns a new :class:`~medsyn.data.TabularDataset`; the caller's data is never changed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from medsyn.data.dataset import TabularDataset
from medsyn.data.schema import FieldType, Schema
from medsyn.errors import InputError, Problem
from medsyn.privacy._hierarchy import Hierarchy
from medsyn.privacy._hierarchy_build import default_hierarchy

__all__ = ["generalize", "microaggregate", "suppress_cells", "suppress_records", "top_bottom_code"]

#: What a suppressed cell holds.
SUPPRESSED = "*"


def _check_columns(dataset: TabularDataset, columns: Sequence[str], where: str) -> None:
    missing = [c for c in columns if c not in dataset.data.columns]
    if missing:
        raise InputError(
            Problem(f"{where} {missing}", "not columns of the data", f"some of {list(dataset.data.columns)}")
        )


def _with(
    dataset: TabularDataset, frame: pd.DataFrame, changed: Mapping[str, str], *, categorical: bool
) -> TabularDataset:
    fields = []
    for f in dataset.schema:
        if f.name not in changed:
            fields.append(f)
        elif categorical:
            fields.append(
                replace(
                    f, type=FieldType.CATEGORICAL, minimum=None, maximum=None, categories=None, reason=changed[f.name]
                )
            )
        else:
            fields.append(replace(f, reason=changed[f.name]))
    return TabularDataset(frame, Schema(tuple(fields), dataset.schema.constraints), dataset.provenance)


def generalize(
    dataset: TabularDataset, levels: Mapping[str, int], hierarchies: Mapping[str, Hierarchy] | None = None
) -> TabularDataset:
    """Recode each column in ``levels`` to that level of its hierarchy (built by default when not given).

    Examples
    --------
    >>> import pandas as pd
    >>> ds = TabularDataset(pd.DataFrame({"age": [34, 47, 71]}))
    >>> list(generalize(ds, {"age": 2}).data["age"])
    ['30-39', '40-49', '70-79']
    """
    _check_columns(dataset, list(levels), "levels")
    frame = dataset.data.copy()
    changed = {}
    for name, level in levels.items():
        h = (hierarchies or {}).get(name) or default_hierarchy(frame[name], dataset.schema[name])
        if frame[name].isna().any():
            h = h.with_missing()
        if not 0 <= level < h.height:
            raise InputError(
                Problem(f"levels['{name}']", str(level), f"0 to {h.height - 1} ({', '.join(h.level_names)})")
            )
        if level:
            frame[name] = h.generalize(frame[name], level)
            changed[name] = f"generalised to {h.level_names[level]}"
    return _with(dataset, frame, changed, categorical=True)


def _classes(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    group = frame.groupby(list(columns), dropna=False, observed=True, sort=False).ngroup().to_numpy()
    return np.asarray(np.bincount(group)[group], dtype=np.int64)


def suppress_records(
    dataset: TabularDataset, quasi_identifiers: Sequence[str], *, k: int, max_suppression: float = 1.0
) -> TabularDataset:
    """Remove the records whose quasi-identifier combination occurs fewer than ``k`` times.

    Raises :class:`InputError` when more than ``max_suppression`` of the records would go.
    """
    _check_columns(dataset, quasi_identifiers, "quasi_identifiers")
    small = _classes(dataset.data, quasi_identifiers) < k
    limit = math.floor(max_suppression * len(dataset) + 1e-9)
    if int(small.sum()) > limit:
        raise InputError(
            Problem(
                "max_suppression",
                f"{int(small.sum()):,} records are in classes smaller than {k}",
                f"at most {limit:,} ({max_suppression:.2%})",
                "Generalise first (anonymize) or allow more suppression.",
            )
        )
    return dataset.select(np.flatnonzero(~small))


def suppress_cells(dataset: TabularDataset, quasi_identifiers: Sequence[str], *, k: int) -> TabularDataset:
    """Local suppression: blank cells of records in classes < k until every class has ≥ k records.

    Columns are blanked in order of how many distinct values they have (most first), each time
    only for the records still in small classes; a blanked cell holds ``*``. Records that are
    still in a small class when every quasi-identifier is blanked are all ``*`` together.
    """
    _check_columns(dataset, quasi_identifiers, "quasi_identifiers")
    frame = dataset.data.copy()
    order = sorted(quasi_identifiers, key=lambda c: (-frame[c].nunique(dropna=False), c))
    changed: dict[str, str] = {}
    for name in order:
        small = _classes(frame, quasi_identifiers) < k
        if not small.any():
            break
        # as text, so the column has one type (a number column cannot hold "*")
        column = frame[name].astype(object).where(frame[name].isna(), frame[name].astype(str))
        column[small] = SUPPRESSED
        frame[name] = column
        changed[name] = f"{int(small.sum())} cell(s) suppressed for k={k}"
    return _with(dataset, frame, changed, categorical=True)


def top_bottom_code(
    dataset: TabularDataset, column: str, *, bottom: float | None = None, top: float | None = None
) -> TabularDataset:
    """Clip ``column`` to ``[bottom, top]``: values beyond a limit become the limit (e.g. ages > 89 → 90)."""
    _check_columns(dataset, [column], "column")
    values = dataset.data[column]
    if not pd.api.types.is_numeric_dtype(values.dtype):
        raise InputError(Problem(f"column '{column}'", f"type {values.dtype}", "numbers for top/bottom coding"))
    if bottom is not None and top is not None and bottom > top:
        raise InputError(Problem("bottom/top", f"{bottom} > {top}", "bottom ≤ top"))
    frame = dataset.data.copy()
    frame[column] = values.clip(lower=bottom, upper=top)
    note = f"top/bottom coded to [{bottom if bottom is not None else '-inf'}, {top if top is not None else 'inf'}]"
    return _with(dataset, frame, {column: note}, categorical=False)


def microaggregate(dataset: TabularDataset, columns: Sequence[str], *, k: int, method: str = "mdav") -> TabularDataset:
    """Replace ``columns`` by their group means over groups of ≥ k records.

    ``mdav`` (maximum distance to average vector; Domingo-Ferrer & Torra 2005) groups records
    that are close on all the columns together (standardised), at O(n²/k) cost; ``sorted`` sorts
    by the first principal component and cuts fixed groups of k (the last takes the remainder), at
    O(n log n). Missing values are not allowed.
    """
    _check_columns(dataset, columns, "columns")
    frame = dataset.data.copy()
    values = frame[list(columns)]
    problems = [
        Problem(
            f"column '{c}'",
            "not numeric" if not pd.api.types.is_numeric_dtype(values[c].dtype) else "has missing values",
            "numbers without gaps",
        )
        for c in columns
        if not pd.api.types.is_numeric_dtype(values[c].dtype) or values[c].isna().any()
    ]
    if k < 1 or k > len(frame):
        problems.append(Problem("k", str(k), f"1 to {len(frame)}"))
    if method not in ("mdav", "sorted"):
        problems.append(Problem("method", repr(method), "'mdav' or 'sorted'"))
    if problems:
        raise InputError(problems)
    x = values.to_numpy(dtype=np.float64)
    scale = x.std(axis=0)
    z = (x - x.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
    groups = _mdav(z, k) if method == "mdav" else _sorted_groups(z, k)
    sums = np.zeros((int(groups.max()) + 1, x.shape[1]))
    np.add.at(sums, groups, x)
    means = sums / np.bincount(groups)[:, None]
    for j, name in enumerate(columns):
        frame[name] = means[groups, j]
    return _with(dataset, frame, dict.fromkeys(columns, f"microaggregated ({method}, k={k})"), categorical=False)


def _sorted_groups(z: np.ndarray, k: int) -> np.ndarray:
    if z.shape[1] > 1:
        _, _, vt = np.linalg.svd(z - z.mean(axis=0), full_matrices=False)
        key = z @ vt[0]
    else:
        key = z[:, 0]
    order = np.argsort(key, kind="stable")
    n = len(order)
    n_groups = max(n // k, 1)
    groups = np.empty(n, dtype=np.int64)
    groups[order] = np.minimum(np.arange(n) // k, n_groups - 1)
    return groups


def _mdav(z: np.ndarray, k: int) -> np.ndarray:
    n = len(z)
    groups = np.full(n, -1, dtype=np.int64)
    left = np.arange(n)
    gid = 0

    def take(anchor: np.ndarray) -> None:
        nonlocal left, gid
        d = ((z[left] - anchor) ** 2).sum(axis=1)
        nearest = np.argpartition(d, k - 1)[:k]
        groups[left[nearest]] = gid
        gid += 1
        left = np.delete(left, nearest)

    while len(left) >= 3 * k:
        centre = z[left].mean(axis=0)
        r = z[left[np.argmax(((z[left] - centre) ** 2).sum(axis=1))]]
        take(r)
        s = z[left[np.argmax(((z[left] - r) ** 2).sum(axis=1))]]
        take(s)
    if len(left) >= 2 * k:
        centre = z[left].mean(axis=0)
        take(z[left[np.argmax(((z[left] - centre) ** 2).sum(axis=1))]])
    if len(left):
        groups[left] = gid
    return groups
