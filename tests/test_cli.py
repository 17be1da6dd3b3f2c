"""The `medsyn` command: help everywhere, reports written, exit codes 2 (bad input) vs 1 (internal)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import shared

COMMANDS = [
    "inspect", "schema", "audit", "metrics", "formats", "demo",
    "init", "workspace", "catalog", "lineage", "records", "ledger",
]  # fmt: skip


def medsyn(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "medsyn.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_on_every_command(command: str | None) -> None:
    out = medsyn(*([command] if command else []), "--help")
    assert out.returncode == 0, out.stderr
    assert "Usage" in out.stdout


def test_inspect_and_schema_round_trip(tmp_path: Path) -> None:
    path = shared("actg175_hiv_trial/ACTG175.csv")
    out = medsyn("inspect", str(path))
    assert out.returncode == 0, out.stderr
    assert "pidnum" in out.stdout
    assert "identifier" in out.stdout
    for name in ("s.yaml", "s.json", "s.md"):
        done = medsyn("schema", str(path), "-o", str(tmp_path / name))
        assert done.returncode == 0, done.stderr
    schema = yaml.safe_load((tmp_path / "s.yaml").read_text())
    assert schema["fields"]["age"]["role"] == ["protected", "quasi_identifier"]
    assert json.loads((tmp_path / "s.json").read_text()) == schema
    assert "| pidnum | identifier | identifier |" in (tmp_path / "s.md").read_text()
    # the written file is accepted back as --schema after a person edits it
    schema["fields"]["cens"]["description"] = "1 = failure event"
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(schema))
    again = medsyn("schema", str(path), "--schema", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "t.yaml"))
    assert again.returncode == 0, again.stderr
    assert yaml.safe_load((tmp_path / "t.yaml").read_text())["fields"]["cens"]["description"] == "1 = failure event"


def test_audit_writes_both_reports(tmp_path: Path) -> None:
    path = shared("heart_disease_cleveland/heart_cleveland.csv")
    out = medsyn("audit", str(path), "-o", str(tmp_path / "rep"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "rep" / "report.html").stat().st_size > 1000
    data = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert data["subject"]["records"] == 303
    assert "report.html" in out.stdout


def test_fail_on_sets_exit_code_4(tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text("a,b\n" + "\n".join(f"{i},?" for i in range(30)) + "\n")
    assert medsyn("audit", str(csv), "-o", str(tmp_path / "r"), "-m", "missingness").returncode == 0
    assert (
        medsyn("audit", str(csv), "-o", str(tmp_path / "r"), "-m", "missingness", "--fail-on", "fail").returncode == 4
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["inspect", "/no/such/file.csv"], "does not exist"),
        (["audit", "{empty}"], "the file is empty"),
        (["audit", "{csv}", "-m", "missingnes"], "did you mean 'missingness'"),
        (["inspect", "{csv}", "--schema", "{badschema}"], "no such column"),
        (["schema", "{csv}", "-o", "{tmp}/s.txt"], "suffix '.txt'"),
        (["metrics", "--modality", "audio"], "modality 'audio'"),
        (["inspect"], "Missing argument"),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    (tmp_path / "bad.yaml").write_text("fields: {nope: {role: target}}\n")
    subs = {
        "{empty}": str(tmp_path / "empty.csv"),
        "{csv}": str(tmp_path / "t.csv"),
        "{badschema}": str(tmp_path / "bad.yaml"),
        "{tmp}": str(tmp_path),
    }
    real_args = [a.replace("{tmp}", str(tmp_path)) if "{tmp}" in a else subs.get(a, a) for a in args]
    out = medsyn(*real_args)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert message in " ".join((out.stderr + out.stdout).split())
    assert "Traceback" not in out.stderr


def test_internal_failure_exits_1_without_traceback(tmp_path: Path) -> None:
    code = (
        "import sys; import medsyn.cli as c; import medsyn._cli_common as common\n"
        "def boom(*a, **k): raise RuntimeError('kaput')\n"
        "common.read_input = boom\n"
        "sys.argv = ['medsyn', 'inspect', 'x.csv']\n"
        "c.main()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 1
    assert "internal error: RuntimeError: kaput" in out.stderr
    assert "Traceback" not in out.stderr


def test_metrics_lists_registered_checks() -> None:
    out = medsyn("metrics", "--modality", "tabular")
    assert out.returncode == 0
    assert "missingness" in out.stdout


def test_demo_audits_the_real_trial_table_shipped_with_lifelines(tmp_path: Path) -> None:
    out = medsyn("demo", "-o", str(tmp_path / "demo"))
    assert out.returncode == 0, out.stderr
    report = json.loads((tmp_path / "demo" / "audit" / "report.json").read_text())
    assert report["subject"]["records"] == 2139
    by_metric = {r["metric"]: r for r in report["results"]}
    assert by_metric["constant_columns"]["status"] == "warn", "ACTG 175's zprior is constant"
    assert "report.html" in out.stdout
    synthetic = pd.read_parquet(tmp_path / "demo" / "synth" / "synthetic_balanced.parquet")
    assert len(synthetic) == 2139
    shares = synthetic.groupby(["gender", "race"]).size() / len(synthetic)
    assert shares.round(2).tolist() == [0.25] * 4  # balanced over gender × race
    assert (tmp_path / "demo" / "synth" / "model" / "model.json").is_file()
    risk = json.loads((tmp_path / "demo" / "risk" / "risk.json").read_text())
    assert risk
    card = json.loads((tmp_path / "demo" / "evaluate" / "scorecard.json").read_text())
    assert card["subject"]["target"] == "cens"
    assert card["subject"]["holdout"]["records"] == 428  # 20 % of 2,139 patients kept back
    for axis in ("fidelity", "diversity", "privacy", "utility"):
        assert 0 <= card["axes"][axis]["score"] <= 1, axis
    assert {c["key"] for c in card["gate"]["checks"]} == {"max_exact_copies", "max_membership_auc", "min_fidelity"}
    assert card["errors"] == []
    assert "scorecard.html" in out.stdout
    # governance: the scientist's request on identifiable data refused, the rest on record
    assert "refused (exit 3)" in out.stdout
    assert "may not synth.fit 'actg175'" in out.stdout
    assert "verifies" in out.stdout
    assert "DOES NOT VERIFY" not in out.stdout
    assert "and 1 given checked" in out.stdout  # the signed head kept outside the workspace
    records = json.loads((tmp_path / "demo" / "governed" / "records" / "records.json").read_text())
    assert records["a_controller"]["name"] == "Demo Hospital"
    from medsyn.governance import Workspace

    ws = Workspace.open(tmp_path / "demo" / "workspace")
    assert ws.ledger.verify().ok
    kinds = sorted(e.entry.outcome for e in ws.ledger.entries())
    assert kinds.count("refused") == 1
    assert kinds.count("ok") >= 7
