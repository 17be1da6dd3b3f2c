"""Duplicate records: exact copies and near-copies of earlier rows, found by hashing rows.

Rows are compared through a 64-bit hash per row built column by column (no copy of the table),
so a million rows cost a few hashing passes. Identifier columns are left out of the comparison,
because a record entered twice usually gets a new record number.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from medsyn.data.dataset import Dataset, Modality
from medsyn.data.schema import Field, FieldType, Schema
from medsyn.metric import METRICS, Detail, Direction, ItemResult, Metric, MetricKind, MetricResult, Status, Threshold
from medsyn.quality.tabular._common import factorized, float_values, is_identifier, is_text, memo, table, worst

__all__ = ["DuplicateRows", "NearDuplicateRows", "column_keys", "row_hashes"]

_PRIME = np.uint64(0x9E3779B97F4A7C15)
_MAX_ITEMS = 20


def _mix(v: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: spreads the bits of each uint64 (in place; overflow wraps)."""
    v ^= v >> np.uint64(30)
    v *= np.uint64(0xBF58476D1CE4E5B9)
    v ^= v >> np.uint64(27)
    v *= np.uint64(0x94D049BB133111EB)
    v ^= v >> np.uint64(31)
    return v


def _combine(acc: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Fold one column's uint64 keys into the running row hash: xor, multiply, xor-shift (in place)."""
    acc ^= h
    acc *= _PRIME
    acc ^= acc >> np.uint64(29)
    return acc


def column_keys(frame: pd.DataFrame, column: str) -> np.ndarray:
    """One uint64 per row such that equal values (NaN with NaN) get equal keys.

    Numbers use their bit pattern (after making -0.0 and every NaN alike); anything else uses
    its shared category codes (:func:`factorized`), one hash-table pass per column per audit.
    """
    s = frame[column]
    if pd.api.types.is_integer_dtype(s.dtype) and isinstance(s.dtype, np.dtype):
        return s.to_numpy().astype(np.int64, copy=True).view(np.uint64)
    if pd.api.types.is_float_dtype(s.dtype) and isinstance(s.dtype, np.dtype):
        x = s.to_numpy().astype(np.float64, copy=True)
        x[x == 0] = 0.0
        x[np.isnan(x)] = np.nan
        return x.view(np.uint64)
    return factorized(frame, column).codes.astype(np.int64).view(np.uint64)


def _small_codes(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, int] | None:
    """A text column's codes shifted to ``0..k`` (0 = missing) and ``k + 1``; ``None`` for other columns."""
    if not is_text(frame[column]):
        return None
    shared = factorized(frame, column)
    return shared.codes, len(shared.uniques) + 1


class _Packer:
    """Hash many low-cardinality code columns at once: pack them mixed-radix into few uint64 words.

    Packing is exact (no collision) while the product of the radices stays below 2⁶³, so twenty
    categorical columns cost a handful of hashing passes instead of twenty. Columns are added
    one at a time and folded into the row hash as each word fills, so only one word is held.
    """

    def __init__(self, acc: np.ndarray) -> None:
        self.acc = acc
        self.word: np.ndarray | None = None
        self.capacity = 1

    def add(self, codes: np.ndarray, radix: int) -> None:
        """Add a column of codes in ``-1..radix-2`` (-1 = missing)."""
        if self.word is not None and self.capacity * radix >= 1 << 63:
            self._flush()
        if self.word is None:
            self.word = codes.astype(np.int64) + 1
        else:
            self.word *= radix
            self.word += codes
            self.word += 1
        self.capacity *= radix

    def _flush(self) -> None:
        if self.word is not None:
            self.acc = _combine(self.acc, self.word.view(np.uint64))
        self.word, self.capacity = None, 1

    def finish(self) -> np.ndarray:
        self._flush()
        return self.acc


def row_hashes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One uint64 per row; rows equal over ``columns`` get equal hashes (collisions ~ n²/2⁶⁴)."""
    packer = _Packer(np.full(len(frame), np.uint64(0xCBF29CE484222325), dtype=np.uint64))
    with np.errstate(over="ignore"):
        for col in columns:
            small = _small_codes(frame, col)
            if small is not None:
                packer.add(*small)
            else:
                packer.acc = _combine(packer.acc, column_keys(frame, col))
        return _mix(packer.finish())


def _normalised_hash(frame: pd.DataFrame, f: Field, resolution: float) -> np.ndarray | tuple[np.ndarray, int]:
    """Key of a column after rounding real numbers to ``resolution`` SDs and normalising text.

    Whole-number columns (codes, counts, ages in years) are compared exactly: rounding them
    would merge neighbouring codes. Text gives ``(codes, radix)`` with missing as -1, for
    mixed-radix packing (:class:`_Packer`).
    """
    s = frame[f.name]
    if f.type is FieldType.NUMERIC and pd.api.types.is_float_dtype(s):
        x = float_values(s)
        sd = float(np.nanstd(x)) if np.isfinite(x).any() else 0.0
        step = resolution * sd if sd > 0 else 1.0
        binned = np.round(x / step)
        binned[~np.isfinite(binned)] = np.inf  # one bin for every missing value
        binned[binned == 0] = 0.0
        return binned.view(np.uint64)
    if not is_text(s):
        return column_keys(frame, f.name)
    shared = factorized(frame, f.name)
    codes, uniques = shared.codes, shared.uniques
    norm = pd.Index(uniques).astype(str).str.strip().str.lower().str.replace(r"\s+", " ", regex=True)
    uniq, norm_codes = np.unique(np.asarray(norm, dtype=object).astype(str), return_inverse=True)
    lookup = np.append(norm_codes.astype(np.int64), -1)  # code -1 (missing) maps to -1
    return lookup[codes], len(uniq) + 1


def _exact(frame: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Row hashes over ``columns`` and the mask of rows repeating an earlier one (shared per audit)."""

    def compute() -> tuple[np.ndarray, np.ndarray]:
        hashes = row_hashes(frame, columns)
        return hashes, pd.Series(hashes).duplicated(keep="first").to_numpy()

    return memo(frame, "exact_row_hash", columns, compute)


def _compared_columns(frame: pd.DataFrame, schema: Schema) -> tuple[list[str], list[str]]:
    ids = [f.name for f in schema if is_identifier(f)]
    return [str(c) for c in frame.columns if str(c) not in ids], ids


def _groups(hashes: np.ndarray, among: np.ndarray | None = None) -> tuple[list[np.ndarray], int]:
    """Positions of the largest groups of equal hashes, and how many such groups there are.

    With ``among`` (a row mask), only groups holding at least one of those rows count.
    """
    counts = pd.Series(hashes).value_counts(sort=True)
    repeated = counts[counts > 1]
    if among is not None:
        repeated = repeated[repeated.index.isin(pd.unique(hashes[among]))]
    top = repeated.index.to_numpy(dtype=np.uint64)[:_MAX_ITEMS]
    if len(top) == 0:
        return [], 0
    members = np.flatnonzero(np.isin(hashes, top))
    groups = [members[hashes[members] == h] for h in top]
    groups.sort(key=lambda g: (-len(g), int(g[0])))
    return groups, len(repeated)


def _items(groups: list[np.ndarray], what: str) -> list[ItemResult]:
    out = []
    for g in groups:
        shown = ", ".join(str(int(i)) for i in g[:10]) + (" …" if len(g) > 10 else "")
        out.append(
            ItemResult(
                "record",
                str(int(g[0])),
                float(len(g) - 1),
                Status.WARN,
                f"row {int(g[0])} appears {len(g)} times ({what}); rows {shown}",
                {"copies": len(g) - 1, "rows": shown},
            )
        )
    return out


class _RowComparison(Metric):
    """What the two duplicate checks share: compare rows over every non-identifier column."""

    modality = Modality.TABULAR
    kind = MetricKind.QUALITY
    direction = Direction.MINIMIZE
    ideal = 0.0
    default_threshold = Threshold(warn=0.005, fail=0.05)

    def applies_to(self, data: Dataset) -> str | None:
        if len(data) < 2:
            return "fewer than two rows: nothing to compare"
        frame, schema = table(data)
        if not _compared_columns(frame, schema)[0]:
            return "every column is an identifier; there is nothing else to compare"
        return None


@METRICS.register("duplicate_rows")
class DuplicateRows(_RowComparison):
    """Share of rows that exactly repeat an earlier row, ignoring identifier columns.
    A record exported twice, or a block of rows pasted again, counts the same patient more than
    once: it inflates the sample, biases prevalence and leaks between training and test sets.
    Record numbers are left out of the comparison because a duplicated record often gets a new one.
    """

    name = "duplicate_rows"
    title = "Duplicate records"

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        frame, schema = table(real)
        columns, ids = _compared_columns(frame, schema)
        hashes, dup = _exact(frame, columns)
        n_dup = int(dup.sum())
        share = n_dup / len(frame)
        status = self.judge(share)
        groups, n_groups = _groups(hashes)
        ignored = f" (ignoring identifier columns {ids})" if ids else ""
        if n_dup:
            reason = (
                f"{n_dup} of {len(frame)} rows ({share:.1%}) repeat an earlier row exactly{ignored}; the same "
                "patient or visit may be counted more than once"
            )
        else:
            reason = f"no row repeats another{ignored}"
        details: dict[str, Detail] = {
            "duplicate_rows": n_dup,
            "duplicate_groups": n_groups,
            "columns_compared": len(columns),
            "ignored_identifiers": ", ".join(ids),
        }
        return self.result(share, reason, status=status, items=_items(groups, "exact copy"), details=details)


@METRICS.register("near_duplicate_rows")
class NearDuplicateRows(_RowComparison):
    """Share of rows that repeat an earlier row once numbers are rounded and text is normalised.
    Copies that differ only by rounding, unit display, letter case or spaces escape an exact
    comparison but still count one patient twice. Numbers are compared on a grid of
    ``resolution`` standard deviations (whole numbers exactly) and text after trimming and
    lower-casing; rows that are
    also exact duplicates are not counted again here.

    Parameters
    ----------
    resolution
        Grid step for real numbers, in standard deviations of each column.
    threshold
        Verdict on the share of near-duplicate rows.
    """

    name = "near_duplicate_rows"
    title = "Near-duplicate records"

    def __init__(self, *, resolution: float = 0.01, threshold: Threshold | None = None) -> None:
        super().__init__(threshold=threshold)
        self.resolution = resolution

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        frame, schema = table(real)
        columns, ids = _compared_columns(frame, schema)
        _, exact = _exact(frame, columns)
        packer = _Packer(np.full(len(frame), np.uint64(0xCBF29CE484222325), dtype=np.uint64))
        with np.errstate(over="ignore"):
            for col in columns:
                key = _normalised_hash(frame, schema[col], self.resolution)
                if isinstance(key, tuple):
                    packer.add(*key)
                else:
                    packer.acc = _combine(packer.acc, key)
            near_h = _mix(packer.finish())
        near = pd.Series(near_h).duplicated(keep="first").to_numpy() & ~exact
        n_near = int(near.sum())
        share = n_near / len(frame)
        groups, _ = _groups(near_h, near) if n_near else ([], 0)
        if n_near:
            reason = (
                f"{n_near} of {len(frame)} rows ({share:.1%}) are near-copies of an earlier row (equal after "
                f"rounding numbers to {self.resolution:g} SD and ignoring case/spaces) but not exact copies"
            )
        else:
            reason = "no row is a near-copy of another"
        status = worst([self.judge(share)])
        details: dict[str, Detail] = {
            "near_duplicate_rows": n_near,
            "exact_duplicate_rows": int(exact.sum()),
            "resolution_sd": self.resolution,
            "ignored_identifiers": ", ".join(ids),
        }
        return self.result(share, reason, status=status, items=_items(groups, "near copy"), details=details)
