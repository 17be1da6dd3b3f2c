"""Consistent per-patient date shifting: hide real dates, keep every interval within a patient.

Dates are quasi-identifiers (an admission on a known day singles a person out), yet analyses
need lengths of stay, time to event and the order of visits. Shifting every date of one patient
by the same secret offset keeps all of those, while the calendar dates no longer match any
record outside the release. The offset is derived from HMAC(key, patient id), so it is the same
for every date column and every table of that patient, at every site that holds the key, with
no table of offsets to store. It is drawn uniformly from ±``max_days`` without zero (a patient
is never left unshifted) and, with ``keep_weekday``, is a whole number of weeks so weekday
patterns (weekend admissions) survive. Seasons and years move by up to ``max_days``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from medsyn.errors import InputError, Problem
from medsyn.privacy._keys import SecretKey
from medsyn.privacy._pseudonym import canonical_values

__all__ = ["DateShift", "DateShifter"]


@dataclass(frozen=True, slots=True)
class DateShift:
    """What a date shift did to a table (no offsets: they would undo the shift)."""

    patient_column: str
    date_columns: tuple[str, ...]
    max_days: int
    keep_weekday: bool
    patients: int
    dates_shifted: int
    dates_blanked: int  # dates of rows without a patient id: no consistent offset exists for them
    key_fingerprint: str

    def to_dict(self) -> dict[str, object]:
        return {
            "patient_column": self.patient_column,
            "date_columns": list(self.date_columns),
            "max_days": self.max_days,
            "keep_weekday": self.keep_weekday,
            "patients": self.patients,
            "dates_shifted": self.dates_shifted,
            "dates_blanked": self.dates_blanked,
            "key_fingerprint": self.key_fingerprint,
        }


class DateShifter:
    """Shift all dates of a patient by one secret offset in ``[-max_days, -1] ∪ [1, max_days]``.

    Parameters
    ----------
    key
        The managed secret; sites sharing it shift a patient's dates alike.
    max_days
        Largest shift in days (>= 1; >= 7 with ``keep_weekday``).
    keep_weekday
        Shift by whole weeks only, so every date keeps its day of the week.
    namespace
        Separates uses of one key, as for pseudonyms.

    Examples
    --------
    >>> import pandas as pd
    >>> shifter = DateShifter(SecretKey(b"k" * 32), max_days=30)
    >>> df = pd.DataFrame({"pid": ["a", "a"], "admit": ["2020-01-01", "2020-01-11"]})
    >>> out, info = shifter.shift(df, patient_column="pid", date_columns=["admit"])
    >>> int(pd.to_datetime(out["admit"]).diff().dt.days.iloc[1]), info.dates_shifted
    (10, 2)
    """

    def __init__(
        self, key: SecretKey, *, max_days: int = 365, keep_weekday: bool = False, namespace: str = "default"
    ) -> None:
        problems = []
        if not isinstance(key, SecretKey):
            problems.append(Problem("key", f"a {type(key).__name__}", "a SecretKey"))
        low = 7 if keep_weekday else 1
        if isinstance(max_days, bool) or not isinstance(max_days, int) or not low <= max_days <= 36_500:
            problems.append(Problem("max_days", repr(max_days), f"an integer from {low} to 36500"))
        if not isinstance(namespace, str) or not namespace:
            problems.append(Problem("namespace", repr(namespace), "a non-empty string"))
        if problems:
            raise InputError(problems)
        self.key = key
        self.max_days = max_days
        self.keep_weekday = keep_weekday
        self.namespace = namespace
        self._base = hmac.new(key.derive(f"dateshift:{namespace}"), digestmod=hashlib.sha256)

    def __repr__(self) -> str:
        return f"DateShifter(key={self.key.fingerprint}, max_days={self.max_days}, keep_weekday={self.keep_weekday})"

    def offsets(self, patient_ids: pd.Series | Sequence[object]) -> pd.Series:
        """Offset in days for each row's patient (``<NA>`` where the id is missing)."""
        series = patient_ids if isinstance(patient_ids, pd.Series) else pd.Series(list(patient_ids), dtype=object)
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        canonical = canonical_values(uniques)
        draws = np.empty(len(canonical), dtype=np.uint64)
        negative = np.empty(len(canonical), dtype=bool)
        for i, text in enumerate(canonical):  # one HMAC per patient
            h = self._base.copy()
            h.update(text.encode("utf-8"))
            digest = h.digest()
            draws[i] = int.from_bytes(digest[:8], "big")
            negative[i] = bool(digest[8] & 1)
        step = 7 if self.keep_weekday else 1
        steps = self.max_days // step
        # 64 random bits modulo a few hundred: the bias is below 1e-16
        magnitude = (draws % np.uint64(steps)).astype(np.int64) + 1
        sign = np.where(negative, -1, 1)
        per_patient = (sign * magnitude * step).astype(np.int64)
        values = pd.array(np.append(per_patient, 0)[codes], dtype="Int64")
        values[codes < 0] = pd.NA
        return pd.Series(values, index=series.index, name="offset_days")

    def shift(
        self, frame: pd.DataFrame, *, patient_column: str, date_columns: Sequence[str]
    ) -> tuple[pd.DataFrame, DateShift]:
        """A copy of ``frame`` with every date column moved by its patient's offset.

        Text dates are parsed (ISO ``2020-01-31``, ``2020-01-31 08:15``, ``01/31/2020``) and
        written back as ISO text; datetime columns stay datetimes. Dates of rows without a
        patient id are blanked, and the count is reported.

        Raises
        ------
        InputError
            Unknown columns, or text in a date column that is not a date (every column at once).
        """
        problems: list[Problem] = []
        for col in [patient_column, *date_columns]:
            if col not in frame.columns:
                problems.append(Problem(f"column '{col}'", "not in the table", f"one of {list(frame.columns)}"))
        if problems:
            raise InputError(problems)
        offsets = self.offsets(frame[patient_column])
        delta = pd.to_timedelta(offsets.astype("float64"), unit="D")
        no_patient = offsets.isna().to_numpy()
        out = frame.copy()
        shifted = blanked = 0
        for col in date_columns:
            parsed, is_text, bad = _parse_dates(frame[col])
            if bad:
                problems.append(
                    Problem(
                        f"date column '{col}'",
                        f"{len(bad)} value(s) that are not dates, e.g. {bad[:3]}",
                        "dates such as 2020-01-31",
                    )
                )
                continue
            moved = parsed + delta.to_numpy()
            has_date = parsed.notna().to_numpy()
            shifted += int((has_date & ~no_patient).sum())
            blanked += int((has_date & no_patient).sum())
            out[col] = _format_like(moved, is_text, parsed)
        if problems:
            raise InputError(problems)
        info = DateShift(
            patient_column,
            tuple(date_columns),
            self.max_days,
            self.keep_weekday,
            int(frame[patient_column].nunique(dropna=True)),
            shifted,
            blanked,
            self.key.fingerprint,
        )
        return out, info


def _parse_dates(series: pd.Series) -> tuple[pd.Series, bool, list[str]]:
    """Datetimes of a column, whether it was text, and the distinct values that do not parse."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return series, False, []
    text = series.astype("string").str.strip()
    parsed = pd.to_datetime(text, errors="coerce", format="mixed")
    bad_mask = text.notna() & (text != "") & parsed.isna()
    bad = sorted(map(str, text[bad_mask].unique()))
    return parsed, True, bad


def _format_like(moved: pd.Series, is_text: bool, parsed: pd.Series) -> pd.Series:
    if not is_text:
        return moved
    has_time = bool((parsed.dropna() != parsed.dropna().dt.normalize()).any())
    fmt = "%Y-%m-%d %H:%M:%S" if has_time else "%Y-%m-%d"
    text: pd.Series = moved.dt.strftime(fmt).astype(object).where(moved.notna(), None)
    return text
