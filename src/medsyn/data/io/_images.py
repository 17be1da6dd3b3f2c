"""Readers for photographs and image arrays: a folder of PNG/JPEG/TIFF files, one file, or a ``.npz``.

A folder is read *lazily*: at read time only headers are opened (PIL reads size and mode
without decoding), and each image is decoded when it is used. A ``labels.csv`` beside the
images (a ``file``/``filename``/``image``/``path`` column relative to the folder) joins the
attribute table. Everything that makes part of a folder unusable — a truncated file, a label
row without an image — becomes a warning in :attr:`Provenance.warnings` naming the file, so
the rest of the data stays usable; a single bad file raises :class:`DataFormatError`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from medsyn.data.dataset import ImageDataset, Modality, Provenance, file_digest
from medsyn.data.inference import infer_schema
from medsyn.data.io._base import READERS, Reader, require
from medsyn.data.schema import Schema
from medsyn.errors import DataFormatError, Problem

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = ["ImageFolderReader", "NpzImageReader", "image_schema", "load_image_file"]

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
_FILE_COLUMNS = ("file", "filename", "file_name", "image", "image_file", "path", "filepath", "image_path")
#: Words in a folder name or labels table that mark colour fundus photographs.
_FUNDUS_WORDS = re.compile(r"(?:^|[^a-z])(dr|fundus|retina|retinal|retinopathy|maculopathy)(?:[^a-z]|$)", re.IGNORECASE)
_MAX_LISTED = 5


def _listed(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_MAX_LISTED])
    return shown + (f" and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else "")


#: Attribute columns that describe the picture, not the patient: never identifiers or targets.
_GEOMETRY_FIELDS: dict[str, dict[str, object]] = {
    "width": {"type": "integer", "role": "feature", "unit": "px", "description": "image width"},
    "height": {"type": "integer", "role": "feature", "unit": "px", "description": "image height"},
    "rows": {"type": "integer", "role": "feature", "unit": "px", "description": "DICOM Rows"},
    "columns": {"type": "integer", "role": "feature", "unit": "px", "description": "DICOM Columns"},
    "channels": {"type": "integer", "role": "feature", "description": "colour channels (samples per pixel)"},
    "file": {"role": "feature", "description": "image file, relative to the dataset folder"},
    "sop_class": {"role": "feature", "description": "DICOM SOP class (kind of object)"},
    "frame": {"type": "integer", "role": "feature", "description": "frame index within a multi-frame object"},
    "frames": {"type": "integer", "role": "feature", "description": "frames in the object"},
    "slice_thickness": {"role": "feature", "unit": "mm"},
    "pixel_spacing_row": {"role": "feature", "unit": "mm"},
    "pixel_spacing_col": {"role": "feature", "unit": "mm"},
    "has_patient_name": {"type": "boolean", "role": "feature", "description": "PatientName present (value not read)"},
    "has_patient_id": {"type": "boolean", "role": "feature", "description": "PatientID present (value not read)"},
    "has_birth_date": {
        "type": "boolean",
        "role": "feature",
        "description": "PatientBirthDate present (value not read)",
    },
}


def image_schema(attributes: pd.DataFrame) -> Schema:
    """The inferred schema of an image attribute table, with image geometry marked as such.

    Inference reads ``height`` as a body height and ``sop_class`` as an outcome; for images they
    are pixel counts and object types, so they are fixed here.
    """
    schema = infer_schema(attributes)
    fields = {k: v for k, v in _GEOMETRY_FIELDS.items() if k in attributes.columns}
    return schema.with_overrides({"fields": fields}, source="image reader") if fields else schema


def _truncation(path: Path) -> str | None:
    """A cheap end-of-file check: JPEG must end with EOI, PNG with an IEND chunk."""
    suffix = path.suffix.lower()
    size = path.stat().st_size
    if size == 0:
        return "the file is empty"
    with path.open("rb") as fh:
        fh.seek(max(0, size - 32))
        tail = fh.read()
    if suffix in {".jpg", ".jpeg"} and b"\xff\xd9" not in tail[-16:]:
        return "the JPEG data end without an end-of-image marker (truncated file)"
    if suffix == ".png" and b"IEND" not in tail[-12:]:
        return "the PNG data end without an IEND chunk (truncated file)"
    return None


def _array_from_pil(im: PILImage.Image) -> np.ndarray:
    """Pixels as an array: 2-D for grey, H × W × C for colour; palettes become RGB(A)."""
    mode = im.mode
    if mode in {"P", "PA"}:
        im = im.convert("RGBA" if "transparency" in im.info or mode == "PA" else "RGB")
    elif mode == "1":
        im = im.convert("L")
    elif mode in {"CMYK", "YCbCr", "LAB", "HSV"}:
        im = im.convert("RGB")
    return np.asarray(im)


def load_image_file(path: Path) -> np.ndarray:
    """Decode one image file into an array, or raise :class:`DataFormatError` naming it.

    Parameters
    ----------
    path
        A PNG, JPEG, TIFF or BMP file.

    Returns
    -------
    numpy.ndarray
        H × W (grey) or H × W × C (colour), in the file's own bit depth.

    Raises
    ------
    DataFormatError
        When the file is missing, truncated or not an image.
    """
    image_mod = require("PIL.Image", "image", "reading images")
    try:
        with image_mod.open(path) as im:
            im.load()
            return _array_from_pil(im)
    except FileNotFoundError:
        raise DataFormatError(Problem(str(path), "does not exist", "an image file")) from None
    except (OSError, SyntaxError, ValueError, image_mod.DecompressionBombError) as exc:
        raise DataFormatError(
            Problem(
                str(path),
                f"cannot decode the image ({exc})",
                "a complete PNG/JPEG/TIFF file",
                "Re-export the image or remove it from the folder.",
            )
        ) from None


def _header(path: Path) -> tuple[int, int, int, str]:
    """Width, height, channels and PIL mode, read from the header only (no decoding)."""
    image_mod = require("PIL.Image", "image", "reading images")
    cut = _truncation(path)
    if cut is not None:
        raise DataFormatError(Problem(str(path), cut, "a complete image file", "Re-export the image or remove it."))
    try:
        with image_mod.open(path) as im:
            width, height = im.size
            mode = im.mode
            bands = len(im.getbands())
    except (OSError, SyntaxError, ValueError, image_mod.DecompressionBombError) as exc:
        raise DataFormatError(
            Problem(
                str(path),
                f"not a readable image ({exc})",
                "a PNG/JPEG/TIFF/BMP file",
                "Re-export the image or remove it.",
            )
        ) from None
    if mode in {"P", "PA"}:
        bands = 4 if mode == "PA" else 3
    elif mode in {"CMYK", "YCbCr", "LAB", "HSV"}:
        bands = 3
    return int(width), int(height), int(bands), mode


class _FileLoader:
    """``loader(i)`` for an :class:`ImageDataset`: decodes file ``i`` on demand (thread-safe, picklable)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = tuple(paths)

    def __call__(self, i: int) -> np.ndarray:
        return load_image_file(self.paths[i])


class _ArrayLoader:
    """``loader(i)`` over images held in memory (a stacked array, possibly several splits)."""

    def __init__(self, blocks: Sequence[np.ndarray]) -> None:
        self.blocks = tuple(blocks)
        self.starts = np.cumsum([0, *(len(b) for b in self.blocks)])

    def __call__(self, i: int) -> np.ndarray:
        block = int(np.searchsorted(self.starts, i, side="right") - 1)
        return np.asarray(self.blocks[block][i - int(self.starts[block])])


def _looks_fundus(folder: Path, labels: pd.DataFrame | None) -> bool:
    """Whether the folder name, the labels' column names or their category values mention DR, retina or fundus."""
    names = [folder.name, folder.parent.name]
    if labels is not None:
        names += [str(c) for c in labels.columns]
        for col in labels.columns:
            values = labels[col]
            if not pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
                uniques = values.dropna().unique()
                if len(uniques) <= 50:  # categories such as "No DR", not free text or file names
                    names += [str(v) for v in uniques]
    return any(_FUNDUS_WORDS.search(n.replace("_", " ").replace("-", " ")) for n in names)


def _file_column(frame: pd.DataFrame, where: str) -> str:
    lower = {str(c).lower(): str(c) for c in frame.columns}
    for name in _FILE_COLUMNS:
        if name in lower:
            return lower[name]
    raise DataFormatError(
        Problem(
            where,
            f"no column naming the image files (columns: {list(frame.columns)})",
            f"one of the columns {', '.join(_FILE_COLUMNS[:4])}",
            "Rename the file column to 'file'.",
        )
    )


@READERS.register("images")
class ImageFolderReader(Reader):
    """A folder of PNG/JPEG/TIFF/BMP images (searched recursively) with an optional labels CSV, or one image.

    Parameters
    ----------
    labels
        The labels table; by default ``labels.csv`` in the folder when present. Its
        ``file`` (or ``filename``/``image``/``path``) column holds paths relative to the folder
        (a bare file name also matches when it is unique); its other columns join the attributes.
    kind
        ``"fundus"``, ``"xray"``, ... ; by default ``"fundus"`` when the folder name or the labels'
        columns mention DR, retina or fundus, else ``"image"``.
    recursive
        Whether to look for images in sub-folders.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> Image.new("RGB", (40, 30), "red").save(d / "a.png")
    >>> ds = ImageFolderReader().read(d)
    >>> ds.attributes[["file", "width", "height", "channels"]].to_dict("records")
    [{'file': 'a.png', 'width': 40, 'height': 30, 'channels': 3}]
    """

    name = "images"
    modality = Modality.IMAGE
    suffixes = IMAGE_SUFFIXES

    def __init__(self, *, labels: str | Path | None = None, kind: str | None = None, recursive: bool = True) -> None:
        self.labels = labels
        self.kind = kind
        self.recursive = recursive

    @classmethod
    def claims(cls, path: Path) -> bool:
        if path.is_dir():
            for n, p in enumerate(path.rglob("*")):
                if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file():
                    return True
                if n > 5000:
                    break
            return False
        return super().claims(path)

    def read(self, path: Path) -> ImageDataset:
        path = Path(path)
        if not path.exists():
            raise DataFormatError(Problem(str(path), "does not exist", "an image file or a folder of images"))
        if path.is_file():
            return self._read_file(path)
        return self._read_folder(path)

    def _read_file(self, path: Path) -> ImageDataset:
        width, height, channels, mode = _header(path)
        attrs = pd.DataFrame(
            {"file": [path.name], "width": [width], "height": [height], "channels": [channels], "mode": [mode]}
        )
        prov = Provenance(source=str(path), reader=self.name, digest=file_digest([path]))
        return ImageDataset(_FileLoader([path]), attrs, image_schema(attrs), provenance=prov, kind=self.kind or "image")

    def _read_labels(self, folder: Path) -> tuple[pd.DataFrame | None, Path | None]:
        if self.labels is not None:
            lp = Path(self.labels)
            lp = lp if lp.is_absolute() or lp.exists() else folder / lp
            if not lp.exists():
                raise DataFormatError(Problem(str(lp), "labels file does not exist", "a CSV with a 'file' column"))
        else:
            lp = folder / "labels.csv"
            if not lp.exists():
                return None, None
        from medsyn.data.io._tables import CsvReader

        frame = CsvReader().read(lp).data
        return frame, lp

    def _read_folder(self, folder: Path) -> ImageDataset:
        pattern = folder.rglob("*") if self.recursive else folder.glob("*")
        files = sorted(p for p in pattern if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise DataFormatError(
                Problem(
                    str(folder),
                    "holds no image files",
                    f"files ending in {', '.join(IMAGE_SUFFIXES)}",
                    "Pass recursive=True if the images are in sub-folders." if not self.recursive else "",
                )
            )
        warnings: list[str] = []
        rows: list[dict[str, object]] = []
        good: list[Path] = []
        skipped: list[str] = []
        for p in files:
            rel = p.relative_to(folder).as_posix()
            try:
                width, height, channels, mode = _header(p)
            except DataFormatError as exc:
                skipped.append(rel)
                warnings.append(f"{rel}: skipped — {exc.problems[0].found}")
                continue
            good.append(p)
            rows.append({"file": rel, "width": width, "height": height, "channels": channels, "mode": mode})
        if not good:
            raise DataFormatError(
                Problem(
                    str(folder),
                    f"none of its {len(files)} image files can be read ({_listed(skipped)})",
                    "readable PNG/JPEG/TIFF files",
                )
            )
        attrs = pd.DataFrame(rows)
        labels, labels_path = self._read_labels(folder)
        if labels is not None and labels_path is not None:
            attrs, label_warnings = self._join_labels(attrs, labels, labels_path, folder, set(skipped))
            warnings += label_warnings
        kind = self.kind or ("fundus" if _looks_fundus(folder, labels) else "image")
        sizes = attrs.groupby(["width", "height"]).size()
        if len(sizes) > 1:
            common_w, common_h = (int(v) for v in sizes.sort_values(ascending=False).index[0])
            warnings.append(f"images have {len(sizes)} different sizes (most common {common_w}×{common_h})")
        digest_files = good + ([labels_path] if labels_path is not None else [])
        prov = Provenance(
            source=str(folder), reader=self.name, digest=file_digest(digest_files), warnings=tuple(warnings)
        )
        return ImageDataset(_FileLoader(good), attrs, image_schema(attrs), provenance=prov, kind=kind)

    @staticmethod
    def _join_labels(
        attrs: pd.DataFrame, labels: pd.DataFrame, labels_path: Path, folder: Path, skipped: set[str]
    ) -> tuple[pd.DataFrame, list[str]]:
        where = labels_path.name
        col = _file_column(labels, where)
        warnings: list[str] = []
        keys = labels[col].astype("string").str.strip().str.replace("\\", "/", regex=False).str.removeprefix("./")
        have = set(attrs["file"])
        by_name: dict[str, str] = {}
        for rel in attrs["file"]:
            by_name.setdefault(rel.rsplit("/", 1)[-1], rel)
        counts = attrs["file"].str.rsplit("/", n=1).str[-1].value_counts()
        resolved: list[str | None] = []
        for key in keys:
            if pd.isna(key):
                resolved.append(None)
            elif key in have:
                resolved.append(str(key))
            elif counts.get(str(key), 0) == 1:
                resolved.append(by_name[str(key)])
            else:
                resolved.append(None)
        labels = labels.drop(columns=[col]).assign(file=pd.Series(resolved, index=labels.index, dtype="object"))
        missing = [
            str(k)
            for k, r in zip(keys, resolved, strict=True)
            if r is None and not pd.isna(k) and str(k) not in skipped
        ]
        if missing:
            warnings.append(
                f"{where}: {len(missing)} label row(s) name images that are not in the folder: {_listed(missing)}"
            )
        dup = labels["file"].dropna().duplicated(keep="first")
        if dup.any():
            names = labels["file"].dropna()[dup].tolist()
            warnings.append(
                f"{where}: {len(names)} image(s) have more than one label row; the first is used: {_listed(names)}"
            )
        labels = labels.dropna(subset=["file"]).drop_duplicates("file", keep="first")
        clash = [c for c in labels.columns if c in attrs.columns and c != "file"]
        labels = labels.rename(columns={c: f"label_{c}" for c in clash})
        merged = attrs.merge(labels, on="file", how="left", validate="one_to_one")
        unlabelled = sorted(set(attrs["file"]) - set(labels["file"]))
        if unlabelled:
            warnings.append(f"{where}: {len(unlabelled)} image(s) have no label row: {_listed(unlabelled)}")
        return merged, warnings


def _split_name(key: str) -> str:
    for suffix in ("_images", "_imgs", "_x", "images", "imgs"):
        if key.lower().endswith(suffix):
            return key[: len(key) - len(suffix)].rstrip("_")
    return key


@READERS.register("npz_images")
class NpzImageReader(Reader):
    """Arrays of images with labels in a NumPy ``.npz`` (e.g. MedMNIST: ``train_images``, ``train_labels``).

    Every array named ``*images`` (or ``x``/``x_*``) of shape N × H × W or N × H × W × C is a
    block of images; its split is the name's prefix (``train``, ``val``, ``test``). The matching
    ``*labels`` (or ``y``) array gives the ``label`` attribute (``label_0``, ``label_1``, ... for
    multi-label rows).

    Parameters
    ----------
    kind
        What the images are (``"xray"``, ``"fundus"``, ...); default ``"image"``.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.npz"
    >>> np.savez(p, train_images=np.zeros((3, 8, 8), np.uint8), train_labels=np.array([[0], [1], [1]]))
    >>> ds = NpzImageReader().read(p)
    >>> ds.attributes["label"].tolist(), ds.image(0).shape
    ([0, 1, 1], (8, 8))
    """

    name = "npz_images"
    modality = Modality.IMAGE
    suffixes = (".npz",)

    def __init__(self, *, kind: str = "image") -> None:
        self.kind = kind

    def read(self, path: Path) -> ImageDataset:
        path = Path(path)
        if not path.is_file():
            raise DataFormatError(Problem(str(path), "does not exist", "a .npz file of image arrays"))
        try:
            npz = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataFormatError(
                Problem(str(path), f"not a readable .npz archive ({exc})", "a file written by numpy.savez")
            ) from None
        with npz:
            keys = list(npz.files)
            image_keys = [
                k
                for k in keys
                if k.lower().endswith(("images", "imgs")) or k.lower() in {"x"} or k.lower().startswith("x_")
            ]
            problems: list[Problem] = []
            blocks: list[np.ndarray] = []
            frames: list[pd.DataFrame] = []
            for key in image_keys:
                try:
                    arr = npz[key]
                except ValueError as exc:
                    problems.append(Problem(f"{path.name}:{key}", f"cannot be loaded ({exc})", "a numeric array"))
                    continue
                if (
                    arr.ndim not in (3, 4)
                    or (arr.ndim == 4 and arr.shape[-1] not in (1, 3, 4))
                    or arr.dtype.kind not in "uif"
                ):
                    problems.append(
                        Problem(
                            f"{path.name}:{key}",
                            f"shape {arr.shape}, dtype {arr.dtype}",
                            "N × H × W or N × H × W × C (C in 1, 3, 4) numbers",
                        )
                    )
                    continue
                if arr.ndim == 4 and arr.shape[-1] == 1:
                    arr = arr[..., 0]
                split = _split_name(key)
                frame = pd.DataFrame(
                    {
                        "file": [f"{split or 'image'}_{i:05d}" for i in range(len(arr))],
                        "split": split or "all",
                        "height": arr.shape[1],
                        "width": arr.shape[2],
                        "channels": 1 if arr.ndim == 3 else arr.shape[3],
                    }
                )
                label_key = next(
                    (
                        k
                        for k in keys
                        if k != key
                        and k.lower()
                        in {
                            f"{split}_labels".lower(),
                            f"{split}labels".lower(),
                            ("y" if key.lower() == "x" else f"y_{split}").lower(),
                        }
                    ),
                    None,
                )
                if label_key is not None:
                    labels = np.asarray(npz[label_key])
                    if len(labels) != len(arr):
                        problems.append(
                            Problem(
                                f"{path.name}:{label_key}",
                                f"{len(labels)} labels for {len(arr)} images in '{key}'",
                                "one label row per image",
                            )
                        )
                        continue
                    labels = labels.reshape(len(labels), -1)
                    if labels.shape[1] == 1:
                        frame["label"] = labels[:, 0]
                    else:
                        for j in range(labels.shape[1]):
                            frame[f"label_{j}"] = labels[:, j]
                blocks.append(arr)
                frames.append(frame)
        if problems:
            raise DataFormatError(problems)
        if not blocks:
            raise DataFormatError(
                Problem(
                    str(path),
                    f"holds no image arrays (keys: {keys})",
                    "arrays named '*_images' or 'x' of shape N × H × W [× C]",
                    "Rename the image arrays, e.g. train_images / train_labels.",
                )
            )
        attrs = pd.concat(frames, ignore_index=True)
        prov = Provenance(source=str(path), reader=self.name, digest=file_digest([path]))
        return ImageDataset(_ArrayLoader(blocks), attrs, image_schema(attrs), provenance=prov, kind=self.kind)
