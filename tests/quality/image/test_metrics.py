"""Image quality metrics one by one: features, applicability, unreadable images, exports."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import medsyn.quality.image as image_quality
from medsyn.data import ImageDataset, read
from medsyn.errors import DataFormatError, Problem
from medsyn.metric import METRICS, Status, metrics_for
from medsyn.quality import audit
from medsyn.quality.image import (
    Colourfulness,
    Exposure,
    FeatureConfig,
    FundusFieldOfView,
    Sharpness,
    extract_features,
    features_for,
    perceptual_hash,
)
from medsyn.quality.image._duplicates import near_pairs
from tests.conftest import shared

NPZ = "pneumoniamnist_balanced_subset/pneumoniamnist.npz"

#: Every image quality check the package must register (also used by the fundus audit tests).
IMAGE_CHECKS = frozenset(
    {
        "brightness",
        "contrast",
        "sharpness",
        "exposure",
        "colourfulness",
        "image_noise",
        "image_resolution",
        "image_duplicates",
        "image_near_duplicates",
        "fundus_fov",
        "fundus_illumination",
        "fundus_gradability",
    }
)


def _fundus(i: int = 0) -> np.ndarray:
    files = sorted((shared("fundus_dr_maculopathy_rahim") / "images").glob("*.jpg"))
    return np.asarray(Image.open(files[i]))


def test_exports_match_the_package() -> None:
    public = {n for n in dir(image_quality) if not n.startswith("_")}
    assert set(image_quality.__all__) == public
    names = {cls.name for cls in metrics_for("image", "quality")}
    assert names >= IMAGE_CHECKS
    for name in names:
        assert METRICS.get(name).describe()  # every metric says what it measures and why


def test_features_of_a_flat_and_a_noisy_image() -> None:
    flat = extract_features(np.full((64, 80), 128, np.uint8), "flat")
    assert flat.laplacian_var == 0.0
    assert flat.tenengrad == 0.0
    assert flat.noise_sigma == 0.0
    assert flat.brightness == pytest.approx(128 / 255)
    rng = np.random.default_rng(0)
    ramp = np.linspace(60, 190, 256, dtype=np.float32)[None, :].repeat(256, axis=0)
    noisy = np.clip(ramp + rng.normal(0, 6, ramp.shape), 0, 255).round().astype(np.uint8)
    assert extract_features(noisy, "noisy").noise_sigma == pytest.approx(6, rel=0.1)  # Immerkær recovers σ


def test_features_of_a_real_fundus_photograph() -> None:
    f = extract_features(_fundus(0), "p001")
    assert f.ok
    assert f.fov_ok
    assert f.in_fov
    assert f.factor == 2
    assert (f.analysis_width, f.analysis_height) == (512, 342)
    assert 0.6 < f.fov_fraction < 0.75
    assert f.fov_circularity > 0.95
    assert 40 < f.colourfulness < 70
    assert 0.5 < f.illumination < 1
    assert f.laplacian_var / f.tenengrad > 0.02


def test_perceptual_hash_separates_copies_from_other_pictures() -> None:
    a, b = _fundus(0), _fundus(1)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=60)
    copy = np.asarray(Image.open(buf))

    def gray(x: np.ndarray) -> np.ndarray:
        return x.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)

    hashes = [perceptual_hash(gray(a)), perceptual_hash(gray(copy)), perceptual_hash(gray(b))]
    assert len(hashes[0]) == 32
    pairs = {(i, j): d for i, j, d in near_pairs(hashes, 256)}
    assert pairs[(0, 1)] <= 8
    assert pairs[(0, 2)] > 24


def test_features_are_the_same_with_one_or_two_threads() -> None:
    arrays = [_fundus(i) for i in range(4)]
    one = features_for(ImageDataset.from_arrays(arrays), FeatureConfig(workers=1))
    two = features_for(ImageDataset.from_arrays(arrays), FeatureConfig(workers=2))
    assert one == two


def test_an_unreadable_image_is_an_error_item_not_a_crash() -> None:
    arrays = [_fundus(i) for i in range(3)]

    def loader(i: int) -> np.ndarray:
        if i == 1:
            raise DataFormatError(Problem("broken.jpg", "cannot decode the image (image file is truncated)"))
        return arrays[i]

    attrs = pd.DataFrame({"file": ["a.jpg", "broken.jpg", "c.jpg"], "width": 1024, "height": 685, "channels": 3})
    res = audit(ImageDataset(loader, attrs, kind="fundus"))
    assert res.errors == ()
    sharp = res["sharpness"]
    item = next(i for i in sharp.items if i.key == "broken.jpg")
    assert item.status is Status.ERROR
    assert "truncated" in item.note
    assert "could not be read (broken.jpg)" in sharp.reason
    assert sharp.status.severity >= Status.WARN.severity
    assert sharp.details["unreadable"] == 1


def test_fundus_checks_skip_other_images_with_a_reason() -> None:
    xray = read(shared(NPZ)).select(range(40))
    res = audit(xray)
    assert res.errors == ()
    for name in ("fundus_fov", "fundus_illumination", "fundus_gradability", "colourfulness"):
        assert res[name].status is Status.SKIPPED
    assert "not fundus photographs" in res["fundus_gradability"].reason
    assert "no colour images" in res["colourfulness"].reason
    assert res["image_resolution"].value == 0.0  # 28 × 28 everywhere


def test_kind_fundus_forces_the_fov_check_on_grey_images() -> None:
    ds = ImageDataset.from_arrays([np.full((64, 64), 90, np.uint8)], kind="fundus")
    res = FundusFieldOfView().compute(ds)
    assert res.items[0].status is Status.FAIL
    assert "grey image" in res.items[0].note


def test_colour_photograph_without_colour_is_flagged() -> None:
    grey = np.repeat(_fundus(0)[..., 1:2], 3, axis=2)
    ds = ImageDataset.from_arrays([_fundus(1), grey])
    res = Colourfulness().compute(ds)
    assert [i.key for i in res.flagged()] == ["image_1"]
    assert "nearly grey" in res.flagged()[0].note


def test_exposure_is_not_judged_on_images_without_a_fixed_range() -> None:
    ct_like = np.linspace(-1000, 1000, 64 * 64, dtype=np.float32).reshape(64, 64)
    res = Exposure().compute(ImageDataset.from_arrays([ct_like]))
    assert res.items[0].status is Status.INFO
    assert "not judged" in res.items[0].note


def test_sharpness_flags_a_flat_image_and_skips_tiny_ones() -> None:
    ds = ImageDataset.from_arrays([np.full((64, 64), 7, np.uint8), np.eye(8, dtype=np.uint8) * 200])
    items = Sharpness().compute(ds).items
    assert items[0].status is Status.FAIL
    assert "flat" in items[0].note
    assert items[1].status is Status.INFO
    assert "too small" in items[1].note
