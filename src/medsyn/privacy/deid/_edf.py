"""EDF/EDF+ de-identification: rewrite the header's patient and recording fields, keep the signals.

The EDF header is fixed-width ASCII (256 bytes + 256 per signal), so de-identification rewrites
those bytes in place and copies the data records unchanged: no signal is decoded or re-encoded,
and the samples are byte-identical (the tests check it). What changes:

* patient field. EDF+ (``code sex birthdate name …``): the code becomes a keyed pseudonym when a
  key is given (``X`` otherwise), sex is kept only with Retain Patient Characteristics,
  birthdate and name become ``X``, extra subfields are dropped. Plain EDF (free text): the
  whole field becomes the pseudonym or ``X``;
* recording field. EDF+ (``Startdate dd-MMM-yyyy admincode technician equipment …``): the
  start date is shifted or ``X``; admin code, technician and equipment become ``X``. Plain EDF:
  ``X``;
* start date and time. With Retain Longitudinal Temporal Information (Modified Dates) the date
  is shifted by the patient's keyed offset and the time kept; otherwise the date becomes
  ``01.01.85``, the clipping date the EDF+ specification uses for an unknown start date, and
  the time ``00.00.00``. Annotation onsets are relative to the start, so they stay true;
* EDF+ annotation texts (TALs) can be scrubbed of dates, long numbers, e-mail addresses and the
  patient's name words; the record keeps its size (texts never grow).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from medsyn._atomic import atomic_path
from medsyn.errors import DataFormatError, Problem
from medsyn.privacy._keys import SecretKey
from medsyn.privacy.deid._profile import DeidOptions
from medsyn.privacy.deid._report import DeidFinding, DeidReport, FindingLevel
from medsyn.privacy.deid._secret import Keyring
from medsyn.privacy.deid._text import scrub_text

__all__ = ["EdfHeader", "deidentify_edf", "read_edf_header"]

_ANONYMOUS_DATE = "01.01.85"
_ANONYMOUS_TIME = "00.00.00"
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_TAL_RE = re.compile(rb"([+-][0-9.]+)(\x15[0-9.]*)?\x14(.*?)\x14\x00", re.DOTALL)


@dataclass(frozen=True, slots=True)
class EdfHeader:
    """The fields of an EDF header that de-identification reads or rewrites, and the record layout."""

    raw: bytes
    patient: str
    recording: str
    startdate: str
    starttime: str
    reserved: str
    n_records: int
    n_signals: int
    labels: tuple[str, ...]
    samples_per_record: tuple[int, ...]

    @property
    def header_bytes(self) -> int:
        return 256 * (self.n_signals + 1)

    @property
    def is_edf_plus(self) -> bool:
        return self.reserved.startswith("EDF+")

    @property
    def record_bytes(self) -> int:
        return 2 * sum(self.samples_per_record)

    @property
    def annotation_slices(self) -> tuple[slice, ...]:
        """Where each ``EDF Annotations`` signal sits inside one data record."""
        out, offset = [], 0
        for label, n in zip(self.labels, self.samples_per_record, strict=True):
            if label == "EDF Annotations":
                out.append(slice(offset, offset + 2 * n))
            offset += 2 * n
        return tuple(out)


def _field(raw: bytes, start: int, width: int) -> str:
    return raw[start : start + width].decode("ascii", "replace").strip()


def read_edf_header(path: str | Path) -> EdfHeader:
    """Read and check an EDF/EDF+ header.

    Raises
    ------
    DataFormatError
        Not an EDF file, or a header whose sizes do not match the file (names the file).
    """
    path = Path(path)
    problems: list[Problem] = []
    try:
        with path.open("rb") as fh:
            fixed = fh.read(256)
            if len(fixed) < 256:
                raise DataFormatError(Problem(str(path), f"{len(fixed)} bytes", "an EDF file (a 256-byte header)"))
            version = fixed[:8].decode("ascii", "replace")
            ns_text = _field(fixed, 252, 4)
            if version.strip() != "0" or not ns_text.isdigit():
                raise DataFormatError(
                    Problem(str(path), f"version field {version!r}", "an EDF/EDF+ file (version '0'; BDF is not read)")
                )
            ns = int(ns_text)
            raw = fixed + fh.read(256 * ns)
        size = path.stat().st_size
    except OSError as exc:
        raise DataFormatError(Problem(str(path), f"cannot be read ({exc})", "an EDF file")) from None
    if len(raw) < 256 * (ns + 1):
        raise DataFormatError(Problem(str(path), "a truncated header", f"{256 * (ns + 1)} header bytes"))
    labels = tuple(_field(raw, 256 + 16 * i, 16) for i in range(ns))
    base = 256 + ns * (16 + 80 + 8 * 5 + 80)  # label, transducer, dimension/min/max x4, prefilter
    try:
        samples = tuple(int(_field(raw, base + 8 * i, 8)) for i in range(ns))
        n_records = int(_field(raw, 236, 8))
        header_bytes = int(_field(raw, 184, 8))
    except ValueError:
        raise DataFormatError(Problem(str(path), "non-numeric header sizes", "an EDF header")) from None
    if header_bytes != 256 * (ns + 1):
        problems.append(Problem(str(path), f"header size field {header_bytes}", f"{256 * (ns + 1)} for {ns} signals"))
    header = EdfHeader(
        raw=raw,
        patient=_field(raw, 8, 80),
        recording=_field(raw, 88, 80),
        startdate=_field(raw, 168, 8),
        starttime=_field(raw, 176, 8),
        reserved=_field(raw, 192, 44),
        n_records=n_records,
        n_signals=ns,
        labels=labels,
        samples_per_record=samples,
    )
    expected = header.header_bytes + max(n_records, 0) * header.record_bytes
    if n_records >= 0 and size < expected:
        problems.append(Problem(str(path), f"{size} bytes", f"{expected} for {n_records} data records (truncated?)"))
    if problems:
        raise DataFormatError(problems)
    return header


def _edf_date(text: str) -> dt.date | None:
    try:
        day, month, yy = (int(p) for p in text.split("."))
        return dt.date(1900 + yy if yy >= 85 else 2000 + yy, month, day)
    except ValueError:
        return None


def _plus_date(day: dt.date) -> str:
    return f"{day.day:02d}-{_MONTHS[day.month - 1]}-{day.year}"


def _ascii(text: str, width: int) -> bytes:
    clean = "".join(c if 32 <= ord(c) < 127 else "_" for c in text)[:width]
    return clean.ljust(width).encode("ascii")


@dataclass(frozen=True, slots=True)
class _NewFields:
    patient: str
    recording: str
    startdate: str
    starttime: str


def _new_fields(
    header: EdfHeader, *, options: DeidOptions, keyring: Keyring | None, offset: int | None, counts: Counter[str]
) -> _NewFields:
    start = _edf_date(header.startdate)
    if header.is_edf_plus:
        parts = header.patient.split()
        code = parts[0] if parts else "X"
        sex = parts[1] if len(parts) > 1 else "X"
        new_code = keyring.pseudonym(code) if keyring is not None and code != "X" else "X"
        counts["D" if new_code != "X" else "X"] += 1
        new_sex = sex if options.retain_patient_characteristics and sex in ("M", "F") else "X"
        counts["K" if new_sex != "X" else "X"] += 1
        counts["X"] += 2 + max(len(parts) - 4, 0)  # birthdate, name, extra subfields
        patient = f"{new_code} {new_sex} X X"
    else:
        patient = keyring.pseudonym(header.patient) if keyring is not None and header.patient else "X"
        counts["D" if patient != "X" else "X"] += 1
    if offset is not None and start is not None:
        moved = start + dt.timedelta(days=offset)
        if not 1985 <= moved.year <= 2084:  # outside what dd.mm.yy can hold
            moved = dt.date(1985, 1, 1)
        startdate, starttime = moved.strftime("%d.%m.") + f"{moved.year % 100:02d}", header.starttime
        recording_date = _plus_date(moved)
        counts["C"] += 2
    else:
        startdate, starttime, recording_date = _ANONYMOUS_DATE, _ANONYMOUS_TIME, "X"
        counts["X"] += 2
    if header.is_edf_plus:
        extra = len(header.recording.split()) - 2
        counts["X"] += max(extra, 0)  # admin code, technician, equipment and any more
        recording = f"Startdate {recording_date} X X X"
    else:
        counts["X"] += 1
        recording = "X"
    return _NewFields(patient, recording, startdate, starttime)


def _scrub_annotations(area: bytes, names: tuple[str, ...], counts: Counter[str]) -> bytes:
    """Scrub the texts of every TAL in one record's annotation bytes, keeping the byte length."""

    def repl(match: re.Match[bytes]) -> bytes:
        texts = match.group(3).split(b"\x14")
        out = []
        for raw in texts:
            text = raw.decode("utf-8", "replace")
            cleaned, n = scrub_text(text, names=names)
            if n:
                counts["annotations_scrubbed"] += 1
                encoded = cleaned.encode("utf-8")[: len(raw)]  # never longer: the record size is fixed
                out.append(encoded)
            else:
                out.append(raw)
        return match.group(1) + (match.group(2) or b"") + b"\x14" + b"\x14".join(out) + b"\x14\x00"

    new = _TAL_RE.sub(repl, area)
    return new + b"\x00" * (len(area) - len(new))


def deidentify_edf(
    source: str | Path,
    output: str | Path,
    *,
    options: DeidOptions | None = None,
    key: SecretKey | None = None,
    keyring: Keyring | None = None,
    date_offset: int | None = None,
    scrub_annotations: bool = False,
) -> DeidReport:
    """Write a de-identified copy of an EDF/EDF+ file: new header, data records unchanged.

    Parameters
    ----------
    source, output
        The EDF file to read and the file to write (atomically).
    options
        ``retain_dates`` shifts the start date by the patient's keyed offset (else 01.01.85);
        ``retain_patient_characteristics`` keeps the EDF+ sex subfield.
    key, keyring
        The secret for the patient-code pseudonym and the date offset (the same key gives the same
        pseudonym as the DICOM and table de-identifiers). Without one, codes become ``X``.
    date_offset
        Days to shift by instead of the keyed per-patient offset.
    scrub_annotations
        Also remove dates, long numbers, e-mail addresses and name words from EDF+ annotation texts.

    Raises
    ------
    DataFormatError
        ``source`` is not a well-formed EDF file (nothing is written then).
    """
    options = options or DeidOptions()
    source, output = Path(source), Path(output)
    header = read_edf_header(source)
    if keyring is None and key is not None:
        keyring = Keyring(key)
    counts: Counter[str] = Counter()
    findings: list[DeidFinding] = []
    offset: int | None = None
    parts = header.patient.split()
    if options.retain_dates:
        if date_offset is not None:
            offset = date_offset
        else:
            patient = parts[0] if header.is_edf_plus and parts and parts[0] != "X" else header.patient
            if patient in ("", "X", "X X X X"):
                findings.append(
                    DeidFinding(
                        "date_offset_source",
                        "no patient code: the start date is shifted by the offset keyed on an empty code, "
                        "shared by every file without one",
                        str(source),
                        FindingLevel.INFO,
                    )
                )
            offset = (keyring or Keyring(SecretKey.generate())).date_offset(patient)
    fields = _new_fields(header, options=options, keyring=keyring, offset=offset, counts=counts)
    new = bytearray(header.raw)
    new[8:88] = _ascii(fields.patient, 80)
    new[88:168] = _ascii(fields.recording, 80)
    new[168:176] = _ascii(fields.startdate, 8)
    new[176:184] = _ascii(fields.starttime, 8)
    names = tuple(w for w in re.split(r"[_\s,^]+", " ".join(parts[3:4])) if len(w) >= 2 and w != "X")
    slices = header.annotation_slices if scrub_annotations and header.is_edf_plus else ()
    with atomic_path(output) as tmp, source.open("rb") as src, tmp.open("wb") as dst:
        dst.write(bytes(new))
        src.seek(header.header_bytes)
        if not slices:
            shutil.copyfileobj(src, dst, length=1 << 20)
        else:
            size = header.record_bytes
            while chunk := src.read(size):
                if len(chunk) == size:
                    record = bytearray(chunk)
                    for part in slices:
                        record[part] = _scrub_annotations(bytes(record[part]), names, counts)
                    chunk = bytes(record)
                dst.write(chunk)
    details: dict[str, int | str] = {
        "edf_plus": "yes" if header.is_edf_plus else "no",
        "start_date": "shifted" if offset is not None else "set to 01.01.85",
        "annotations_scrubbed": counts.pop("annotations_scrubbed", 0),
        "data_records": header.n_records,
    }
    return DeidReport(
        source=str(source),
        output=str(output),
        format="edf",
        actions={code: counts[code] for code in ("D", "Z", "X", "K", "C", "U")},
        method=("EDF/EDF+ header de-identification (medsyn); data records copied unchanged",),
        findings=tuple(findings),
        details=details,
    )
