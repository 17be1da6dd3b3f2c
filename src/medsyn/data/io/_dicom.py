"""DICOM reader: a ``.dcm`` file or a folder of DICOM objects into an image dataset of header attributes.

Headers are read eagerly (large values deferred), pixels lazily. Each image frame is one
record: a multi-frame object (cine, NM, RT dose) gives one row per frame with ``frame`` and
``frames`` attributes. Rows are ordered by series (``series_uid``) and ``instance_number``, so
a series is a contiguous, ordered block (:func:`by_series` splits them).

What is *not* put in the attribute table: the values of PatientName, PatientID and
PatientBirthDate — only whether they are present (``has_patient_name`` ...), so reading a
folder never copies direct identifiers into a table, a report or a log.

Objects that are not images (RT plan, structured report, ECG waveform) are left out of a
folder with a warning naming the file and SOP class; pixel data in a transfer syntax no
installed plugin decodes (JPEG-LS without pylibjpeg, HTJ2K, ...) are left out with a warning
naming the file and the transfer syntax. Given a single file, the first is a
:class:`DataFormatError`; the second keeps the file and its loader raises the same advice.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from medsyn.data.dataset import ImageDataset, Modality, Provenance, file_digest
from medsyn.data.io._base import READERS, Reader, require
from medsyn.data.io._images import image_schema
from medsyn.errors import DataFormatError, Problem

if TYPE_CHECKING:
    from pydicom.dataset import FileDataset

__all__ = ["DicomReader", "by_series", "dicom_age_years"]

DICOM_SUFFIXES = (".dcm", ".dicom", ".dic")
_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
_AGE = re.compile(r"^\s*(\d{1,3})\s*([DWMY]?)\s*$", re.IGNORECASE)
_PER_YEAR = {"D": 365.25, "W": 365.25 / 7, "M": 12.0, "Y": 1.0, "": 1.0}
_MAX_LISTED = 5
_PLUGINS = "pip install pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg (or python-gdcm)"


def dicom_age_years(value: object) -> float | None:
    """PatientAge (``"058Y"``, ``"006M"``, ``"003W"``, ``"010D"``) in years; ``None`` when absent or malformed.

    Examples
    --------
    >>> dicom_age_years("058Y"), dicom_age_years("006M"), dicom_age_years("")
    (58.0, 0.5, None)
    """
    if value is None:
        return None
    m = _AGE.match(str(value))
    if not m:
        return None
    return round(int(m.group(1)) / _PER_YEAR[m.group(2).upper()], 3)


def _has_preamble(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False


def _is_dicom_file(path: Path) -> bool:
    if not path.is_file():
        return False
    if path.suffix.lower() in DICOM_SUFFIXES:
        return True
    return path.suffix == "" and _has_preamble(path)


def _pydicom() -> ModuleType:
    return require("pydicom", "image", "reading DICOM")


def _text(ds: FileDataset, keyword: str) -> str | None:
    value = ds.get(keyword)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _number(ds: FileDataset, keyword: str) -> float | None:
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _present(ds: FileDataset, keyword: str) -> bool:
    value = ds.get(keyword)
    return value is not None and str(value).strip() != ""


def _header_row(ds: FileDataset, rel: str) -> dict[str, object]:
    """The attribute row of one object; identifying values are reduced to presence flags."""
    meta = getattr(ds, "file_meta", None)
    ts = meta.get("TransferSyntaxUID") if meta is not None else None
    sop = ds.get("SOPClassUID")
    # projection radiographs (CR, DX, MG) state the detector spacing instead
    spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
    spacing_values = [float(v) for v in spacing] if spacing is not None and len(spacing) == 2 else [None, None]
    rows, cols = _number(ds, "Rows"), _number(ds, "Columns")
    return {
        "file": rel,
        "sop_class": getattr(sop, "name", None) or (str(sop) if sop else None),
        "modality": _text(ds, "Modality"),
        "sex": _text(ds, "PatientSex"),
        "age": dicom_age_years(ds.get("PatientAge")),
        "manufacturer": _text(ds, "Manufacturer"),
        "body_part": _text(ds, "BodyPartExamined"),
        "rows": None if rows is None else int(rows),
        "columns": None if cols is None else int(cols),
        "width": None if cols is None else int(cols),
        "height": None if rows is None else int(rows),
        "channels": int(_number(ds, "SamplesPerPixel") or 1),
        "bits_allocated": None if _number(ds, "BitsAllocated") is None else int(_number(ds, "BitsAllocated") or 0),
        "photometric_interpretation": _text(ds, "PhotometricInterpretation"),
        "study_uid": _text(ds, "StudyInstanceUID"),
        "series_uid": _text(ds, "SeriesInstanceUID"),
        "instance_number": None if _number(ds, "InstanceNumber") is None else int(_number(ds, "InstanceNumber") or 0),
        "slice_thickness": _number(ds, "SliceThickness"),
        "pixel_spacing_row": spacing_values[0],
        "pixel_spacing_col": spacing_values[1],
        "burned_in_annotation": _text(ds, "BurnedInAnnotation"),
        "transfer_syntax": getattr(ts, "name", None) or (str(ts) if ts else None),
        "has_patient_name": _present(ds, "PatientName"),
        "has_patient_id": _present(ds, "PatientID"),
        "has_birth_date": _present(ds, "PatientBirthDate"),
    }


def _decoder_problem(ds: FileDataset) -> str | None:
    """Why the pixel data cannot be decoded here (a compressed syntax without a plugin), or ``None``."""
    pixels = _pydicom().pixels
    meta = getattr(ds, "file_meta", None)
    ts = meta.get("TransferSyntaxUID") if meta is not None else None
    if ts is None or not ts.is_compressed:
        return None
    try:
        decoder = pixels.get_decoder(ts)
    except NotImplementedError:
        return f"transfer syntax {ts.name} ({ts}) has no pixel decoder in pydicom"
    if decoder.is_available:
        return None
    return f"transfer syntax {ts.name} ({ts}) cannot be decoded here: no plugin installed ({_PLUGINS})"


@functools.lru_cache(maxsize=2)
def _decode(path: Path) -> np.ndarray:
    """All frames of one object, modality LUT (rescale slope/intercept) applied; frames first."""
    pydicom = _pydicom()
    try:
        ds = pydicom.dcmread(path, force=True)
    except (OSError, ValueError, pydicom.errors.InvalidDicomError) as exc:
        raise DataFormatError(Problem(str(path), f"cannot be read as DICOM ({exc})", "a DICOM file")) from None
    why = _decoder_problem(ds)
    if why is not None:
        raise DataFormatError(
            Problem(str(path), why, "pixel data this installation can decode", f"Install a decoder: {_PLUGINS}.")
        )
    if not any(k in ds for k in _PIXEL_KEYWORDS):
        raise DataFormatError(Problem(str(path), f"has no pixel data (SOP class: {_sop_name(ds)})", "a DICOM image"))
    try:
        arr = ds.pixel_array
    except (ValueError, RuntimeError, NotImplementedError, AttributeError, TypeError) as exc:
        raise DataFormatError(
            Problem(str(path), f"pixel data cannot be decoded ({exc})", "decodable DICOM pixel data")
        ) from None
    photometric = str(ds.get("PhotometricInterpretation", ""))
    if photometric == "PALETTE COLOR":
        arr = pydicom.pixels.apply_color_lut(arr, ds)
    elif int(ds.get("SamplesPerPixel", 1)) == 1:
        arr = pydicom.pixels.apply_modality_lut(arr, ds)
        if arr.dtype.kind == "f":
            arr = arr.astype(np.float32)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if frames == 1 or (arr.ndim == 2 or (arr.ndim == 3 and samples > 1 and arr.shape[-1] == samples)):
        arr = arr[np.newaxis]
    arr.setflags(write=False)
    stack: np.ndarray = arr
    return stack


def _sop_name(ds: FileDataset) -> str:
    sop = ds.get("SOPClassUID")
    if sop is None:
        return "unknown"
    return str(getattr(sop, "name", "") or sop)


class _DicomLoader:
    """``loader(i)`` → frame ``frames[i]`` of file ``paths[i]``; the last two decoded files are cached."""

    def __init__(self, paths: Sequence[Path], frames: Sequence[int]) -> None:
        self.paths = tuple(paths)
        self.frames = tuple(frames)

    def __call__(self, i: int) -> np.ndarray:
        stack = _decode(self.paths[i])
        k = self.frames[i]
        if k >= len(stack):
            raise DataFormatError(
                Problem(
                    str(self.paths[i]),
                    f"holds {len(stack)} frame(s); frame {k} was asked for",
                    "the NumberOfFrames in the header",
                )
            )
        frame: np.ndarray = stack[k]
        return frame


def by_series(dataset: ImageDataset) -> dict[str, ImageDataset]:
    """Split a DICOM dataset into one dataset per ``series_uid`` (in instance order), e.g. to audit each series.

    Parameters
    ----------
    dataset
        A dataset read by :class:`DicomReader`.

    Returns
    -------
    dict
        ``series_uid`` → the images of that series; images without a series UID go under ``""``.
    """
    if "series_uid" not in dataset.attributes.columns:
        raise DataFormatError(
            Problem(dataset.provenance.source, "has no 'series_uid' attribute", "a dataset read from DICOM")
        )
    keys = dataset.attributes["series_uid"].fillna("").astype(str)
    return {uid: dataset.select(np.flatnonzero((keys == uid).to_numpy())) for uid in dict.fromkeys(keys)}


@READERS.register("dicom")
class DicomReader(Reader):
    """DICOM objects (``.dcm`` files, or files without suffix that carry the DICM preamble), one file or a folder.

    Parameters
    ----------
    recursive
        Whether to look for DICOM files in sub-folders.
    kind
        The dataset kind (default ``"dicom"``).

    Examples
    --------
    >>> from pathlib import Path
    >>> from pydicom.data import get_testdata_file
    >>> ds = DicomReader().read(Path(get_testdata_file("CT_small.dcm")))
    >>> ds.attributes.loc[0, "modality"], int(ds.attributes.loc[0, "rows"])
    ('CT', 128)
    """

    name = "dicom"
    modality = Modality.IMAGE
    suffixes = DICOM_SUFFIXES
    priority = 1

    def __init__(self, *, recursive: bool = True, kind: str = "dicom") -> None:
        self.recursive = recursive
        self.kind = kind

    @classmethod
    def claims(cls, path: Path) -> bool:
        if path.is_dir():
            for n, p in enumerate(path.rglob("*")):
                if _is_dicom_file(p):
                    return True
                if n > 2000:
                    break
            return False
        return path.is_file() and (path.suffix.lower() in DICOM_SUFFIXES or (path.suffix == "" and _has_preamble(path)))

    def _header(self, path: Path) -> FileDataset:
        pydicom = _pydicom()
        try:
            # big values (pixel data) stay on disk until used; force=True reads files without preamble
            ds: FileDataset = pydicom.dcmread(path, defer_size="64 KB", force=path.suffix.lower() in DICOM_SUFFIXES)
            return ds
        except (OSError, ValueError, EOFError, pydicom.errors.InvalidDicomError) as exc:
            raise DataFormatError(Problem(str(path), f"cannot be read as DICOM ({exc})", "a DICOM file")) from None

    def read(self, path: Path) -> ImageDataset:
        path = Path(path)
        if not path.exists():
            raise DataFormatError(Problem(str(path), "does not exist", "a DICOM file or a folder of DICOM files"))
        if path.is_dir():
            pattern = path.rglob("*") if self.recursive else path.glob("*")
            files = sorted(p for p in pattern if _is_dicom_file(p))
            if not files:
                raise DataFormatError(
                    Problem(str(path), "holds no DICOM files", "files ending in .dcm or carrying the DICM preamble")
                )
            base = path
        else:
            files, base = [path], path.parent
        single = path.is_file()
        rows: list[dict[str, object]] = []
        paths: list[Path] = []
        frames: list[int] = []
        warnings: list[str] = []
        no_pixels: list[str] = []
        for p in files:
            rel = p.relative_to(base).as_posix()
            try:
                ds = self._header(p)
            except DataFormatError as exc:
                if single:
                    raise
                warnings.append(f"{rel}: skipped — {exc.problems[0].found}")
                continue
            if "SOPClassUID" not in ds and "PixelData" not in ds and "Modality" not in ds:
                if single:
                    raise DataFormatError(Problem(str(p), "holds no DICOM data elements", "a DICOM file"))
                warnings.append(f"{rel}: skipped — not a DICOM object (no SOP class, modality or pixel data)")
                continue
            if not any(k in ds for k in _PIXEL_KEYWORDS):
                sop = _sop_name(ds)
                if single:
                    raise DataFormatError(
                        Problem(
                            str(p),
                            f"has no pixel data (SOP class: {sop})",
                            "a DICOM image",
                            "Read waveforms, reports and RT plans with their own tools.",
                        )
                    )
                no_pixels.append(f"{rel} ({sop})")
                continue
            why = _decoder_problem(ds)
            if why is not None:
                warnings.append(f"{rel}: {why}" + ("; its pixels cannot be loaded" if single else "; left out"))
                if not single:
                    continue
            row = _header_row(ds, rel)
            n_frames = int(_number(ds, "NumberOfFrames") or 1)
            for k in range(max(1, n_frames)):
                rows.append({**row, "frame": k, "frames": n_frames})
                paths.append(p)
                frames.append(k)
        if no_pixels:
            warnings.append(
                f"{len(no_pixels)} DICOM object(s) without pixel data left out of the image set: "
                + ", ".join(no_pixels[:_MAX_LISTED])
                + (f" and {len(no_pixels) - _MAX_LISTED} more" if len(no_pixels) > _MAX_LISTED else "")
            )
        if not rows:
            raise DataFormatError(
                Problem(
                    str(path),
                    "holds no DICOM image with pixel data this installation can read",
                    "at least one DICOM image",
                    "; ".join(warnings[:3]),
                )
            )
        attrs = pd.DataFrame(rows)
        order = (
            attrs.assign(_series=attrs["series_uid"].fillna(""), _inst=attrs["instance_number"].fillna(-1))
            .sort_values(["_series", "_inst", "file", "frame"], kind="stable")
            .index.to_numpy()
        )
        attrs = attrs.iloc[order].reset_index(drop=True)
        paths = [paths[i] for i in order]
        frames = [frames[i] for i in order]
        for col in ("instance_number", "rows", "columns", "width", "height", "bits_allocated"):
            attrs[col] = attrs[col].astype("Int64")
        prov = Provenance(
            source=str(path), reader=self.name, digest=file_digest(sorted(set(paths))), warnings=tuple(warnings)
        )
        return ImageDataset(_DicomLoader(paths, frames), attrs, image_schema(attrs), provenance=prov, kind=self.kind)
