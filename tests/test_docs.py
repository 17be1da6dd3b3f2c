"""The documentation stays in step with the code."""

from __future__ import annotations

from pathlib import Path

from medsyn.data.io import READERS
from medsyn.metric import metrics_for

ROOT = Path(__file__).resolve().parents[1]


def test_every_check_is_documented_in_the_audit_guide() -> None:
    guide = (ROOT / "docs" / "audit.md").read_text(encoding="utf-8")
    missing = [cls.name for cls in metrics_for() if f"`{cls.name}`" not in guide]
    assert missing == []


def test_every_reader_is_documented_in_the_data_guide() -> None:
    guide = (ROOT / "docs" / "data.md").read_text(encoding="utf-8")
    assert [name for name in READERS.names() if f"`{name}`" not in guide] == []


def test_every_generator_is_documented_in_the_synthesis_guide() -> None:
    from medsyn.synth import GENERATORS

    guide = (ROOT / "docs" / "synthesis.md").read_text(encoding="utf-8")
    assert [name for name in GENERATORS.names() if f"`{name}`" not in guide] == []


def test_readme_starts_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.index("make demo") < readme.index("## Install")
    assert "make test" in readme
