"""`medsyn evaluate --image-encoder`: the chosen encoder produces (and is named in) the image numbers;
unknown names, missing weights and misplaced options fail before any work. Nothing is downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from medsyn._evaluate_cli import evaluate_command
from medsyn.errors import DataFormatError, InputError, UnknownNameError

runner = CliRunner()
app = typer.Typer()
app.command()(evaluate_command)

FEATURE_METRICS = ["frechet_distance", "image_memorisation"]
#: Without a figure to draw: quicker for the runs that only check which encoder ran.
QUICK_METRICS = ["frechet_distance", "kernel_inception_distance"]


def _folder(path: Path, n: int, seed: int) -> Path:
    """``n`` small RGB PNGs: a bright disc on a noisy background, placed at random."""
    rng = np.random.default_rng(seed)
    path.mkdir()
    yy, xx = np.mgrid[:40, :40]
    for i in range(n):
        cy, cx = rng.integers(10, 30, 2)
        image = rng.normal(60, 15, (40, 40, 3))
        image[(yy - cy) ** 2 + (xx - cx) ** 2 < 64] += (120, 80, 30)
        Image.fromarray(image.clip(0, 255).astype(np.uint8)).save(path / f"img_{i:02d}.png")
    return path


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("images")
    return {"real": _folder(root / "real", 12, 0), "synthetic": _folder(root / "synthetic", 12, 1)}


def _invoke(images: dict[str, Path], out: Path, *extra: str, metrics: list[str] = QUICK_METRICS) -> object:
    args = ["--real", str(images["real"]), "--synthetic", str(images["synthetic"]), "-o", str(out)]
    for name in metrics:
        args += ["-m", name]
    return runner.invoke(app, [*args, "--bootstrap", "2", *extra])


def _encoders(out: Path) -> dict[str, object]:
    card = json.loads((out / "scorecard.json").read_text())
    results = card["results"] if isinstance(card["results"], list) else list(card["results"].values())
    return {r["metric"]: r["details"].get("encoder") for r in results}


def test_offline_encoder_is_named_in_every_feature_result(images: dict[str, Path], tmp_path: Path) -> None:
    result = _invoke(images, tmp_path / "out", "--image-encoder", "offline", metrics=FEATURE_METRICS)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "Image encoder: offline" in result.output  # type: ignore[attr-defined]
    assert _encoders(tmp_path / "out") == dict.fromkeys(FEATURE_METRICS, "offline")


def test_a_torchscript_model_on_disk_is_used(images: dict[str, Path], tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    model = torch.jit.script(torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten()))
    path = tmp_path / "pooled.pt"
    torch.jit.save(model, str(path))
    result = _invoke(images, tmp_path / "out", "--image-encoder", f"torchscript:{path}")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "torchscript:pooled (48-d features" in result.output  # type: ignore[attr-defined]
    assert _encoders(tmp_path / "out") == dict.fromkeys(QUICK_METRICS, "torchscript:pooled")


def test_an_unknown_encoder_name_suggests_one_and_writes_nothing(images: dict[str, Path], tmp_path: Path) -> None:
    result = _invoke(images, tmp_path / "out", "--image-encoder", "inception")
    assert isinstance(result.exception, UnknownNameError)  # type: ignore[attr-defined]
    assert "did you mean 'inception_v3'" in str(result.exception)  # type: ignore[attr-defined]
    assert not (tmp_path / "out").exists()


def test_missing_weights_and_model_files_fail_before_any_work(images: dict[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("torch")
    missing = tmp_path / "no_such_weights.pth"
    result = _invoke(images, tmp_path / "out", "--image-encoder", f"inception_v3:{missing}")
    error = result.exception  # type: ignore[attr-defined]
    assert isinstance(error, DataFormatError)
    assert str(missing) in str(error)
    assert "never downloads weights" in str(error)
    assert "--image-encoder inception_v3:PATH" in str(error)
    result = _invoke(images, tmp_path / "out", "--image-encoder", f"torchscript:{tmp_path / 'absent.pt'}")
    assert isinstance(result.exception, DataFormatError)  # type: ignore[attr-defined]
    assert "absent.pt: does not exist" in str(result.exception)  # type: ignore[attr-defined]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("spec", "message"),
    [("torchscript", "no model file"), ("offline:/x.pt", "takes none"), ("inception_v3:", "empty path")],
)
def test_malformed_specs_are_input_errors(images: dict[str, Path], tmp_path: Path, spec: str, message: str) -> None:
    result = _invoke(images, tmp_path / "out", "--image-encoder", spec)
    assert isinstance(result.exception, InputError)  # type: ignore[attr-defined]
    assert message in str(result.exception)  # type: ignore[attr-defined]
    assert f"image encoder '{spec}'" in str(result.exception)  # type: ignore[attr-defined]


def test_an_encoder_for_non_image_data_is_a_usage_error(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("age,sex\n" + "\n".join(f"{20 + i},{'FM'[i % 2]}" for i in range(30)) + "\n")
    result = runner.invoke(
        app, ["--real", str(table), "--synthetic", str(table), "-o", str(tmp_path / "o"), "--image-encoder", "offline"]
    )
    assert result.exit_code == 2
    assert "applies to image data" in result.output
    assert not (tmp_path / "o").exists()


def test_without_metric_names_every_image_feature_metric_gets_the_encoder(images: dict[str, Path]) -> None:
    from medsyn._evaluate_cli import _with_encoder
    from medsyn.data import read
    from medsyn.evaluate.image import ImageFeatureMetric, encoder_from_spec

    encoder = encoder_from_spec("offline")
    chosen = _with_encoder(read(images["real"]), None, encoder)
    built = [m for m in chosen if isinstance(m, ImageFeatureMetric)]
    assert {m.name for m in built} >= {"frechet_distance", "kernel_inception_distance", "image_memorisation"}
    assert all(m.encoder is encoder for m in built)
    assert "image_quality_shift" in chosen  # not a feature metric: run by name, as without the option
