"""Mondrian multidimensional partitioning (LeFevre, DeWitt & Ramakrishnan 2006), vectorised.

Where full-domain generalisation recodes a column the same way in every record, Mondrian cuts
the records recursively: each partition is split at the median of the quasi-identifier with the
widest normalised range, as long as both halves still satisfy the models (k, l-diversity,
t-closeness, max risk). Every record is then released with its partition's range (numbers,
dates, ordered categories: ``[40, 49]``) or set of values (other categories: ``{A, B}``). It
scales to many quasi-identifiers, where the lattice explodes.

``strict`` cuts never split equal values (values equal to the median go to one side, whichever
keeps both halves valid and more balanced); ``relaxed`` cuts split at the median record, so
equal values may land on both sides and partitions are as close to k as possible.

All partitions of a round are cut at once: the records of every open partition are sorted by
(partition, value on its cut column) with one ``argsort``, medians and side counts come from
``searchsorted``, and the models are checked per half with the same class checks the lattice
uses. No Python loop runs over records or partitions.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from medsyn.privacy._criteria import Requirements, SensitiveCodes, aggregate_pairs, class_violations, needs_order
from medsyn.privacy._hierarchy import Hierarchy, fmt_number
from medsyn.privacy._hierarchy_build import merge_labels
from medsyn.privacy._loss import LossReport

__all__ = ["MondrianColumn", "MondrianResult", "MondrianStats", "mondrian"]


@dataclass(frozen=True, eq=False)
class MondrianColumn:
    """A quasi-identifier as ordered integer codes; ``values[code]`` is the value a code stands for."""

    name: str
    codes: np.ndarray
    values: np.ndarray
    ordered: bool
    missing_code: int | None = None

    @classmethod
    def encode(
        cls, series: pd.Series, *, order: Sequence[object] | None = None, ranges: bool = False
    ) -> MondrianColumn:
        """Numbers and dates in value order (released as ranges); categories as sets.

        ``order`` fixes the categories' order (e.g. a hierarchy's leaves, so cuts keep siblings
        together); ``ranges`` releases ordered categories as ranges (``[50-60)..[70-80)``).
        """
        name = str(series.name)
        temporal = pd.api.types.is_datetime64_any_dtype(series.dtype)
        numeric = pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)
        if order is not None:
            lookup = pd.Index(list(order))
            source = series.astype(object).where(series.notna(), None)
            if lookup.dtype == object:
                source = source.map(lambda v: v if v is None else str(v))
            codes = lookup.get_indexer(pd.Index(source))
            values: np.ndarray = np.asarray(list(order), dtype=object)
            ordered = ranges
        elif isinstance(series.dtype, pd.CategoricalDtype):
            codes = series.cat.codes.to_numpy().astype(np.int64)
            values = np.asarray(series.cat.categories, dtype=object)
            ordered = bool(series.cat.ordered)
        elif temporal or numeric:
            codes, uniques = pd.factorize(series, sort=True)
            values = np.asarray(uniques)
            ordered = True
        else:
            codes, uniques = pd.factorize(series.astype(object), sort=True)
            values = np.asarray(uniques, dtype=object)
            ordered = False
        codes = np.asarray(codes, dtype=np.int64)
        missing = None
        if (codes < 0).any():
            missing = len(values)
            codes = np.where(codes < 0, missing, codes)
        return cls(name, codes, values, ordered, missing)

    @classmethod
    def from_hierarchy(cls, h: Hierarchy, leaf_codes: np.ndarray) -> MondrianColumn:
        """Reuse a hierarchy's leaf codes (leaves in value or hierarchy order; missing last).

        Numbers, ages, dates and ordered categories are released as ranges; other categories
        (flat, prefix, mapping hierarchies) as sets.
        """
        values = np.asarray(h.leaves)
        ranged = h.kind in ("interval", "age", "date", "ordinal")
        missing = len(h.leaves) if h.has_missing else None
        return cls(h.column, leaf_codes.astype(np.int64), values, ranged, missing)

    @property
    def n_codes(self) -> int:
        return len(self.values) + (self.missing_code is not None)

    def text(self) -> np.ndarray:
        """Each code's value as text (missing as ``NA``)."""
        if self.values.dtype.kind == "M":
            stamps = pd.DatetimeIndex(self.values)
            out = [s.strftime("%Y-%m-%d") if s == s.normalize() else s.isoformat() for s in stamps]
        elif self.values.dtype.kind in "fiu":
            out = [fmt_number(float(v)) for v in self.values]
        else:
            out = [str(v) for v in self.values]
        if self.missing_code is not None:
            out.append("NA")
        return np.asarray(out, dtype=object)

    def numeric(self) -> np.ndarray | None:
        if self.values.dtype.kind == "M":
            return np.asarray(pd.DatetimeIndex(self.values).asi8, dtype=np.float64)
        if self.values.dtype.kind in "fiu":
            return self.values.astype(np.float64)
        return None


@dataclass(frozen=True, slots=True)
class MondrianStats:
    """Partitions made, rounds of cuts, cuts tried and the time taken."""

    partitions: int
    rounds: int
    cuts_tried: int
    seconds: float
    strict: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "partitions": self.partitions,
            "rounds": self.rounds,
            "cuts_tried": self.cuts_tried,
            "seconds": self.seconds,
            "strict": self.strict,
        }


@dataclass(frozen=True, eq=False)
class MondrianResult:
    """Partition of each record, each partition's code range per column, released columns, loss."""

    partition: np.ndarray
    lows: np.ndarray
    highs: np.ndarray
    released: dict[str, pd.Categorical]
    loss: LossReport
    stats: MondrianStats


def _halves_ok(
    side_cls: np.ndarray,
    rows: np.ndarray,
    n_parts: int,
    sensitive: Sequence[SensitiveCodes],
    req: Requirements,
    *,
    ordered: bool,
) -> np.ndarray:
    """Per partition: do both halves (class ``2p`` and ``2p + 1``) satisfy every class-based model?

    ``side_cls`` is non-decreasing (rows sorted by partition, left half first).
    """
    sizes = np.bincount(side_cls, minlength=2 * n_parts).astype(np.int64)
    models = req.models()
    if models <= {"k", "l-distinct"} and (req.l is None or req.l <= 2):
        # the common case (k, distinct 2-diversity) needs no counting: two values differ iff min < max
        bad = (sizes < req.min_class_size) | (sizes == 0)
        if req.l is not None and len(rows):
            present = np.flatnonzero(sizes)
            starts = np.r_[0, np.cumsum(sizes[present])[:-1]]
            for attr in sensitive:
                values = attr.codes[rows]
                varied = np.maximum.reduceat(values, starts) > np.minimum.reduceat(values, starts)
                bad[present] |= ~varied if req.l == 2 else np.zeros(len(present), dtype=bool)
        return np.asarray(~(bad[0::2] | bad[1::2]), dtype=bool)
    ones = np.ones(len(rows), dtype=np.int64)
    pairs = tuple(aggregate_pairs(side_cls, s.codes[rows], ones, s.size, ordered=ordered) for s in sensitive)
    bad = class_violations(req.models(), np.maximum(sizes, 1), pairs, sensitive, req) | (sizes == 0)
    return np.asarray(~(bad[0::2] | bad[1::2]), dtype=bool)


def mondrian(
    columns: Sequence[MondrianColumn],
    req: Requirements,
    sensitive: Sequence[SensitiveCodes] = (),
    *,
    strict: bool = True,
) -> MondrianResult:
    """Partition the records so every partition satisfies ``req``; ``None`` cuts when the table itself fails.

    The caller checks that the whole table satisfies the models first (one partition is the
    coarsest answer Mondrian can give).
    """
    started = time.perf_counter()
    n, m = len(columns[0].codes), len(columns)
    top = max(c.n_codes for c in columns) + 1
    small = np.int16 if top < 2**15 else np.int32
    x = np.stack([c.codes for c in columns], axis=1).astype(small)
    flat = x.ravel()  # x[r, d] as flat[r * m + d]: a 1-D take is faster than 2-D fancy indexing
    xcols = [np.ascontiguousarray(x[:, j]) for j in range(m)]  # per-column gathers are contiguous
    spread = np.maximum(x.max(axis=0).astype(np.int64) - x.min(axis=0), 1).astype(np.float64)
    kmin = req.min_class_size
    ordered = needs_order(req, sensitive)
    # rows of the open partitions, grouped by partition (lp: the partition's local id, ascending)
    rows = np.arange(n, dtype=np.int64)
    lp = np.zeros(n, dtype=np.int64)
    part = np.full(n, -1, dtype=np.int64)
    n_final, rounds, tried = 0, 0, 0
    while len(rows):
        rounds += 1
        starts = np.r_[0, np.flatnonzero(np.diff(lp)) + 1]
        sizes = np.diff(np.r_[starts, len(rows)])
        small = sizes < 2 * kmin  # no cut can leave k records on both sides: final now
        if small.any():
            sel = small[lp]
            part[rows[sel]] = n_final + (np.cumsum(small) - 1)[lp[sel]]
            n_final += int(small.sum())
            keep = ~sel
            rows = rows[keep]
            lp = (np.cumsum(~small) - 1)[lp[keep]]
            if not len(rows):
                break
            starts = np.r_[0, np.flatnonzero(np.diff(lp)) + 1]
        n_open = len(starts)
        width = np.empty((n_open, m))
        for j, col in enumerate(xcols):
            values = col[rows]
            width[:, j] = (
                np.maximum.reduceat(values, starts) - np.minimum.reduceat(values, starts).astype(np.int64)
            ) / spread[j]
        dims = np.argsort(-width, axis=1, kind="stable")
        done = np.zeros(n_open, dtype=bool)
        next_rows: list[np.ndarray] = []
        next_lp: list[np.ndarray] = []
        n_next = 0
        for attempt in range(m):
            dim = dims[:, attempt]
            trying = ~done & (width[np.arange(n_open), dim] > 0)
            if not trying.any():
                break
            tried += int(trying.sum())
            sel = trying[lp]
            r, p = rows[sel], lp[sel]
            vals = flat[r * m + dim[p]].astype(np.int64)
            key = p * top + vals
            o = np.argsort(key)  # equal keys are equal values: their order does not matter
            r, p, vals, key = r[o], p[o], vals[o], key[o]
            ids = np.flatnonzero(trying)
            first = np.searchsorted(p, ids, side="left")
            size = np.searchsorted(p, ids, side="right") - first
            pos = np.arange(len(r)) - np.repeat(first, size)
            if strict:
                median = vals[first + (size - 1) // 2]
                n_le = np.searchsorted(key, ids * top + median, side="right") - first
                n_lt = np.searchsorted(key, ids * top + median, side="left") - first
                ok_le = (n_le >= kmin) & (size - n_le >= kmin)
                ok_lt = (n_lt >= kmin) & (size - n_lt >= kmin)
                le_better = np.abs(n_le - size / 2) <= np.abs(n_lt - size / 2)
                cut = np.where(ok_le & (le_better | ~ok_lt), n_le, np.where(ok_lt, n_lt, 0))
                alt = np.where(ok_le & ok_lt, np.where(cut == n_le, n_lt, n_le), 0)
            else:
                cut = np.where(size // 2 >= kmin, size // 2, 0)
                alt = np.zeros_like(cut)
            which = np.repeat(np.arange(len(ids)), size)
            valid = np.zeros(len(ids), dtype=bool)
            chosen = cut.copy()
            for option in (cut, alt):
                pending = ~valid & (option > 0) & (option < size)
                if not pending.any():
                    continue
                side = (pos >= option[which]).astype(np.int64)
                good = _halves_ok(which * 2 + side, r, len(ids), sensitive, req, ordered=ordered)
                take = pending & good
                chosen = np.where(take, option, chosen)
                valid |= take
            if not valid.any():
                continue
            # each split partition gets two new local ids: rows before the cut left, the rest right;
            # rows stay sorted by (partition, value), so the new ids come out grouped and ascending
            rank = np.cumsum(valid) - 1
            moving = valid[which]
            new_id = n_next + 2 * rank[which] + (pos >= chosen[which])
            next_rows.append(r[moving])
            next_lp.append(new_id[moving])
            n_next += 2 * int(valid.sum())
            done[ids[valid]] = True
        final = ~done
        if final.any():
            sel = final[lp]
            part[rows[sel]] = n_final + (np.cumsum(final) - 1)[lp[sel]]
            n_final += int(final.sum())
        rows = np.concatenate(next_rows) if next_rows else np.zeros(0, dtype=np.int64)
        lp = np.concatenate(next_lp) if next_lp else np.zeros(0, dtype=np.int64)
    # each final partition's range per column
    order = np.argsort(part, kind="stable")
    starts = np.r_[0, np.flatnonzero(np.diff(part[order])) + 1]
    block = x[order].astype(np.int64)
    lows, highs = np.minimum.reduceat(block, starts, axis=0), np.maximum.reduceat(block, starts, axis=0)
    released, loss = _release(columns, part, lows, highs, req)
    stats = MondrianStats(len(starts), rounds, tried, time.perf_counter() - started, strict)
    return MondrianResult(part, lows, highs, released, loss, stats)


def _release(
    columns: Sequence[MondrianColumn], part: np.ndarray, lows: np.ndarray, highs: np.ndarray, req: Requirements
) -> tuple[dict[str, pd.Categorical], LossReport]:
    """Released labels per column and the information loss of the partition."""
    n, n_parts = len(part), len(lows)
    sizes = np.bincount(part, minlength=n_parts).astype(np.float64)
    released: dict[str, pd.Categorical] = {}
    ncp_total = 0.0
    bits = 0.0
    bits_max = 0.0
    for j, col in enumerate(columns):
        text = col.text()
        counts = np.bincount(col.codes, minlength=col.n_codes).astype(np.float64)
        with np.errstate(divide="ignore"):
            leaf_bits = np.where(counts > 0, np.log2(np.maximum(counts, 1)), 0.0)
        own = float(leaf_bits[col.codes].sum())
        bits_max += n * np.log2(max(n, 1)) - own
        if col.ordered:
            labels, penalty, group_count = _ranges(col, text, counts, lows[:, j], highs[:, j])
        else:
            labels, penalty, group_count = _sets(col, text, counts, part, n_parts)
        ncp_total += float(sizes @ penalty)
        bits += float(sizes @ np.log2(np.maximum(group_count, 1))) - own
        per_part, uniques = pd.factorize(labels)  # labels per partition, then per record
        released[col.name] = pd.Categorical.from_codes(per_part[part], categories=pd.Index(uniques, dtype=object))
    m = max(len(columns), 1)
    loss = LossReport(
        ncp=ncp_total / (max(n, 1) * m),
        entropy=float(bits / bits_max) if bits_max > 0 else 0.0,
        discernibility=float(sizes @ sizes),
        avg_class_size=(n / n_parts / max(req.min_class_size, 1)) if n_parts else 0.0,
        classes=n_parts,
        records=n,
        suppressed=0,
    )
    return released, loss


def _ranges(
    col: MondrianColumn, text: np.ndarray, counts: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``[low, high]`` labels (``v`` when equal), range penalties and records in each range."""
    miss = col.missing_code
    has_missing = (hi == miss) if miss is not None else np.zeros(len(hi), dtype=bool)
    top = np.where(has_missing, hi - 1, hi)
    only_missing = has_missing & (lo == miss)
    pairs, inverse = np.unique(lo * (col.n_codes + 1) + top, return_inverse=True)
    plo, phi = pairs // (col.n_codes + 1), pairs % (col.n_codes + 1)
    spell = _range_label if col.values.dtype.kind in "fiuM" else _ordinal_label
    unique_labels = np.asarray(
        [spell(text[a], text[b]) for a, b in zip(plo.tolist(), phi.tolist(), strict=True)], dtype=object
    )

    labels = unique_labels[inverse.ravel()]
    labels = np.where(has_missing, labels + " or NA", labels)
    labels = np.where(only_missing, "NA", labels)
    numeric = col.numeric()
    n_present = len(col.values)
    if numeric is not None and n_present > 1 and numeric[-1] > numeric[0]:
        safe_lo, safe_hi = np.minimum(lo, n_present - 1), np.minimum(top, n_present - 1)
        penalty = (numeric[safe_hi] - numeric[safe_lo]) / (numeric[-1] - numeric[0])
    else:
        penalty = (np.minimum(top, n_present - 1) - np.minimum(lo, n_present - 1)) / max(n_present - 1, 1)
    penalty = np.where(only_missing, 0.0, np.maximum(penalty, 0.0))
    cum = np.r_[0.0, np.cumsum(counts)]
    group_count = (
        cum[np.minimum(top, col.n_codes - 1) + 1] - cum[lo] + np.where(has_missing & ~only_missing, counts[-1], 0)
    )
    group_count = np.where(only_missing, counts[-1] if miss is not None else 0, group_count)
    return labels, np.asarray(penalty, dtype=np.float64), np.asarray(group_count, dtype=np.float64)


def _range_label(low: str, high: str) -> str:
    return low if low == high else f"[{low}, {high}]"


def _ordinal_label(low: str, high: str) -> str:
    return merge_labels([low] if low == high else [low, high])


def _sets(
    col: MondrianColumn, text: np.ndarray, counts: np.ndarray, part: np.ndarray, n_parts: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``{a, b}`` labels of the values present in each partition (``*`` for all of them)."""
    width = col.n_codes
    key = part * width + col.codes
    if n_parts * width <= 4 * len(key) + 65536:  # small key space: count instead of sorting
        present = np.flatnonzero(np.bincount(key, minlength=n_parts * width))
    else:
        present = np.unique(key)
    p, code = present // width, present % width
    distinct = np.bincount(p, minlength=n_parts)
    group_count = np.bincount(p, weights=counts[code], minlength=n_parts)
    values_present = int((counts > 0).sum())
    # one label per distinct *set* (far fewer than partitions): sets are told apart by a sum of
    # random 64-bit tags of their members, then one member partition per set spells the label
    tags = np.random.default_rng(0).integers(1, 2**63 - 1, size=width, dtype=np.int64).view(np.uint64)
    starts = np.r_[0, np.cumsum(distinct)[:-1]]
    signature = np.add.reduceat(tags[code], starts) if len(code) else np.zeros(0, dtype=np.uint64)
    _, first, inverse = np.unique(signature, return_index=True, return_inverse=True)
    names = text[code]
    spelled = []
    for rep in first.tolist():
        members = names[starts[rep] : starts[rep] + distinct[rep]]
        if len(members) >= values_present:
            spelled.append("*")
        elif len(members) == 1:
            spelled.append(str(members[0]))
        else:
            spelled.append("{" + ", ".join(map(str, members)) + "}")
    labels = np.asarray(spelled, dtype=object)[inverse.ravel()]
    penalty = (distinct - 1) / max(values_present - 1, 1)
    return labels, np.asarray(penalty, dtype=np.float64), np.asarray(group_count, dtype=np.float64)
