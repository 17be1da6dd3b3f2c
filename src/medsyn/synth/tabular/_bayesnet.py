"""``bayesian_network``: a Bayesian network over binned columns; PrivBayes when ``epsilon`` is set.

Numbers are binned (:mod:`._discretize`), so every column is a small alphabet of codes, and
the joint distribution is factorised as ``P(x) = Π P(x_i | parents_i)`` with at most
``degree`` parents per column. A numeric column with more than 4 bins also offers a *coarse*
copy (its bins merged into 4 runs: quartiles for quantile bins) that may serve as a parent, so
a number can depend on two other numbers on a table of modest size (the idea of PrivBayes'
generalised attributes).

Structure. The greedy search of PrivBayes (Zhang et al. 2017, "PrivBayes: private data
release via Bayesian networks", ACM TODS 42(4)): starting from one column, repeatedly add the
(column, parent set) pair that scores best, the parents taken among the columns already in
the network, so the order found is a topological order. Without privacy the score is the
mutual information ``I(X; Π)`` less its small-sample bias ``(|X|−1)(|Π|−1)/(2n)`` (the
Miller–Madow correction: a parent set must explain more than chance would, and a column may
keep fewer than ``degree`` parents, or none), estimated on at most 50 000 random rows; the
network starts from the column of the best-scoring pair. A parent set whose table would have
more than one cell per 4 training rows is not considered, which keeps diagnosis codes with
hundreds of levels workable: they are modelled, and used as parents only of small columns on
large tables.

Tables. ``P(x | π) = (c(x, π) + s·p(x)) / (c(π) + s)`` from the counts ``c``: a parent
combination seen rarely falls back to the column's marginal ``p(x)`` (itself smoothed by
``alpha`` per code), with prior strength ``s = alpha·|X|``. Every code keeps a positive
probability, so rare conditions stay reachable.

Differential privacy (``epsilon``). As PrivBayes, with pure ε-DP and neighbouring tables that
differ by *replacing* one record, so the number of records ``n`` is public (recorded as a
zero-cost charge). A share ``structure_share`` of ε selects the structure: the first column is
drawn uniformly (free), each later step draws one (column, parent set) pair by the exponential
mechanism on ``I(X; Π)`` (sensitivity ``(2/n)·ln((n+1)/2) + ((n−1)/n)·ln((n+1)/(n−1))``,
Lemma 4.1 of the paper) among the largest parent sets whose tables stay θ-useful (θ = 4: a
table has at most ``n·ε₂ / (2·d·θ)`` cells, ε₂ the marginals' share, from public numbers
only). A step whose candidates all have empty parent sets learns nothing and is free; its
share goes to the next. The rest of ε is split equally over the joint counts of each column
with its parents (Laplace noise of scale 2/ε', the L1 sensitivity of a histogram under
replacement); a table contained in a later one is derived from it instead of measured again.
Negative noisy counts are set to 0 and the tables smoothed as above with a prior of at least
one noise scale per cell (post-processing). Bins are equal-width over the schema's public
bounds (as many as keep a column's table θ-useful with one coarse parent, 4 to 20),
categories come from its category lists (the plan refuses a private fit without them), and
the value of a missing number is re-drawn uniformly within its bounds before counting, so
each record's contribution depends on that record alone. Every charge is listed in
:attr:`privacy`.

Sampling is ancestral in the topological order, vectorised: each column's code is drawn for
all rows at once from the table row of their parents' codes (one ``searchsorted`` on the
flattened cumulative table). Numbers are then drawn inside their bins.

Conditions are native and exact, by likelihood weighting with rejection. A conditioned column
is drawn from its table row restricted to the codes that can meet the condition (a numeric
bin that overlaps the interval), and the row is kept with probability ``w / max w``, where
``w = Π P(allowed | parents)`` over the conditioned columns and ``max w`` is the product of
each table's largest allowed mass. The proposal has density ``P(x)·1[allowed] / w``, so the
kept rows follow the model's distribution restricted to the allowed codes; the base class
checks the exact condition on every decoded row (a value inside an overlapping bin but
outside the interval is rejected there), which leaves exactly the model's conditional
distribution. A condition on a column without parents is never rejected at all.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from medsyn.data.conditions import Conditions
from medsyn.data.dataset import Modality
from medsyn.errors import InputError, Problem
from medsyn.privacy import PrivacyAccountant
from medsyn.synth._base import GENERATORS, Supports
from medsyn.synth._params import is_number, is_whole
from medsyn.synth.tabular._base import TabularGenerator
from medsyn.synth.tabular._discretize import Discretizer
from medsyn.synth.tabular._plan import ModelColumn

__all__ = ["BayesianNetwork"]

#: PrivBayes θ-usefulness: average count per cell at least θ Laplace scales
_THETA = 4.0
#: without privacy, a parent set may not need more than one table cell per this many rows
_ROWS_PER_CELL = 4.0
#: hard limit on one conditional table (cells), whatever the data size
_MAX_CELLS = 1_000_000
#: without privacy, the structure is scored on at most this many rows (a random subsample)
_STRUCTURE_ROWS = 50_000
#: a wide numeric column also offers a copy with its bins merged into this many, as a parent
_COARSE = 4


@GENERATORS.register("bayesian_network")
class BayesianNetwork(TabularGenerator):
    """Bayesian network with up to ``degree`` parents per column; PrivBayes with ``epsilon``.

    Parameters
    ----------
    degree
        Most parents per column (PrivBayes' k); 0 models the columns independently.
    bins
        Most bins per numeric column; by default 20 without privacy (fewer on small tables:
        about ``2·n^(1/3)``, at least 5), and with it as many as keep a column's noisy table
        useful (4 to 20, from ``n``, ``epsilon`` and the number of columns).
    alpha
        Smoothing pseudo-count per code (> 0): every code keeps a positive probability.
    epsilon
        Differential-privacy budget (pure ε-DP, PrivBayes); ``None`` for no formal guarantee.
    structure_share
        Share of ``epsilon`` spent on choosing the structure (PrivBayes' β, 0 < β < 1).

    Examples
    --------
    >>> import pandas as pd
    >>> from medsyn.synth import get
    >>> df = pd.DataFrame({"age": [30, 40, 50, 60, 70, 80] * 5, "sex": list("FMFMFM") * 5})
    >>> out = get("bayesian_network")().fit(df).sample(4, conditions="sex == 'F'", seed=0)
    >>> sorted(set(out.data["sex"]))
    ['F']
    """

    name = "bayesian_network"
    supports = Supports(
        frozenset({Modality.TABULAR}),
        conditions="native",
        differential_privacy=True,
        summary="Bayesian network on binned columns; PrivBayes (pure ε-DP) with epsilon; exact conditional sampling",
    )
    dp_mode = "pure"

    def __init__(
        self,
        *,
        degree: int = 2,
        bins: int | None = None,
        alpha: float = 0.1,
        epsilon: float | None = None,
        structure_share: float = 0.3,
    ) -> None:
        self.degree = degree
        self.bins = bins
        self.alpha = alpha
        self.epsilon = epsilon
        self.structure_share = structure_share

    # -- fit --------------------------------------------------------------------------------
    def _fit(self, table: pd.DataFrame, columns: list[ModelColumn], rng: np.random.Generator) -> None:
        self._check_params()
        accountant = self.accountant_
        n, d = len(table), len(columns)
        self.discretizer_ = Discretizer.fit(table, columns, bins=self._bins(n, d), private=accountant is not None)
        layout = _Layout.of(columns, self.discretizer_.sizes)
        codes = layout.extend(self.discretizer_.encode(table))
        degree = int(self.degree)
        with self._progress(self._show_progress, 2 * d, "bayesian_network") as advance:
            if accountant is None:
                # mutual information is estimated well from a subsample; the tables use every row
                rows = np.sort(rng.choice(n, _STRUCTURE_ROWS, replace=False)) if n > _STRUCTURE_ROWS else slice(None)
                scores = _Scores(np.asfortranarray(codes[rows]), layout.sizes)
                self.order_, self.parents_ = _greedy_structure(scores, layout, degree, self._cell_limit(n, d), advance)
                self.cpts_ = [
                    _conditional(_counts(codes, layout.sizes, (*self.parents_[x], x)), float(self.alpha), 0.0)
                    for x in range(d)
                ]
                advance(d)
            else:
                accountant.spend(
                    "number of records n: public (neighbouring tables differ by one replaced record)", epsilon=0.0
                )
                self.order_, self.parents_ = _private_structure(
                    _Scores(codes, layout.sizes),
                    layout,
                    degree,
                    self._structure_epsilon(),
                    self._cell_limit(n, d),
                    accountant,
                    rng,
                    advance,
                )
                names = [layout.label(v, columns) for v in range(layout.sizes.size)]
                self.cpts_ = _private_tables(
                    codes, layout.sizes, self.order_, self.parents_, float(self.alpha), accountant, names, rng, advance
                )
        self._prepare()

    def _check_params(self) -> None:
        problems: list[Problem] = []
        if not is_whole(self.degree) or self.degree < 0:
            problems.append(Problem("bayesian_network degree", repr(self.degree), "a whole number >= 0"))
        if self.bins is not None and (not is_whole(self.bins) or self.bins < 2):
            problems.append(Problem("bayesian_network bins", repr(self.bins), "None or a whole number >= 2"))
        if not is_number(self.alpha) or not 0 < self.alpha < math.inf:
            problems.append(Problem("bayesian_network alpha", repr(self.alpha), "a number > 0"))
        if not is_number(self.structure_share) or not 0 < self.structure_share < 1:
            problems.append(
                Problem("bayesian_network structure_share", repr(self.structure_share), "a number in (0, 1)")
            )
        if problems:
            raise InputError(problems)

    def _structure_epsilon(self) -> float:
        return float(self.epsilon or 0.0) * float(self.structure_share)

    def _cell_limit(self, n: int, d: int) -> float:
        """Most cells of one table: θ-useful under privacy (public numbers only), else n / _ROWS_PER_CELL."""
        if self.epsilon is None:
            return min(_MAX_CELLS, max(n / _ROWS_PER_CELL, 1.0))
        share = float(self.epsilon) - self._structure_epsilon()
        return min(_MAX_CELLS, n * share / (2.0 * d * _THETA))

    def _bins(self, n: int, d: int) -> int:
        if self.bins is not None:
            return int(self.bins)
        if self.epsilon is not None:  # a column's own table θ-useful with one coarse parent
            return int(min(20, max(4, math.floor(self._cell_limit(n, d) / _COARSE))))
        return int(min(20, max(5, round(2 * n ** (1 / 3)))))

    def _prepare(self) -> None:
        """Derived sampling state: the variable layout, parent strides, each table's flat cumulative form."""
        self._layout = _Layout.of(self.columns_, self.discretizer_.sizes)
        self._strides = [_strides(self._layout.sizes, pa) for pa in self.parents_]
        self._flat = [_flat_cdf(cpt) for cpt in self.cpts_]

    # -- sample -----------------------------------------------------------------------------
    def _sample(self, n: int, rng: np.random.Generator, conditions: Conditions) -> pd.DataFrame:
        d, layout = len(self.columns_), self._layout
        codes = np.zeros((n, layout.sizes.size), dtype=np.int64)
        allowed = self.discretizer_.allowed(conditions)
        weight = np.ones(n)
        for x in self.order_:
            pa = self.parents_[x]
            row = codes[:, list(pa)] @ self._strides[x] if pa else np.zeros(n, dtype=np.int64)
            cpt = self.cpts_[x]
            if x in allowed:
                masked = cpt * allowed[x]
                mass = masked.sum(axis=1)
                best = float(mass.max())
                if best <= 0.0:  # the model gives the condition no mass: no row from this model
                    return self.discretizer_.decode(codes[:0, :d], rng)
                flat = _flat_cdf(masked, last=int(np.flatnonzero(allowed[x])[-1]))
                codes[:, x] = _draw(flat, cpt.shape[1], row, rng.random(n))
                weight *= mass[row] / best
            else:
                codes[:, x] = _draw(self._flat[x], cpt.shape[1], row, rng.random(n))
            for v in layout.coarse_of.get(x, ()):
                codes[:, v] = layout.groups[v][codes[:, x]]
        if allowed:
            codes = codes[rng.random(n) < weight]
        return self.discretizer_.decode(codes[:, :d], rng)

    # -- state ------------------------------------------------------------------------------
    def _model_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        names = [c.name for c in self.columns_]
        bins_state, arrays = self.discretizer_.to_state()
        arrays |= {f"cpt/{names[x]}": cpt for x, cpt in enumerate(self.cpts_)}
        column = self._layout.column
        state = {
            "columns": names,
            "order": [names[x] for x in self.order_],
            "parents": {
                names[x]: [{"column": names[column[v]], "coarse": v >= len(names)} for v in pa]
                for x, pa in enumerate(self.parents_)
            },
            "bins": bins_state,
        }
        return state, arrays

    def _load_model_state(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        names = [c.name for c in self.columns_]
        if list(state["columns"]) != names:
            raise ValueError(f"model columns {state['columns']} do not match the plan {names}")
        self.discretizer_ = Discretizer.from_state(self.columns_, state["bins"], arrays)
        layout = _Layout.of(self.columns_, self.discretizer_.sizes)
        self.order_ = [names.index(x) for x in state["order"]]
        self.parents_ = [
            tuple(layout.variable(names.index(p["column"]), bool(p["coarse"])) for p in state["parents"][x])
            for x in names
        ]
        self.cpts_ = [np.asarray(arrays[f"cpt/{x}"], dtype=float) for x in names]
        placed: set[int] = set()
        for x in self.order_:
            pa = self.parents_[x]
            shape = (int(np.prod(layout.sizes[list(pa)])) if pa else 1, int(layout.sizes[x]))
            if not {int(layout.column[v]) for v in pa} <= placed or self.cpts_[x].shape != shape:
                raise ValueError(f"table of '{names[x]}' does not fit its parents {state['parents'][names[x]]}")
            placed.add(x)
        if sorted(self.order_) != list(range(len(names))):
            raise ValueError("the network order does not list every column once")
        self._prepare()

    @property
    def structure(self) -> dict[str, list[str]]:
        """The learned parents of each model column, in sampling order (a coarse parent is marked so)."""
        self._check_fitted()
        names = [c.name for c in self.columns_]
        return {names[x]: [self._layout.label(v, self.columns_) for v in self.parents_[x]] for x in self.order_}


# -- variables ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Layout:
    """The network's variables: each column's codes (ids ``0..d-1``), then a coarse copy of each
    numeric column with more than ``_COARSE`` bins (its bins merged into ``_COARSE`` runs of
    neighbours: quartiles for quantile bins). Coarse copies are only ever parents: they let a
    column depend on two numbers at once on a table of modest size."""

    sizes: np.ndarray
    column: np.ndarray
    groups: dict[int, np.ndarray]  # coarse variable -> fine code to coarse code
    coarse_of: dict[int, tuple[int, ...]]  # column -> its coarse variable(s)

    @classmethod
    def of(cls, columns: Sequence[ModelColumn], sizes: np.ndarray) -> _Layout:
        d = len(columns)
        out_sizes, column = [int(s) for s in sizes], list(range(d))
        groups: dict[int, np.ndarray] = {}
        coarse_of: dict[int, tuple[int, ...]] = {}
        for j, col in enumerate(columns):
            if col.kind == "numeric" and sizes[j] > _COARSE:
                v = len(out_sizes)
                groups[v] = (np.arange(int(sizes[j])) * _COARSE) // int(sizes[j])
                coarse_of[j] = (v,)
                out_sizes.append(_COARSE)
                column.append(j)
        return cls(np.array(out_sizes, dtype=np.int64), np.array(column, dtype=np.int64), groups, coarse_of)

    def extend(self, codes: np.ndarray) -> np.ndarray:
        """Column codes plus the coarse copies, as one column-major matrix."""
        out = np.empty((codes.shape[0], self.sizes.size), dtype=np.int64, order="F")
        out[:, : codes.shape[1]] = codes
        for v, group in self.groups.items():
            out[:, v] = group[codes[:, self.column[v]]]
        return out

    def variables(self, x: int) -> tuple[int, ...]:
        return (x, *self.coarse_of.get(x, ()))

    def variable(self, x: int, coarse: bool) -> int:
        if not coarse:
            return x
        if x not in self.coarse_of:
            raise ValueError(f"column {x} has no coarse copy")
        return self.coarse_of[x][0]

    def label(self, v: int, columns: Sequence[ModelColumn]) -> str:
        name = columns[int(self.column[v])].name
        return name if v < len(columns) else f"{name} (coarse)"


# -- scores -------------------------------------------------------------------------------------
class _Scores:
    """Mutual information ``I(X; Π)`` (nats) of code columns, each (X, Π) computed once."""

    def __init__(self, codes: np.ndarray, sizes: np.ndarray) -> None:
        self.codes, self.sizes, self.n = codes, sizes, codes.shape[0]
        self.entropy = np.array([_entropy(np.bincount(codes[:, j]), self.n) for j in range(codes.shape[1])])
        self._mi: dict[tuple[int, tuple[int, ...]], float] = {}

    def cells(self, x: int, pa: tuple[int, ...]) -> int:
        return int(self.sizes[x]) * int(np.prod(self.sizes[list(pa)])) if pa else int(self.sizes[x])

    def mi(self, xs: Sequence[int], pa: tuple[int, ...]) -> np.ndarray:
        todo = [x for x in xs if (x, pa) not in self._mi]
        if todo and pa:
            index = self.codes[:, list(pa)] @ _strides(self.sizes, pa)
            h_pa = _entropy(np.bincount(index), self.n)
            for x in todo:
                joint = index * self.sizes[x] + self.codes[:, x]
                h = _entropy(np.bincount(joint), self.n)
                self._mi[(x, pa)] = max(0.0, float(self.entropy[x] + h_pa - h))
        for x in todo:
            self._mi.setdefault((x, pa), 0.0)
        return np.array([self._mi[(x, pa)] for x in xs])


def _entropy(counts: np.ndarray, n: int) -> float:
    c = counts[counts > 0].astype(float)
    return float(math.log(n) - (c * np.log(c)).sum() / n)


def _mi_sensitivity(n: int) -> float:
    """Sensitivity of I(X; Π) in nats under replacement of one of ``n`` records (PrivBayes Lemma 4.1)."""
    if n < 2:
        return math.log(2.0)
    return 2.0 / n * math.log((n + 1) / 2) + (n - 1) / n * math.log((n + 1) / (n - 1))


# -- structure ----------------------------------------------------------------------------------
def _greedy_structure(
    scores: _Scores, layout: _Layout, degree: int, limit: float, advance: Callable[[int], None]
) -> tuple[list[int], list[tuple[int, ...]]]:
    """Non-private greedy search on bias-corrected mutual information (see the module docstring)."""
    d, n = len(layout.column) - len(layout.groups), scores.n

    def gain(xs: list[int], pa: tuple[int, ...]) -> np.ndarray:
        ok = [x for x in xs if scores.cells(x, pa) <= limit]
        out = np.full(len(xs), -np.inf)
        if ok:
            bias = np.array([(scores.sizes[x] - 1) * (scores.cells(x, pa) // scores.sizes[x] - 1) for x in ok])
            out[[xs.index(x) for x in ok]] = scores.mi(ok, pa) - bias / (2 * n)
        return out

    parents: list[tuple[int, ...]] = [() for _ in range(d)]
    if degree == 0 or d == 1:
        advance(d)
        return list(range(d)), parents
    pair = np.full((d, layout.sizes.size), -np.inf)  # pair[x, v]: column x with the single parent v
    for v in range(layout.sizes.size):
        others = [x for x in range(d) if x != layout.column[v]]
        pair[others, v] = gain(others, (v,))
    order = [int(layout.column[int(np.unravel_index(np.argmax(pair), pair.shape)[1])])]
    best: dict[int, tuple[float, tuple[int, ...]]] = {x: (0.0, ()) for x in range(d) if x != order[0]}
    subsets: list[tuple[int, ...]] = [()]
    advance(1)
    while best:
        new = [tuple(sorted((*s, v))) for s in subsets if len(s) < degree for v in layout.variables(order[-1])]
        subsets += new
        rest = sorted(best)
        for pa in new:
            for x, g in zip(rest, gain(rest, pa), strict=True):
                if g > best[x][0]:
                    best[x] = (float(g), pa)
        x = max(rest, key=lambda r: (best[r][0], -r))
        parents[x] = best.pop(x)[1]
        order.append(x)
        advance(1)
    return order, parents


def _private_structure(
    scores: _Scores,
    layout: _Layout,
    degree: int,
    epsilon: float,
    limit: float,
    accountant: PrivacyAccountant,
    rng: np.random.Generator,
    advance: Callable[[int], None],
) -> tuple[list[int], list[tuple[int, ...]]]:
    """PrivBayes' structure by the exponential mechanism, spending ``epsilon`` (see the module docstring)."""
    d = len(layout.column) - len(layout.groups)
    sensitivity = _mi_sensitivity(scores.n)
    parents: list[tuple[int, ...]] = [() for _ in range(d)]
    order = [int(rng.integers(d))]
    subsets: list[tuple[int, ...]] = [()]
    left, steps = epsilon, d - 1
    advance(1)
    while len(order) < d:
        subsets += [tuple(sorted((*s, v))) for s in subsets if len(s) < degree for v in layout.variables(order[-1])]
        candidates: list[tuple[int, tuple[int, ...]]] = []
        for x in (x for x in range(d) if x not in order):
            fits = [pa for pa in subsets if scores.cells(x, pa) <= limit]
            size = max((len(pa) for pa in fits), default=0)
            candidates += [(x, pa) for pa in fits if len(pa) == size] if fits else [(x, ())]
        if all(not pa for _, pa in candidates):  # nothing data-dependent to choose: free
            x, pa = candidates[int(rng.integers(len(candidates)))]
        else:
            eps = left / steps
            accountant.spend(
                f"structure step {len(order)}: one column and its parents (exponential mechanism)", epsilon=eps
            )
            left -= eps
            by_parents: dict[tuple[int, ...], list[int]] = {}
            for x, pa in candidates:
                by_parents.setdefault(pa, []).append(x)
            mi = {(x, pa): v for pa, xs in by_parents.items() for x, v in zip(xs, scores.mi(xs, pa), strict=True)}
            logits = eps * np.array([mi[c] for c in candidates]) / (2.0 * sensitivity)
            p = np.exp(logits - logits.max())
            x, pa = candidates[int(rng.choice(len(candidates), p=p / p.sum()))]
        steps -= 1
        parents[x] = pa
        order.append(x)
        advance(1)
    return order, parents


# -- tables -------------------------------------------------------------------------------------
def _counts(codes: np.ndarray, sizes: np.ndarray, clique: tuple[int, ...]) -> np.ndarray:
    """Joint counts of ``clique`` (parents then child) as an array with one axis per column."""
    index = codes[:, list(clique)] @ _strides(sizes, clique)
    shape = tuple(int(s) for s in sizes[list(clique)])
    return np.bincount(index, minlength=int(np.prod(shape))).astype(float).reshape(shape)


def _conditional(joint: np.ndarray, alpha: float, noise_scale: float) -> np.ndarray:
    """``(configurations, |X|)`` table P(x | π) from joint counts whose last axis is X (see the module docstring)."""
    k = joint.shape[-1]
    counts = joint.reshape(-1, k)
    prior = (counts.sum(axis=0) + alpha) / (counts.sum() + alpha * k)
    strength = k * max(alpha, noise_scale)
    table: np.ndarray = (counts + strength * prior) / (counts.sum(axis=1, keepdims=True) + strength)
    return table


def _private_tables(
    codes: np.ndarray,
    sizes: np.ndarray,
    order: list[int],
    parents: list[tuple[int, ...]],
    alpha: float,
    accountant: PrivacyAccountant,
    names: list[str],
    rng: np.random.Generator,
    advance: Callable[[int], None],
) -> list[np.ndarray]:
    """Noisy joint counts of each column with its parents, turned into conditional tables."""
    cliques = {x: (*parents[x], x) for x in order}
    measured: list[int] = []
    source: dict[int, int] = {}
    for x in reversed(order):  # a table inside a later measured one is derived from it
        inside = [m for m in measured if set(cliques[x]) <= set(cliques[m])]
        if not inside:
            measured.append(x)
        source[x] = inside[0] if inside else x
    eps = accountant.remaining_epsilon / len(measured)
    scale = 2.0 / eps
    noisy: dict[int, np.ndarray] = {}
    for m in reversed(measured):
        given = f" given {', '.join(repr(names[p]) for p in parents[m])}" if parents[m] else ""
        accountant.spend(f"noisy counts of '{names[m]}'{given} (Laplace, scale {scale:.3g})", epsilon=eps)
        counts = _counts(codes, sizes, cliques[m])
        noisy[m] = np.maximum(counts + rng.laplace(0.0, scale, counts.shape), 0.0)
    out: list[np.ndarray] = [np.empty((0, 0))] * len(order)
    for x in order:
        home = cliques[source[x]]
        joint = noisy[source[x]]
        drop = tuple(i for i, c in enumerate(home) if c not in cliques[x])
        joint = joint.sum(axis=drop) if drop else joint
        kept = [c for c in home if c in cliques[x]]
        joint = np.transpose(joint, [kept.index(c) for c in cliques[x]])
        out[x] = _conditional(joint, alpha, scale)
        advance(1)
    return out


# -- sampling helpers ---------------------------------------------------------------------------
def _strides(sizes: np.ndarray, cols: Sequence[int]) -> np.ndarray:
    """Row-major strides: ``codes[:, cols] @ strides`` numbers each combination of codes."""
    dims = [int(sizes[c]) for c in cols]
    return np.array([int(np.prod(dims[i + 1 :])) for i in range(len(dims))], dtype=np.int64)


def _flat_cdf(table: np.ndarray, last: int | None = None) -> np.ndarray:
    """Row ``r``'s cumulative probabilities plus ``r``, flattened: one ``searchsorted`` draws every row.

    ``last`` is the last code with mass; entries from it on are exactly 1 (no rounding sliver
    can pick a code after it). Rows without mass pick ``last`` (their rows get weight 0).
    """
    mass = table.sum(axis=1, keepdims=True)
    cdf = np.cumsum(table, axis=1) / np.where(mass > 0, mass, 1.0)
    cdf[:, table.shape[1] - 1 if last is None else last :] = 1.0
    return (np.minimum(cdf, 1.0) + np.arange(table.shape[0])[:, None]).ravel()


def _draw(flat: np.ndarray, k: int, row: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Codes drawn from the rows ``row`` of a table of width ``k`` (see :func:`_flat_cdf`)."""
    codes: np.ndarray = np.searchsorted(flat, row + u, side="right") - row * k
    return codes
