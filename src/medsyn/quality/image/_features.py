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

from medsyn.data.dataset import ImageDataset
from medsyn.errors import MedsynError

__all__ = ["FeatureConfig", "ImageFeatures", "extract_features", "features_for", "image_keys", "perceptual_hash"]

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_HASH_THUMB = 64
_HASH_LOW = 16
#: FOV detection runs on a thumbnail whose long side is at most this.
_FOV_SIDE = 128


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
    phash: bytes = b""
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


def _plane(channel: np.ndarray, factor: int) -> np.ndarray:
    """One channel as a contiguous float32 plane, block-averaged by ``factor``."""
    if factor == 1:
        return np.ascontiguousarray(channel, dtype=np.float32)
    return _block_mean(channel, factor)


def _block_mean(a: np.ndarray, f: int) -> np.ndarray:
    """Mean over f × f blocks (float32), as a sum of strided slices: far faster than a reshaped mean."""
    if f == 1:
        return a
    h, w = a.shape[0] // f * f, a.shape[1] // f * f
    out = np.zeros((h // f, w // f, *a.shape[2:]), dtype=np.float32)
    for i in range(f):
        for j in range(f):
            out += a[i:h:f, j:w:f]
    out *= np.float32(1 / (f * f))
    return out


def _area_resize(a: np.ndarray, size: int) -> np.ndarray:
    """Mean over a size × size grid of (nearly equal) blocks; exact for any input size ≥ size."""
    rows = np.linspace(0, a.shape[0], size + 1).astype(int)[:-1]
    cols = np.linspace(0, a.shape[1], size + 1).astype(int)[:-1]
    summed = np.add.reduceat(np.add.reduceat(a, rows, axis=0), cols, axis=1)
    counts = np.outer(np.diff(np.append(rows, a.shape[0])), np.diff(np.append(cols, a.shape[1])))
    out: np.ndarray = summed / np.maximum(counts, 1)
    return out


def perceptual_hash(gray: np.ndarray) -> bytes:
    """256-bit DCT perceptual hash: signs of the 16 × 16 lowest DCT frequencies of a 64 × 64 thumbnail vs their median.

    The classic 64-bit pHash (8 × 8 of 32 × 32) cannot tell fundus photographs of different
    patients apart (their low frequencies are all "orange disc on black"); 256 bits can, while a
    re-encoded or resized copy stays within a few bits.
    """
    from scipy import fft  # imported on use: keeps ``import medsyn.quality`` light

    if min(gray.shape) < _HASH_THUMB:
        reps = (math.ceil(_HASH_THUMB / gray.shape[0]), math.ceil(_HASH_THUMB / gray.shape[1]))
        gray = np.kron(gray, np.ones(reps, dtype=gray.dtype))
    thumb = _area_resize(gray, _HASH_THUMB).astype(np.float64)
    coeffs = fft.dctn(thumb, type=2, norm="ortho")[:_HASH_LOW, :_HASH_LOW].ravel()
    bits = coeffs > np.median(coeffs[1:])
    bits[0] = False  # the DC term says only "bright or dark", not structure
    return np.packbits(bits).tobytes()


def _fov(red: np.ndarray) -> tuple[float, float, tuple[float, float, float]]:
    """Field of view of a fundus photograph from its red channel (0–1), on a small thumbnail.

    Threshold the red channel (the surround of a fundus photograph is black in every channel,
    the retina is bright in red), open away speckle, keep the largest component and fill its
    holes. Returns the mask's share of the image, its overlap (IoU) with the disc fitted to it
    (clipped to the image, since cameras crop the top and bottom of the circle), and that disc
    as (row, column, radius) in thumbnail pixels.
    """
    from scipy import ndimage

    none = (0.0, 0.0, (0.0, 0.0, 0.0))
    floor, top = (float(v) for v in np.percentile(red, [2, 99]))
    if top - floor < 0.08:
        return none
    # 15 % of the way from the surround's level to the retina's: a lifted (washed-out) surround still separates
    mask = ndimage.binary_opening(red > max(0.04, floor + 0.15 * (top - floor)), iterations=1)
    labels, n = ndimage.label(mask)
    if n == 0:
        return none
    if n > 1:
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        mask = labels == int(sizes.argmax())
    mask = ndimage.binary_fill_holes(mask)
    fraction = float(mask.mean())
    disc = _fit_disc(mask)
    if disc is None:
        return fraction, 0.0, (0.0, 0.0, 0.0)
    cy, cx, radius = disc
    fitted = _disc(mask.shape, cy, cx, radius)
    union = np.count_nonzero(fitted | mask)
    iou = float(np.count_nonzero(fitted & mask)) / union if union else 0.0
    return fraction, iou, disc


def _fit_disc(mask: np.ndarray) -> tuple[float, float, float] | None:
    """Least-squares (Kåsa) circle through the mask's outer rim, robust to clipping and dark bites.

    Cameras crop the top and bottom of the circle and a square crop clips all four sides, so
    the widest row underestimates the radius; rim points on the image border are ignored and
    the curved parts of the rim fix the circle. A dark part of the retina (a shadow) leaves a
    bite *inside* the circle: after a first fit, points well inside it are dropped and the
    circle is fitted again.
    """
    h, w = mask.shape
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if len(rows) < 4 or len(cols) < 4:
        return None
    first_x = mask[rows].argmax(axis=1)
    last_x = w - 1 - mask[rows, ::-1].argmax(axis=1)
    first_y = mask[:, cols].argmax(axis=0)
    last_y = h - 1 - mask[::-1, cols].argmax(axis=0)
    x = np.concatenate([first_x, last_x, cols, cols]).astype(np.float64)
    y = np.concatenate([rows, rows, first_y, last_y]).astype(np.float64)
    keep = (x > 0) & (x < w - 1) & (y > 0) & (y < h - 1)
    x, y = x[keep], y[keep]
    disc: tuple[float, float, float] | None = None
    for _ in range(3):
        if len(x) < 12:
            return disc
        design = np.column_stack([x, y, np.ones_like(x)])
        (a, b, c), *_ = np.linalg.lstsq(design, -(x * x + y * y), rcond=None)
        cx, cy = -a / 2, -b / 2
        r2 = cx * cx + cy * cy - c
        if not np.isfinite(r2) or r2 < 16:
            return disc
        radius = float(np.sqrt(r2))
        disc = (float(cy), float(cx), radius)
        inside = np.hypot(x - cx, y - cy) < 0.95 * radius
        if not inside.any():
            break
        x, y = x[~inside], y[~inside]
    return disc


def _disc(shape: tuple[int, ...], cy: float, cx: float, radius: float) -> np.ndarray:
    yy = (np.arange(shape[0], dtype=np.float32) - np.float32(cy)) ** 2
    xx = (np.arange(shape[1], dtype=np.float32) - np.float32(cx)) ** 2
    return np.asarray((yy[:, None] + xx[None, :]) <= np.float32(radius * radius))


def _laplacian(g: np.ndarray) -> np.ndarray:
    """4-neighbour Laplacian on the interior, with in-place sums (fewer large temporaries)."""
    out: np.ndarray = g[1:-1, :-2] + g[1:-1, 2:]
    out += g[:-2, 1:-1]
    out += g[2:, 1:-1]
    centre = g[1:-1, 1:-1]
    for _ in range(4):  # four in-place passes instead of a 4 × centre temporary
        out -= centre
    return out


def _sobel_energy(g: np.ndarray) -> np.ndarray:
    """Squared Sobel gradient magnitude on the interior (separable kernels written as in-place slices)."""
    dx = np.subtract(g[:, 2:], g[:, :-2])
    gx: np.ndarray = dx[:-2] + dx[2:]
    gx += dx[1:-1]
    gx += dx[1:-1]
    dy = np.subtract(g[2:, :], g[:-2, :])
    gy = dy[:, :-2] + dy[:, 2:]
    gy += dy[:, 1:-1]
    gy += dy[:, 1:-1]
    np.multiply(gx, gx, out=gx)
    np.multiply(gy, gy, out=gy)
    gx += gy
    return gx


def _immerkaer(g: np.ndarray, region: np.ndarray | None) -> float:
    """Immerkær's fast noise σ: mean |I ∗ M| with M the 3 × 3 difference-of-Laplacians kernel (separable)."""
    d = g[:, :-2] + g[:, 2:]
    d -= g[:, 1:-1]
    d -= g[:, 1:-1]
    r = d[:-2] + d[2:]
    r -= d[1:-1]
    r -= d[1:-1]
    np.abs(r, out=r)
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
    h = hashlib.sha256()
    h.update(f"{arr.shape}{arr.dtype}".encode())
    h.update(np.ascontiguousarray(arr).data)
    content_hash = h.hexdigest()[:32]

    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        finite = arr[np.isfinite(arr)]
        if finite.size == 0:
            return ImageFeatures(key, error="no finite pixel values (all NaN or infinite)")
        arr = np.nan_to_num(arr, nan=float(finite.min()), posinf=float(finite.max()), neginf=float(finite.min()))
    factor = max(1, math.ceil(max(height, width) / config.max_side))
    # planar float32 channels on the 0–255 scale: per-plane 2-D arithmetic is several times
    # faster than reductions over a trailing channel axis
    if channels >= 3:
        # one transposing cast is far cheaper than three strided channel copies
        planar = arr[..., :3].transpose(2, 0, 1).astype(np.float32)
        planes = [_block_mean(planar[c], factor) for c in range(3)]
    else:
        planes = [_plane(arr if arr.ndim == 2 else arr[..., 0], factor)]
    native = arr.dtype == np.uint8 or arr.dtype == np.bool_
    if not native:
        lo_v = min(float(p.min()) for p in planes)
        hi_v = max(float(p.max()) for p in planes)
        scale = np.float32(255 / (hi_v - lo_v)) if hi_v > lo_v else np.float32(0)
        planes = [(p - np.float32(lo_v)) * scale for p in planes]
    elif arr.dtype == np.bool_:
        planes = [p * np.float32(255) for p in planes]
    colour = len(planes) == 3
    if colour:
        red, green, blue = planes
        # one scratch plane reused for every colour temporary: fresh megabyte-sized temporaries
        # cost page faults that, on 512 × 512 images, outweigh the arithmetic itself
        scratch = np.empty_like(red)
        gray = np.multiply(red, np.float32(_LUMA[0]))
        gray += np.multiply(green, np.float32(_LUMA[1]), out=scratch)
        gray += np.multiply(blue, np.float32(_LUMA[2]), out=scratch)
    else:
        gray = planes[0]
    thumb_k = max(1, math.ceil(max(gray.shape) / _FOV_SIDE))

    region: np.ndarray | None = None
    region_thumb: np.ndarray | None = None
    fov_fraction = fov_circ = illumination = math.nan
    fov_ok = False
    if colour:
        fov_fraction, fov_circ, (cy, cx, radius) = _fov(_block_mean(planes[0], thumb_k) * np.float32(1 / 255))
        fov_ok = bool(0.2 <= fov_fraction <= 0.995 and fov_circ >= 0.85)
        if fov_ok:
            # inside 90 % of the fitted disc: the rim's dark-to-bright edge stays out of every measure
            region = _disc(gray.shape, (cy + 0.5) * thumb_k - 0.5, (cx + 0.5) * thumb_k - 0.5, 0.9 * radius * thumb_k)
            region_thumb = _disc((gray.shape[0] // thumb_k, gray.shape[1] // thumb_k), cy, cx, 0.9 * radius)
            if np.count_nonzero(region) < 64:
                region = None
    values = gray[region] if region is not None else gray.ravel()
    brightness = float(values.mean()) / 255
    rms = float(values.std()) / 255
    lo, hi = np.percentile(values[:: max(1, values.size // 16384)], [1, 99])
    michelson = float((hi - lo) / (hi + lo)) if hi + lo > 0 else 0.0
    under = float(np.count_nonzero(values < config.dark_level * 255)) / values.size
    if colour:
        # a colour pixel is clipped when any channel saturates (the red of a fundus goes first)
        peak = np.maximum(np.maximum(planes[0], planes[1], out=scratch), planes[2], out=scratch)
        peak_values = peak[region] if region is not None else peak.ravel()
        over = float(np.count_nonzero(peak_values > config.bright_level * 255)) / peak_values.size
    else:
        over = float(np.count_nonzero(values > config.bright_level * 255)) / values.size

    inner = None if region is None else region[1:-1, 1:-1]
    lap = _laplacian(gray)
    ten = _sobel_energy(gray)
    if inner is not None:
        lap, ten = lap[inner], ten[inner]
    laplacian_var = float(lap.var(dtype=np.float64)) if lap.size else math.nan
    tenengrad = float(ten.mean(dtype=np.float64)) if ten.size else math.nan
    noise = _immerkaer(gray, region)

    colourfulness = math.nan
    if colour:
        # the colour planes are this function's own copies and no longer needed: reuse them
        yb = np.add(planes[0], planes[1], out=scratch)
        yb *= np.float32(0.5)
        yb -= planes[2]
        rg = np.subtract(planes[0], planes[1], out=planes[0])
        if region is not None:
            rg, yb = rg[region], yb[region]
        colourfulness = float(
            math.hypot(float(rg.std()), float(yb.std())) + 0.3 * math.hypot(float(rg.mean()), float(yb.mean()))
        )
        if region_thumb is not None and region is not None:
            illumination = _illumination(_block_mean(gray, thumb_k), region_thumb)
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


def _illumination(gray_thumb: np.ndarray, region: np.ndarray) -> float:
    """Uniformity of the background illumination inside the field of view: p10 / p90 of a heavy blur.

    Works on the FOV thumbnail; the blur is normalised by the blurred mask, so the dark
    surround does not darken the rim.
    """
    from scipy import ndimage

    h, w = min(gray_thumb.shape[0], region.shape[0]), min(gray_thumb.shape[1], region.shape[1])
    k = max(1, max(h, w) // 48)  # the background varies slowly: a ~48-px grid is plenty, and cheap to blur
    m = _block_mean(region[:h, :w].astype(np.float32), k)
    g = _block_mean(gray_thumb[:h, :w] * region[:h, :w], k)
    sigma = max(m.shape) / 12
    num = ndimage.gaussian_filter(g, sigma, mode="constant")
    den = ndimage.gaussian_filter(m, sigma, mode="constant")
    inside = m > 0.99
    if np.count_nonzero(inside) < 8:
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


_CACHE: weakref.WeakKeyDictionary[ImageDataset, dict[FeatureConfig, tuple[ImageFeatures, ...]]] = (
    weakref.WeakKeyDictionary()
)
_LOCK = threading.Lock()
#: Held while features are computed, so a check running beside another (the audit runs two at a
#: time) waits for the first computation and then reads the cache instead of decoding again.
_COMPUTING = threading.Lock()


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
    with _COMPUTING:
        with _LOCK:
            cached = _CACHE.get(dataset, {}).get(config)
        if cached is not None:
            return cached
        return _compute_all(dataset, config)


def _compute_all(dataset: ImageDataset, config: FeatureConfig) -> tuple[ImageFeatures, ...]:
    keys = image_keys(dataset)
    indices: Sequence[int] = range(len(dataset))
    if config.workers > 1 and len(dataset) > 1:
        pool = ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="medsyn-image")
        try:
            result = tuple(pool.map(lambda i: _one(dataset, i, keys[i], config), indices))
        except BaseException:
            # Ctrl-C (or a bug) must not wait for every remaining image: drop the queued ones
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
    else:
        result = tuple(_one(dataset, i, keys[i], config) for i in indices)
    with _LOCK:
        _CACHE.setdefault(dataset, {})[config] = result
    return result
