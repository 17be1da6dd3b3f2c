"""Helpers shared by the table checks: column selection, group codes, sampling, verdicts.

Everything here works column by column on the caller's frame without copying it, so the checks
stay within a small multiple of the table's memory on a million rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from medsyn.data.dataset import Dataset, TabularDataset
from medsyn.data.schema import Field, FieldType, Role, Schema
from medsyn.metric import Status

__all__ = [
    "AGE_BANDS",
    "GroupCodes",
    "feature_fields",
    "float_values",
    "group_codes",
    "is_age_field",
    "numeric_fields",
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


def group_codes(s: pd.Series, f: Field, *, max_quantile_groups: int = 4) -> GroupCodes:
    """Groups of a protected column: age bands for ages, quartiles for other numbers, else values.

    Parameters
    ----------
    s
        The column.
    f
        Its schema field (used to recognise an age).
    max_quantile_groups
        Bands for a numeric protected field that is not an age and has more than 10 values.
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
    codes, uniques = pd.factorize(s, sort=True)
    return GroupCodes(f.name, codes.astype(np.int64, copy=False), tuple(str(u) for u in uniques))
