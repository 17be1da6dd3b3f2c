"""Optional dependencies: import them when needed, or say which extra installs them."""

from __future__ import annotations

import importlib
from types import ModuleType

from medsyn.errors import MissingDependencyError

__all__ = ["require"]


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import an optional dependency or raise an error naming the extra that installs it.

    Examples
    --------
    >>> require("json", "core", "parsing").dumps([1])
    '[1]'
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(module, extra, purpose) from None
