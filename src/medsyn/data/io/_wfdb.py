"""PhysioNet WFDB records (ECG and other physiological signals): ``.hea`` headers with signal files.

A record is a header (``100.hea``) naming its signal files (``100.dat``, or ``E07500.mat`` in
the Challenge format) and, beside it, optional annotation files (``100.atr``, ``.qrs``, ...).
The reader takes a header, a record path without suffix, or a folder of records, and returns a
:class:`~medsyn.data.dataset.SignalDataset` in physical units (float32, channels × samples).

The header is checked here, field by field, before ``wfdb`` reads it: ``wfdb`` silently turns
an unparsable sampling frequency into 250 Hz and fails with bare ``IndexError`` /
``KeyError`` / broadcasting errors on a truncated header or signal file. Every such case becomes
one :class:`~medsyn.errors.DataFormatError` naming the file and the field. In a folder, a bad
record does not lose the others: it is left out with a warning in the provenance.

Header comments become attributes: ``age``, ``sex`` (``F``/``M``), ``dx`` (Challenge 2021
SNOMED-CT codes, comma separated), every other ``key: value`` comment under its lower-case key,
and remaining free-text comments in ``comments``. MIT-BIH's positional first comment
(``# 69 M 1085 1629 x1``) gives age and sex.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medsyn.data.channels import dominant_kind
from medsyn.data.dataset import Modality, Provenance, SignalDataset, SignalRecord, file_digest
from medsyn.data.io._base import READERS, Reader, require
from medsyn.errors import DataFormatError, Problem

__all__ = ["ANNOTATION_EXTENSIONS", "WfdbReader", "parse_header_comments"]

#: Annotation files looked for beside a record, in this order (reference first, then detectors).
ANNOTATION_EXTENSIONS: tuple[str, ...] = (
    "atr",
    "ecg",
    "qrs",
    "ann",
    "ari",
    "pu",
    "pu0",
    "pu1",
    "sqrs",
    "gqrsh",
    "gqrsl",
    "wqrs",
    "jqrs",
    "st",
    "stc",
    "apn",
    "arousal",
    "alarm",
    "trigger",
    "event",
)
# Bytes per sample of each WFDB storage format (FLAC formats 508/516/524 are compressed: no size check).
_BYTES_PER_SAMPLE: dict[str, float] = {
    "8": 1,
    "16": 2,
    "24": 3,
    "32": 4,
    "61": 2,
    "80": 1,
    "160": 2,
    "212": 1.5,
    "310": 4 / 3,
    "311": 4 / 3,
    "508": 0,
    "516": 0,
    "524": 0,
}
_SIGNAL_FORMAT = re.compile(r"^(?P<fmt>\d+)(?:x(?P<spf>\d+))?(?::(?P<skew>\d+))?(?:\+(?P<offset>\d+))?$")
_GAIN = re.compile(r"^(?P<gain>[-+]?[\d.]+(?:[eE][-+]?\d+)?)(?:\((?P<baseline>[-+]?\d+)\))?(?:/(?P<unit>\S+))?$")
_FS = re.compile(r"^(?P<fs>[\d.]+(?:[eE][-+]?\d+)?)(?:/[\d.]+(?:\([-+]?[\d.]+\))?)?$")
_MITBIH_AGE_SEX = re.compile(r"^(?P<age>\d{1,3}|\?+)\s+(?P<sex>[MFmf?])\b")
_UNIT_SPELLING = {"mv": "mV", "uv": "uV", "µv": "uV", "μv": "uV", "v": "V", "mmhg": "mmHg"}
_MISSING_VALUES = frozenset({"", "unknown", "n/a", "na", "nan", "none", "?", "??", "-"})


@dataclass(slots=True)
class _SignalSpec:
    file: str
    fmt: str
    samples_per_frame: int
    offset: int
    name: str


@dataclass(slots=True)
class _Header:
    name: str
    n_signals: int
    fs: float
    n_samples: int | None
    signals: list[_SignalSpec] = field(default_factory=list)
    segments: list[str] = field(default_factory=list)


def _parse_header(path: Path) -> tuple[_Header | None, list[Problem]]:
    """Check a header's record and signal lines; every problem names the line and the field."""
    where = str(path)
    try:
        text = path.read_text(encoding="latin-1")
    except OSError as exc:
        return None, [Problem(where, f"cannot be opened ({exc.strerror})", "a readable WFDB header")]
    lines = [(i + 1, ln.strip()) for i, ln in enumerate(text.splitlines())]
    body = [(n, ln) for n, ln in lines if ln and not ln.startswith("#")]
    if not body:
        return None, [
            Problem(
                where,
                "holds no record line (the header is empty or only comments)",
                "a first line 'NAME N_SIGNALS FS N_SAMPLES'",
            )
        ]
    n, record_line = body[0]
    parts = record_line.split()
    problems: list[Problem] = []
    name, _, nseg = parts[0].partition("/")
    if len(parts) < 2 or not parts[1].isdigit():
        found = repr(parts[1]) if len(parts) > 1 else "nothing"
        return None, [Problem(f"{where}: line {n}, number of signals", found, "a whole number")]
    n_signals = int(parts[1])
    fs = 250.0  # the WFDB default when the header leaves it out
    if len(parts) > 2:
        m = _FS.match(parts[2])
        if m is None or float(m.group("fs")) <= 0:
            problems.append(
                Problem(f"{where}: line {n}, sampling frequency", repr(parts[2]), "a positive number of Hz")
            )
        else:
            fs = float(m.group("fs"))
    n_samples: int | None = None
    if len(parts) > 3:
        if parts[3].isdigit():
            n_samples = int(parts[3])
        else:
            problems.append(Problem(f"{where}: line {n}, number of samples", repr(parts[3]), "a whole number"))
    header = _Header(name=name, n_signals=n_signals, fs=fs, n_samples=n_samples)
    rest = body[1:]
    if nseg:
        if not nseg.isdigit():
            return None, [*problems, Problem(f"{where}: line {n}, number of segments", repr(nseg), "a whole number")]
        header.segments = [ln.split()[0] for _, ln in rest if ln.split() and ln.split()[0] != "~"]
        if len(rest) < int(nseg):
            problems.append(
                Problem(
                    f"{where}: segment lines",
                    f"{len(rest)} listed",
                    f"{nseg} as the record line says",
                    "The header looks truncated.",
                )
            )
        return header, problems
    if len(rest) < n_signals:
        problems.append(
            Problem(
                f"{where}: signal lines",
                f"{len(rest)} listed",
                f"{n_signals} as the record line says",
                "The header looks truncated.",
            )
        )
    for n, line in rest[:n_signals]:
        fields = line.split()
        if len(fields) < 2:
            problems.append(Problem(f"{where}: line {n}, signal format", "missing", "e.g. '212' or '16'"))
            continue
        m = _SIGNAL_FORMAT.match(fields[1])
        if m is None or m.group("fmt") not in _BYTES_PER_SAMPLE:
            problems.append(
                Problem(
                    f"{where}: line {n}, signal format",
                    repr(fields[1]),
                    f"one of the WFDB formats {sorted(_BYTES_PER_SAMPLE, key=int)}",
                )
            )
            continue
        if len(fields) > 2 and _GAIN.match(fields[2]) is None:
            problems.append(Problem(f"{where}: line {n}, gain", repr(fields[2]), "e.g. '200' or '1000.0(0)/mV'"))
        for pos, label in ((3, "ADC resolution"), (4, "ADC zero"), (5, "initial value")):
            if len(fields) > pos and not re.fullmatch(r"[-+]?\d+", fields[pos]):
                problems.append(Problem(f"{where}: line {n}, {label}", repr(fields[pos]), "a whole number"))
        header.signals.append(
            _SignalSpec(
                file=fields[0],
                fmt=m.group("fmt"),
                samples_per_frame=int(m.group("spf") or 1),
                offset=int(m.group("offset") or 0),
                name=" ".join(fields[8:]) if len(fields) > 8 else f"ch{len(header.signals)}",
            )
        )
    return header, problems


def _check_signal_files(header: _Header, folder: Path, hea: Path) -> tuple[list[Path], list[Problem]]:
    """Each signal file exists and holds at least the samples the header promises."""
    files: dict[str, list[_SignalSpec]] = {}
    for spec in header.signals:
        files.setdefault(spec.file, []).append(spec)
    found: list[Path] = []
    problems: list[Problem] = []
    for fname, specs in files.items():
        if fname == "~":  # a signal the header declares as absent
            continue
        path = folder / fname
        if not path.is_file():
            problems.append(
                Problem(
                    str(path),
                    "does not exist",
                    f"the signal file named in {hea.name}",
                    "Copy the signal file beside the header.",
                )
            )
            continue
        found.append(path)
        bytes_per = [_BYTES_PER_SAMPLE[s.fmt] for s in specs]
        if header.n_samples is None or any(b == 0 for b in bytes_per):
            continue
        frame_bytes = sum(b * s.samples_per_frame for b, s in zip(bytes_per, specs, strict=True))
        need = specs[0].offset + math.ceil(header.n_samples * frame_bytes)
        size = path.stat().st_size
        if size < need:
            problems.append(
                Problem(
                    str(path),
                    f"holds {size:,} bytes, fewer than the {need:,} that {header.n_samples:,} samples of "
                    f"{len(specs)} signal(s) need (number of samples in {hea.name})",
                    "a complete signal file",
                    "The file looks truncated; copy it again.",
                )
            )
    return found, problems


def _clean_value(value: str) -> str | None:
    value = value.strip().strip("\x00").strip()
    return None if value.lower() in _MISSING_VALUES else value


def _normalise_sex(value: str | None) -> str | None:
    if value is None:
        return None
    v = value.strip().lower()
    if v in {"f", "female", "woman", "w"}:
        return "F"
    if v in {"m", "male", "man"}:
        return "M"
    return None


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        out = float(value)
    except ValueError:
        return None
    return out if math.isfinite(out) else None


def parse_header_comments(comments: Sequence[str]) -> dict[str, object]:
    """Attributes from WFDB header comments: age, sex (F/M), dx codes, ``key: value`` pairs, free text.

    Examples
    --------
    >>> parse_header_comments(["Age: 78", "Sex: Male", "Dx: 164889003,59118001", "Rx: Unknown"])
    {'age': 78.0, 'sex': 'M', 'dx': '164889003,59118001', 'rx': None}
    >>> parse_header_comments(["69 M 1085 1629 x1", "Aldomet, Inderal"])
    {'age': 69.0, 'sex': 'M', 'comments': '69 M 1085 1629 x1 | Aldomet, Inderal'}
    """
    out: dict[str, object] = {}
    free: list[str] = []
    for raw in comments:
        line = raw.strip().strip("\x00").strip()
        if not line:
            continue
        key, sep, value = line.partition(":")
        key_norm = re.sub(r"[^0-9a-z]+", "_", key.strip().lower()).strip("_")
        if sep and key_norm and len(key_norm) <= 60 and not key_norm.isdigit():
            cleaned = _clean_value(value)
            if key_norm == "age":
                out["age"] = _number(cleaned)
            elif key_norm in {"sex", "gender"}:
                out["sex"] = _normalise_sex(cleaned)
            elif key_norm == "dx":
                out["dx"] = None if cleaned is None else ",".join(c.strip() for c in cleaned.split(",") if c.strip())
            elif key_norm not in out:
                out[key_norm] = cleaned
            continue
        m = _MITBIH_AGE_SEX.match(line)
        if m is not None and "age" not in out:
            out["age"] = _number(m.group("age"))
            out["sex"] = _normalise_sex(m.group("sex"))
        free.append(line)
    if free:
        out["comments"] = " | ".join(free)
    return out


def _annotations(
    base: Path, fs: float, channels: tuple[str, ...], wfdb: Any
) -> tuple[pd.DataFrame, list[Path], list[str]]:
    """Every annotation file beside ``base`` in one table (``annotator`` = the file extension)."""
    frames: list[pd.DataFrame] = []
    used: list[Path] = []
    warnings: list[str] = []
    for ext in ANNOTATION_EXTENSIONS:
        path = base.with_name(f"{base.name}.{ext}")
        if not path.is_file():
            continue
        try:
            ann = wfdb.rdann(str(base), ext)
        except Exception as exc:  # wfdb raises many types on a bad file: report it, keep the signal
            warnings.append(f"{path.name}: annotation file not readable ({type(exc).__name__}); left out")
            continue
        used.append(path)
        ann_fs = float(ann.fs) if ann.fs else fs
        samples = np.asarray(ann.sample, dtype=float)
        symbols = list(ann.symbol or [""] * len(samples))
        aux = [(a or "").strip("\x00").strip() for a in (ann.aux_note or [""] * len(samples))]
        chan = np.asarray(ann.chan if ann.chan is not None else np.zeros(len(samples)), dtype=int)
        per_channel = bool(np.any(chan != 0))
        frames.append(
            pd.DataFrame(
                {
                    "onset": samples / ann_fs,
                    "duration": 0.0,
                    "label": [a or s for s, a in zip(symbols, aux, strict=True)],
                    "channel": [channels[c] if per_channel and 0 <= c < len(channels) else "" for c in chan],
                    "annotator": ext,
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["onset", "duration", "label", "channel", "annotator"]), used, warnings
    return pd.concat(frames, ignore_index=True), used, warnings


@READERS.register("wfdb")
class WfdbReader(Reader):
    """PhysioNet WFDB records: a ``.hea`` header, a record path without suffix, or a folder of records.

    Parameters
    ----------
    annotations
        Read annotation files beside each record (``.atr``, ``.qrs``, ... see
        :data:`ANNOTATION_EXTENSIONS`) into ``SignalRecord.annotations``.

    Examples
    --------
    >>> from medsyn.data.io import read
    >>> ds = read("../shared/data/ecg_wfdb_physionet_samples/100.hea")  # doctest: +SKIP
    >>> ds.records[0].channels, ds.records[0].sampling_rate  # doctest: +SKIP
    (('MLII', 'V5'), 360.0)
    """

    name = "wfdb"
    modality = Modality.SIGNAL
    suffixes = (".hea",)
    priority = 10

    def __init__(self, *, annotations: bool = True) -> None:
        self.annotations = annotations

    @classmethod
    def claims(cls, path: Path) -> bool:
        if path.is_dir():
            return any(path.glob("*.hea"))
        if path.suffix.lower() == ".hea":
            return path.is_file()
        return not path.exists() and Path(f"{path}.hea").is_file()

    def read(self, path: Path) -> SignalDataset:
        path = Path(path)
        if path.is_dir():
            headers = self._folder_headers(path)
            source = path
        elif path.suffix.lower() == ".hea":
            headers = [path]
            source = path
        else:
            headers = [Path(f"{path}.hea")]
            source = headers[0]
        if not headers[0].exists():
            raise DataFormatError(Problem(str(headers[0]), "does not exist", "a WFDB header (.hea)"))
        wfdb = require("wfdb", "signal", "reading WFDB records")
        records: list[SignalRecord] = []
        rows: list[dict[str, object]] = []
        files: list[Path] = []
        warnings: list[str] = []
        problems: list[Problem] = []
        for hea in headers:
            record, attrs, used, notes, found = self._read_one(hea, wfdb)
            if found:
                problems.extend(found)
                continue
            assert record is not None
            records.append(record)
            rows.append(attrs)
            files.extend(used)
            warnings.extend(notes)
        if not records:
            raise DataFormatError(problems)
        warnings.extend(f"record left out: {p}" for p in problems)
        attributes = pd.DataFrame(rows)
        attributes = attributes[["record", *[c for c in attributes.columns if c != "record"]]]
        attributes = attributes.dropna(axis=1, how="all") if len(attributes.columns) > 1 else attributes
        if "record" not in attributes.columns:
            attributes.insert(0, "record", [r.name for r in records])
        kind = dominant_kind([c for r in records for c in r.channels], [u for r in records for u in r.units])
        prov = Provenance(source=str(source), reader=self.name, digest=file_digest(files), warnings=tuple(warnings))
        return SignalDataset(records, attributes, provenance=prov, kind=kind)

    @staticmethod
    def _folder_headers(folder: Path) -> list[Path]:
        """Headers of the records in ``folder``, without the segments of multi-segment records."""
        headers = sorted(folder.glob("*.hea"))
        segments: set[str] = set()
        for hea in headers:
            header, _ = _parse_header(hea)
            if header is not None and header.segments:
                segments.update(header.segments)
        return [h for h in headers if h.stem not in segments]

    def _read_one(
        self, hea: Path, wfdb: Any
    ) -> tuple[SignalRecord | None, dict[str, object], list[Path], list[str], list[Problem]]:
        header, problems = _parse_header(hea)
        if header is None or problems:
            return None, {}, [], [], problems
        base = hea.with_suffix("")
        signal_files: list[Path] = []
        if not header.segments:
            signal_files, problems = _check_signal_files(header, hea.parent, hea)
            if problems:
                return None, {}, [], [], problems
        if header.n_samples == 0:
            return None, {}, [], [], [Problem(str(hea), "declares 0 samples (an empty record)", "at least one sample")]
        try:
            rec = wfdb.rdrecord(str(base), physical=True, m2s=True, smooth_frames=True)
        except Exception as exc:  # wfdb raises bare IndexError/KeyError/ValueError: name the file instead
            found = f"cannot be read as a WFDB record ({type(exc).__name__}: {exc})"
            return None, {}, [], [], [Problem(str(hea), found, "a header and signal files in a WFDB format")]
        signal = rec.p_signal if rec.p_signal is not None else np.empty((0, 0))
        data = np.ascontiguousarray(np.asarray(signal, dtype=np.float32).T)
        channels = tuple(str(c) for c in (rec.sig_name or []))
        units = tuple(_UNIT_SPELLING.get(str(u).lower(), str(u)) for u in (rec.units or [""] * len(channels)))
        if data.shape[1] == 0:
            return None, {}, [], [], [Problem(str(hea), "holds no samples (an empty record)", "at least one sample")]
        fs = float(rec.fs)
        notes: list[str] = []
        for spec in header.signals:
            if spec.samples_per_frame > 1:
                notes.append(
                    f"{header.name}: channel '{spec.name}' has {spec.samples_per_frame} samples per frame; "
                    f"averaged to the frame rate {fs:g} Hz"
                )
        for i, ch in enumerate(channels):
            if np.isnan(data[i]).all():
                notes.append(f"{header.name}: channel '{ch}' holds no valid samples (all missing)")
        if self.annotations:
            ann, ann_files, ann_notes = _annotations(base, fs, channels, wfdb)
            notes.extend(ann_notes)
        else:
            ann, ann_files = pd.DataFrame(columns=["onset", "duration", "label", "channel", "annotator"]), []
        record = SignalRecord(
            name=header.name or base.name, data=data, sampling_rate=fs, channels=channels, units=units, annotations=ann
        )
        attrs: dict[str, object] = {"record": record.name, **parse_header_comments(rec.comments or [])}
        return record, attrs, [hea, *signal_files, *ann_files], notes, []
