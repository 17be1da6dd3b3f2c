"""Banded dynamic time warping and exact DTW nearest neighbours, vectorised over many pairs at once.

DTW aligns two series by stretching time; with a Sakoe–Chiba band of radius ``window`` sample
``i`` of one series may only meet samples ``i − window … i + window`` of the other. The
accumulated cost is the sum of squared differences along the best path (over all channels at
once: dependent multichannel DTW), and the distance is its square root, as in dtaidistance and
tslearn.

Speed comes from three things, none of them a Python loop over pairs:

- **Many pairs per step.** The dynamic programme walks the anti-diagonals of the band, whose
  cells do not depend on each other; each step updates one anti-diagonal of *every* pair at
  once (arrays of cells × pairs, time-major, float32, in batches small enough to stay in
  cache), so the Python overhead is per anti-diagonal, not per pair or per cell.
- **Pruning with bounds.** For nearest neighbours, the Euclidean distance (the diagonal path,
  always inside the band) is an upper bound and LB_Keogh (Keogh & Ratanamahatana 2005; the sum
  over channels, valid for dependent DTW) a lower bound, taken both ways round. Candidates are
  visited in order of their one-way lower bound, in rounds of growing size; a candidate whose
  bound (one way, then the other) reaches the current k-th best distance is never computed.
- **Early abandoning.** Every path meets one of any two consecutive anti-diagonals, so their
  smallest accumulated cost is a lower bound of the final cost; pairs whose bound reaches their
  query's current k-th best are dropped from the batch mid-way.

The answers are exact: bounds only decide what need not be computed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["DtwNeighbours", "banded_dtw", "dtw_nearest", "lb_keogh"]

#: Memory of the float32 series of one batch of pairs.
BATCH_BYTES = 16 * 2**20
#: Memory of the working arrays of one batch of pairs (small enough to stay in cache).
WORK_BYTES = 4 * 2**20
#: Memory of one block of the query × reference bound matrices.
BLOCK_BYTES = 32 * 2**20
#: Anti-diagonals between early-abandoning checks.
_CHECK_EVERY = 32
#: Lower bounds are computed in float32; shrinking them by this factor keeps them below the
#: exact bound despite rounding, so no true neighbour is ever pruned.
_LB_SAFETY = 1.0 - 1e-4


@dataclass(frozen=True, slots=True)
class DtwNeighbours:
    """The ``k`` DTW-nearest reference series of every query series, nearest first.

    ``computed`` counts the pairs whose dynamic programme ran (in full or until abandoned),
    out of ``candidates`` query × reference pairs.
    """

    distances: np.ndarray
    indices: np.ndarray
    computed: int
    candidates: int
    window: int

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])

    def first(self) -> np.ndarray:
        """Distance to the nearest reference series, per query series."""
        return self.distances[:, 0]

    @property
    def computed_share(self) -> float:
        return self.computed / self.candidates if self.candidates else 0.0


def _time_major(x: np.ndarray) -> np.ndarray:
    """Series × channels × samples → channels × samples × series, float32, contiguous."""
    return np.ascontiguousarray(np.transpose(x, (1, 2, 0)), dtype=np.float32)


def _dtw_sq(a: np.ndarray, b: np.ndarray, window: int, bound: np.ndarray | None) -> np.ndarray:
    """Squared banded DTW of pairs ``a[..., p]``, ``b[..., p]`` (channels × samples × pairs, float32).

    The programme walks anti-diagonals ``s = i + j``: the cells of one anti-diagonal do not
    depend on each other, so each step is a handful of array operations over (cells of the
    diagonal inside the band) × pairs. Cell ``(i, j)`` sits at offset ``d = i − j``; on diagonal
    ``s`` the offsets have the parity of ``s``, its left and upper neighbours are on diagonal
    ``s − 1`` at ``d ± 1`` and its diagonal neighbour on ``s − 2`` at ``d``. Every path meets one
    of any two consecutive anti-diagonals, so their smallest accumulated cost bounds the final
    cost from below: pairs whose bound reaches ``bound[p]`` are abandoned and get ``inf``.
    """
    n_ch, length, n_pairs = a.shape
    w = window
    rev = np.ascontiguousarray(b[:, ::-1])
    offsets = np.arange(-w, w + 1)
    by_parity = [offsets[(offsets - p) % 2 == 0] for p in (0, 1)]
    sizes = [len(o) for o in by_parity]
    # shift of the left neighbour's slot on the previous diagonal, per parity (the other parity starts 1 off)
    shift = [(int(by_parity[p][0] - by_parity[1 - p][0]) - 1) // 2 if min(sizes) else 0 for p in (0, 1)]
    slots = max(sizes) + 3
    out = np.full(n_pairs, np.inf)
    ids = np.arange(n_pairs)
    limit = None if bound is None else np.asarray(bound, dtype=np.float32)
    before = np.full((slots, n_pairs), np.inf, dtype=np.float32)  # diagonal s − 2
    last = np.full((slots, n_pairs), np.inf, dtype=np.float32)  # diagonal s − 1
    cost = np.empty((w + 1, n_pairs), dtype=np.float32)
    tmp = np.empty_like(cost)
    spare = np.full((slots, n_pairs), np.inf, dtype=np.float32)
    for s in range(2 * length - 1):
        p = s % 2
        cur = spare
        i0 = (s + int(by_parity[p][0])) // 2 if sizes[p] else 0
        j0 = s - i0
        lo = max(0, -i0, j0 - (length - 1))
        hi = min(sizes[p] - 1, length - 1 - i0, j0)
        if not sizes[p] or hi < lo:
            cur.fill(np.inf)
        else:
            cur[: 1 + lo] = np.inf
            cur[2 + hi :] = np.inf
            m = hi - lo + 1
            c, t = cost[:m], tmp[:m]
            ai = slice(i0 + lo, i0 + hi + 1)
            bj = slice(length - 1 - j0 + lo, length - j0 + hi)
            np.subtract(a[0, ai], rev[0, bj], out=c)
            np.square(c, out=c)
            for ch in range(1, n_ch):
                np.subtract(a[ch, ai], rev[ch, bj], out=t)
                np.square(t, out=t)
                c += t
            dst = cur[1 + lo : 2 + hi]
            if s == 0:
                dst[...] = c
            else:
                k = 1 + shift[p]
                np.minimum(last[k + lo : k + hi + 1], last[k + 1 + lo : k + hi + 2], out=dst)
                np.minimum(dst, before[1 + lo : 2 + hi], out=dst)
                dst += c
        spare, before, last = before, last, cur
        if limit is not None and s % _CHECK_EVERY == _CHECK_EVERY - 1 and s < 2 * length - 2:
            alive = np.minimum(before.min(axis=0), last.min(axis=0)) < limit
            n_alive = int(alive.sum())
            if n_alive == 0:
                return out
            if n_alive < 0.75 * len(alive):
                keep = np.flatnonzero(alive)
                ids, limit = ids[keep], limit[keep]
                before, last = np.ascontiguousarray(before[:, keep]), np.ascontiguousarray(last[:, keep])
                spare = np.empty_like(last)
                # later diagonals read samples from (s − w) / 2 on: copy only those (zeros stand in before)
                first = max(0, (s - w) // 2)
                a = _compact(a, keep, first, 0)
                rev = _compact(rev, keep, first, 1)
                cost, tmp = np.empty((w + 1, n_alive), dtype=np.float32), np.empty((w + 1, n_alive), dtype=np.float32)
    end = 1 + int(np.flatnonzero(by_parity[0] == 0)[0])  # the last diagonal, 2(L − 1), is even; cell d = 0
    final = np.maximum(last[end].astype(np.float64), 0.0)
    if limit is not None:
        final = np.where(final < limit, final, np.inf)
    out[ids] = final
    return out


def _compact(x: np.ndarray, keep: np.ndarray, first: int, side: int) -> np.ndarray:
    """Columns ``keep`` of time-major ``x``, copying only the samples still to be read.

    ``side`` 0 keeps samples ``first …`` (a series read forwards), 1 keeps ``… L − 1 − first`` (reversed).
    """
    out = np.zeros((x.shape[0], x.shape[1], len(keep)), dtype=x.dtype)
    span = slice(first, None) if side == 0 else slice(0, x.shape[1] - first)
    out[:, span] = x[:, span][:, :, keep]
    return out


def _pairs_sq(
    q_tm: np.ndarray,
    r_tm: np.ndarray,
    qi: np.ndarray,
    ri: np.ndarray,
    window: int,
    bound: np.ndarray | None = None,
) -> np.ndarray:
    """Squared DTW of the pairs (``qi[p]``, ``ri[p]``) of time-major series, in memory-sized batches."""
    n_ch, length, _ = q_tm.shape
    # working arrays (two diagonals, cost, scratch) of about 4 MB stay in cache; inputs stay bounded too
    batch = max(64, min(WORK_BYTES // (16 * (window + 4)), BATCH_BYTES // (8 * n_ch * length)))
    out = np.empty(len(qi))
    for s in range(0, len(qi), batch):
        sl = slice(s, s + batch)
        out[sl] = _dtw_sq(q_tm[:, :, qi[sl]], r_tm[:, :, ri[sl]], window, None if bound is None else bound[sl])
    return out


def _check(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim == 2:
        x = x[:, None, :]
    if x.ndim != 3:
        raise ValueError(f"{name}: expected series × channels × samples, got shape {x.shape}")
    return x


def banded_dtw(x: np.ndarray, y: np.ndarray, *, window: int) -> np.ndarray:
    """DTW distance of each pair ``x[p]``, ``y[p]`` (series × [channels ×] samples, equal lengths).

    The square root of the smallest sum of squared differences along a warping path that stays
    within ``window`` samples of the diagonal (``window=0``: Euclidean distance).

    Examples
    --------
    >>> a = np.array([[0.0, 1.0, 2.0, 1.0, 0.0]])
    >>> b = np.array([[0.0, 0.0, 1.0, 2.0, 1.0]])
    >>> float(banded_dtw(a, b, window=1)[0]), round(float(banded_dtw(a, b, window=0)[0]), 3)
    (0.0, 1.732)
    """
    a, b = _check(x, "x"), _check(y, "y")
    if a.shape != b.shape:
        raise ValueError(f"x and y differ in shape: {a.shape} vs {b.shape}")
    pairs = np.arange(len(a))
    squared = _pairs_sq(_time_major(a), _time_major(b), pairs, pairs, max(0, min(int(window), a.shape[2] - 1)))
    return np.asarray(np.sqrt(squared))


def _envelope(x: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    from scipy.ndimage import maximum_filter1d, minimum_filter1d

    size = 2 * window + 1
    return (
        maximum_filter1d(x, size, axis=-1, mode="nearest"),
        minimum_filter1d(x, size, axis=-1, mode="nearest"),
    )


def _keogh_block(q: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """LB_Keogh² of series ``q`` (bq × c × n) against envelopes (nr × c × n): bq × nr.

    At most one of "above the upper envelope" and "below the lower one" holds, so the bound is
    the squared distance from each sample to the envelope, ``(q − clip(q, lower, upper))²``.
    """
    gap = np.maximum(q[:, None], lower[None])
    np.minimum(gap, upper[None], out=gap)
    np.subtract(q[:, None], gap, out=gap)
    return np.asarray(np.einsum("abcd,abcd->ab", gap, gap))


def _one_way(q: np.ndarray, r_upper: np.ndarray, r_lower: np.ndarray) -> np.ndarray:
    """LB_Keogh² of every query against every reference envelope, in memory-sized blocks."""
    n_ch, length = q.shape[1:]
    rows = max(1, BLOCK_BYTES // (4 * len(r_upper) * n_ch * length))
    out = np.empty((len(q), len(r_upper)), dtype=np.float32)
    for s in range(0, len(q), rows):
        out[s : s + rows] = _keogh_block(q[s : s + rows], r_upper, r_lower)
    return out


def lb_keogh(query: np.ndarray, reference: np.ndarray, *, window: int) -> np.ndarray:
    """LB_Keogh lower bounds of the squared DTW, every query × reference pair, taken both ways round.

    ``max(LB(q, envelope(r)), LB(r, envelope(q)))``: each is the cost of one series' samples
    outside the band-wide envelope of the other, summed over channels.
    """
    q = _check(query, "query").astype(np.float32)
    r = _check(reference, "reference").astype(np.float32)
    forward = _one_way(q, *_envelope(r, window))
    backward = _one_way(r, *_envelope(q, window)).T
    return np.asarray(np.maximum(forward, backward))


class _Prepared:
    """One side of a search: the series and their band envelopes, as given and time-major."""

    def __init__(self, x: np.ndarray, window: int) -> None:
        self.x = np.asarray(x, dtype=np.float32)
        self.upper, self.lower = _envelope(self.x, window)
        self.tm = _time_major(self.x)
        self.upper_tm = _time_major(self.upper)
        self.lower_tm = _time_major(self.lower)


def _backward_pairs(q: _Prepared, r: _Prepared, qi: np.ndarray, ri: np.ndarray) -> np.ndarray:
    """LB_Keogh² of reference ``ri[p]`` against the envelope of query ``qi[p]``."""
    out = np.empty(len(qi))
    n_ch, length, _ = q.tm.shape
    batch = max(1, BATCH_BYTES // (8 * n_ch * length))
    for s in range(0, len(qi), batch):
        a, b = qi[s : s + batch], ri[s : s + batch]
        rb = r.tm[:, :, b]
        gap = np.maximum(rb, q.lower_tm[:, :, a])
        np.minimum(gap, q.upper_tm[:, :, a], out=gap)
        np.subtract(rb, gap, out=gap)
        out[s : s + batch] = np.einsum("ctp,ctp->p", gap, gap)
    return out


def _squared_euclidean(q: np.ndarray, r: np.ndarray) -> np.ndarray:
    qf = q.reshape(len(q), -1).astype(np.float64)
    rf = r.reshape(len(r), -1).astype(np.float64)
    d = (qf**2).sum(axis=1)[:, None] + (rf**2).sum(axis=1)[None, :] - 2.0 * qf @ rf.T
    return np.asarray(np.maximum(d, 0.0))


def _merge(
    best_d: np.ndarray, best_i: np.ndarray, new_d: np.ndarray, new_i: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    d = np.concatenate([best_d, new_d], axis=1)
    i = np.concatenate([best_i, new_i], axis=1)
    order = np.argsort(d, axis=1, kind="stable")[:, : best_d.shape[1]]
    return np.take_along_axis(d, order, axis=1), np.take_along_axis(i, order, axis=1)


def dtw_nearest(
    query: np.ndarray,
    reference: np.ndarray,
    *,
    window: int,
    k: int = 1,
    exclude_self: bool = False,
) -> DtwNeighbours:
    """The exact ``k`` nearest reference series of every query series under banded DTW.

    Parameters
    ----------
    query, reference
        Series × channels × samples (or series × samples), equal lengths; z-normalise them first
        when amplitude should not count.
    window
        Sakoe–Chiba radius in samples.
    k
        Neighbours per query.
    exclude_self
        ``query`` is ``reference``: a series is not its own neighbour.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.normal(size=(20, 1, 50))
    >>> nn = dtw_nearest(ref[[3, 7]] + 0.01, ref, window=5)
    >>> nn.indices[:, 0].tolist()
    [3, 7]
    """
    q = _check(query, "query")
    r = _check(reference, "reference")
    if q.shape[1:] != r.shape[1:]:
        raise ValueError(f"query and reference differ in channels × samples: {q.shape[1:]} vs {r.shape[1:]}")
    n_ref = len(r) - (1 if exclude_self else 0)
    if not 1 <= k <= n_ref:
        raise ValueError(f"k={k} but only {n_ref} reference series")
    window = max(0, min(int(window), q.shape[2] - 1))
    qp = _Prepared(q, window)
    rp = qp if exclude_self else _Prepared(r, window)
    rows = max(1, BLOCK_BYTES // (16 * len(r)))
    dist = np.empty((len(q), k))
    idx = np.empty((len(q), k), dtype=np.int64)
    computed = 0
    for s in range(0, len(q), rows):
        sl = np.arange(s, min(len(q), s + rows))
        dist[sl], idx[sl], done = _nearest_block(q, r, qp, rp, sl, window, k, exclude_self)
        computed += done
    return DtwNeighbours(np.sqrt(dist), idx, computed, len(q) * n_ref, window)


def _nearest_block(
    q: np.ndarray,
    r: np.ndarray,
    qp: _Prepared,
    rp: _Prepared,
    block: np.ndarray,
    window: int,
    k: int,
    exclude_self: bool,
) -> tuple[np.ndarray, np.ndarray, int]:
    """k-NN of the queries ``block``: LB_Keogh orders and prunes (both ways), DTW abandons early."""
    nq, nr = len(block), len(r)
    rows = np.arange(nq)
    upper = _squared_euclidean(q[block], r)
    lower = _one_way(qp.x[block], rp.upper, rp.lower).astype(np.float64)
    lower *= _LB_SAFETY
    if exclude_self:
        upper[rows, block] = np.inf
        lower[rows, block] = np.inf
    # round 0: the k Euclidean-nearest references, in full (DTW ≤ Euclidean: a first bound)
    first = np.argpartition(upper, k - 1, axis=1)[:, :k]
    d0 = _pairs_sq(qp.tm, rp.tm, np.repeat(block, k), first.ravel(), window).reshape(nq, k)
    order0 = np.argsort(d0, axis=1, kind="stable")
    best_d, best_i = np.take_along_axis(d0, order0, axis=1), np.take_along_axis(first, order0, axis=1)
    computed = nq * k
    lower[rows[:, None], first] = np.inf
    order = np.argsort(lower, axis=1)
    sorted_lb = np.take_along_axis(lower, order, axis=1)
    start, size = 0, 4
    while start < nr:
        cols = np.arange(start, min(nr, start + size))
        kth = best_d[:, -1]
        valid = sorted_lb[:, cols] < kth[:, None]
        if not valid.any():
            break
        qi, ci = np.nonzero(valid)
        ri = order[qi, cols[ci]]
        keep = _backward_pairs(qp, rp, block[qi], ri) * _LB_SAFETY < kth[qi]
        qi, ci, ri = qi[keep], ci[keep], ri[keep]
        d = _pairs_sq(qp.tm, rp.tm, block[qi], ri, window, kth[qi])
        computed += len(qi)
        new_d = np.full((nq, len(cols)), np.inf)
        new_i = np.zeros((nq, len(cols)), dtype=np.int64)
        new_d[qi, ci] = d
        new_i[qi, ci] = ri
        best_d, best_i = _merge(best_d, best_i, new_d, new_i)
        start += len(cols)
        size = min(2 * size, 256)
    if not np.isfinite(best_d).all():  # cannot happen with finite inputs; never hand back garbage silently
        raise FloatingPointError("DTW search produced non-finite distances; are the series finite?")
    return best_d, best_i, computed


def window_for(length: int, band: float) -> int:
    """Sakoe–Chiba radius in samples for a band given as a fraction of the series length."""
    return max(0, min(length - 1, math.floor(band * length + 0.5)))
