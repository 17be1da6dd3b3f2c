"""Type checks for generator parameters, shared so every generator rejects bad values alike."""

from __future__ import annotations

import numpy as np

__all__ = ["is_number", "is_whole"]


def is_whole(value: object) -> bool:
    """A whole number (``True``/``False`` are not)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    """A real number (``True``/``False`` are not)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
