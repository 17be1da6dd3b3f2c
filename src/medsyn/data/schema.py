"""The data dictionary: one :class:`Field` per column, with its type, unit, range and role.

A :class:`Schema` is what every other part of medsyn reads to know what a column *means*:
anonymisation looks for ``quasi_identifier`` fields, fairness for ``protected`` ones, synthesis
keeps ``categories`` and ranges, the audit checks values against them. It is inferred from data
(:mod:`medsyn.data.inference`), overridden from YAML, and exported as YAML, JSON or Markdown.

The YAML shape lists only what differs from inference, keyed by column::

    fields:
      age: {type: integer, role: quasi_identifier, unit: years}
      readmitted: {role: target}
      sex: {role: [protected, quasi_identifier], categories: [F, M]}
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import Self

import pandas as pd
import yaml

from medsyn.data.constraints import Constraint, parse_constraints
from medsyn.errors import InputError, Problem, SchemaError

__all__ = ["Field", "FieldType", "Role", "Schema"]


class FieldType(StrEnum):
    """Logical type of a column, independent of how it is stored."""

    NUMERIC = "numeric"
    INTEGER = "integer"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    TEXT = "text"
    IDENTIFIER = "identifier"


class Role(StrEnum):
    """What a column is *for*; a column may hold several roles (sex: protected + quasi-identifier)."""

    IDENTIFIER = "identifier"
    QUASI_IDENTIFIER = "quasi_identifier"
    SENSITIVE = "sensitive"
    PROTECTED = "protected"
    TARGET = "target"
    FEATURE = "feature"
    CONSENT = "consent"


_NUMERIC_TYPES = frozenset({FieldType.NUMERIC, FieldType.INTEGER})


@dataclass(frozen=True, slots=True)
class Field:
    """One column of the data dictionary.

    Parameters
    ----------
    name
        Column name as it appears in the data.
    type
        Logical type.
    roles
        One or more roles; ``feature`` when nothing else applies.
    unit, description
        Free text shown in reports and the Markdown dictionary.
    minimum, maximum
        Allowed range for numeric and integer fields (inclusive); ``None`` means unbounded. Date
        fields store bounds as days since 1970-01-01 (a schema YAML may write them as dates).
    categories
        Allowed values of a categorical field, as strings, in display order.
    nullable
        Whether missing values are allowed at all.
    reason
        Why inference chose this type/role, so a reviewer can check it.
    """

    name: str
    type: FieldType
    roles: tuple[Role, ...] = (Role.FEATURE,)
    unit: str | None = None
    description: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    categories: tuple[str, ...] | None = None
    nullable: bool = True
    reason: str | None = None

    @property
    def role(self) -> Role:
        """The primary role (the first listed)."""
        return self.roles[0]

    def has_role(self, role: Role | str) -> bool:
        return Role(role) in self.roles

    @property
    def is_numeric(self) -> bool:
        return self.type in _NUMERIC_TYPES

    def to_dict(self, *, full: bool = True) -> dict[str, object]:
        """Plain-data form; ``full=False`` drops empty entries (the YAML override shape)."""
        out: dict[str, object] = {
            "type": self.type.value,
            "role": self.roles[0].value if len(self.roles) == 1 else [r.value for r in self.roles],
        }
        for key in ("unit", "description", "minimum", "maximum"):
            value = getattr(self, key)
            if full or value is not None:
                out[key] = value
        if full or self.categories is not None:
            out["categories"] = list(self.categories) if self.categories is not None else None
        if full or not self.nullable:
            out["nullable"] = self.nullable
        if full or self.reason:
            out["reason"] = self.reason
        return out


_FIELD_KEYS = frozenset(f.name for f in fields(Field)) - {"name", "roles"} | {"role"}


def _date_as_days(value: object) -> float | None:
    """A date bound (``2020-01-31`` in YAML) as days since 1970-01-01, how date fields store bounds."""
    import datetime as dt

    if isinstance(value, (dt.date, dt.datetime)) or (
        isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\d.*", value)
    ):
        try:
            stamp = pd.Timestamp(value)
        except ValueError:
            return None
        return float(stamp.as_unit("ns").value) / 86_400e9
    return None


def _parse_field(
    name: str, spec: Mapping[str, object], base: Field | None, where: str
) -> tuple[Field | None, list[Problem]]:
    """Build a Field from a YAML/JSON mapping, on top of ``base`` when overriding."""
    problems: list[Problem] = []
    loc = f"{where}: fields.{name}"
    unknown = sorted(set(spec) - _FIELD_KEYS)
    if unknown:
        problems.append(Problem(loc, f"unknown key(s) {unknown}", f"one of {sorted(_FIELD_KEYS)}"))
    changes: dict[str, object] = {}
    if "type" in spec:
        try:
            changes["type"] = FieldType(str(spec["type"]))
        except ValueError:
            problems.append(Problem(f"{loc}.type", repr(spec["type"]), f"one of {[t.value for t in FieldType]}"))
    if "role" in spec:
        raw = spec["role"]
        items = raw if isinstance(raw, list) else [raw]
        roles: list[Role] = []
        for item in items:
            try:
                roles.append(Role(str(item)))
            except ValueError:
                problems.append(Problem(f"{loc}.role", repr(item), f"one of {[r.value for r in Role]}"))
        if roles:
            changes["roles"] = tuple(dict.fromkeys(roles))
    for key in ("unit", "description", "reason"):
        if key in spec:
            changes[key] = None if spec[key] is None else str(spec[key])
    for key in ("minimum", "maximum"):
        if key in spec and spec[key] is not None:
            value = spec[key]
            as_days = _date_as_days(value)
            if as_days is not None:
                changes[key] = as_days
            elif isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(Problem(f"{loc}.{key}", repr(value), "a number (or a date for a date column)"))
            else:
                changes[key] = float(value)
        elif key in spec:
            changes[key] = None
    if "categories" in spec:
        cats = spec["categories"]
        if cats is None:
            changes["categories"] = None
        elif isinstance(cats, list):
            changes["categories"] = tuple(str(c) for c in cats)
        else:
            problems.append(Problem(f"{loc}.categories", repr(cats), "a list of values"))
    if "nullable" in spec:
        if isinstance(spec["nullable"], bool):
            changes["nullable"] = spec["nullable"]
        else:
            problems.append(Problem(f"{loc}.nullable", repr(spec["nullable"]), "true or false"))
    if problems:
        return None, problems
    if base is None:
        if "type" not in changes:
            return None, [Problem(loc, "no 'type' for a field that is not in the data", "a type")]
        base = Field(name=name, type=changes.pop("type"))  # type: ignore[arg-type]
    result = replace(base, **changes)  # type: ignore[arg-type]
    if result.minimum is not None and result.maximum is not None and result.minimum > result.maximum:
        problems.append(Problem(loc, f"minimum {result.minimum} > maximum {result.maximum}", "minimum <= maximum"))
    return result, problems


@dataclass(frozen=True, slots=True)
class Schema:
    """An ordered, immutable collection of :class:`Field` s, looked up by column name.

    Examples
    --------
    >>> s = Schema((Field("age", FieldType.INTEGER, (Role.PROTECTED,), unit="years"),))
    >>> s["age"].unit
    'years'
    >>> [f.name for f in s.by_role("protected")]
    ['age']
    """

    fields: tuple[Field, ...] = field(default_factory=tuple)
    constraints: tuple[Constraint, ...] = ()

    def __post_init__(self) -> None:
        seen: set[str] = set()
        dupes = [f.name for f in self.fields if f.name in seen or seen.add(f.name)]  # type: ignore[func-returns-value]
        if dupes:
            raise SchemaError([Problem("schema", f"duplicate field name '{d}'", "unique names") for d in dupes])

    # -- lookup -----------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise SchemaError(Problem(f"schema field '{name}'", "not present", f"one of {self.names}"))

    def __contains__(self, name: object) -> bool:
        return any(f.name == name for f in self.fields)

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def by_role(self, role: Role | str) -> list[Field]:
        """Fields holding ``role``, in schema order."""
        wanted = Role(role)
        return [f for f in self.fields if wanted in f.roles]

    def by_type(self, *types: FieldType | str) -> list[Field]:
        wanted = {FieldType(t) for t in types}
        return [f for f in self.fields if f.type in wanted]

    def select(self, names: Iterable[str]) -> Schema:
        """A schema with only ``names``, in the given order."""
        names = list(names)
        kept = tuple(c for c in self.constraints if set(c.columns) <= set(names))
        return Schema(tuple(self[n] for n in names), kept)

    def replace_field(self, new: Field) -> Schema:
        return Schema(tuple(new if f.name == new.name else f for f in self.fields), self.constraints)

    def with_constraints(self, constraints: tuple[Constraint, ...]) -> Schema:
        """This schema with ``constraints`` (see :mod:`medsyn.data.constraints`) instead of its own."""
        return Schema(self.fields, tuple(constraints))

    # -- overrides --------------------------------------------------------------------------
    def with_overrides(self, overrides: Mapping[str, object], *, source: str = "overrides") -> Schema:
        """Apply a ``{"fields": {col: {...}}}`` mapping (the YAML shape) on top of this schema.

        Every problem (unknown column, bad type, bad role) is collected and raised once as
        :class:`SchemaError` naming ``source``.
        """
        if not isinstance(overrides, Mapping):
            raise SchemaError(
                Problem(source, f"top level is {type(overrides).__name__}", "a mapping with key 'fields'")
            )
        extra = sorted(set(overrides) - {"fields", "constraints"})
        problems = [Problem(source, f"unknown top-level key(s) {extra}", "'fields' and 'constraints'")] if extra else []
        specs = overrides.get("fields") or {}
        if not isinstance(specs, Mapping):
            raise SchemaError(Problem(f"{source}: fields", f"a {type(specs).__name__}", "a mapping column -> settings"))
        current = {f.name: f for f in self.fields}
        for name, spec in specs.items():
            name = str(name)
            if not isinstance(spec, Mapping):
                problems.append(Problem(f"{source}: fields.{name}", repr(spec), "a mapping such as {role: target}"))
                continue
            if name not in current:
                problems.append(
                    Problem(f"{source}: fields.{name}", "no such column in the data", f"one of {self.names}")
                )
                continue
            new, found = _parse_field(name, spec, current[name], source)
            problems.extend(found)
            if new is not None:
                current[name] = replace(new, reason=new.reason if "reason" in spec else "set in " + source)
        constraints = self.constraints
        if overrides.get("constraints") is not None:
            try:
                constraints = _parse_constraint_list(overrides["constraints"], source)
            except InputError as exc:
                problems.extend(exc.problems)
        if problems:
            raise SchemaError(problems)
        return Schema(tuple(current[f.name] for f in self.fields), constraints)

    def with_yaml(self, path: str | Path) -> Schema:
        """Apply the overrides in a YAML file (see the module docstring for its shape)."""
        path = Path(path)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SchemaError(Problem(str(path), "file not found", "a schema YAML file")) from None
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise SchemaError(Problem(str(path), f"not valid YAML ({exc})", "a YAML mapping")) from None
        return self.with_overrides(loaded or {}, source=str(path))

    # -- export / import --------------------------------------------------------------------
    def to_dict(self, *, full: bool = True) -> dict[str, object]:
        out: dict[str, object] = {"fields": {f.name: f.to_dict(full=full) for f in self.fields}}
        if self.constraints:
            out["constraints"] = [_constraint_entry(c) for c in self.constraints]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, object], *, source: str = "schema") -> Self:
        """Build a complete schema from :meth:`to_dict` output (every field needs a ``type``)."""
        specs = data.get("fields")
        if not isinstance(specs, Mapping):
            raise SchemaError(Problem(source, "no 'fields' mapping", "{fields: {column: {type: ...}}}"))
        out: list[Field] = []
        problems: list[Problem] = []
        for name, spec in specs.items():
            if not isinstance(spec, Mapping):
                problems.append(Problem(f"{source}: fields.{name}", repr(spec), "a mapping"))
                continue
            parsed, found = _parse_field(str(name), spec, None, source)
            problems.extend(found)
            if parsed is not None:
                out.append(parsed)
        constraints: tuple[Constraint, ...] = ()
        if data.get("constraints") is not None:
            try:
                constraints = _parse_constraint_list(data["constraints"], source)
            except InputError as exc:
                problems.extend(exc.problems)
        if problems:
            raise SchemaError(problems)
        return cls(tuple(out), constraints)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def to_yaml(self, *, full: bool = True) -> str:
        return yaml.safe_dump(self.to_dict(full=full), sort_keys=False, allow_unicode=True)

    def to_markdown(self, title: str = "Data dictionary") -> str:
        """A Markdown table a clinician can read and correct."""
        rows = [
            f"# {title}",
            "",
            "| column | type | role | unit | range / categories | description |",
            "|---|---|---|---|---|---|",
        ]
        for f in self.fields:
            if f.categories is not None:
                shown = ", ".join(f.categories[:12]) + (" …" if len(f.categories) > 12 else "")
            elif f.minimum is not None or f.maximum is not None:
                shown = f"{_fmt(f.minimum)} – {_fmt(f.maximum)}"
            else:
                shown = ""
            cells = [
                f.name,
                f.type.value,
                ", ".join(r.value for r in f.roles),
                f.unit or "",
                shown,
                f.description or "",
            ]
            rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        return "\n".join(rows) + "\n"


def _parse_constraint_list(specs: object, source: str) -> tuple[Constraint, ...]:
    if not isinstance(specs, list):
        raise InputError(Problem(f"{source}: constraints", f"a {type(specs).__name__}", "a list of rules"))
    return parse_constraints(specs, source=f"{source}: constraints")


def _constraint_entry(c: Constraint) -> object:
    """Text where the rule says it all, the mapping where it carries learned state."""
    entry = c.to_dict()
    return entry if set(entry) - {"kind", "rule"} else entry["rule"]


def _fmt(value: float | None) -> str:
    if value is None:
        return "…"
    return f"{value:g}"
