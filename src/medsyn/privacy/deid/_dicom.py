"""DICOM de-identification: PS3.15 Annex E Basic Profile and options applied to a pydicom dataset.

Every element, at every depth of every sequence and in the file meta information, gets the
action its Table E.1-1 row gives under the chosen options (see :mod:`._profile`):

* ``X`` removes the element, ``Z`` empties it, ``K`` keeps it (a kept sequence is walked);
* ``D`` puts a dummy of the element's VR (``ANONYMIZED``, ``19000101``, ``0``, …). A UID given
  ``D`` gets its keyed replacement (a valid dummy that keeps references consistent), Patient ID
  gets a keyed pseudonym (``P-…``, so one patient's studies still link under one key), and a
  sequence given ``D`` is kept with its items de-identified and its free text (ST/LT/UT/UC/PN)
  replaced by dummies;
* ``U`` replaces each UID by ``2.25.<HMAC(key, uid)>``: the same UID gets the same replacement
  in every file of a run (and in every run with the same key), so referenced SOP instances,
  frames of reference and study/series membership survive;
* ``C`` cleans: dates are shifted by the patient's offset (Modified Dates option; times stay, the
  shift is whole days), descriptions lose dates, long numbers, e-mail addresses and the
  patient's name words (Clean Descriptors), AE titles become pseudonyms, sequences are walked.

Attributes Table E.1-1 does not list are kept (the Basic Profile's rule), apart from five file
meta elements that name the sending system or carry private data ((0002,0016-0018),
(0002,0100), (0002,0102)). Private attributes are removed unless the caller declares them safe.
Pixel data is never touched; an image whose Burned In Annotation is ``YES`` or missing gets a
warning, since text burned into pixels survives header de-identification. The result records
Patient Identity Removed, De-identification Method (+ Code Sequence, CID 7050) and Longitudinal
Temporal Information Modified, as PS3.15 E.1.1 asks.
"""

from __future__ import annotations

import copy
import re
import warnings
from collections import Counter
from collections.abc import Iterable, MutableSequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medsyn.privacy._keys import SecretKey
from medsyn.privacy.deid._dicom_io import RESERVED_ODD_GROUPS, SafePrivateTag, pydicom_module, read_dicom, write_dicom
from medsyn.privacy.deid._profile import Action, DeidOptions, load_profile
from medsyn.privacy.deid._report import DeidFinding, DeidReport, FindingLevel
from medsyn.privacy.deid._secret import Keyring, UidMap
from medsyn.privacy.deid._text import scrub_text

if TYPE_CHECKING:
    from pydicom.dataelem import DataElement
    from pydicom.dataset import Dataset

__all__ = ["DicomDeid", "deidentify_dicom"]

_TEXT_VRS = {"LO", "LT", "SH", "ST", "UC", "UT"}
_FREE_TEXT_VRS = {"LT", "ST", "UC", "UT", "PN"}
_MAX_LENGTH = {"AE": 16, "CS": 16, "LO": 64, "SH": 16, "ST": 1024, "LT": 10240, "PN": 64}
_DUMMY_TEXT = {
    "AE": "ANONYMIZED",
    "AS": "000Y",
    "CS": "ANONYMIZED",
    "DA": "19000101",
    "DS": "0",
    "DT": "19000101000000",
    "IS": "0",
    "LO": "ANONYMIZED",
    "LT": "ANONYMIZED",
    "PN": "ANONYMIZED",
    "SH": "ANONYMIZED",
    "ST": "ANONYMIZED",
    "TM": "000000",
    "UC": "ANONYMIZED",
    "UR": "urn:anonymized",
    "UT": "ANONYMIZED",
}
_NUMERIC_VRS = {"FL", "FD", "SL", "SS", "UL", "US", "SV", "UV"}
_BINARY_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}
_META_REMOVED = {0x00020016, 0x00020017, 0x00020018, 0x00020100, 0x00020102}
_PIXEL_TAGS = {0x7FE00010, 0x7FE00008, 0x7FE00009}


@dataclass(frozen=True, slots=True)
class DicomDeid:
    """A de-identified dataset and the report of what was done to it."""

    dataset: Dataset
    report: DeidReport

    def to_dict(self) -> dict[str, object]:
        return self.report.to_dict()


def _as_list(value: object) -> list[object]:
    """The values of a (possibly multi-valued) element; a PersonName or a string is one value."""
    if value is None:
        return []
    if isinstance(value, (list, tuple, MutableSequence)):
        return list(value)
    return [value]


def _shift_date(text: str, days: int, *, with_time: bool) -> str | None:
    import datetime as dt

    body = text.strip()
    if len(body) < 8 or not body[:8].isdigit():
        return None
    try:
        day = dt.datetime.strptime(body[:8], "%Y%m%d").date() + dt.timedelta(days=days)
    except ValueError:
        return None
    return day.strftime("%Y%m%d") + (body[8:] if with_time else "")


class _Walker:
    """Applies the resolved actions to one dataset tree; counts what it did."""

    def __init__(
        self,
        *,
        options: DeidOptions,
        uids: UidMap,
        keyring: Keyring,
        offset: int | None,
        safe: frozenset[tuple[int, int, str]],
        names: tuple[str, ...],
        patient_pseudonym: str | None,
    ) -> None:
        self.table = load_profile()
        self.options = options
        self.uids = uids
        self.keyring = keyring
        self.offset = offset
        self.safe = safe
        self.safe_creators = {(g, c) for g, _, c in safe}
        self.names = names
        self.patient_pseudonym = patient_pseudonym
        self.counts: Counter[str] = Counter()
        self.removed_private: list[str] = []
        self.kept_private: list[str] = []
        self.details: Counter[str] = Counter()

    # -- decisions -------------------------------------------------------------------------
    def _action(self, tag: int) -> Action:
        action = self.table.action_for(tag, self.options)
        return Action.KEEP if action is None else action

    # -- the walk --------------------------------------------------------------------------
    def walk(self, ds: Dataset, path: str = "", *, dummy: bool = False) -> None:
        tags = list(ds.keys())  # a Dataset iterates over elements; the walk needs tags, in order
        creators = {
            (t.group, t.element): str(ds[t].value).strip()
            for t in tags
            if t.is_private and 0x0010 <= t.element <= 0x00FF
        }
        kept_blocks: set[tuple[int, int]] = set()
        kept_creators: list[int] = []
        for tag in tags:
            where = f"{path}({tag.group:04X},{tag.element:04X})"
            if tag.element == 0 and tag.group != 0x0002:  # group lengths: recomputed or obsolete
                del ds[tag]
                self.counts[Action.REMOVE] += 1
                continue
            if tag.is_private:
                if self._keep_private(tag.group, tag.element, creators):
                    self.kept_private.append(where)
                    self.counts[Action.KEEP] += 1
                    if 0x0010 <= tag.element <= 0x00FF:
                        kept_creators.append(int(tag))
                    else:
                        kept_blocks.add((tag.group, tag.element >> 8))
                        elem = ds[tag]
                        if elem.VR == "SQ":
                            self._walk_items(elem, where, dummy=dummy)
                else:
                    del ds[tag]
                    self.removed_private.append(where)
                    self.counts[Action.REMOVE] += 1
                continue
            action = Action.REMOVE if int(tag) in _META_REMOVED else self._action(int(tag))
            if not path and int(tag) == 0x00100020 and action is Action.ZERO and self.patient_pseudonym:
                action = Action.DUMMY  # Z/D: a keyed pseudonym is a dummy that still links one patient's files
            self._apply(ds, tag, action, where, dummy=dummy, top=not path)
        for creator in kept_creators:  # a declared creator whose block kept nothing is dropped
            group, element = creator >> 16, creator & 0xFFFF
            if (group, element) not in kept_blocks and creator in ds:
                del ds[creator]
                self.kept_private.remove(f"{path}({group:04X},{element:04X})")
                self.removed_private.append(f"{path}({group:04X},{element:04X})")
                self.counts[Action.KEEP] -= 1
                self.counts[Action.REMOVE] += 1

    def _keep_private(self, group: int, element: int, creators: dict[tuple[int, int], str]) -> bool:
        if not self.safe or group in RESERVED_ODD_GROUPS:
            return False
        if 0x0010 <= element <= 0x00FF:
            return (group, creators.get((group, element), "")) in self.safe_creators
        if element < 0x1000:
            return False
        creator = creators.get((group, element >> 8), "")
        return (group, element & 0xFF, creator) in self.safe

    def _walk_items(self, elem: DataElement, where: str, *, dummy: bool) -> None:
        for i, item in enumerate(elem.value or []):
            self.walk(item, f"{where}[{i}]", dummy=dummy)

    def _apply(self, ds: Dataset, tag: Any, action: Action, where: str, *, dummy: bool, top: bool) -> None:
        elem = ds[tag]
        vr = elem.VR
        if action is Action.KEEP and dummy and vr in _FREE_TEXT_VRS and not elem.is_empty:
            action = Action.DUMMY  # free text inside a sequence the profile replaces by dummy content
        self.counts[action] += 1
        if action is Action.REMOVE:
            del ds[tag]
        elif action is Action.ZERO:
            elem.value = [] if vr == "SQ" else elem.empty_value
        elif action is Action.KEEP:
            if vr == "SQ":
                self._walk_items(elem, where, dummy=dummy)
        elif action is Action.UID:
            self._replace_uids(elem)
        elif action is Action.DUMMY:
            self._dummy(elem, where, top=top)
        else:
            self._clean(elem, where, dummy=dummy)

    def _replace_uids(self, elem: DataElement) -> None:
        if elem.is_empty:
            return
        if elem.VR != "UI":  # a U row read without its VR (UN): its value is not a usable UID
            elem.value = elem.empty_value
            return
        new = [self.uids(str(v)) for v in _as_list(elem.value)]
        elem.value = new[0] if len(new) == 1 else new
        self.details["uids_replaced"] += len(new)

    def _dummy(self, elem: DataElement, where: str, *, top: bool) -> None:
        vr = elem.VR
        if top and int(elem.tag) == 0x00100020 and self.patient_pseudonym is not None:
            elem.value = self.patient_pseudonym
        elif vr == "SQ":
            self._walk_items(elem, where, dummy=True)
        elif vr == "UI":
            if elem.is_empty:
                elem.value = self.uids(f"dummy:{where}")
            else:
                self._replace_uids(elem)
        elif vr in _DUMMY_TEXT:
            elem.value = _DUMMY_TEXT[vr]
        elif vr in _NUMERIC_VRS:
            elem.value = 0
        elif vr in _BINARY_VRS:
            elem.value = bytes(8)
        # AT and anything exotic keep their value: they cannot carry identifying text

    def _clean(self, elem: DataElement, where: str, *, dummy: bool) -> None:
        vr = elem.VR
        if vr == "SQ":
            self._walk_items(elem, where, dummy=dummy)
        elif vr in ("DA", "DT"):
            self._shift(elem)
        elif vr in _TEXT_VRS:
            values = []
            for v in _as_list(elem.value):
                cleaned, n = scrub_text(str(v), names=self.names)
                self.details["text_replacements"] += n
                values.append(cleaned[: _MAX_LENGTH.get(vr, len(cleaned))])
            if values:
                elem.value = values[0] if len(values) == 1 else values
            self.details["descriptors_cleaned"] += 1
        elif vr == "PN":
            elem.value = _DUMMY_TEXT["PN"]
        elif vr == "AE" and not elem.is_empty:
            elem.value = self.keyring.pseudonym(str(elem.value))[:16]
        elif vr == "UI":
            self._replace_uids(elem)
        # TM (whole-day shifts leave times as they are) and non-text VRs keep their value

    def _shift(self, elem: DataElement) -> None:
        if elem.is_empty:
            return
        if self.offset is None:
            elem.value = elem.empty_value
            self.details["dates_removed"] += 1
            return
        out: list[str] = []
        for v in _as_list(elem.value):
            moved = _shift_date(str(v), self.offset, with_time=elem.VR == "DT")
            if moved is None:
                self.details["dates_removed"] += 1
            else:
                self.details["dates_shifted"] += 1
                out.append(moved)
        elem.value = (out[0] if len(out) == 1 else out) if out else elem.empty_value


def _names(ds: Dataset) -> tuple[str, ...]:
    words: set[str] = set()
    for keyword in ("PatientName", "PatientBirthName", "OtherPatientNames", "PatientMotherBirthName"):
        for value in _as_list(ds.get(keyword)):
            words.update(w for w in re.split(r"[\^=\s,]+", str(value)) if len(w) >= 2)
    return tuple(sorted(words))


def _patient_key(ds: Dataset) -> tuple[str, str]:
    for keyword in ("PatientID", "PatientName", "StudyInstanceUID"):
        value = str(ds.get(keyword, "") or "").strip()
        if value:
            return value, keyword
    return "", "none"


def _findings(ds: Dataset, source: str) -> list[DeidFinding]:
    found: list[DeidFinding] = []
    if any(t in ds for t in _PIXEL_TAGS):
        burned = str(ds.get("BurnedInAnnotation", "") or "").strip().upper()
        if burned == "YES":
            found.append(
                DeidFinding(
                    "burned_in_annotation",
                    "Burned In Annotation is YES: identifying text may be burned into the pixels, "
                    "which header de-identification does not touch; review or clean the pixel data",
                    source,
                )
            )
        elif burned != "NO":
            found.append(
                DeidFinding(
                    "burned_in_annotation_unknown",
                    f"Burned In Annotation is {burned or 'absent'}: the pixels may carry burned-in text; "
                    "review the images before release",
                    source,
                )
            )
    return found


def deidentify_dicom(
    source: Dataset | str | Path,
    *,
    options: DeidOptions | None = None,
    key: SecretKey | None = None,
    keyring: Keyring | None = None,
    uid_map: UidMap | None = None,
    date_offset: int | None = None,
    safe_private: Iterable[SafePrivateTag] = (),
    pseudonymize_patient_id: bool = True,
    output: str | Path | None = None,
) -> DicomDeid:
    """De-identify one DICOM dataset or file with the PS3.15 Basic Profile and options.

    Parameters
    ----------
    source
        A pydicom ``Dataset`` (left unchanged: a copy is de-identified) or a DICOM file path.
    options
        The PS3.15 options (default: the Basic Profile alone).
    key, keyring
        The secret behind new UIDs, the Patient ID pseudonym and date offsets. Pass the same
        ``keyring`` (or ``key``) for every file of a study so UIDs and offsets agree. With neither,
        a one-off random key is used: the output is de-identified but links to no other run.
    uid_map
        Share a UID map across calls (default: the keyring's, derived from the key).
    date_offset
        Days to shift dates by under ``options.retain_dates`` (default: the keyed per-patient
        offset, from Patient ID, so every file of a patient moves alike).
    safe_private
        Private attributes to keep (PS3.15 Retain Safe Private option); all others are removed.
    pseudonymize_patient_id
        Replace Patient ID by a keyed pseudonym (a dummy value, ``D``) instead of emptying it.
    output
        Write the result there (atomically); the report then names it.

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> out = deidentify_dicom(get_testdata_file("CT_small.dcm"), key=SecretKey(b"k" * 32))
    >>> out.dataset.PatientName == "", out.dataset.PatientIdentityRemoved, out.report.actions["U"] > 0
    (True, 'YES', True)
    """
    pydicom_module()
    options = options or DeidOptions()
    safe = tuple(safe_private)
    if safe and not options.retain_safe_private:
        options = DeidOptions(**{**options.flags(), "retain_safe_private": True})
    if keyring is None:
        keyring = Keyring(key or SecretKey.generate())
    if isinstance(source, (str, Path)):
        name, original = str(source), read_dicom(source)
    else:
        name, original = "<dataset>", source
    ds = copy.deepcopy(original)
    patient, patient_source = _patient_key(ds)
    offset: int | None = None
    findings = _findings(ds, name)
    if options.retain_dates:
        offset = date_offset if date_offset is not None else keyring.date_offset(patient)
        if date_offset is None and patient_source != "PatientID":
            findings.append(
                DeidFinding(
                    "date_offset_source",
                    f"no Patient ID: dates shifted by the offset keyed on {patient_source}, which other "
                    "files of this patient may not share",
                    name,
                    FindingLevel.INFO,
                )
            )
    pseudonym = keyring.pseudonym(patient) if pseudonymize_patient_id and "PatientID" in ds and patient else None
    walker = _Walker(
        options=options,
        uids=uid_map or keyring.uids,
        keyring=keyring,
        offset=offset,
        safe=frozenset((s.group, s.element, s.creator) for s in safe),
        names=_names(ds),
        patient_pseudonym=pseudonym if patient_source == "PatientID" else None,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"pydicom\.")
        if getattr(ds, "file_meta", None) is not None:
            walker.walk(ds.file_meta, "meta")
        walker.walk(ds)
        method = _mark(ds, options)
        meta = getattr(ds, "file_meta", None)
        if meta is not None and "SOPInstanceUID" in ds:
            meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID  # some writers left them apart
    if output is not None:
        from medsyn._atomic import write_with

        write_with(output, lambda tmp: write_dicom(ds, tmp))
    report = DeidReport(
        source=name,
        output=None if output is None else str(output),
        format="dicom",
        actions={a.value: walker.counts[a] for a in Action},
        removed_private=tuple(walker.removed_private),
        kept_private=tuple(walker.kept_private),
        method=method,
        findings=tuple(findings),
        details={"sop_class": str(ds.get("SOPClassUID", "")), **dict(walker.details)},
    )
    return DicomDeid(ds, report)


def _mark(ds: Dataset, options: DeidOptions) -> tuple[str, ...]:
    """Record what was done, as PS3.15 E.1.1 asks (Patient Identity Removed, method and codes)."""
    pydicom = pydicom_module()
    from medsyn import __version__

    table = load_profile()
    codes = options.method_codes()
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = f"medsyn {__version__}: DICOM PS3.15 {table.edition} Annex E"
    items = []
    for value, meaning in codes:
        item = pydicom.dataset.Dataset()
        item.CodeValue = value
        item.CodingSchemeDesignator = "DCM"
        item.CodeMeaning = meaning
        items.append(item)
    ds.DeidentificationMethodCodeSequence = pydicom.sequence.Sequence(items)
    if options.retain_dates:
        ds.LongitudinalTemporalInformationModified = "MODIFIED"
    elif options.retain_full_dates:
        ds.LongitudinalTemporalInformationModified = "UNMODIFIED"
    else:
        ds.LongitudinalTemporalInformationModified = "REMOVED"
    return tuple(f"{value} {meaning}" for value, meaning in codes)
