"""The :class:`Reader` contract and the registry that picks a reader for a path.

One reader per format. A reader *claims* a path (by suffix, or by what a folder holds) and
turns it into a :class:`~medsyn.data.dataset.Dataset`. Paths and file formats stop here: no
other package opens data files.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from medsyn._deps import require
from medsyn._registry import Registry
from medsyn.data.dataset import Dataset, Modality
from medsyn.errors import DataFormatError, Problem

__all__ = ["READERS", "Reader", "require"]


class Reader(ABC):
    """Reads one format into a Dataset.

    Subclasses set ``name``, ``modality``, ``suffixes`` (lower case, with the dot) and, for
    folder formats, override :meth:`claims`. Options are keyword-only ``__init__`` parameters.
    ``priority`` breaks ties when several readers claim a folder (higher wins).
    """

    name: ClassVar[str]
    modality: ClassVar[Modality]
    suffixes: ClassVar[tuple[str, ...]] = ()
    priority: ClassVar[int] = 0

    @classmethod
    def claims(cls, path: Path) -> bool:
        """Whether this reader can read ``path``; by default, a file with one of ``suffixes``."""
        return path.is_file() and "".join(path.suffixes[-1:]).lower() in cls.suffixes

    @abstractmethod
    def read(self, path: Path) -> Dataset:
        """Read ``path``; raise :class:`DataFormatError` naming the file and field on bad input."""


def _check_reader(name: str, cls: type[Reader]) -> None:
    for attr in ("name", "modality"):
        if not hasattr(cls, attr):
            raise TypeError(f"reader '{name}' must define class attribute '{attr}'")
    if cls.name != name:
        raise TypeError(f"reader registered as '{name}' but its name is '{cls.name}'")


READERS: Registry[type[Reader]] = Registry("reader", entry_point_group="medsyn.readers", check=_check_reader)


def claiming_reader(path: Path) -> type[Reader]:
    """The reader that claims ``path``, or a :class:`DataFormatError` listing what is supported."""
    candidates = [cls for _, cls in READERS.items() if cls.claims(path)]
    if not candidates and not path.exists():
        raise DataFormatError(Problem(str(path), "does not exist", "a file or folder of data"))
    if not candidates:
        suffixes = sorted({s for _, cls in READERS.items() for s in cls.suffixes})
        raise DataFormatError(
            Problem(
                str(path),
                "no reader recognises it" + (" (folder holds no known data files)" if path.is_dir() else ""),
                f"a file ending in one of {', '.join(suffixes)}, or a folder of WFDB/EDF/DICOM/image files",
                "Pass format=NAME (CLI: --format) to choose a reader: " + ", ".join(READERS.names()),
            )
        )
    return max(candidates, key=lambda cls: cls.priority)
