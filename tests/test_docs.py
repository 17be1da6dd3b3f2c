"""The documentation stays in step with the code."""

from __future__ import annotations

from pathlib import Path

from medsyn.data.io import READERS
from medsyn.metric import MetricKind, metrics_for

ROOT = Path(__file__).resolve().parents[1]


def test_every_check_is_documented_in_the_audit_guide() -> None:
    guide = (ROOT / "docs" / "audit.md").read_text(encoding="utf-8")
    missing = [cls.name for cls in metrics_for(kind=MetricKind.QUALITY) if f"`{cls.name}`" not in guide]
    assert missing == []


def test_every_evaluation_metric_is_documented_in_the_evaluation_guide() -> None:
    guide = (ROOT / "docs" / "evaluation.md").read_text(encoding="utf-8")
    evaluation = [cls for cls in metrics_for() if cls.kind is not MetricKind.QUALITY]
    assert evaluation, "no evaluation metric registered"
    assert [cls.name for cls in evaluation if f"`{cls.name}`" not in guide] == []


def test_every_gate_key_example_in_the_guide_is_a_real_key() -> None:
    import re

    from medsyn.evaluate import gate_keys

    guide = (ROOT / "docs" / "evaluation.md").read_text(encoding="utf-8")
    keys = set(re.findall(r"^((?:max|min)_[a-z_]+|[a-z_]+_within_baseline):", guide, flags=re.M))
    assert keys
    assert keys <= set(gate_keys())


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


def test_every_policy_action_is_documented_in_the_governance_guide() -> None:
    from medsyn.governance._access import ACTIONS

    guide = (ROOT / "docs" / "governance.md").read_text(encoding="utf-8")
    assert [a for a in ACTIONS if f"`{a}`" not in guide] == []
