"""File-or-folder runs for EDF and WFDB: check every input first, then write all outputs atomically.

A folder run de-identifies every EDF file (``*.edf``) or every WFDB record (``*.hea`` and the
files it names) under the folder, sharing one keyring so a patient's pseudonym and date offset
agree across files. Inputs are all checked before anything is written, and outputs go to a
temporary folder that replaces the target only when the whole run succeeded. Files that belong
to no record (READMEs, provenance notes, other formats) are not copied: a de-identified release
holds only what was de-identified; the run lists them as skipped.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from medsyn._atomic import atomic_dir
from medsyn.errors import InputError, Problem
from medsyn.privacy._keys import SecretKey
from medsyn.privacy.deid._edf import deidentify_edf, read_edf_header
from medsyn.privacy.deid._profile import DeidOptions
from medsyn.privacy.deid._report import DeidReport, DeidRun
from medsyn.privacy.deid._secret import Keyring
from medsyn.privacy.deid._wfdb import _read_header, deidentify_wfdb, record_files

__all__ = ["deidentify_edf_files", "deidentify_wfdb_files"]


def _visible_files(folder: Path) -> list[Path]:
    return [
        p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]


def deidentify_edf_files(
    source: str | Path,
    output: str | Path,
    *,
    options: DeidOptions | None = None,
    key: SecretKey | None = None,
    date_offset: int | None = None,
    scrub_annotations: bool = False,
) -> DeidRun:
    """De-identify an EDF file (``output`` is a file) or every ``*.edf`` under a folder (a folder).

    Raises
    ------
    InputError
        ``source`` is missing, has no EDF file, or an EDF file is malformed (all are named);
        nothing is written then.
    """
    source, output = Path(source), Path(output)
    options = options or DeidOptions()
    keyring = Keyring(key or SecretKey.generate())
    scrub = scrub_annotations
    if not source.exists():
        raise InputError(Problem(str(source), "no such file or folder", "an EDF file or a folder of EDF files"))
    if source.is_file():
        if output.is_dir():
            output = output / source.name
        report = deidentify_edf(
            source, output, options=options, keyring=keyring, date_offset=date_offset, scrub_annotations=scrub
        )
        return DeidRun(str(source), str(output), "edf", (report,), (), keyring.fingerprint, options.flags())
    files = _visible_files(source)
    edfs = [p for p in files if p.suffix.lower() == ".edf"]
    if not edfs:
        raise InputError(Problem(str(source), "no .edf files", "a folder of EDF/EDF+ files"))
    problems: list[Problem] = []
    for path in edfs:
        try:
            read_edf_header(path)
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    reports: list[DeidReport] = []
    with atomic_dir(output) as tmp:
        for path in edfs:
            rel = path.relative_to(source)
            report = deidentify_edf(
                path, tmp / rel, options=options, keyring=keyring, date_offset=date_offset, scrub_annotations=scrub
            )
            reports.append(replace(report, output=str(output / rel)))
    skipped = tuple(f"{p} (not an .edf file)" for p in files if p not in edfs)
    return DeidRun(str(source), str(output), "edf", tuple(reports), skipped, keyring.fingerprint, options.flags())


def deidentify_wfdb_files(
    source: str | Path,
    output: str | Path,
    *,
    options: DeidOptions | None = None,
    key: SecretKey | None = None,
    date_offset: int | None = None,
) -> DeidRun:
    """De-identify a WFDB record (a ``.hea`` file or the record path) or every record under a folder.

    ``output`` is always a folder; it receives each record's cleaned header and its signal and
    annotation files, unchanged, at the same relative place.

    Raises
    ------
    InputError
        ``source`` is missing, has no record, or a header is malformed (all are named); nothing
        is written then.
    """
    source, output = Path(source), Path(output)
    options = options or DeidOptions()
    keyring = Keyring(key or SecretKey.generate())
    if source.is_dir():
        files = _visible_files(source)
        headers = [p for p in files if p.suffix == ".hea"]
        root = source
    else:
        header = source if source.suffix == ".hea" else source.with_name(source.name + ".hea")
        if not header.is_file():
            raise InputError(Problem(str(source), "no such WFDB record", "a .hea file, a record path or a folder"))
        files, headers, root = [header], [header], header.parent
    if not headers:
        raise InputError(Problem(str(source), "no .hea files", "a folder of WFDB records"))
    problems: list[Problem] = []
    belongs: set[Path] = set()
    for header in headers:
        try:
            belongs.update(record_files(header, _read_header(header)))
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    reports: list[DeidReport] = []
    with atomic_dir(output) as tmp:
        for header in headers:
            rel = header.parent.relative_to(root)
            report = deidentify_wfdb(header, tmp / rel, options=options, keyring=keyring, date_offset=date_offset)
            reports.append(replace(report, output=str(output / rel / header.name)))
    skipped = tuple(f"{p} (not part of a WFDB record)" for p in files if p not in belongs and p not in headers)
    return DeidRun(str(source), str(output), "wfdb", tuple(reports), skipped, keyring.fingerprint, options.flags())
