"""Helpers shared by the table checks: column selection, group codes, sampling, verdicts.

Everything here works column by column on the caller's frame without copying it, so the checks
stay within a small multiple of the table's memory on a million rows.

Text columns are the expensive part of a table: every check that compares, counts or parses
their values needs them hashed once. :func:`factorized` does that once per column and keeps the
integer codes beside the frame (weakly, so they go with it) for the other checks of the same
audit. A fingerprint of each column (length, dtype, storage and a spread of sampled values) is
checked on every use, so a column replaced or edited in bulk is factorised again; a dataset is
immutable in spirit, and single cells edited in place after an audit are not supported.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import numpy as np
import pandas as pd

from medsyn.data.dataset import Dataset, TabularDataset
from medsyn.data.schema import Field, FieldType, Role, Schema
from medsyn.metric import Status

T = TypeVar("T")

__all__ = [
    "AGE_BANDS",
    "Codes",
    "GroupCodes",
    "factorized",
    "feature_fields",
    "float_values",
    "group_codes",
    "is_age_field",
    "is_text",
    "memo",
    "missing_mask",
    "numeric_fields",
    "protected_groups",
    "sample_positions",
    "table",
    "target_fields",
    "worst",
]

#: Age bands used wherever a numeric age defines groups: lower edges and labels.
AGE_BANDS: tuple[tuple[float, str], ...] = ((0, "<18"), (18, "18–39"), (40, "40–64"), (65, "65–79"), (80, "80+"))

_SKIP_ROLES = frozenset({Role.IDENTIFIER})


def table(data: Dataset) -> tuple[pd.DataFrame, Schema]:
    """The frame and schema of a tabular dataset (the runner has checked the modality)."""
    assert isinstance(data, TabularDataset)
    return data.data, data.schema


def worst(statuses: Iterable[Status], default: Status = Status.PASS) -> Status:
    """The most severe status of ``statuses`` (``default`` when there are none)."""
    return max(statuses, key=lambda s: s.severity, default=default)


def is_identifier(f: Field) -> bool:
    return f.type is FieldType.IDENTIFIER or any(r in _SKIP_ROLES for r in f.roles)


def target_fields(schema: Schema) -> list[Field]:
    """Fields with the ``target`` role."""
    return schema.by_role(Role.TARGET)


def feature_fields(schema: Schema) -> list[Field]:
    """Fields that are neither identifiers nor targets."""
    return [f for f in schema if not is_identifier(f) and not f.has_role(Role.TARGET)]


def numeric_fields(frame: pd.DataFrame, schema: Schema, *, include_boolean: bool = False) -> list[Field]:
    """Non-identifier fields typed numeric/integer (and boolean) whose column is stored as numbers."""
    wanted = {FieldType.NUMERIC, FieldType.INTEGER} | ({FieldType.BOOLEAN} if include_boolean else set())
    return [
        f for f in schema if f.type in wanted and not is_identifier(f) and pd.api.types.is_numeric_dtype(frame[f.name])
    ]


def float_values(s: pd.Series) -> np.ndarray:
    """A numeric column as float64 (missing → NaN); no copy when it already is float64."""
    return s.to_numpy(dtype=np.float64, na_value=np.nan, copy=False)


def sample_positions(n: int, size: int, seed: int) -> np.ndarray | None:
    """Sorted positions of a seeded sample of ``size`` rows, or ``None`` when ``n <= size``."""
    if n <= size:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def is_age_field(f: Field) -> bool:
    name = f.name.lower()
    return f.unit == "years" or name == "age" or name.startswith("age_") or name.endswith("_age")


@dataclass(frozen=True, slots=True)
class GroupCodes:
    """A protected field turned into groups: one code per row (``-1`` = missing) and labels."""

    name: str
    codes: np.ndarray
    labels: tuple[str, ...]

    def counts(self) -> np.ndarray:
        """Rows per group, in label order."""
        return np.bincount(self.codes[self.codes >= 0], minlength=len(self.labels))


def group_codes(s: pd.Series, f: Field, *, max_quantile_groups: int = 4, shared: Codes | None = None) -> GroupCodes:
    """Groups of a protected column: age bands for ages, quartiles for other numbers, else values.

    Parameters
    ----------
    s
        The column.
    f
        Its schema field (used to recognise an age).
    max_quantile_groups
        Bands for a numeric protected field that is not an age and has more than 10 values.
    shared
        The column's codes from :func:`factorized`, reused (re-sorted) instead of hashing again.
    """
    if f.is_numeric and pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        x = float_values(s)
        if is_age_field(f):
            edges = np.array([b for b, _ in AGE_BANDS[1:]])
            codes = np.searchsorted(edges, x, side="right").astype(np.int64)
            codes[np.isnan(x)] = -1
            return GroupCodes(f.name, codes, tuple(label for _, label in AGE_BANDS))
        finite = x[np.isfinite(x)]
        if len(np.unique(finite[:100_000])) > 10:
            qs = np.unique(np.quantile(finite, np.linspace(0, 1, max_quantile_groups + 1)[1:-1]))
            codes = np.searchsorted(qs, x, side="right").astype(np.int64)
            codes[np.isnan(x)] = -1
            bounds = [float(finite.min()), *qs.tolist(), float(finite.max())]
            labels = tuple(f"{bounds[i]:g}–{bounds[i + 1]:g}" for i in range(len(bounds) - 1))
            return GroupCodes(f.name, codes, labels)
    if shared is not None:
        order = np.argsort(shared.uniques.astype(str), kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        codes = np.where(shared.codes >= 0, rank[np.maximum(shared.codes, 0)], -1)
        return GroupCodes(f.name, codes, tuple(_label(u) for u in shared.uniques[order]))
    found, uniques = pd.factorize(s, sort=True)
    return GroupCodes(f.name, found.astype(np.int64, copy=False), tuple(_label(u) for u in uniques))


def protected_groups(frame: pd.DataFrame, schema: Schema) -> list[GroupCodes]:
    """The groups of every protected field, in schema order (text columns through the shared codes)."""
    out = []
    for f in schema.by_role(Role.PROTECTED):
        s = frame[f.name]
        out.append(group_codes(s, f, shared=factorized(frame, f.name) if is_text(s) else None))
    return out


def _label(value: object) -> str:
    """A group label as a person writes it: 1.0 → '1', 'F' → 'F'."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True, slots=True)
class Codes:
    """A column as integer codes into its distinct values (``-1`` = missing); every value is held by a row."""

    codes: np.ndarray
    uniques: np.ndarray

    def counts(self) -> np.ndarray:
        """Rows holding each distinct value."""
        return np.bincount(self.codes[self.codes >= 0], minlength=len(self.uniques))


#: id(frame) → (weak reference to the frame, column → (fingerprint, codes)); dropped with the frame.
_CODES: dict[int, tuple[weakref.ref[pd.DataFrame], dict[object, tuple[tuple[object, ...], object]]]] = {}
_FINGERPRINT_ROWS = 257


def _fingerprint(s: pd.Series) -> tuple[object, ...]:
    """Cheap identity of a column's content: length, dtype, buffer address and sampled values.

    Never materialises the column (a categorical's codes are looked at, not its strings).
    """
    values = s.array
    step = max(1, len(s) // _FINGERPRINT_ROWS)
    if isinstance(values, pd.Categorical):
        codes = values.codes
        owner = codes.base if codes.base is not None else codes
        return (len(s), str(s.dtype), id(owner), codes[::step].tobytes())
    buffer = s.to_numpy(copy=False)
    base = getattr(buffer, "base", None)
    probe = pd.util.hash_pandas_object(s.iloc[::step], index=False).to_numpy()
    return (len(s), str(s.dtype), id(base) if base is not None else id(buffer), probe.tobytes())


def _frame_cache(frame: pd.DataFrame) -> dict[object, tuple[tuple[object, ...], object]]:
    entry = _CODES.get(id(frame))
    if entry is not None and entry[0]() is frame:
        return entry[1]
    fid = id(frame)
    store: dict[object, tuple[tuple[object, ...], object]] = {}
    _CODES[fid] = (weakref.ref(frame, lambda _ref: _forget(fid)), store)
    return store


def factorized(frame: pd.DataFrame, column: str) -> Codes:
    """``pd.factorize`` of ``frame[column]``, computed once per column and shared between checks."""
    s = frame[column]
    key = _fingerprint(s)
    per_frame = _frame_cache(frame)
    with _slot_lock(frame, column):
        hit = per_frame.get(column)
        if hit is not None and hit[0] == key and isinstance(hit[1], Codes):
            return hit[1]
        return _factorize(s, per_frame, column, key)


def _factorize(
    s: pd.Series, per_frame: dict[object, tuple[tuple[object, ...], object]], column: str, key: tuple[object, ...]
) -> Codes:
    if isinstance(s.dtype, pd.CategoricalDtype):
        # Already codes: keep them, dropping only categories that no row holds.
        raw = s.array.codes  # type: ignore[union-attr]
        n_cat = len(s.cat.categories)
        used = np.flatnonzero(np.bincount(raw[raw >= 0], minlength=n_cat))
        if len(used) == n_cat:  # the usual case: the codes are already what we need
            small = raw.astype(_code_dtype(n_cat))
        else:  # drop categories no row holds (e.g. after selecting rows)
            remap = np.full(n_cat, -1, dtype=np.int64)
            remap[used] = np.arange(len(used))
            small = np.where(raw >= 0, remap[np.maximum(raw, 0)], -1).astype(_code_dtype(len(used)))
        out = Codes(small, np.asarray(s.cat.categories[used], dtype=object))
    else:
        codes, uniques = pd.factorize(s)
        out = Codes(codes.astype(_code_dtype(len(uniques))), np.asarray(uniques, dtype=object))
    per_frame[column] = (key, out)
    return out


def _code_dtype(n_values: int) -> type[np.signedinteger[Any]]:
    """The narrowest signed integer type that holds codes ``-1..n_values-1`` (they are kept per audit).

    Never narrower than int16, so that ``codes + 1`` and similar small arithmetic cannot overflow.
    """
    if n_values < np.iinfo(np.int16).max:
        return np.int16
    if n_values < np.iinfo(np.int32).max:
        return np.int32
    return np.int64


def memo(frame: pd.DataFrame, name: str, columns: Sequence[str], compute: Callable[[], T]) -> T:
    """``compute()`` once per frame and set of columns, shared between the checks of one audit.

    Used for work several checks need (a row hash over the same columns); the result is
    recomputed when any of the columns changes (same fingerprint rule as :func:`factorized`).
    Checks run on two threads: a second caller waits for the first computation, then reuses it.
    """
    key = tuple(_fingerprint(frame[c]) for c in columns)
    per_frame = _frame_cache(frame)
    slot = (name, tuple(columns))
    with _slot_lock(frame, slot):
        hit = per_frame.get(slot)
        if hit is not None and hit[0] == key:
            return cast(T, hit[1])
        value = compute()
        per_frame[slot] = (key, value)
        return value


_LOCKS_GUARD = threading.Lock()
_SLOT_LOCKS: dict[tuple[int, object], threading.Lock] = {}


def _slot_lock(frame: pd.DataFrame, slot: object) -> threading.Lock:
    """One lock per (frame, cached item), dropped with the frame's cache."""
    with _LOCKS_GUARD:
        return _SLOT_LOCKS.setdefault((id(frame), slot), threading.Lock())


def _forget(fid: int) -> None:
    """A frame was garbage-collected: drop its cached codes and locks."""
    _CODES.pop(fid, None)
    with _LOCKS_GUARD:
        for key in [k for k in _SLOT_LOCKS if k[0] == fid]:
            del _SLOT_LOCKS[key]


def is_text(s: pd.Series) -> bool:
    """Whether a column is stored as text/objects/categories (not numbers, booleans or dates)."""
    return not (
        pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s) or pd.api.types.is_datetime64_any_dtype(s)
    )


def missing_mask(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Missing cells of one column as a boolean array (text columns through their shared codes)."""
    s = frame[column]
    if is_text(s):
        return factorized(frame, column).codes < 0
    return s.isna().to_numpy()
