"""The governed command line end to end: init, register, a refusal, anonymise, synthesise, DP, lineage, ledger."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medsyn.cli import app
from medsyn.errors import MedsynError

STEWARD = {"MEDSYN_ROLE": "data_steward", "MEDSYN_USER": "sam"}
SCIENTIST = {"MEDSYN_ROLE": "data_scientist", "MEDSYN_TRAINING": "gdpr", "MEDSYN_USER": "ada"}


@pytest.fixture
def actg() -> Path:
    pytest.importorskip("lifelines")
    with resources.as_file(resources.files("lifelines.datasets").joinpath("ACTG175.csv")) as path:
        return Path(path)


def _run(args: list[str], env: dict[str, str], code: int = 0) -> str:
    """Run a command in-process; a medsyn error counts with its exit code, as ``medsyn.cli.main`` maps it."""
    result = CliRunner().invoke(app, args, env={"MEDSYN_WORKSPACE": "", "MEDSYN_PURPOSE": "", **env})
    exc = result.exception
    got = exc.exit_code if isinstance(exc, MedsynError) else result.exit_code
    assert got == code, (result.output, exc)
    return result.output + (str(exc) if isinstance(exc, MedsynError) else "")


def test_a_governed_session(tmp_path: Path, actg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    ws = tmp_path / "ws"
    out = _run(["init", str(ws), "--site", "st-mary", "--controller", "St Mary's", "--dpo", "dpo@example.org"], {})
    assert "created" in out
    assert (ws / "policies.yaml").is_file()
    g = ["--workspace", str(ws), "--purpose", "research"]
    _run(
        [*g, "catalog", "register", str(actg), "--name", "actg175", "--kind", "identifiable",
         "--legal-basis", "art6-1-e", "--legal-basis", "art9-2-j", "--allowed-purpose", "research",
         "--retention", "P10Y"],
        STEWARD,
    )  # fmt: skip
    # outside a purpose the policy declares: refused, exit 2
    bad = _run(["--workspace", str(ws), "--purpose", "marketing", "audit", "actg175"], STEWARD, code=2)
    assert "'marketing' is not declared" in bad
    # a scientist may not fit on identifiable data: refused, exit 3
    denied = _run([*g, "synth", "fit", "actg175", "-o", str(tmp_path / "m0")], SCIENTIST, code=3)
    assert "may not synth.fit" in denied
    assert not (tmp_path / "m0").exists()
    _run([*g, "anonymize", "actg175", "--k", "5", "-o", str(tmp_path / "anon")], STEWARD)
    anon = tmp_path / "anon" / "anonymized.csv"
    _run([*g, "synth", "fit", str(anon), "-o", str(tmp_path / "model")], SCIENTIST)
    _run([*g, "synth", "sample", str(tmp_path / "model"), "-n", "300", "-o", str(tmp_path / "syn.csv")], SCIENTIST)
    # DP: a budget, a release, then one that would exceed it (refused before it runs, exit 3)
    _run([*g, "dp", "budget", "actg175", "--epsilon", "1.0"], STEWARD)
    _run([*g, "dp", "count", "actg175", "--epsilon", "0.6"], STEWARD)
    over = _run([*g, "dp", "count", "actg175", "--epsilon", "0.6"], STEWARD, code=3)
    assert "budget" in over.lower()
    shown = _run([*g, "dp", "show", "actg175"], STEWARD)
    assert "0.4" in shown  # remaining ε
    listing = json.loads(_run([*g, "catalog", "list", "--json"], STEWARD))
    kinds = sorted(d["kind"] for d in listing)
    assert kinds == ["anonymised", "derived", "identifiable", "synthetic"]
    tree = _run([*g, "lineage", "actg175", "--down", "--prov", str(tmp_path / "prov.json")], STEWARD)
    assert "synth.sample" in tree
    assert "anonymize" in tree
    prov = json.loads((tmp_path / "prov.json").read_text())
    assert len(prov["entity"]) == 4  # actg175, anonymised, model, synthetic
    assert {a["medsyn:action"] for a in prov["activity"].values()} == {
        "anonymize",
        "synth.fit",
        "synth.sample",
        "dp.budget",
        "dp.release",
    }
    _run([*g, "records", "-o", str(tmp_path / "art30")], STEWARD)
    records = json.loads((tmp_path / "art30" / "records.json").read_text())
    assert records["a_controller"]["name"] == "St Mary's"
    info = _run([*g, "workspace", "info"], STEWARD)
    assert "data sets" in info
