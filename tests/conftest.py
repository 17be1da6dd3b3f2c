"""Shared fixtures: where the real data lives, and a skip with a reason when it does not."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

#: ``../shared/data`` beside the checkout (also in CI); MEDSYN_SHARED_DATA overrides it.
SHARED_DATA = Path(os.environ.get("MEDSYN_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def shared(relative: str) -> Path:
    """Path to a real data set under ``../shared/data``; skips the test with a reason when absent."""
    path = SHARED_DATA / relative
    if not (SHARED_DATA / relative.split("/")[0]).exists():
        pytest.skip(f"real data '{relative}' not found under {SHARED_DATA} (see ../shared/data/INDEX.md)")
    return path


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"{SHARED_DATA} is absent; real-data tests need ../shared/data beside the checkout")
    return SHARED_DATA
