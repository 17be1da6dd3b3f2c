"""The table plan: how a clinical table becomes the simple table a generator models, and back.

Every tabular generator models the same two kinds of column: ``numeric`` (float) and
``categorical`` (a pandas Categorical). The plan, learned once per fit, does the rest so that
each generator does not have to:

- integers, decimals and dates are modelled as numbers and restored with the training
  resolution (whole numbers, the same number of decimals, date-only when every time was midnight);
- missing values are modelled, not dropped: a categorical gets a ``<missing>`` category, a
  numeric column a ``<col>__missing`` indicator column, so "lab value missing when test not
  ordered" is learned jointly with the other columns;
- identifiers are never modelled or copied: fresh values in the training format are generated
  (numbers above the training maximum; patterned codes at random in the same shape);
- free text is not synthesised (left empty, with a warning), constant columns are restored as-is;
- outputs are clipped to the schema's ranges and categories.

Under differential privacy (``private=True``) the plan learns nothing from the data that a
mechanism does not pay for: bounds and categories must come from the schema (an error lists
the fields that lack them), every nullable field gets a modelled missingness indicator (the
schema, not the data, says which may be missing), a missing number is filled uniformly within
the bounds (never with another record's value), and no rounding resolution or identifier
format is learned. The file's format — column dtypes and how booleans are spelled — is
treated as public.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Literal, cast

import numpy as np
import pandas as pd

from medsyn.data.schema import Field, FieldType, Role, Schema
from medsyn.errors import InputError, Problem

__all__ = ["MISSING", "ColumnPlan", "ModelColumn", "TablePlan"]

MISSING = "<missing>"
_NS_PER_DAY = 86_400 * 10**9
Kind = Literal["numeric", "integer", "categorical", "boolean", "datetime", "identifier", "text", "constant"]


@dataclass(frozen=True, slots=True)
class ModelColumn:
    """A column as generators see it: a number in [low, high] or one of ``categories``."""

    name: str
    kind: Literal["numeric", "categorical"]
    categories: tuple[str, ...] = ()
    low: float = -math.inf
    high: float = math.inf
    integer: bool = False
    source: str = ""

    def to_dict(self) -> dict[str, object]:
        return asdict(self) | {"categories": list(self.categories)}


@dataclass(frozen=True, slots=True)
class ColumnPlan:
    """What the plan learned about one original column."""

    name: str
    kind: Kind
    categories: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    decimals: int | None = None
    has_missing: bool = False
    date_only: bool = False
    id_shape: str | None = None
    id_next: int | None = None
    constant: str | float | None = None
    dtype: str = ""
    labels: tuple[str, ...] = ()  # a boolean column's own spelling of (false, true), e.g. ("no", "yes")

    def to_dict(self) -> dict[str, object]:
        return asdict(self) | {"categories": list(self.categories), "labels": list(self.labels)}


@dataclass
class TablePlan:
    """Per-column plans plus the model columns derived from them."""

    columns: list[ColumnPlan] = field(default_factory=list)
    private: bool = False
    warnings: list[str] = field(default_factory=list)

    # -- learning ---------------------------------------------------------------------------
    @classmethod
    def learn(cls, frame: pd.DataFrame, schema: Schema, *, private: bool = False) -> TablePlan:
        """Learn the plan; raises :class:`InputError` for all-missing columns or (private) missing bounds."""
        problems: list[Problem] = []
        plans: list[ColumnPlan] = []
        warnings: list[str] = []
        for fld in schema:
            col = frame[fld.name]
            if col.isna().all() and fld.type not in (FieldType.TEXT, FieldType.IDENTIFIER):
                problems.append(
                    Problem(
                        f"column '{fld.name}'",
                        "every value missing",
                        "at least one value to learn from",
                        fix="drop the column, or mark it as text in the schema",
                    )
                )
                continue
            plan, problem = _learn_column(col, fld, private)
            if problem is not None:
                problems.append(problem)
                continue
            if plan.kind == "text":
                warnings.append(f"free-text column '{fld.name}' is not synthesised; it is left empty")
            if (
                private
                and plan.kind in ("numeric", "integer", "datetime", "categorical")
                and "set in" not in (fld.reason or "set in")
            ):
                warnings.append(
                    f"the bounds/categories of '{fld.name}' were inferred from the data, so the privacy guarantee "
                    "does not cover them; declare them in a schema YAML"
                )
            plans.append(plan)
        if problems:
            raise InputError(problems)
        return cls(plans, private, warnings)

    @property
    def model_columns(self) -> list[ModelColumn]:
        out: list[ModelColumn] = []
        for p in self.columns:
            if p.kind in ("numeric", "integer", "datetime"):
                if p.has_missing:
                    out.append(ModelColumn(f"{p.name}__missing", "categorical", ("0", "1"), source=p.name))
                lo = -math.inf if p.low is None else p.low
                hi = math.inf if p.high is None else p.high
                out.append(ModelColumn(p.name, "numeric", (), lo, hi, p.kind == "integer", source=p.name))
            elif p.kind in ("categorical", "boolean"):
                cats = p.categories + ((MISSING,) if p.has_missing else ())
                out.append(ModelColumn(p.name, "categorical", cats, source=p.name))
        return out

    def plan(self, name: str) -> ColumnPlan:
        for p in self.columns:
            if p.name == name:
                return p
        raise KeyError(name)

    # -- original → model -------------------------------------------------------------------
    def encode(self, frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        """The model table: numbers as float64, categories as Categorical, no missing values.

        A missing number is filled with a random observed value of its column (its indicator
        column records that it was missing), so the fill adds no spike to the distribution.
        """
        out: dict[str, object] = {}
        for p in self.columns:
            col = frame[p.name]
            if p.kind in ("numeric", "integer", "datetime"):
                values = _to_float(col, p.kind)
                missing = np.isnan(values)
                if p.has_missing:
                    out[f"{p.name}__missing"] = pd.Categorical(np.where(missing, "1", "0"), categories=["0", "1"])
                if missing.any():
                    observed = values[~missing]
                    values = values.copy()
                    if self.private:  # another record's value would tie two records together
                        # one draw per row, used or not: row i's fill never depends on other rows
                        draws = rng.uniform(p.low or 0.0, p.high or 0.0, size=len(values))
                        values[missing] = draws[missing]
                    else:
                        values[missing] = rng.choice(observed, size=int(missing.sum())) if observed.size else 0.0
                if p.low is not None or p.high is not None:
                    values = np.clip(values, -np.inf if p.low is None else p.low, np.inf if p.high is None else p.high)
                out[p.name] = values
            elif p.kind in ("categorical", "boolean"):
                text = _as_text(col, p.kind)
                cats = list(p.categories) + ([MISSING] if p.has_missing else [])
                known = text.isin(p.categories)
                text = text.where(known, MISSING if p.has_missing else None)
                if not p.has_missing and text.isna().any():  # private plan: unknown values dropped to a known one
                    text = text.fillna(p.categories[0])
                out[p.name] = pd.Categorical(text, categories=cats)
        return pd.DataFrame(out, index=range(len(frame)))

    # -- model → original -------------------------------------------------------------------
    def decode(self, model: pd.DataFrame, rng: np.random.Generator, *, start: int = 0) -> pd.DataFrame:
        """Original columns, types, resolution and ranges from a model table (see the module docstring)."""
        n = len(model)
        out: dict[str, object] = {}
        for p in self.columns:
            if p.kind in ("numeric", "integer", "datetime"):
                values = np.asarray(model[p.name], dtype=float).copy()
                lo = -np.inf if p.low is None else p.low
                hi = np.inf if p.high is None else p.high
                values = np.clip(values, lo, hi)
                if p.kind == "integer":
                    values = np.clip(np.round(values), math.ceil(lo) if np.isfinite(lo) else lo, hi)
                elif p.decimals is not None and p.kind == "numeric":
                    values = np.round(values, p.decimals)
                if p.has_missing:
                    values[np.asarray(model[f"{p.name}__missing"]).astype(str) == "1"] = np.nan
                out[p.name] = _from_float(values, p)
            elif p.kind in ("categorical", "boolean"):
                out[p.name] = _from_categories(model[p.name], p)
            elif p.kind == "identifier":
                out[p.name] = _fresh_identifiers(p, n, rng, start)
            elif p.kind == "constant":
                out[p.name] = pd.Series([p.constant] * n, dtype=p.dtype or None)
            else:  # text
                out[p.name] = pd.Series([None] * n, dtype=object)
        return pd.DataFrame(out, index=range(n))

    def to_dict(self) -> dict[str, object]:
        return {"private": self.private, "warnings": self.warnings, "columns": [p.to_dict() for p in self.columns]}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> TablePlan:
        cols = []
        for c in data["columns"]:  # type: ignore[attr-defined]
            cols.append(ColumnPlan(**{**c, "categories": tuple(c["categories"]), "labels": tuple(c.get("labels", ()))}))
        return cls(cols, bool(data["private"]), list(data.get("warnings", [])))  # type: ignore[call-overload]


# -- learning helpers ---------------------------------------------------------------------------
def _learn_column(col: pd.Series, fld: Field, private: bool) -> tuple[ColumnPlan, Problem | None]:
    # under DP whether a column has missing values is the schema's word, not the data's
    has_missing = fld.nullable if private else bool(col.isna().any())
    dtype = str(col.dtype)
    if fld.type == FieldType.IDENTIFIER or Role.IDENTIFIER in fld.roles:
        return _learn_identifier(col, fld, private, dtype), None
    if fld.type == FieldType.TEXT:
        return ColumnPlan(fld.name, "text", dtype=dtype), None
    if fld.type in (FieldType.NUMERIC, FieldType.INTEGER, FieldType.DATETIME):
        kind: Kind = fld.type.value  # type: ignore[assignment]
        values = _to_float(col, kind)
        observed = values[~np.isnan(values)]
        if private:
            if fld.minimum is None or fld.maximum is None:
                return ColumnPlan(fld.name, kind), Problem(
                    f"column '{fld.name}'",
                    "no minimum/maximum in the schema",
                    "public bounds for a differentially private fit",
                    fix="declare minimum and maximum in the schema YAML (bounds read from the data would leak)",
                )
            low, high = _bound(fld.minimum, kind), _bound(fld.maximum, kind)
            return ColumnPlan(fld.name, kind, low=low, high=high, has_missing=has_missing, dtype=dtype), None
        low = float(observed.min()) if fld.minimum is None else max(float(observed.min()), _bound(fld.minimum, kind))
        high = float(observed.max()) if fld.maximum is None else min(float(observed.max()), _bound(fld.maximum, kind))
        if fld.minimum is not None:
            low = _bound(fld.minimum, kind)
        if fld.maximum is not None:
            high = _bound(fld.maximum, kind)
        if observed.size and np.all(observed == observed[0]) and not has_missing:
            return ColumnPlan(fld.name, "constant", constant=_constant(col), dtype=dtype), None
        decimals = _decimals(observed) if kind == "numeric" else None
        date_only = kind == "datetime" and bool(np.all(np.mod(observed, 1.0) == 0))
        return (
            ColumnPlan(
                fld.name,
                kind,
                low=low,
                high=high,
                decimals=decimals,
                has_missing=has_missing,
                date_only=date_only,
                dtype=dtype,
            ),
            None,
        )
    # categorical / boolean
    kind = "boolean" if fld.type == FieldType.BOOLEAN else "categorical"
    text = _as_text(col, kind)
    if private:
        if fld.categories is None and kind == "categorical":
            return ColumnPlan(fld.name, kind), Problem(
                f"column '{fld.name}'",
                "no categories in the schema",
                "a public category list for a differentially private fit",
                fix="declare categories in the schema YAML (categories read from the data would leak)",
            )
        cats = ("False", "True") if kind == "boolean" else tuple(fld.categories or ())
        # how a boolean is spelled ("yes"/"no", 0/1) is the file's format, treated as public like its dtype
        labels = _bool_labels(col) if kind == "boolean" else ()
        return ColumnPlan(fld.name, kind, categories=cats, has_missing=has_missing, dtype=dtype, labels=labels), None
    seen = text.dropna()
    if kind == "boolean":
        cats = tuple(c for c in ("False", "True") if c in set(seen))
    else:
        counts = seen.value_counts()
        order = list(fld.categories) if fld.categories is not None else []
        cats = tuple([c for c in order if c in counts.index] + sorted(set(counts.index) - set(order), key=str))
    if len(cats) == 1 and not has_missing:
        return ColumnPlan(fld.name, "constant", constant=_constant(col), dtype=dtype), None
    labels = _bool_labels(col) if kind == "boolean" else ()
    return ColumnPlan(fld.name, kind, categories=cats, has_missing=has_missing, dtype=dtype, labels=labels), None


def _bool_labels(col: pd.Series) -> tuple[str, ...]:
    """How the column spells false and true (first spelling seen), so output looks like input."""
    if pd.api.types.is_bool_dtype(col.dtype) or str(col.dtype) == "boolean":
        return ("False", "True")
    raw = col.dropna()
    text = _as_text(raw, "boolean")
    out = []
    for norm, default in (("False", "False"), ("True", "True")):
        match = raw[(text == norm).to_numpy()]
        out.append(_text(match.iloc[0]) if len(match) else default)
    return tuple(out)


def _bound(value: float, kind: str) -> float:
    """Schema bounds are in the column's units; date columns are modelled in days since 1970."""
    return float(value)


def _constant(col: pd.Series) -> str | float | None:
    value = col.dropna().iloc[0]
    if isinstance(value, (np.integer, np.floating, int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value) if not isinstance(value, (bool, np.bool_)) else str(bool(value))


def _decimals(values: np.ndarray) -> int | None:
    """The number of decimals the data is recorded with (≤ 6), or None when it looks continuous."""
    if values.size == 0:
        return None
    sample = values[:10_000]
    for d in range(7):
        if np.allclose(sample, np.round(sample, d), rtol=0, atol=1e-9 * max(1.0, float(np.abs(sample).max()))):
            return d
    return None


def _learn_identifier(col: pd.Series, fld: Field, private: bool, dtype: str) -> ColumnPlan:
    values = col.dropna()
    numeric = pd.to_numeric(values, errors="coerce")
    if not private and len(values) and numeric.notna().all() and np.all(np.mod(numeric, 1) == 0):
        return ColumnPlan(fld.name, "identifier", id_next=int(numeric.max()) + 1, dtype=dtype)
    if private or not len(values):
        return ColumnPlan(fld.name, "identifier", dtype=dtype)  # nothing learned: SYN-000001, SYN-000002, …
    text = values.astype(str).head(5000)
    shapes = text.map(_shape)
    shape = str(shapes.value_counts().index[0])
    same = text[shapes == shape]
    # positions where every value has the same character stay literal ("P-" in "P-00017")
    template = "".join(
        ch if ch not in "9A" else ("\\" + same.str[i].iloc[0] if same.str[i].nunique() == 1 else ch)
        for i, ch in enumerate(shape)
    )
    # widen the digit run until the format has ≥ 1e6 values per training record (collisions ≤ 1e-6)
    space = 10 ** _count_free(template, "9") * 26 ** _count_free(template, "A")
    while space < 1e6 * max(1, len(values)):
        template = template + "9" if _count_free(template, "9") == 0 else _widen(template)
        space *= 10
    return ColumnPlan(fld.name, "identifier", id_shape=template, dtype=dtype)


def _shape(text: str) -> str:
    return re.sub(r"[A-Za-z]", "A", re.sub(r"\d", "9", text))


def _tokens(template: str) -> list[tuple[str, bool]]:
    """(character, is_literal) pairs of an identifier template (``\\X`` is a literal X)."""
    out, i = [], 0
    while i < len(template):
        if template[i] == "\\" and i + 1 < len(template):
            out.append((template[i + 1], True))
            i += 2
        else:
            out.append((template[i], template[i] not in "9A"))
            i += 1
    return out


def _count_free(template: str, cls: str) -> int:
    return sum(1 for ch, literal in _tokens(template) if ch == cls and not literal)


def _widen(template: str) -> str:
    """One more free digit, placed beside the first free digit."""
    out, done = [], False
    for ch, literal in _tokens(template):
        token = "\\" + ch if literal and ch in "9A\\" else ch
        if not done and ch == "9" and not literal:
            token, done = "99", True
        out.append(token)
    return "".join(out)


def _fresh_identifiers(p: ColumnPlan, n: int, rng: np.random.Generator, start: int) -> pd.Series:
    if p.id_next is not None:
        ids = p.id_next + start + rng.permutation(n) if n else np.array([], dtype=np.int64)
        dtype = p.dtype if p.dtype.startswith(("int", "Int")) else "int64"
        out = pd.Series(ids, dtype="int64")
        # pandas-stubs has no astype overload for a plain str dtype name
        return out.astype(dtype) if dtype != "int64" else out  # type: ignore[call-overload]
    if p.id_shape is None:
        return pd.Series([f"SYN-{start + i + 1:06d}" for i in rng.permutation(n)], dtype=object)
    tokens = _tokens(p.id_shape)
    columns = []
    for ch, literal in tokens:
        if literal:
            columns.append(np.full(n, ch, dtype=object))
        elif ch == "9":
            columns.append(rng.integers(0, 10, n).astype(str).astype(object))
        else:
            columns.append(np.array([chr(65 + k) for k in rng.integers(0, 26, n)], dtype=object))
    rows = ["".join(parts) for parts in zip(*columns, strict=True)] if columns else [""] * n
    return pd.Series(rows, dtype=object)


# -- conversion helpers -------------------------------------------------------------------------
def _to_float(col: pd.Series, kind: str) -> np.ndarray:
    if kind == "datetime":
        stamps = pd.to_datetime(col, errors="coerce")
        out = stamps.to_numpy(dtype="datetime64[ns]").astype("int64").astype(float) / _NS_PER_DAY
        out[stamps.isna().to_numpy()] = np.nan
        return out
    if pd.api.types.is_bool_dtype(col.dtype):
        return col.to_numpy(dtype=float, na_value=np.nan)
    return pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _from_float(values: np.ndarray, p: ColumnPlan) -> pd.Series:
    if p.kind == "datetime":
        ns = np.where(np.isnan(values), 0, values * _NS_PER_DAY).astype("int64")
        stamps = pd.Series(ns.astype("datetime64[ns]"))
        stamps[np.isnan(values)] = pd.NaT
        return stamps.dt.normalize() if p.date_only else stamps.dt.round("s")
    if p.kind == "integer" and not p.dtype.startswith("float"):
        if np.isnan(values).any() or p.dtype.startswith("Int"):
            return pd.Series(pd.array(np.where(np.isnan(values), 0, values).astype("int64"), dtype="Int64")).mask(
                np.isnan(values)
            )
        return pd.Series(values.astype("int64"), dtype=p.dtype if p.dtype.startswith("int") else "int64")
    return pd.Series(values, dtype=p.dtype if p.dtype.startswith("float") else "float64")


def _as_text(col: pd.Series, kind: str) -> pd.Series:
    """Categories as text; booleans as 'False'/'True' whatever the spelling (0/1, yes/no).

    Works on the distinct values only (``pd.factorize``), so a million rows cost a few
    thousand string conversions, not a million.
    """
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    if kind == "boolean":
        lowered = [str(_text(u)).strip().lower() for u in uniques]
        names = [
            "True" if v in _TRUE else "False" if v in _FALSE else None  # unknown spellings become missing
            for v in lowered
        ]
    else:
        names = [_text(u) for u in uniques]
    table = np.array([*names, None], dtype=object)
    return pd.Series(table[codes], index=col.index, dtype=object)


_TRUE = frozenset({"true", "1", "1.0", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "0.0", "no", "n", "f"})


def _text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _from_categories(column: pd.Series, p: ColumnPlan) -> pd.Series:
    """Model categories → the column's own values and dtype, working on codes (fast at 1M rows)."""
    values = pd.Categorical(column, categories=[*p.categories, MISSING])
    codes = np.where(values.codes == len(p.categories), -1, values.codes)
    uniques = pd.Series(list(p.categories), dtype=object)
    restored = _from_text(uniques, p)
    if isinstance(restored.dtype, pd.CategoricalDtype):
        return pd.Series(pd.Categorical.from_codes(codes, dtype=restored.dtype))
    if pd.api.types.is_bool_dtype(restored.dtype) or str(restored.dtype) == "boolean":
        flags = restored.to_numpy(dtype=bool)[np.maximum(codes, 0)]
        out = pd.Series(flags, dtype="boolean")
        out[codes < 0] = pd.NA
        return out if (codes < 0).any() or p.dtype == "boolean" else out.astype(bool)
    if pd.api.types.is_numeric_dtype(restored.dtype):
        numbers = restored.to_numpy(dtype=float, na_value=np.nan)
        picked = np.where(codes < 0, np.nan, numbers[np.maximum(codes, 0)])
        if p.dtype.startswith("float"):
            return pd.Series(picked, dtype=p.dtype)
        if np.isnan(picked).any() or p.dtype.startswith("Int"):
            return pd.Series(pd.array(np.where(np.isnan(picked), 0, picked).astype("int64"), dtype="Int64")).mask(
                np.isnan(picked)
            )
        return pd.Series(picked.astype(p.dtype if p.dtype.startswith("int") else "int64"))
    table = np.array([*restored.tolist(), None], dtype=object)
    return pd.Series(table[codes], dtype=object)


def _from_text(text: pd.Series, p: ColumnPlan) -> pd.Series:
    if p.kind == "boolean":
        mapped = text.map({"True": True, "False": False})
        if p.dtype in ("bool", "boolean"):
            return mapped.astype("boolean") if mapped.isna().any() or p.dtype == "boolean" else mapped.astype(bool)
        false, true = p.labels or ("False", "True")
        text = text.map({"True": true, "False": false})
        if p.dtype == "category":
            return pd.Series(pd.Categorical(text, categories=[false, true]))
    if p.dtype == "category":
        return pd.Series(pd.Categorical(text, categories=list(p.categories)))
    if p.dtype.startswith(("int", "Int", "float")):
        number = pd.to_numeric(text, errors="coerce")
        if p.dtype.startswith("float"):
            return cast(pd.Series, number.astype(p.dtype))  # type: ignore[call-overload]
        int_dtype = "Int64" if number.isna().any() or p.dtype.startswith("Int") else p.dtype
        return cast(pd.Series, number.astype(int_dtype))  # type: ignore[call-overload]
    return text.astype(object)
