"""``cart``: sequential tree synthesis in the style of R's synthpop, the fast CPU workhorse.

The columns are visited in a fixed order (the table's, or ``visit_sequence``). The first is
drawn from its empirical marginal; every later column gets a decision tree (regression for
numbers, classification for categories, as integer codes) on the columns visited before it.
Sampling routes the synthetic rows through each tree in turn and draws the value from the
training values in the reached leaf ("sample from leaf", synthpop's default), so each column
follows its distribution given the earlier columns as the tree sees it.

The fitted trees are kept as plain arrays (children, split feature and threshold of every
node) plus, per tree, the leaf *donors*: the training values of the column grouped by leaf
(sorted within the leaf, so the file keeps no row order). Routing is done here in numpy,
node by node over index arrays of all rows at once, so a million rows take seconds and a
loaded model needs no scikit-learn object and nothing pickled.

Privacy. Without smoothing every synthetic value is a real training value of its column, and
a leaf holds at least ``min_samples_leaf`` (default 5) of them, so no leaf speaks for one
person; the model file holds every training value of every column (as per-leaf lists, not
linked into records). ``smoothing="density"`` replaces each numeric donor by a draw from a
Gaussian kernel around it (bandwidth by Silverman's rule within the leaf, kernel truncated to
the column's training range); values held by at least 5 % of the rows (zeros of a
zero-inflated lab value, the levels of a score) are kept exact. Neither is a formal guarantee:
pair ``cart`` with the privacy evaluation before release.

Conditions are native and exact. A conditioned column is drawn from the donors of its leaf
that satisfy the condition (with smoothing, in proportion to each donor's kernel mass inside
it), and the row is kept with probability ``w / max w``, where ``w`` is the share of the
leaf's donors (kernel mass) that satisfies it. Rows then carry the weight
P(condition | earlier columns) that the exact conditional distribution asks for, and the
normalisation by the best leaf keeps the acceptance rate far above plain rejection when the
trees predict the condition (a condition on the first column is never rejected at all).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from medsyn.data.conditions import Conditions
from medsyn.data.dataset import Modality
from medsyn.errors import InputError, Problem
from medsyn.synth._base import GENERATORS, Supports
from medsyn.synth.tabular._base import TabularGenerator
from medsyn.synth.tabular._plan import ColumnPlan, ModelColumn

__all__ = ["CartGenerator"]

_SMOOTHING = ("none", "density")
#: a value held by at least this share of a column's rows is an atom: copied exactly, never smoothed
_ATOM_SHARE = 0.05


@dataclass(frozen=True, slots=True)
class _Tree:
    """One fitted column: a tree over the earlier columns and the donors of each leaf.

    ``feature`` indexes the earlier columns in visit order; ``offsets[node]:offsets[node + 1]``
    are the donors of ``node`` (empty for inner nodes). ``bandwidth`` is per donor (0 = exact).
    """

    left: np.ndarray  # int32, -1 at leaves
    right: np.ndarray  # int32
    feature: np.ndarray  # int32, -2 at leaves (scikit-learn's convention)
    threshold: np.ndarray  # float64; go left when float32(x) <= threshold, as scikit-learn does
    offsets: np.ndarray  # int64, n_nodes + 1
    donors: np.ndarray  # float64 (category codes for categorical columns)
    bandwidth: np.ndarray | None = None  # float64 per donor, smoothing only

    def route(self, features: np.ndarray) -> np.ndarray:
        """The leaf (node id) each row reaches; ``features`` is (n_earlier, n_rows) float32.

        Node by node, as the tree was grown: each node splits its rows' index array in two with
        one comparison against a scalar, and the indices stay sorted, so every read is a
        forward scan (about twice as fast as moving all rows down one level at a time).
        """
        n = features.shape[1]
        leaf = np.zeros(n, dtype=np.int32)
        if self.left[0] < 0:
            return leaf
        # plain lists: indexing them is several times cheaper than indexing numpy arrays by scalar;
        # thresholds stay numpy float64 scalars so float32 features compare in float64 as in
        # scikit-learn (a Python float would be cast down to float32 and can round onto a value)
        left, right, feature = self.left.tolist(), self.right.tolist(), self.feature.tolist()
        threshold = list(self.threshold)
        columns = list(features)
        stack = [(0, np.arange(n))]
        while stack:
            node, rows = stack.pop()
            child = left[node]
            if child < 0:
                leaf[rows] = node
                continue
            go_left = columns[feature[node]].take(rows) <= threshold[node]
            part = rows[go_left]
            if part.size:
                stack.append((child, part))
            if part.size < rows.size:
                stack.append((right[node], rows[~go_left]))
        return leaf

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        out = {
            f"{prefix}/left": self.left,
            f"{prefix}/right": self.right,
            f"{prefix}/feature": self.feature,
            f"{prefix}/threshold": self.threshold,
            f"{prefix}/offsets": self.offsets,
            f"{prefix}/donors": self.donors,
        }
        if self.bandwidth is not None:
            out[f"{prefix}/bandwidth"] = self.bandwidth
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str, n_earlier: int) -> _Tree:
        """Read and check one tree; a damaged one raises ``ValueError`` (never a routing loop)."""
        tree = cls(
            np.asarray(arrays[f"{prefix}/left"], dtype=np.int32),
            np.asarray(arrays[f"{prefix}/right"], dtype=np.int32),
            np.asarray(arrays[f"{prefix}/feature"], dtype=np.int32),
            np.asarray(arrays[f"{prefix}/threshold"], dtype=np.float64),
            np.asarray(arrays[f"{prefix}/offsets"], dtype=np.int64),
            np.asarray(arrays[f"{prefix}/donors"], dtype=np.float64),
            np.asarray(arrays[f"{prefix}/bandwidth"], dtype=np.float64) if f"{prefix}/bandwidth" in arrays else None,
        )
        m = tree.left.size
        ids = np.arange(m)
        inner = tree.left >= 0
        ok = (
            m > 0
            and tree.right.size == m
            and tree.feature.size == m
            and tree.threshold.size == m
            and tree.offsets.size == m + 1
            and tree.offsets[0] == 0
            and bool(np.all(np.diff(tree.offsets) >= 0))
            and tree.offsets[-1] == tree.donors.size
            and (tree.bandwidth is None or tree.bandwidth.size == tree.donors.size)
            # children come after their parent and have no other: routing ends within m steps
            and bool(np.all((tree.left[inner] > ids[inner]) & (tree.left[inner] < m)))
            and bool(np.all((tree.right[inner] > ids[inner]) & (tree.right[inner] < m)))
            and bool(np.all(np.bincount(np.concatenate([tree.left[inner], tree.right[inner]]), minlength=m) <= 1))
            and bool(np.all((tree.feature[inner] >= 0) & (tree.feature[inner] < n_earlier)))
            and bool(np.all(np.diff(tree.offsets)[~inner] > 0))
            and bool(np.all(np.diff(tree.offsets)[inner] == 0))
        )
        if not ok:
            raise ValueError(f"tree '{prefix}' is inconsistent")
        return tree


@GENERATORS.register("cart")
class CartGenerator(TabularGenerator):
    """Sequential decision-tree synthesis (synthpop's ``cart``): strong and fast on clinical tables.

    Parameters
    ----------
    min_samples_leaf
        Fewest training rows in a leaf (synthpop's ``minbucket``). Larger: smoother, more
        private, less detailed; every synthetic value comes from a group of at least this many.
    max_depth
        Deepest tree; ``None`` grows until ``min_samples_leaf`` stops it (synthpop's default).
    smoothing
        ``"none"`` draws numeric values as they are in the leaf; ``"density"`` draws from a
        Gaussian kernel around them, so continuous values are no copies of training values.
    visit_sequence
        Original column names to visit first, in this order (the rest follow in table order).
        Put the columns that drive the others first (e.g. demographics, diagnosis).
    reject_copies
        Never return a row equal, on every modelled column, to a training row that is *unique*
        in the training data (synthpop's ``rm.replicated.uniques``): leaf donors are real values,
        so without this about 1 % of rows on a small table are whole records of single
        patients. A row shared by several training patients identifies none of them and is
        kept. The model stores a keyed 64-bit hash per unique training row (SipHash, random
        key), not the rows.

    Examples
    --------
    >>> import pandas as pd
    >>> from medsyn.synth import get
    >>> df = pd.DataFrame({"age": [30, 40, 50, 60, 70, 80] * 5, "sex": list("FMFMFM") * 5})
    >>> out = get("cart")().fit(df).sample(4, conditions="sex == 'F'", seed=0)
    >>> sorted(set(out.data["sex"]))
    ['F']
    """

    name = "cart"
    supports = Supports(
        frozenset({Modality.TABULAR}),
        conditions="native",
        summary="sequential decision trees (synthpop cart); seconds at 1M rows; exact conditional sampling",
    )

    def __init__(
        self,
        *,
        min_samples_leaf: int = 5,
        max_depth: int | None = None,
        smoothing: str = "none",
        visit_sequence: Sequence[str] | None = None,
        reject_copies: bool = True,
    ) -> None:
        self.min_samples_leaf = min_samples_leaf
        self.max_depth = max_depth
        self.smoothing = smoothing
        self.visit_sequence = visit_sequence
        self.reject_copies = reject_copies

    # -- fit --------------------------------------------------------------------------------
    def _fit(self, table: pd.DataFrame, columns: list[ModelColumn], rng: np.random.Generator) -> None:
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

        self.visit_ = self._visit_order(columns)
        n, d = len(table), len(self.visit_)
        features = np.empty((n, d), dtype=np.float32, order="F")
        self.trees_: list[_Tree] = []
        training = np.empty((d, n), dtype=np.float64)
        with self._progress(self._show_progress, d, "cart") as advance:
            for k, col in enumerate(self.visit_):
                y = _model_values(table[col.name], col)
                leaf: np.ndarray
                if k == 0:
                    tree = _root(y.size)
                    leaf = np.zeros(n, dtype=np.int64)
                else:
                    model = (DecisionTreeRegressor if col.kind == "numeric" else DecisionTreeClassifier)(
                        min_samples_leaf=self.min_samples_leaf,
                        max_depth=self.max_depth,
                        random_state=int(rng.integers(2**31 - 1)),
                    )
                    model.fit(features[:, :k], y)
                    t = model.tree_
                    leaf = t.apply(features[:, :k]).astype(np.int64)
                    tree = _Tree(
                        t.children_left.astype(np.int32),
                        t.children_right.astype(np.int32),
                        t.feature.astype(np.int32),
                        t.threshold.astype(np.float64),
                        np.zeros(t.node_count + 1, dtype=np.int64),
                        y,
                    )
                self.trees_.append(self._donors(tree, leaf, y, col))
                features[:, k] = y
                training[k] = y
                advance(1)
        self._learn_ranges()
        self.copy_key_ = "".join(chr(97 + int(k)) for k in rng.integers(0, 26, 16))
        self.copy_hashes_ = _unique_rows(_row_hashes(training, self.copy_key_)) if self.reject_copies else None

    def _visit_order(self, columns: list[ModelColumn]) -> list[ModelColumn]:
        problems: list[Problem] = []
        leaf_ok = isinstance(self.min_samples_leaf, (int, np.integer)) and not isinstance(self.min_samples_leaf, bool)
        if not leaf_ok or self.min_samples_leaf < 1:
            problems.append(Problem("cart min_samples_leaf", repr(self.min_samples_leaf), "a whole number >= 1"))
        depth_ok = isinstance(self.max_depth, (int, np.integer)) and not isinstance(self.max_depth, bool)
        if self.max_depth is not None and (not depth_ok or self.max_depth < 1):
            problems.append(Problem("cart max_depth", repr(self.max_depth), "None or a whole number >= 1"))
        if self.smoothing not in _SMOOTHING:
            problems.append(Problem("cart smoothing", repr(self.smoothing), f"one of {list(_SMOOTHING)}"))
        sources = list(dict.fromkeys(c.source or c.name for c in columns))
        first: list[str] = []
        for name in self.visit_sequence or ():
            if name not in sources:
                close = difflib.get_close_matches(str(name), sources, n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"a modelled column, one of {sources}"
                problems.append(Problem("cart visit_sequence", f"column '{name}'", hint))
            elif name not in first:
                first.append(name)
        if problems:
            raise InputError(problems)
        rank = {s: i for i, s in enumerate(first + [s for s in sources if s not in first])}
        # a stable sort keeps a missingness indicator just before its value column
        return sorted(columns, key=lambda c: rank[c.source or c.name])

    def _donors(self, tree: _Tree, leaf: np.ndarray, y: np.ndarray, col: ModelColumn) -> _Tree:
        """Group the training values by leaf (sorted within a leaf) and, if asked, their bandwidths."""
        n_nodes = tree.left.size
        order = np.lexsort((y, leaf))
        donors = y[order]
        offsets = np.concatenate([[0], np.cumsum(np.bincount(leaf, minlength=n_nodes))]).astype(np.int64)
        bandwidth = None
        if self.smoothing == "density" and col.kind == "numeric":
            bandwidth = _bandwidths(donors, offsets, y)
        return _Tree(tree.left, tree.right, tree.feature, tree.threshold, offsets, donors, bandwidth)

    # -- sample -----------------------------------------------------------------------------
    def _sample(self, n: int, rng: np.random.Generator, conditions: Conditions) -> pd.DataFrame:
        d = len(self.visit_)
        features = np.empty((d, n), dtype=np.float32)
        values = np.empty((d, n), dtype=np.float64)
        conditioned = set(conditions.columns)
        for k, (col, tree) in enumerate(zip(self.visit_, self.trees_, strict=True)):
            m = features.shape[1]
            node = tree.route(features[:k])
            start, stop = tree.offsets[node], tree.offsets[node + 1]
            lo, hi = self.range_[col.name]
            if col.name in conditioned:
                mass, a, b = self._condition_mass(col, tree, conditions)
                cum = np.concatenate([[0.0], np.cumsum(mass)])
                count = np.diff(tree.offsets)
                leaves = count > 0
                share = np.zeros(count.size)
                share[leaves] = (cum[tree.offsets[1:]] - cum[tree.offsets[:-1]])[leaves] / count[leaves]
                best = float(share.max())
                if best <= 0.0:  # no leaf can meet the condition: no row from this model
                    features, values = features[:, :0], values[:, :0]
                    break
                pick = cum[start] + rng.random(m) * (cum[stop] - cum[start])
                idx = np.clip(np.searchsorted(cum, pick, side="right") - 1, start, stop - 1)
                keep = rng.random(m) * best < share[node]
                lo, hi = max(lo, a), min(hi, b)
            else:
                keep = None
                idx = np.minimum(start + (rng.random(m) * (stop - start)).astype(np.int64), stop - 1)
            x = tree.donors[idx]
            if tree.bandwidth is not None:
                x = _smooth(x, tree.bandwidth[idx], lo, hi, rng)
            values[k] = x
            features[k] = x
            if keep is not None and not keep.all():
                features, values = features[:, keep], values[:, keep]
        if self.copy_hashes_ is not None and values.shape[1]:
            hashes = _row_hashes(values, self.copy_key_)
            pos = np.clip(np.searchsorted(self.copy_hashes_, hashes), 0, max(self.copy_hashes_.size - 1, 0))
            copy = self.copy_hashes_[pos] == hashes if self.copy_hashes_.size else np.zeros(hashes.size, bool)
            values = values[:, ~copy]  # the base redraws the shortfall
        out: dict[str, object] = {}
        for k, col in sorted(enumerate(self.visit_), key=lambda kc: self._position[kc[1].name]):
            if col.kind == "numeric":
                out[col.name] = values[k]
            else:
                out[col.name] = pd.Categorical.from_codes(
                    values[k].astype(np.int64), categories=pd.Index(list(col.categories))
                )
        return pd.DataFrame(out)

    def _condition_mass(self, col: ModelColumn, tree: _Tree, conditions: Conditions) -> tuple[np.ndarray, float, float]:
        """Per donor, the share of its distribution that meets the condition; and the interval."""
        x = tree.donors
        if col.kind == "categorical":
            allowed = set(conditions.allowed(col.name, list(col.categories)))
            codes = np.array([i for i, c in enumerate(col.categories) if c in allowed], dtype=float)
            return np.isin(x, codes).astype(float), -math.inf, math.inf
        a, b, a_closed, b_closed = conditions.interval(col.name)
        inside = ((x >= a) if a_closed else (x > a)) & ((x <= b) if b_closed else (x < b))
        mass = inside.astype(float)
        if tree.bandwidth is not None:
            # smoothed values are rounded to the training resolution afterwards: condition their preimage
            a, b = _preimage(a, b, a_closed, b_closed, self.plan_.plan(col.source or col.name))
            h = tree.bandwidth
            smooth = h > 0
            lo, hi = self.range_[col.name]
            hs, xs = h[smooth], x[smooth]
            within = _normal_mass((max(a, lo) - xs) / hs, (min(b, hi) - xs) / hs)
            whole = _normal_mass((lo - xs) / hs, (hi - xs) / hs)
            mass[smooth] = np.clip(within / np.maximum(whole, 1e-300), 0.0, 1.0)
        return mass, a, b

    @property
    def _position(self) -> dict[str, int]:
        return {c.name: i for i, c in enumerate(self.columns_)}

    def _learn_ranges(self) -> None:
        """Each column's smallest and largest donor: the support of a smoothed column."""
        self.range_ = {
            c.name: (float(t.donors.min()), float(t.donors.max()))
            for c, t in zip(self.visit_, self.trees_, strict=True)
        }

    # -- state ------------------------------------------------------------------------------
    def _model_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        arrays: dict[str, np.ndarray] = {}
        for k, tree in enumerate(self.trees_):
            arrays |= tree.arrays(f"tree/{k}")
        if self.copy_hashes_ is not None:
            arrays["copies/hashes"] = self.copy_hashes_
        state = {"columns": [c.name for c in self.columns_], "visit": [c.name for c in self.visit_]}
        return state | {"copy_key": self.copy_key_}, arrays

    def _load_model_state(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        names = [c.name for c in self.columns_]
        if list(state["columns"]) != names:
            raise ValueError(f"model columns {state['columns']} do not match the plan {names}")
        visit = [str(v) for v in state["visit"]]
        if sorted(visit) != sorted(names):
            raise ValueError(f"visit order {visit} is not an order of the columns {names}")
        by_name = {c.name: c for c in self.columns_}
        self.visit_ = [by_name[v] for v in visit]
        self.trees_ = [_Tree.from_arrays(arrays, f"tree/{k}", k) for k in range(len(visit))]
        self.copy_key_ = str(state.get("copy_key", ""))
        hashes = arrays.get("copies/hashes")
        self.copy_hashes_ = None if hashes is None else np.asarray(hashes, dtype=np.uint64)
        key_ok = not self.reject_copies or len(self.copy_key_) == 16
        if (self.copy_hashes_ is not None) != bool(self.reject_copies) or not key_ok:
            raise ValueError("copy-rejection state does not match reject_copies")
        for col, tree in zip(self.visit_, self.trees_, strict=True):
            if col.kind == "categorical" and not np.isin(tree.donors, np.arange(len(col.categories))).all():
                raise ValueError(f"column '{col.name}' has category codes outside its {len(col.categories)} categories")
        self._learn_ranges()


# -- helpers ------------------------------------------------------------------------------------
def _row_hashes(values: np.ndarray, key: str) -> np.ndarray:
    """A keyed 64-bit hash per column of ``values`` (columns are rows of the model table)."""
    frame = pd.DataFrame(values.T)
    return np.asarray(pd.util.hash_pandas_object(frame, index=False, hash_key=key).to_numpy(), dtype=np.uint64)


def _unique_rows(hashes: np.ndarray) -> np.ndarray:
    """Sorted hashes of the rows that occur exactly once."""
    values, counts = np.unique(hashes, return_counts=True)
    return np.asarray(values[counts == 1], dtype=np.uint64)


def _model_values(series: pd.Series, col: ModelColumn) -> np.ndarray:
    """Numbers as float64; categories as their codes (as float64, the trees' input type)."""
    if col.kind == "numeric":
        return series.to_numpy(dtype=np.float64)
    return series.cat.codes.to_numpy().astype(np.float64)


def _root(n: int) -> _Tree:
    """A tree with a single leaf: the first column is drawn from its marginal."""
    return _Tree(
        np.array([-1], dtype=np.int32),
        np.array([-1], dtype=np.int32),
        np.array([-2], dtype=np.int32),
        np.array([-2.0]),
        np.array([0, n], dtype=np.int64),
        np.zeros(n),
    )


def _bandwidths(donors: np.ndarray, offsets: np.ndarray, column: np.ndarray) -> np.ndarray:
    """Per donor: 0 for atoms, else Silverman's bandwidth of its leaf's non-atom donors.

    Vectorised over leaves (donors are sorted within each leaf). A leaf whose non-atom donors
    do not vary falls back to the column's bandwidth, so no smoothed value is a plain copy.
    """
    values, counts = np.unique(column, return_counts=True)
    atoms = values[counts >= _ATOM_SHARE * column.size]
    free = ~np.isin(donors, atoms)
    overall = _silverman(column[~np.isin(column, atoms)])
    leaf_of = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))[free]
    x = donors[free]  # still sorted within each leaf
    n_leaf = np.bincount(leaf_of, minlength=offsets.size - 1)
    starts = np.concatenate([[0], np.cumsum(n_leaf)])[:-1]
    cnt = n_leaf.astype(float)
    safe = np.maximum(cnt, 1.0)
    mean = np.bincount(leaf_of, x, minlength=cnt.size) / safe
    var = np.bincount(leaf_of, (x - mean[leaf_of]) ** 2, minlength=cnt.size) / np.maximum(cnt - 1.0, 1.0)

    def quantile(q: float) -> np.ndarray:  # numpy's default (linear) rule, one value per leaf
        pos = q * np.maximum(cnt - 1.0, 0.0)
        below = np.floor(pos).astype(np.int64)
        above = np.minimum(below + 1, np.maximum(n_leaf - 1, 0))
        at = np.minimum(starts + below, max(x.size - 1, 0))
        to = np.minimum(starts + above, max(x.size - 1, 0))
        if x.size == 0:
            return np.zeros(cnt.size)
        return np.asarray(x[at] + (pos - below) * (x[to] - x[at]), dtype=float)

    iqr = quantile(0.75) - quantile(0.25)
    sd = np.sqrt(var)
    spread = np.where(iqr > 0, np.minimum(sd, iqr / 1.349), sd)
    h = 0.9 * spread * safe ** (-0.2)
    h = np.where((cnt >= 2) & (h > 0), h, overall)
    out = np.zeros(donors.size)
    out[free] = h[leaf_of]
    return out


def _silverman(x: np.ndarray) -> float:
    if x.size < 2:
        return 0.0
    sd = float(np.std(x, ddof=1))
    q75, q25 = np.percentile(x, [75, 25])
    spread = min(sd, float(q75 - q25) / 1.349) if q75 > q25 else sd
    return float(0.9 * spread * x.size ** (-0.2))


def _preimage(a: float, b: float, a_closed: bool, b_closed: bool, plan: ColumnPlan) -> tuple[float, float]:
    """The model values that decode to a value between ``a`` and ``b``.

    Decoding rounds numbers to the recorded decimals and floors date-only columns to the day;
    integer clauses arrive converted already (``age == 70`` as ``69.5 <= age < 70.5``).
    """
    if plan.kind == "numeric" and plan.decimals is not None:
        step, offset = 10.0**-plan.decimals, 0.5  # round to nearest: the cell of g is g ± step/2
    elif plan.kind == "datetime" and plan.date_only:
        step, offset = 1.0, 0.0  # dates are floored to midnight: the cell of day g is [g, g + 1)
    else:
        return a, b
    tol = 1e-9 * step
    if math.isfinite(a):
        grid = math.ceil(a / step - tol) * step  # smallest recordable value >= a
        if not a_closed and abs(grid - a) <= tol * max(1.0, abs(a)):
            grid += step
        a = grid - offset * step
    if math.isfinite(b):
        grid = math.floor(b / step + tol) * step
        if not b_closed and abs(grid - b) <= tol * max(1.0, abs(b)):
            grid -= step
        b = grid + (1.0 - offset) * step
    return a, b


def _normal_mass(alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """P(alpha < Z < beta) for standard normal Z, accurate in both tails."""
    upper = alpha > 0  # both bounds in the upper tail: use the mirrored lower tail
    lo = np.where(upper, -beta, alpha)
    hi = np.where(upper, -alpha, beta)
    return np.asarray(np.clip(special.ndtr(hi) - special.ndtr(lo), 0.0, 1.0), dtype=float)


def _smooth(x: np.ndarray, h: np.ndarray, lo: float, hi: float, rng: np.random.Generator) -> np.ndarray:
    """Draw from N(x, h²) truncated to [lo, hi] (exact inverse CDF); rows with h == 0 keep x."""
    u = rng.random(x.size)
    out = x.copy()
    s = h > 0
    if not s.any():
        return out
    xs, hs = x[s], h[s]
    alpha, beta = (lo - xs) / hs, (hi - xs) / hs
    upper = alpha > 0  # mirror so the inverse CDF works in the lower tail, where it is accurate
    a = np.where(upper, -beta, alpha)
    b = np.where(upper, -alpha, beta)
    ca, cb = special.ndtr(a), special.ndtr(b)
    z = special.ndtri(np.clip(ca + u[s] * (cb - ca), 1e-300, 1 - 1e-16))
    z = np.clip(np.where(np.isfinite(z), z, a), a, b)
    z = np.where(upper, -z, z)
    out[s] = np.clip(xs + hs * z, lo, hi)
    return out
