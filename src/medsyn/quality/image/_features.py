"""One pass per image: every per-image quality feature, computed once and shared by all image metrics.

Each image is decoded once, converted once to a luminance array at an *analysis size* (block
mean down to at most ``max_side`` pixels on the long side), and every measurement —
brightness, contrast, Laplacian and Tenengrad sharpness, exposure, colourfulness, noise, the
content hash, the perceptual hash and, for colour images, the fundus field of view and its
illumination — is read off that one array. The records are cached per dataset object, so an
audit that runs ten image metrics decodes each image once. Images are processed by a small
thread pool: PIL decoding and numpy release the GIL.

For colour fundus photographs the black surround would dominate every statistic, so when an
image's bright region is a (possibly clipped) disc, statistics are taken inside that field of
view, shrunk to 90 % of its radius to keep the rim's edge out of the sharpness measures.
"""

from __future__ import annotations

import hashlib
import math
import threading
import weakref
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import fft, ndimage

from medsyn.data.dataset import ImageDataset
from medsyn.errors import MedsynError

__all__ = ["FeatureConfig", "ImageFeatures", "extract_features", "features_for", "image_keys"]

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    """How features are computed; metrics that share a config share the cache.

    Parameters
    ----------
    max_side
        Long side of the analysis image; larger images are block-averaged down by an integer factor.
    dark_level, bright_level
        Luminance (0–1) below / above which a pixel counts as under- / over-exposed.
    workers
        Threads decoding and measuring images in parallel.
    """

    max_side: int = 512
    dark_level: float = 10 / 255
    bright_level: float = 245 / 255
    workers: int = 2


DEFAULT_CONFIG = FeatureConfig()


@dataclass(frozen=True, slots=True)
class ImageFeatures:
    """Every per-image quality measurement; ``error`` is set (and numbers are NaN) when the image failed to load.

    Intensities are luminance in 0–1; sharpness and noise are in 8-bit grey levels (0–255
    scale) at the analysis size. ``in_fov`` says whether region statistics were taken inside a
    detected fundus field of view.
    """

    key: str
    error: str | None = None
    height: int = 0
    width: int = 0
    channels: int = 0
    native_range: bool = True
    factor: int = 1
    analysis_height: int = 0
    analysis_width: int = 0
    brightness: float = math.nan
    rms_contrast: float = math.nan
    michelson: float = math.nan
    laplacian_var: float = math.nan
    tenengrad: float = math.nan
    under: float = math.nan
    over: float = math.nan
    colourfulness: float = math.nan
    noise_sigma: float = math.nan
    content_hash: str = ""
    phash: int = 0
    fov_fraction: float = math.nan
    fov_circularity: float = math.nan
    fov_ok: bool = False
    in_fov: bool = False
    illumination: float = math.nan

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def is_colour(self) -> bool:
        return self.channels >= 3


def _to_unit(arr: np.ndarray) -> tuple[np.ndarray, bool]:
    """Float32 in 0–1 and whether the scale is the native 8-bit one (else the image's own range)."""
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) * np.float32(1 / 255), True
    if arr.dtype == np.bool_:
        return arr.astype(np.float32), True
    a = arr.astype(np.float32)
    finite = np.isfinite(a)
    if not finite.all():
        a = np.where(finite, a, np.nan_to_num(a[finite].min() if finite.any() else 0.0))
    lo, hi = float(a.min()), float(a.max())
    if hi <= lo:
        return np.zeros_like(a), False
    return (a - lo) * np.float32(1 / (hi - lo)), False


def _block_mean(a: np.ndarray, f: int) -> np.ndarray:
    if f == 1:
        return a
    h, w = a.shape[0] // f * f, a.shape[1] // f * f
    shape = (h // f, f, w // f, f, *a.shape[2:])
    return a[:h, :w].reshape(shape).mean(axis=(1, 3), dtype=np.float32)


def _area_resize(a: np.ndarray, size: int) -> np.ndarray:
    """Mean over a size × size grid of (nearly equal) blocks; exact for any input size ≥ size."""
    rows = np.linspace(0, a.shape[0], size + 1).astype(int)[:-1]
    cols = np.linspace(0, a.shape[1], size + 1).astype(int)[:-1]
    summed = np.add.reduceat(np.add.reduceat(a, rows, axis=0), cols, axis=1)
    counts = np.outer(np.diff(np.append(rows, a.shape[0])), np.diff(np.append(cols, a.shape[1])))
    return summed / np.maximum(counts, 1)


def perceptual_hash(gray: np.ndarray) -> int:
    """64-bit DCT perceptual hash (pHash): signs of the 8 × 8 lowest DCT frequencies of a 32 × 32 thumbnail vs their median."""
    if min(gray.shape) < 32:
        reps = (math.ceil(32 / gray.shape[0]), math.ceil(32 / gray.shape[1]))
        gray = np.kron(gray, np.ones(reps, dtype=gray.dtype))
    thumb = _area_resize(gray.astype(np.float64), 32)
    coeffs = fft.dctn(thumb, type=2, norm="ortho")[:8, :8].ravel()
    bits = coeffs > np.median(coeffs[1:])
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def _fov(red: np.ndarray) -> tuple[np.ndarray | None, float, float, tuple[float, float, float]]:
    """Field-of-view mask of a fundus photograph from its red channel (0–1).

    Returns the mask (or None), its share of the image, its overlap (IoU) with the disc fitted
    to it (clipped to the image), and the disc (row, column, radius).
    """
    top = float(np.percentile(red[:: max(1, red.shape[0] // 64), :: max(1, red.shape[1] // 64)], 99))
    if top < 0.08:
        return None, 0.0, 0.0, (0.0, 0.0, 0.0)
    mask = red > max(0.04, 0.15 * top)
    mask = ndimage.binary_opening(mask, iterations=2)
    labels, n = ndimage.label(mask)
    if n == 0:
        return None, 0.0, 0.0, (0.0, 0.0, 0.0)
    if n > 1:
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        mask = labels == int(sizes.argmax())
    mask = ndimage.binary_fill_holes(mask)
    fraction = float(mask.mean())
    rows = np.flatnonzero(mask.any(axis=1))
    widths = mask.sum(axis=1)
    cy, cx = ndimage.center_of_mass(mask)
    radius = float(widths.max()) / 2
    heights = mask.sum(axis=0)
    radius = max(radius, float(heights.max()) / 2)
    if radius < 4 or len(rows) == 0:
        return None, fraction, 0.0, (0.0, 0.0, 0.0)
    yy = (np.arange(mask.shape[0], dtype=np.float32) - np.float32(cy)) ** 2
    xx = (np.arange(mask.shape[1], dtype=np.float32) - np.float32(cx)) ** 2
    disc = (yy[:, None] + xx[None, :]) <= np.float32(radius**2)
    union = np.count_nonzero(disc | mask)
    iou = float(np.count_nonzero(disc & mask)) / union if union else 0.0
    return mask, fraction, iou, (float(cy), float(cx), radius)


def _laplacian(g: np.ndarray) -> np.ndarray:
    return g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4 * g[1:-1, 1:-1]


def _sobel_energy(g: np.ndarray) -> np.ndarray:
    """Squared Sobel gradient magnitude on the interior (separable kernels written as slices)."""
    dx = g[:, 2:] - g[:, :-2]
    gx = dx[:-2] + 2 * dx[1:-1] + dx[2:]
    dy = g[2:, :] - g[:-2, :]
    gy = dy[:, :-2] + 2 * dy[:, 1:-1] + dy[:, 2:]
    return gx * gx + gy * gy


def _immerkaer(g: np.ndarray, region: np.ndarray | None) -> float:
    """Immerkær's fast noise σ: mean |I ∗ M| with M the 3 × 3 difference-of-Laplacians kernel (separable)."""
    d = g[:, :-2] - 2 * g[:, 1:-1] + g[:, 2:]
    r = np.abs(d[:-2] - 2 * d[1:-1] + d[2:])
    if region is not None:
        r = r[region[1:-1, 1:-1]]
    if r.size == 0:
        return math.nan
    return float(math.sqrt(math.pi / 2) / 6 * r.mean(dtype=np.float64))


def extract_features(image: np.ndarray, key: str, config: FeatureConfig = DEFAULT_CONFIG) -> ImageFeatures:
    """Measure one image (H × W or H × W × C array); the building block of :func:`features_for`.

    Parameters
    ----------
    image
        Pixels; uint8 are read on the 0–255 scale, other types on their own min–max range.
    key
        The image's name in results (its file name).
    config
        Analysis size and exposure levels.

    Returns
    -------
    ImageFeatures
        All measurements; ``error`` says why when the array is not an image.

    Examples
    --------
    >>> import numpy as np
    >>> f = extract_features(np.full((64, 64), 128, np.uint8), "grey.png")
    >>> round(f.brightness, 3), f.laplacian_var
    (0.502, 0.0)
    """
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (2, 3, 4)) or min(arr.shape[:2]) < 3:
        return ImageFeatures(key, error=f"not an image array (shape {arr.shape})")
    if arr.dtype.kind not in "uifb":
        return ImageFeatures(key, error=f"not numeric pixels (dtype {arr.dtype})")
    height, width = int(arr.shape[0]), int(arr.shape[1])
    channels = 1 if arr.ndim == 2 else int(arr.shape[2])
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{arr.shape}{arr.dtype}".encode())
    h.update(np.ascontiguousarray(arr).data)
    content_hash = h.hexdigest()

    factor = max(1, math.ceil(max(height, width) / config.max_side))
    eight_bit = arr.dtype == np.uint8
    rgb: np.ndarray | None = None
    if channels >= 3:
        small = _block_mean(arr[..., :3], factor)
        rgb, native = (small.astype(np.float32) * np.float32(1 / 255), True) if eight_bit else _to_unit(small)
        gray = rgb @ _LUMA
    else:
        small = _block_mean(arr if arr.ndim == 2 else arr[..., 0], factor)
        gray, native = (small.astype(np.float32) * np.float32(1 / 255), True) if eight_bit else _to_unit(small)
    gray = np.ascontiguousarray(gray, dtype=np.float32)

    region: np.ndarray | None = None
    fov_fraction = fov_circ = illumination = math.nan
    fov_ok = False
    if rgb is not None:
        mask, fov_fraction, fov_circ, (cy, cx, radius) = _fov(rgb[..., 0])
        fov_ok = mask is not None and 0.2 <= fov_fraction <= 0.97 and fov_circ >= 0.85
        if fov_ok and mask is not None:
            yy = (np.arange(gray.shape[0], dtype=np.float32) - np.float32(cy)) ** 2
            xx = (np.arange(gray.shape[1], dtype=np.float32) - np.float32(cx)) ** 2
            region = mask & ((yy[:, None] + xx[None, :]) <= np.float32((0.9 * radius) ** 2))
            if region.sum() < 64:
                region = None
    if region is not None:
        values = gray[region]
    else:
        values = gray.ravel()
    brightness = float(values.mean(dtype=np.float64))
    rms = float(values.std(dtype=np.float64))
    lo, hi = np.percentile(values[:: max(1, values.size // 65536)], [1, 99])
    michelson = float((hi - lo) / (hi + lo)) if hi + lo > 0 else 0.0
    under = float(np.count_nonzero(values < config.dark_level)) / values.size
    over = float(np.count_nonzero(values > config.bright_level)) / values.size

    g255 = gray * np.float32(255)
    inner = None if region is None else region[1:-1, 1:-1]
    lap = _laplacian(g255)
    ten = _sobel_energy(g255)
    if inner is not None:
        lap, ten = lap[inner], ten[inner]
    laplacian_var = float(lap.var(dtype=np.float64)) if lap.size else math.nan
    tenengrad = float(ten.mean(dtype=np.float64)) if ten.size else math.nan
    noise = _immerkaer(g255, region)

    colourfulness = math.nan
    if rgb is not None:
        px = rgb[region] if region is not None else rgb.reshape(-1, 3)
        px = px * np.float32(255)
        rg = px[:, 0] - px[:, 1]
        yb = 0.5 * (px[:, 0] + px[:, 1]) - px[:, 2]
        colourfulness = float(
            math.hypot(float(rg.std()), float(yb.std())) + 0.3 * math.hypot(float(rg.mean()), float(yb.mean()))
        )
        if fov_ok and region is not None:
            illumination = _illumination(gray, region)
    return ImageFeatures(
        key=key,
        height=height,
        width=width,
        channels=channels,
        native_range=native,
        factor=factor,
        analysis_height=int(gray.shape[0]),
        analysis_width=int(gray.shape[1]),
        brightness=brightness,
        rms_contrast=rms,
        michelson=michelson,
        laplacian_var=laplacian_var,
        tenengrad=tenengrad,
        under=under,
        over=over,
        colourfulness=colourfulness,
        noise_sigma=noise,
        content_hash=content_hash,
        phash=perceptual_hash(gray),
        fov_fraction=fov_fraction,
        fov_circularity=fov_circ,
        fov_ok=fov_ok,
        in_fov=region is not None,
        illumination=illumination,
    )


def _illumination(gray: np.ndarray, region: np.ndarray) -> float:
    """Uniformity of the background illumination inside the field of view: p10 / p90 of a heavy blur.

    The blur is normalised by the blurred mask, so the dark surround does not darken the rim.
    """
    f = max(1, max(gray.shape) // 64)
    g = _block_mean(gray * region, f)
    m = _block_mean(region.astype(np.float32), f)
    sigma = max(g.shape) / 12
    num = ndimage.gaussian_filter(g, sigma, mode="constant")
    den = ndimage.gaussian_filter(m, sigma, mode="constant")
    inside = m > 0.99
    if inside.sum() < 8:
        return math.nan
    background = num[inside] / np.maximum(den[inside], 1e-6)
    p10, p90 = np.percentile(background, [10, 90])
    return float(p10 / p90) if p90 > 0 else 0.0


def image_keys(dataset: ImageDataset) -> list[str]:
    """The name of each image in results: its ``file`` attribute (with the frame for multi-frame DICOM)."""
    attrs = dataset.attributes
    if "file" in attrs.columns:
        names = attrs["file"].astype(str).tolist()
    else:
        names = [f"image_{i}" for i in range(len(dataset))]
    if "frame" in attrs.columns and "frames" in attrs.columns:
        frames = attrs["frames"].fillna(1).astype(int).tolist()
        idx = attrs["frame"].fillna(0).astype(int).tolist()
        names = [f"{n}#{k}" if total > 1 else n for n, k, total in zip(names, idx, frames, strict=True)]
    return names


def _one(dataset: ImageDataset, i: int, key: str, config: FeatureConfig) -> ImageFeatures:
    try:
        image = dataset.image(i)
    except MedsynError as exc:
        return ImageFeatures(key, error=str(exc))
    except (OSError, ValueError, MemoryError) as exc:
        return ImageFeatures(key, error=f"cannot load ({type(exc).__name__}: {exc})")
    return extract_features(image, key, config)


_CACHE: weakref.WeakKeyDictionary[ImageDataset, dict[FeatureConfig, tuple[ImageFeatures, ...]]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def features_for(dataset: ImageDataset, config: FeatureConfig = DEFAULT_CONFIG) -> tuple[ImageFeatures, ...]:
    """Features of every image of ``dataset``, computed once per dataset object and config, then cached.

    Parameters
    ----------
    dataset
        The images; each is decoded once, by ``config.workers`` threads.
    config
        How to measure.

    Returns
    -------
    tuple of ImageFeatures
        One record per image, in dataset order; images that fail to load carry ``error``.
    """
    with _LOCK:
        cached = _CACHE.get(dataset, {}).get(config)
    if cached is not None:
        return cached
    keys = image_keys(dataset)
    indices: Sequence[int] = range(len(dataset))
    if config.workers > 1 and len(dataset) > 1:
        with ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="medsyn-image") as pool:
            result = tuple(pool.map(lambda i: _one(dataset, i, keys[i], config), indices))
    else:
        result = tuple(_one(dataset, i, keys[i], config) for i in indices)
    with _LOCK:
        _CACHE.setdefault(dataset, {})[config] = result
    return result
