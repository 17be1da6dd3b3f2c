"""Image encoders: the offline features, pixel conversion, the TorchScript loader and the registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medsyn.errors import DataFormatError, InputError, UnknownNameError
from medsyn.evaluate.image import (
    ENCODERS,
    ImageEncoder,
    OfflineEncoder,
    TorchScriptEncoder,
    get_encoder,
    thumbnail,
    to_rgb8,
)
from medsyn.evaluate.image._offline import OFFLINE_BLOCKS


def _images(n: int, seed: int = 0, shape: tuple[int, ...] = (40, 52, 3)) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(rng.random(shape) * 255).astype(np.uint8) for _ in range(n)]


def test_registry_lists_the_three_encoders_and_suggests_names() -> None:
    assert {"offline", "inception_v3", "torchscript"} <= set(ENCODERS.names())
    with pytest.raises(UnknownNameError, match="did you mean 'offline'"):
        get_encoder("ofline")
    assert isinstance(get_encoder("offline"), ImageEncoder)


def test_offline_encoder_is_deterministic_and_sized_as_described() -> None:
    enc = OfflineEncoder()
    images = _images(5)
    a, b = enc.encode(images, batch_size=2), enc.encode(iter(images), batch_size=64)
    info = enc.describe()
    assert a.shape == (5, info.dim) == (5, sum(OFFLINE_BLOCKS))
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, b)  # batching does not change features
    assert np.isfinite(a).all()
    assert not info.semantic
    assert "not a semantic encoder" in info.method


def test_offline_encoder_encodes_thumbnails_like_the_originals() -> None:
    """The evaluation reuses its cached 128 × 128 thumbnails: same features as the full images."""
    enc = OfflineEncoder()
    images = _images(3, shape=(300, 210, 3))
    thumbs = [thumbnail(im) for im in images]
    np.testing.assert_array_equal(enc.encode(images), enc.encode(thumbs))
    assert enc.describe().from_thumbnails


def test_offline_features_separate_blur_noise_and_colour_from_the_original() -> None:
    rng = np.random.default_rng(1)
    base = np.zeros((128, 128, 3), np.uint8)
    yy, xx = np.mgrid[:128, :128]
    base[(yy - 64) ** 2 + (xx - 64) ** 2 < 50**2] = (200, 90, 40)
    base = np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)
    from scipy import ndimage

    blurred = ndimage.gaussian_filter(base.astype(float), (2, 2, 0)).astype(np.uint8)
    noisy = np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)
    tinted = np.clip(base * np.array([0.7, 1.0, 1.4]), 0, 255).astype(np.uint8)
    feats = OfflineEncoder().encode([base, base.copy(), blurred, noisy, tinted])
    assert np.linalg.norm(feats[0] - feats[1]) == 0
    assert min(np.linalg.norm(feats[0] - f) for f in feats[2:]) > 0.05


def test_grey_rgba_float_and_16_bit_images_are_converted_as_stated() -> None:
    grey = np.array([[0, 128], [255, 64]], np.uint8)
    rgb = to_rgb8(grey)
    assert rgb.shape == (2, 2, 3)
    assert (rgb[..., 0] == grey).all()
    assert (rgb[..., 2] == grey).all()
    rgba = np.dstack([rgb, np.zeros((2, 2), np.uint8)])
    assert (to_rgb8(rgba) == rgb).all()
    assert (to_rgb8(grey[..., None]) == rgb).all()
    assert to_rgb8(np.array([[0.0, 0.5, 1.0]]))[0, :, 0].tolist() == [0, 128, 255]
    assert to_rgb8(np.array([[-1.0, 0.0, 1.0]]))[0, :, 0].tolist() == [0, 128, 255]
    sixteen = np.array([[1000, 3000]], np.uint16)
    assert to_rgb8(sixteen)[0, :, 0].tolist() == [0, 255]
    # grey and the same picture stored as RGB give the same features
    enc = OfflineEncoder()
    picture = _images(1, shape=(50, 60))[0]
    np.testing.assert_array_equal(enc.encode([picture]), enc.encode([np.dstack([picture] * 3)]))


def test_encoding_nothing_is_an_error() -> None:
    with pytest.raises(InputError, match="none to encode"):
        OfflineEncoder().encode([])


class _TinyNet:
    """A scripted stand-in for a clinician's exported encoder."""

    @staticmethod
    def save(path: Path) -> None:
        torch = pytest.importorskip("torch")

        class Net(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.conv = torch.nn.Conv2d(3, 4, 3)

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return torch.nn.functional.adaptive_avg_pool2d(self.conv(x), 2)

        torch.manual_seed(0)
        torch.jit.save(torch.jit.script(Net().eval()), str(path))


# torch 2.13 deprecates TorchScript in favour of torch.export; exported encoders are still TorchScript files
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torchscript_encoder_loads_a_file_and_flattens_its_output(tmp_path: Path) -> None:
    path = tmp_path / "my_dino.pt"
    _TinyNet.save(path)
    enc = TorchScriptEncoder(path=path, input_size=32)
    feats = enc.encode(_images(3, shape=(40, 30)), batch_size=2)
    assert feats.shape == (3, 16)
    assert feats.dtype == np.float32
    info = enc.describe()
    assert info.name == "torchscript:my_dino"
    assert info.dim == 16
    assert info.weights == str(path)
    np.testing.assert_allclose(enc.encode(_images(3, shape=(40, 30))), feats, rtol=1e-6)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torchscript_encoder_names_a_missing_or_broken_file(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    with pytest.raises(DataFormatError, match="does not exist"):
        TorchScriptEncoder(path=tmp_path / "absent.pt").encode(_images(1))
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a model")
    with pytest.raises(DataFormatError, match=r"broken\.pt: cannot be loaded as TorchScript"):
        TorchScriptEncoder(path=broken).encode(_images(1))
