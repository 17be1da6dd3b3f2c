"""Infer a :class:`~medsyn.data.schema.Schema` from a table: types, ranges, categories and roles.

Inference is a first draft for a person to check, so every field records *why* it got its type
and role (``Field.reason``). Roles come from column names (``patient_id``, ``sex``, ``dob``,
``readmitted``) and from the values (a column unique on every row looks like an identifier).
The word lists are deliberately small and medical; a YAML override corrects anything else.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from medsyn.data.schema import Field, FieldType, Role, Schema

__all__ = ["infer_field", "infer_schema"]

#: Columns whose *name* says they identify a person directly.
_IDENTIFIER_NAMES = re.compile(
    r"(^|_)(id|ids|uid|uuid|mrn|nhs(_?number)?|ssn|social_security|patient(_?(id|nbr|number|num|no))?|"
    r"pid|pidnum|subject(_?id)?|encounter(_?id)?|admission(_?id)?|record(_?id)?|name|first_?name|last_?name|"
    r"surname|full_?name|email|e_?mail|phone|telephone|mobile|address|street|insurance(_?(id|number))?|"
    r"passport|national_?id|accession(_?number)?)($|_)",
    re.IGNORECASE,
)
_DOB_NAMES = re.compile(r"(^|_)(dob|date_?of_?birth|birth_?date|birthdate|birthday)($|_)", re.IGNORECASE)
_QUASI_NAMES = re.compile(
    r"(^|_)(zip|zip_?code|postcode|post_?code|postal(_?code)?|county|city|town|marital(_?status)?|"
    r"occupation|admission_?date|discharge_?date|date|height|weight|wtkg)($|_)",
    re.IGNORECASE,
)
_PROTECTED_NAMES = re.compile(
    r"(^|_)(sex|gender|age|age_?group|age_?band|race|ethnicity|ethnic(_?group)?|religion|disability|"
    r"nationality|language)($|_)",
    re.IGNORECASE,
)
_TARGET_NAMES = re.compile(
    r"(^|_)(target|label|outcome|class|readmitted|readmission|mortality|death|died|"
    r"dead|survived|survival|event|cens|censor|censored|response|disease)($|_)|^(y|num|status|dx|diagnosis|low)$",
    re.IGNORECASE,
)
_SENSITIVE_NAMES = re.compile(
    r"(^|_)(hiv|aids|diagnosis|diag(_?\d+)?|dx|icd(_?\d+)?|medication|drug|drugs|pregnan\w*|psychiatric|"
    r"mental|genetic|hemo|homo|sexual\w*)($|_)",
    re.IGNORECASE,
)
_CONSENT_NAMES = re.compile(r"(^|_)(consent\w*|opt_?out|opted_?out)($|_)", re.IGNORECASE)
_UNIT_HINTS: dict[str, str] = {
    "age": "years",
    "wtkg": "kg",
    "weight": "kg",
    "height": "cm",
    "bmi": "kg/m²",
    "days": "days",
    "time_in_hospital": "days",
    "trestbps": "mmHg",
    "sbp": "mmHg",
    "dbp": "mmHg",
    "chol": "mg/dL",
    "thalach": "bpm",
    "heart_rate": "bpm",
}
_TRUE_WORDS = frozenset({"true", "yes", "y", "t", "1"})
_FALSE_WORDS = frozenset({"false", "no", "n", "f", "0"})
_UNAMBIGUOUS_WORDS = frozenset({"true", "false", "yes", "no", "0", "1"})
_MAX_CATEGORIES = 60
_TEXT_MIN_MEAN_LENGTH = 40


def _name_key(name: str) -> str:
    """Split camelCase and punctuation into snake_case, so 'PatientID' matches 'patient_id'."""
    key = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name))
    return re.sub(r"[^0-9a-zA-Z]+", "_", key).strip("_").lower()


def _infer_type(s: pd.Series, name_key: str) -> tuple[FieldType, str]:
    nonnull = s.dropna()
    n = len(nonnull)
    if n == 0:
        return FieldType.NUMERIC if pd.api.types.is_numeric_dtype(s) else FieldType.CATEGORICAL, "no values"
    if pd.api.types.is_bool_dtype(s):
        return FieldType.BOOLEAN, "boolean values"
    if pd.api.types.is_datetime64_any_dtype(s):
        return FieldType.DATETIME, "datetime values"
    if pd.api.types.is_numeric_dtype(s):
        values = nonnull.to_numpy(dtype=float, copy=False)
        uniq = np.unique(values[:200_000])
        if len(uniq) <= 2 and set(uniq.tolist()) <= {0.0, 1.0}:
            return FieldType.BOOLEAN, "only 0/1 values"
        if np.all(np.isfinite(values)) and np.all(values == np.round(values)):
            if _IDENTIFIER_NAMES.search(name_key) and len(uniq) >= 0.5 * n and n > 1:
                return FieldType.IDENTIFIER, "mostly unique integers in an id-like column"
            if pd.api.types.is_integer_dtype(s) and n > 2 and len(uniq) == n and uniq[-1] - uniq[0] == n - 1:
                return FieldType.IDENTIFIER, "consecutive unique integers (a row number)"
            return FieldType.INTEGER, "whole numbers"
        return FieldType.NUMERIC, "real numbers"
    # Work on distinct values only: a million rows of a 10-level code cost 10 string operations.
    counts = nonnull.value_counts(sort=False)
    uniq_text = pd.Index(counts.index.astype(str))
    n_unique = len(uniq_text)
    if n_unique <= 8:
        lowered = set(uniq_text.str.strip().str.lower())
        pair = len(lowered) == 2 and bool(lowered & _TRUE_WORDS) and bool(lowered & _FALSE_WORDS)
        single = len(lowered) == 1 and lowered <= _UNAMBIGUOUS_WORDS  # a lone "F" is a sex, not False
        if (pair or single) and lowered <= (_TRUE_WORDS | _FALSE_WORDS):
            return FieldType.BOOLEAN, f"yes/no words {sorted(lowered)}"
    if _IDENTIFIER_NAMES.search(name_key) and n_unique >= 0.5 * n and n > 1:
        return FieldType.IDENTIFIER, "mostly unique values in an id-like column"
    if _looks_like_dates(pd.Series(uniq_text[:200]), name_key):
        return FieldType.DATETIME, "values parse as dates"
    numeric_share = float(pd.to_numeric(pd.Series(uniq_text[:1000]), errors="coerce").notna().mean())
    mixed = f" ({numeric_share:.0%} of distinct values are numbers: mixed types)" if numeric_share >= 0.5 else ""
    if n_unique <= _MAX_CATEGORIES or n_unique <= 0.05 * n:
        return FieldType.CATEGORICAL, f"{n_unique} distinct values{mixed}"
    if float(uniq_text[:1000].str.len().to_numpy().mean()) >= _TEXT_MIN_MEAN_LENGTH:
        return FieldType.TEXT, "long free-text values"
    if n_unique == n and n > 1:
        return FieldType.IDENTIFIER, "a distinct value on every row"
    return FieldType.CATEGORICAL, f"{n_unique} distinct values (high cardinality){mixed}"


def _looks_like_dates(text: pd.Series, name_key: str) -> bool:
    sample = text.head(200)
    if not sample.str.contains(r"\d", regex=True).all():
        return False
    if not (sample.str.contains(r"[-/.:]", regex=True).all() or "date" in name_key or _DOB_NAMES.search(name_key)):
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= 0.9)


def _infer_roles(name_key: str, ftype: FieldType, s: pd.Series) -> tuple[tuple[Role, ...], str]:
    roles: list[Role] = []
    why: list[str] = []
    if ftype is FieldType.IDENTIFIER or (_IDENTIFIER_NAMES.search(name_key) and ftype is FieldType.TEXT):
        roles.append(Role.IDENTIFIER)
        why.append("identifier-like name or values")
    if _CONSENT_NAMES.search(name_key):
        roles.append(Role.CONSENT)
        why.append("consent column name")
    if _DOB_NAMES.search(name_key):
        roles.append(Role.QUASI_IDENTIFIER)
        why.append("date of birth (quasi-identifier)")
    if _PROTECTED_NAMES.search(name_key):
        roles += [Role.PROTECTED, Role.QUASI_IDENTIFIER]
        why.append("demographic name (protected group, quasi-identifier)")
    elif _QUASI_NAMES.search(name_key):
        roles.append(Role.QUASI_IDENTIFIER)
        why.append("location/date/body-size name (quasi-identifier)")
    if (
        Role.IDENTIFIER not in roles
        and _TARGET_NAMES.search(name_key)
        and ftype
        in {
            FieldType.BOOLEAN,
            FieldType.CATEGORICAL,
            FieldType.INTEGER,
        }
        and (ftype is not FieldType.INTEGER or s.nunique() <= 10)
    ):
        roles.append(Role.TARGET)
        why.append("outcome-like name")
    if not roles and _SENSITIVE_NAMES.search(name_key):
        roles.append(Role.SENSITIVE)
        why.append("health-condition name (sensitive)")
    if not roles:
        return (Role.FEATURE,), "no special role detected"
    return tuple(dict.fromkeys(roles)), "; ".join(why)


def infer_field(name: str, s: pd.Series) -> Field:
    """Infer one :class:`Field` from a column's name and values."""
    key = _name_key(name)
    ftype, type_why = _infer_type(s, key)
    roles, role_why = _infer_roles(key, ftype, s)
    minimum = maximum = None
    categories = None
    nonnull = s.dropna()
    if ftype in {FieldType.NUMERIC, FieldType.INTEGER} and len(nonnull) and pd.api.types.is_numeric_dtype(s):
        values = nonnull.to_numpy(dtype=float, copy=False)
        finite = values[np.isfinite(values)]
        if len(finite):
            minimum, maximum = float(finite.min()), float(finite.max())
    elif ftype is FieldType.CATEGORICAL:
        categories = tuple(sorted(pd.Index(nonnull.unique()).astype(str).unique(), key=_natural_key))
    unit = _UNIT_HINTS.get(key)
    if unit is None and key.endswith("_days"):
        unit = "days"
    return Field(
        name=str(name),
        type=ftype,
        roles=roles,
        unit=unit,
        minimum=minimum,
        maximum=maximum,
        categories=categories,
        reason=f"type: {type_why}; role: {role_why}",
    )


def _natural_key(value: str) -> tuple[int, float, str]:
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


def infer_schema(frame: pd.DataFrame) -> Schema:
    """Infer a schema for every column of ``frame``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"patient_id": ["a1", "a2", "a3"], "sex": ["F", "M", "F"], "age": [70, 81, 65]})
    >>> s = infer_schema(df)
    >>> s["patient_id"].role.value, s["sex"].type.value, s["age"].has_role("protected")
    ('identifier', 'categorical', True)
    """
    return Schema(tuple(infer_field(str(col), frame[col]) for col in frame.columns))
