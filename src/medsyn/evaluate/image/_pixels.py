"""Pixels for the image evaluation: one decoding pass per dataset, RGB conversion and thumbnails.

Every image metric compares images of possibly different sizes, channel counts and bit depths, so
they all go through the same stated conversion (:func:`to_rgb8`):

- grey (H × W or H × W × 1) is repeated into three channels; grey + alpha keeps the grey; RGBA
  drops the alpha; more than four channels is an error;
- ``uint8`` is used as it is; ``bool`` becomes 0/255; floats in [0, 1] are scaled by 255, floats
  in [−1, 1] (a generator's tanh output) are mapped to [0, 255], floats already in [0, 255] are
  rounded; any other range (16-bit DICOM, Hounsfield units) is stretched from its own minimum and
  maximum, per image, as the audit does.

Each encoder then resizes the RGB image to its own square input (aspect ratio not kept, as
pytorch-fid does).

:func:`pixel_pass` decodes every image of a dataset once (two threads: PIL decoding and numpy
release the GIL), checks it, records its size and channels, and keeps a 128 × 128 RGB
:func:`thumbnail` (48 KB per image), once per dataset object. The evaluation's validator runs
it, so an unreadable image is an input error naming the file before any metric runs, and the
thumbnails serve the offline encoder and the SSIM comparison of the memorisation metric without
decoding the images again.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from medsyn.data.dataset import ImageDataset
from medsyn.errors import MedsynError
from medsyn.evaluate._inputs import EvalInputs, Side
from medsyn.quality.image._features import image_keys

__all__ = [
    "SSIM_SIDE",
    "THUMB_SIDE",
    "PixelPass",
    "grey_thumbnails",
    "image_pixels",
    "pixel_pass",
    "thumbnail",
    "to_rgb8",
]

#: Side of the thumbnail kept per image by the decoding pass (and the offline encoder's input).
THUMB_SIDE = 128
#: Side of the grey images SSIM compares.
SSIM_SIDE = 64

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _to_uint8(a: np.ndarray) -> np.ndarray:
    """Pixels on the 0–255 scale as uint8, by the rules in the module docstring."""
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * np.uint8(255)
    x = a.astype(np.float64)
    lo, hi = float(x.min()), float(x.max())
    if a.dtype.kind == "f" and lo >= 0.0 and hi <= 1.0:
        x = x * 255.0
    elif a.dtype.kind == "f" and lo >= -1.0 and hi <= 1.0:
        x = (x + 1.0) * 127.5
    elif not (lo >= 0.0 and hi <= 255.0):
        x = (x - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(x)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """An image as H × W × 3 uint8 RGB (grey repeated, alpha dropped, other depths scaled).

    Parameters
    ----------
    image
        H × W or H × W × C (C ≤ 4), any numeric dtype, finite values.

    Returns
    -------
    numpy.ndarray
        H × W × 3 uint8.

    Examples
    --------
    >>> to_rgb8(np.array([[0.0, 1.0]])).tolist()
    [[[0, 0, 0], [255, 255, 255]]]
    """
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] in (1, 2):
        a = a[..., 0]
    elif a.ndim == 3 and a.shape[2] == 4:
        a = a[..., :3]
    a = _to_uint8(a)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    return np.ascontiguousarray(a)


def thumbnail(image: np.ndarray, size: int = THUMB_SIDE) -> np.ndarray:
    """``size`` × ``size`` × 3 uint8 RGB: :func:`to_rgb8`, then PIL's antialiased bilinear resize.

    A uint8 RGB image already of that size is returned unchanged, so thumbnails of thumbnails
    are the thumbnails themselves.
    """
    from PIL import Image

    rgb = to_rgb8(image)
    if rgb.shape[:2] == (size, size):
        return rgb
    resized = Image.fromarray(rgb, "RGB").resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(resized)


def grey_thumbnails(thumbs: np.ndarray, size: int = SSIM_SIDE) -> np.ndarray:
    """Luminance (0–1, float64) of a stack of square RGB thumbnails, block-averaged to ``size``."""
    grey = thumbs.astype(np.float32) @ _LUMA / np.float32(255)
    side = grey.shape[1]
    if side % size == 0:
        f = side // size
        return np.asarray(grey.reshape(len(grey), size, f, size, f).mean(axis=(2, 4), dtype=np.float64))
    from PIL import Image

    return np.stack(
        [np.asarray(Image.fromarray(g, "F").resize((size, size), Image.Resampling.BILINEAR)) for g in grey]
    ).astype(np.float64)


@dataclass(frozen=True, slots=True)
class PixelPass:
    """What one decoding pass over a dataset found: thumbnails, sizes, channels and unreadable images.

    ``thumbnails`` is n × 128 × 128 × 3 uint8 (zeros for an unreadable image); ``errors`` lists
    ``(position, file, why)`` for every image that could not be used.
    """

    keys: tuple[str, ...]
    thumbnails: np.ndarray
    heights: np.ndarray
    widths: np.ndarray
    channels: np.ndarray
    dtypes: tuple[str, ...]
    errors: tuple[tuple[int, str, str], ...]

    def __len__(self) -> int:
        return len(self.keys)

    def sizes(self) -> list[tuple[int, int]]:
        """Distinct (width, height) of the readable images, most common first."""
        ok = self.heights > 0
        pairs, counts = np.unique(np.stack([self.widths[ok], self.heights[ok]], axis=1), axis=0, return_counts=True)
        order = np.argsort(-counts, kind="stable")
        return [(int(pairs[i, 0]), int(pairs[i, 1])) for i in order]


def check_array(image: np.ndarray) -> str | None:
    """Why an array cannot be evaluated as an image (``None`` when it can)."""
    a = np.asarray(image)
    if a.ndim not in (2, 3) or min(a.shape[:2], default=0) < 2:
        return f"not an image array (shape {a.shape}); expected H × W or H × W × C with both sides ≥ 2"
    if a.ndim == 3 and not 1 <= a.shape[2] <= 4:
        return f"{a.shape[2]} channels; expected 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA)"
    if a.dtype.kind not in "uifb":
        return f"pixels of dtype {a.dtype}; expected numbers"
    if a.dtype.kind == "f":
        bad = int(np.count_nonzero(~np.isfinite(a)))
        if bad:
            return f"{bad} non-finite pixel value(s) (NaN or infinite)"
    return None


def _one(dataset: ImageDataset, i: int) -> tuple[np.ndarray | None, tuple[int, int, int], str, str | None]:
    try:
        image = np.asarray(dataset.image(i))
    except MedsynError as exc:
        return None, (0, 0, 0), "", str(exc)
    except (OSError, ValueError, MemoryError, IndexError, KeyError) as exc:
        return None, (0, 0, 0), "", f"cannot load ({type(exc).__name__}: {exc})"
    why = check_array(image)
    if why is not None:
        return None, (0, 0, 0), str(image.dtype), why
    channels = 1 if image.ndim == 2 else int(image.shape[2])
    return thumbnail(image), (int(image.shape[0]), int(image.shape[1]), channels), str(image.dtype), None


def pixel_pass(dataset: ImageDataset, *, workers: int = 2) -> PixelPass:
    """Decode every image once: thumbnails, sizes and channels, and the images that cannot be used.

    Parameters
    ----------
    dataset
        The images.
    workers
        Threads decoding in parallel.

    Returns
    -------
    PixelPass
        One entry per image, in dataset order.
    """
    n = len(dataset)
    keys = tuple(image_keys(dataset))
    indices: Sequence[int] = range(n)
    if workers > 1 and n > 1:
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="medsyn-eval-image")
        try:
            found = list(pool.map(lambda i: _one(dataset, i), indices))
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
    else:
        found = [_one(dataset, i) for i in indices]
    thumbs = np.zeros((n, THUMB_SIDE, THUMB_SIDE, 3), dtype=np.uint8)
    shape = np.zeros((n, 3), dtype=np.int64)
    errors = []
    for i, (thumb, hwc, _, error) in enumerate(found):
        if error is not None or thumb is None:
            errors.append((i, keys[i], error or "unreadable"))
            continue
        thumbs[i] = thumb
        shape[i] = hwc
    dtypes = tuple(sorted({d for _, _, d, e in found if e is None}))
    return PixelPass(keys, thumbs, shape[:, 0], shape[:, 1], shape[:, 2], dtypes, tuple(errors))


#: Decoding passes per dataset object: evaluating several synthetic sets against one training set
#: decodes the training images once (datasets are immutable; the entry goes with the dataset).
_PASSES: weakref.WeakKeyDictionary[ImageDataset, PixelPass] = weakref.WeakKeyDictionary()


def image_pixels(inputs: EvalInputs, side: Side) -> PixelPass:
    """The decoding pass of one side of an evaluation, done once per dataset and shared by every image metric."""
    data = inputs.data(side)
    if not isinstance(data, ImageDataset):
        raise TypeError(f"the {side} data is not an image dataset")

    def compute() -> PixelPass:
        found = _PASSES.get(data)
        if found is None:
            found = _PASSES[data] = pixel_pass(data)
        return found

    return inputs.memo(("image-pixels", side), compute)
