"""DICOM files in and out, and the list of private attributes declared safe to keep.

Reading accepts what ``pydicom.dcmread`` reads, and DICOM written without the 128-byte preamble
and file meta (older writers) when it is a SOP instance; anything else is a :class:`DataFormatError`
naming the file, so a folder run can refuse before it writes. Writing always produces a proper
DICOM file (preamble, file meta with the new Media Storage SOP Instance UID).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medsyn._deps import require
from medsyn.errors import DataFormatError, InputError, Problem

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["SafePrivateTag", "read_dicom", "read_safe_private", "write_dicom"]

RESERVED_ODD_GROUPS = frozenset({0x0001, 0x0003, 0x0005, 0x0007, 0xFFFF})
_SAFE_LINE = re.compile(r"^\(?([0-9A-Fa-f]{4}),\s*xx([0-9A-Fa-f]{2})\)?[\s,]+(.+)$")


@dataclass(frozen=True, slots=True)
class SafePrivateTag:
    """A private attribute declared safe to keep: group, element byte in its block, private creator.

    Written like PS3.15 Table E.3.10-1: ``(0019,xx0C) GEMS_ACQU_01`` — ``xx`` is the block the
    creator reserved, which differs between files, so the creator string identifies it.

    Examples
    --------
    >>> SafePrivateTag.parse("(0019,xx0C) GEMS_ACQU_01")
    SafePrivateTag(group=25, element=12, creator='GEMS_ACQU_01')
    """

    group: int
    element: int
    creator: str

    @classmethod
    def parse(cls, text: str, *, location: str = "safe private tag") -> SafePrivateTag:
        match = _SAFE_LINE.match(text.strip())
        if match is None:
            raise InputError(Problem(location, repr(text), "a line like '(0019,xx0C) GEMS_ACQU_01'"))
        group = int(match.group(1), 16)
        if group % 2 == 0 or group in RESERVED_ODD_GROUPS:
            raise InputError(Problem(location, f"group {group:04X} is not a private group", "an odd group"))
        return cls(group, int(match.group(2), 16), match.group(3).strip().strip("'\""))

    def __str__(self) -> str:
        return f"({self.group:04X},xx{self.element:02X}) {self.creator}"


def read_safe_private(path: str | Path) -> tuple[SafePrivateTag, ...]:
    """Read a safe-private list: one ``(gggg,xxee) CREATOR`` per line; ``#`` starts a comment.

    Raises
    ------
    InputError
        The file is missing or has malformed lines (all of them are named, with line numbers).
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(Problem(str(path), f"cannot be read ({exc})", "a text file of safe private tags")) from None
    tags: list[SafePrivateTag] = []
    problems: list[Problem] = []
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            tags.append(SafePrivateTag.parse(text, location=f"{path}:{number}"))
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return tuple(tags)


def pydicom_module() -> Any:
    return require("pydicom", "image", "DICOM de-identification")


def read_dicom(path: str | Path, *, stop_before_pixels: bool = False) -> Dataset:
    """Read a DICOM file, also one without the 128-byte preamble; anything else is a clear error.

    Raises
    ------
    DataFormatError
        The file is missing or is not DICOM (names the file).
    """
    pydicom = pydicom_module()
    from pydicom.errors import InvalidDicomError

    path = Path(path)
    if not path.is_file():
        raise DataFormatError(Problem(str(path), "no such file", "a DICOM file"))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"pydicom\.")
        try:
            dataset: Dataset = pydicom.dcmread(path, stop_before_pixels=stop_before_pixels)
            return dataset
        except InvalidDicomError:
            pass
        except Exception as exc:
            problem = Problem(str(path), f"a damaged DICOM file ({exc})", "a readable DICOM file")
            raise DataFormatError(problem) from None
        try:  # DICOM without preamble and file meta (older writers): accept it only if it is a SOP instance
            forced: Dataset = pydicom.dcmread(path, force=True, stop_before_pixels=stop_before_pixels)
            if "SOPClassUID" in forced and "SOPInstanceUID" in forced:
                return forced
        except Exception:
            pass
    raise DataFormatError(
        Problem(str(path), "not a DICOM file (no DICM preamble and no SOP Class/Instance UID)", "a DICOM file")
    )


def write_dicom(ds: Dataset, path: str | Path) -> None:
    """Write ``ds`` as a DICOM file with file meta information (made up when the input had none)."""
    pydicom = pydicom_module()
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

    meta = getattr(ds, "file_meta", None)
    if meta is None or "TransferSyntaxUID" not in meta:
        meta = pydicom.dataset.FileMetaDataset()
        implicit = bool(getattr(ds, "original_encoding", (True, True))[0])
        meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
        ds.file_meta = meta
    if "SOPClassUID" in ds and "MediaStorageSOPClassUID" not in meta:
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
    if "SOPInstanceUID" in ds:
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"pydicom\.")
        ds.save_as(path, enforce_file_format=True)
