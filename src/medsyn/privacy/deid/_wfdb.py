"""WFDB de-identification: clean the header's record line and comments, copy signals as they are.

A WFDB record is a text header (``.hea``) beside signal files (``.dat``, ``.mat``, …) and
annotation files (``.atr``, ``.qrs``, …). Identifying information lives in the header: the base
date and time on the record line, and free-form ``#`` comment lines (``# ECG date: 01/10/1990``,
``# Infarction date (acute): 29-Sep-90``, a name or a medical record number at some sites).
The signal and annotation files are copied byte for byte. In the header:

* the base date and time are removed, or, with Retain Longitudinal Temporal Information
  (Modified Dates), the date is shifted by the record's keyed offset and the time kept;
* comment lines whose key names a person or an identifier (name, ID, MRN, address, phone,
  birth, e-mail, physician, operator) are removed;
* dates inside comments are shifted (Modified Dates) or the line is removed; Full Dates keeps them;
* age, sex and diagnosis lines are kept; ages above 89 are generalised to ``90+`` (the HIPAA
  Safe Harbor rule), and the MIT-BIH line ``# 69 M 1085 1629 x1`` keeps only age and sex;
* other comments (medication, alarm type, clinical summary) are kept, minus e-mail addresses.

Signal lines are written back unchanged, so ``wfdb.rdrecord`` reads the output exactly as the
input, apart from ``base_date``/``base_time`` and ``comments``.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections import Counter
from pathlib import Path

from medsyn.errors import DataFormatError, Problem
from medsyn.privacy._keys import SecretKey
from medsyn.privacy.deid._profile import DeidOptions
from medsyn.privacy.deid._report import DeidFinding, DeidReport, FindingLevel
from medsyn.privacy.deid._secret import Keyring
from medsyn.privacy.deid._text import has_date, scrub_text, shift_dates_in_text

__all__ = ["deidentify_wfdb", "record_files"]

_IDENTIFYING_KEY = re.compile(
    r"\b(name|names|id|mrn|identifier|address|phone|telephone|birth|dob|e-?mail|ssn|insurance|"
    r"physician|doctor|referr\w*|operator|technician)\b",
    re.IGNORECASE,
)
_KEY_VALUE = re.compile(r"^([^:]{1,80}):\s*(.*)$")
_AGE_SEX = re.compile(r"^(\d{1,3}|\?)\s+([MFmf?])(?:\s+.*)?$")
_NO_VALUE = {"", "n/a", "na", "unknown", "none", "-", "?"}
_CODE_KEYS = {"dx", "rx", "hx", "sx"}  # coded diagnoses/treatments (SNOMED CT lists): never dates


def _age(text: str, counts: Counter[str]) -> str:
    if text.isdigit() and int(text) > 89:
        counts["ages_generalised"] += 1
        return "90+"
    return text


def _clean_comment(text: str, *, options: DeidOptions, offset: int | None, counts: Counter[str]) -> str | None:
    """The cleaned comment (without ``#``), or ``None`` to drop the line."""
    body = text.strip()
    match = _AGE_SEX.match(body)
    if match:
        counts["K"] += 1
        if body != f"{match.group(1)} {match.group(2)}":
            counts["X"] += 1  # the MIT-BIH line's trailing record numbers
        return f"{_age(match.group(1), counts)} {match.group(2)}"
    key_value = _KEY_VALUE.match(body)
    key = key_value.group(1).strip() if key_value else ""
    value = key_value.group(2).strip() if key_value else body
    if key and _IDENTIFYING_KEY.search(key):
        counts["X"] += 1
        return None
    if key.lower() == "age":
        counts["K"] += 1
        return f"{key}: {_age(value, counts)}"
    if key.lower() in _CODE_KEYS:
        counts["K"] += 1
        return f"{key}: {value}"
    dated = has_date(value) or ("date" in key.lower() and value.lower() not in _NO_VALUE)
    if dated and not options.retain_full_dates:
        if offset is None:
            counts["X"] += 1
            return None
        value, shifted, removed = shift_dates_in_text(value, offset)
        if not shifted or removed:
            counts["X"] += 1  # an unreadable date cannot be shifted consistently: drop the line
            return None
        counts["C"] += 1
    else:
        counts["K"] += 1
    value, n = scrub_text(value) if "@" in value else (value, 0)
    counts["C"] += n
    if not key:
        return value
    return f"{key}: {value}" if value else f"{key}:"


def _record_line(tokens: list[str], *, offset: int | None, counts: Counter[str]) -> list[str]:
    """Record line tokens with base time/date removed, or the date shifted."""
    if len(tokens) <= 4:
        return tokens
    base = tokens[:4]
    rest = tokens[4:]
    time = next((t for t in rest if ":" in t), None)
    date = next((t for t in rest if "/" in t), None)
    if offset is None or date is None:
        counts["X"] += len(rest)
        return base
    try:
        moved = dt.datetime.strptime(date, "%d/%m/%Y").date() + dt.timedelta(days=offset)
    except ValueError:
        counts["X"] += len(rest)
        return base
    counts["C"] += 1
    return [*base, time or "0:00:00", moved.strftime("%d/%m/%Y")]


def record_files(header: Path, lines: list[str]) -> list[Path]:
    """The files of a record: signal files its header names and annotation files named after it."""
    folder, name = header.parent, header.stem
    wanted: dict[str, Path] = {}
    signal_lines = [line for line in lines[1:] if line.strip() and not line.lstrip().startswith("#")]
    for line in signal_lines:
        file_name = line.split()[0]
        candidate = folder / file_name
        if candidate.is_file():
            wanted[candidate.name] = candidate
    for path in folder.glob(f"{name}.*"):
        if path.is_file() and path.suffix != ".hea" and not path.name.startswith("."):
            wanted.setdefault(path.name, path)
    return [wanted[k] for k in sorted(wanted)]


def _read_header(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(Problem(str(path), f"cannot be read as text ({exc})", "a WFDB header")) from None
    lines = text.splitlines()
    record = next((i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")), None)
    if record is None:
        raise DataFormatError(Problem(str(path), "no record line", "a WFDB header ('name nsig fs nsamp …')"))
    tokens = lines[record].split()
    if len(tokens) < 2 or not tokens[1].isdigit():
        raise DataFormatError(Problem(str(path), f"record line {lines[record]!r}", "'name nsig [fs [nsamp …]]'"))
    return lines


def deidentify_wfdb(
    header: str | Path,
    output_dir: str | Path,
    *,
    options: DeidOptions | None = None,
    key: SecretKey | None = None,
    keyring: Keyring | None = None,
    date_offset: int | None = None,
) -> DeidReport:
    """Write a de-identified copy of one WFDB record (header + its files) into ``output_dir``.

    ``output_dir`` should be a fresh or temporary folder: the caller makes a run atomic (see
    :func:`~medsyn.privacy.deid.deidentify_wfdb_files`).

    Raises
    ------
    DataFormatError
        The header cannot be read or has no record line.
    """
    options = options or DeidOptions()
    header, output_dir = Path(header), Path(output_dir)
    if header.suffix != ".hea":
        header = header.with_name(header.name + ".hea")
    if not header.is_file():
        raise DataFormatError(Problem(str(header), "no such header", "a WFDB record (.hea)"))
    lines = _read_header(header)
    counts: Counter[str] = Counter()
    findings: list[DeidFinding] = []
    offset: int | None = None
    if options.retain_dates:
        offset = date_offset
        if offset is None:
            offset = (keyring or Keyring(key or SecretKey.generate())).date_offset(header.stem)
            findings.append(
                DeidFinding(
                    "date_offset_source",
                    "WFDB headers carry no patient id: dates are shifted by the offset keyed on the record name",
                    str(header),
                    FindingLevel.INFO,
                )
            )
    out_lines: list[str] = []
    record_done = False
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith("#"):
            cleaned = _clean_comment(stripped[1:], options=options, offset=offset, counts=counts)
            if cleaned is not None:
                out_lines.append(f"# {cleaned}" if stripped[1:2] == " " else f"#{cleaned}")
        elif not record_done and stripped:
            out_lines.append(" ".join(_record_line(stripped.split(), offset=offset, counts=counts)))
            record_done = True
        else:
            out_lines.append(line)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / header.name).write_text("\n".join(out_lines) + "\n", encoding="utf-8")
    copied = record_files(header, lines)
    for path in copied:
        shutil.copyfile(path, output_dir / path.name)
    details: dict[str, int | str] = {
        "files_copied": len(copied),
        "comment_lines_in": sum(1 for line in lines if line.lstrip().startswith("#")),
        "comment_lines_out": sum(1 for line in out_lines if line.lstrip().startswith("#")),
        "ages_generalised": counts.pop("ages_generalised", 0),
    }
    return DeidReport(
        source=str(header),
        output=str(output_dir / header.name),
        format="wfdb",
        actions={code: counts[code] for code in ("D", "Z", "X", "K", "C", "U")},
        method=("WFDB header de-identification (medsyn); signal and annotation files copied unchanged",),
        findings=tuple(findings),
        details=details,
    )
