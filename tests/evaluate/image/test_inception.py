"""The FID InceptionV3: pytorch-fid's layout and key names, the real loading path on a local file, clear errors.

No weights are downloaded: the loading path runs on a state dict of randomly initialised weights
saved under ``tmp_path``, with exactly the keys of pytorch-fid's FID weight file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medsyn.errors import DataFormatError

torch = pytest.importorskip("torch")

from medsyn.evaluate.image import InceptionEncoder, inception_weights_candidates  # noqa: E402
from medsyn.evaluate.image._inception import FID_WEIGHTS_FILE, FIDInceptionV3, load_inception  # noqa: E402


@pytest.fixture(scope="module")
def state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return FIDInceptionV3().state_dict()


@pytest.fixture(scope="module")
def weights(state: dict[str, torch.Tensor], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("weights") / "fid_inception_random.pth"
    # the FID file holds no batch-norm counters; the loader must accept that
    torch.save({k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}, path)
    return path


@pytest.fixture
def no_weights_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("MEDSYN_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.delenv("MEDSYN_CACHE_DIR", raising=False)


def test_layout_and_key_names_are_those_of_the_fid_weights(state: dict[str, torch.Tensor]) -> None:
    """torchvision's Inception3 without the auxiliary head, 1008 classes: 23,850,960 parameters, 94 conv blocks."""
    net = FIDInceptionV3()
    assert sum(p.numel() for p in net.parameters()) == 23_850_960
    assert sum(k.endswith("num_batches_tracked") for k in state) == 94
    shapes = {
        "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
        "Conv2d_4a_3x3.bn.running_var": (192,),
        "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
        "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3),
        "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
        "Mixed_7a.branch7x7x3_4.conv.weight": (192, 192, 3, 3),
        "Mixed_7c.branch3x3dbl_3b.bn.running_mean": (384,),
        "fc.weight": (1008, 2048),
    }
    for key, shape in shapes.items():
        assert tuple(state[key].shape) == shape, key
    assert not any(k.startswith("AuxLogits") for k in state)


def test_forward_gives_2048_features_small_twin() -> None:
    """The fast twin of the 299 × 299 test below: the smallest input the network takes, no resize."""
    net = FIDInceptionV3(resize_input=False).eval()
    with torch.inference_mode():
        out = net(torch.rand(1, 3, 75, 75))
    assert out.shape == (1, 2048)
    assert bool(torch.isfinite(out).all())
    assert bool((out >= 0).all())  # pool3 follows a ReLU


def test_weights_load_through_the_real_path(weights: Path, state: dict[str, torch.Tensor]) -> None:
    net = load_inception(weights)
    assert not net.training
    loaded = net.state_dict()
    for key in ("Conv2d_1a_3x3.conv.weight", "Mixed_7c.branch_pool.bn.running_var", "fc.bias"):
        assert torch.equal(loaded[key], state[key])


def test_weights_are_found_through_the_environment(
    weights: Path, no_weights_anywhere: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDSYN_INCEPTION_WEIGHTS", str(weights))
    enc = InceptionEncoder()
    assert enc.weights_path() == weights
    assert enc.describe().weights == str(weights)
    assert inception_weights_candidates()[0] == weights


def test_missing_weights_say_where_to_put_them_and_never_download(no_weights_anywhere: None) -> None:
    enc = InceptionEncoder()
    with pytest.raises(DataFormatError) as err:
        enc.encode([np.zeros((8, 8), np.uint8)])
    message = str(err.value)
    assert FID_WEIGHTS_FILE in message
    assert "MEDSYN_INCEPTION_WEIGHTS" in message
    assert "never downloads" in message
    assert "'offline'" in message
    assert enc.describe().weights == "missing"
    with pytest.raises(DataFormatError, match=r"absent\.pth"):
        InceptionEncoder(weights="/nowhere/absent.pth").weights_path()


def test_wrong_keys_and_shapes_are_named(state: dict[str, torch.Tensor], tmp_path: Path) -> None:
    broken = dict(state)
    broken["Mixed_5b.branch1x1.conv.weights"] = broken.pop("Mixed_5b.branch1x1.conv.weight")
    broken["AuxLogits.fc.weight"] = torch.zeros(1008, 768)
    broken["fc.weight"] = torch.zeros(1000, 2048)
    path = tmp_path / "torchvision_inception.pth"
    torch.save(broken, path)
    with pytest.raises(DataFormatError) as err:
        load_inception(path)
    message = str(err.value)
    assert "1 missing key(s): Mixed_5b.branch1x1.conv.weight" in message
    assert "2 unexpected key(s): AuxLogits.fc.weight, Mixed_5b.branch1x1.conv.weights" in message
    assert "fc.weight (1000, 2048) instead of (1008, 2048)" in message


def test_a_file_that_is_not_a_state_dict_or_not_the_fid_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.pth"
    torch.save([1, 2, 3], path)
    with pytest.raises(DataFormatError, match="a state dict of tensors"):
        load_inception(path)
    fake = tmp_path / FID_WEIGHTS_FILE
    fake.write_bytes(b"garbage")
    with pytest.raises(DataFormatError, match="SHA-256"):
        load_inception(fake)


@pytest.mark.slow
def test_inception_encoder_on_a_299_batch_gives_2048_features(weights: Path) -> None:
    rng = np.random.default_rng(0)
    images = [(rng.random((299, 299, 3)) * 255).astype(np.uint8) for _ in range(3)] + [rng.random((120, 90))]
    feats = InceptionEncoder(weights=weights).encode(images, batch_size=2)
    assert feats.shape == (4, 2048)
    assert feats.dtype == np.float32
    assert np.isfinite(feats).all()
