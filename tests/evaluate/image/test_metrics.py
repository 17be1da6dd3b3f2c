"""The image metrics on real images: a disjoint real split scores near the ideal, corruptions lose
fidelity in order, a copy of the training images is flagged, mode collapse loses diversity.

Real data: PneumoniaMNIST chest X-rays (28 × 28 grey; no patient ids, so split at random) and
fundus photographs (split by patient, downscaled to 128 px for speed). "Synthetic" sets are a
disjoint real split, blurred / noised / colour-cast versions of it, a copy of the training
images, and one image repeated.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from medsyn.data import read
from medsyn.data.dataset import ImageDataset
from medsyn.evaluate import EvalInputs
from medsyn.evaluate.image import (
    FrechetDistance,
    ImageCoverage,
    ImageDensity,
    ImageMemorisation,
    ImagePrecision,
    ImageQualityShift,
    ImageRecall,
    KernelInceptionDistance,
    memorisation_pairs,
)
from medsyn.metric import MetricResult, Status
from tests.conftest import shared

pytestmark = pytest.mark.shared_data

N_BOOT = 10


def _metrics() -> list[FrechetDistance | KernelInceptionDistance | ImagePrecision | ImageMemorisation]:
    return [
        FrechetDistance(),
        KernelInceptionDistance(n_subsets=20),
        ImagePrecision(),
        ImageRecall(),
        ImageDensity(),
        ImageCoverage(),
        ImageMemorisation(),
    ]


def _blur(images: np.ndarray, sigma: float) -> np.ndarray:
    spatial = (0, sigma, sigma) + (0,) * (images.ndim - 3)
    return ndimage.gaussian_filter(images.astype(float), spatial).round().clip(0, 255).astype(np.uint8)


def _noise(images: np.ndarray, sigma: float) -> np.ndarray:
    noisy = images + np.random.default_rng(1).normal(0, sigma, images.shape)
    return noisy.round().clip(0, 255).astype(np.uint8)


def _evaluate(
    train: ImageDataset, variant: np.ndarray, holdout: ImageDataset | None, kind: str
) -> tuple[EvalInputs, dict[str, MetricResult]]:
    synthetic = ImageDataset.from_arrays(list(variant), kind=kind)
    inputs = EvalInputs.build(train, synthetic, holdout, n_bootstrap=N_BOOT)
    return inputs, {m.name: m.evaluate(inputs) for m in _metrics()}


# -- chest X-rays ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def xray() -> dict[str, np.ndarray]:
    images = np.load(shared("pneumoniamnist_balanced_subset/pneumoniamnist.npz"))["train_images"]
    idx = np.random.default_rng(0).permutation(len(images))
    train, holdout, split = images[idx[:80]], images[idx[80:160]], images[idx[160:240]]
    return {
        "train": train,
        "holdout": holdout,
        "split": split,
        "blur_mild": _blur(split, 0.7),
        "blur_strong": _blur(split, 1.5),
        "noise_mild": _noise(split, 8),
        "noise_strong": _noise(split, 20),
        "copy": train.copy(),
        "collapse": np.repeat(split[:1], 80, axis=0),
    }


@pytest.fixture(scope="module")
def xray_real(xray: dict[str, np.ndarray]) -> tuple[ImageDataset, ImageDataset]:
    """Training and holdout sets, one object each: decoded and encoded once for every evaluation."""
    return ImageDataset.from_arrays(list(xray["train"])), ImageDataset.from_arrays(list(xray["holdout"]))


@pytest.fixture(scope="module")
def xray_results(
    xray: dict[str, np.ndarray], xray_real: tuple[ImageDataset, ImageDataset]
) -> dict[str, tuple[EvalInputs, dict[str, MetricResult]]]:
    train, holdout = xray_real
    return {name: _evaluate(train, v, holdout, "image") for name, v in xray.items() if name not in ("train", "holdout")}


def test_disjoint_real_split_scores_near_the_ideal(xray_results: dict) -> None:
    _, r = xray_results["split"]
    fid = r["frechet_distance"]
    assert FrechetDistance().score(fid.value) > 0.7
    assert abs(r["kernel_inception_distance"].value) < 0.01
    for name in ("image_precision", "image_recall", "image_coverage"):
        assert r[name].value > 0.7, name
    assert 0.7 < r["image_density"].value < 1.4
    assert r["image_memorisation"].value == 0.0
    assert r["image_memorisation"].status is Status.PASS


def test_corruptions_lose_fidelity_in_the_expected_order(xray_results: dict) -> None:
    def value(variant: str, metric: str) -> float:
        return float(xray_results[variant][1][metric].value)

    for metric in ("frechet_distance", "kernel_inception_distance"):
        assert value("split", metric) < value("blur_mild", metric) < value("blur_strong", metric), metric
        assert value("split", metric) < value("noise_mild", metric) < value("noise_strong", metric), metric
    for variant in ("blur_mild", "blur_strong", "noise_mild", "noise_strong"):
        assert value(variant, "image_precision") < value("split", "image_precision") - 0.2, variant
        assert value(variant, "image_density") < value("split", "image_density"), variant


def test_a_copy_of_the_training_images_is_flagged_as_memorised(xray_results: dict) -> None:
    inputs, r = xray_results["copy"]
    memo = r["image_memorisation"]
    assert memo.value == 1.0
    assert memo.status is Status.FAIL
    assert "80 of 80 synthetic images" in memo.reason
    top = memo.items[0]
    assert top.value == pytest.approx(1.0)
    assert top.details["synthetic_index"] == top.details["train_index"]
    pairs = memorisation_pairs(inputs, top=5)
    assert [p.synthetic for p in pairs] == [p.train for p in pairs]
    assert all(p.flagged and p.ssim == pytest.approx(1.0) and p.distance == 0 for p in pairs)
    # the training set is reproduced exactly: feature-space fidelity is perfect, which is why memorisation is a metric
    assert r["frechet_distance"].value == pytest.approx(0.0, abs=1e-6)


def test_mode_collapse_loses_recall_and_coverage(xray_results: dict) -> None:
    _, r = xray_results["collapse"]
    _, ideal = xray_results["split"]
    assert r["image_recall"].value < 0.05
    assert r["image_coverage"].value < 0.1
    assert r["image_precision"].value > 0.9  # the repeated image is a real one
    assert r["frechet_distance"].value > 3 * ideal["frechet_distance"].value


def test_results_name_the_encoder_carry_intervals_and_serialise(xray_results: dict) -> None:
    for variant in ("split", "noise_mild"):
        for result in xray_results[variant][1].values():
            assert result.details["encoder"] == "offline"
            assert "offline" in result.reason
            assert result.ci is not None
            assert len(result.replicates) == N_BOOT
            json.dumps(result.to_dict(), allow_nan=False)
    fid = xray_results["split"][1]["frechet_distance"]
    assert fid.ci is not None
    assert fid.ci[0] <= fid.value <= fid.ci[1]  # replicates re-centred on the estimate
    assert fid.details["bootstrap_shift"] > 0  # resampling repeats images, which inflates FID


def test_memorisation_without_holdout_uses_ssim_only_and_says_so(
    xray: dict[str, np.ndarray], xray_real: tuple[ImageDataset, ImageDataset]
) -> None:
    train = xray_real[0]
    copies = np.concatenate([xray["train"][:10], xray["split"][:30]])
    inputs = EvalInputs.build(train, ImageDataset.from_arrays(list(copies)), n_bootstrap=N_BOOT)
    result = ImageMemorisation().evaluate(inputs)
    assert result.value == pytest.approx(10 / 40)
    assert "no holdout" in result.reason
    assert result.details["distance_threshold"] is None
    png = ImageMemorisation().figure(inputs, result)
    assert png is not None
    assert png.startswith(b"\x89PNG")


def test_scores_are_monotone_maps_to_the_unit_interval() -> None:
    for metric, values in (
        (FrechetDistance(), [0.0, 1.0, 10.0, 100.0]),
        (KernelInceptionDistance(), [-0.01, 0.0, 0.05, 1.0]),
        (ImageMemorisation(), [0.0, 0.01, 0.05, 1.0]),
    ):
        scores = [metric.score(v) for v in values]
        assert scores[0] == 1.0
        assert all(0 <= b <= a <= 1 for a, b in itertools.pairwise(scores))
    assert ImageDensity().score(1.0) == 1.0
    assert ImageDensity().score(0.5) == ImageDensity().score(1.5) == 0.5


# -- fundus photographs -----------------------------------------------------------------------------
def _downscaled(dataset: ImageDataset, positions: np.ndarray) -> np.ndarray:
    out = []
    for i in positions.tolist():
        im = Image.fromarray(dataset.image(i))
        im.draft("RGB", (256, 172))  # JPEG decoding at a quarter of the size: fast
        out.append(np.asarray(im.resize((128, 86), Image.Resampling.BILINEAR)))
    return np.stack(out)


@pytest.fixture(scope="module")
def fundus() -> dict[str, np.ndarray]:
    data = read(shared("fundus_dr_maculopathy_rahim"))
    patient = data.attributes["patient_id"].astype(str).to_numpy()
    chosen = np.random.default_rng(0).permutation(np.unique(patient))[:60]
    parts = [np.flatnonzero(np.isin(patient, chosen[k : k + 20])) for k in (0, 20, 40)]
    train, holdout, split = (_downscaled(data, p) for p in parts)
    tinted = (split * np.array([0.75, 1.0, 1.3])).round().clip(0, 255).astype(np.uint8)
    return {
        "train": train,
        "holdout": holdout,
        "split": split,
        "blur": _blur(split, 1.5),
        "noise": _noise(split, 12),
        "colour": tinted,
        "copy": train.copy(),
        "collapse": np.repeat(split[:1], len(split), axis=0),
    }


@pytest.fixture(scope="module")
def fundus_results(fundus: dict[str, np.ndarray]) -> dict[str, tuple[EvalInputs, dict[str, MetricResult]]]:
    train = ImageDataset.from_arrays(list(fundus["train"]), kind="fundus")
    holdout = ImageDataset.from_arrays(list(fundus["holdout"]), kind="fundus")
    return {
        name: _evaluate(train, v, holdout, "fundus") for name, v in fundus.items() if name not in ("train", "holdout")
    }


def test_fundus_split_by_patient_is_near_ideal_and_corruptions_are_not(fundus_results: dict) -> None:
    value: Callable[[str, str], float] = lambda v, m: float(fundus_results[v][1][m].value)  # noqa: E731
    assert value("split", "image_precision") > 0.7
    assert value("split", "image_coverage") > 0.7
    assert value("split", "image_memorisation") == 0.0
    for variant in ("blur", "noise", "colour", "collapse"):
        assert value(variant, "frechet_distance") > 2 * value("split", "frechet_distance"), variant
        assert value(variant, "kernel_inception_distance") > value("split", "kernel_inception_distance") + 0.005
    assert value("copy", "image_memorisation") == 1.0
    assert value("collapse", "image_recall") < 0.1
    assert value("collapse", "image_coverage") < 0.15


def test_quality_shift_finds_which_defect_the_generator_has(fundus_results: dict) -> None:
    def shift(variant: str) -> MetricResult:
        inputs, _ = fundus_results[variant]
        return ImageQualityShift().evaluate(inputs)

    split, blur, collapse = shift("split"), shift("blur"), shift("collapse")
    assert split.value <= 0.15
    by_check = {i.key: i for i in blur.items}
    assert by_check["sharpness"].value > 0.5  # many more synthetic images unsharp than real ones
    assert by_check["sharpness"].status is Status.FAIL
    assert blur.value >= by_check["sharpness"].value
    assert {i.key: i for i in collapse.items}["image_duplicates"].value > 0.9
    assert "fundus_gradability" in by_check
