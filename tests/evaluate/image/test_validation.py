"""Bad image inputs: unreadable images are errors naming the file; other sizes and channels are stated handling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medsyn.data import read
from medsyn.data.dataset import ImageDataset
from medsyn.errors import InputError
from medsyn.evaluate import EvalInputs
from medsyn.evaluate.image import FrechetDistance, ImagePrecision, ImageRecall
from medsyn.metric import Status


def _arrays(n: int, shape: tuple[int, ...] = (24, 24, 3), seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(rng.random(shape) * 255).astype(np.uint8) for _ in range(n)]


def _dataset(images: list[np.ndarray]) -> ImageDataset:
    return ImageDataset.from_arrays(images)


def test_unreadable_images_are_all_named_in_one_error(tmp_path: Path) -> None:
    folder = tmp_path / "real"
    folder.mkdir()
    for i, im in enumerate(_arrays(4)):
        Image.fromarray(im).save(folder / f"scan_{i}.png")
    real = read(folder)
    (folder / "scan_2.png").unlink()  # gone after the folder was read: fails when decoded
    bad = _arrays(4, seed=1)
    bad[1] = np.full((24, 24), np.nan)
    bad[3] = np.zeros((24, 24, 5), np.uint8)
    attributes = real.attributes.assign(file=[f"syn_{i}.png" for i in range(4)])
    with pytest.raises(InputError) as err:
        EvalInputs.build(real, ImageDataset.from_arrays(bad, attributes))
    message = str(err.value)
    assert "3 problems" in message
    assert "real image 'scan_2.png'" in message
    assert "does not exist" in message
    assert "synthetic image 'syn_1.png': 576 non-finite pixel value(s)" in message
    assert "synthetic image 'syn_3.png': 5 channels" in message


def test_fewer_than_two_images_is_an_error() -> None:
    with pytest.raises(InputError, match="at least 2 records"):
        EvalInputs.build(_dataset(_arrays(3)), _dataset(_arrays(1)))


def test_other_sizes_and_channels_are_notes_and_still_evaluated() -> None:
    real = _dataset(_arrays(12, shape=(40, 60, 3)))
    synthetic = _dataset(_arrays(6, shape=(32, 32), seed=2) + _arrays(6, shape=(50, 50, 4), seed=3))
    inputs = EvalInputs.build(real, synthetic, n_bootstrap=5)
    notes = {n.message.split(" (")[0]: n for n in inputs.notes}
    sizes = next(n for n in inputs.notes if "image sizes" in n.message)
    assert "real: 60×40" in sizes.message
    assert "not keeping the aspect ratio" in sizes.message
    assert sizes.severity == "warn"
    channels = next(n for n in inputs.notes if "grey and colour" in n.message)
    assert "real: 3; synthetic: 1/4" in channels.message
    assert "repeated into 3 channels" in channels.message
    assert len(notes) == 2
    result = FrechetDistance(n_bootstrap=5).evaluate(inputs)
    assert np.isfinite(result.value)


def test_same_sizes_give_no_notes() -> None:
    inputs = EvalInputs.build(_dataset(_arrays(5)), _dataset(_arrays(5, seed=4)))
    assert inputs.notes == []


def test_pixel_types_that_differ_are_a_note() -> None:
    floats = [im.astype(np.float32) / 255 for im in _arrays(5, seed=5)]
    inputs = EvalInputs.build(_dataset(_arrays(5)), _dataset(floats))
    (note,) = inputs.notes
    assert "pixel types differ (real: uint8; synthetic: float32)" in note.message


def test_metrics_are_registered_and_run_through_the_plain_compute() -> None:
    from medsyn.metric import MetricKind, metrics_for

    names = {cls.name for cls in metrics_for("image", MetricKind.FIDELITY)}
    assert {"frechet_distance", "kernel_inception_distance", "image_precision", "image_density"} <= names
    assert {"image_quality_shift"} <= names
    assert {cls.name for cls in metrics_for("image", MetricKind.DIVERSITY)} >= {"image_recall", "image_coverage"}
    assert "image_memorisation" in {cls.name for cls in metrics_for("image", MetricKind.PRIVACY)}
    real, synthetic = _dataset(_arrays(12)), _dataset(_arrays(12, seed=6))
    result = ImagePrecision().compute(real, synthetic)
    assert 0 <= result.value <= 1
    assert result.details["encoder"] == "offline"


def test_too_few_images_for_k_neighbours_is_a_skip_with_the_reason() -> None:
    inputs = EvalInputs.build(_dataset(_arrays(5)), _dataset(_arrays(4, seed=7)))
    result = ImageRecall().evaluate(inputs)
    assert result.status is Status.SKIPPED
    assert result.reason == "needs more than k=5 images on each side (real 5, synthetic 4)"
