"""HIPAA Safe Harbor check: which columns look like one of the 18 identifiers of 45 CFR §164.514(b)(2).

Safe Harbor de-identification removes 18 kinds of identifiers of the individual (and of relatives,
employers and household members). This module reads each column's *name*, its schema *type and
role*, and a sample of its *values*, and reports every column that looks like one of them, with
the reason and what to do. Findings are ``identifier`` (the evidence is direct: an e-mail pattern,
a column called ``mrn``, ages above 89) or ``possible`` (worth a look: a column whose values are
nearly all distinct).

It is a screening aid, not a certificate: Safe Harbor also requires that the covered entity has
no actual knowledge that what remains could identify a person, which no program can check.
Findings never quote values, so the report itself discloses nothing.

The rules are data (:data:`RULES`): a name pattern and/or a value pattern per category, plus four
checks that need more than a pattern (dates finer than a year, ages over 89, 3-digit ZIP codes of
sparsely populated areas, and unique codes).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

from medsyn.data.dataset import Dataset
from medsyn.data.schema import Field, FieldType, Role, Schema
from medsyn.errors import InputError, Problem

__all__ = [
    "RULES",
    "HipaaIdentifier",
    "SafeHarborCertainty",
    "SafeHarborFinding",
    "SafeHarborReport",
    "safe_harbor_check",
]


class HipaaIdentifier(StrEnum):
    """The 18 Safe Harbor identifiers, §164.514(b)(2)(i)(A)–(R)."""

    NAMES = "names"
    GEOGRAPHIC = "geographic_subdivision"
    DATES = "dates"
    TELEPHONE = "telephone_number"
    FAX = "fax_number"
    EMAIL = "email_address"
    SSN = "social_security_number"
    MEDICAL_RECORD = "medical_record_number"
    HEALTH_PLAN = "health_plan_beneficiary_number"
    ACCOUNT = "account_number"
    LICENSE = "certificate_license_number"
    VEHICLE = "vehicle_identifier"
    DEVICE = "device_identifier"
    URL = "web_url"
    IP_ADDRESS = "ip_address"
    BIOMETRIC = "biometric_identifier"
    PHOTO = "full_face_photograph"
    OTHER = "other_unique_identifier"

    @property
    def letter(self) -> str:
        return "ABCDEFGHIJKLMNOPQR"[list(HipaaIdentifier).index(self)]

    @property
    def label(self) -> str:
        """The regulation's wording, shortened."""
        return _TITLES[self]


_TITLES = {
    HipaaIdentifier.NAMES: "Names",
    HipaaIdentifier.GEOGRAPHIC: "Geographic subdivisions smaller than a state",
    HipaaIdentifier.DATES: "Dates (except year) related to a person; ages over 89",
    HipaaIdentifier.TELEPHONE: "Telephone numbers",
    HipaaIdentifier.FAX: "Fax numbers",
    HipaaIdentifier.EMAIL: "E-mail addresses",
    HipaaIdentifier.SSN: "Social security numbers",
    HipaaIdentifier.MEDICAL_RECORD: "Medical record numbers",
    HipaaIdentifier.HEALTH_PLAN: "Health plan beneficiary numbers",
    HipaaIdentifier.ACCOUNT: "Account numbers",
    HipaaIdentifier.LICENSE: "Certificate / license numbers",
    HipaaIdentifier.VEHICLE: "Vehicle identifiers and serial numbers, licence plates",
    HipaaIdentifier.DEVICE: "Device identifiers and serial numbers",
    HipaaIdentifier.URL: "Web URLs",
    HipaaIdentifier.IP_ADDRESS: "IP addresses",
    HipaaIdentifier.BIOMETRIC: "Biometric identifiers (finger and voice prints)",
    HipaaIdentifier.PHOTO: "Full-face photographs and comparable images",
    HipaaIdentifier.OTHER: "Any other unique identifying number, characteristic or code",
}


class SafeHarborCertainty(StrEnum):
    IDENTIFIER = "identifier"  # direct evidence: remove or transform before a Safe Harbor release
    POSSIBLE = "possible"  # worth a look by a person


@dataclass(frozen=True, slots=True)
class SafeHarborFinding:
    """One column that looks like a Safe Harbor identifier, why, and what to do."""

    category: HipaaIdentifier
    column: str
    reason: str
    evidence: str  # "name", "values", "name and values", "schema"
    certainty: SafeHarborCertainty
    fix: str

    def to_dict(self) -> dict[str, str]:
        return {
            "category": self.category.value,
            "letter": self.category.letter,
            "title": self.category.label,
            "column": self.column,
            "reason": self.reason,
            "evidence": self.evidence,
            "certainty": self.certainty.value,
            "fix": self.fix,
        }


@dataclass(frozen=True, slots=True)
class SafeHarborReport:
    """Every finding over the columns checked; ``passed`` when none is a definite identifier."""

    findings: tuple[SafeHarborFinding, ...]
    columns_checked: tuple[str, ...]
    sample_size: int

    @property
    def passed(self) -> bool:
        return not any(f.certainty is SafeHarborCertainty.IDENTIFIER for f in self.findings)

    def categories(self) -> list[HipaaIdentifier]:
        """The categories found, in the regulation's order."""
        found = {f.category for f in self.findings}
        return [c for c in HipaaIdentifier if c in found]

    def for_column(self, column: str) -> list[SafeHarborFinding]:
        return [f for f in self.findings if f.column == column]

    def to_dict(self) -> dict[str, object]:
        return {
            "passed": self.passed,
            "identifiers": sum(f.certainty is SafeHarborCertainty.IDENTIFIER for f in self.findings),
            "possible": sum(f.certainty is SafeHarborCertainty.POSSIBLE for f in self.findings),
            "categories": [c.value for c in self.categories()],
            "columns_checked": len(self.columns_checked),
            "sample_size": self.sample_size,
            "findings": [f.to_dict() for f in self.findings],
            "note": "Safe Harbor also requires no actual knowledge that the rest could identify a person.",
        }


# ----------------------------------------------------------------------------------- rules


@dataclass(frozen=True, slots=True)
class Rule:
    """A category recognised by its column name and/or the share of values matching a pattern."""

    category: HipaaIdentifier
    name: re.Pattern[str] | None
    values: re.Pattern[str] | None
    fix: str
    #: Whether matching values alone (no telling name) are direct evidence.
    values_alone: bool = True
    min_share: float = 0.8


def _name(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"(^|_)({pattern})($|_)")


_DROP = "Drop the column, or replace it with a keyed pseudonym (medsyn pseudonymise) if records must stay linkable."
RULES: tuple[Rule, ...] = (
    Rule(
        HipaaIdentifier.NAMES,
        re.compile(
            r"^(names?|surname|forename)$|(^|_)(first|last|given|family|middle|maiden|full|patient|person|mother|"
            r"father|spouse|sur|nick|pt|fore|guardian|relative|contact)_?names?($|_)"
        ),
        re.compile(r"[A-Z][a-z'’.-]+(?:,? [A-Z][a-z'’.-]+){1,3}"),
        "Drop the column.",
        values_alone=False,
    ),
    Rule(
        HipaaIdentifier.GEOGRAPHIC,
        _name(
            r"address|addr|street|city|town|village|county|precinct|municipality|neighbou?rhood|district|"
            r"geocode|census_?tract|tract|block_?group|latitude|longitude|lat|lon|lng|coordinates?"
        ),
        re.compile(
            r"\d+\s+(?:\w+\s+){0,4}(?:st|street|ave|avenue|rd|road|blvd|boulevard|lane|ln|dr|drive|way|ct|court|"
            r"pl|place|terrace|hwy|highway)\.?(?:,.*)?",
            re.IGNORECASE,
        ),
        "Keep at most the state; drop or generalise finer geography.",
    ),
    Rule(
        HipaaIdentifier.TELEPHONE,
        _name(r"phone|phone_?(no|number|nr)|tel|telephone|mobile|cell|cellphone|contact_?number"),
        re.compile(r"\+?(?=(?:\D*\d){10,15}\D*$)[\d][\d\s().-]{8,}\d"),
        _DROP,
        values_alone=False,
    ),
    Rule(HipaaIdentifier.FAX, _name(r"fax|fax_?(no|number)|telefax"), None, "Drop the column."),
    Rule(
        HipaaIdentifier.EMAIL,
        _name(r"e_?mail|email_?address|mail"),
        re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}"),
        "Drop the column.",
    ),
    Rule(
        HipaaIdentifier.SSN,
        _name(r"ssn|social_?security(_?(no|number))?|sin|national_?insurance(_?number)?|ni_?number"),
        re.compile(r"\d{3}-\d{2}-\d{4}"),
        "Drop the column.",
    ),
    Rule(
        HipaaIdentifier.MEDICAL_RECORD,
        _name(
            r"mrn|medical_?record(_?(no|number|nr|id))?|med_?rec(_?(no|number))?|record_?(no|number)|"
            r"patient_?(id|nbr|no|number|num)|pidnum|pid|hospital_?(no|number)|chart_?(no|number)|case_?(no|number)|"
            r"nhs_?(no|number)|subject_?id"
        ),
        None,
        _DROP,
    ),
    Rule(
        HipaaIdentifier.HEALTH_PLAN,
        _name(
            r"health_?plan(_?(id|no|number))?|insurance_?(id|no|number)|member_?(id|no|number)|beneficiary(_?id)?|"
            r"subscriber(_?id)?|policy_?(id|no|number)|medicare_?(id|no|number)|medicaid_?(id|no|number)|"
            r"group_?number|plan_?id"
        ),
        None,
        _DROP,
    ),
    Rule(
        HipaaIdentifier.ACCOUNT,
        _name(
            r"account|account_?(id|no|number)|acct|acct_?(no|number)|billing_?(id|no|number)|invoice_?(no|number)|iban"
        ),
        re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}"),
        "Drop the column.",
    ),
    Rule(
        HipaaIdentifier.LICENSE,
        _name(r"licen[cs]e(_?(id|no|number))?|certificate(_?(id|no|number))?|cert_?(id|no|number)|dea_?(no|number)"),
        None,
        "Drop the column.",
    ),
    Rule(
        HipaaIdentifier.VEHICLE,
        _name(r"vin|vehicle(_?(id|no|number))?|licen[cs]e_?plate|plate_?(no|number)|number_?plate"),
        re.compile(r"[A-HJ-NPR-Z0-9]{17}"),
        "Drop the column.",
        values_alone=False,
    ),
    Rule(
        HipaaIdentifier.DEVICE,
        _name(r"device_?(id|serial|no|number)|serial(_?(id|no|number))?|udi|imei|mac_?address|implant_?serial"),
        re.compile(r"(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}"),
        "Drop the column.",
    ),
    Rule(
        HipaaIdentifier.URL,
        _name(r"url|uri|website|web_?site|homepage|web_?page|link"),
        re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE),
        "Drop the column.",
    ),
    Rule(
        HipaaIdentifier.IP_ADDRESS,
        _name(r"ip|ip_?address|ipv4|ipv6|client_?ip|remote_?addr"),
        re.compile(r"(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)|[0-9a-fA-F:]*:[0-9a-fA-F:]+"),
        "Drop the column.",
    ),
    Rule(
        HipaaIdentifier.BIOMETRIC,
        _name(
            r"finger_?print|voice_?print|retina_?scan|iris_?scan|iris_?code|biometrics?|face_?(embedding|template|print)"
            r"|palm_?print|gait_?signature"
        ),
        None,
        "Drop the column.",
    ),
    Rule(
        HipaaIdentifier.PHOTO,
        _name(r"photo|photograph|picture|face_?image|head_?shot|portrait|selfie|mug_?shot|face_?photo"),
        None,
        "Drop the column (and the images) unless they show no face.",
    ),
)

#: The 17 three-digit ZIP codes whose areas held 20,000 people or fewer (2000 Census, per HHS
#: guidance on §164.514(b)(2)(i)(B)); Safe Harbor requires them to be released as ``000``.
RESTRICTED_ZIP3 = frozenset(
    {
        "036",
        "059",
        "063",
        "102",
        "203",
        "556",
        "692",
        "790",
        "821",
        "823",
        "830",
        "831",
        "878",
        "879",
        "884",
        "890",
        "893",
    }
)
_ZIP_NAME = _name(r"zip|zip_?code|zipcode|postal|postal_?code|post_?code|postcode|zip3|zip5")
_DATE_NAME = _name(
    r"date|dob|birth|birth_?date|date_?of_?birth|birthday|admit|admission_?date|discharge_?date|death|"
    r"death_?date|dod|visit_?date|service_?date|dt|timestamp|datetime"
)
_YEAR_NAME = _name(r"year|yr|yob|birth_?year|year_?of_?birth")
_BIRTH_NAME = _name(r"yob|birth|birth_?year|year_?of_?birth|dob")
_AGE_NAME = _name(r"age|age_?years|age_?yrs|age_?at_?\w+|patient_?age|age_?group|age_?band")
_ID_NAME = _name(r"id|ids|uid|uuid|guid|identifier|accession(_?(no|number))?|barcode|encounter_?id|visit_?id")
_DATE_VALUE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}.*|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}.*|\d{8}")
_NINETY_PLUS = re.compile(r"(?:>=?|≥)\s*90|90\s*(?:\+|and over|or older|plus|and older)", re.IGNORECASE)


def _name_key(name: str) -> str:
    """``PatientName`` / ``Patient Name`` / ``patient-name`` → ``patient_name``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(name))
    return re.sub(r"[^a-z0-9]+", "_", spaced.lower()).strip("_")


@dataclass(frozen=True, slots=True)
class ValueSample:
    """Distinct values of a column's sample as text, with how often each occurs in the sample."""

    text: pd.Series
    weights: np.ndarray
    size: int

    def share(self, pattern: re.Pattern[str]) -> float:
        """Share of sampled values that fully match ``pattern`` (each distinct value matched once)."""
        if not self.size:
            return 0.0
        hits = self.text.str.fullmatch(pattern).to_numpy(dtype=bool)
        return float(self.weights[hits].sum() / self.size)


def _sample(series: pd.Series, size: int) -> ValueSample:
    """Up to ``size`` non-missing values, evenly spaced (deterministic), as distinct texts with counts."""
    present = series.dropna()
    if len(present) > size:
        present = present.iloc[np.linspace(0, len(present) - 1, size).astype(int)]
    counts = present.astype(str).str.strip().value_counts(sort=False)
    text = pd.Series(counts.index.astype(str), dtype=object)
    return ValueSample(text, counts.to_numpy(dtype=float), len(present))


# ------------------------------------------------------------------------------------ checks

Check = Callable[[str, str, pd.Series, ValueSample, Field | None], list[SafeHarborFinding]]


def _pattern_rules(
    column: str, key: str, series: pd.Series, sample: ValueSample, fld: Field | None
) -> list[SafeHarborFinding]:
    out = []
    for rule in RULES:
        by_name = rule.name is not None and bool(rule.name.search(key))
        share = sample.share(rule.values) if rule.values is not None else 0.0
        by_values = share >= rule.min_share
        if not by_name and not (by_values and rule.values_alone):
            if by_values:  # the values look like it but the name does not say so
                out.append(_finding(rule, column, share, sample.size, "values", SafeHarborCertainty.POSSIBLE))
            continue
        evidence = "name and values" if by_name and by_values else "name" if by_name else "values"
        certainty = SafeHarborCertainty.IDENTIFIER
        if rule.category is HipaaIdentifier.NAMES and not by_values and key in {"name", "names"}:
            certainty = SafeHarborCertainty.POSSIBLE  # a bare "name" may name a drug or a site
        out.append(_finding(rule, column, share, sample.size, evidence, certainty))
    return out


def _finding(
    rule: Rule, column: str, share: float, sampled: int, evidence: str, certainty: SafeHarborCertainty
) -> SafeHarborFinding:
    if evidence == "name":
        reason = f"the column name says {rule.category.label.lower()}"
    else:
        reason = f"{share:.0%} of {sampled} sampled values look like {rule.category.label.lower()}"
        if evidence == "name and values":
            reason += ", and so does the column name"
    return SafeHarborFinding(rule.category, column, reason, evidence, certainty, rule.fix)


def _zip_codes(
    column: str, key: str, series: pd.Series, sample: ValueSample, fld: Field | None
) -> list[SafeHarborFinding]:
    if not _ZIP_NAME.search(key):
        return []
    digits = ValueSample(sample.text.str.replace(r"\.0$", "", regex=True), sample.weights, sample.size)
    five = digits.share(re.compile(r"\d{5}(-\d{4})?"))
    geo = HipaaIdentifier.GEOGRAPHIC
    if five >= 0.5:
        return [
            SafeHarborFinding(
                geo,
                column,
                f"{five:.0%} of sampled values are 5-digit ZIP codes",
                "name and values",
                SafeHarborCertainty.IDENTIFIER,
                "Keep only the first 3 digits, and 000 for the 17 sparsely populated 3-digit areas.",
            )
        ]
    short = digits.text.str.fullmatch(r"\d{1,3}").to_numpy(dtype=bool)
    three = digits.text[short].str.zfill(3)
    if short.any() and digits.weights[short].sum() >= 0.5 * digits.size:
        restricted = sorted(set(three) & RESTRICTED_ZIP3)
        if restricted:
            return [
                SafeHarborFinding(
                    geo,
                    column,
                    f"3-digit ZIP codes of areas with ≤ 20,000 people: {restricted}",
                    "name and values",
                    SafeHarborCertainty.IDENTIFIER,
                    "Replace these 3-digit ZIP codes with 000.",
                )
            ]
        return []
    return [
        SafeHarborFinding(
            geo,
            column,
            "the column name says ZIP / postal code",
            "name",
            SafeHarborCertainty.IDENTIFIER,
            "Keep at most 3 digits.",
        )
    ]


def _dates(column: str, key: str, series: pd.Series, sample: ValueSample, fld: Field | None) -> list[SafeHarborFinding]:
    fix = "Keep only the year (or shift dates per person and say so; Safe Harbor itself allows only the year)."
    cat = HipaaIdentifier.DATES
    is_datetime = pd.api.types.is_datetime64_any_dtype(series.dtype) or (
        fld is not None and fld.type is FieldType.DATETIME
    )
    if is_datetime:
        return [
            SafeHarborFinding(
                cat, column, "a date/time column (finer than a year)", "schema", SafeHarborCertainty.IDENTIFIER, fix
            )
        ]
    share = sample.share(_DATE_VALUE)
    if share >= 0.8:
        evidence = "name and values" if _DATE_NAME.search(key) else "values"
        certainty = SafeHarborCertainty.IDENTIFIER if _DATE_NAME.search(key) else SafeHarborCertainty.POSSIBLE
        reason = f"{share:.0%} of sampled values are full dates"
        return [SafeHarborFinding(cat, column, reason, evidence, certainty, fix)]
    if _BIRTH_NAME.search(key) and _YEAR_NAME.search(key) and pd.api.types.is_numeric_dtype(series.dtype):
        cutoff = dt.date.today().year - 90
        old = int((pd.to_numeric(series, errors="coerce") <= cutoff).sum())
        if old:
            return [
                SafeHarborFinding(
                    cat,
                    column,
                    f"{old} birth year(s) ≤ {cutoff} reveal an age over 89",
                    "name and values",
                    SafeHarborCertainty.IDENTIFIER,
                    f"Aggregate birth years ≤ {cutoff} into one category.",
                )
            ]
        return []
    if _DATE_NAME.search(key) and not _YEAR_NAME.search(key) and not pd.api.types.is_numeric_dtype(series.dtype):
        return [
            SafeHarborFinding(
                cat, column, "the column name says it holds dates", "name", SafeHarborCertainty.POSSIBLE, fix
            )
        ]
    return []


def _ages(column: str, key: str, series: pd.Series, sample: ValueSample, fld: Field | None) -> list[SafeHarborFinding]:
    if not _AGE_NAME.search(key) or key.startswith(("page", "stage", "usage", "dosage")):
        return []
    fix = "Put every age above 89 into one category '90 or older'."
    cat = HipaaIdentifier.DATES
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        over = int((series > 89).sum())
        if over:
            return [
                SafeHarborFinding(
                    cat,
                    column,
                    f"{over} record(s) with an age over 89",
                    "name and values",
                    SafeHarborCertainty.IDENTIFIER,
                    fix,
                )
            ]
        return []
    labels = pd.Series(pd.unique(series.dropna())).astype(str)
    if not len(labels):
        return []
    lows = pd.to_numeric(labels.str.extract(r"(\d+)", expand=False), errors="coerce")
    above = labels[lows >= 90]
    if not len(above):
        return []
    open_ended = above.str.contains(_NINETY_PLUS)
    if len(above) == 1 and open_ended.all():
        return []
    if len(above) == 1:
        reason = "one age band starts at 90 but has an upper end; Safe Harbor wants one open '90 or older' category"
        return [SafeHarborFinding(cat, column, reason, "name and values", SafeHarborCertainty.POSSIBLE, fix)]
    reason = f"{len(above)} distinct age values or bands above 89"
    return [SafeHarborFinding(cat, column, reason, "name and values", SafeHarborCertainty.IDENTIFIER, fix)]


def _unique_codes(
    column: str, key: str, series: pd.Series, sample: ValueSample, fld: Field | None
) -> list[SafeHarborFinding]:
    cat = HipaaIdentifier.OTHER
    if fld is not None and (fld.type is FieldType.IDENTIFIER or Role.IDENTIFIER in fld.roles):
        return [
            SafeHarborFinding(
                cat, column, "the schema marks it as an identifier", "schema", SafeHarborCertainty.IDENTIFIER, _DROP
            )
        ]
    present = series.dropna()
    if len(present) < 20:
        return []
    kind = series.dtype.kind if isinstance(series.dtype, np.dtype) else ""
    if kind == "f" or kind == "b" or kind == "M" or isinstance(series.dtype, pd.CategoricalDtype):
        return []  # measurements, flags, dates and coded categories are not codes of a person
    distinct = present.nunique() / len(present)
    if _ID_NAME.search(key) and distinct >= 0.5:
        reason = f"an id-like name with {distinct:.0%} distinct values"
        return [SafeHarborFinding(cat, column, reason, "name and values", SafeHarborCertainty.IDENTIFIER, _DROP)]
    if distinct >= 0.95:
        reason = f"{distinct:.0%} of values are distinct: it may be an identifying code"
        return [SafeHarborFinding(cat, column, reason, "values", SafeHarborCertainty.POSSIBLE, _DROP)]
    return []


CHECKS: tuple[Check, ...] = (_pattern_rules, _zip_codes, _dates, _ages, _unique_codes)


# ------------------------------------------------------------------------------------ entry


def safe_harbor_check(
    data: Dataset | pd.DataFrame, *, schema: Schema | None = None, sample_size: int = 2000
) -> SafeHarborReport:
    """Screen every column for the 18 HIPAA Safe Harbor identifiers.

    Parameters
    ----------
    data
        A dataset (its attribute table is checked: the table itself, or the per-record attributes
        of signals and images) or a DataFrame.
    schema
        The data dictionary; defaults to the dataset's. Types and roles add evidence.
    sample_size
        Values sampled per column (evenly spaced, deterministic) for the value patterns. Counts
        (ages over 89, restricted ZIP codes) use every value.

    Examples
    --------
    >>> df = pd.DataFrame({"email": ["a@x.org", "b@y.com"], "age": [91, 40], "sex": ["F", "M"]})
    >>> [(f.column, f.category.letter) for f in safe_harbor_check(df).findings]
    [('email', 'F'), ('age', 'C')]
    """
    if isinstance(data, Dataset):
        frame, schema = data.attributes, schema if schema is not None else data.schema
    elif isinstance(data, pd.DataFrame):
        frame = data
    else:
        raise InputError(Problem("data", f"a {type(data).__name__}", "a Dataset or a pandas DataFrame"))
    if sample_size < 1:
        raise InputError(Problem("sample_size", repr(sample_size), "at least 1"))
    findings: list[SafeHarborFinding] = []
    for column in frame.columns:
        name = str(column)
        series = frame[column]
        fld = schema[name] if schema is not None and name in schema else None
        sample = _sample(series, sample_size)
        found = [f for check in CHECKS for f in check(name, _name_key(name), series, sample, fld)]
        findings.extend(_strongest(found))
    return SafeHarborReport(tuple(findings), tuple(str(c) for c in frame.columns), sample_size)


def _strongest(found: Iterable[SafeHarborFinding]) -> list[SafeHarborFinding]:
    """One finding per category (the most certain); 'other unique code' only where nothing more specific fits."""
    best: dict[HipaaIdentifier, SafeHarborFinding] = {}
    for f in found:
        kept = best.get(f.category)
        if kept is None or (
            kept.certainty is SafeHarborCertainty.POSSIBLE and f.certainty is SafeHarborCertainty.IDENTIFIER
        ):
            best[f.category] = f
    specific = [f for c, f in best.items() if c is not HipaaIdentifier.OTHER]
    other = best.get(HipaaIdentifier.OTHER)
    definite = any(f.certainty is SafeHarborCertainty.IDENTIFIER for f in specific)
    if other is not None and (not specific or (other.certainty is SafeHarborCertainty.IDENTIFIER and not definite)):
        specific.append(other)
    order = list(HipaaIdentifier)
    return sorted(specific, key=lambda f: order.index(f.category))
