"""DICOM PS3.15 Annex E: the Basic Application Level Confidentiality Profile and its options, as data.

The rules come from ``table_e1_1.json`` beside this module: every row of PS3.15 Table E.1-1
(edition 2026d, 657 rows: tag, name, retired, in-standard-IOD, the Basic Profile action and the
action of each option column). The rows were converted unchanged from a generated copy of the
standard (see the file's ``source`` block) and are checked against their recorded SHA-256 on
load, so an edited table is refused instead of silently de-identifying less.

How an attribute's action is decided (documented in ``docs/privacy.md`` too):

* Options win over the Basic Profile where their column gives an action. When two enabled
  options both give one (Device UID: Retain UIDs ``K`` and Retain Device Identity ``K``; Date
  of Last Calibration: Retain Device Identity ``K`` and Modified Dates ``C``), ``C`` wins over
  ``K``: a calibration date kept verbatim beside shifted dates would reveal the shift.
* Compound Basic Profile actions resolve to their first, strictest code: ``X/Z``, ``X/D``,
  ``X/Z/D`` and ``X/Z/U*`` to ``X``; ``Z/D`` to ``Z``. Table E.1-1a defines the first code as
  the one that applies where the attribute is Type 3 (``X``) or Type 2 (``Z``) in the object's
  IOD, which is the case for these attributes in the classic image, waveform, RT and SR IODs;
  without the IOD tables at hand the stricter reading is taken, which removes or empties more.
* Masked rows: ``(50xx,xxxx)`` (curves) and ``(60xx,3000)``/``(60xx,4000)`` (overlay data and
  comments) match the even repeating groups 5000-501E and 6000-601E only.
* The row ``(gggg,eeee) where gggg is odd`` covers private attributes; they are removed unless
  declared safe (the Retain Safe Private option with a list the caller passes).
* The Clean Structured Content and Clean Graphics options are not offered: rows that only those
  columns touch take their Basic Profile action.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from types import MappingProxyType

from medsyn.errors import InputError, MedsynError, Problem

__all__ = ["Action", "DeidOptions", "ProfileRow", "ProfileTable", "load_profile"]

_TABLE_FILE = "table_e1_1.json"
PRIVATE_ROW_TAG = "(gggg,eeee) where gggg is odd"


class Action(StrEnum):
    """The action codes of PS3.15 Table E.1-1a (compound codes are resolved before use)."""

    DUMMY = "D"
    ZERO = "Z"
    REMOVE = "X"
    KEEP = "K"
    CLEAN = "C"
    UID = "U"


#: CID 7050 code of each option this module offers (PS3.16), with its meaning.
_OPTION_CODES: dict[str, tuple[str, str]] = {
    "retain_safe_private": ("113111", "Retain Safe Private Option"),
    "retain_uids": ("113110", "Retain UIDs Option"),
    "retain_device_identity": ("113109", "Retain Device Identity Option"),
    "retain_institution_identity": ("113112", "Retain Institution Identity Option"),
    "retain_patient_characteristics": ("113108", "Retain Patient Characteristics Option"),
    "retain_longitudinal_full_dates": ("113106", "Retain Longitudinal Temporal Information Full Dates Option"),
    "retain_longitudinal_modified_dates": (
        "113107",
        "Retain Longitudinal Temporal Information Modified Dates Option",
    ),
    "clean_descriptors": ("113105", "Clean Descriptors Option"),
}
BASIC_PROFILE_CODE = ("113100", "Basic Application Confidentiality Profile")


@dataclass(frozen=True, slots=True)
class DeidOptions:
    """Which PS3.15 options to apply on top of the Basic Profile (all off: the Basic Profile alone).

    Parameters
    ----------
    retain_uids
        Keep UIDs (``K``) instead of replacing them.
    retain_dates
        Retain Longitudinal Temporal Information with Modified Dates: shift every date by one
        secret offset per patient, so intervals survive while calendar dates do not.
    retain_full_dates
        Retain Longitudinal Temporal Information with Full Dates (keep dates as they are).
        Excludes ``retain_dates``.
    retain_patient_characteristics
        Keep sex, age, size, weight, ethnic group, smoking and pregnancy status.
    retain_device_identity, retain_institution_identity
        Keep device serial numbers and station names, or institution names and addresses.
    clean_descriptors
        Keep descriptions and comments (series description, protocol name, …) after removing
        dates, long numbers, e-mail addresses and the patient's name from their text.
    retain_safe_private
        Keep the private attributes a safe-private list declares (it is switched on by passing
        such a list to the de-identifier).

    Examples
    --------
    >>> DeidOptions(retain_dates=True).method_codes()[1]
    ('113107', 'Retain Longitudinal Temporal Information Modified Dates Option')
    """

    retain_uids: bool = False
    retain_dates: bool = False
    retain_full_dates: bool = False
    retain_patient_characteristics: bool = False
    retain_device_identity: bool = False
    retain_institution_identity: bool = False
    clean_descriptors: bool = False
    retain_safe_private: bool = False

    def __post_init__(self) -> None:
        problems = [
            Problem(f"options.{name}", repr(value), "True or False")
            for name, value in self.flags().items()
            if not isinstance(value, bool)
        ]
        if self.retain_dates and self.retain_full_dates:
            problems.append(
                Problem(
                    "options",
                    "retain_dates and retain_full_dates both set",
                    "at most one of them (PS3.15 E.3.6: the two date options exclude each other)",
                )
            )
        if problems:
            raise InputError(problems)

    def flags(self) -> dict[str, bool]:
        return {
            "retain_uids": self.retain_uids,
            "retain_dates": self.retain_dates,
            "retain_full_dates": self.retain_full_dates,
            "retain_patient_characteristics": self.retain_patient_characteristics,
            "retain_device_identity": self.retain_device_identity,
            "retain_institution_identity": self.retain_institution_identity,
            "clean_descriptors": self.clean_descriptors,
            "retain_safe_private": self.retain_safe_private,
        }

    def columns(self) -> tuple[str, ...]:
        """The Table E.1-1 option columns these options switch on."""
        column_of = {
            "retain_uids": "retain_uids",
            "retain_dates": "retain_longitudinal_modified_dates",
            "retain_full_dates": "retain_longitudinal_full_dates",
            "retain_patient_characteristics": "retain_patient_characteristics",
            "retain_device_identity": "retain_device_identity",
            "retain_institution_identity": "retain_institution_identity",
            "clean_descriptors": "clean_descriptors",
            "retain_safe_private": "retain_safe_private",
        }
        return tuple(column_of[name] for name, on in self.flags().items() if on)

    def method_codes(self) -> list[tuple[str, str]]:
        """CID 7050 codes for De-identification Method Code Sequence: the profile, then each option."""
        return [BASIC_PROFILE_CODE, *(_OPTION_CODES[column] for column in self.columns())]

    def to_dict(self) -> dict[str, bool]:
        return self.flags()


@dataclass(frozen=True, slots=True)
class ProfileRow:
    """One row of Table E.1-1: tag (``(gggg,eeee)``, maybe masked), name, and the actions."""

    tag: str
    name: str
    retired: bool
    in_standard_iod: bool
    basic_profile: str
    options: Mapping[str, str] = field(default_factory=dict)

    def action(self, options: DeidOptions) -> Action:
        """The action for this row under ``options`` (see the module docstring for the rules)."""
        given = {self.options[column] for column in options.columns() if column in self.options}
        if "C" in given:
            return Action.CLEAN
        if "K" in given:
            return Action.KEEP
        if given:  # no other option code appears in Table E.1-1 2026d; kept general for later editions
            return resolve_compound(min(given))
        return resolve_compound(self.basic_profile)

    def to_dict(self) -> dict[str, object]:
        return {
            "tag": self.tag,
            "name": self.name,
            "retired": self.retired,
            "in_standard_iod": self.in_standard_iod,
            "basic_profile": self.basic_profile,
            "options": dict(self.options),
        }


def resolve_compound(code: str) -> Action:
    """The action a (possibly compound) code resolves to: its first, strictest part.

    Examples
    --------
    >>> [resolve_compound(c).value for c in ("X/Z/D", "Z/D", "X/Z/U*", "U")]
    ['X', 'Z', 'X', 'U']
    """
    return Action(code.split("/")[0].rstrip("*"))


def _mask(text: str) -> tuple[int, int]:
    """``(50xx,xxxx)`` -> (mask, value) over the 32-bit tag; ``x`` is any hex digit."""
    digits = text.strip("()").replace(",", "")
    mask = int("".join("0" if c in "xX" else "F" for c in digits), 16)
    value = int("".join("0" if c in "xX" else c for c in digits), 16)
    return mask, value


@dataclass(frozen=True)
class ProfileTable:
    """Table E.1-1 with lookups by tag; load it with :func:`load_profile`."""

    edition: str
    acknowledgement: str
    source: Mapping[str, str]
    rows: tuple[ProfileRow, ...]
    _exact: Mapping[int, ProfileRow] = field(repr=False, compare=False)
    _masked: tuple[tuple[int, int, ProfileRow], ...] = field(repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def private_row(self) -> ProfileRow:
        return next(row for row in self.rows if row.tag == PRIVATE_ROW_TAG)

    def row_for(self, tag: int) -> ProfileRow | None:
        """The row covering a 32-bit tag, or ``None`` when Table E.1-1 does not list it.

        Examples
        --------
        >>> table = load_profile()
        >>> table.row_for(0x00100010).name, table.row_for(0x60023000).name, table.row_for(0x60213000)
        ("Patient's Name", 'Overlay Data', None)
        """
        row = self._exact.get(tag)
        if row is not None:
            return row
        group = tag >> 16
        if group % 2:
            return None  # private groups take the private row, decided by the caller
        for mask, value, masked in self._masked:
            if tag & mask == value and (group & 0xFF) <= 0x1E:  # repeating groups 5000-501E, 6000-601E
                return masked
        return None

    def action_for(self, tag: int, options: DeidOptions) -> Action | None:
        row = self.row_for(tag)
        return None if row is None else row.action(options)


@functools.cache
def load_profile() -> ProfileTable:
    """Load the packaged Table E.1-1, refusing a copy whose rows do not match their digest.

    Examples
    --------
    >>> table = load_profile()
    >>> len(table), table.edition
    (657, '2026d')
    """
    text = resources.files("medsyn.privacy.deid").joinpath(_TABLE_FILE).read_text(encoding="utf-8")
    document = json.loads(text)
    rows_json = document["rows"]
    canonical = json.dumps(rows_json, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if hashlib.sha256(canonical.encode("utf-8")).hexdigest() != document["content_sha256"]:
        raise MedsynError(
            f"medsyn/privacy/deid/{_TABLE_FILE}: the rows do not match their recorded SHA-256; "
            "the packaged PS3.15 table was altered. Reinstall medsyn."
        )
    rows = tuple(
        ProfileRow(
            tag=r["tag"],
            name=r["name"],
            retired=bool(r["retired"]),
            in_standard_iod=bool(r["in_standard_iod"]),
            basic_profile=r["basic_profile"],
            options=MappingProxyType(dict(r["options"])),
        )
        for r in rows_json
    )
    exact: dict[int, ProfileRow] = {}
    masked: list[tuple[int, int, ProfileRow]] = []
    for row in rows:
        if row.tag == PRIVATE_ROW_TAG:
            continue
        if "x" in row.tag.lower():
            mask, value = _mask(row.tag)
            masked.append((mask, value, row))
        else:
            exact[int(row.tag.strip("()").replace(",", ""), 16)] = row
    return ProfileTable(
        edition=document["edition"],
        acknowledgement=document["acknowledgement"],
        source=MappingProxyType(dict(document["source"])),
        rows=rows,
        _exact=MappingProxyType(exact),
        _masked=tuple(masked),
    )
