"""Every public package lists its names in ``__all__`` and each one exists."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "medsyn",
    "medsyn.data",
    "medsyn.data.io",
    "medsyn.data.channels",
    "medsyn.quality",
    "medsyn.quality.tabular",
    "medsyn.quality.signal",
    "medsyn.quality.image",
    "medsyn.report",
    "medsyn.synth",
    "medsyn.synth.tabular",
    "medsyn.privacy",
    "medsyn.privacy.deid",
    "medsyn.evaluate",
    "medsyn.evaluate.tabular",
    "medsyn.evaluate.privacy",
    "medsyn.evaluate.utility",
    "medsyn.evaluate.signal",
    "medsyn.evaluate.image",
    "medsyn.data.conditions",
    "medsyn.data.constraints",
    "medsyn.metric",
    "medsyn.errors",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_lists_existing_public_names(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(exported) == len(set(exported)), "duplicates in __all__"
    for member in exported:
        assert not member.startswith("_") or member == "__version__"
        assert getattr(module, member) is not None


def test_import_medsyn_is_light() -> None:
    import subprocess
    import sys

    heavy = "{'matplotlib', 'sklearn', 'wfdb', 'pydicom', 'neurokit2', 'torch'}"
    code = f"import sys, medsyn; print(sorted({heavy} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
