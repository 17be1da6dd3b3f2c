"""`medsyn pseudonymize`, `medsyn reidentify` and `medsyn dp …` through Typer's test runner."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner, Result

from medsyn._pseudonymize_cli import PASSPHRASE_ENV, REPORT_NAME, dp_app, pseudonymize, reidentify
from medsyn.errors import InputError, PolicyDenied, PrivacyBudgetExceeded
from medsyn.privacy import KEY_ENV_VAR, PrivacyBudget, SecretKey, load_key
from tests.conftest import shared

app = typer.Typer()
app.command("pseudonymize")(pseudonymize)
app.command("reidentify")(reidentify)
app.add_typer(dp_app, name="dp")

ENV = {PASSPHRASE_ENV: "correct horse battery staple", "COLUMNS": "200"}


def run(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], env={**ENV, **(env or {})})


@pytest.fixture
def clinic(tmp_path: Path) -> Path:
    path = tmp_path / "visits.csv"
    pd.DataFrame(
        {
            "patient_id": ["A1", "A2", "A1", "A3"],
            "admitted": ["2020-01-01", "2020-02-10", "2020-03-01", "2021-07-04"],
            "discharged": ["2020-01-05", "2020-02-12", "2020-03-11", "2021-07-05"],
            "note": [
                "Jane Doe seen, call 020 7946 0958 and mail jd@example.org for the results please",
                "Stable. Review by Dr Okonkwo on 12/02/2020 with the family present at the bedside",
                "MRN: 00998877 readmitted with chest pain radiating to the left arm since yesterday",
                "Discharged home, no complications; follow-up in clinic in two weeks as planned today",
            ],
            "age": [70, 81, 70, 45],
        }
    ).to_csv(path, index=False)
    return path


def test_pseudonymize_end_to_end_with_vault(clinic: Path, tmp_path: Path) -> None:
    names = tmp_path / "names.txt"
    names.write_text("Jane Doe\nOkonkwo\n")
    key, vault, out = tmp_path / "keys" / "site.key", tmp_path / "ids.vault", tmp_path / "out"
    result = run(
        "pseudonymize", clinic, "-o", out, "--key", key, "--new-key", "--column", "patient_id", "--prefix", "P-",
        "--date-shift-days", "30", "--patient-column", "patient_id", "--date-column", "admitted",
        "--date-column", "discharged", "--scrub-text", "note", "--names", names, "--vault", vault,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    table = pd.read_csv(out / "visits.csv")
    original = pd.read_csv(clinic)
    assert table["patient_id"].str.startswith("P-").all()
    assert table["patient_id"].iloc[0] == table["patient_id"].iloc[2]
    stay = pd.to_datetime(table["discharged"]) - pd.to_datetime(table["admitted"])
    assert stay.tolist() == (pd.to_datetime(original["discharged"]) - pd.to_datetime(original["admitted"])).tolist()
    notes = " ".join(table["note"])
    for secret in ("Jane", "7946", "jd@example.org", "Okonkwo", "12/02/2020", "00998877"):
        assert secret not in notes
    report = json.loads((out / REPORT_NAME).read_text())
    assert report["table"] == "visits.csv"
    assert report["key_fingerprint"] == load_key(key).fingerprint
    assert report["scrubbed"]["note"]["by_label"] == {"DATE": 1, "EMAIL": 1, "ID": 1, "NAME": 2, "PHONE": 1}
    assert "A1" not in json.dumps(report)
    # the same key on a second run gives the same pseudonyms (no new key, existing vault reopened)
    again = run("pseudonymize", clinic, "-o", tmp_path / "out2", "--key", key, "--prefix", "P-", "--vault", vault)
    assert again.exit_code == 0, again.output
    assert pd.read_csv(tmp_path / "out2" / "visits.csv")["patient_id"].tolist() == table["patient_id"].tolist()
    looked = run("reidentify", vault, table["patient_id"].iloc[1], "--purpose", "clinical follow-up")
    assert looked.exit_code == 0, looked.output
    assert "A2" in looked.output
    assert "clinical follow-up" in looked.output
    refused = run("reidentify", vault, "P-x", "--purpose", "audit", env={PASSPHRASE_ENV: "wrong passphrase"})
    assert isinstance(refused.exception, PolicyDenied)


def test_key_from_the_environment(clinic: Path, tmp_path: Path) -> None:
    key = SecretKey(bytes(range(32)))
    result = run("pseudonymize", clinic, "-o", tmp_path / "out", env={KEY_ENV_VAR: key.to_text()})
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / REPORT_NAME).read_text())
    assert report["key_fingerprint"] == key.fingerprint
    assert set(report["pseudonymized"]) == {"patient_id"}


@pytest.mark.parametrize("content", [b"", b"short", b"\n"])
def test_bad_key_file_writes_nothing(clinic: Path, tmp_path: Path, content: bytes) -> None:
    key = tmp_path / "empty.key"
    key.write_bytes(content)
    key.chmod(0o600)
    out, vault = tmp_path / "out", tmp_path / "ids.vault"
    result = run("pseudonymize", clinic, "-o", out, "--key", key, "--vault", vault)
    assert isinstance(result.exception, InputError)
    assert str(key) in str(result.exception)
    assert not out.exists()
    assert not vault.exists()
    assert key.read_bytes() == content


def test_bad_options_are_collected_and_nothing_is_written(clinic: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = run(
        "pseudonymize", clinic, "-o", out, "--key", out / "k.key", "--new-key", "--keep-weekday",
        "--pattern", "nolabel",
    )  # fmt: skip
    error = result.exception
    assert isinstance(error, InputError)
    text = str(error)
    for part in ("not empty", "inside the output folder", "--date-shift-days", "LABEL=REGEX"):
        assert part in text
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    unknown = run("pseudonymize", clinic, "-o", tmp_path / "o2", "--key", tmp_path / "k.key", "--new-key", "-c", "x")
    assert isinstance(unknown.exception, InputError)
    assert not (tmp_path / "k.key").exists()  # the new key is not written when the run fails
    assert not (tmp_path / "o2").exists()


@pytest.mark.shared_data
def test_dp_commands_on_real_data(tmp_path: Path) -> None:
    data = shared("actg175_hiv_trial/ACTG175.csv")
    budget = tmp_path / "actg.budget.json"
    created = run("dp", "budget", data, "-o", budget, "--epsilon", "1.0", "--delta", "1e-6")
    assert created.exit_code == 0, created.output
    count = run("dp", "count", data, "-b", budget, "-e", "0.2", "--where", "gender == 0", "-o", tmp_path / "r.json")
    assert count.exit_code == 0, count.output
    release = json.loads((tmp_path / "r.json").read_text())
    assert abs(release["values"]["count"] - 368) < 60
    steps = [
        ("histogram", "--column", "race"),
        ("mean", "--column", "age", "--bounds", "0", "100"),
        ("quantile", "--column", "age", "-q", "0.5", "--bounds", "0", "100"),
    ]
    for step in steps:
        out = run("dp", *step, data, "-b", budget, "-e", "0.2")
        assert out.exit_code == 0, out.output
    gaussian = run("dp", "count", data, "-b", budget, "-e", "0.1", "--mechanism", "gaussian", "--delta", "1e-7")
    assert gaussian.exit_code == 0, gaussian.output
    stored = PrivacyBudget.load(budget)
    assert stored.spent_epsilon == pytest.approx(0.9)
    refused = run("dp", "mean", data, "--column", "age", "-b", budget, "-e", "0.2", "--bounds", "0", "100")
    assert isinstance(refused.exception, PrivacyBudgetExceeded)
    assert PrivacyBudget.load(budget).spent_epsilon == pytest.approx(0.9)  # nothing charged
    shown = run("dp", "show", budget)
    assert "histogram over 2 categories of 'race'" in shown.output
    other = tmp_path / "other.csv"
    pd.read_csv(data).head(100).to_csv(other, index=False)
    wrong = run("dp", "count", other, "-b", budget, "-e", "0.05")
    assert isinstance(wrong.exception, InputError)
    again = run("dp", "budget", data, "-o", budget, "--epsilon", "5")
    assert isinstance(again.exception, InputError)
