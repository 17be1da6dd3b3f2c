"""SDMetrics' distance to closest record, exactly: the mean per-column Gower distance, in blocks.

SDMetrics (``DCRBaselineProtection``, ``DCROverfittingProtection``) measures the distance between
two records as the mean over the compared columns of a per-column distance: for a number,
``min(1, |a − b| / range)`` with the range of the *reference* table (0/1 when that range is 0); for
a category, 0 when equal and 1 otherwise; two missing values are at 0, a missing and a present
value at 1. That distance is not Euclidean and has no exact vector embedding (the ``min(1, ·)``),
so it is computed here directly on the exact codes, a block of query records against every
reference record at a time: O(n·m·columns) time, O(block·m) memory. It exists so that ``dcr``
can report SDMetrics' numbers exactly when asked (``DistanceToClosestRecord(sdmetrics_exact=True)``);
the metric itself uses the shared Euclidean encoding, which scales to millions of records.
"""

from __future__ import annotations

import numpy as np

from medsyn.evaluate._inputs import EvalInputs, Side
from medsyn.evaluate.privacy._common import exact_codes

__all__ = ["gower_dcr"]

_BLOCK_CELLS = 1 << 21


def gower_dcr(inputs: EvalInputs, query: Side, positions: np.ndarray, reference: Side) -> np.ndarray:
    """SDMetrics' DCR of the ``positions`` records of ``query`` to the whole ``reference`` table."""
    codes = exact_codes(inputs)
    q_codes = codes.side(query)[:, positions]
    r_codes = codes.side(reference)
    n_columns = q_codes.shape[0]
    columns = []
    for c in range(n_columns):
        if codes.numeric[c]:
            values = codes.values[c]
            q = np.where(q_codes[c] >= 0, values[np.maximum(q_codes[c], 0)], np.nan)
            r = np.where(r_codes[c] >= 0, values[np.maximum(r_codes[c], 0)], np.nan)
            present = r[~np.isnan(r)]
            span = float(present.max() - present.min()) if len(present) else 0.0
            columns.append((True, q, r, span))
        else:
            columns.append((False, q_codes[c], r_codes[c], 0.0))
    out = np.empty(len(positions), dtype=np.float64)
    step = max(1, _BLOCK_CELLS // max(r_codes.shape[1], 1))
    for start in range(0, len(positions), step):
        stop = min(start + step, len(positions))
        total = np.zeros((stop - start, r_codes.shape[1]), dtype=np.float64)
        for numeric, q, r, span in columns:
            a, b = q[start:stop, None], r[None, :]
            if not numeric:
                total += a != b
                continue
            diff = np.abs(a - b)
            d = np.minimum(diff / span, 1.0) if span > 0 else (diff > 0).astype(np.float64)
            a_nan, b_nan = np.isnan(a), np.isnan(b)
            d = np.where(a_nan & b_nan, 0.0, np.where(a_nan | b_nan, 1.0, d))
            total += d
        out[start:stop] = total.min(axis=1) / n_columns
    return out
