"""Datasets: a modality, its payload, a per-record attribute table, a schema and provenance.

Every record of every modality has attributes (age, sex, labels, site), so conditioning,
fairness and representativeness work the same way across tables, signals and images:

- :class:`TabularDataset` — the table *is* the attribute table.
- :class:`SignalDataset` — records of channels × samples (ECG, EEG), each a :class:`SignalRecord`
  with its own sampling rate, channel names, units and annotations, because real folders mix
  them (MIT-BIH at 360 Hz beside PTB at 1 kHz).
- :class:`ImageDataset` — images loaded lazily from files (or held in memory), one attribute row
  per image with its file name, size and labels.

Datasets are immutable in spirit: methods return new objects and never change the caller's data.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import ClassVar, Self

import numpy as np
import pandas as pd

from medsyn.data.inference import infer_schema
from medsyn.data.schema import Schema
from medsyn.errors import InputError, Problem

__all__ = [
    "Dataset",
    "ImageDataset",
    "Modality",
    "Provenance",
    "SignalDataset",
    "SignalRecord",
    "TabularDataset",
]


class Modality(StrEnum):
    TABULAR = "tabular"
    SIGNAL = "signal"
    IMAGE = "image"


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a dataset came from: its source, the reader, a content digest and when it was read."""

    source: str
    reader: str
    digest: str = ""
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    warnings: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        """A short, stable provenance id (the first 12 hex digits of the content digest)."""
        return self.digest[:12] if self.digest else ""

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "source": self.source,
            "reader": self.reader,
            "digest": self.digest,
            "created": self.created,
            "warnings": list(self.warnings),
        }


def file_digest(paths: Sequence[Path]) -> str:
    """SHA-256 over the bytes of ``paths`` (sorted), streamed so large files cost no memory."""
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(path.name.encode())
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def frame_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of a table's content, independent of how it was read."""
    h = hashlib.sha256()
    h.update("\x1f".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


class Dataset(ABC):
    """What every modality shares: ``attributes``, ``schema``, ``provenance`` and ``len``."""

    modality: ClassVar[Modality]

    def __init__(self, attributes: pd.DataFrame, schema: Schema | None, provenance: Provenance | None) -> None:
        is_range = (
            isinstance(attributes.index, pd.RangeIndex) and attributes.index.start == 0 and attributes.index.step == 1
        )
        self.attributes = attributes if is_range else attributes.reset_index(drop=True)
        self.schema = schema if schema is not None else infer_schema(self.attributes)
        missing = [n for n in self.schema.names if n not in self.attributes.columns]
        if missing:
            raise InputError(
                Problem(
                    "schema",
                    f"fields {missing} are not columns of the data",
                    f"a subset of {list(self.attributes.columns)}",
                )
            )
        self.provenance = provenance or Provenance(source="<memory>", reader="memory")

    def __len__(self) -> int:
        return len(self.attributes)

    @property
    def name(self) -> str:
        return Path(self.provenance.source).name or self.provenance.source

    @abstractmethod
    def select(self, index: Sequence[int] | np.ndarray) -> Self:
        """The records at ``index`` (positions), as a new dataset of the same kind."""

    @abstractmethod
    def with_schema(self, schema: Schema) -> Self:
        """The same data described by ``schema``."""

    def summary(self) -> dict[str, object]:
        """A few facts for reports: modality, record count, provenance."""
        return {"modality": self.modality.value, "records": len(self), "provenance": self.provenance.to_dict()}


class TabularDataset(Dataset):
    """A table of records × columns; the table is its own attribute table.

    Examples
    --------
    >>> import pandas as pd
    >>> ds = TabularDataset(pd.DataFrame({"age": [70, 81], "sex": ["F", "M"]}))
    >>> len(ds), ds.schema["sex"].type.value
    (2, 'categorical')
    """

    modality = Modality.TABULAR

    def __init__(self, data: pd.DataFrame, schema: Schema | None = None, provenance: Provenance | None = None) -> None:
        if not isinstance(data, pd.DataFrame):
            raise InputError(Problem("data", f"a {type(data).__name__}", "a pandas DataFrame"))
        super().__init__(data, schema, provenance)
        if schema is not None and set(schema.names) != set(self.attributes.columns):
            extra = sorted(set(map(str, self.attributes.columns)) - set(schema.names))
            raise InputError(Problem("schema", f"columns {extra} have no field", "one field per column"))

    @property
    def data(self) -> pd.DataFrame:
        return self.attributes

    def select(self, index: Sequence[int] | np.ndarray) -> Self:
        return type(self)(self.attributes.iloc[np.asarray(index)], self.schema, self.provenance)

    def with_schema(self, schema: Schema) -> Self:
        return type(self)(self.attributes, schema, self.provenance)

    def summary(self) -> dict[str, object]:
        return {**super().summary(), "columns": self.attributes.shape[1]}


@dataclass(frozen=True, slots=True)
class SignalRecord:
    """One recording: ``data`` is channels × samples (float, physical units).

    ``annotations`` is a table with columns ``onset`` (seconds), ``duration`` (seconds),
    ``label`` and ``channel`` (empty for all channels).
    """

    name: str
    data: np.ndarray
    sampling_rate: float
    channels: tuple[str, ...]
    units: tuple[str, ...]
    annotations: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["onset", "duration", "label", "channel"])
    )

    @property
    def n_samples(self) -> int:
        return int(self.data.shape[1])

    @property
    def duration(self) -> float:
        return self.n_samples / self.sampling_rate


class SignalDataset(Dataset):
    """Multichannel recordings (ECG, EEG) with one attribute row per record.

    The attribute table always has a ``record`` column matching ``SignalRecord.name``; readers
    add what headers carry (age, sex, diagnosis codes).
    """

    modality = Modality.SIGNAL

    def __init__(
        self,
        records: Sequence[SignalRecord],
        attributes: pd.DataFrame | None = None,
        schema: Schema | None = None,
        provenance: Provenance | None = None,
        *,
        kind: str = "signal",
    ) -> None:
        self.records: tuple[SignalRecord, ...] = tuple(records)
        if attributes is None:
            attributes = pd.DataFrame({"record": [r.name for r in self.records]})
        if len(attributes) != len(self.records):
            raise InputError(
                Problem("attributes", f"{len(attributes)} rows for {len(self.records)} records", "one row per record")
            )
        self.kind = kind
        super().__init__(attributes, schema, provenance)

    def __iter__(self) -> Iterator[SignalRecord]:
        return iter(self.records)

    @property
    def is_uniform(self) -> bool:
        """All records share sampling rate, channels and length (so they stack into one array)."""
        if not self.records:
            return True
        r0 = self.records[0]
        return all(
            r.sampling_rate == r0.sampling_rate and r.channels == r0.channels and r.n_samples == r0.n_samples
            for r in self.records
        )

    def to_array(self) -> np.ndarray:
        """Records × channels × samples; raises :class:`InputError` when records differ."""
        if not self.is_uniform:
            raise InputError(
                Problem(
                    self.provenance.source,
                    "records differ in sampling rate, channels or length",
                    "uniform records",
                    "Crop or resample the records first.",
                )
            )
        return np.stack([r.data for r in self.records])

    def select(self, index: Sequence[int] | np.ndarray) -> Self:
        idx = np.asarray(index, dtype=int)
        out = type(self)(
            [self.records[i] for i in idx], self.attributes.iloc[idx], self.schema, self.provenance, kind=self.kind
        )
        return out

    def with_schema(self, schema: Schema) -> Self:
        return type(self)(self.records, self.attributes, schema, self.provenance, kind=self.kind)

    def summary(self) -> dict[str, object]:
        rates = sorted({r.sampling_rate for r in self.records})
        channels = sorted({c for r in self.records for c in r.channels})
        return {
            **super().summary(),
            "kind": self.kind,
            "sampling_rates_hz": rates,
            "channels": channels,
            "total_duration_s": float(sum(r.duration for r in self.records)),
        }


ImageLoader = Callable[[int], np.ndarray]


class ImageDataset(Dataset):
    """Images, loaded lazily, with one attribute row per image.

    Parameters
    ----------
    loader
        ``loader(i)`` returns image ``i`` as an array (H × W or H × W × C). Readers pass a
        function that opens the file, so a folder of thousands of photographs costs nothing
        until an image is used.
    attributes
        One row per image; readers include ``file``, ``width``, ``height`` and ``channels``.
    """

    modality = Modality.IMAGE

    def __init__(
        self,
        loader: ImageLoader,
        attributes: pd.DataFrame,
        schema: Schema | None = None,
        provenance: Provenance | None = None,
        *,
        kind: str = "image",
        positions: np.ndarray | None = None,
    ) -> None:
        self._loader = loader
        self._positions = np.arange(len(attributes)) if positions is None else np.asarray(positions, dtype=int)
        self.kind = kind
        super().__init__(attributes, schema, provenance)

    @classmethod
    def from_arrays(
        cls,
        images: Sequence[np.ndarray],
        attributes: pd.DataFrame | None = None,
        *,
        kind: str = "image",
        provenance: Provenance | None = None,
    ) -> ImageDataset:
        """An in-memory dataset; attributes default to file placeholders and image sizes."""
        arrays = [np.asarray(im) for im in images]
        if attributes is None:
            attributes = pd.DataFrame(
                {
                    "file": [f"image_{i}" for i in range(len(arrays))],
                    "height": [a.shape[0] for a in arrays],
                    "width": [a.shape[1] for a in arrays],
                    "channels": [1 if a.ndim == 2 else a.shape[2] for a in arrays],
                }
            )
        return cls(arrays.__getitem__, attributes, kind=kind, provenance=provenance)

    def image(self, i: int) -> np.ndarray:
        """Load image ``i`` (position in this dataset)."""
        return self._loader(int(self._positions[i]))

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self.image(i) for i in range(len(self)))

    def select(self, index: Sequence[int] | np.ndarray) -> Self:
        idx = np.asarray(index, dtype=int)
        return type(self)(
            self._loader,
            self.attributes.iloc[idx],
            self.schema,
            self.provenance,
            kind=self.kind,
            positions=self._positions[idx],
        )

    def with_schema(self, schema: Schema) -> Self:
        return type(self)(
            self._loader, self.attributes, schema, self.provenance, kind=self.kind, positions=self._positions
        )
