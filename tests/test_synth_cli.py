"""`medsyn synth …`: fit → sample under conditions → augment, with clear errors and exit codes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import shared
from tests.test_cli import medsyn


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "model"
    data = shared("survival_sets_sksurv_lifelines/flchain.csv")
    run = medsyn("synth", "fit", str(data), "-g", "gaussian_copula", "-o", str(out), "--constraint", "lambda > 0")
    assert run.returncode == 0, run.stderr
    assert "fitted on 7,874 rows" in run.stdout
    return out


@pytest.mark.parametrize("command", ["generators", "fit", "sample", "augment"])
def test_help(command: str) -> None:
    out = medsyn("synth", command, "--help")
    assert out.returncode == 0, out.stderr
    assert "Usage" in out.stdout


def test_generators_lists_capabilities() -> None:
    out = medsyn("synth", "generators")
    assert out.returncode == 0, out.stderr
    assert "gaussian_copula" in out.stdout
    assert "native" in out.stdout


def test_sample_with_conditions(model: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.parquet"
    out = medsyn(
        "synth", "sample", str(model), "-n", "300", "-c", "sex=F", "-c", "age>=70", "-o", str(target), "--seed", "1"
    )
    assert out.returncode == 0, out.stderr
    table = pd.read_parquet(target)
    assert len(table) == 300
    assert (table.sex == "F").all()
    assert (table.age >= 70).all()


def test_sample_balanced_csv(model: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    out = medsyn("synth", "sample", str(model), "-n", "400", "-b", "death", "-o", str(target))
    assert out.returncode == 0, out.stderr
    assert pd.read_csv(target).death.value_counts().tolist() == [200, 200]


def test_augment_with_real_rows(model: Path, tmp_path: Path) -> None:
    target = tmp_path / "aug.parquet"
    data = shared("survival_sets_sksurv_lifelines/flchain.csv")
    out = medsyn(
        "synth", "augment", str(model), str(data), "--by", "death", "-o", str(target), "--with-real", "--seed", "0"
    )
    assert out.returncode == 0, out.stderr
    table = pd.read_parquet(target)
    assert table.death.value_counts().tolist() == [5705, 5705]
    assert "dead" in out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-c", "sex=X"], "never seen in training"),
        (["-c", "agee>3"], "did you mean 'age'"),
        (["-c", "age>>3"], "character"),
    ],
)
def test_bad_conditions_exit_2_and_write_nothing(model: Path, tmp_path: Path, args: list[str], message: str) -> None:
    target = tmp_path / "never.parquet"
    out = medsyn("synth", "sample", str(model), "-n", "10", *args, "-o", str(target))
    assert out.returncode == 2, out.stderr
    assert message in out.stderr
    assert not target.exists()


def test_fit_errors(tmp_path: Path) -> None:
    data = shared("survival_sets_sksurv_lifelines/flchain.csv")
    out = medsyn("synth", "fit", str(data), "-g", "gaussian_copula", "--epsilon", "1", "-o", str(tmp_path / "m"))
    assert out.returncode == 2
    assert "has no epsilon" in out.stderr
    out = medsyn("synth", "fit", str(data), "-g", "gausian_copula", "-o", str(tmp_path / "m"))
    assert out.returncode == 2
    assert "did you mean 'gaussian_copula'" in out.stderr
    out = medsyn("synth", "fit", str(data), "-g", "gaussian_copula", "-p", "quantile=5", "-o", str(tmp_path / "m"))
    assert out.returncode == 2
    assert "unknown parameter" in out.stderr
    out = medsyn("synth", "sample", str(tmp_path / "missing"), "-o", str(tmp_path / "x.csv"))
    assert out.returncode == 2
    assert "model.json" in out.stderr
    assert not (tmp_path / "m").exists()
