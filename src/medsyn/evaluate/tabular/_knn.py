"""The k-NN manifolds behind precision, recall, density, coverage, α-precision and β-recall.

Every one of these metrics reads the same few facts about a real and a synthetic sample:

- each real record's ball: the distance to its ``k``-th nearest other real record (its radius),
  and the distance to its nearest other real record (β-recall's "real to real");
- the same radii for the synthetic records;
- for each synthetic record, how many real balls hold it (precision: at least one; density:
  how many, over ``k``);
- for each real record, whether some synthetic ball holds it (recall), whether its nearest
  synthetic record lies inside its own ball (coverage), and that nearest record and distance.

:func:`manifold_terms` computes all of them in one go. Radii come from
:func:`medsyn.evaluate.nearest` (a few extra neighbours, distances recomputed in float64 so that
ties — common in tables of whole numbers and categories — are ties). The real × synthetic part
is **one blocked pass**: each block of float32 squared distances (one matrix product) answers
all four questions at once, so the ``n × m`` matrix never exists and no distance is computed
twice. Float32 products are exact to about 2·10⁻⁷ of the squared norms; pairs whose distance
falls within a safety band of 16 float32 epsilons of a radius are decided again in float64, so
the answer is the exact one. Memory is O((n + m)·k) plus one block.

**Balls.** ``ball="closed"`` (default) counts a point on the sphere as inside, with the
tolerance of ``numpy.isclose`` (``d ≤ r + 10⁻⁸ + 10⁻⁵·r``): exactly pyMDMA's ``d < r or
isclose(d, r)``, and the ``≤`` of Kynkäänniemi et al.'s reference code. ``ball="open"`` is the
strict ``d < r`` of the ``prdc`` package (Naeem et al.) and synthcity's PRDC. On continuous data
they agree; on tables with ties they differ, and the closed ball is the meaningful one (an exact
copy of a real record whose ``k`` neighbours are copies too has radius 0, and is inside it).

**Large inputs.** Beyond :data:`~medsyn.evaluate._neighbors.EXACT_LIMIT` pairs (or with
``method="approximate"``) the cross pass is replaced by candidate neighbours, counted from the
ball's side: the ``candidates`` nearest synthetic records of each real record (faiss IVF) are
the only ones tested against that record's ball (precision, density, coverage), and the nearest
real records of each synthetic record against its ball (recall). A ball holds about ``k·m/n``
other-side records, far fewer than ``candidates`` (``4·k``), so little is missed. Two small
errors remain and pull opposite ways: a record the approximate search did not return (or a ball
holding more than ``candidates``) is missed, lowering the four values; a true neighbour missed
while finding the radii makes a radius too large, raising them. Testing each synthetic record
only against its own nearest real records instead (the query side, as
:func:`medsyn.evaluate.count_within` with ``neighbours=`` does) misses the wide balls of sparse
real regions: on 3,000 × 3,000 Gaussian records it undercounts density by 0.08, the
ball-centric count by less than 0.001. The result's ``method`` says which path ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from medsyn.evaluate._neighbors import EXACT_LIMIT, nearest

__all__ = ["BALL_ATOL", "BALL_RTOL", "Ball", "ManifoldTerms", "NeighbourMethod", "Prdc", "manifold_terms", "prdc"]

Ball = Literal["closed", "open"]
NeighbourMethod = Literal["auto", "exact", "approximate"]

#: ``numpy.isclose`` tolerances of the closed ball (pyMDMA's ``d < r or isclose(d, r)``).
BALL_RTOL = 1e-5
BALL_ATOL = 1e-8
#: Bytes of one block of float32 squared distances in the cross pass.
_BLOCK_BYTES = 16 * 2**20
#: Float32 squared distances are trusted outside this many epsilons of the squared norms.
_BAND_EPS = 16.0
#: Extra neighbours asked for the radii, so float32 ranking noise cannot hide the true k-th.
_EXTRA = 3
#: Query rows per exact neighbour search (bounds the memory of refining the answers).
_QUERY_CHUNK = 2048
#: Pairs whose exact distances are recomputed at once.
_PAIR_CHUNK = 2048


@dataclass(frozen=True, slots=True)
class ManifoldTerms:
    """Per-record facts of the real and synthetic k-NN manifolds (see the module docstring).

    Arrays are per real record (``n``) or per synthetic record (``m``), in the order of the
    matrices given to :func:`manifold_terms`.
    """

    k: int
    ball: Ball
    method: str
    real_radius: np.ndarray
    synthetic_radius: np.ndarray
    real_nearest_real: np.ndarray
    containing: np.ndarray
    recalled: np.ndarray
    covered: np.ndarray
    nearest_synthetic: np.ndarray
    nearest_synthetic_index: np.ndarray

    @property
    def precision_terms(self) -> np.ndarray:
        """1 for each synthetic record inside at least one real ball."""
        return (self.containing > 0).astype(np.float64)

    @property
    def density_terms(self) -> np.ndarray:
        """For each synthetic record, the number of real balls holding it, over ``k``."""
        return self.containing / self.k

    @property
    def recall_terms(self) -> np.ndarray:
        """1 for each real record inside at least one synthetic ball."""
        return self.recalled.astype(np.float64)

    @property
    def coverage_terms(self) -> np.ndarray:
        """1 for each real record whose nearest synthetic record lies inside its ball."""
        return self.covered.astype(np.float64)


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
    """The per-record manifold facts of ``real`` and ``synthetic`` (rows × features, Euclidean).

    ``method="auto"`` is exact up to :data:`EXACT_LIMIT` real × synthetic pairs and uses
    candidate neighbours beyond; ``candidates`` (default ``4·k``) is how many.
    """
    r = np.ascontiguousarray(real, dtype=np.float32)
    s = np.ascontiguousarray(synthetic, dtype=np.float32)
    if min(len(r), len(s)) <= k:
        raise ValueError(f"k={k} needs more than {k} records per side (real {len(r)}, synthetic {len(s)})")
    real_radius, real_first, real_sq = _radii(r, k, method, seed)
    syn_radius, _, syn_sq = _radii(s, k, method, seed)
    t_real, t_syn = _threshold(real_radius, real_sq, ball), _threshold(syn_radius, syn_sq, ball)
    strict = ball == "open"
    exact = method == "exact" or (method == "auto" and len(r) * len(s) <= EXACT_LIMIT)
    if exact:
        containing, recalled, covered, nn_d, nn_i = _cross_exact(r, s, t_real, t_syn, strict)
        how = "exact"
    else:
        containing, recalled, covered, nn_d, nn_i, how = _cross_candidates(
            r, s, real_radius, syn_radius, ball, candidates or 4 * k, method, seed
        )
    return ManifoldTerms(k, ball, how, real_radius, syn_radius, real_first, containing, recalled, covered, nn_d, nn_i)


# -- radii -----------------------------------------------------------------------------------
def _pair_distances(q: np.ndarray, ref: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Exact float64 squared distances of the pairs ``(q[rows[i]], ref[cols[i]])``, in chunks."""
    out = np.empty(len(rows), dtype=np.float64)
    for start in range(0, len(rows), _PAIR_CHUNK):
        stop = start + _PAIR_CHUNK
        diff = q[rows[start:stop]].astype(np.float64) - ref[cols[start:stop]]
        out[start:stop] = np.einsum("ij,ij->i", diff, diff)
    return out


def _radii(x: np.ndarray, k: int, method: NeighbourMethod, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distance to the ``k``-th and to the first nearest other record, in float64, and the first squared.

    On the exact path the queries go to :func:`nearest` in chunks of :data:`_QUERY_CHUNK` rows
    (each row's own position dropped here), which bounds the memory :func:`nearest` spends
    refining its answers; the approximate path asks once, so its index is trained once.
    """
    ask = min(k + _EXTRA, len(x) - 1)
    exact = method == "exact" or (method == "auto" and len(x) * len(x) <= EXACT_LIMIT)
    if exact:
        idx = np.empty((len(x), ask), dtype=np.int64)
        for start in range(0, len(x), _QUERY_CHUNK):
            stop = min(start + _QUERY_CHUNK, len(x))
            found = nearest(x[start:stop], x, ask + 1, method="exact", seed=seed).indices
            own = found == np.arange(start, stop)[:, None]
            own[~own.any(axis=1), -1] = True  # a row tied at distance 0 may push itself out: drop the farthest
            idx[start:stop] = found[~own].reshape(stop - start, ask)
    else:
        idx = nearest(x, x, ask, exclude_self=True, method=method, seed=seed).indices
    rows = np.repeat(np.arange(len(x)), ask)
    d2 = _pair_distances(x, x, rows, np.maximum(idx, 0).ravel()).reshape(len(x), ask)
    d2[idx < 0] = np.inf
    d2.sort(axis=1)
    d = np.sqrt(d2)
    return d[:, k - 1], d[:, 0], d2[:, k - 1]


def _threshold(radius: np.ndarray, squared: np.ndarray, ball: Ball) -> np.ndarray:
    """Squared distance a point may have to be inside the ball (strictly, for the open ball).

    The open ball compares with the exact squared radius, not ``sqrt(r²)²``, which can round up
    and let a point on the sphere in.
    """
    if ball == "open":
        return squared
    grown = radius * (1 + BALL_RTOL) + BALL_ATOL
    out: np.ndarray = grown**2
    return out


# -- the exact cross pass --------------------------------------------------------------------
def _decide(
    d2: np.ndarray,
    limit32: np.ndarray,
    band: float,
    pair: tuple[np.ndarray, np.ndarray],
    limit64: np.ndarray,
    *,
    per_row: bool,
    strict: bool,
) -> np.ndarray:
    """``d2 < limit`` (``≤`` unless ``strict``) per entry; entries within ``band`` of it decided in float64.

    ``pair`` holds the block's query rows and the reference rows; ``limit64`` the exact limits,
    one per row (``per_row``) or per column of the block.
    """
    gap = d2 - limit32
    inside: np.ndarray = gap < -band
    np.abs(gap, out=gap)
    rows, cols = np.nonzero(gap <= band)
    if len(rows):
        exact_d2 = _pair_distances(pair[0], pair[1], rows, cols)
        limit = limit64[rows] if per_row else limit64[cols]
        inside[rows, cols] = exact_d2 < limit if strict else exact_d2 <= limit
    return inside


def _cross_exact(
    r: np.ndarray, s: np.ndarray, t_real: np.ndarray, t_syn: np.ndarray, strict: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One blocked pass over real × synthetic squared distances answering every question."""
    n, m = len(r), len(s)
    rn = np.einsum("ij,ij->i", r, r)
    sn = np.einsum("ij,ij->i", s, s)
    t_real32, t_syn32 = t_real.astype(np.float32), t_syn.astype(np.float32)
    containing = np.zeros(m, dtype=np.int64)
    recalled = np.zeros(n, dtype=bool)
    covered = np.zeros(n, dtype=bool)
    nn_d = np.empty(n, dtype=np.float64)
    nn_i = np.empty(n, dtype=np.int64)
    step = max(1, _BLOCK_BYTES // (4 * m))
    eps = float(np.finfo(np.float32).eps)
    for start in range(0, n, step):
        stop = min(start + step, n)
        q = r[start:stop]
        d2 = q @ s.T
        d2 *= -2.0
        d2 += rn[start:stop, None]
        d2 += sn[None, :]
        band = _BAND_EPS * eps * float(rn[start:stop].max() + sn.max())
        nearest_j = d2.argmin(axis=1)
        nn_i[start:stop] = nearest_j
        nn_d[start:stop] = np.sqrt(_pair_distances(q, s, np.arange(stop - start), nearest_j))
        in_real = _decide(d2, t_real32[start:stop, None], band, (q, s), t_real[start:stop], per_row=True, strict=strict)
        containing += in_real.sum(axis=0)
        covered[start:stop] = in_real.any(axis=1)
        del in_real
        in_syn = _decide(d2, t_syn32[None, :], band, (q, s), t_syn, per_row=False, strict=strict)
        recalled[start:stop] = in_syn.any(axis=1)
    return containing, recalled, covered, nn_d, nn_i


# -- the large-data path ---------------------------------------------------------------------
def _cross_candidates(
    r: np.ndarray,
    s: np.ndarray,
    real_radius: np.ndarray,
    syn_radius: np.ndarray,
    ball: Ball,
    candidates: int,
    method: NeighbourMethod,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """Ball membership tested only among each ball centre's ``candidates`` nearest other-side records.

    Ball-centric: the synthetic records inside real ball ``i`` are looked for among the
    ``candidates`` nearest synthetic records *of* ``i`` (a ball holds about ``k·m/n`` of them,
    far fewer than ``candidates``), and symmetrically for synthetic balls. Only a ball holding
    more than ``candidates`` other-side records is undercounted — synthetic records piled
    into one real neighbourhood, which density then reports as low instead of high.
    """
    limit_real = _radius_limit(real_radius, ball)
    limit_syn = _radius_limit(syn_radius, ball)
    to_syn = nearest(r, s, min(candidates, len(s)), method=method, seed=seed)
    inside = (to_syn.distances <= limit_real[:, None]) & (to_syn.indices >= 0)
    containing = np.bincount(to_syn.indices[inside], minlength=len(s)).astype(np.int64)
    first_d = to_syn.distances[:, 0].astype(np.float64)
    first_i = to_syn.indices[:, 0]
    covered = inside[:, 0].copy()
    how = f"candidates ({candidates} nearest per ball centre; {to_syn.method})"
    del to_syn, inside
    to_real = nearest(s, r, min(candidates, len(r)), method=method, seed=seed)
    inside = (to_real.distances <= limit_syn[:, None]) & (to_real.indices >= 0)
    recalled = np.zeros(len(r), dtype=bool)
    recalled[to_real.indices[inside]] = True
    return containing, recalled, covered, first_d, first_i, how


def _radius_limit(radius: np.ndarray, ball: Ball) -> np.ndarray:
    """Radii as float32 limits for ``count_within``'s ``distance ≤ limit`` test."""
    if ball == "closed":
        out: np.ndarray = (radius * (1 + BALL_RTOL) + BALL_ATOL).astype(np.float32)
        return out
    r32 = radius.astype(np.float32)
    out = np.nextafter(r32, np.float32(0.0))
    return out
