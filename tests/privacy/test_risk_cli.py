"""``medsyn risk``: the command on its own Typer app (the main CLI registers the same function)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from medsyn._risk_cli import EXIT_FINDINGS, demo_risk, risk_app
from medsyn.errors import InputError
from tests.conftest import shared

runner = CliRunner()


def _csv(tmp_path: Path, *, unique: bool = False, name: str = "visits.csv") -> Path:
    rng = np.random.default_rng(5)
    n = 300
    df = pd.DataFrame(
        {
            "sex": rng.choice(["F", "M"], n),
            "age_band": rng.choice(["40-49", "50-59", "60-69"], n),
            "dx": rng.choice(["a", "b", "c"], n),
            "visit_no": np.arange(n) if unique else rng.integers(0, 3, n),
        }
    )
    path = tmp_path / name
    df.to_csv(path, index=False)
    return path


def test_risk_writes_the_report_and_prints_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = runner.invoke(
        risk_app, [str(_csv(tmp_path)), "--qi", "sex,age_band", "--sensitive", "dx", "-k", "5", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "k-anonymity" in result.output
    assert "Overall" in result.output
    data = json.loads((out / "risk.json").read_text())
    assert data["quasi_identifiers"] == ["sex", "age_band"]
    assert data["limits"]["k"] == 5
    assert (out / "risk.html").read_text().startswith("<!")


def test_repeated_options_and_a_schema_file(tmp_path: Path) -> None:
    schema = tmp_path / "s.yaml"
    schema.write_text(
        "fields:\n  sex: {role: quasi_identifier}\n  age_band: {role: quasi_identifier}\n  dx: {role: sensitive}\n"
    )
    out = tmp_path / "r"
    result = runner.invoke(risk_app, [str(_csv(tmp_path)), "--schema", str(schema), "-o", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "risk.json").read_text())
    assert data["quasi_identifiers"] == ["sex", "age_band"]
    assert data["sensitive"] == ["dx"]
    result = runner.invoke(risk_app, [str(_csv(tmp_path)), "--qi", "sex", "--qi", "dx", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "risk.json").read_text())["quasi_identifiers"] == ["sex", "dx"]


def test_fail_on_gives_exit_code_4(tmp_path: Path) -> None:
    args = [str(_csv(tmp_path, unique=True)), "--qi", "sex,visit_no", "-o", str(tmp_path / "r"), "--fail-on", "fail"]
    result = runner.invoke(risk_app, args)
    assert result.exit_code == EXIT_FINDINGS
    assert "fail" in result.output


def test_population_table(tmp_path: Path) -> None:
    population = _csv(tmp_path, name="population.csv")
    sample = tmp_path / "sample.csv"
    pd.read_csv(population).sample(n=100, random_state=0).to_csv(sample, index=False)
    out = tmp_path / "r"
    result = runner.invoke(
        risk_app, [str(sample), "--qi", "sex,age_band", "--population", str(population), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads((out / "risk.json").read_text())
    assert data["k_map"]["k"] >= data["k_anonymity"]["k"]
    assert data["population_uniqueness"]["basis"] == "population table"


def test_bad_input_is_one_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "never"
    result = runner.invoke(risk_app, [str(_csv(tmp_path)), "--qi", "sexx,age_band", "-k", "5000", "-o", str(out)])
    assert result.exit_code != 0
    assert isinstance(result.exception, InputError)
    text = str(result.exception)
    assert "'sexx'" in text
    assert "'sex'" in text
    assert "larger than the data" in text
    assert not out.exists()


@pytest.mark.shared_data
def test_demo_risk_on_the_real_demo_table(tmp_path: Path) -> None:
    report = demo_risk(shared("actg175_hiv_trial/ACTG175.csv"), tmp_path / "risk")
    assert set(report.quasi_identifiers) >= {"age", "race", "gender"}
    assert report.k_anonymity.k == 1  # raw weights in kg make almost every patient unique
    assert (tmp_path / "risk" / "risk.html").exists()
    assert {f.column for f in report.hipaa.findings} >= {"pidnum"}
