"""The k-NN manifolds behind precision, recall, density, coverage, α-precision and β-recall.

These metrics read a few facts about a real and a synthetic sample, each needing different work:

- each real record's ball: the distance to its ``k``-th nearest other real record (its radius),
  and the distance to its nearest other real record (β-recall's "real to real");
- the same radii for the synthetic records;
- for each synthetic record, whether some real ball holds it (precision) and how many do
  (density);
- for each real record, whether some synthetic ball holds it (recall), and its nearest synthetic
  record and distance, hence whether that record lies inside its own ball (coverage).

:class:`ManifoldTerms` computes each part **when first read** and keeps it, so one metric pays
only for its own parts and several metrics of one evaluation share them: precision needs the
real radii and one pass of synthetic records against the real balls; density the same radii and
a counting pass; recall the synthetic radii and a pass of real records against the synthetic
balls; coverage the real radii and a nearest-synthetic pass. :meth:`ManifoldTerms.computed`
says which parts exist.

**Exact path.** Every pass is blocked: one float32 matrix product per block of query rows gives
``‖y‖² − shift − 2·x·y`` for the whole block (the squared norms and the ball limits ride along as
an extra column, so no further pass over the block is needed), and the ``n × m`` matrix never
exists. Float32 products are exact to about 2·10⁻⁷ of the squared norms, so every question is
answered in float32 outside a safety band of :data:`_BAND_EPS` float32 epsilons and decided
again in float64 from the differences inside it: the answer is the exact one, computed cheaply.

- *Small entries* are found in one read of the block: the minima of 16 interleaved column groups
  say which groups can hold them, and only those are looked into.
- *Radii*: the ``k``-th smallest group minimum bounds each row's ``k``-th smallest entry from
  above; the few entries below it (about ``k`` per row, more with ties) are recomputed in float64
  and sorted.
- *Inside any ball* (precision, recall): a row whose minimum over the block is clearly inside a
  ball, or clearly outside all, is decided by that minimum; only rows near a sphere look closer.
- *Balls holding a record* (density): the few entries within the band of a ball are recomputed.
- *Nearest record* (coverage, α/β): the entries within the band of the row minimum are
  recomputed; the nearest is the exact one, the lowest index among exact ties.

**Balls.** ``ball="closed"`` (default) counts a point on the sphere as inside, with the
tolerance of ``numpy.isclose`` (``d ≤ r + 10⁻⁸ + 10⁻⁵·r``): exactly pyMDMA's ``d < r or
isclose(d, r)``, and the ``≤`` of Kynkäänniemi et al.'s reference code. ``ball="open"`` is the
strict ``d < r`` of the ``prdc`` package (Naeem et al.) and synthcity's PRDC. On continuous data
they agree; on tables with ties they differ, and the closed ball is the meaningful one (an exact
copy of a real record whose ``k`` neighbours are copies too has radius 0, and is inside it).

**Large inputs.** Beyond :data:`~medsyn.evaluate._neighbors.EXACT_LIMIT` pairs (or with
``method="approximate"``) radii come from :func:`medsyn.evaluate.nearest` (a few extra
neighbours, distances recomputed in float64) and the cross passes are replaced by candidate
neighbours, counted from the ball's side: the ``candidates`` nearest synthetic records of each
real record (faiss IVF) are the only ones tested against that record's ball (precision, density,
coverage), and the nearest real records of each synthetic record against its ball (recall). A
ball holds about ``k·m/n`` other-side records, far fewer than ``candidates`` (``4·k``), so little
is missed. Two small errors remain and pull opposite ways: a record the approximate search did
not return (or a ball holding more than ``candidates``) is missed, lowering the four values; a
true neighbour missed while finding the radii makes a radius too large, raising them. Testing
each synthetic record only against its own nearest real records instead (the query side, as
:func:`medsyn.evaluate.count_within` with ``neighbours=`` does) misses the wide balls of sparse
real regions: on 3,000 × 3,000 Gaussian records it undercounts density by 0.08, the
ball-centric count by less than 0.001. :attr:`ManifoldTerms.method` says which path runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import numpy as np

from medsyn.evaluate._neighbors import EXACT_LIMIT, Neighbours, describe, nearest

__all__ = ["BALL_ATOL", "BALL_RTOL", "Ball", "ManifoldTerms", "NeighbourMethod", "Prdc", "manifold_terms", "prdc"]

Ball = Literal["closed", "open"]
NeighbourMethod = Literal["auto", "exact", "approximate"]
Side = Literal["real", "synthetic"]
T = TypeVar("T")

#: ``numpy.isclose`` tolerances of the closed ball (pyMDMA's ``d < r or isclose(d, r)``).
BALL_RTOL = 1e-5
BALL_ATOL = 1e-8
#: Bytes of one block of float32 entries in a blocked pass.
_BLOCK_BYTES = 16 * 2**20
#: Float32 entries are trusted outside this many epsilons of the squared norms (and limits).
_BAND_EPS = 32.0
_EPS32 = float(np.finfo(np.float32).eps)
#: Interleaved column groups of a block whose minima say where its small entries are (see _Groups).
_GROUPS = 16
#: Extra neighbours asked for the approximate radii, so float32 ranking noise cannot hide the true k-th.
_EXTRA = 3
#: Pairs whose exact distances are recomputed at once.
_PAIR_CHUNK = 2048


@dataclass(frozen=True, slots=True)
class Prdc:
    """Improved precision and recall, density and coverage of one real/synthetic pair of samples."""

    precision: float
    recall: float
    density: float
    coverage: float

    def to_dict(self) -> dict[str, float]:
        return {"precision": self.precision, "recall": self.recall, "density": self.density, "coverage": self.coverage}


def prdc(real: np.ndarray, synthetic: np.ndarray, *, k: int = 5, ball: Ball = "closed") -> Prdc:
    """Precision, recall, density and coverage (Kynkäänniemi et al. 2019; Naeem et al. 2020) of two arrays.

    The same numbers as pyMDMA's ``ImprovedPrecision``/``ImprovedRecall``/``Density``/``Coverage``
    (``ball="closed"``) or the ``prdc`` package's ``compute_prdc`` (``ball="open"``) on the same
    arrays, without their ``n × m`` distance matrix.

    Examples
    --------
    >>> x = np.arange(20, dtype=np.float32).reshape(10, 2)
    >>> prdc(x, x, k=2).to_dict()
    {'precision': 1.0, 'recall': 1.0, 'density': 1.5, 'coverage': 1.0}
    """
    t = manifold_terms(real, synthetic, k=k, ball=ball)
    return Prdc(
        float(t.precision_terms.mean()),
        float(t.recall_terms.mean()),
        float(t.density_terms.mean()),
        float(t.coverage_terms.mean()),
    )


def manifold_terms(
    real: np.ndarray,
    synthetic: np.ndarray,
    *,
    k: int = 5,
    ball: Ball = "closed",
    method: NeighbourMethod = "auto",
    candidates: int | None = None,
    seed: int = 0,
) -> ManifoldTerms:
    """The per-record manifold facts of ``real`` and ``synthetic`` (rows × features, Euclidean), computed as read.

    ``method="auto"`` is exact up to :data:`EXACT_LIMIT` real × synthetic pairs and uses
    candidate neighbours beyond; ``candidates`` (default ``4·k``) is how many.
    """
    r = np.ascontiguousarray(real, dtype=np.float32).reshape(len(real), -1)
    s = np.ascontiguousarray(synthetic, dtype=np.float32).reshape(len(synthetic), -1)
    if min(len(r), len(s)) <= k:
        raise ValueError(f"k={k} needs more than {k} records per side (real {len(r)}, synthetic {len(s)})")
    for side, x in (("real", r), ("synthetic", s)):
        if not np.isfinite(x).all():
            rows = np.flatnonzero(~np.isfinite(x).all(axis=1))
            raise ValueError(f"{side}: {len(rows)} row(s) with NaN or infinite values (first: row {rows[0]})")
    return ManifoldTerms(r, s, k, ball, method, candidates or 4 * k, seed)


@dataclass(frozen=True, slots=True)
class _Radii:
    """One side's balls: k-th and first nearest other-record distances, and the exact limit of each ball."""

    radius: np.ndarray
    first: np.ndarray
    limit: np.ndarray


@dataclass(frozen=True, slots=True)
class _ToSynthetic:
    """What the real → synthetic pass answers: balls per synthetic record, and each real record's nearest."""

    containing: np.ndarray
    covered: np.ndarray
    distance: np.ndarray
    index: np.ndarray


@dataclass(eq=False, repr=False, slots=True)
class ManifoldTerms:
    """Per-record facts of the real and synthetic k-NN manifolds, each part computed when first read.

    Made by :func:`manifold_terms`. Arrays are per real record (``n``) or per synthetic record
    (``m``), in the order of the matrices given. Parts are kept, so reading ``precision_terms``
    and then ``density_terms`` finds the real radii once; :meth:`computed` names the parts that
    exist.
    """

    real: np.ndarray
    synthetic: np.ndarray
    k: int
    ball: Ball
    neighbours: NeighbourMethod
    candidates: int
    seed: int
    _parts: dict[str, object] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"ManifoldTerms(real={len(self.real)}, synthetic={len(self.synthetic)}, k={self.k}, "
            f"ball={self.ball!r}, computed={sorted(self._parts)})"
        )

    def computed(self) -> frozenset[str]:
        """Names of the parts computed so far (``real_radii``, ``precision``, ``density``, …)."""
        return frozenset(self._parts)

    def _part(self, name: str, compute: Callable[[], T]) -> T:
        if name not in self._parts:
            self._parts[name] = compute()
        return self._parts[name]  # type: ignore[return-value]

    @property
    def _cross_exact(self) -> bool:
        """Whether the cross parts are exact (else candidate neighbours)."""
        return self.neighbours == "exact" or (
            self.neighbours == "auto" and len(self.real) * len(self.synthetic) <= EXACT_LIMIT
        )

    @property
    def method(self) -> str:
        """``"exact"``, or the candidate path and how its neighbours are found."""
        if self._cross_exact:
            return "exact"
        search = describe(len(self.real), len(self.synthetic), self.neighbours)
        return f"candidates ({self.candidates} nearest per ball centre; {search})"

    # -- radii ----------------------------------------------------------------------------------
    def _radii(self, side: Side) -> _Radii:
        def compute() -> _Radii:
            x = self.real if side == "real" else self.synthetic
            exact = self.neighbours == "exact" or (self.neighbours == "auto" and len(x) * len(x) <= EXACT_LIMIT)
            kth2, first2 = (
                _radii_exact(x, self.k) if exact else _radii_candidates(x, self.k, self.neighbours, self.seed)
            )
            radius = np.sqrt(kth2)
            return _Radii(radius, np.sqrt(first2), _limit(radius, kth2, self.ball))

        return self._part(f"{side}_radii", compute)

    @property
    def real_radius(self) -> np.ndarray:
        """Each real record's ball radius: the distance to its ``k``-th nearest other real record."""
        return self._radii("real").radius

    @property
    def real_nearest_real(self) -> np.ndarray:
        """Each real record's distance to its nearest other real record."""
        return self._radii("real").first

    @property
    def synthetic_radius(self) -> np.ndarray:
        """Each synthetic record's ball radius among the synthetic records."""
        return self._radii("synthetic").radius

    # -- the cross parts ------------------------------------------------------------------------
    def _ball_centric(
        self, centres: np.ndarray, others: np.ndarray, radius: np.ndarray
    ) -> tuple[Neighbours, np.ndarray]:
        """Candidate path: the nearest ``others`` of each ball centre, and which of them its ball holds."""
        limit = _ball_limit32(radius, self.ball)
        found = nearest(centres, others, min(self.candidates, len(others)), method=self.neighbours, seed=self.seed)
        return found, (found.distances <= limit[:, None]) & (found.indices >= 0)

    def _to_synthetic(self) -> _ToSynthetic:
        """Candidate path: the nearest synthetic records of each real record, tested against its ball."""

        def compute() -> _ToSynthetic:
            found, inside = self._ball_centric(self.real, self.synthetic, self.real_radius)
            containing = np.bincount(found.indices[inside], minlength=len(self.synthetic)).astype(np.int64)
            return _ToSynthetic(
                containing, inside[:, 0].copy(), found.distances[:, 0].astype(np.float64), found.indices[:, 0]
            )

        return self._part("to_synthetic", compute)

    @property
    def containing(self) -> np.ndarray:
        """For each synthetic record, the number of real balls holding it (density's count)."""
        if not self._cross_exact:
            return self._to_synthetic().containing
        real = self._radii("real")
        return self._part("density", lambda: _count_inside(self.synthetic, self.real, real.limit, self._strict))

    @property
    def inside_real(self) -> np.ndarray:
        """For each synthetic record, whether some real ball holds it (precision's test)."""
        if "density" in self._parts or not self._cross_exact:
            out: np.ndarray = self.containing > 0
            return out
        real = self._radii("real")
        return self._part("precision", lambda: _inside_any(self.synthetic, self.real, real.limit, self._strict))

    @property
    def recalled(self) -> np.ndarray:
        """For each real record, whether some synthetic ball holds it (recall's test)."""
        syn = self._radii("synthetic")
        if self._cross_exact:
            return self._part("recall", lambda: _inside_any(self.real, self.synthetic, syn.limit, self._strict))

        def to_real() -> np.ndarray:
            found, inside = self._ball_centric(self.synthetic, self.real, syn.radius)
            out = np.zeros(len(self.real), dtype=bool)
            out[found.indices[inside]] = True
            return out

        return self._part("to_real", to_real)

    def _nearest(self) -> tuple[np.ndarray, np.ndarray]:
        return self._part("nearest_synthetic", lambda: _nearest_exact(self.real, self.synthetic))

    @property
    def covered(self) -> np.ndarray:
        """For each real record, whether its nearest synthetic record lies inside its ball (coverage's test)."""
        if not self._cross_exact:
            return self._to_synthetic().covered
        d2 = self._nearest()[0]
        limit = self._radii("real").limit
        out: np.ndarray = d2 < limit if self._strict else d2 <= limit
        return out

    @property
    def nearest_synthetic(self) -> np.ndarray:
        """Each real record's distance to its nearest synthetic record."""
        if not self._cross_exact:
            return self._to_synthetic().distance
        out: np.ndarray = np.sqrt(self._nearest()[0])
        return out

    @property
    def nearest_synthetic_index(self) -> np.ndarray:
        """Each real record's nearest synthetic record (row position; the lowest among exact ties)."""
        return self._nearest()[1] if self._cross_exact else self._to_synthetic().index

    @property
    def _strict(self) -> bool:
        return self.ball == "open"

    # -- per-record terms of the four metrics ---------------------------------------------------
    @property
    def precision_terms(self) -> np.ndarray:
        """1 for each synthetic record inside at least one real ball."""
        return self.inside_real.astype(np.float64)

    @property
    def density_terms(self) -> np.ndarray:
        """For each synthetic record, the number of real balls holding it, over ``k``."""
        out: np.ndarray = self.containing / self.k
        return out

    @property
    def recall_terms(self) -> np.ndarray:
        """1 for each real record inside at least one synthetic ball."""
        return self.recalled.astype(np.float64)

    @property
    def coverage_terms(self) -> np.ndarray:
        """1 for each real record whose nearest synthetic record lies inside its ball."""
        return self.covered.astype(np.float64)


# -- ball limits -----------------------------------------------------------------------------
def _limit(radius: np.ndarray, squared: np.ndarray, ball: Ball) -> np.ndarray:
    """Squared distance a point may have to be inside the ball (strictly, for the open ball).

    The open ball compares with the exact squared radius, not ``sqrt(r²)²``, which can round up
    and let a point on the sphere in.
    """
    if ball == "open":
        return squared
    grown = radius * (1 + BALL_RTOL) + BALL_ATOL
    out: np.ndarray = grown**2
    return out


def _ball_limit32(radius: np.ndarray, ball: Ball) -> np.ndarray:
    """Radii as float32 limits for the candidate path's ``distance ≤ limit`` test."""
    if ball == "closed":
        out: np.ndarray = (radius * (1 + BALL_RTOL) + BALL_ATOL).astype(np.float32)
        return out
    r32 = radius.astype(np.float32)
    out = np.nextafter(r32, np.float32(0.0))
    return out


# -- blocked passes --------------------------------------------------------------------------
def _pair_distances(q: np.ndarray, ref: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Exact float64 squared distances of the pairs ``(q[rows[i]], ref[cols[i]])``, in chunks."""
    out = np.empty(len(rows), dtype=np.float64)
    for start in range(0, len(rows), _PAIR_CHUNK):
        stop = start + _PAIR_CHUNK
        diff = q[rows[start:stop]].astype(np.float64) - ref[cols[start:stop]]
        out[start:stop] = np.einsum("ij,ij->i", diff, diff)
    return out


def _squared_norms(x: np.ndarray) -> np.ndarray:
    x64 = x.astype(np.float64)
    out: np.ndarray = np.einsum("ij,ij->i", x64, x64)
    return out


def _blocks(
    q: np.ndarray, ref: np.ndarray, shift: np.ndarray | None = None
) -> Iterator[tuple[int, np.ndarray, np.ndarray, float]]:
    """Blocks of ``g[i, j] = ‖ref_j‖² − shift_j − 2·q_i·ref_j`` (float32): ``‖q_i − ref_j‖² − shift_j = ‖q_i‖² + g``.

    Yields the block's first row, ``g``, the rows' squared norms (float64) and the error band:
    entries of ``g`` are within it of their exact value. One matrix product per block: ``q`` and
    ``ref`` carry one extra column (``1`` and ``‖ref‖² − shift``). ``g`` is one buffer, refilled
    for each block: a consumer reads (or edits) it before asking for the next.
    """
    d = q.shape[1]
    qn, rn = _squared_norms(q), _squared_norms(ref)
    a = np.empty((len(q), d + 1), dtype=np.float32)
    a[:, :d], a[:, d] = q, 1.0
    bt = np.empty((d + 1, len(ref)), dtype=np.float32)  # contiguous: the product runs faster than on a view
    np.multiply(ref.T, -2.0, out=bt[:d])
    bt[d] = rn if shift is None else rn - shift
    scale = float(rn.max() + (0.0 if shift is None else np.abs(shift).max()))
    step = min(len(q), max(1, _BLOCK_BYTES // (4 * len(ref))))
    buffer = np.empty((step, len(ref)), dtype=np.float32)
    for start in range(0, len(q), step):
        stop = min(start + step, len(q))
        band = _BAND_EPS * _EPS32 * (float(qn[start:stop].max()) + scale)
        g = buffer[: stop - start]
        np.matmul(a[start:stop], bt, out=g)
        yield start, g, qn[start:stop], band


def _up32(x: np.ndarray) -> np.ndarray:
    """``x`` as float32, rounded up (a limit that must not shrink)."""
    x32 = x.astype(np.float32)
    out: np.ndarray = np.where(x32 < x, np.nextafter(x32, np.float32(np.inf)), x32)
    return out


def _down32(x: np.ndarray) -> np.ndarray:
    """``x`` as float32, rounded down."""
    x32 = x.astype(np.float32)
    out: np.ndarray = np.where(x32 > x, np.nextafter(x32, np.float32(-np.inf)), x32)
    return out


def _by_row(rows: np.ndarray, values: np.ndarray, n_rows: int, *keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions sorting the entries by row then value (then ``keys``), and where each row starts."""
    order = np.lexsort((*keys, values, rows))
    counts = np.bincount(rows, minlength=n_rows)
    starts = np.cumsum(counts) - counts
    return order, starts


@dataclass(frozen=True, slots=True)
class _Groups:
    """A block and the minima of its interleaved column groups, to find its few small entries in one read.

    With ``count`` groups of width ``w``, ``minima[i, p] = min_j g[i, p + j·w]`` (``j < count``),
    then the columns past ``count·w`` as they are. Small entries lie in groups with a small
    minimum, so they are looked for there only: one pass over the block, not a comparison and a
    search over all of it. A narrow block is its own single group.
    """

    g: np.ndarray
    count: int
    minima: np.ndarray

    @classmethod
    def of(cls, g: np.ndarray, fewest: int = 1) -> _Groups:
        """Group ``g`` when that leaves at least ``fewest`` (and 64) minima per row."""
        width = g.shape[1] // _GROUPS
        if width < max(64, fewest):
            return cls(g, 1, g)
        minima = g[:, : width * _GROUPS].reshape(len(g), _GROUPS, width).min(axis=1)
        if width * _GROUPS < g.shape[1]:
            minima = np.hstack([minima, g[:, width * _GROUPS :]])
        return cls(g, _GROUPS, minima)

    def kth_bound(self, k: int) -> np.ndarray:
        """At least each row's ``k``-th smallest entry: the ``k``-th smallest group minimum.

        The minima are entries of the row, so ``k`` of them at most the bound are ``k`` entries at
        most the bound. With a row's smallest entries in different groups (most rows) the bound is
        the ``k``-th smallest itself.
        """
        out: np.ndarray = np.partition(self.minima, k - 1, axis=1)[:, k - 1]
        return out

    def at_most(self, limit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row and column of each entry at most its row's ``limit`` (few: a sparse answer)."""
        rows, pos = np.divmod(np.flatnonzero(self.minima <= limit[:, None]), self.minima.shape[1])
        if self.count == 1:
            return rows, pos
        width = self.g.shape[1] // self.count
        grouped = pos < width
        r = rows[grouped]
        cols = pos[grouped, None] + width * np.arange(self.count)
        keep = self.g[r[:, None], cols] <= limit[r, None]
        tail_rows, tail_cols = rows[~grouped], pos[~grouped] + width * (self.count - 1)
        return (
            np.concatenate([np.broadcast_to(r[:, None], cols.shape)[keep], tail_rows]),
            np.concatenate([cols[keep], tail_cols]),
        )


def _radii_exact(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact squared distances to the ``k``-th and the first nearest other row of ``x``.

    Entries below :meth:`_Groups.kth_bound` plus twice the band hold the true ``k`` nearest (each
    is within the band of its float32 value); they are recomputed in float64.
    """
    kth = np.empty(len(x), dtype=np.float64)
    first = np.empty(len(x), dtype=np.float64)
    for start, g, _, band in _blocks(x, x):
        n_rows = len(g)
        own = np.arange(n_rows)
        g[own, start + own] = np.inf  # a record is not its own neighbour (a copy of it still is)
        groups = _Groups.of(g, k)
        rows, cols = groups.at_most(_up32(groups.kth_bound(k).astype(np.float64) + 2 * band))
        d2 = _pair_distances(x, x, start + rows, cols)
        order, starts = _by_row(rows, d2, n_rows)
        ranked = d2[order]
        kth[start : start + n_rows] = ranked[starts + k - 1]
        first[start : start + n_rows] = ranked[starts]
    return kth, first


def _radii_candidates(x: np.ndarray, k: int, method: NeighbourMethod, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Large inputs: squared distances to the ``k``-th and first of ``k + 3`` approximate nearest, recomputed."""
    ask = min(k + _EXTRA, len(x) - 1)
    idx = nearest(x, x, ask, exclude_self=True, method=method, seed=seed).indices
    rows = np.repeat(np.arange(len(x)), ask)
    d2 = _pair_distances(x, x, rows, np.maximum(idx, 0).ravel()).reshape(len(x), ask)
    d2[idx < 0] = np.inf
    d2.sort(axis=1)
    return d2[:, k - 1], d2[:, 0]


def _inside_pairs(
    q: np.ndarray, centres: np.ndarray, limit: np.ndarray, strict: bool, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """Which candidate pairs ``(q[rows], centres[cols])`` are inside the centre's ball, exactly."""
    d2 = _pair_distances(q, centres, rows, cols)
    out: np.ndarray = d2 < limit[cols] if strict else d2 <= limit[cols]
    return out


def _inside_any(q: np.ndarray, centres: np.ndarray, limit: np.ndarray, strict: bool) -> np.ndarray:
    """For each row of ``q``, whether some ball (``centres``, squared ``limit``) holds it.

    ``q_i`` is in ball ``j`` when ``g[i, j] ≤ −‖q_i‖²``: a row minimum below that by more than
    the band answers yes, above it by more than the band no; only the rest are looked at closer.
    """
    out = np.zeros(len(q), dtype=bool)
    for start, g, qn, band in _blocks(q, centres, limit):
        low, high = _down32(-qn - band), _up32(-qn + band)
        least = g.min(axis=1)
        out[start : start + len(g)] = least < low
        unsure = np.flatnonzero((least >= low) & (least <= high))
        if len(unsure):
            block = g[unsure]
            rows, cols = _Groups(block, 1, block).at_most(high[unsure])
            rows = unsure[rows]
            inside = _inside_pairs(q, centres, limit, strict, start + rows, cols)
            out[start + rows[inside]] = True
    return out


def _count_inside(q: np.ndarray, centres: np.ndarray, limit: np.ndarray, strict: bool) -> np.ndarray:
    """For each row of ``q``, how many balls (``centres``, squared ``limit``) hold it."""
    out = np.zeros(len(q), dtype=np.int64)
    for start, g, qn, band in _blocks(q, centres, limit):
        rows, cols = _Groups.of(g).at_most(_up32(-qn + band))
        inside = _inside_pairs(q, centres, limit, strict, start + rows, cols)
        out[start : start + len(g)] = np.bincount(rows[inside], minlength=len(g))
    return out


def _nearest_exact(q: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's exact squared distance to its nearest row of ``ref``, and that row (lowest among ties)."""
    dist = np.empty(len(q), dtype=np.float64)
    index = np.empty(len(q), dtype=np.int64)
    for start, g, _, band in _blocks(q, ref):
        n_rows = len(g)
        groups = _Groups.of(g)
        least = groups.minima.min(axis=1).astype(np.float64)
        rows, cols = groups.at_most(_up32(least + 2 * band))
        d2 = _pair_distances(q, ref, start + rows, cols)
        order, starts = _by_row(rows, d2, n_rows, cols)
        best = order[starts]
        dist[start : start + n_rows] = d2[best]
        index[start : start + n_rows] = cols[best]
    return dist, index
