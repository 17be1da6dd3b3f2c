"""Pluggable image encoders: images in, one feature vector per image out, named in every result.

The feature-space metrics (Fréchet distance, KID, precision/recall/density/coverage,
memorisation) compare synthetic and real images through an encoder. Three are registered in
:data:`ENCODERS`:

- ``offline`` (the default): hand-made colour, layout, gradient, texture, wavelet and
  random-filter statistics; no weights, no download, fast on a CPU; not semantic.
- ``inception_v3``: the FID network (pytorch-fid's InceptionV3 port, 2048-d pool3 features),
  from ``pt_inception-2015-12-05-6726825d.pth`` on disk. Looked for, in order: the ``weights``
  argument, ``$MEDSYN_INCEPTION_WEIGHTS``, ``$MEDSYN_CACHE_DIR/weights/``,
  ``~/.cache/medsyn/weights/`` and torch hub's checkpoint folder (where pytorch-fid leaves it).
  Never downloaded: when absent, the error says where to put the file.
- ``torchscript``: any TorchScript export on disk (a clinician's own DINO or RETFound model),
  with its declared input size and normalisation.

Images of any size and channel count are accepted: each encoder converts them to RGB (grey
repeated, alpha dropped; see :mod:`._pixels`) and resizes them to its square input size.
Numbers from different encoders are not comparable; :class:`EncoderInfo` says which produced them.

:func:`encoder_from_spec` builds one from a short text (``offline``, ``inception_v3:WEIGHTS``,
``torchscript:MODEL.pt``), as ``medsyn evaluate --image-encoder`` takes it, and
:func:`check_encoder` loads what it needs so that a missing file fails before any work.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from medsyn._deps import require
from medsyn._registry import Registry
from medsyn.errors import DataFormatError, InputError, Problem
from medsyn.evaluate.image._pixels import to_rgb8
from medsyn.metric import Detail

if TYPE_CHECKING:
    import torch

__all__ = [
    "ENCODERS",
    "EncoderInfo",
    "ImageEncoder",
    "InceptionEncoder",
    "TorchScriptEncoder",
    "batches",
    "check_encoder",
    "encoder_from_spec",
    "get_encoder",
    "inception_weights_candidates",
]

INCEPTION_ENV = "MEDSYN_INCEPTION_WEIGHTS"
CACHE_ENV = "MEDSYN_CACHE_DIR"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True, slots=True)
class EncoderInfo:
    """What produced a set of image features, for results and reports.

    ``blocks`` (offline encoder) lists feature-block sizes: the evaluation z-scores each feature
    on the real images and weighs each block by 1/√size; without blocks the features are used as
    the encoder gives them (as FID does). ``from_thumbnails`` says the encoder's own first step
    is the evaluation's 128 × 128 thumbnail, so it may encode the cached thumbnails instead of
    decoding the images again. ``fid_scale`` and ``kid_scale`` are the distances at which the
    FID and KID scores fall to 1/e.
    """

    name: str
    input_size: int
    dim: int
    method: str
    resize: str
    weights: str = ""
    semantic: bool = False
    from_thumbnails: bool = False
    blocks: tuple[int, ...] = ()
    fid_scale: float = 1.0
    kid_scale: float = 0.1

    def details(self) -> dict[str, Detail]:
        """The fields every image-feature result carries in its details."""
        return {
            "encoder": self.name,
            "encoder_dim": self.dim,
            "encoder_input": f"{self.input_size}×{self.input_size}",
            "encoder_weights": self.weights or "none",
            "encoder_semantic": self.semantic,
        }

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "input_size": self.input_size,
            "dim": self.dim,
            "method": self.method,
            "resize": self.resize,
            "weights": self.weights,
            "semantic": self.semantic,
            "from_thumbnails": self.from_thumbnails,
            "blocks": list(self.blocks),
            "fid_scale": self.fid_scale,
            "kid_scale": self.kid_scale,
        }


@runtime_checkable
class ImageEncoder(Protocol):
    """Images in, features out: ``encode`` returns one float32 row per image (n × d)."""

    name: str
    input_size: int

    def encode(self, images: Iterable[np.ndarray], *, batch_size: int = 32) -> np.ndarray:
        """Features of ``images`` (H × W or H × W × C arrays of any size), n × d float32."""
        ...

    def describe(self) -> EncoderInfo:
        """Name, input, feature size, weights and method, for the report."""
        ...


def _check_encoder(name: str, entry: Callable[..., ImageEncoder]) -> None:
    for attr in ("encode", "describe"):
        if not callable(getattr(entry, attr, None)):
            raise TypeError(f"image encoder '{name}' must define {attr}()")


#: Image encoders by name; ``get_encoder(name, **options)`` builds one.
ENCODERS: Registry[Callable[..., ImageEncoder]] = Registry(
    "image encoder", entry_point_group="medsyn.image_encoders", check=_check_encoder
)


def get_encoder(encoder: str | ImageEncoder, **options: Any) -> ImageEncoder:
    """An encoder by name (with its keyword options), or ``encoder`` itself when already one.

    Examples
    --------
    >>> get_encoder("offline").describe().dim
    361
    """
    if isinstance(encoder, str):
        return ENCODERS.get(encoder)(**options)
    return encoder


#: What the path after ``NAME:`` in an encoder spec means, per encoder that takes one.
SPEC_PATHS = {"inception_v3": "weights", "torchscript": "path"}


def encoder_from_spec(spec: str) -> ImageEncoder:
    """An encoder from ``NAME`` or ``NAME:PATH`` (the ``--image-encoder`` option).

    ``offline``; ``inception_v3`` (weights looked for as :func:`inception_weights_candidates`
    says) or ``inception_v3:WEIGHTS.pth``; ``torchscript:MODEL.pt``; any other registered name
    (plugins) without a path. Nothing is loaded here; see :func:`check_encoder`.

    Raises
    ------
    UnknownNameError
        ``NAME`` is not a registered encoder (with a suggestion).
    InputError
        A path is missing where one is needed, or given where none is taken.

    Examples
    --------
    >>> encoder_from_spec("torchscript:~/models/retfound.pt").name
    'torchscript:retfound'
    """
    name, has_path, path = (part.strip() for part in spec.partition(":"))
    factory = ENCODERS.get(name)  # an unknown name raises with a suggestion
    option = SPEC_PATHS.get(name)
    where = f"image encoder '{spec}'"
    if has_path and not path:
        raise InputError(Problem(where, "an empty path after ':'", f"{name}:PATH"))
    if option is None and path:
        takes = ", ".join(f"{n}:{what.upper()}" for n, what in SPEC_PATHS.items())
        raise InputError(Problem(where, f"a path for '{name}', which takes none", f"'{name}' alone (paths: {takes})"))
    if name == "torchscript" and not path:
        raise InputError(Problem(where, "no model file", "torchscript:PATH to a TorchScript export (torch.jit.save)"))
    if option is not None and path:
        return factory(**{option: Path(path).expanduser()})
    return factory()


def check_encoder(encoder: ImageEncoder) -> EncoderInfo:
    """Load what ``encoder`` needs (weights, a model file) now and describe it.

    Raises the encoder's own error (:class:`DataFormatError` naming the missing or unreadable
    file, :class:`MissingDependencyError` naming the extra) before any image is read.
    """
    load = getattr(encoder, "load", None)
    if callable(load):
        load()
    return encoder.describe()


def batches(images: Iterable[np.ndarray], size: int) -> Iterator[list[np.ndarray]]:
    """``images`` in lists of ``size`` (the last may be shorter)."""
    batch: list[np.ndarray] = []
    for image in images:
        batch.append(image)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _nothing_to_encode() -> InputError:
    return InputError(Problem("images", "none to encode (an empty dataset)", "at least one image"))


def _tensor01(image: np.ndarray) -> torch.Tensor:
    """1 × 3 × H × W float32 in [0, 1] (as torchvision's ``ToTensor`` of the RGB image)."""
    import torch

    rgb = torch.from_numpy(to_rgb8(image).copy())  # a writable copy: decoded arrays may be read-only
    return rgb.permute(2, 0, 1).unsqueeze(0).to(torch.float32).div_(255)


# -- InceptionV3 (FID) --------------------------------------------------------------------------
def inception_weights_candidates(weights: str | Path | None = None) -> list[Path]:
    """Where the FID Inception weights are looked for, in order (nothing is downloaded)."""
    from medsyn.evaluate.image._inception import FID_WEIGHTS_FILE

    if weights is not None:
        return [Path(weights).expanduser()]
    found: list[Path] = []
    if os.environ.get(INCEPTION_ENV):
        found.append(Path(os.environ[INCEPTION_ENV]).expanduser())
    if os.environ.get(CACHE_ENV):
        found.append(Path(os.environ[CACHE_ENV]).expanduser() / "weights" / FID_WEIGHTS_FILE)
    found.append(Path.home() / ".cache" / "medsyn" / "weights" / FID_WEIGHTS_FILE)
    torch_home = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")).expanduser()
    found.append(torch_home / "hub" / "checkpoints" / FID_WEIGHTS_FILE)
    return found


@ENCODERS.register("inception_v3")
class InceptionEncoder:
    """InceptionV3 pool3 features (2048-d) with pytorch-fid's FID weights, read from disk, never downloaded.

    Parameters
    ----------
    weights
        The weight file; default: the first of :func:`inception_weights_candidates` that exists.
    device
        Torch device (``"cpu"``, ``"cuda"``).

    Images are converted to RGB in [0, 1], resized to 299 × 299 (bilinear, ``align_corners=False``)
    and scaled to [−1, 1], as pytorch-fid does, so its FID values are reproduced.
    """

    name = "inception_v3"
    input_size = 299

    def __init__(self, *, weights: str | Path | None = None, device: str = "cpu") -> None:
        self.weights = weights
        self.device = device
        self._net: Any = None

    def weights_path(self) -> Path:
        """The weight file to load; :class:`DataFormatError` saying where to put it when there is none."""
        from medsyn.evaluate.image._inception import FID_WEIGHTS_FILE, FID_WEIGHTS_URL

        candidates = inception_weights_candidates(self.weights)
        for path in candidates:
            if path.is_file():
                return path
        where = ", ".join(str(p) for p in candidates)
        target = candidates[0] if self.weights is not None else Path.home() / ".cache" / "medsyn" / "weights"
        raise DataFormatError(
            Problem(
                "InceptionV3 weights",
                f"no file at {where}",
                f"pytorch-fid's FID weights ({FID_WEIGHTS_FILE}) on disk; medsyn never downloads weights",
                f"Download {FID_WEIGHTS_URL} once and put it in {target} (or pass weights=PATH, or "
                f"--image-encoder inception_v3:PATH on the command line, or set "
                f"{INCEPTION_ENV}=PATH). Without it, use the default encoder 'offline', which needs no weights",
            )
        )

    def load(self) -> Any:
        """The network with its weights (loaded once)."""
        if self._net is None:
            require("torch", "synth", "the InceptionV3 image encoder")
            from medsyn.evaluate.image._inception import load_inception

            self._net = load_inception(self.weights_path(), device=self.device)
        return self._net

    def encode(self, images: Iterable[np.ndarray], *, batch_size: int = 32) -> np.ndarray:
        """2048-d pool3 features, n × 2048 float32."""
        import torch
        import torch.nn.functional as F

        net = self.load()
        parts = []
        for batch in batches(images, batch_size):
            x = torch.cat(
                [F.interpolate(_tensor01(im), size=(299, 299), mode="bilinear", align_corners=False) for im in batch]
            )
            with torch.inference_mode():
                parts.append(net(x.to(self.device)).cpu().numpy().astype(np.float32))
        if not parts:
            raise _nothing_to_encode()
        return np.concatenate(parts)

    def describe(self) -> EncoderInfo:
        try:
            weights = str(self.weights_path())
        except DataFormatError:
            weights = "missing"
        return EncoderInfo(
            name=self.name,
            input_size=self.input_size,
            dim=2048,
            method="InceptionV3 pool3 features with pytorch-fid's FID weights (TensorFlow graph of 2015-12-05)",
            resize="bilinear to 299×299 (align_corners=False), scaled to [−1, 1], as pytorch-fid",
            weights=weights,
            semantic=True,
            fid_scale=50.0,
            kid_scale=0.05,
        )


# -- any TorchScript export ---------------------------------------------------------------------
@ENCODERS.register("torchscript")
class TorchScriptEncoder:
    """Any TorchScript encoder on disk (``torch.jit.save``): images in, its (flattened) output as features.

    Parameters
    ----------
    path
        The TorchScript file.
    input_size
        Square input side the model expects; images are resized to it (antialiased bilinear).
    mean, std
        Per-channel normalisation applied to RGB in [0, 1] (default: ImageNet's).
    name
        Name in results (default ``torchscript:<file stem>``).
    fid_scale, kid_scale
        FID and KID at which their scores fall to 1/e; set them to what an acceptable generator
        reaches with this encoder.
    device
        Torch device.
    """

    def __init__(
        self,
        *,
        path: str | Path,
        input_size: int = 224,
        mean: tuple[float, float, float] = IMAGENET_MEAN,
        std: tuple[float, float, float] = IMAGENET_STD,
        name: str | None = None,
        fid_scale: float = 1.0,
        kid_scale: float = 0.1,
        device: str = "cpu",
    ) -> None:
        self.path = Path(path)
        self.input_size = input_size
        self.mean = mean
        self.std = std
        self.name = name or f"torchscript:{self.path.stem}"
        self.fid_scale = fid_scale
        self.kid_scale = kid_scale
        self.device = device
        self._model: Any = None
        self._dim = 0

    def load(self) -> Any:
        """The scripted model in eval mode (loaded once); :class:`DataFormatError` naming the file otherwise."""
        if self._model is None:
            torch = require("torch", "synth", "a TorchScript image encoder")
            if not self.path.is_file():
                raise DataFormatError(Problem(str(self.path), "does not exist", "a TorchScript encoder file"))
            try:
                self._model = torch.jit.load(str(self.path), map_location=self.device).eval()
            except (RuntimeError, ValueError, OSError) as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise DataFormatError(
                    Problem(str(self.path), f"cannot be loaded as TorchScript ({first})", "a file from torch.jit.save")
                ) from None
        return self._model

    def _forward(self, batch: list[np.ndarray]) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        size = (self.input_size, self.input_size)
        x = torch.cat(
            [
                F.interpolate(_tensor01(im), size=size, mode="bilinear", align_corners=False, antialias=True)
                for im in batch
            ]
        )
        x = (x - torch.tensor(self.mean).view(1, 3, 1, 1)) / torch.tensor(self.std).view(1, 3, 1, 1)
        with torch.inference_mode():
            out = self.load()(x.to(self.device))
        if isinstance(out, (tuple, list)):
            out = out[0]
        if not isinstance(out, torch.Tensor):
            raise DataFormatError(Problem(str(self.path), f"returns a {type(out).__name__}", "a tensor of features"))
        return np.asarray(out.flatten(1).cpu().numpy(), dtype=np.float32)

    def encode(self, images: Iterable[np.ndarray], *, batch_size: int = 32) -> np.ndarray:
        """The model's outputs, flattened: n × d float32."""
        parts = [self._forward(batch) for batch in batches(images, batch_size)]
        if not parts:
            raise _nothing_to_encode()
        out = np.concatenate(parts)
        self._dim = int(out.shape[1])
        return out

    def describe(self) -> EncoderInfo:
        if not self._dim:
            self._dim = int(self._forward([np.zeros((self.input_size, self.input_size, 3), np.uint8)]).shape[1])
        return EncoderInfo(
            name=self.name,
            input_size=self.input_size,
            dim=self._dim,
            method=f"TorchScript encoder {self.path.name} (output flattened)",
            resize=f"antialiased bilinear to {self.input_size}×{self.input_size}, normalised by mean {self.mean}, "
            f"std {self.std}",
            weights=str(self.path),
            semantic=True,
            fid_scale=self.fid_scale,
            kid_scale=self.kid_scale,
        )
