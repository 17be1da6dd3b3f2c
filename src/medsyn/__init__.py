"""medsyn: trustworthy medical AI data — audit, protect, synthesise, evaluate, govern.

``import medsyn`` stays light: subpackages load on first use (``medsyn.data``, ``medsyn.quality``,
``medsyn.synth``, ``medsyn.privacy``, ``medsyn.report``), and heavy optional libraries load only
inside the functions that need them.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__version__ = "0.1.0"
__all__ = ["__version__", "data", "privacy", "quality", "read", "report", "synth"]

_SUBPACKAGES = frozenset({"data", "privacy", "quality", "report", "synth"})


def __getattr__(name: str) -> object:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"medsyn.{name}")
    if name == "read":
        module: ModuleType = importlib.import_module("medsyn.data")
        return module.read
    raise AttributeError(f"module 'medsyn' has no attribute '{name}'")
