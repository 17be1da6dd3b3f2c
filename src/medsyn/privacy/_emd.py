"""Earth Mover's Distances between each equivalence class's sensitive distribution and the table's.

The three ground distances of t-closeness (Li, Li & Venkatasubramanian, ICDE 2007):

- **equal**: every two values are at distance 1, so the EMD is half the L1 distance;
- **ordered**: values on a line at distance |i − j| / (m − 1), so the EMD is Σᵢ |Qᵢ − Pᵢ| / (m − 1)
  over the cumulative distributions;
- **hierarchical**: values are leaves of a generalisation tree of height H and two values are at
  distance height(lowest common ancestor) / H.

Each works on the (class, value) pair counts of :func:`medsyn.privacy._classes.pair_counts`, so the
cost grows with the number of pairs a table holds, never with classes × values.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from medsyn.errors import InputError, Problem
from medsyn.privacy._classes import EquivalenceClasses, combine_codes, factorize, pair_counts

__all__ = ["emd_equal", "emd_hierarchical", "emd_ordered", "hierarchies_for", "ordered_codes", "present_codes"]


def ordered_codes(series: pd.Series) -> tuple[np.ndarray, int]:
    """Codes in value order (category order for categoricals), missing last."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy(dtype=np.int64, copy=True)
        radix = len(series.dtype.categories) + 1
    else:
        raw, uniques = pd.factorize(series, sort=True, use_na_sentinel=True)
        codes = np.asarray(raw, dtype=np.int64)
        radix = len(uniques) + 1
    codes[codes < 0] = radix - 1
    return codes, radix


def present_codes(codes: np.ndarray, m: int, kept: np.ndarray) -> tuple[np.ndarray, int]:
    """Renumber codes to the values released records hold, keeping their order (suppressed ones drop out)."""
    present = np.bincount(codes[kept], minlength=m) > 0
    if present.all():
        return codes, m
    remap = np.cumsum(present) - 1
    return remap[codes], int(present.sum())


def emd_equal(pc: np.ndarray, pv: np.ndarray, count: np.ndarray, p: np.ndarray, ec: EquivalenceClasses) -> np.ndarray:
    """½ Σ |q − p| per class; values absent from a class contribute their p, hence the ``+ 1``."""
    q = count / ec.sizes[pc]
    terms = np.abs(q - p[pv]) - p[pv]
    return 0.5 * (np.bincount(pc, weights=terms, minlength=ec.n_classes) + 1.0)


def emd_ordered(pc: np.ndarray, pv: np.ndarray, count: np.ndarray, p: np.ndarray, ec: EquivalenceClasses) -> np.ndarray:
    """Σᵢ |Qᵢ − Pᵢ| / (m − 1) per class, Q and P the class's and table's cumulative distributions.

    Q is constant between the values a class holds, so the sum over all m values splits into one
    segment per (class, value) pair plus a leading segment before the class's first value; within
    a segment the sum of |Q − P(i)| over a nondecreasing P is two prefix sums around the point
    where P crosses Q (``searchsorted``).
    """
    m = len(p)
    if m < 2:
        return np.zeros(ec.n_classes)
    cdf = np.cumsum(p)
    prefix = np.concatenate([[0.0], np.cumsum(cdf)])  # prefix[x] = Σ_{i<x} P(i)
    q_cum = np.cumsum(count)
    distinct = np.bincount(pc, minlength=ec.n_classes)
    starts = np.cumsum(distinct) - distinct
    before = (q_cum[starts] - count[starts])[pc]
    q = (q_cum - before) / ec.sizes[pc]  # the class's CDF at each of its values
    last = np.ones(len(pc), dtype=bool)
    last[:-1] = pc[1:] != pc[:-1]
    end = np.empty(len(pc), dtype=np.int64)
    end[:-1] = pv[1:]
    end[last] = m
    total = np.bincount(pc, weights=_segment_sums(q, pv, end, cdf, prefix), minlength=ec.n_classes)
    first_value = pv[starts]
    total += _segment_sums(np.zeros(ec.n_classes), np.zeros(ec.n_classes, dtype=np.int64), first_value, cdf, prefix)
    return total / (m - 1)


def _segment_sums(q: np.ndarray, a: np.ndarray, b: np.ndarray, cdf: np.ndarray, prefix: np.ndarray) -> np.ndarray:
    """Σ_{i=a}^{b-1} |q − P(i)| for each segment, P = ``cdf`` nondecreasing."""
    s = np.clip(np.searchsorted(cdf, q, side="left"), a, b)
    out: np.ndarray = q * (s - a) - (prefix[s] - prefix[a]) + (prefix[b] - prefix[s]) - q * (b - s)
    return out


def hierarchies_for(hierarchy: object, sens: list[str]) -> dict[str, pd.DataFrame]:
    if isinstance(hierarchy, pd.DataFrame):
        if len(sens) != 1:
            raise InputError(
                Problem("hierarchy", f"one table for {len(sens)} sensitive attributes", "a mapping attribute → table")
            )
        return {sens[0]: hierarchy}
    if isinstance(hierarchy, Mapping):
        missing = [s for s in sens if s not in hierarchy]
        bad = [k for k, v in hierarchy.items() if not isinstance(v, pd.DataFrame)]
        problems = (
            [Problem("hierarchy", f"no hierarchy for {missing}", "one per sensitive attribute")] if missing else []
        )
        problems += [
            Problem(f"hierarchy['{k}']", "not a table", "a DataFrame: value, level 1, level 2, …") for k in bad
        ]
        if problems:
            raise InputError(problems)
        return {s: hierarchy[s] for s in sens}
    raise InputError(
        Problem("hierarchy", repr(type(hierarchy).__name__), "a DataFrame (value, level 1, …) for kind='hierarchical'")
    )


def emd_hierarchical(
    series: pd.Series, table: pd.DataFrame, ec: EquivalenceClasses, name: str
) -> tuple[np.ndarray, int]:
    """Hierarchical EMD (Li et al. 2007): Σ over inner nodes N of height(N)/H · min(pos, neg extra).

    With extra(C) = Q(C) − P(C) for a child C of N, min(Σ positive, Σ |negative|) equals
    (Σ_C |extra(C)| − |extra(N)|) / 2, and children a class does not hold add their P to the
    first sum — so only the (class, node) pairs a class holds are visited, level by level.
    """
    if table.shape[1] < 2 or table.shape[0] == 0:
        raise InputError(Problem(f"hierarchy for '{name}'", f"shape {table.shape}", "a value column and ≥ 1 level"))
    leaves = table.iloc[:, 0].astype(str)
    if leaves.duplicated().any():
        dup = sorted(set(leaves[leaves.duplicated()]))[:10]
        raise InputError(Problem(f"hierarchy for '{name}'", f"values listed twice: {dup}", "each value once"))
    raw_codes, _ = factorize(series)
    _, first_code, inverse = np.unique(raw_codes, return_index=True, return_inverse=True)  # one record per value
    codes, n_values = inverse.reshape(-1).astype(np.int64), len(first_code)
    values = series.iloc[first_code]
    is_missing = values.isna().to_numpy()
    position = pd.Index(table.iloc[:, 0]).get_indexer(pd.Index(values.astype(object)))
    by_text = pd.Index(leaves).get_indexer(pd.Index(values.astype(str)))
    position = np.where(position >= 0, position, by_text)  # 70 matches "70" in a hierarchy read from CSV
    unknown = sorted({str(v) for v in values[(position < 0) & ~is_missing]})
    if unknown:
        raise InputError(
            Problem(
                f"hierarchy for '{name}'", f"no row for value(s) {unknown[:10]}", "a row for every value of the column"
            )
        )
    levels = table.iloc[:, 1:].astype(str).to_numpy()
    rows = np.where(position >= 0, position, 0)
    path = levels[rows]  # value code × level labels
    path[is_missing] = "\x00missing"  # a missing value is its own branch under the root
    n_levels = path.shape[1]
    # node id at level j: the labels from level j up to the top, so equal labels in different branches differ
    node_ids = [
        combine_codes([factorize(path[:, i]) for i in range(j, n_levels)], len(path))[0] for j in range(n_levels)
    ]
    if len(np.unique(node_ids[-1])) > 1:
        node_ids.append(np.zeros(len(path), dtype=np.int64))
    height = len(node_ids)
    pc, pv, count = pair_counts(ec.ids, ec.n_classes, codes, n_values)
    p_value = np.bincount(codes[ec.ids >= 0], minlength=n_values) / ec.n_records
    q_child, p_child = count / ec.sizes[pc], p_value[pv]
    child_node, child_class = pv, pc
    child_parent_map = None
    emd = np.zeros(ec.n_classes)
    for level, nodes in enumerate(node_ids, start=1):
        n_nodes = int(nodes.max()) + 1
        p_node = np.bincount(nodes, weights=p_value, minlength=n_nodes)
        parent = nodes[child_node] if child_parent_map is None else child_parent_map[child_node]
        key = child_class * n_nodes + parent
        uniq, inverse = np.unique(key, return_inverse=True)
        q_sum = np.bincount(inverse, weights=q_child, minlength=len(uniq))
        child_terms = np.bincount(inverse, weights=np.abs(q_child - p_child) - p_child, minlength=len(uniq))
        node = uniq % n_nodes
        cls = uniq // n_nodes
        cost = 0.5 * (child_terms + p_node[node] - np.abs(q_sum - p_node[node]))
        emd += (level / height) * np.bincount(cls, weights=cost, minlength=ec.n_classes)
        # the next level's children are this level's nodes
        if level < height:
            child_parent_map = np.zeros(n_nodes, dtype=np.int64)
            child_parent_map[nodes] = node_ids[level]
        child_node, child_class, q_child, p_child = node, cls, q_sum, p_node[node]
    return emd, n_values
