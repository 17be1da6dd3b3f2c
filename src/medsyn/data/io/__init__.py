"""Readers and writers: every path → Dataset conversion in medsyn goes through here.

``read(path)`` picks a reader by suffix (or by what a folder holds), applies an optional
schema YAML, and returns a :class:`~medsyn.data.dataset.Dataset`. Readers for signals and
images import their heavy libraries (wfdb, pyedflib, pydicom) only when used.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from medsyn.data.dataset import Dataset
from medsyn.data.io import _dicom, _edf, _images, _wfdb  # noqa: F401  (register their readers)
from medsyn.data.io._base import READERS, Reader, claiming_reader, require
from medsyn.data.io._dicom import DicomReader, by_series
from medsyn.data.io._images import ImageFolderReader, NpzImageReader
from medsyn.data.io._tables import DEFAULT_NA_TOKENS, ArffReader, CsvReader, ParquetReader, from_frame, write_table
from medsyn.data.schema import Schema
from medsyn.errors import InputError, Problem

__all__ = [
    "DEFAULT_NA_TOKENS",
    "READERS",
    "ArffReader",
    "CsvReader",
    "DicomReader",
    "ImageFolderReader",
    "NpzImageReader",
    "ParquetReader",
    "Reader",
    "by_series",
    "from_frame",
    "read",
    "reader_for",
    "require",
    "write_table",
]


def reader_for(path: str | Path, format: str | None = None, **options: object) -> Reader:
    """The configured reader for ``path`` (``format`` forces one by name)."""
    cls = READERS.get(format) if format is not None else claiming_reader(Path(path))
    try:
        return cls(**options)
    except TypeError:
        accepted = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        raise InputError(
            Problem(
                f"reader '{cls.name}'",
                f"options {sorted(options)}",
                f"only {accepted}" if accepted else "no options",
            )
        ) from None


def read(
    path: str | Path,
    *,
    format: str | None = None,
    schema: str | Path | Schema | None = None,
    **options: object,
) -> Dataset:
    """Read a file or folder into a Dataset.

    Parameters
    ----------
    path
        A table (CSV, Parquet, a CSV inside a zip as ``archive.zip/member.csv``), a WFDB record
        or folder, an EDF file or folder, a DICOM file or folder, or a folder of images with a
        ``labels.csv``.
    format
        Reader name to use instead of detection (see ``READERS.names()``).
    schema
        A YAML file of overrides (``fields: {col: {...}}``) or a complete :class:`Schema`.
    **options
        Reader options, e.g. ``delimiter=";"``, ``encoding="cp1252"``.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = p.write_text("age;sex\\n70;F\\n81;?\\n")
    >>> ds = read(p)
    >>> ds.data["sex"].isna().sum()
    np.int64(1)
    """
    dataset = reader_for(path, format, **options).read(Path(path))
    if isinstance(schema, Schema):
        return dataset.with_schema(schema)
    if schema is not None:
        return dataset.with_schema(dataset.schema.with_yaml(schema))
    return dataset
