"""`medsyn evaluate`: scorecard files, the release gate's exit code and reasons, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import shared
from tests.test_cli import medsyn

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("evaluate")
    data = pd.read_csv(shared("actg175_hiv_trial/ACTG175.csv"))
    order = np.random.default_rng(0).permutation(len(data))
    out = {"train": folder / "train.csv", "holdout": folder / "holdout.csv", "syn": folder / "syn.csv"}
    data.iloc[order[:800]].to_csv(out["train"], index=False)
    data.iloc[order[1400:]].to_csv(out["holdout"], index=False)
    data.iloc[order[800:1200]].to_csv(out["syn"], index=False)
    return out


def _run(files: dict[str, Path], out: Path, *extra: str):
    return medsyn(
        "evaluate", "--real", str(files["train"]), "--synthetic", str(files["syn"]), "--holdout",
        str(files["holdout"]), "--target", "cens", "-m", "tstr_utility", "-m", "augmentation_gain",
        "--bootstrap", "10", "-o", str(out), *extra,
    )  # fmt: skip


def test_writes_scorecard_and_passes_a_met_gate(files: dict[str, Path], tmp_path: Path) -> None:
    gate = tmp_path / "gate.yaml"
    gate.write_text("min_utility: 0.5\nmin_tstr_utility: 0.6\n")
    run = _run(files, tmp_path / "out", "--gate", str(gate))
    assert run.returncode == 0, run.stderr
    assert "Release gate passed" in run.stdout
    card = json.loads((tmp_path / "out" / "scorecard.json").read_text())
    assert card["gate"]["passed"] is True
    assert card["axes"]["utility"]["score"] > 0.5
    assert card["axes"]["fidelity"]["reason"] == "no metric of this axis was run"
    assert "Synthetic-data scorecard" in (tmp_path / "out" / "scorecard.html").read_text()


def test_failed_gate_exits_4_with_reasons(files: dict[str, Path], tmp_path: Path) -> None:
    gate = tmp_path / "gate.yaml"
    gate.write_text("min_tstr_utility: 1.5\nmax_membership_auc: 0.6\n")
    run = _run(files, tmp_path / "out", "--gate", str(gate))
    assert run.returncode == 4
    assert "Release gate failed" in run.stderr
    assert "min_tstr_utility" in run.stderr
    assert "max_membership_auc" in run.stderr  # not run → cannot be checked → fails
    assert (tmp_path / "out" / "scorecard.json").exists()


def test_bad_gate_key_fails_before_any_work(files: dict[str, Path], tmp_path: Path) -> None:
    gate = tmp_path / "gate.yaml"
    gate.write_text("max_exact_copy: 0\n")
    run = _run(files, tmp_path / "out", "--gate", str(gate))
    assert run.returncode == 2
    assert "max_exact_copy" in run.stderr
    assert not (tmp_path / "out").exists()


def test_mismatched_columns_are_a_clear_error(files: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "syn.csv"
    pd.read_csv(files["syn"]).drop(columns=["cd40"]).to_csv(bad, index=False)
    run = medsyn("evaluate", "--real", str(files["train"]), "--synthetic", str(bad), "-o", str(tmp_path / "o"))
    assert run.returncode == 2
    assert "cd40" in run.stderr


def test_missing_inputs_and_gate_key_list() -> None:
    run = medsyn("evaluate", "--real", "x.csv")
    assert run.returncode == 2
    listing = medsyn("evaluate", "--list-gate-keys")
    assert listing.returncode == 0
    assert "max_membership_auc" in listing.stdout
