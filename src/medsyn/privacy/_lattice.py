"""Optimal full-domain generalisation: a Flash-like search of the lattice of generalisation levels.

A *node* is one level per quasi-identifier; the lattice orders nodes componentwise. The search
finds the feasible node (every model holds after suppressing at most the allowed records) of
least loss, and is exact — it returns the same node as checking every node (a property test
checks this against :func:`lattice_search` with ``exhaustive=True``).

How (after Kohlmayer et al. 2012, "Flash: efficient, stable and optimal k-anonymity"):

1. **Predictive tagging** on the *monotone* models (k and distinct l-diversity always; every
   model when no suppression is allowed, see :meth:`Requirements.monotone_models`). Nodes are
   visited by height; from an untagged node a path climbs through untagged successors, and a
   binary search on the path checks nodes: a node that passes tags all its successors as
   passing, one that fails tags all its predecessors as failing.
2. **Bounds.** Every node has a lower bound on its loss from per-column marginals
   (:mod:`medsyn.privacy._loss`); nodes whose bound exceeds the best loss found are never
   visited. A node with no violating class at all makes every successor feasible with nothing
   suppressed, whose NCP/entropy loss *is* its bound, so they need no check.
3. **Candidates.** Passing nodes are then checked in order of their bound — with suppression
   the non-monotone models (entropy/recursive l-diversity, t-closeness, average risk) are checked
   on every such node, never inferred — until the bound exceeds the best loss.

Checking a node means forming its equivalence classes: each column's codes are mapped to the
node's level, packed into one int64 key per class (mixed radix) and counted with ``bincount``
(or ``unique`` when the key space is large). Classes *roll up* from the smallest already
computed table of a less general node (a group-by of aggregated counts, not of records), which
is what makes a million rows fast: the records are grouped once, at the bottom.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from medsyn.errors import InputError, Problem
from medsyn.privacy._criteria import (
    Pairs,
    Requirements,
    SensitiveCodes,
    aggregate_pairs,
    class_violations,
    needs_order,
)
from medsyn.privacy._hierarchy import Hierarchy
from medsyn.privacy._loss import LOSSES, Loss, LossTables

__all__ = ["ClassTable", "EncodedTable", "LatticeResult", "NodeOutcome", "SearchStats", "lattice_search"]

#: Lattices larger than this are refused (use Mondrian, fewer quasi-identifiers or shorter hierarchies).
MAX_NODES = 4_000_000
_CACHE_TABLES = 32
_PACK_LIMIT = 1 << 62


@dataclass(frozen=True, eq=False)
class ClassTable:
    """Equivalence classes at one node: each class's group codes and size, and where base classes went.

    ``base_map[b]`` is the class of original class ``b``; sensitive-value counts per class are
    formed from it only when a model needs them (:meth:`_Evaluator.pairs`).
    """

    levels: tuple[int, ...]
    codes: np.ndarray
    sizes: np.ndarray
    base_map: np.ndarray

    def __len__(self) -> int:
        return len(self.sizes)


@dataclass(frozen=True, eq=False)
class EncodedTable:
    """Quasi-identifiers as leaf codes, grouped once into the original (level-0) classes."""

    hierarchies: tuple[Hierarchy, ...]
    leaf_codes: np.ndarray
    row_class: np.ndarray
    base: ClassTable
    base_pairs: tuple[Pairs, ...]
    sensitive: tuple[SensitiveCodes, ...]

    @property
    def n(self) -> int:
        return int(self.leaf_codes.shape[0])

    @classmethod
    def build(
        cls, hierarchies: Sequence[Hierarchy], leaf_codes: np.ndarray, sensitive: Sequence[SensitiveCodes] = ()
    ) -> EncodedTable:
        """Group records by their leaf codes (the classes of the original table)."""
        n, m = leaf_codes.shape
        key = _dense_key(leaf_codes, [h.n_codes for h in hierarchies]) if m else np.zeros(n, dtype=np.int64)
        _, first, row_class = np.unique(key, return_index=True, return_inverse=True)
        row_class = row_class.astype(np.int64)
        sizes = np.bincount(row_class).astype(np.int64)
        ones = np.ones(n, dtype=np.int64)
        pairs = tuple(aggregate_pairs(row_class, s.codes, ones, s.size) for s in sensitive)
        base_codes = np.asfortranarray(leaf_codes[first], dtype=np.int32)  # columns contiguous: gathers per column
        base = ClassTable(tuple([0] * m), base_codes, sizes, np.arange(len(sizes)))
        return cls(tuple(hierarchies), leaf_codes, row_class, base, pairs, tuple(sensitive))


def _dense_key(codes: np.ndarray, radices: Sequence[int]) -> np.ndarray:
    """One int64 per row, equal iff the rows are equal; re-coded densely when the radix product overflows."""
    key = codes[:, 0].astype(np.int64)
    span = max(int(radices[0]), 1)
    for j in range(1, codes.shape[1]):
        radix = max(int(radices[j]), 1)
        if span * radix >= _PACK_LIMIT:
            uniq, key = np.unique(key, return_inverse=True)
            span = len(uniq)
            key = key.astype(np.int64)
        key = key * radix + codes[:, j]
        span *= radix
    return key


@dataclass(frozen=True, slots=True)
class SearchStats:
    """What the search did: lattice size, nodes checked, tagged without checking, skipped by bound."""

    nodes: int
    checked: int
    tagged: int
    pruned: int
    rollups: int
    seconds: float
    exhaustive: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "nodes": self.nodes,
            "checked": self.checked,
            "tagged": self.tagged,
            "pruned": self.pruned,
            "rollups": self.rollups,
            "seconds": self.seconds,
            "exhaustive": self.exhaustive,
        }


@dataclass(frozen=True, eq=False)
class NodeOutcome:
    """A checked node: feasible or not, records suppressed, loss, and its classes."""

    levels: tuple[int, ...]
    feasible: bool
    suppressed: int
    loss: float
    classes: ClassTable
    violating: np.ndarray


@dataclass(frozen=True, eq=False)
class LatticeResult:
    """The optimum (``None`` when no node is feasible), the top node's outcome and the statistics."""

    best: NodeOutcome | None
    top: NodeOutcome
    row_class: np.ndarray | None
    stats: SearchStats


class _Evaluator:
    """Forms a node's classes (rolled up from the cheapest cached ancestor) and checks the models."""

    def __init__(self, table: EncodedTable, req: Requirements, loss: Loss, bounds: np.ndarray) -> None:
        self.table, self.req, self.loss, self.bounds = table, req, loss, bounds
        self.limit = req.suppression_limit(table.n)
        suppression = self.limit > 0
        self.mono = req.monotone_models(suppression=suppression)
        self.rest = req.models() - self.mono
        self.avg_mono = req.avg_risk is not None and not suppression
        self.avg_rest = req.avg_risk is not None and suppression
        self.cache: OrderedDict[tuple[int, ...], ClassTable] = OrderedDict()
        self.ordered = needs_order(req, table.sensitive)
        self._pairs: OrderedDict[tuple[int, ...], tuple[ClassTable, tuple[Pairs, ...]]] = OrderedDict()
        self._moves: dict[tuple[int, int, int], np.ndarray] = {}
        self.rollups = 0

    def _move(self, j: int, start: int, stop: int) -> np.ndarray:
        key = (j, start, stop)
        if key not in self._moves:
            self._moves[key] = self.table.hierarchies[j].transition(start, stop)
        return self._moves[key]

    def pairs(self, tab: ClassTable) -> tuple[Pairs, ...]:
        """Sensitive-value counts per class of ``tab``, from the original classes' counts."""
        hit = self._pairs.get(tab.levels)
        if hit is not None and hit[0] is tab:
            return hit[1]
        out = tuple(
            aggregate_pairs(tab.base_map[p.cls], p.value, p.count, s.size, ordered=self.ordered)
            for p, s in zip(self.table.base_pairs, self.table.sensitive, strict=True)
        )
        self._pairs[tab.levels] = (tab, out)
        if len(self._pairs) > 8:
            self._pairs.popitem(last=False)
        return out

    def violations(self, models: frozenset[str], tab: ClassTable) -> np.ndarray:
        """Per class: breaks one of ``models``? (k first: it needs no sensitive counts.)"""
        bad = tab.sizes < self.req.min_class_size if "k" in models else np.zeros(len(tab), dtype=bool)
        rest = models - {"k"}
        if rest:
            bad = bad | class_violations(rest, tab.sizes, self.pairs(tab), self.table.sensitive, self.req)
        return np.asarray(bad, dtype=bool)

    def classes(self, levels: tuple[int, ...], *, cached: bool = True) -> tuple[ClassTable, ClassTable, np.ndarray]:
        """(node table, the table it came from, source class → node class)."""
        source = self.table.base
        if cached:
            target = np.asarray(levels)
            for lv, tab in self.cache.items():
                if len(tab) < len(source) and bool(np.all(np.asarray(lv) <= target)):
                    source = tab
            if source is not self.table.base:
                self.rollups += 1
                self.cache.move_to_end(source.levels)
        node, inverse = self._rollup(source, levels)
        if cached:
            self.cache[levels] = node
            if len(self.cache) > _CACHE_TABLES:
                self.cache.popitem(last=False)
        return node, source, inverse

    def _rollup(self, src: ClassTable, levels: tuple[int, ...]) -> tuple[ClassTable, np.ndarray]:
        hs = self.table.hierarchies
        m = len(levels)
        codes = np.empty((len(src), m), dtype=np.int32, order="F")
        for j in range(m):
            codes[:, j] = self._move(j, src.levels[j], levels[j])[src.codes[:, j]]
        radices = [hs[j].groups(levels[j]) for j in range(m)]
        combos = float(np.prod(np.asarray(radices, dtype=np.float64))) if m else 1.0
        if m == 0:
            inverse = np.zeros(len(src), dtype=np.int64)
            n_cls = 1 if len(src) else 0
        elif combos <= max(4.0 * len(src), 65536.0):
            key = _dense_key(codes, radices)
            present = np.bincount(key, minlength=int(combos)) > 0
            ids = np.cumsum(present) - 1
            inverse = ids[key]
            n_cls = int(present.sum())
        else:
            # hashing, not sorting: class order does not matter, only membership
            inverse, uniques = pd.factorize(_dense_key(codes, radices))
            n_cls = len(uniques)
        inverse = np.asarray(inverse, dtype=np.int64)
        sizes = np.bincount(inverse, weights=src.sizes, minlength=n_cls).astype(np.int64)
        out_codes = np.empty((n_cls, m), dtype=np.int32, order="F")
        for j in range(m):
            out_codes[inverse, j] = codes[:, j]
        return ClassTable(levels, out_codes, sizes, inverse[src.base_map]), inverse

    def _avg_ok(self, tab: ClassTable, violating: np.ndarray) -> bool:
        assert self.req.avg_risk is not None
        kept = ~violating
        records = int(tab.sizes[kept].sum())
        return records == 0 or int(kept.sum()) / records <= self.req.avg_risk + 1e-12

    def evaluate(self, idx: int, levels: tuple[int, ...]) -> tuple[bool, NodeOutcome | None]:
        """(passes the monotone models?, the full outcome when it does)."""
        tab, _, _ = self.classes(levels)
        return self.judge(idx, tab)

    def judge(self, idx: int, tab: ClassTable) -> tuple[bool, NodeOutcome | None]:
        levels = tab.levels
        if "k" in self.mono and int(tab.sizes[tab.sizes < self.req.min_class_size].sum()) > self.limit:
            return False, None  # fails on class sizes alone: no sensitive counts needed
        bad = self.violations(self.mono, tab)
        if int(tab.sizes[bad].sum()) > self.limit or (self.avg_mono and not self._avg_ok(tab, bad)):
            return False, None
        if self.rest:
            bad = bad | self.violations(self.rest, tab)
        suppressed = int(tab.sizes[bad].sum())
        ok = suppressed <= self.limit and not (self.avg_rest and not self._avg_ok(tab, bad))
        loss = self.loss.value(levels, tab.codes, tab.sizes, bad, float(self.bounds[idx])) if ok else np.inf
        return True, NodeOutcome(levels, ok, suppressed, float(loss), tab, bad)

    def full(self, levels: tuple[int, ...]) -> NodeOutcome:
        """Every model checked, whatever the limit (for the 'best achievable' report)."""
        tab, _, _ = self.classes(levels, cached=False)
        bad = self.violations(self.req.models(), tab)
        suppressed = int(tab.sizes[bad].sum())
        ok = suppressed <= self.limit and not (self.req.avg_risk is not None and not self._avg_ok(tab, bad))
        return NodeOutcome(levels, ok, suppressed, np.inf, tab, bad)


def _tol(value: float) -> float:
    return 1e-9 * max(1.0, abs(value)) if np.isfinite(value) else 0.0


def lattice_search(
    table: EncodedTable,
    req: Requirements,
    *,
    loss: str = "ncp",
    exhaustive: bool = False,
    max_nodes: int = MAX_NODES,
) -> LatticeResult:
    """Find the feasible full-domain generalisation of least ``loss`` (ties: lower, then first).

    Parameters
    ----------
    table
        The encoded quasi-identifiers (and sensitive attributes when l or t is required).
    req
        The models to enforce and the suppression limit.
    loss
        ``ncp`` (default), ``entropy`` or ``discernibility`` (see :data:`LOSSES`).
    exhaustive
        Check every node (for tests and small lattices); same result, more work.
    """
    started = time.perf_counter()
    hs = table.hierarchies
    heights = np.asarray([h.height for h in hs], dtype=np.int64)
    n_nodes = int(np.prod(heights)) if len(hs) else 1
    if n_nodes > max_nodes:
        raise InputError(
            Problem(
                "quasi-identifiers",
                f"a lattice of {n_nodes:,} generalisation combinations ({' × '.join(map(str, heights))})",
                f"at most {max_nodes:,}",
                "Use method='mondrian', fewer quasi-identifiers, or hierarchies with fewer levels.",
            )
        )
    nodes = np.stack(np.unravel_index(np.arange(n_nodes), tuple(heights)), axis=1).astype(np.int16)
    group_counts = np.zeros((n_nodes, len(hs)), dtype=np.int64)
    for j, h in enumerate(hs):
        group_counts[:, j] = np.asarray([h.groups(lv) for lv in range(h.height)])[nodes[:, j]]
    leaf_counts = [np.bincount(table.leaf_codes[:, j], minlength=h.n_codes) for j, h in enumerate(hs)]
    loss_fn = LOSSES.get(loss)(LossTables.build(hs, leaf_counts, table.n), len(table.base))
    bounds = loss_fn.bound(nodes.astype(np.int64), group_counts)
    ev = _Evaluator(table, req, loss_fn, bounds)
    top = ev.full(tuple(int(h) - 1 for h in heights))
    search = _Search(ev, nodes, heights, bounds)
    if exhaustive:
        search.exhaustive()
    elif not _top_fails_monotone(ev, top):
        search.flash()
    best = search.best_node()
    row_class = None
    outcome: NodeOutcome | None = None
    if best is not None:
        levels = tuple(int(x) for x in nodes[best])
        tab, _, _ = ev.classes(levels)
        passed, outcome = ev.judge(best, tab)
        assert passed
        assert outcome is not None
        assert outcome.feasible
        row_class = tab.base_map[table.row_class]
    stats = SearchStats(
        nodes=n_nodes,
        checked=int(search.checked.sum()),
        tagged=int((((search.state != 0) | search.exact) & ~search.checked).sum()),
        pruned=int(((search.state == 0) & ~search.checked & ~search.exact).sum()),
        rollups=ev.rollups,
        seconds=time.perf_counter() - started,
        exhaustive=exhaustive,
    )
    return LatticeResult(outcome, top, row_class, stats)


def _top_fails_monotone(ev: _Evaluator, top: NodeOutcome) -> bool:
    bad = ev.violations(ev.mono, top.classes)
    return int(top.classes.sizes[bad].sum()) > ev.limit or (ev.avg_mono and not ev._avg_ok(top.classes, bad))


class _Search:
    """Tagging state over the lattice and the two phases of the search."""

    def __init__(self, ev: _Evaluator, nodes: np.ndarray, heights: np.ndarray, bounds: np.ndarray) -> None:
        self.ev, self.nodes, self.heights, self.bounds = ev, nodes, heights, bounds
        n = len(nodes)
        self.height = nodes.sum(axis=1, dtype=np.int64)
        self.strides = np.r_[np.cumprod(heights[::-1])[::-1][1:], 1].astype(np.int64) if len(heights) else np.zeros(0)
        self.state = np.zeros(n, dtype=np.int8)  # 1 passes the monotone models, -1 fails them
        self.checked = np.zeros(n, dtype=bool)
        self.exact = np.zeros(n, dtype=bool)  # feasible, nothing suppressed: loss == bound
        self.known = np.full(n, np.inf)
        self.best = np.inf

    def _levels(self, idx: int) -> tuple[int, ...]:
        return tuple(int(x) for x in self.nodes[idx])

    def check(self, idx: int) -> bool:
        passed, out = self.ev.evaluate(idx, self._levels(idx))
        self.checked[idx] = True
        if not passed:
            self.state[(self.nodes <= self.nodes[idx]).all(axis=1)] = -1
            return False
        above = (self.nodes >= self.nodes[idx]).all(axis=1)
        self.state[above] = 1
        assert out is not None
        if out.feasible:
            self.known[idx] = out.loss
            self.best = min(self.best, out.loss)
            if out.suppressed == 0 and self.ev.loss.exact_unsuppressed:
                # no class violates any model: every successor is feasible as it is
                self.exact |= above
                self.known[above] = np.minimum(self.known[above], self.bounds[above])
                self.best = min(self.best, float(self.bounds[above].min()))
        inherited = self.ev.loss.successor_bound(out.classes.sizes)
        if inherited is not None:
            self.bounds[above] = np.maximum(self.bounds[above], inherited)
        return True

    def _open(self, idx: int) -> bool:
        return bool(self.state[idx] == 0 and self.bounds[idx] <= self.best + _tol(self.best))

    def flash(self) -> None:
        order = np.lexsort((np.arange(len(self.nodes)), self.bounds, self.height))
        for start in order:
            if not self._open(int(start)):
                continue
            path = [int(start)]
            while True:
                cur = path[-1]
                succ = [
                    cur + int(self.strides[j])
                    for j in range(len(self.heights))
                    if self.nodes[cur, j] + 1 < self.heights[j]
                ]
                open_succ = [s for s in succ if self._open(s)]
                if not open_succ:
                    break
                path.append(min(open_succ, key=lambda s: (float(self.bounds[s]), s)))
            lo, hi = 0, len(path) - 1
            while lo <= hi:
                mid = (lo + hi) // 2
                node = path[mid]
                passed = bool(self.state[node] == 1) if self.state[node] != 0 else self.check(node)
                if passed:
                    hi = mid - 1
                else:
                    lo = mid + 1
        self._candidates()

    def _candidates(self) -> None:
        """Check passing nodes in order of their bound until the bound exceeds the best loss."""
        tol = _tol(self.best)
        todo = np.flatnonzero((self.state == 1) & ~self.checked & ~self.exact & (self.bounds <= self.best + tol))
        stale = self.bounds[todo].copy()
        order = np.lexsort((todo, self.height[todo], stale))
        for pos in order:
            idx = int(todo[pos])
            if stale[pos] > self.best + _tol(self.best):
                break
            if self.exact[idx] or self.bounds[idx] > self.best + _tol(self.best):
                continue
            self.check(idx)

    def exhaustive(self) -> None:
        for idx in range(len(self.nodes)):
            passed, out = self.ev.evaluate(idx, self._levels(idx))
            self.checked[idx] = True
            self.state[idx] = 1 if passed else -1
            if out is not None and out.feasible:
                self.known[idx] = out.loss

    def best_node(self) -> int | None:
        finite = np.isfinite(self.known)
        if not finite.any():
            return None
        low = float(self.known[finite].min())
        ties = np.flatnonzero(self.known <= low + _tol(low))
        return int(ties[np.lexsort((ties, self.height[ties]))[0]])
