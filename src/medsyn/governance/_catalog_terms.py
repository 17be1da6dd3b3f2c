"""The catalog's vocabularies: data set kinds, sensitivity labels, GDPR legal bases, retention, privacy figures.

Kept apart from :mod:`medsyn.governance._catalog` (which re-exports every public name) so the
terms a policy, a report or a form can offer are importable without the database code, and
each can be checked on its own with an error that names the field.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from medsyn.errors import InputError, Problem
from medsyn.governance._access import Sensitivity

__all__ = [
    "ARTEFACT_MODALITIES",
    "CONSENT_BASES",
    "KINDS",
    "LEGAL_BASES",
    "PERSONAL_KINDS",
    "PRIVACY_FIGURES",
    "SENSITIVITIES",
    "DatasetKind",
    "erase_by",
    "figure_problems",
    "legal_basis_text",
    "parse_legal_basis",
    "parse_retention",
    "purpose_problems",
]


class DatasetKind(StrEnum):
    """How far a data set is from the patients it describes (most to least identifying).

    ``derived`` is for artefacts computed from data that hold no records of their own: an
    evaluation report, a fitted generator, released aggregate statistics. They need lineage and
    retention like data (a model can memorise its training records; a report quotes figures of
    the data), but none of the record-level kinds describes them, and calling a model
    "synthetic" or "anonymised" would claim a protection nobody measured.
    """

    IDENTIFIABLE = "identifiable"
    PSEUDONYMISED = "pseudonymised"
    ANONYMISED = "anonymised"
    SYNTHETIC = "synthetic"
    DERIVED = "derived"


KINDS: tuple[str, ...] = tuple(k.value for k in DatasetKind)
#: Kinds that are personal data under GDPR (Art. 4(1), 4(5)): pseudonymised data still are.
PERSONAL_KINDS: frozenset[str] = frozenset({DatasetKind.IDENTIFIABLE.value, DatasetKind.PSEUDONYMISED.value})
#: Sensitivity labels, least to most sensitive (the access policy's ordered :class:`Sensitivity`).
SENSITIVITIES: tuple[str, ...] = tuple(s.label for s in Sensitivity)
#: Modalities of ``derived`` artefacts that are not data medsyn reads (beside tabular, signal, image).
ARTEFACT_MODALITIES: tuple[str, ...] = ("report", "model")

#: GDPR legal bases by short code: Art. 6(1) lawfulness, Art. 9(2) conditions for special categories.
LEGAL_BASES: Mapping[str, str] = {
    "art6-1-a": "Art. 6(1)(a) GDPR: consent of the data subject",
    "art6-1-b": "Art. 6(1)(b) GDPR: necessary for a contract with the data subject",
    "art6-1-c": "Art. 6(1)(c) GDPR: necessary for a legal obligation of the controller",
    "art6-1-d": "Art. 6(1)(d) GDPR: necessary to protect vital interests",
    "art6-1-e": "Art. 6(1)(e) GDPR: task in the public interest or in the exercise of official authority",
    "art6-1-f": "Art. 6(1)(f) GDPR: legitimate interests of the controller or a third party",
    "art9-2-a": "Art. 9(2)(a) GDPR: explicit consent",
    "art9-2-b": "Art. 9(2)(b) GDPR: obligations in employment, social security and social protection law",
    "art9-2-c": "Art. 9(2)(c) GDPR: vital interests where the data subject cannot consent",
    "art9-2-d": "Art. 9(2)(d) GDPR: activities of a not-for-profit body, for its members",
    "art9-2-e": "Art. 9(2)(e) GDPR: data manifestly made public by the data subject",
    "art9-2-f": "Art. 9(2)(f) GDPR: legal claims or courts acting in their judicial capacity",
    "art9-2-g": "Art. 9(2)(g) GDPR: substantial public interest, on the basis of Union or Member State law",
    "art9-2-h": "Art. 9(2)(h) GDPR: preventive or occupational medicine, medical diagnosis, health or social care",
    "art9-2-i": "Art. 9(2)(i) GDPR: public interest in the area of public health",
    "art9-2-j": "Art. 9(2)(j) GDPR: archiving in the public interest, scientific or historical research, statistics",
    "not-personal": "Not personal data (GDPR Recital 26): anonymous or synthetic, no legal basis needed",
}
#: Bases that rest on the data subjects' consent: the purposes must lie within the consent scope.
CONSENT_BASES = frozenset({"art6-1-a", "art9-2-a"})
_BASIS = re.compile(
    r"^(?:art(?:icle)?\.?\s*)?(?P<art>[69])\s*[-.(\s]?\s*(?P<par>[12])\s*\)?\s*[-.(\s]?\s*(?P<let>[a-j])\s*\)?$",
    re.IGNORECASE,
)

#: Privacy figures a catalog entry may carry: name -> (lowest, highest, integer?, meaning). One more
#: key, ``source_kind`` (a kind name), says what a ``derived`` artefact counts as for access
#: decisions: the most identifying kind among its sources (a model of identifiable data can leak it).
PRIVACY_FIGURES: Mapping[str, tuple[float, float, bool, str]] = {
    "k_reached": (1, math.inf, True, "smallest equivalence class over the quasi-identifiers (k-anonymity)"),
    "l_reached": (1, math.inf, False, "smallest diversity of the sensitive attribute in a class (l-diversity)"),
    "t_reached": (0, 1, False, "largest distance of a class's sensitive distribution from the table's"),
    "epsilon_spent": (0, math.inf, False, "differential-privacy ε spent on this data set, in total"),
    "delta_spent": (0, 1, False, "differential-privacy δ spent on this data set, in total"),
    "risk": (0, 1, False, "highest re-identification risk of a record (prosecutor model)"),
    "average_risk": (0, 1, False, "average re-identification risk of a record"),
    "suppressed_records": (0, math.inf, True, "records removed to reach the privacy models"),
    "privacy_score": (0, 1, False, "privacy axis score of the synthetic-data scorecard (1 = ideal)"),
    "mia_auc": (0, 1, False, "membership-inference attack AUC against this synthetic data (0.5 = chance)"),
}

_PURPOSE = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,99}$")
_DURATION = re.compile(r"^P(?:(?P<y>\d+)Y)?(?:(?P<m>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_legal_basis(value: str | Iterable[str], *, location: str = "legal_basis") -> tuple[str, ...]:
    """Normalise legal bases to short codes (``art6-1-e``); accepts ``Art. 6(1)(e)``, ``6-1-e``, comma lists.

    Raises :class:`InputError` naming every value that is not a GDPR Art. 6(1) basis, an
    Art. 9(2) condition or ``not-personal``.
    """
    items = value.split(",") if isinstance(value, str) else list(value)
    codes: list[str] = []
    problems: list[Problem] = []
    for raw in items:
        text = str(raw).strip()
        if not text:
            continue
        low = text.lower()
        if low in LEGAL_BASES:
            code = low
        elif m := _BASIS.match(text):
            code = f"art{m['art']}-{m['par']}-{m['let'].lower()}"
            if code not in LEGAL_BASES:  # e.g. Art. 6(2) or 9(1): not a basis
                problems.append(
                    Problem(location, repr(text), "an Art. 6(1)(a)–(f) basis or an Art. 9(2)(a)–(j) condition")
                )
                continue
        else:
            close = difflib.get_close_matches(low, LEGAL_BASES, n=1)
            problems.append(
                Problem(
                    location,
                    repr(text),
                    "a code such as art6-1-e (Art. 6(1)(e)) or art9-2-j (Art. 9(2)(j)), or not-personal",
                    f"Did you mean '{close[0]}'?" if close else "",
                )
            )
            continue
        if code not in codes:
            codes.append(code)
    if problems:
        raise InputError(problems)
    return tuple(codes)


def legal_basis_text(code: str) -> str:
    """The human reading of a legal-basis code (the code itself when unknown)."""
    return LEGAL_BASES.get(code, code)


def parse_retention(value: str, *, location: str = "retention", today: date | None = None) -> str:
    """Validate a retention: an ISO date ``YYYY-MM-DD`` (not past) or an ISO 8601 duration ``P10Y``, ``P6M``.

    Returns the normalised text (durations upper-cased). Durations take years, months, weeks
    and days; hours make no sense for keeping records and are refused.
    """
    text = str(value).strip()
    expected = "an ISO date (2035-12-31) or an ISO 8601 duration (P10Y, P6M, P1Y6M, P90D)"
    if _DATE.match(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise InputError(Problem(location, repr(text), f"a real calendar date; {expected}")) from None
        if day < (today or datetime.now(UTC).date()):
            raise InputError(
                Problem(location, f"{text}, a date in the past", "a future date: data past retention must be erased")
            )
        return text
    upper = text.upper()
    m = _DURATION.match(upper)
    if m is None or upper == "P":
        raise InputError(Problem(location, repr(text), expected))
    if not any(int(g) for g in m.groups() if g is not None):
        raise InputError(Problem(location, repr(text), "a duration longer than zero"))
    return upper


def erase_by(retention: str, registered_at: str) -> date | None:
    """When data kept under ``retention`` (registered at ``registered_at``) must be erased; None if unparseable."""
    if _DATE.match(retention):
        try:
            return date.fromisoformat(retention)
        except ValueError:
            return None
    m = _DURATION.match(retention)
    if m is None or not registered_at:
        return None
    try:
        start = datetime.fromisoformat(registered_at).date()
    except ValueError:
        return None
    years, months, weeks, days = (int(g or 0) for g in (m["y"], m["m"], m["w"], m["d"]))
    total = start.month - 1 + months + 12 * years
    year, month = start.year + total // 12, total % 12 + 1
    last = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(start.day, last)) + timedelta(weeks=weeks, days=days)


def purpose_problems(where: str, values: Sequence[str], *, required: bool) -> list[Problem]:
    out = [
        Problem(where, repr(v), "a purpose name: lowercase letters, digits, _ . - (as declared in the policy)")
        for v in values
        if not _PURPOSE.match(v)
    ]
    if required and not values:
        out.append(Problem(where, "empty", "at least one purpose the data set is processed for"))
    dupes = sorted({v for v in values if list(values).count(v) > 1})
    if dupes:
        out.append(Problem(where, f"{dupes} listed twice", "each purpose once"))
    return out


def figure_problems(figures: Mapping[str, object]) -> list[Problem]:
    out: list[Problem] = []
    for key, value in figures.items():
        if key == "source_kind":
            if value not in KINDS[:4]:
                out.append(Problem("privacy.source_kind", repr(value), f"one of {list(KINDS[:4])}"))
            continue
        spec = PRIVACY_FIGURES.get(key)
        if spec is None:
            close = difflib.get_close_matches(key, [*PRIVACY_FIGURES, "source_kind"], n=1)
            out.append(
                Problem(
                    f"privacy.{key}",
                    "an unknown figure",
                    f"one of {sorted([*PRIVACY_FIGURES, 'source_kind'])}",
                    f"Did you mean '{close[0]}'?" if close else "",
                )
            )
            continue
        low, high, integer, _meaning = spec
        ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not isinstance(value, int | float) or not ok_type:
            out.append(Problem(f"privacy.{key}", repr(value), "an integer" if integer else "a number"))
        elif not (math.isfinite(value) and low <= value <= high):
            out.append(Problem(f"privacy.{key}", repr(value), f"a finite number in [{low:g}, {high:g}]"))
    return out
