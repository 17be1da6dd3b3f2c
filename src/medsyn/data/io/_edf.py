"""European Data Format recordings (EEG, sleep, EMG): ``.edf`` / ``.bdf`` files or folders of them.

Read with pyedflib: every ordinary channel in physical units (float32), the EDF+ annotations
inside the file (onset, duration, label), and the header fields that describe the person. The
header can identify the patient (name, code, birth date): the reader keeps only what is needed
for fairness and conditioning, ``sex`` (F/M) and ``age`` at recording (from the birth date and the
start date), and records that the header holds a patient name as the boolean
``header_has_patient_name`` — never the name itself.

Channels of one file may be sampled at different rates; they are resampled (polyphase, scipy)
to the most common rate, with a warning in the provenance. The fixed-size header is checked here
before pyedflib opens the file, so a truncated download or a file damaged by a text-mode copy
gets a :class:`~medsyn.errors.DataFormatError` saying so, with the byte counts.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medsyn.data.channels import dominant_kind
from medsyn.data.dataset import Modality, Provenance, SignalDataset, SignalRecord, file_digest
from medsyn.data.io._base import READERS, Reader, require
from medsyn.errors import DataFormatError, Problem

__all__ = ["EdfReader"]

_SUFFIXES = (".edf", ".bdf")
_NOT_A_NAME = frozenset({"", "X", "UNKNOWN", "ANONYMOUS", "ANONYMIZED", "NONE", "N/A"})


def _ascii_field(raw: bytes, start: int, length: int) -> str:
    return raw[start : start + length].decode("ascii", errors="replace").strip()


def _check_layout(path: Path) -> tuple[list[Problem], list[str]]:
    """Check the fixed header and that the file holds the data records it announces."""
    where = str(path)
    size = path.stat().st_size
    if size < 256:
        return [
            Problem(
                where,
                f"holds {size} bytes, fewer than the 256-byte EDF header",
                "an EDF/BDF file",
                "The file is empty or truncated.",
            )
        ], []
    with path.open("rb") as fh:
        head = fh.read(256)
        version = head[:8]
        bdf = version == b"\xffBIOSEMI"
        if not bdf and version.strip() != b"0":
            return [
                Problem(
                    f"{where}: version field",
                    repr(version),
                    "'0' (EDF) or '\\xffBIOSEMI' (BDF)",
                    "The file is not an EDF/BDF recording.",
                )
            ], []
        fields = {
            "header size": (184, 8),
            "number of data records": (236, 8),
            "data record duration": (244, 8),
            "number of signals": (252, 4),
        }
        values: dict[str, float] = {}
        problems: list[Problem] = []
        for label, (start, length) in fields.items():
            text = _ascii_field(head, start, length)
            try:
                values[label] = float(text)
            except ValueError:
                problems.append(Problem(f"{where}: header field '{label}'", repr(text), "a number"))
        if problems:
            return problems, []
        ns = int(values["number of signals"])
        if ns < 0 or int(values["header size"]) != 256 * (ns + 1):
            return [
                Problem(
                    f"{where}: header field 'header size'",
                    f"{int(values['header size'])} bytes",
                    f"256 × (1 + {ns} signals) = {256 * (ns + 1)}",
                )
            ], []
        signal_head = fh.read(256 * ns)
    if len(signal_head) < 256 * ns:
        return [
            Problem(
                where,
                f"ends inside the signal headers ({size} bytes)",
                f"at least {256 * (ns + 1)} bytes",
                "The file is truncated.",
            )
        ], []
    per_record = 0
    offset = ns * 216
    for i in range(ns):
        text = _ascii_field(signal_head, offset + 8 * i, 8)
        if not text.isdigit():
            problems.append(Problem(f"{where}: signal {i + 1}, samples per data record", repr(text), "a whole number"))
        else:
            per_record += int(text)
    if problems:
        return problems, []
    notes: list[str] = []
    if _ascii_field(head, 192, 44).startswith(("EDF+D", "BDF+D")):
        notes.append("EDF+D (discontinuous): gaps between data records are not represented in the samples")
    n_records = int(values["number of data records"])
    if n_records < 0:  # -1: still being recorded; pyedflib counts the records itself
        return [], [*notes, "the header does not say how many data records it holds (-1); counted from the file size"]
    expected = 256 * (ns + 1) + n_records * per_record * (3 if bdf else 2)
    if size < expected:
        whole = (size - 256 * (ns + 1)) // max(per_record * (3 if bdf else 2), 1)
        return [
            Problem(
                where,
                f"holds {size:,} bytes but its header announces {n_records} data records "
                f"({expected:,} bytes); only {whole} are complete",
                "a complete file",
                "The file is truncated; copy or download it again.",
            )
        ], []
    if size > expected:
        return [
            Problem(
                where,
                f"holds {size:,} bytes, {size - expected:,} more than its header announces ({expected:,})",
                "the size the header gives",
                "Was the file copied in text mode (LF→CRLF)? Copy it again as binary.",
            )
        ], []
    return [], notes


def _age(birth: str, start: datetime | None) -> float | None:
    if not birth or start is None:
        return None
    for fmt in ("%d %b %Y", "%d-%b-%Y", "%d.%m.%Y", "%Y-%m-%d"):
        try:
            born = datetime.strptime(birth.strip(), fmt).date()
        except ValueError:
            continue
        at: date = start.date()
        years = at.year - born.year - ((at.month, at.day) < (born.month, born.day))
        return float(years) if 0 <= years <= 130 else None
    return None


def _sex(value: object) -> str | None:
    v = str(value or "").strip().lower()
    return "F" if v in {"f", "female"} else "M" if v in {"m", "male"} else None


def _resample(signal: np.ndarray, rate: float, target: float) -> np.ndarray:
    from scipy.signal import resample_poly

    ratio = Fraction(target / rate).limit_denominator(1000)
    return np.asarray(resample_poly(signal, ratio.numerator, ratio.denominator), dtype=np.float32)


@READERS.register("edf")
class EdfReader(Reader):
    """EDF, EDF+ and BDF recordings, one file or a folder of them, with EDF+ annotations.

    Parameters
    ----------
    annotations
        Read the EDF+ annotations inside each file into ``SignalRecord.annotations``.

    Examples
    --------
    >>> from medsyn.data.io import read
    >>> ds = read("../shared/data/eeg_eegmmidb_s001_motor_imagery")  # doctest: +SKIP
    >>> len(ds), ds.kind, ds.records[0].sampling_rate  # doctest: +SKIP
    (12, 'eeg', 160.0)
    """

    name = "edf"
    modality = Modality.SIGNAL
    suffixes = _SUFFIXES
    priority = 9

    def __init__(self, *, annotations: bool = True) -> None:
        self.annotations = annotations

    @classmethod
    def claims(cls, path: Path) -> bool:
        if path.is_dir():
            return any(p.suffix.lower() in _SUFFIXES and p.is_file() for p in path.iterdir())
        return super().claims(path)

    def read(self, path: Path) -> SignalDataset:
        path = Path(path)
        if not path.exists():
            raise DataFormatError(Problem(str(path), "does not exist", "an EDF/BDF file or a folder of them"))
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in _SUFFIXES and p.is_file())
        else:
            files = [path]
        if not files:
            raise DataFormatError(Problem(str(path), "holds no .edf or .bdf files", "a folder of EDF/BDF recordings"))
        pyedflib = require("pyedflib", "signal", "reading EDF recordings")
        records: list[SignalRecord] = []
        rows: list[dict[str, object]] = []
        used: list[Path] = []
        warnings: list[str] = []
        problems: list[Problem] = []
        for file in files:
            found, notes = _check_layout(file)
            if found:
                problems.extend(found)
                continue
            try:
                record, attrs, more = self._read_one(file, pyedflib)
            except DataFormatError as exc:
                problems.extend(exc.problems)
                continue
            records.append(record)
            rows.append(attrs)
            used.append(file)
            warnings.extend(f"{file.name}: {n}" for n in [*notes, *more])
        if not records:
            raise DataFormatError(problems)
        warnings.extend(f"record left out: {p}" for p in problems)
        attributes = pd.DataFrame(rows)
        keep = ["record", "header_has_patient_name"]
        attributes = attributes[[c for c in attributes.columns if c in keep or attributes[c].notna().any()]]
        kind = dominant_kind([c for r in records for c in r.channels], [u for r in records for u in r.units])
        prov = Provenance(source=str(path), reader=self.name, digest=file_digest(used), warnings=tuple(warnings))
        return SignalDataset(records, attributes, provenance=prov, kind=kind)

    def _read_one(self, file: Path, pyedflib: Any) -> tuple[SignalRecord, dict[str, object], list[str]]:
        where = str(file)
        try:
            reader = pyedflib.EdfReader(where)
        except OSError as exc:
            message = str(exc).split(": ", 1)[-1]
            found = f"cannot be read as EDF/BDF ({message})"
            raise DataFormatError(Problem(where, found, "an EDF(+)/BDF(+) file")) from None
        notes: list[str] = []
        try:
            n = int(reader.signals_in_file)
            labels = [str(s).strip() for s in reader.getSignalLabels()]
            rates = [float(r) for r in reader.getSampleFrequencies()]
            units = [str(reader.getPhysicalDimension(i)).strip() for i in range(n)]
            signals = [np.asarray(reader.readSignal(i), dtype=np.float32) for i in range(n)]
            header = reader.getHeader()
            start = header.get("startdate")
            if self.annotations:
                onsets, durations, texts = reader.readAnnotations()
            else:
                onsets, durations, texts = [], [], []
        except (OSError, ValueError) as exc:
            found = f"cannot be read as EDF/BDF ({exc})"
            raise DataFormatError(Problem(where, found, "an EDF(+)/BDF(+) file")) from None
        finally:
            reader.close()
        if n == 0:
            raise DataFormatError(Problem(where, "holds no signal channels (only annotations)", "at least one channel"))
        rate = Counter(rates).most_common(1)[0][0]
        if len(set(rates)) > 1:
            odd = [f"{lab} ({r:g} Hz)" for lab, r in zip(labels, rates, strict=True) if r != rate]
            notes.append(f"channels {', '.join(odd)} resampled to the most common rate {rate:g} Hz")
            signals = [s if r == rate else _resample(s, r, rate) for s, r in zip(signals, rates, strict=True)]
        length = min(len(s) for s in signals)
        if length == 0:
            raise DataFormatError(Problem(where, "holds no samples (an empty recording)", "at least one data record"))
        data = np.ascontiguousarray(np.stack([s[:length] for s in signals]))
        for lab, row in zip(labels, data, strict=True):
            if not np.isfinite(row).any():
                notes.append(f"channel '{lab}' holds no valid samples")
        ann = pd.DataFrame(
            {
                "onset": np.asarray(onsets, dtype=float),
                "duration": np.clip(np.asarray(durations, dtype=float), 0.0, None),
                "label": [str(t) for t in texts],
                "channel": "",
            },
            columns=["onset", "duration", "label", "channel"],
        )
        record = SignalRecord(
            name=file.stem, data=data, sampling_rate=rate, channels=tuple(labels), units=tuple(units), annotations=ann
        )
        patient = str(header.get("patientname", "") or "").strip()
        attrs: dict[str, object] = {
            "record": file.stem,
            "sex": _sex(header.get("sex") or header.get("gender")),
            "age": _age(str(header.get("birthdate", "") or ""), start if isinstance(start, datetime) else None),
            "header_has_patient_name": patient.upper().replace("_", " ") not in _NOT_A_NAME,
        }
        return record, attrs, notes
