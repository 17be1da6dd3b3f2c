"""Conditions on records: "which rows?" written once, used by synthesis, rebalancing and reports.

A condition set is a conjunction of simple clauses on columns, written as text
(``sex == "F" and age >= 70 and diagnosis in {"AF", "flutter"}``), as a mapping
(``{"sex": "F", "diagnosis": ["AF", "flutter"]}``) or built from :class:`Condition` objects.
:meth:`Conditions.bind` checks the clauses against a :class:`~medsyn.data.Schema` and turns
the literal values into the column's type (all problems reported at once);
:meth:`Conditions.mask` evaluates them on a table, vectorised. Missing values satisfy no clause
except ``is missing`` (SQL semantics), so a condition never silently selects unknowns.

Grammar (case-insensitive keywords; ``,`` ``&`` and ``and`` all separate clauses outside braces)::

    clause   := column op value | value op column op value | column [not] in set
              | column is [not] missing
    op       := == | = | != | < | <= | > | >=
    set      := {v, v, ...} | [v, ...] | (v, ...) | v, v  (bare list only at the end)
    column   := word | `any text`            value := word | "text" | 'text'
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, cast

import numpy as np
import pandas as pd

from medsyn.errors import InputError, Problem

if TYPE_CHECKING:
    from medsyn.data.schema import Field, Schema

__all__ = ["Condition", "Conditions", "Op"]

Scalar = str | float | bool | pd.Timestamp


class Op(StrEnum):
    EQ = "=="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    IN = "in"
    NOT_IN = "not in"
    MISSING = "is missing"
    NOT_MISSING = "is not missing"


_FLIP = {Op.LT: Op.GT, Op.LE: Op.GE, Op.GT: Op.LT, Op.GE: Op.LE, Op.EQ: Op.EQ, Op.NE: Op.NE}
_ORDERED = frozenset({Op.LT, Op.LE, Op.GT, Op.GE})


@dataclass(frozen=True, slots=True)
class Condition:
    """One clause: ``column op value``; ``value`` is a tuple for ``in``/``not in``, ``None`` for missing."""

    column: str
    op: Op
    value: Scalar | tuple[Scalar, ...] | None = None

    def __str__(self) -> str:
        col = self.column if re.fullmatch(r"[A-Za-z_][\w.]*", self.column) else f"`{self.column}`"
        if self.op in (Op.MISSING, Op.NOT_MISSING):
            return f"{col} {self.op.value}"
        if isinstance(self.value, tuple):
            return f"{col} {self.op.value} {{{', '.join(_literal(v) for v in self.value)}}}"
        return f"{col} {self.op.value} {_literal(self.value)}"

    def to_dict(self) -> dict[str, object]:
        def plain(v: object) -> object:
            return v.isoformat() if isinstance(v, pd.Timestamp) else v

        value = [plain(v) for v in self.value] if isinstance(self.value, tuple) else plain(self.value)
        return {"column": self.column, "op": self.op.value, "value": value}


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, pd.Timestamp):
        return f'"{value.isoformat()}"'
    text = str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True, slots=True)
class Conditions:
    """A conjunction of :class:`Condition` s; empty means "every row".

    Examples
    --------
    >>> c = Conditions.parse('sex == "F" and age >= 70')
    >>> str(c)
    'sex == "F" and age >= 70'
    >>> import pandas as pd
    >>> c.mask(pd.DataFrame({"sex": ["F", "M", "F"], "age": [71, 80, 50]})).tolist()
    [True, False, False]
    """

    clauses: tuple[Condition, ...] = field(default_factory=tuple)

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def parse(cls, spec: ConditionsLike, *, source: str = "condition") -> Conditions:
        """Build from text, a mapping, a sequence of those, or return ``spec`` itself."""
        if spec is None:
            return cls()
        if isinstance(spec, Conditions):
            return spec
        if isinstance(spec, Condition):
            return cls((spec,))
        if isinstance(spec, str):
            return cls(tuple(_Parser(spec, source).clauses()))
        if isinstance(spec, Mapping):
            clauses: list[Condition] = []
            for column, value in spec.items():
                if isinstance(value, (list, tuple, set, frozenset)):
                    clauses.append(Condition(str(column), Op.IN, tuple(sorted(value, key=str))))
                elif value is None:
                    clauses.append(Condition(str(column), Op.MISSING))
                else:
                    clauses.append(Condition(str(column), Op.EQ, _python_scalar(value)))
            return cls(tuple(clauses))
        if isinstance(spec, Iterable):
            out: list[Condition] = []
            for i, part in enumerate(spec):
                # each part is validated by the recursive call (anything unparseable raises InputError)
                out.extend(cls.parse(cast(ConditionsLike, part), source=f"{source}[{i}]").clauses)
            return cls(tuple(out))
        raise InputError(Problem(source, f"a {type(spec).__name__}", "text, a mapping or a list of conditions"))

    def __and__(self, other: ConditionsLike) -> Conditions:
        return Conditions(self.clauses + Conditions.parse(other).clauses)

    def __bool__(self) -> bool:
        return bool(self.clauses)

    def __iter__(self) -> Iterator[Condition]:
        return iter(self.clauses)

    def __len__(self) -> int:
        return len(self.clauses)

    def __str__(self) -> str:
        return " and ".join(str(c) for c in self.clauses)

    @property
    def columns(self) -> list[str]:
        """Conditioned columns, in first-mention order."""
        return list(dict.fromkeys(c.column for c in self.clauses))

    def on(self, column: str) -> list[Condition]:
        return [c for c in self.clauses if c.column == column]

    def to_list(self) -> list[dict[str, object]]:
        return [c.to_dict() for c in self.clauses]

    @classmethod
    def from_list(cls, items: Sequence[Mapping[str, object]]) -> Conditions:
        out = []
        for item in items:
            value = item.get("value")
            typed = cast("Scalar | tuple[Scalar, ...] | None", tuple(value) if isinstance(value, list) else value)
            out.append(Condition(str(item["column"]), Op(str(item["op"])), typed))
        return cls(tuple(out))

    # -- typing against a schema ------------------------------------------------------------
    def bind(self, schema: Schema, *, source: str = "condition") -> Conditions:
        """Check every clause against ``schema`` and convert its values to the column's type.

        Raises :class:`InputError` listing every unknown column, value of the wrong type,
        category outside the field's categories, number outside its range, and column whose
        clauses no value can satisfy.
        """
        problems: list[Problem] = []
        bound: list[Condition] = []
        for clause in self.clauses:
            where = f"{source} '{clause}'"
            if clause.column not in schema:
                close = difflib.get_close_matches(clause.column, schema.names, n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"one of {schema.names}"
                problems.append(Problem(where, f"unknown column '{clause.column}'", hint))
                continue
            if clause.op in (Op.MISSING, Op.NOT_MISSING):
                bound.append(clause)
                continue
            fld = schema[clause.column]
            if clause.op in _ORDERED and fld.type.value not in ("numeric", "integer", "datetime"):
                problems.append(Problem(where, f"'{clause.op.value}' on {fld.type.value} column", "==, != or in"))
                continue
            values = clause.value if isinstance(clause.value, tuple) else (clause.value,)
            converted: list[Scalar] = []
            for value in values:
                try:
                    converted.append(_convert(value, fld, check_range=clause.op in (Op.EQ, Op.IN)))
                except InputError as exc:
                    problems.extend(replace(p, location=where) for p in exc.problems)
                    continue
            if len(converted) != len(values):
                continue
            new_value: Scalar | tuple[Scalar, ...] = (
                tuple(converted) if isinstance(clause.value, tuple) else converted[0]
            )
            bound.append(Condition(clause.column, clause.op, new_value))
        result = Conditions(tuple(bound))
        if not problems:
            for column in result.columns:
                if not _satisfiable(result.on(column), schema[column]):
                    problems.append(
                        Problem(
                            f"{source} on '{column}'",
                            " and ".join(str(c) for c in result.on(column)),
                            "clauses that some value of the column can satisfy",
                        )
                    )
        if problems:
            raise InputError(problems)
        return result

    # -- evaluation -------------------------------------------------------------------------
    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean array: which rows of ``frame`` satisfy every clause (missing satisfies none)."""
        keep = np.ones(len(frame), dtype=bool)
        for clause in self.clauses:
            if clause.column not in frame.columns:
                raise InputError(
                    Problem(f"condition '{clause}'", f"no column '{clause.column}'", "a column of the data")
                )
            keep &= _clause_mask(frame[clause.column], clause)
        return keep

    def interval(self, column: str) -> tuple[float, float, bool, bool]:
        """Numeric clauses on ``column`` as ``(low, high, low_closed, high_closed)``."""
        low, high, low_closed, high_closed = -math.inf, math.inf, False, False
        for c in self.on(column):
            if c.op in (Op.EQ, Op.GE, Op.GT) and isinstance(c.value, (int, float)) and not isinstance(c.value, bool):
                v = float(c.value)
                if v > low or (v == low and c.op == Op.GT):
                    low, low_closed = v, c.op != Op.GT
            if c.op in (Op.EQ, Op.LE, Op.LT) and isinstance(c.value, (int, float)) and not isinstance(c.value, bool):
                v = float(c.value)
                if v < high or (v == high and c.op == Op.LT):
                    high, high_closed = v, c.op != Op.LT
        return low, high, low_closed, high_closed

    def allowed(self, column: str, values: Sequence[object]) -> list[object]:
        """Which of ``values`` (e.g. a field's categories) satisfy every clause on ``column``."""
        series = pd.Series(list(values), dtype=object)
        keep = np.ones(len(series), dtype=bool)
        for c in self.on(column):
            keep &= _clause_mask(series, c)
        return [v for v, k in zip(values, keep, strict=True) if k]


ConditionsLike = Conditions | Condition | str | Mapping[str, object] | Sequence[object] | None


# -- evaluation helpers -------------------------------------------------------------------------
def _clause_mask(series: pd.Series, clause: Condition) -> np.ndarray:
    present = series.notna().to_numpy()
    if clause.op == Op.MISSING:
        return ~present
    if clause.op == Op.NOT_MISSING:
        return present
    values = clause.value if isinstance(clause.value, tuple) else (clause.value,)
    if any(isinstance(v, bool) for v in values) and not pd.api.types.is_bool_dtype(series.dtype):
        series = _boolean_text(series)  # "yes"/"no", 0/1, "T"/"F" compare as True/False
    if clause.op in (Op.IN, Op.NOT_IN, Op.EQ, Op.NE) and not _is_numberlike(series):
        # pandas-stubs does not accept na_value=None (NA -> None) in to_numpy
        text: np.ndarray = series.astype("string").to_numpy(dtype=object, na_value=None)  # type: ignore[call-overload]
        wanted = {_as_text(v) for v in values}
        hit = np.fromiter((t in wanted for t in text), dtype=bool, count=len(text))
        inside = hit if clause.op in (Op.IN, Op.EQ) else ~hit
        return inside & present
    data = _comparable(series)
    target = [_comparable_scalar(v, series) for v in values]
    with np.errstate(invalid="ignore"):
        if clause.op in (Op.IN, Op.EQ):
            out = np.isin(data, target)
        elif clause.op in (Op.NOT_IN, Op.NE):
            out = ~np.isin(data, target)
        elif clause.op == Op.LT:
            out = data < target[0]
        elif clause.op == Op.LE:
            out = data <= target[0]
        elif clause.op == Op.GT:
            out = data > target[0]
        else:
            out = data >= target[0]
    return np.asarray(out, dtype=bool) & present


_TRUE = frozenset({"true", "1", "1.0", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "0.0", "no", "n", "f"})


def _boolean_text(series: pd.Series) -> pd.Series:
    """A boolean column in its own spelling → "True"/"False" text (others missing)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    names = []
    for u in uniques:
        low = _as_text(u).strip().lower()
        names.append("True" if low in _TRUE else "False" if low in _FALSE else None)
    table = np.array([*names, None], dtype=object)
    return pd.Series(table[codes], index=series.index, dtype=object)


def _is_numberlike(series: pd.Series) -> bool:
    return bool(
        pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_datetime64_any_dtype(series.dtype)
    ) and not isinstance(series.dtype, pd.CategoricalDtype)


def _comparable(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series.to_numpy(dtype="datetime64[ns]").astype("int64").astype(float)
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=float, na_value=np.nan)
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype=float, na_value=np.nan)
    return pd.to_numeric(series.astype("string"), errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _comparable_scalar(value: object, series: pd.Series) -> float:
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return float(pd.Timestamp(value).as_unit("ns").value)  # type: ignore[arg-type]
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "yes"):
            return 1.0
        if low in ("false", "no"):
            return 0.0
        try:
            return float(value)
        except ValueError:
            return math.nan
    return float(value)  # type: ignore[arg-type]


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _python_scalar(value: object) -> Scalar:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(value)
    return str(value)


# -- typing helpers -----------------------------------------------------------------------------
def _convert(value: object, fld: Field, *, check_range: bool = True) -> Scalar:
    kind = fld.type.value
    where = f"column '{fld.name}'"
    if kind in ("numeric", "integer"):
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InputError(Problem(where, f"value {value!r}", f"a number ({kind} column)")) from None
        below = fld.minimum is not None and number < fld.minimum
        if check_range and (below or (fld.maximum is not None and number > fld.maximum)):
            raise InputError(
                Problem(where, f"value {_literal(number)} outside the column's range", f"{fld.minimum} – {fld.maximum}")
            )
        return number
    if kind == "boolean":
        text = str(value).strip().lower()
        if text in ("true", "1", "1.0", "yes", "y", "t"):
            return True
        if text in ("false", "0", "0.0", "no", "n", "f"):
            return False
        raise InputError(Problem(where, f"value {value!r}", "true or false (boolean column)"))
    if kind == "datetime":
        try:
            return pd.Timestamp(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InputError(Problem(where, f"value {value!r}", "a date such as 2020-01-31")) from None
    text = _as_text(value)
    if fld.categories is not None and text not in fld.categories:
        close = difflib.get_close_matches(text, fld.categories, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"one of {list(fld.categories)[:20]}"
        raise InputError(Problem(where, f"category '{text}' never seen in training", hint))
    return text


def _satisfiable(clauses: list[Condition], fld: Field) -> bool:
    if any(c.op == Op.MISSING for c in clauses):
        return all(c.op in (Op.MISSING, Op.NE, Op.NOT_IN) for c in clauses)
    if fld.categories is not None and fld.type.value in ("categorical", "boolean"):
        return bool(Conditions(tuple(clauses)).allowed(fld.name, list(fld.categories)))
    if fld.type.value == "boolean":
        return bool(Conditions(tuple(clauses)).allowed(fld.name, [True, False]))
    if fld.type.value in ("numeric", "integer", "datetime"):
        nums = [  # dates compare as days since 1970, the unit of a date field's bounds
            replace(c, value=c.value.as_unit("ns").value / 86_400e9 if isinstance(c.value, pd.Timestamp) else c.value)
            for c in clauses
            if c.op in _ORDERED or c.op == Op.EQ
        ]
        low, high, lc, hc = Conditions(tuple(nums)).interval(fld.name)
        if fld.minimum is not None and fld.minimum > low:
            low, lc = fld.minimum, True
        if fld.maximum is not None and fld.maximum < high:
            high, hc = fld.maximum, True
        if low > high or (low == high and not (lc and hc)):
            return False
        if fld.type.value == "integer" and math.isfinite(low) and math.isfinite(high):
            first = math.ceil(low) if lc else math.floor(low) + 1
            last = math.floor(high) if hc else math.ceil(high) - 1
            return first <= last
        return True
    in_sets = [set(map(_as_text, c.value)) for c in clauses if c.op == Op.IN and isinstance(c.value, tuple)]
    eqs = [{_as_text(c.value)} for c in clauses if c.op == Op.EQ]
    common = set.intersection(*(in_sets + eqs)) if in_sets + eqs else None
    if common is None:
        return True
    excluded = {_as_text(c.value) for c in clauses if c.op == Op.NE}
    for c in clauses:
        if c.op == Op.NOT_IN and isinstance(c.value, tuple):
            excluded |= set(map(_as_text, c.value))
    return bool(common - excluded)


# -- parser -------------------------------------------------------------------------------------
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<quoted>`[^`]+`)
      | (?P<op>==|!=|<=|>=|=|<|>)
      | (?P<punct>[{}\[\](),&])
      | (?P<word>[^\s"'`{}\[\](),&=<>!]+)
    )""",
    re.VERBOSE,
)


@dataclass
class _Token:
    kind: str
    text: str
    pos: int

    def keyword(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words


class _Parser:
    """Recursive-descent parser for the grammar in the module docstring."""

    def __init__(self, text: str, source: str) -> None:
        self.text, self.source = text, source
        self.tokens: list[_Token] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                self.fail(pos, f"unexpected character {text[pos:].lstrip()[:1]!r}")
            assert m is not None
            kind = m.lastgroup or "word"
            self.tokens.append(_Token(kind, m.group(kind), m.start(kind)))
            pos = m.end()
        self.i = 0

    def fail(self, pos: int, found: str) -> None:
        pointer = f"{self.text}\n{' ' * pos}^"
        raise InputError(
            Problem(
                f"{self.source} at character {pos + 1}",
                f"{found}\n{pointer}",
                'clauses like sex == "F", age >= 70, dx in {AF, flutter}, x is missing, joined by "and"',
            )
        )

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Token:
        tok = self.peek()
        if tok is None:
            self.fail(len(self.text), "end of text")
        assert tok is not None
        self.i += 1
        return tok

    def clauses(self) -> list[Condition]:
        out: list[Condition] = []
        if not self.tokens:
            self.fail(0, "an empty condition")
        while True:
            out.extend(self.clause())
            tok = self.peek()
            if tok is None:
                return out
            if tok.keyword("and") or tok.text in ("&", ","):
                self.i += 1
                continue
            self.fail(tok.pos, f"{tok.text!r} where 'and' or the end was expected")

    def operand(self) -> tuple[str, Scalar | None]:
        """A column name or a literal; returns (name_or_text, literal_or_None_if_bare)."""
        tok = self.take()
        if tok.kind == "string":
            return _unquote(tok.text), _unquote(tok.text)
        if tok.kind == "quoted":
            return tok.text[1:-1], None
        if tok.kind == "word":
            return tok.text, None
        self.fail(tok.pos, f"{tok.text!r} where a column or value was expected")
        raise AssertionError

    def clause(self) -> list[Condition]:
        start = self.peek()
        left, left_literal = self.operand()
        tok = self.take()
        if tok.keyword("is"):
            negate = bool(self.peek() and self.peek().keyword("not"))  # type: ignore[union-attr]
            if negate:
                self.i += 1
            end = self.take()
            if not end.keyword("missing", "null", "na", "nan"):
                self.fail(end.pos, f"{end.text!r} after 'is'")
            return [Condition(left, Op.NOT_MISSING if negate else Op.MISSING)]
        if tok.keyword("not"):
            nxt = self.take()
            if not nxt.keyword("in"):
                self.fail(nxt.pos, f"{nxt.text!r} after 'not'")
            return [Condition(left, Op.NOT_IN, self.value_set())]
        if tok.keyword("in"):
            return [Condition(left, Op.IN, self.value_set())]
        if tok.kind != "op":
            self.fail(tok.pos, f"{tok.text!r} where an operator (==, !=, <, <=, >, >=, in) was expected")
        op1 = Op.EQ if tok.text == "=" else Op(tok.text)
        middle, middle_literal = self.operand()
        after = self.peek()
        if after is not None and after.kind == "op":  # chained: 40 <= age < 70
            self.i += 1
            op2 = Op.EQ if after.text == "=" else Op(after.text)
            right, _ = self.operand()
            if op1 not in _ORDERED or op2 not in _ORDERED or middle_literal is not None:
                pos = start.pos if start else 0
                self.fail(pos, "a chained comparison that is not 'low < column < high'")
            return [
                Condition(middle, _FLIP[op1], _bare_value(left, left_literal)),
                Condition(middle, op2, _bare_value(right, None)),
            ]
        if left_literal is not None and middle_literal is None:  # "F" == sex
            return [Condition(middle, _FLIP[op1], left_literal)]
        return [Condition(left, op1, _bare_value(middle, middle_literal))]

    def value_set(self) -> tuple[Scalar, ...]:
        tok = self.peek()
        values: list[Scalar] = []
        if tok is not None and tok.text in ("{", "[", "("):
            closing = {"{": "}", "[": "]", "(": ")"}[tok.text]
            self.i += 1
            while True:
                item = self.take()
                if item.text == closing and item.kind == "punct":
                    break
                if item.text == "," and item.kind == "punct":
                    continue
                if item.kind not in ("string", "word"):
                    self.fail(item.pos, f"{item.text!r} inside a set")
                values.append(_unquote(item.text) if item.kind == "string" else _bare_value(item.text, None))
        else:  # bare list: only valid as the last clause (a comma would otherwise separate clauses)
            while True:
                item = self.take()
                if item.kind not in ("string", "word"):
                    self.fail(item.pos, f"{item.text!r} where a value was expected")
                values.append(_unquote(item.text) if item.kind == "string" else _bare_value(item.text, None))
                nxt = self.peek()
                if nxt is None or nxt.text != ",":
                    break
                self.i += 1
        if not values:
            self.fail(tok.pos if tok else len(self.text), "an empty set")
        return tuple(values)


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def _bare_value(text: str, literal: Scalar | None) -> Scalar:
    """A bare word stays text; typing happens in :meth:`Conditions.bind` (or numerically in ``mask``)."""
    if literal is not None:
        return literal
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text
