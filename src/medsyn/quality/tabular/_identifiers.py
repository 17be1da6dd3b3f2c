"""Identifier-like columns: record numbers, names, e-mails, phone numbers, dates of birth.

Value patterns are tested on the distinct values of a seeded sample of rows, so the cost is
bounded whatever the table's size.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from medsyn.data.dataset import Dataset, Modality
from medsyn.data.schema import Field, FieldType, Role
from medsyn.metric import METRICS, Direction, ItemResult, Metric, MetricKind, MetricResult, Status, Threshold
from medsyn.quality.tabular._common import sample_positions, table, worst

__all__ = ["IdentifierColumns"]

_PATTERNS: dict[str, re.Pattern[str]] = {
    "e-mail addresses": re.compile(r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$"),
    # Not a date (2020-01-15, 15/01/2020) and not a plain number, which only look like phone numbers.
    "phone numbers": re.compile(
        r"^(?!\d{4}-\d\d-\d\d)(?!\d{1,2}[/.]\d{1,2}[/.]\d{2,4}$)(?!\d+(\.\d+)?$)\+?\(?\d[\d ()./-]{6,}\d$"
    ),
    "personal names": re.compile(r"^[A-Z][a-z'’-]+(,)? ([A-Z][a-z'’-]*\.? ?){1,3}$"),
    "social security / national numbers": re.compile(r"^\d{3}-\d{2}-\d{4}$|^\d{3} ?\d{3} ?\d{4}$"),
}
_DOB = re.compile(r"(^|[^a-z])(dob|birth|born)", re.IGNORECASE)
_SAMPLE = 5_000


def _pattern_hits(s: pd.Series) -> tuple[str, float] | None:
    """The identifying pattern most values match (at least half of the distinct values), if any.

    Only columns where most rows have their own value are tested: a person's name or e-mail is
    nearly unique, while 'Emergency Room' or 'Physician Referral' repeat across patients.
    """
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
        return None
    filled = s.dropna()
    uniq = pd.Series(pd.unique(filled)).astype(str).str.strip()
    if len(uniq) < 10 or len(uniq) < 0.5 * len(filled):
        return None
    for label, pattern in _PATTERNS.items():
        share = float(uniq.str.match(pattern).mean())
        if share >= 0.5:
            return label, share
    return None


@METRICS.register("identifiers")
class IdentifierColumns(Metric):
    """Columns that identify a person directly and must not be released: ids, names, contacts, birth dates.
    Record numbers, names, e-mail addresses, phone numbers and dates of birth let anyone link a
    row back to a patient; they must be removed or pseudonymised before data leave the hospital.
    A column is flagged when the schema says it is an identifier, when its name or values look
    like a birth date, when its values match a name/e-mail/phone pattern, or when almost every
    row has its own value (a hidden record number). The value is the number of such columns.

    Parameters
    ----------
    unique_share
        Share of rows with their own value above which a text or code column is a hidden identifier.
    seed
        Seed of the sample of rows whose values are matched against the patterns.
    threshold
        Verdict on the number of identifier-like columns.
    """

    name = "identifiers"
    title = "Direct identifiers"
    modality = Modality.TABULAR
    kind = MetricKind.QUALITY
    direction = Direction.MINIMIZE
    ideal = 0.0
    unit = "columns"
    default_threshold = Threshold(warn=0.0, fail=math.inf)  # identifiers warn: they are expected in raw data

    def __init__(self, *, unique_share: float = 0.95, seed: int = 0, threshold: Threshold | None = None) -> None:
        super().__init__(threshold=threshold)
        self.unique_share = unique_share
        self.seed = seed

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        frame, schema = table(real)
        pos = sample_positions(len(frame), _SAMPLE, self.seed)
        items: list[ItemResult] = []
        for f in schema:
            s = frame[f.name] if pos is None else frame[f.name].iloc[pos]
            why = self._why(f, s)
            if why is not None:
                items.append(
                    ItemResult(
                        "column",
                        f.name,
                        1.0,
                        Status.WARN,
                        f"{why}: remove or pseudonymise before release",
                        {"schema_type": f.type.value, "roles": ",".join(r.value for r in f.roles)},
                    )
                )
        status = worst([self.judge(len(items)), *(i.status for i in items)])
        if items:
            reason = f"{len(items)} columns can identify a patient and must not be released as they are: " + "; ".join(
                f"'{i.key}' ({i.note.split(':')[0]})" for i in items[:5]
            )
        else:
            reason = "no column looks like a direct identifier"
        details = {"rows_inspected": len(frame) if pos is None else len(pos)}
        return self.result(len(items), reason, status=status, items=items, details=details)

    def _why(self, f: Field, s: pd.Series) -> str | None:
        hit = _pattern_hits(s)
        if hit is not None:
            return f"values look like {hit[0]} ({hit[1]:.0%} of distinct values)"
        if _DOB.search(f.name) and (f.type is FieldType.DATETIME or not pd.api.types.is_numeric_dtype(s)):
            return "a date of birth"
        if f.has_role(Role.IDENTIFIER) or f.type is FieldType.IDENTIFIER:
            return f"an identifier in the schema ({f.reason or 'set by the user'})"
        n = int(s.notna().sum())
        if n >= 50 and f.type in {FieldType.CATEGORICAL, FieldType.TEXT, FieldType.INTEGER}:
            distinct = s.nunique(dropna=True)
            if distinct >= self.unique_share * n and (
                f.type is not FieldType.INTEGER or _looks_like_code(s.dropna().to_numpy())
            ):
                return f"{distinct / n:.0%} of rows have their own value (a hidden record number?)"
        return None


def _looks_like_code(values: np.ndarray) -> bool:
    """Whole numbers unique per row that are long (≥ 5 digits): record numbers, not measurements."""
    return bool(np.all(np.abs(values.astype(np.float64)) >= 10_000))
