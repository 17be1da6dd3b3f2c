"""Conjunctive predicates over exact codes, generated and counted in batches (the singling-out engine).

A singling-out query ("age ≥ 81 ∧ weight ≤ 41.2 ∧ race = 1") is a conjunction of one condition per
chosen column. On the integer codes of :func:`~medsyn.evaluate.privacy._common.exact_codes` (numbers
by rank, categories by code, missing = −1) every condition anonymeter's attacker writes is an
interval test ``low ≤ code ≤ high``, or its negation restricted to present values (``≠``). A batch
of queries is therefore four small arrays (:class:`Predicates`), and :func:`count_matches`
evaluates a whole batch against a block of records as boolean column masks — never a Python loop
over records × queries.

Counting stops early when only "exactly one" matters: records are visited in a random order in
geometrically growing blocks, and a query leaves the batch as soon as it has matched twice. Most
generated queries match many records and are dropped after the first few hundred, so generating
500 singling-out queries costs a fraction of evaluating every candidate on every record.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["OPEN", "Predicates", "count_matches"]

#: Upper bound of an open interval ("≥ v" is ``[v, OPEN]``).
OPEN = np.iinfo(np.int32).max
#: Cells (queries × records) evaluated at once: 2 MB of int32 values, 0.5 MB of booleans.
_MAX_CELLS = 1 << 19
_FIRST_BLOCK = 256
_LAST_BLOCK = 1 << 16


@dataclass(frozen=True, slots=True)
class Predicates:
    """A batch of conjunctive queries: query ``q`` holds for a record when every slot ``j`` does.

    Slot ``j`` of query ``q`` tests column ``columns[q, j]``: ``low ≤ code ≤ high``, or, where
    ``negate``, the opposite on a present value (``code ≥ 0``), like SQL's ``≠`` ignoring nulls.
    """

    columns: np.ndarray
    low: np.ndarray
    high: np.ndarray
    negate: np.ndarray

    def __len__(self) -> int:
        return int(self.columns.shape[0])

    def take(self, rows: np.ndarray) -> Predicates:
        return Predicates(self.columns[rows], self.low[rows], self.high[rows], self.negate[rows])

    @staticmethod
    def concat(parts: list[Predicates], width: int) -> Predicates:
        if not parts:
            empty = np.zeros((0, width), dtype=np.int32)
            return Predicates(empty, empty, empty, np.zeros((0, width), dtype=bool))
        return Predicates(
            np.concatenate([p.columns for p in parts]),
            np.concatenate([p.low for p in parts]),
            np.concatenate([p.high for p in parts]),
            np.concatenate([p.negate for p in parts]),
        )

    def matches(self, block: np.ndarray) -> np.ndarray:
        """(queries × records) boolean mask of the records of ``block`` (columns × records) each query holds for."""
        out: np.ndarray | None = None
        for j in range(self.columns.shape[1]):
            g = block[self.columns[:, j]]
            ok = (g >= self.low[:, j, None]) & (g <= self.high[:, j, None])
            neg = self.negate[:, j]
            if neg.any():
                ok[neg] = ~ok[neg] & (g[neg] >= 0)
            out = ok if out is None else out & ok
        assert out is not None
        return out


def count_matches(
    predicates: Predicates,
    table: np.ndarray,
    *,
    stop_at: int | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """How many records of ``table`` (columns × records) each query holds for.

    With ``stop_at``, a query stops being counted once it reaches that many matches (its count is
    then ``stop_at``, a lower bound), and records are visited in a random order (``rng``) so that
    frequent queries are dropped early.
    """
    n_queries, n = len(predicates), table.shape[1]
    counts = np.zeros(n_queries, dtype=np.int64)
    if n_queries == 0 or n == 0:
        return counts
    order = rng.permutation(n) if stop_at is not None and rng is not None else None
    active = np.arange(n_queries)
    start = 0
    size = _FIRST_BLOCK if stop_at is not None else _LAST_BLOCK
    while start < n and len(active):
        stop = min(start + size, n)
        block = table[:, order[start:stop]] if order is not None else table[:, start:stop]
        step = max(1, _MAX_CELLS // (stop - start))
        for at in range(0, len(active), step):
            chunk = active[at : at + step]
            counts[chunk] += predicates.take(chunk).matches(block).sum(axis=1)
        if stop_at is not None:
            np.minimum(counts, stop_at, out=counts)
            active = active[counts[active] < stop_at]
        start = stop
        size = min(size * 4, _LAST_BLOCK)
    return counts
