"""Hierarchy builders (numbers, ages, dates, codes, ordered categories, mapping tables) and their YAML file.

Builders take the column's values and return a :class:`~medsyn.privacy._hierarchy.Hierarchy`
over the values present; mapping tables (ICD-10 code → block → chapter) are written by hand in
YAML or in an ARX-style CSV. Builders are registered by kind in :data:`HIERARCHY_KINDS`, which is
what a YAML file's ``type:`` names. The file format::

    hierarchies:
      age: {type: age, bands: [5, 10, 20]}          # 5-, 10-, 20-year bands, then *
      bmi: {type: interval, width: 2.5}             # widths 2.5, 5, 10, … (doubling), then *
      los: {type: interval, cuts: [[3, 7, 14, 30], [7, 30]]}   # given cut points, coarser per level
      admitted: {type: date}                        # day → month → year → decade → *
      postcode: {type: prefix}                      # 12345 → 1234* → 123** → … → *
      sex: {type: flat}                             # value → *
      age_band: {type: ordinal, order: ["[0-10)", "[10-20)", "[20-30)"]}   # adjacent pairs merge
      diag: {type: mapping, levels: [block, chapter], map: {E11.9: [E10-E14, IV], I21.0: [I20-I25, IX]}}
      icd10: {type: mapping, file: icd10.csv}       # code;block;chapter per line (ARX format)

A ``file:`` path is relative to the YAML file's folder.
"""

from __future__ import annotations

import csv
import inspect
import io
import itertools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from medsyn._registry import Registry
from medsyn.data.schema import Field, FieldType
from medsyn.errors import InputError, Problem, UnknownNameError
from medsyn.privacy._hierarchy import Hierarchy, assemble, fmt_number

__all__ = [
    "HIERARCHY_KINDS",
    "HierarchySpec",
    "age_hierarchy",
    "date_hierarchy",
    "default_hierarchy",
    "flat_hierarchy",
    "interval_hierarchy",
    "load_hierarchies",
    "mapping_hierarchy",
    "ordinal_hierarchy",
    "prefix_hierarchy",
    "read_mapping_csv",
]

Builder = Callable[..., Hierarchy]
HIERARCHY_KINDS = Registry[Builder]("hierarchy kind")

_INTERVAL_LABEL = re.compile(r"^\s*([\[(])\s*(-?\d+(?:\.\d+)?)\s*[-,]\s*(-?\d+(?:\.\d+)?)\s*([\])])\s*$")


def _name(values: pd.Series, column: str | None) -> str:
    return column if column is not None else str(values.name if values.name is not None else "value")


def _numbers(values: pd.Series, column: str) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() & values.notna()
    if bad.any():
        shown = pd.unique(values[bad].astype(str))[:5].tolist()
        raise InputError(Problem(f"column '{column}'", f"non-numeric values {shown}", "numbers for this hierarchy"))
    return np.unique(numbers.dropna().to_numpy(dtype=np.float64))


def _nice(x: float) -> float:
    """The smallest 1, 2 or 5 × 10^k that is at least ``x``."""
    if x <= 0:
        return 1.0
    base = 10.0 ** math.floor(math.log10(x))
    return float(next(m * base for m in (1, 2, 5, 10) if m * base >= x * (1 - 1e-12)))


@HIERARCHY_KINDS.register("interval")
def interval_hierarchy(
    values: pd.Series,
    *,
    column: str | None = None,
    width: float | None = None,
    cuts: Sequence[Sequence[float]] | None = None,
) -> Hierarchy:
    """Numbers → intervals of doubling width (``[40, 50)``, ``[40, 60)``, …) → ``*``.

    Parameters
    ----------
    width
        Width of the finest intervals; default a round number near (max − min) / 8. Intervals
        start at a multiple of it and double per level until two cover the range.
    cuts
        Instead of widths: one list of cut points per level, each level's cuts a subset of the
        level below (so intervals nest). Values below the first cut or at/above the last form
        open intervals (``< 18.5``, ``>= 30``).
    """
    name = _name(values, column)
    leaves = _numbers(values, name)
    if len(leaves) == 0:
        return flat_hierarchy(values, column=name)
    keys: list[np.ndarray] = []
    labelers: list[Callable[[np.ndarray], Sequence[str]]] = []
    names: list[str] = []
    if cuts is not None:
        for level, points in enumerate(cuts, start=1):
            edges = np.asarray(sorted(float(p) for p in points), dtype=np.float64)
            keys.append(np.searchsorted(edges, leaves, side="right"))
            labelers.append(_cut_labeler(edges))
            names.append(f"cuts level {level}")
    else:
        lo, hi = float(leaves[0]), float(leaves[-1])
        step = float(width) if width is not None else _nice((hi - lo) / 8 if hi > lo else 1.0)
        if step <= 0:
            raise InputError(Problem(f"hierarchy of '{name}'", f"width {width}", "a positive width"))
        origin = math.floor(lo / step) * step
        w = step
        for _ in range(24):
            keys.append(np.floor((leaves - origin) / w).astype(np.int64))
            labelers.append(_width_labeler(origin, w))
            names.append(f"width {fmt_number(w)}")
            if math.floor((hi - origin) / w) + 1 <= 2:
                break
            w *= 2
    return assemble(
        name, "interval", pd.Index(leaves), keys, labelers, names, numeric=leaves, has_missing=bool(values.isna().any())
    )


def _cut_labeler(edges: np.ndarray) -> Callable[[np.ndarray], Sequence[str]]:
    return lambda q: [_cut_label(int(i), edges) for i in q]


def _width_labeler(origin: float, w: float) -> Callable[[np.ndarray], Sequence[str]]:
    return lambda q: [f"[{fmt_number(origin + i * w)}, {fmt_number(origin + (i + 1) * w)})" for i in q]


def _cut_label(i: int, edges: np.ndarray) -> str:
    if i == 0:
        return f"< {fmt_number(edges[0])}"
    if i == len(edges):
        return f">= {fmt_number(edges[-1])}"
    return f"[{fmt_number(edges[i - 1])}, {fmt_number(edges[i])})"


@HIERARCHY_KINDS.register("age")
def age_hierarchy(values: pd.Series, *, column: str | None = None, bands: Sequence[int] = (5, 10, 20)) -> Hierarchy:
    """Ages → bands of ``bands`` years (each a multiple of the one before, from age 0) → ``*``."""
    name = _name(values, column)
    leaves = _numbers(values, name)
    widths = [int(b) for b in bands]
    if any(b <= 0 for b in widths) or any(b2 % b1 for b1, b2 in itertools.pairwise(widths)):
        raise InputError(
            Problem(
                f"hierarchy of '{name}'", f"bands {list(bands)}", "positive widths, each a multiple of the one before"
            )
        )
    whole = bool(np.all(np.mod(leaves, 1) == 0))

    def labeler(b: int) -> Callable[[np.ndarray], Sequence[str]]:
        if whole:
            return lambda q: [f"{i * b}-{(i + 1) * b - 1}" for i in q]
        return lambda q: [f"[{i * b}, {(i + 1) * b})" for i in q]

    keys = [np.floor(leaves / b).astype(np.int64) for b in widths]
    return assemble(
        name,
        "age",
        pd.Index(leaves),
        keys,
        [labeler(b) for b in widths],
        [f"{b}-year bands" for b in widths],
        numeric=leaves,
        has_missing=bool(values.isna().any()),
    )


@HIERARCHY_KINDS.register("date")
def date_hierarchy(values: pd.Series, *, column: str | None = None) -> Hierarchy:
    """Dates → (day, when times are present) → month → year → decade → ``*``."""
    name = _name(values, column)
    try:
        stamps = pd.to_datetime(values)
    except (ValueError, TypeError):
        raise InputError(
            Problem(f"column '{name}'", "values that are not dates", "dates for a date hierarchy")
        ) from None
    leaves = pd.DatetimeIndex(np.unique(stamps.dropna().to_numpy()))
    years = np.asarray(leaves.year, dtype=np.int64)
    keys: list[np.ndarray] = []
    labelers: list[Callable[[np.ndarray], Sequence[str]]] = []
    names: list[str] = []
    if bool((leaves != leaves.normalize()).any()):
        days = np.asarray(leaves.normalize().asi8 // 86_400_000_000_000, dtype=np.int64)
        keys.append(days)
        labelers.append(lambda q: [pd.Timestamp(int(d), unit="D").strftime("%Y-%m-%d") for d in q])
        names.append("day")
    keys += [years * 12 + np.asarray(leaves.month, dtype=np.int64) - 1, years, years // 10]
    labelers += [
        lambda q: [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in q],
        lambda q: [f"{i:04d}" for i in q],
        lambda q: [f"{i * 10:04d}-{i * 10 + 9:04d}" for i in q],
    ]
    names += ["month", "year", "decade"]
    return assemble(
        name,
        "date",
        leaves,
        keys,
        labelers,
        names,
        numeric=np.asarray(leaves.asi8, dtype=np.float64),
        has_missing=bool(stamps.isna().any()),
    )


@HIERARCHY_KINDS.register("prefix")
def prefix_hierarchy(values: pd.Series, *, column: str | None = None) -> Hierarchy:
    """Codes (postcodes, ICD codes) → mask one more character from the right per level → ``*``."""
    name = _name(values, column)
    leaves = sorted({str(v) for v in pd.unique(values.dropna())})
    longest = max((len(s) for s in leaves), default=0)
    keys = [
        np.array([s[: max(len(s) - cut, 0)] + "*" * min(cut, len(s)) for s in leaves]) for cut in range(1, longest + 1)
    ]
    return assemble(
        name,
        "prefix",
        pd.Index(leaves, dtype=object),
        keys,
        [lambda q: [str(x) for x in q]] * len(keys),
        [f"{cut} masked" for cut in range(1, longest + 1)],
        has_missing=bool(values.isna().any()),
        text_keys=True,
    )


@HIERARCHY_KINDS.register("flat")
def flat_hierarchy(values: pd.Series, *, column: str | None = None) -> Hierarchy:
    """Every value, then ``*``: the hierarchy of a category with no structure (sex, race)."""
    name = _name(values, column)
    present = np.asarray(pd.unique(values.dropna().astype(object)), dtype=object)
    try:
        uniques = np.asarray(sorted(present.tolist()))
    except TypeError:
        uniques = np.array(sorted(present.tolist(), key=str), dtype=object)
    return assemble(name, "flat", pd.Index(uniques), [], [], [], has_missing=bool(values.isna().any()))


@HIERARCHY_KINDS.register("ordinal")
def ordinal_hierarchy(
    values: pd.Series,
    *,
    column: str | None = None,
    order: Sequence[object] | None = None,
    sizes: Sequence[int] | None = None,
) -> Hierarchy:
    """Ordered categories (``[50-60)``, ``[60-70)``, …) → runs of 2, 4, 8, … adjacent ones → ``*``.

    ``order`` defaults to an ordered categorical's order, else to interval-like labels sorted by
    their lower bound, else to sorted values. Merged interval labels read ``[50-70)``.
    """
    name = _name(values, column)
    leaves = pd.Index(list(order) if order is not None else _natural_order(values))
    n = len(leaves)
    steps = (
        [int(s) for s in sizes]
        if sizes is not None
        else [2**i for i in range(1, max(math.ceil(math.log2(max(n, 2))), 1))]
    )
    positions = np.arange(n)
    keys = [positions // s for s in steps]
    labelers = [lambda q, s=s: [merge_labels([str(x) for x in leaves[i * s : (i + 1) * s]]) for i in q] for s in steps]
    return assemble(
        name,
        "ordinal",
        leaves,
        keys,
        labelers,
        [f"runs of {s}" for s in steps],
        has_missing=bool(values.isna().any()),
    )


def _natural_order(values: pd.Series) -> list[object]:
    if isinstance(values.dtype, pd.CategoricalDtype) and values.cat.ordered:
        return list(values.cat.categories)
    present = list(pd.unique(values.dropna().astype(object)))
    bounds = [_INTERVAL_LABEL.match(str(v)) for v in present]
    if present and all(bounds):
        return [v for _, v in sorted(zip([float(m.group(2)) for m in bounds if m], present, strict=True))]
    try:
        return sorted(present)
    except TypeError:
        return sorted(present, key=str)


def merge_labels(labels: Sequence[str]) -> str:
    if len(labels) == 1:
        return labels[0]
    first, last = _INTERVAL_LABEL.match(labels[0]), _INTERVAL_LABEL.match(labels[-1])
    if first and last:
        return f"{first.group(1)}{first.group(2)}-{last.group(3)}{last.group(4)}"
    return f"{labels[0]}..{labels[-1]}"


def mapping_hierarchy(
    table: Mapping[str, Sequence[str]], *, column: str, level_names: Sequence[str] | None = None
) -> Hierarchy:
    """A hand-written hierarchy: each value → its label at every level (e.g. code → block → chapter).

    Values are matched as text; every value must list the same number of levels, and a ``*``
    top is added when the last level has several groups.

    Examples
    --------
    >>> h = mapping_hierarchy({"E11.9": ["E10-E14", "IV"], "I21.0": ["I20-I25", "IX"]}, column="diag")
    >>> h.level_names
    ('value', 'level 1', 'level 2', '*')
    """
    where = f"hierarchy of '{column}'"
    rows = {str(k): [str(x) for x in (v if isinstance(v, list | tuple) else [v])] for k, v in table.items()}
    depths = {len(v) for v in rows.values()}
    if len(depths) > 1:
        raise InputError(
            Problem(where, f"values list {sorted(depths)} levels", "the same number of levels for every value")
        )
    if not rows:
        raise InputError(Problem(where, "an empty mapping", "at least one value"))
    depth = depths.pop()
    names = list(level_names) if level_names is not None else [f"level {i}" for i in range(1, depth + 1)]
    if len(names) != depth:
        raise InputError(Problem(f"{where}: levels", f"{len(names)} names", f"{depth}, one per level"))
    leaves = pd.Index(list(rows), dtype=object)
    keys = [np.array([rows[k][i] for k in rows], dtype=object) for i in range(depth)]
    return assemble(column, "mapping", leaves, keys, [lambda q: [str(x) for x in q]] * depth, names, text_keys=True)


def read_mapping_csv(path: str | Path, *, column: str, level_names: Sequence[str] | None = None) -> Hierarchy:
    """Read an ARX-style hierarchy CSV (``value;level 1;level 2;…`` per line, ``;``, ``,`` or tab)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(Problem(str(path), "file not found", "a hierarchy CSV")) from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=";,\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ";"
    lines = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if row and any(c.strip() for c in row)]
    table: dict[str, list[str]] = {}
    dupes = []
    for row in lines:
        key = row[0].strip()
        if key in table:
            dupes.append(key)
        table[key] = [c.strip() for c in row[1:]]
    if dupes:
        raise InputError(Problem(str(path), f"values listed twice: {dupes[:5]}", "each value on one line"))
    return mapping_hierarchy(table, column=column, level_names=level_names)


@HIERARCHY_KINDS.register("mapping")
def _mapping_entry(
    values: pd.Series,
    *,
    column: str | None = None,
    map: Mapping[str, Sequence[str]] | None = None,
    file: str | None = None,
    levels: Sequence[str] | None = None,
) -> Hierarchy:
    name = _name(values, column)
    if (map is None) == (file is None):
        raise InputError(Problem(f"hierarchy of '{name}'", "mapping without one of 'map' or 'file'", "exactly one"))
    if file is not None:
        return read_mapping_csv(file, column=name, level_names=levels)
    assert map is not None
    return mapping_hierarchy(map, column=name, level_names=levels)


@dataclass(frozen=True, slots=True)
class HierarchySpec:
    """A hierarchy named in a YAML file, built when the column's values are known."""

    column: str
    kind: str
    options: Mapping[str, object] = field(default_factory=dict)
    source: str = "hierarchies"

    def build(self, values: pd.Series) -> Hierarchy:
        builder = HIERARCHY_KINDS.get(self.kind)
        return builder(values, column=self.column, **dict(self.options))

    def to_dict(self) -> dict[str, object]:
        return {"column": self.column, "type": self.kind, **{k: v for k, v in self.options.items() if k != "map"}}


def load_hierarchies(path: str | Path) -> dict[str, HierarchySpec]:
    """Read a hierarchy YAML file (see the module docstring): column → :class:`HierarchySpec`.

    Every problem (unknown type, unknown option, missing file) is collected and raised once.
    """
    path = Path(path)
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(Problem(str(path), "file not found", "a hierarchy YAML file")) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(Problem(str(path), f"not valid YAML ({exc})", "a YAML mapping")) from None
    if not isinstance(loaded, Mapping) or not isinstance(loaded.get("hierarchies"), Mapping):
        raise InputError(Problem(str(path), "no 'hierarchies' mapping", "hierarchies: {column: {type: ..., ...}}"))
    specs: dict[str, HierarchySpec] = {}
    problems: list[Problem] = []
    for column, entry in loaded["hierarchies"].items():
        where = f"{path}: hierarchies.{column}"
        if not isinstance(entry, Mapping) or "type" not in entry:
            problems.append(Problem(where, repr(entry), "a mapping with a 'type', e.g. {type: interval}"))
            continue
        kind = str(entry["type"])
        try:
            builder = HIERARCHY_KINDS.get(kind)
        except UnknownNameError as exc:
            problems.append(Problem(f"{where}.type", str(exc).splitlines()[0], f"one of {HIERARCHY_KINDS.names()}"))
            continue
        options = {str(k): v for k, v in entry.items() if k != "type"}
        accepted = set(inspect.signature(builder).parameters) - {"values", "column"}
        unknown = sorted(set(options) - accepted)
        if unknown:
            problems.append(
                Problem(where, f"unknown option(s) {unknown} for type {kind}", f"some of {sorted(accepted)}")
            )
            continue
        if isinstance(options.get("file"), str):
            target = (path.parent / str(options["file"])).resolve()
            if not target.exists():
                problems.append(Problem(f"{where}.file", f"{target} not found", "a hierarchy CSV beside the YAML file"))
            options["file"] = str(target)
        specs[str(column)] = HierarchySpec(str(column), kind, options, source=str(path))
    if problems:
        raise InputError(problems)
    return specs


_AGE_NAME = re.compile(r"(?i)^(patient_?)?age(_?(years|yrs|at_?\w+))?$")


def default_hierarchy(values: pd.Series, field: Field | None = None) -> Hierarchy:
    """The hierarchy medsyn builds when none is given, chosen from the column's type and values.

    Dates → :func:`date_hierarchy`; ages (a numeric column called ``age``) → :func:`age_hierarchy`;
    other numbers → :func:`interval_hierarchy`; interval-like or ordered categories →
    :func:`ordinal_hierarchy`; many equal-length codes → :func:`prefix_hierarchy`; any other
    category → :func:`flat_hierarchy`.
    """
    name = str(values.name) if field is None else field.name
    kind = field.type if field is not None else None
    if kind is FieldType.DATETIME or pd.api.types.is_datetime64_any_dtype(values.dtype):
        return date_hierarchy(values, column=name)
    if kind is FieldType.BOOLEAN or pd.api.types.is_bool_dtype(values.dtype):
        return flat_hierarchy(values, column=name)
    numeric = pd.api.types.is_numeric_dtype(values.dtype) and not isinstance(values.dtype, pd.CategoricalDtype)
    if numeric and kind not in (FieldType.CATEGORICAL, FieldType.TEXT, FieldType.IDENTIFIER):
        finite = values.dropna()
        if _AGE_NAME.match(name) and (finite.empty or (finite.min() >= 0 and finite.max() <= 130)):
            return age_hierarchy(values, column=name)
        return interval_hierarchy(values, column=name)
    present = pd.unique(values.dropna())
    texts = [str(v) for v in present]
    if (isinstance(values.dtype, pd.CategoricalDtype) and values.cat.ordered) or (
        len(texts) > 2 and all(_INTERVAL_LABEL.match(t) for t in texts)
    ):
        return ordinal_hierarchy(values, column=name)
    lengths = {len(t) for t in texts}
    if len(texts) >= 20 and len(lengths) == 1 and lengths.pop() >= 3 and all(t.isalnum() for t in texts):
        return prefix_hierarchy(values, column=name)
    return flat_hierarchy(values, column=name)
