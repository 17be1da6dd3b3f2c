"""Constraints every record must satisfy: rules of medicine that synthetic rows may not break.

``systolic > diastolic``, ``admission <= discharge``, ``0 <= bmi <= 80``, ``a + b == total``,
"only (drug, dose) pairs seen in the data" and custom predicates. A constraint can say which
rows break it (:meth:`Constraint.is_valid`, vectorised) and, where a natural fix exists, repair
them (:meth:`Constraint.repair`). Generators guarantee them by rejection then repair; a row
that can be neither is never returned. Constraints are declared in a schema YAML under
``constraints:`` as text (``"systolic > diastolic"``) or mappings (``{kind: inequality, low:
diastolic, high: systolic, strict: true}``), or passed in from Python.

Missing values are never a violation: a rule between two columns speaks only where both exist.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from medsyn._registry import Registry
from medsyn.errors import InputError, Problem

if TYPE_CHECKING:
    from medsyn.data.schema import Schema

__all__ = [
    "CONSTRAINTS",
    "Constraint",
    "FixedCombinations",
    "Inequality",
    "Predicate",
    "Range",
    "Sum",
    "check_consistent",
    "parse_constraint",
    "parse_constraints",
]

_ORDERABLE = ("numeric", "integer", "datetime")


class Constraint(ABC):
    """A rule over one or more columns; subclasses register under a ``kind`` name."""

    kind: ClassVar[str]

    @property
    @abstractmethod
    def columns(self) -> tuple[str, ...]: ...

    @abstractmethod
    def is_valid(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean array: rows that satisfy the rule (rows with a missing operand count as valid)."""

    def repair(self, frame: pd.DataFrame) -> pd.DataFrame | None:
        """A copy of ``frame`` with broken rows fixed, or ``None`` when the rule has no natural fix."""
        return None

    def fit(self, frame: pd.DataFrame) -> Constraint:
        """Learn what the rule needs from training data (only :class:`FixedCombinations` does)."""
        return self

    def check(self, schema: Schema) -> list[Problem]:
        """Problems with this rule against ``schema``: unknown columns, wrong types."""
        problems = []
        for col in self.columns:
            if col not in schema:
                problems.append(Problem(f"constraint '{self}'", f"unknown column '{col}'", f"one of {schema.names}"))
        return problems

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "rule": str(self)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


def _check_orderable(self: Constraint, schema: Schema) -> list[Problem]:
    problems = Constraint.check(self, schema)
    for col in self.columns:
        if col in schema and schema[col].type.value not in _ORDERABLE:
            problems.append(
                Problem(
                    f"constraint '{self}'", f"column '{col}' is {schema[col].type.value}", "a numeric or date column"
                )
            )
    return problems


def _numeric(frame: pd.DataFrame, col: str) -> np.ndarray:
    s = frame[col]
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        out = s.to_numpy(dtype="datetime64[ns]").astype("int64").astype(float)
        out[s.isna().to_numpy()] = np.nan
        return out
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


@dataclass(frozen=True, repr=False)
class Inequality(Constraint):
    """``low <= high`` (or ``<`` when ``strict``) between two numeric or date columns."""

    low: str
    high: str
    strict: bool = False
    kind: ClassVar[str] = "inequality"

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.low, self.high)

    def __str__(self) -> str:
        return f"{self.high} {'>' if self.strict else '>='} {self.low}"

    def check(self, schema: Schema) -> list[Problem]:
        return _check_orderable(self, schema)

    def is_valid(self, frame: pd.DataFrame) -> np.ndarray:
        lo, hi = _numeric(frame, self.low), _numeric(frame, self.high)
        with np.errstate(invalid="ignore"):
            ok = hi > lo if self.strict else hi >= lo
        return np.asarray(ok | np.isnan(lo) | np.isnan(hi), dtype=bool)

    def repair(self, frame: pd.DataFrame) -> pd.DataFrame | None:
        """Swap the two values where they are the wrong way round (keeps both marginals)."""
        lo, hi = _numeric(frame, self.low), _numeric(frame, self.high)
        with np.errstate(invalid="ignore"):
            flip = lo > hi
        if not flip.any():
            return frame
        out = frame.copy()
        low_values = out.loc[flip, self.low].to_numpy()
        out.loc[flip, self.low] = out.loc[flip, self.high].to_numpy()
        out.loc[flip, self.high] = low_values
        return out


@dataclass(frozen=True, repr=False)
class Range(Constraint):
    """``minimum <= column <= maximum`` (either side optional)."""

    column: str
    minimum: float | None = None
    maximum: float | None = None
    kind: ClassVar[str] = "range"

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    def __str__(self) -> str:
        if self.minimum is not None and self.maximum is not None:
            return f"{_num(self.minimum)} <= {self.column} <= {_num(self.maximum)}"
        if self.minimum is not None:
            return f"{self.column} >= {_num(self.minimum)}"
        return f"{self.column} <= {_num(self.maximum)}"

    def check(self, schema: Schema) -> list[Problem]:
        problems = _check_orderable(self, schema)
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            problems.append(Problem(f"constraint '{self}'", "minimum above maximum", "minimum <= maximum"))
        return problems

    def is_valid(self, frame: pd.DataFrame) -> np.ndarray:
        x = _numeric(frame, self.column)
        ok = np.ones(len(x), dtype=bool)
        with np.errstate(invalid="ignore"):
            if self.minimum is not None:
                ok &= ~(x < self.minimum)
            if self.maximum is not None:
                ok &= ~(x > self.maximum)
        return ok

    def repair(self, frame: pd.DataFrame) -> pd.DataFrame | None:
        if pd.api.types.is_datetime64_any_dtype(frame[self.column].dtype):
            return None
        out = frame.copy()
        out[self.column] = out[self.column].clip(lower=self.minimum, upper=self.maximum)
        return out


@dataclass(frozen=True, repr=False)
class Sum(Constraint):
    """``parts[0] + parts[1] + … == total`` where ``total`` is a column or a number (within ``tolerance``)."""

    parts: tuple[str, ...]
    total: str | float
    tolerance: float = 1e-6
    kind: ClassVar[str] = "sum"

    @property
    def columns(self) -> tuple[str, ...]:
        return self.parts + ((self.total,) if isinstance(self.total, str) else ())

    def __str__(self) -> str:
        total = self.total if isinstance(self.total, str) else _num(self.total)
        return f"{' + '.join(self.parts)} == {total}"

    def check(self, schema: Schema) -> list[Problem]:
        return _check_orderable(self, schema)

    def _total(self, frame: pd.DataFrame) -> np.ndarray:
        if isinstance(self.total, str):
            return _numeric(frame, self.total)
        return np.full(len(frame), float(self.total))

    def is_valid(self, frame: pd.DataFrame) -> np.ndarray:
        parts = np.column_stack([_numeric(frame, c) for c in self.parts])
        total = self._total(frame)
        missing = np.isnan(parts).any(axis=1) | np.isnan(total)
        scale = np.maximum(1.0, np.abs(total))
        with np.errstate(invalid="ignore"):
            return np.asarray(missing | (np.abs(parts.sum(axis=1) - total) <= self.tolerance * scale), dtype=bool)

    def repair(self, frame: pd.DataFrame) -> pd.DataFrame | None:
        """A total column is recomputed from its parts; a fixed total rescales the parts."""
        out = frame.copy()
        parts = np.column_stack([_numeric(frame, c) for c in self.parts])
        if isinstance(self.total, str):
            if pd.api.types.is_integer_dtype(out[self.total].dtype) and not np.isnan(parts).any():
                out[self.total] = parts.sum(axis=1).round().astype(out[self.total].dtype)
            else:
                out[self.total] = parts.sum(axis=1)
            return out
        sums = parts.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            factor = np.where(sums != 0, float(self.total) / sums, np.nan)
        for i, col in enumerate(self.parts):
            if pd.api.types.is_integer_dtype(out[col].dtype):
                return None  # rescaling whole numbers cannot hit an exact total in general
            out[col] = parts[:, i] * factor
        return out


@dataclass(frozen=True, repr=False)
class FixedCombinations(Constraint):
    """Only combinations of ``columns`` seen in the training data (e.g. drug and its dose form)."""

    combo_columns: tuple[str, ...]
    seen: frozenset[tuple[str, ...]] = field(default=frozenset())
    kind: ClassVar[str] = "fixed_combinations"

    @property
    def columns(self) -> tuple[str, ...]:
        return self.combo_columns

    def __str__(self) -> str:
        return f"fixed({', '.join(self.combo_columns)})"

    def _keys(self, frame: pd.DataFrame) -> list[tuple[str, ...]]:
        cols = [frame[c].astype("string").fillna("<NA>").to_numpy(dtype=object) for c in self.combo_columns]
        return list(zip(*cols, strict=True))

    def fit(self, frame: pd.DataFrame) -> FixedCombinations:
        return FixedCombinations(self.combo_columns, frozenset(self._keys(frame)))

    def is_valid(self, frame: pd.DataFrame) -> np.ndarray:
        if not self.seen:
            return np.ones(len(frame), dtype=bool)
        return np.fromiter((k in self.seen for k in self._keys(frame)), dtype=bool, count=len(frame))

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "seen": sorted(list(k) for k in self.seen)}


@dataclass(frozen=True, repr=False)
class Predicate(Constraint):
    """A custom rule: ``function(frame) -> boolean array``. Python only; it cannot be saved with a model."""

    function: Callable[[pd.DataFrame], np.ndarray | pd.Series]
    name: str
    uses: tuple[str, ...] = ()
    kind: ClassVar[str] = "predicate"

    @property
    def columns(self) -> tuple[str, ...]:
        return self.uses

    def __str__(self) -> str:
        return f"predicate({self.name})"

    def is_valid(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.asarray(self.function(frame), dtype=bool)
        if out.shape != (len(frame),):
            raise InputError(
                Problem(f"constraint '{self}'", f"returned shape {out.shape}", f"one boolean per row ({len(frame)},)")
            )
        return out

    def to_dict(self) -> dict[str, object]:
        raise InputError(
            Problem(f"constraint '{self}'", "a Python function", "a rule that can be saved", fix="pass it to sample()")
        )


CONSTRAINTS = Registry[type[Constraint]]("constraint")
for _cls in (Inequality, Range, Sum, FixedCombinations, Predicate):
    CONSTRAINTS.add(_cls.kind, _cls)


def _num(value: float | None) -> str:
    assert value is not None
    return str(int(value)) if float(value).is_integer() else repr(float(value))


# -- parsing ------------------------------------------------------------------------------------
_NAME = r"[A-Za-z_][\w.]*|`[^`]+`"
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_CMP = r"<=|>=|<|>"


def _name(text: str) -> str:
    return text[1:-1] if text.startswith("`") else text


def parse_constraint(spec: str | Mapping[str, object] | Constraint, *, source: str = "constraint") -> Constraint:
    """One constraint from text (``"sbp > dbp"``, ``"0 <= bmi <= 80"``, ``"a + b == c"``,
    ``"fixed(drug, form)"``), a mapping (``{kind: inequality, low: dbp, high: sbp}``) or itself."""
    if isinstance(spec, Constraint):
        return spec
    if isinstance(spec, Mapping):
        return _from_mapping(spec, source)
    if not isinstance(spec, str):
        raise InputError(
            Problem(source, f"a {type(spec).__name__}", "text such as 'systolic > diastolic' or a mapping")
        )
    text = spec.strip()
    m = re.fullmatch(r"fixed\s*\((.+)\)", text, flags=re.IGNORECASE)
    if m:
        cols = tuple(_name(c.strip()) for c in m.group(1).split(","))
        return FixedCombinations(cols)
    m = re.fullmatch(rf"({_NUMBER})\s*(<=|<)\s*({_NAME})\s*(<=|<)\s*({_NUMBER})", text)
    if m:
        return Range(_name(m.group(3)), float(m.group(1)), float(m.group(5)))
    m = re.fullmatch(rf"((?:{_NAME})(?:\s*\+\s*(?:{_NAME}))+)\s*==?\s*({_NAME}|{_NUMBER})", text)
    if m:
        parts = tuple(_name(p.strip()) for p in m.group(1).split("+"))
        raw_total = m.group(2)
        total: str | float = float(raw_total) if re.fullmatch(_NUMBER, raw_total) else _name(raw_total)
        return Sum(parts, total)
    m = re.fullmatch(rf"({_NAME}|{_NUMBER})\s*({_CMP})\s*({_NAME}|{_NUMBER})", text)
    if m:
        left, op, right = m.group(1), m.group(2), m.group(3)
        left_num, right_num = re.fullmatch(_NUMBER, left), re.fullmatch(_NUMBER, right)
        if left_num and right_num:
            pass
        elif right_num or left_num:
            col, value = (_name(left), float(right)) if right_num else (_name(right), float(left))
            upper = (op in ("<", "<=")) == bool(right_num)
            return Range(col, maximum=value) if upper else Range(col, minimum=value)
        else:
            low, high = (_name(left), _name(right)) if op in ("<", "<=") else (_name(right), _name(left))
            return Inequality(low, high, strict=op in ("<", ">"))
    raise InputError(
        Problem(
            source,
            f"rule {text!r}",
            "'a > b', 'a <= b', '0 <= a <= 10', 'a >= 0', 'a + b == c' or 'fixed(a, b)'",
        )
    )


def _from_mapping(spec: Mapping[str, object], source: str) -> Constraint:
    kind = str(spec.get("kind", ""))
    if "rule" in spec and kind != "fixed_combinations":
        return parse_constraint(str(spec["rule"]), source=source)
    try:
        if kind == "inequality":
            return Inequality(str(spec["low"]), str(spec["high"]), bool(spec.get("strict", False)))
        if kind == "range":
            lo, hi = spec.get("minimum"), spec.get("maximum")
            return Range(str(spec["column"]), None if lo is None else float(lo), None if hi is None else float(hi))  # type: ignore[arg-type]
        if kind == "sum":
            total = spec["total"]
            parts = spec["parts"]
            assert isinstance(parts, Sequence)
            return Sum(tuple(map(str, parts)), total if isinstance(total, str) else float(total))  # type: ignore[arg-type]
        if kind == "fixed_combinations":
            cols = spec.get("columns") or re.findall(r"[^\s(),]+", str(spec.get("rule", "")))[1:]
            seen = spec.get("seen") or []
            assert isinstance(cols, Sequence)
            assert isinstance(seen, Sequence)
            return FixedCombinations(tuple(map(str, cols)), frozenset(tuple(map(str, k)) for k in seen))  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError, AssertionError) as exc:
        raise InputError(Problem(source, f"{dict(spec)} ({exc})", f"the keys of a '{kind}' constraint")) from None
    raise InputError(Problem(source, f"kind {kind!r}", f"one of {CONSTRAINTS.names()} or a 'rule' text"))


def parse_constraints(
    specs: Iterable[str | Mapping[str, object] | Constraint] | None, *, source: str = "constraints"
) -> tuple[Constraint, ...]:
    """Parse many; every bad entry is reported at once."""
    out: list[Constraint] = []
    problems: list[Problem] = []
    for i, spec in enumerate(specs or ()):
        try:
            out.append(parse_constraint(spec, source=f"{source}[{i}]"))
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return tuple(out)


def check_consistent(constraints: Sequence[Constraint], schema: Schema) -> None:
    """Raise :class:`InputError` when the rules break the schema or contradict each other.

    Contradictions are found by propagating bounds along the inequalities (from the schema's
    ranges and the :class:`Range` rules) and by looking for a cycle of inequalities with a strict
    step (``a > b`` and ``b > a``).
    """
    problems = [p for c in constraints for p in c.check(schema)]
    if problems:
        raise InputError(problems)
    lo: dict[str, float] = {}
    hi: dict[str, float] = {}
    for f in schema:
        if f.is_numeric:
            lo[f.name] = -np.inf if f.minimum is None else f.minimum
            hi[f.name] = np.inf if f.maximum is None else f.maximum
    for c in constraints:
        if isinstance(c, Range) and c.column in lo:
            lo[c.column] = max(lo[c.column], -np.inf if c.minimum is None else c.minimum)
            hi[c.column] = min(hi[c.column], np.inf if c.maximum is None else c.maximum)
    ineqs = [c for c in constraints if isinstance(c, Inequality)]
    for _ in range(len(ineqs) + 1):
        for c in ineqs:
            if c.low in lo and c.high in lo:
                lo[c.high] = max(lo[c.high], lo[c.low])
                hi[c.low] = min(hi[c.low], hi[c.high])
    for name in lo:
        if lo[name] > hi[name]:
            involved = [str(c) for c in constraints if name in c.columns]
            problems.append(
                Problem(
                    f"constraints on '{name}'",
                    f"{', '.join(involved)} leave no value (needs >= {lo[name]:g} and <= {hi[name]:g})",
                    "rules that some row can satisfy",
                )
            )
    edges: dict[str, list[tuple[str, bool]]] = {}
    for c in ineqs:
        edges.setdefault(c.low, []).append((c.high, c.strict))
    cycle = _strict_cycle(edges)
    if cycle:
        problems.append(
            Problem("constraints", f"a cycle {' <= '.join(cycle)} with a strict step", "inequalities without a cycle")
        )
    if problems:
        raise InputError(problems)


def _strict_cycle(edges: Mapping[str, list[tuple[str, bool]]]) -> list[str] | None:
    """A cycle in the ``low → high`` graph containing a strict edge, if any (plain DFS)."""
    for start in edges:
        stack: list[tuple[str, list[str], bool]] = [(start, [start], False)]
        while stack:
            node, path, strict = stack.pop()
            for nxt, s in edges.get(node, []):
                if nxt == start and (strict or s):
                    return [*path, start]
                if nxt not in path:
                    stack.append((nxt, [*path, nxt], strict or s))
    return None
