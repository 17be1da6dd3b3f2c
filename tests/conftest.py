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


@pytest.fixture(autouse=True)
def _fresh_cli_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process CLI tests: one fixed, wide console width and a fresh governance session per test.

    Rich fixes a console's width from ``$COLUMNS`` when the console is made (at the first import
    of ``medsyn._cli_common``), so without this the width would depend on which test imported it first.
    """
    import sys

    common = sys.modules.get("medsyn._cli_common")
    if common is None:
        import medsyn._cli_common as common
    monkeypatch.setattr(common.console, "_width", 250)
    monkeypatch.setattr(common.err_console, "_width", 250)
    # sub-apps invoked on their own skip the root callback that resets the governance session:
    # start every test ungoverned, whatever workspace an earlier in-process command used
    for name in ("workspace", "purpose", "governor"):
        monkeypatch.setattr(common.SESSION, name, None)
