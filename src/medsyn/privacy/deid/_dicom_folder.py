"""De-identify a DICOM file or a folder tree as one study: one key, one UID map, all-or-nothing output.

Every file of a run shares the keyring, so a UID that appears in several files (Study and
Series Instance UIDs, a Frame of Reference, an RT plan's reference to its structure set) gets
the same replacement everywhere, and all files of a patient get the same date offset. The run
first checks every candidate file (``.dcm``/``.dicom``/``.ima`` names, or any file with the
``DICM`` preamble); a candidate that is not DICOM stops the run with an error naming it, before
anything is written. Outputs go to a temporary folder that replaces the target only when every
file was written, so an interrupted run leaves no half folder. Output files are named by their
new SOP Instance UID: original file names often carry patient names or record numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from medsyn._atomic import atomic_dir
from medsyn.errors import InputError, Problem
from medsyn.privacy._keys import SecretKey
from medsyn.privacy.deid._dicom import DicomDeid, deidentify_dicom
from medsyn.privacy.deid._dicom_io import SafePrivateTag, read_dicom, write_dicom
from medsyn.privacy.deid._profile import DeidOptions
from medsyn.privacy.deid._report import DeidReport, DeidRun
from medsyn.privacy.deid._secret import Keyring

__all__ = ["deidentify_dicom_files", "find_dicom_files"]

_DICOM_SUFFIXES = {".dcm", ".dicom", ".ima"}


def _has_preamble(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:] == b"DICM"


def find_dicom_files(folder: str | Path) -> tuple[list[Path], list[Path]]:
    """DICOM candidates under ``folder`` (by suffix or preamble) and the other files, both sorted."""
    folder = Path(folder)
    candidates: list[Path] = []
    others: list[Path] = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        if path.suffix.lower() in _DICOM_SUFFIXES or _has_preamble(path):
            candidates.append(path)
        else:
            others.append(path)
    return candidates, others


def deidentify_dicom_files(
    source: str | Path,
    output: str | Path,
    *,
    options: DeidOptions | None = None,
    key: SecretKey | None = None,
    safe_private: Iterable[SafePrivateTag] = (),
    date_offset: int | None = None,
    pseudonymize_patient_id: bool = True,
) -> DeidRun:
    """De-identify a DICOM file (``output`` is a file) or a folder tree (``output`` is a folder).

    Raises
    ------
    InputError
        ``source`` is missing, holds no DICOM file, or holds files named as DICOM that are not
        (every one is named); nothing is written then.

    Examples
    --------
    >>> import tempfile
    >>> from pydicom.data import get_testdata_file
    >>> out = Path(tempfile.mkdtemp()) / "ct.dcm"
    >>> run = deidentify_dicom_files(get_testdata_file("CT_small.dcm"), out, key=SecretKey(b"k" * 32))
    >>> len(run.reports), out.exists()
    (1, True)
    """
    source, output = Path(source), Path(output)
    options = options or DeidOptions()
    keyring = Keyring(key or SecretKey.generate())
    safe = tuple(safe_private)

    def run(path: Path, out: Path | None) -> DicomDeid:
        return deidentify_dicom(
            path,
            options=options,
            keyring=keyring,
            safe_private=safe,
            date_offset=date_offset,
            pseudonymize_patient_id=pseudonymize_patient_id,
            output=out,
        )

    if not source.exists():
        raise InputError(Problem(str(source), "no such file or folder", "a DICOM file or a folder of DICOM files"))
    if source.is_file():
        if output.is_dir():  # a folder given for one file: name the file by its new SOP Instance UID
            result = run(source, None)
            output = output / f"{result.dataset.get('SOPInstanceUID', '') or 'instance'}.dcm"
        result = run(source, output)
        return DeidRun(str(source), str(output), "dicom", (result.report,), (), keyring.fingerprint, options.flags())
    files, others = find_dicom_files(source)
    if not files:
        raise InputError(Problem(str(source), "no DICOM files (.dcm names or DICM preamble)", "a folder of DICOM"))
    problems: list[Problem] = []
    for path in files:  # check every file before writing any
        try:
            read_dicom(path, stop_before_pixels=True)
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    reports: list[DeidReport] = []
    used: set[str] = set()
    with atomic_dir(output) as tmp:
        for i, path in enumerate(files):
            result = run(path, None)
            stem = str(result.dataset.get("SOPInstanceUID", "") or f"instance{i:05d}")
            name = f"{stem}.dcm" if stem not in used else f"{stem}.{i}.dcm"
            used.add(stem)
            write_dicom(result.dataset, tmp / name)
            reports.append(replace(result.report, output=str(output / name)))
    skipped = tuple(f"{p} (not DICOM: no .dcm name, no DICM preamble)" for p in others)
    return DeidRun(str(source), str(output), "dicom", tuple(reports), skipped, keyring.fingerprint, options.flags())
