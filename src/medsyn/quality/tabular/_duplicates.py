"""Duplicate records: exact copies and near-copies of earlier rows, found by hashing rows.

Rows are compared through a 64-bit hash per row built column by column (no copy of the table),
so a million rows cost a few hashing passes. Identifier columns are left out of the comparison,
because a record entered twice usually gets a new record number.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from medsyn.data.dataset import Dataset, Modality
from medsyn.data.schema import Schema
from medsyn.metric import METRICS, Direction, ItemResult, Metric, MetricKind, MetricResult, Status, Threshold
from medsyn.quality.tabular._common import float_values, is_identifier, table, worst

__all__ = ["DuplicateRows", "NearDuplicateRows", "row_hashes"]

_MIX = np.uint64(0x9E3779B97F4A7C15)
_MAX_ITEMS = 20


def _combine(acc: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Fold one column's hashes into the running row hash (order-dependent, overflow wraps)."""
    with np.errstate(over="ignore"):
        acc ^= h + _MIX + (acc << np.uint64(6)) + (acc >> np.uint64(2))
    return acc


def row_hashes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One uint64 per row; equal rows (over ``columns``) get equal hashes, NaN equal to NaN."""
    acc = np.zeros(len(frame), dtype=np.uint64)
    for col in columns:
        acc = _combine(acc, pd.util.hash_pandas_object(frame[col], index=False).to_numpy())
    return acc


def _normalised_hash(s: pd.Series, resolution: float) -> np.ndarray:
    """Hash of a column after rounding numbers to ``resolution`` SDs and normalising text."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        x = float_values(s)
        sd = float(np.nanstd(x)) if np.isfinite(x).any() else 0.0
        step = resolution * sd if sd > 0 else 1.0
        binned = np.round(x / step)
        binned[~np.isfinite(binned)] = np.inf  # one bin for every missing value
        return pd.util.hash_array(binned)
    codes, uniques = pd.factorize(s)
    norm = pd.Index(uniques).astype(str).str.strip().str.lower().str.replace(r"\s+", " ", regex=True)
    hashed = pd.util.hash_array(np.asarray(norm, dtype=object))
    out = np.full(len(s), np.uint64(0x51ED), dtype=np.uint64)
    known = codes >= 0
    out[known] = hashed[codes[known]]
    return out


def _compared_columns(frame: pd.DataFrame, schema: Schema) -> tuple[list[str], list[str]]:
    ids = [f.name for f in schema if is_identifier(f)]
    return [str(c) for c in frame.columns if str(c) not in ids], ids


def _groups(hashes: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
    """Positions of the largest duplicate groups among rows where ``mask`` marks a repeat."""
    repeated = np.unique(hashes[mask])
    if len(repeated) == 0:
        return []
    members = np.flatnonzero(np.isin(hashes, repeated))
    order = np.argsort(hashes[members], kind="stable")
    members = members[order]
    split = np.flatnonzero(np.diff(hashes[members])) + 1
    groups = np.split(members, split)
    groups.sort(key=lambda g: (-len(g), int(g[0])))
    return groups[:_MAX_ITEMS]


def _items(groups: list[np.ndarray], what: str) -> list[ItemResult]:
    out = []
    for g in groups:
        shown = ", ".join(str(int(i)) for i in g[:10]) + (" …" if len(g) > 10 else "")
        out.append(
            ItemResult(
                "record", str(int(g[0])), float(len(g) - 1), Status.WARN,
                f"row {int(g[0])} appears {len(g)} times ({what}); rows {shown}",
                {"copies": len(g) - 1, "rows": shown},
            )
        )
    return out


@METRICS.register("duplicate_rows")
class DuplicateRows(Metric):
    """Share of rows that exactly repeat an earlier row, ignoring identifier columns.

    A record exported twice, or a block of rows pasted again, counts the same patient more than
    once: it inflates the sample, biases prevalence and leaks between training and test sets.
    Record numbers are left out of the comparison because a duplicated record often gets a new one.
    """

    name = "duplicate_rows"
    title = "Duplicate records"
    modality = Modality.TABULAR
    kind = MetricKind.QUALITY
    direction = Direction.MINIMIZE
    ideal = 0.0
    default_threshold = Threshold(warn=0.005, fail=0.05)

    def applies_to(self, data: Dataset) -> str | None:
        if len(data) < 2:
            return "fewer than two rows: nothing to compare"
        return None

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        frame, schema = table(real)
        columns, ids = _compared_columns(frame, schema)
        if not columns:
            return self.skipped("every column is an identifier; there is nothing else to compare")
        hashes = row_hashes(frame, columns)
        dup = pd.Series(hashes).duplicated(keep="first").to_numpy()
        n_dup = int(dup.sum())
        share = n_dup / len(frame)
        status = self.judge(share)
        groups = _groups(hashes, dup)
        ignored = f" (ignoring identifier columns {ids})" if ids else ""
        if n_dup:
            reason = (
                f"{n_dup} of {len(frame)} rows ({share:.1%}) repeat an earlier row exactly{ignored}; the same "
                "patient or visit may be counted more than once"
            )
        else:
            reason = f"no row repeats another{ignored}"
        details = {"duplicate_rows": n_dup, "duplicate_groups": int(len(np.unique(hashes[dup]))),
                   "columns_compared": len(columns), "ignored_identifiers": ", ".join(ids)}
        return self.result(share, reason, status=status, items=_items(groups, "exact copy"), details=details)


@METRICS.register("near_duplicate_rows")
class NearDuplicateRows(Metric):
    """Share of rows that repeat an earlier row once numbers are rounded and text is normalised.

    Copies that differ only by rounding, unit display, letter case or spaces escape an exact
    comparison but still count one patient twice. Numbers are compared on a grid of
    ``resolution`` standard deviations and text after trimming and lower-casing; rows that are
    also exact duplicates are not counted again here.
    """

    name = "near_duplicate_rows"
    title = "Near-duplicate records"
    modality = Modality.TABULAR
    kind = MetricKind.QUALITY
    direction = Direction.MINIMIZE
    ideal = 0.0
    default_threshold = Threshold(warn=0.005, fail=0.05)

    def __init__(self, *, resolution: float = 0.01, threshold: Threshold | None = None) -> None:
        super().__init__(threshold=threshold)
        self.resolution = resolution

    def applies_to(self, data: Dataset) -> str | None:
        if len(data) < 2:
            return "fewer than two rows: nothing to compare"
        return None

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        frame, schema = table(real)
        columns, ids = _compared_columns(frame, schema)
        if not columns:
            return self.skipped("every column is an identifier; there is nothing else to compare")
        exact = pd.Series(row_hashes(frame, columns)).duplicated(keep="first").to_numpy()
        near_h = np.zeros(len(frame), dtype=np.uint64)
        for col in columns:
            near_h = _combine(near_h, _normalised_hash(frame[col], self.resolution))
        near = pd.Series(near_h).duplicated(keep="first").to_numpy() & ~exact
        n_near = int(near.sum())
        share = n_near / len(frame)
        groups = _groups(near_h, near)
        if n_near:
            reason = (
                f"{n_near} of {len(frame)} rows ({share:.1%}) are near-copies of an earlier row (equal after "
                f"rounding numbers to {self.resolution:g} SD and ignoring case/spaces) but not exact copies"
            )
        else:
            reason = "no row is a near-copy of another"
        status = worst([self.judge(share)])
        details = {"near_duplicate_rows": n_near, "exact_duplicate_rows": int(exact.sum()),
                   "resolution_sd": self.resolution, "ignored_identifiers": ", ".join(ids)}
        return self.result(share, reason, status=status, items=_items(groups, "near copy"), details=details)
