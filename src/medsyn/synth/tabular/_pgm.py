"""A graphical model fitted to noisy marginals (Private-PGM), in NumPy: estimation, marginals, sampling.

This is the estimation step of MST and AIM (McKenna, Sheldon & Miklau 2019, "Graphical-model
based estimation and inference for differential privacy", Algorithm 1), the same method as the
``mbi`` package's ``MirrorDescent`` estimator, written in NumPy so that a fit costs no JIT
compilation (``mbi`` 2.0 compiles its JAX programs per model structure: 30–60 s per fit on a
2-core machine, against well under a second of arithmetic; ``test_marginal.py`` checks that both
give the same model).

Attributes are numbered ``0..d-1`` with ``sizes[i]`` codes each; a clique is a sorted tuple of
attribute numbers, and every table has one axis per clique attribute in that order.

- :class:`Measurement`: ``y = Q x_c + noise`` for the count table ``x_c`` of clique ``c``, with
  ``Q`` the identity or a diagonal scaling, and Gaussian noise of scale ``sigma``.
- :func:`estimate`: the model ``p(x) ∝ exp(Σ_c θ_c(x_c))`` over the maximal measured cliques
  that minimises ``Σ ½‖(Q μ_c − y)/σ‖²`` over its marginals ``μ`` (mirror descent on the
  marginal polytope with an Armijo step, inference by belief propagation on a junction tree).
- :class:`Model`: the calibrated junction-tree marginals; any one- or two-way marginal, and
  exact sampling given per-attribute evidence (weights on codes), by an upward pass of the
  evidence and a downward draw, one ``searchsorted`` per clique for all rows.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["JunctionTree", "Measurement", "Model", "estimate"]

Clique = tuple[int, ...]

#: stop early when a block of iterations improves the loss by less than this (relative)
_TOL = 1e-3
_BLOCK = 50


@dataclass(frozen=True)
class Measurement:
    """A noisy linear measurement of one clique's count table (flattened in clique order)."""

    clique: Clique
    values: np.ndarray
    sigma: float
    weights: np.ndarray | None = None  # per-cell scale of the query; None: the identity

    @property
    def norm_sq(self) -> float:
        """Squared operator norm of the query."""
        return 1.0 if self.weights is None else float(np.max(self.weights**2))


# -- junction tree ------------------------------------------------------------------------------
@dataclass(frozen=True)
class JunctionTree:
    """Maximal cliques of a triangulation, ordered so that each parent comes before its children."""

    cliques: tuple[Clique, ...]
    parents: tuple[int, ...]  # -1 for the root of each connected component

    @classmethod
    def build(cls, sizes: Sequence[int], cliques: Sequence[Clique]) -> JunctionTree:
        """Triangulate the graph in which each clique is complete, and join its maximal cliques."""
        d = len(sizes)
        adj: list[set[int]] = [set() for _ in range(d)]
        for cl in cliques:
            for a in cl:
                adj[a].update(b for b in cl if b != a)
        left = set(range(d))
        found: list[frozenset[int]] = []
        while left:  # greedy elimination: fewest fill-in edges, then smallest clique table
            best: tuple[int, float, int] | None = None
            for v in sorted(left):
                nb = adj[v] & left
                fill = sum(1 for a in nb for b in nb if a < b and b not in adj[a])
                cells = math.prod(sizes[a] for a in nb) * sizes[v]
                key = (fill, float(cells), v)
                if best is None or key < best:
                    best = key
            assert best is not None
            v = best[2]
            nb = adj[v] & left
            for a in nb:
                adj[a].update(b for b in nb if b != a)
            found.append(frozenset(nb | {v}))
            left.remove(v)
        maximal = sorted({tuple(sorted(c)) for c in found if not any(c < o for o in found)})
        # maximum-weight spanning forest on separator sizes (Kruskal; ties by clique order)
        edges = sorted(
            ((len(set(a) & set(b)), i, j) for i, a in enumerate(maximal) for j, b in enumerate(maximal) if i < j),
            key=lambda e: (-e[0], e[1], e[2]),
        )
        root = list(range(len(maximal)))

        def find(i: int) -> int:
            while root[i] != i:
                root[i] = root[root[i]]
                i = root[i]
            return i

        links: list[set[int]] = [set() for _ in maximal]
        for w, i, j in edges:
            if w > 0 and find(i) != find(j):
                root[find(i)] = find(j)
                links[i].add(j)
                links[j].add(i)
        order: list[int] = []
        parent: dict[int, int] = {}
        for start in range(len(maximal)):
            if start in parent:
                continue
            parent[start] = -1
            queue = [start]
            while queue:
                i = queue.pop(0)
                order.append(i)
                for j in sorted(links[i]):
                    if j not in parent:
                        parent[j] = i
                        queue.append(j)
        index = {old: new for new, old in enumerate(order)}
        return cls(
            tuple(maximal[i] for i in order),
            tuple(index[parent[i]] if parent[i] >= 0 else -1 for i in order),
        )

    def separator(self, i: int) -> Clique:
        p = self.parents[i]
        return tuple(a for a in self.cliques[i] if a in self.cliques[p]) if p >= 0 else ()

    def cells(self, sizes: Sequence[int]) -> int:
        return sum(math.prod(sizes[a] for a in cl) for cl in self.cliques)

    def home(self, clique: Clique) -> int:
        """The smallest junction-tree clique containing ``clique`` (-1 if none)."""
        best, size = -1, math.inf
        for i, cl in enumerate(self.cliques):
            if set(clique) <= set(cl) and len(cl) < size:
                best, size = i, len(cl)
        return best


def model_size_mb(sizes: Sequence[int], cliques: Sequence[Clique]) -> float:
    """Memory of the junction-tree tables of a model on ``cliques`` (8 bytes a cell), as AIM counts it."""
    return JunctionTree.build(sizes, cliques).cells(sizes) * 8 / 2**20


# -- table helpers ------------------------------------------------------------------------------
def _shape(sizes: Sequence[int], clique: Clique) -> tuple[int, ...]:
    return tuple(int(sizes[a]) for a in clique)


@functools.lru_cache(maxsize=4096)
def _layout(sub: Clique, full: Clique) -> tuple[tuple[int, ...], tuple[bool, ...]]:
    """Axes of ``full`` that are not in ``sub`` (summed out to project), and which axes ``sub`` keeps."""
    return tuple(i for i, a in enumerate(full) if a not in sub), tuple(a in sub for a in full)


def _expand(table: np.ndarray, sub: Clique, full: Clique) -> np.ndarray:
    """``table`` over ``sub`` reshaped to broadcast against a table over ``full`` (sub ⊆ full)."""
    _, kept = _layout(sub, full)
    it = iter(table.shape)
    return table.reshape([next(it) if k else 1 for k in kept])


def _project(table: np.ndarray, full: Clique, sub: Clique) -> np.ndarray:
    axes, _ = _layout(sub, full)
    return table.sum(axis=axes) if axes else table


def _logsumexp(table: np.ndarray, full: Clique, sub: Clique) -> np.ndarray:
    axes, _ = _layout(sub, full)
    if not axes:
        return table
    top = table.max(axis=axes, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    out: np.ndarray = np.log(np.exp(table - top).sum(axis=axes)) + np.squeeze(top, axis=axes)
    return out


def _maximal(cliques: Sequence[Clique]) -> list[Clique]:
    unique = sorted(set(cliques), key=lambda c: (-len(c), c))
    out: list[Clique] = []
    for cl in unique:
        if not any(set(cl) <= set(o) for o in out):
            out.append(cl)
    return sorted(out)


# -- the model ----------------------------------------------------------------------------------
@dataclass
class Model:
    """Calibrated junction-tree marginals (probabilities) of a fitted graphical model."""

    sizes: tuple[int, ...]
    tree: JunctionTree
    tables: list[np.ndarray]
    potentials: dict[Clique, np.ndarray] = field(default_factory=dict)  # log-potentials, for warm starts

    @property
    def cliques(self) -> list[Clique]:
        """The cliques the potentials are defined on (maximal measured cliques)."""
        return sorted(self.potentials) if self.potentials else list(self.tree.cliques)

    def marginal(self, clique: Clique) -> np.ndarray:
        """Probability table of ``clique`` (one or two attributes, or inside one junction-tree clique)."""
        i = self.tree.home(clique)
        if i >= 0:
            return _project(self.tables[i], self.tree.cliques[i], clique)
        if len(clique) != 2:
            raise ValueError(f"marginal of {clique}: only cliques inside one junction-tree clique or pairs")
        return self._pair(*clique)

    def _pair(self, a: int, b: int) -> np.ndarray:
        """Marginal of two attributes in different cliques, carried along the path between them."""
        tree = self.tree
        path = _path(tree, tree.home((a,)), tree.home((b,)))
        if path is None:  # different components: independent
            outer: np.ndarray = np.multiply.outer(self.marginal((a,)), self.marginal((b,)))
            return outer
        s = max(k for k, i in enumerate(path) if a in tree.cliques[i])
        t = min(k for k, i in enumerate(path) if k >= s and b in tree.cliques[path[k]])
        first = path[s]
        sep = _shared(tree.cliques[first], tree.cliques[path[s + 1]])
        scope: Clique = tuple(sorted({a, *sep}))
        f = _project(self.tables[first], tree.cliques[first], scope)
        for k in range(s + 1, t + 1):
            i = path[k]
            cl = tree.cliques[i]
            prev = _shared(cl, tree.cliques[path[k - 1]])
            cond = self.tables[i] / np.where((z := _expand(_project(self.tables[i], cl, prev), prev, cl)) > 0, z, 1.0)
            joint_scope: Clique = tuple(sorted({a, *cl}))
            joint = _expand(f, scope, joint_scope) * _expand(cond, cl, joint_scope)
            nxt = (b,) if k == t else _shared(cl, tree.cliques[path[k + 1]])
            scope = tuple(sorted({a, *nxt}))
            f = _project(joint, joint_scope, scope)
        return f if scope == (a, b) else f.T

    def sample(
        self, n: int, rng: np.random.Generator, evidence: Mapping[int, np.ndarray] | None = None
    ) -> np.ndarray | None:
        """``(n, d)`` codes drawn from the model given ``evidence`` (attribute → weight per code).

        Returns None when the evidence has probability 0 under the model.
        """
        tree, sizes = self.tree, self.sizes
        beta = [t.copy() for t in self.tables]
        if evidence:
            placed: set[int] = set()
            for i, cl in enumerate(tree.cliques):
                for a in cl:
                    if a in evidence and a not in placed:
                        beta[i] = beta[i] * _expand(np.asarray(evidence[a], dtype=float), (a,), cl)
                        placed.add(a)
            for i in reversed(range(len(tree.cliques))):  # collect the evidence towards each root
                p = tree.parents[i]
                if p < 0:
                    continue
                sep, cl = tree.separator(i), tree.cliques[i]
                prior = _project(self.tables[i], cl, sep)
                msg = _project(beta[i], cl, sep) / np.where(prior > 0, prior, 1.0)
                beta[p] = beta[p] * _expand(msg, sep, tree.cliques[p])
            if any(t.sum() <= 0 for i, t in enumerate(beta) if tree.parents[i] < 0):
                return None
        codes = np.zeros((n, len(sizes)), dtype=np.int64)
        for i, cl in enumerate(tree.cliques):
            sep = tree.separator(i)
            rest = tuple(a for a in cl if a not in sep)
            moved = np.moveaxis(beta[i], [cl.index(a) for a in sep], list(range(len(sep))))
            width = math.prod(_shape(sizes, rest))
            table = moved.reshape(-1, width)
            fallback = np.moveaxis(self.tables[i], [cl.index(a) for a in sep], list(range(len(sep)))).reshape(-1, width)
            table = np.where(table.sum(axis=1, keepdims=True) > 0, table, fallback)
            row = (
                np.ravel_multi_index(tuple(codes[:, a] for a in sep), _shape(sizes, sep))
                if sep
                else np.zeros(n, dtype=np.int64)
            )
            flat = _flat_cdf(table)
            pick = np.searchsorted(flat, row + rng.random(n), side="right") - row * width
            pick = np.clip(pick, 0, width - 1)
            if rest:
                for a, c in zip(rest, np.unravel_index(pick, _shape(sizes, rest)), strict=True):
                    codes[:, a] = c
        return codes


def _shared(a: Clique, b: Clique) -> Clique:
    return tuple(x for x in a if x in b)


def _path(tree: JunctionTree, i: int, j: int) -> list[int] | None:
    """Clique indices from ``i`` to ``j`` along the tree, or None in different components."""

    def up(k: int) -> list[int]:
        out = [k]
        while tree.parents[out[-1]] >= 0:
            out.append(tree.parents[out[-1]])
        return out

    ui, uj = up(i), up(j)
    if ui[-1] != uj[-1]:
        return None
    common = next(k for k in ui if k in set(uj))
    return ui[: ui.index(common) + 1] + uj[: uj.index(common)][::-1]


def _flat_cdf(table: np.ndarray) -> np.ndarray:
    """Row ``r``'s cumulative probabilities plus ``r``, flattened, so one ``searchsorted`` draws every row."""
    mass = table.sum(axis=1, keepdims=True)
    cdf = np.cumsum(table, axis=1) / np.where(mass > 0, mass, 1.0)
    cdf[:, -1] = 1.0
    return (np.minimum(cdf, 1.0) + np.arange(table.shape[0])[:, None]).ravel()


# -- estimation ---------------------------------------------------------------------------------
def estimate(
    sizes: Sequence[int],
    measurements: Sequence[Measurement],
    total: float,
    *,
    iters: int = 1000,
    warm: Model | None = None,
    callback: Callable[[int], None] | None = None,
) -> Model:
    """Fit the graphical model to ``measurements`` (counts of ``total`` records) by mirror descent.

    ``warm`` starts from an earlier model's potentials (AIM adds one measurement at a time).
    """
    sizes = tuple(int(s) for s in sizes)
    measurements = _pooled(measurements)
    cliques = _maximal([m.clique for m in measurements])
    tree = JunctionTree.build(sizes, cliques)
    home = {cl: _smallest(cl, cliques) for cl in {m.clique for m in measurements}}
    where = {cl: tree.home(cl) for cl in cliques}
    theta = {cl: np.zeros(_shape(sizes, cl)) for cl in cliques}
    if warm is not None:
        for old, pot in warm.potentials.items():
            target = _smallest(old, cliques)
            theta[target] = theta[target] + _expand(pot, old, target)
    else:
        _plug_in(theta, tree, measurements, sizes)
    # Lipschitz constant of the loss gradient (exact for identity queries), as mbi computes it
    blocks: dict[Clique, float] = {}
    for m in measurements:
        c = home[m.clique]
        ratio = math.prod(_shape(sizes, c)) / math.prod(_shape(sizes, m.clique))
        blocks[c] = blocks.get(c, 0.0) + m.norm_sq / max(m.sigma, 1e-12) ** 2 * ratio
    lipschitz = max(blocks.values()) if blocks else 1.0

    def marginals(th: Mapping[Clique, np.ndarray]) -> tuple[list[np.ndarray], dict[Clique, np.ndarray]]:
        logpot = [np.zeros(_shape(sizes, cl)) for cl in tree.cliques]
        for cl, t in th.items():
            i = where[cl]
            logpot[i] = logpot[i] + _expand(t, cl, tree.cliques[i])
        probs = _calibrate(tree, logpot)
        mu = {cl: total * _project(probs[where[cl]], tree.cliques[where[cl]], cl) for cl in cliques}
        return probs, mu

    def loss_grad(mu: Mapping[Clique, np.ndarray]) -> tuple[float, dict[Clique, np.ndarray]]:
        loss = 0.0
        grad = {cl: np.zeros(_shape(sizes, cl)) for cl in cliques}
        for m in measurements:
            c = home[m.clique]
            x = _project(mu[c], c, m.clique).ravel()
            q = x if m.weights is None else m.weights * x
            r = (q - m.values) / m.sigma
            loss += 0.5 * float(r @ r)
            g = r / m.sigma if m.weights is None else m.weights * r / m.sigma
            grad[c] = grad[c] + _expand(g.reshape(_shape(sizes, m.clique)), m.clique, c)
        return loss, grad

    probs, mu = marginals(theta)
    loss, grad = loss_grad(mu)
    alpha = 2.0 / (lipschitz * total)
    block_start = loss
    for it in range(int(iters)):
        trial = {cl: theta[cl] - alpha * grad[cl] for cl in cliques}
        probs2, mu2 = marginals(trial)
        loss2, grad2 = loss_grad(mu2)
        decrease = sum(float(np.sum(grad[cl] * (mu[cl] - mu2[cl]))) for cl in cliques)
        if loss - loss2 >= 0.5 * alpha * decrease:
            theta, probs, mu, loss, grad = trial, probs2, mu2, loss2, grad2
            alpha *= 1.05
        else:
            alpha *= 0.5
        if (it + 1) % _BLOCK == 0:
            if callback is not None:
                callback(_BLOCK)
            if block_start - loss <= _TOL * max(abs(loss), 1.0):
                break
            block_start = loss
    return Model(sizes, tree, [p / p.sum() for p in probs], theta)


def _pooled(measurements: Sequence[Measurement]) -> list[Measurement]:
    """Identity measurements of the same clique combined by inverse-variance weighting (same minimiser)."""
    out: list[Measurement] = []
    same: dict[Clique, list[Measurement]] = {}
    for m in measurements:
        if m.weights is None:
            same.setdefault(m.clique, []).append(m)
        else:
            out.append(m)
    for clique, group in same.items():
        precision = sum(1.0 / m.sigma**2 for m in group)
        values = sum(m.values / m.sigma**2 for m in group) / precision
        out.append(Measurement(clique, np.asarray(values, dtype=float), 1.0 / math.sqrt(precision)))
    return out


def _plug_in(
    theta: dict[Clique, np.ndarray], tree: JunctionTree, measurements: Sequence[Measurement], sizes: Sequence[int]
) -> None:
    """Start each junction-tree clique that was measured directly at its noisy table, as a conditional.

    ``log p̂(C) − log p̂(separator)`` for each such clique (the root of a component keeps its
    joint), from the noisy counts (un-scaled by a diagonal query) clipped to at least 1/2: when
    the measured cliques form the junction tree (MST's spanning tree) this is nearly the answer,
    so far fewer iterations are needed. Other cliques start at 0.
    """
    direct = {m.clique: m for m in measurements if m.weights is None or np.all(m.weights > 0)}
    for i, cl in enumerate(tree.cliques):
        m = direct.get(cl)
        if m is None or cl not in theta:
            continue
        counts = m.values if m.weights is None else m.values / m.weights
        p = np.maximum(counts, 0.5).reshape(_shape(sizes, cl))
        p = p / p.sum()
        sep = tree.separator(i)
        theta[cl] = np.log(p) - (_expand(np.log(_project(p, cl, sep)), sep, cl) if sep else 0.0)


def _smallest(clique: Clique, cliques: Sequence[Clique]) -> Clique:
    inside = [c for c in cliques if set(clique) <= set(c)]
    return min(inside, key=lambda c: (len(c), c))


def _calibrate(tree: JunctionTree, logpot: list[np.ndarray]) -> list[np.ndarray]:
    """Sum-product on the junction tree in log space; each clique's marginal as probabilities."""
    belief = [t.copy() for t in logpot]
    up: list[np.ndarray | None] = [None] * len(belief)
    for i in reversed(range(len(belief))):
        p = tree.parents[i]
        if p < 0:
            continue
        sep = tree.separator(i)
        msg = _logsumexp(belief[i], tree.cliques[i], sep)
        up[i] = msg
        belief[p] = belief[p] + _expand(msg, sep, tree.cliques[p])
    for i in range(len(belief)):
        p = tree.parents[i]
        if p < 0:
            continue
        sep = tree.separator(i)
        msg_up = up[i]
        assert msg_up is not None
        down = _logsumexp(belief[p] - _expand(msg_up, sep, tree.cliques[p]), tree.cliques[p], sep)
        belief[i] = belief[i] + _expand(down, sep, tree.cliques[i])
    out = []
    for b in belief:
        top = float(b.max())
        e = np.exp(b - top)
        out.append(e / e.sum())
    return out
