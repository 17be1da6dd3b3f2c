"""The data layer: schemas, datasets of every modality, and their readers and writers."""

from medsyn.data.dataset import (
    Dataset,
    ImageDataset,
    Modality,
    Provenance,
    SignalDataset,
    SignalRecord,
    TabularDataset,
)
from medsyn.data.inference import infer_field, infer_schema
from medsyn.data.io import from_frame, read, write_table
from medsyn.data.schema import Field, FieldType, Role, Schema

__all__ = [
    "Dataset",
    "Field",
    "FieldType",
    "ImageDataset",
    "Modality",
    "Provenance",
    "Role",
    "Schema",
    "SignalDataset",
    "SignalRecord",
    "TabularDataset",
    "from_frame",
    "infer_field",
    "infer_schema",
    "read",
    "write_table",
]
