"""Free-text cleaning for headers: find dates, ids, e-mail addresses and names; remove or shift dates.

Header text (DICOM descriptions under Clean Descriptors, WFDB comment lines, EDF+ annotation
texts) is short and semi-structured, so patterns do the job: dates in the usual clinical
spellings (``29-Sep-90``, ``01/10/1990``, ``1990-10-01``, ``19901001``), runs of five or more
digits (record numbers, phone numbers), e-mail addresses, and the words of the patient's own
name when it is known. Cleaning replaces them by ``[DATE]``, ``[ID]``, ``[EMAIL]``, ``[NAME]``;
shifting moves each parseable date by a number of days and writes it back in its own spelling.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

__all__ = ["DATE_RE", "has_date", "scrub_text", "shift_dates_in_text"]

_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
# (pattern, strptime format or None when the spelling cannot be parsed back reliably)
_DATE_FORMS: tuple[tuple[str, str | None], ...] = (
    (r"\d{4}-\d{2}-\d{2}", "%Y-%m-%d"),
    (r"\d{1,2}/\d{1,2}/\d{4}", "%d/%m/%Y"),
    (r"\d{1,2}\.\d{1,2}\.\d{4}", "%d.%m.%Y"),
    (rf"\d{{1,2}}-(?:{_MONTHS})-\d{{4}}", "%d-%b-%Y"),
    (rf"\d{{1,2}}-(?:{_MONTHS})-\d{{2}}", "%d-%b-%y"),
    (rf"\d{{1,2}} (?:{_MONTHS})[a-z]* \d{{4}}", None),
    (rf"(?:{_MONTHS})[a-z]* \d{{1,2}},? \d{{4}}", None),
    (r"(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])", "%Y%m%d"),
    (r"\d{1,2}/\d{1,2}/\d{2}", None),
)
DATE_RE = re.compile(
    r"(?<![\w.])(" + "|".join(f"(?:{p})" for p, _ in _DATE_FORMS) + r")(?![\w])",
    re.IGNORECASE,
)
_FORM_RES = tuple((re.compile(f"(?:{p})", re.IGNORECASE), fmt) for p, fmt in _DATE_FORMS)
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_LONG_NUMBER_RE = re.compile(r"(?<![\w.])\+?\d[\d -]{3,}\d(?![\w.])")


def has_date(text: str) -> bool:
    """Whether the text holds something spelled like a calendar date."""
    return DATE_RE.search(text) is not None


def scrub_text(text: str, *, names: Iterable[str] = ()) -> tuple[str, int]:
    """Replace dates, e-mail addresses, long numbers and the given name words; return (text, count).

    Examples
    --------
    >>> scrub_text("CT 01/10/1990 for DOE^JOHN, MRN 1234567", names=["Doe", "John"])
    ('CT [DATE] for [NAME]^[NAME], MRN [ID]', 4)
    """
    count = 0

    def sub(pattern: re.Pattern[str], token: str, value: str) -> str:
        nonlocal count
        value, n = pattern.subn(token, value)
        count += n
        return value

    out = sub(DATE_RE, "[DATE]", text)
    out = sub(_EMAIL_RE, "[EMAIL]", out)
    out = sub(_LONG_NUMBER_RE, "[ID]", out)
    words = sorted({w for w in names if len(w) >= 2}, key=len, reverse=True)
    if words:
        out = sub(re.compile(r"\b(" + "|".join(map(re.escape, words)) + r")\b", re.IGNORECASE), "[NAME]", out)
    return out, count


def _shift_one(text: str, days: int) -> str | None:
    for pattern, fmt in _FORM_RES:
        if fmt is not None and pattern.fullmatch(text):
            try:
                moved = dt.datetime.strptime(text.title() if "%b" in fmt else text, fmt) + dt.timedelta(days=days)
            except ValueError:
                return None
            out = moved.strftime(fmt)
            return out.upper() if text.isupper() else out
    return None


def shift_dates_in_text(text: str, days: int) -> tuple[str, int, int]:
    """Shift each parseable date by ``days``; dates that cannot be parsed back become ``[DATE]``.

    Returns the text, the number of dates shifted and the number removed.

    Examples
    --------
    >>> shift_dates_in_text("Infarction date (acute): 29-Sep-90; ECG 01/10/1990", 3)
    ('Infarction date (acute): 02-Oct-90; ECG 04/10/1990', 2, 0)
    """
    shifted = removed = 0

    def repl(match: re.Match[str]) -> str:
        nonlocal shifted, removed
        new = _shift_one(match.group(0), days)
        if new is None:
            removed += 1
            return "[DATE]"
        shifted += 1
        return new

    return DATE_RE.sub(repl, text), shifted, removed
