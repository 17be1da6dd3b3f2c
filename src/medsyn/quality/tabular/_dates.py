"""Date sanity: unreadable dates, dates in the future or before 1900, and impossible orderings."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from medsyn.data.dataset import Dataset, Modality
from medsyn.data.schema import FieldType
from medsyn.metric import METRICS, Direction, ItemResult, Metric, MetricKind, MetricResult, Status, Threshold
from medsyn.quality.tabular._common import is_text, table, worst

__all__ = ["DateSanity"]

_EARLIEST = pd.Timestamp("1900-01-01")
#: (earlier, later) name patterns: a date matching the first must not come after one matching the second.
_ORDER: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    (re.compile(r"admi(t|ssion)", re.I), re.compile(r"discharge|release", re.I)),
    (re.compile(r"start|begin|onset", re.I), re.compile(r"end|stop|finish", re.I)),
    (re.compile(r"diagnos", re.I), re.compile(r"death|died", re.I)),
)
_BIRTH = re.compile(r"(^|[^a-z])(dob|birth|born)", re.I)
#: Text columns with such names are tried as dates even when unreadable entries kept inference from typing them.
_DATE_NAME = re.compile(r"date|(^|_)(dob|dt|birth|admi(t|ssion)|discharge|death)($|_)", re.I)
_NAME_PROBE = 500


def _parse(s: pd.Series) -> tuple[pd.Series, int]:
    """A column as timestamps (distinct values parsed once) and the number of unreadable entries."""
    if pd.api.types.is_datetime64_any_dtype(s):
        out = s.dt.tz_localize(None) if getattr(s.dt, "tz", None) is not None else s
        return out, 0
    codes, uniques = pd.factorize(s)
    parsed = pd.to_datetime(pd.Series(np.asarray(uniques, dtype=object)).astype(str), errors="coerce", format="mixed")
    values = parsed.to_numpy()
    out = np.full(len(s), np.datetime64("NaT"), dtype="datetime64[ns]")
    known = codes >= 0
    out[known] = values[codes[known]]
    bad = np.flatnonzero(parsed.isna().to_numpy())
    return pd.Series(out, index=s.index), int(np.isin(codes, bad).sum())


@METRICS.register("date_sanity")
class DateSanity(Metric):
    """Share of dates that are unreadable, in the future, before 1900, or in an impossible order.
    A discharge before its admission, a birth after a visit, a visit in the future or in 1899 is
    an entry or conversion error (day and month swapped, a placeholder such as 1800-01-01) that
    corrupts lengths of stay, ages and survival times. Date columns are those of the schema plus
    text columns named like dates whose values mostly parse; pairs are recognised by their names
    (admission/discharge, start/end, diagnosis/death, birth before every other date).

    Parameters
    ----------
    today
        Reference date for "in the future" (ISO text); the current UTC date when ``None``.
    threshold
        Verdict on the share of problem dates.
    """

    name = "date_sanity"
    title = "Date sanity"
    modality = Modality.TABULAR
    kind = MetricKind.QUALITY
    direction = Direction.MINIMIZE
    ideal = 0.0
    default_threshold = Threshold(warn=0.0, fail=0.01)

    def __init__(self, *, today: str | None = None, threshold: Threshold | None = None) -> None:
        super().__init__(threshold=threshold)
        self.today = today

    def applies_to(self, data: Dataset) -> str | None:
        frame, schema = table(data)
        if not _date_columns(frame, [f.name for f in schema.by_type(FieldType.DATETIME)]):
            return "no date column in the schema"
        return None

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        frame, schema = table(real)
        cols = _date_columns(frame, [f.name for f in schema.by_type(FieldType.DATETIME)])
        now = pd.Timestamp(self.today) if self.today else pd.Timestamp(datetime.now(UTC).replace(tzinfo=None))
        items: list[ItemResult] = []
        parsed: dict[str, pd.Series] = {}
        checked = bad = 0
        for c in cols:
            ts, unreadable = _parse(frame[c])
            parsed[c] = ts
            n = int(frame[c].notna().sum())
            checked += n
            for kind, k, why in (
                ("unreadable", unreadable, "cannot be read as dates"),
                ("future", int((ts > now).sum()), f"lie in the future (after {now.date()})"),
                ("before_1900", int((ts < _EARLIEST).sum()), "are before 1900 (placeholders?)"),
            ):
                if k:
                    bad += k
                    items.append(
                        ItemResult(
                            "column",
                            f"{c}: {kind}",
                            k / n,
                            Status.WARN,
                            f"{k} dates in '{c}' {why}",
                            {"column": c, "problem": kind, "rows": k},
                        )
                    )
        for early, late in _pairs(cols):
            a, b = parsed[early], parsed[late]
            wrong = int((a > b).sum())
            both = int((a.notna() & b.notna()).sum())
            if wrong:
                bad += wrong
                items.append(
                    ItemResult(
                        "pair",
                        f"{early} ≤ {late}",
                        wrong / both,
                        Status.WARN,
                        f"{wrong} rows have '{early}' after '{late}'",
                        {"earlier": early, "later": late, "rows": wrong},
                    )
                )
        value = bad / checked if checked else 0.0
        status = worst([self.judge(value), *(i.status for i in items)])
        if items:
            reason = f"{bad} date problems in {len(cols)} date columns: " + "; ".join(i.note for i in items[:3])
        else:
            reason = f"all {checked} dates in {len(cols)} columns are readable, plausible and in order"
        return self.result(
            value,
            reason,
            status=status,
            items=items,
            details={"date_columns": ", ".join(cols), "reference_date": str(now.date())},
        )


def _date_columns(frame: pd.DataFrame, schema_dates: list[str]) -> list[str]:
    """Schema dates, datetime columns, and text columns named like dates whose values mostly parse."""
    extra = [str(c) for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
    for c in frame.columns:
        s = frame[c]
        if str(c) in schema_dates or not _DATE_NAME.search(str(c)) or not is_text(s):
            continue
        uniq = pd.Series(pd.unique(s.dropna())[:_NAME_PROBE]).astype(str)
        if len(uniq) and pd.to_datetime(uniq, errors="coerce", format="mixed").notna().mean() >= 0.8:
            extra.append(str(c))
    return list(dict.fromkeys([*schema_dates, *extra]))


def _pairs(cols: list[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for early_pat, late_pat in _ORDER:
        for a in cols:
            for b in cols:
                if a != b and early_pat.search(a) and late_pat.search(b) and not late_pat.search(a):
                    out.append((a, b))
    births = [c for c in cols if _BIRTH.search(c)]
    out += [(b, c) for b in births for c in cols if c not in births]
    return list(dict.fromkeys(out))
