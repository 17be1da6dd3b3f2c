"""The offline image encoder: deterministic hand-made features that need no weights and no download.

It turns each image (as its 128 × 128 RGB thumbnail) into 361 numbers in six blocks:

==============  ====  ===========================================================================
block           size  what it describes
==============  ====  ===========================================================================
colour          48    16-bin histogram of each of R, G, B (square-rooted proportions)
layout          64    mean R, G, B and the luminance spread in each cell of a 4 × 4 grid
gradients       57    HOG-style gradient-orientation histograms (9 unsigned bins): 2 × 2 cells at
                      128 px, whole image at 64 and 32 px; and the log mean gradient per scale
texture         20    uniform local binary patterns (8 neighbours, radius 1) at 128 and 64 px
wavelets        12    log energy of the Haar wavelet details (3 orientations × 4 levels)
random filters  160   32 fixed random zero-mean 5 × 5 colour filters on the 32 px image, ReLU,
                      mean response per image quadrant and spread of the response
==============  ====  ===========================================================================

The orientation histograms are those of ``skimage.feature.hog`` with one-cell blocks and ``L1``
normalisation, and the patterns those of ``skimage.feature.local_binary_pattern(P=8, R=1,
method="uniform")`` (both checked against scikit-image in the tests), computed here on whole
batches in numpy. The evaluation z-scores every feature on the real (training) images and weighs
each block by 1/√size, so each block counts the same (:class:`EncoderInfo` ``blocks``).

It is **not a semantic encoder**: it sees colour, layout, sharpness, noise and texture, not
anatomy or lesions. Its Fréchet distance is comparable only with other Fréchet distances from the
same encoder on the same real set; every result names the encoder that produced it.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from medsyn.errors import InputError, Problem
from medsyn.evaluate.image._encoders import ENCODERS, EncoderInfo, batches
from medsyn.evaluate.image._pixels import THUMB_SIDE, thumbnail

__all__ = ["OFFLINE_BLOCKS", "OfflineEncoder", "lbp_uniform", "offline_features", "orientation_histograms"]

#: Sizes of the feature blocks, in order (colour, layout, gradients, texture, wavelets, random filters).
OFFLINE_BLOCKS: tuple[int, ...] = (48, 64, 57, 20, 12, 160)
#: Fréchet distance at which the offline encoder's FID score is 1/e: on 100 vs 100 real fundus
#: photographs of other patients the distance is about 2 (score 0.8), a 20 % colour cast gives
#: about 6, a single repeated image about 12 and a 1-pixel blur about 23.
OFFLINE_FID_SCALE = 10.0
#: KID at which the offline encoder's KID score is 1/e (same sets: ≈ 0, 0.02, 0.05 and 0.19).
OFFLINE_KID_SCALE = 0.05
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_N_FILTERS = 32
_FILTER_SEED = 0x6D656473  # "meds": the filters are part of the encoder's definition


def _filters() -> np.ndarray:
    """The fixed random filters: zero-mean, unit-norm, 5 × 5 × 3, flattened to 75 × 32."""
    w = np.random.default_rng(_FILTER_SEED).standard_normal((_N_FILTERS, 3 * 5 * 5))
    w -= w.mean(axis=1, keepdims=True)
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    return w.T.astype(np.float32)


_FILTERS = _filters()


def orientation_histograms(grey: np.ndarray, cell: int, *, bins: int = 9) -> np.ndarray:
    """HOG cells of a stack of grey images: ``(n, H, W)`` → ``(n, H // cell, W // cell, bins)``.

    Central-difference gradients (zero on the border rows and columns), unsigned orientation in
    ``bins`` equal bins over [0°, 180°), magnitudes summed per cell and divided by the cell area,
    then each cell divided by its L1 norm + 1e-5: ``skimage.feature.hog(..., cells_per_block=(1, 1),
    block_norm="L1")`` for every image at once.
    """
    g_row = np.zeros_like(grey)
    g_col = np.zeros_like(grey)
    g_row[:, 1:-1, :] = grey[:, 2:, :] - grey[:, :-2, :]
    g_col[:, :, 1:-1] = grey[:, :, 2:] - grey[:, :, :-2]
    n, h, w = grey.shape
    rows, cols = h // cell, w // cell
    g_row, g_col = g_row[:, : rows * cell, : cols * cell], g_col[:, : rows * cell, : cols * cell]
    angle = np.rad2deg(np.arctan2(g_row, g_col)) % 180
    # one weighted bincount over (image, cell row, cell column, bin) instead of a pass per bin
    where = (np.arange(n)[:, None, None] * rows + np.arange(rows * cell)[None, :, None] // cell) * cols
    index = (angle // (180 / bins)).astype(np.int64)
    # an angle that rounds to 180° (a tiny negative gradient) falls in no bin, as in scikit-image
    weight = np.where(index < bins, np.hypot(g_row, g_col), 0)
    where = (where + np.arange(cols * cell)[None, None, :] // cell) * bins + np.minimum(index, bins - 1)
    sums = np.bincount(where.ravel(), weights=weight.ravel(), minlength=n * rows * cols * bins)
    hist = sums.reshape(n, rows, cols, bins).astype(grey.dtype) / (cell * cell)
    hist /= np.abs(hist).sum(axis=3, keepdims=True) + 1e-5
    return hist


def lbp_uniform(grey: np.ndarray) -> np.ndarray:
    """Uniform local binary patterns (8 neighbours, radius 1) of a stack of grey images, values 0–9.

    Neighbours sit on the unit circle (diagonals bilinearly interpolated, zero outside the image),
    a neighbour counts when it is ≥ the centre, and a pattern with at most two 0/1 changes along
    the circle's eight neighbours is coded by its number of ones, any other by 9:
    ``skimage.feature.local_binary_pattern(image, 8, 1, method="uniform")`` for every image at once.
    """
    n, h, w = grey.shape
    padded = np.zeros((n, h + 2, w + 2), dtype=grey.dtype)
    padded[:, 1:-1, 1:-1] = grey
    angles = 2 * np.pi * np.arange(8) / 8
    ones = np.zeros((n, h, w), dtype=np.int8)
    changes = np.zeros((n, h, w), dtype=np.int8)
    previous: np.ndarray | None = None
    for dr, dc in zip(np.round(-np.sin(angles), 5), np.round(np.cos(angles), 5), strict=True):
        r0, c0 = int(np.floor(dr)), int(np.floor(dc))
        fr, fc = dr - r0, dc - c0

        def at(r: int, c: int) -> np.ndarray:
            return padded[:, 1 + r : 1 + r + h, 1 + c : 1 + c + w]

        top = (1 - fc) * at(r0, c0) + fc * at(r0, c0 + 1) if fc else at(r0, c0)
        if fr:
            bottom = (1 - fc) * at(r0 + 1, c0) + fc * at(r0 + 1, c0 + 1) if fc else at(r0 + 1, c0)
            value = (1 - fr) * top + fr * bottom
        else:
            value = top
        bit = value - grey >= 0
        ones += bit
        if previous is not None:
            changes += bit != previous
        previous = bit
    return np.where(changes <= 2, ones, np.int8(9))


def _haar_energies(grey: np.ndarray, levels: int = 4) -> np.ndarray:
    """Log mean squared Haar detail coefficients (horizontal, vertical, diagonal) per level."""
    out = []
    a = grey
    for _ in range(levels):
        a00, a01, a10, a11 = a[:, 0::2, 0::2], a[:, 0::2, 1::2], a[:, 1::2, 0::2], a[:, 1::2, 1::2]
        for detail in (a00 + a01 - a10 - a11, a00 - a01 + a10 - a11, a00 - a01 - a10 + a11):
            out.append(np.log(np.mean((detail / 2) ** 2, axis=(1, 2)) + 1e-8))
        a = (a00 + a01 + a10 + a11) / 2
    return np.stack(out, axis=1)


def _pattern_histogram(grey: np.ndarray) -> np.ndarray:
    """Square-rooted proportions of the ten uniform patterns, per image."""
    n = len(grey)
    codes = lbp_uniform(grey).astype(np.int64) + 10 * np.arange(n)[:, None, None]
    counts = np.bincount(codes.ravel(), minlength=10 * n).reshape(n, 10)
    return np.asarray(np.sqrt(counts / grey[0].size))


def _halve(x: np.ndarray) -> np.ndarray:
    """2 × 2 block means over axes 1 and 2 (sums of strided slices: far faster than a reshaped mean)."""
    out: np.ndarray = x[:, 0::2, 0::2] + x[:, 0::2, 1::2]
    out += x[:, 1::2, 0::2]
    out += x[:, 1::2, 1::2]
    out *= np.float32(0.25)
    return out


def _shrink(x: np.ndarray, side: int) -> np.ndarray:
    """Block means down to ``side`` × ``side`` by repeated halving (sides are powers of two)."""
    while x.shape[1] > side:
        x = _halve(x)
    return x


def offline_features(thumbs: np.ndarray) -> np.ndarray:
    """The 361 offline features of a stack of 128 × 128 × 3 uint8 thumbnails (float32, n × 361)."""
    n = len(thumbs)
    rgb = thumbs.astype(np.float32)
    rgb *= np.float32(1 / 255)
    grey = rgb @ _LUMA
    # colour: 16-bin histogram per channel, as square-rooted proportions
    codes = (thumbs >> 4).astype(np.int64) + 16 * np.arange(3)
    codes += 48 * np.arange(n)[:, None, None, None]
    hist = np.bincount(codes.ravel(), minlength=48 * n).reshape(n, 48) / (THUMB_SIDE * THUMB_SIDE)
    colour = np.sqrt(hist)
    # layout: mean colour and luminance spread per cell of a 4 × 4 grid
    rgb32 = _shrink(rgb, 32)
    means = _shrink(rgb32, 4).reshape(n, 48)
    spread = np.sqrt(np.maximum(_shrink(grey * grey, 4) - _shrink(grey, 4) ** 2, 0)).reshape(n, 16)
    # gradients at three scales
    g64 = _halve(grey)
    g32 = _halve(g64)
    grads = [
        orientation_histograms(grey, THUMB_SIDE // 2).reshape(n, -1),
        orientation_histograms(g64, 64).reshape(n, -1),
        orientation_histograms(g32, 32).reshape(n, -1),
    ]
    energy = [np.log(np.hypot(*np.gradient(g, axis=(1, 2))).mean(axis=(1, 2)) + 1e-4) for g in (grey, g64, g32)]
    # texture: uniform LBP histograms at two scales
    texture = [_pattern_histogram(g) for g in (grey, g64)]
    wavelets = _haar_energies(grey)
    # random filters on the 32 px colour image
    patches = sliding_window_view(rgb32, (5, 5), axis=(1, 2))  # n × 28 × 28 × 3 × 5 × 5
    side = patches.shape[1]
    response = np.maximum(patches.reshape(n, side, side, 75) @ _FILTERS, 0)
    half = side // 2
    quadrants = response.reshape(n, 2, half, 2, half, _N_FILTERS).mean(axis=(2, 4)).reshape(n, -1)
    variability = response.reshape(n, -1, _N_FILTERS).std(axis=1)
    features = np.concatenate(
        [colour, means, spread, *grads, np.stack(energy, axis=1), *texture, wavelets, quadrants, variability], axis=1
    )
    return features.astype(np.float32)


@ENCODERS.register("offline")
class OfflineEncoder:
    """Colour, layout, gradient, texture, wavelet and random-filter statistics: no weights, no download.

    The default encoder of the image metrics. Deterministic (the random filters come from a fixed
    seed), needs only numpy and Pillow, and takes a few milliseconds of one CPU core per image
    once it is decoded. Not a semantic encoder (see the module docstring).
    """

    name = "offline"
    input_size = THUMB_SIDE
    dim = sum(OFFLINE_BLOCKS)

    def encode(self, images: Iterable[np.ndarray], *, batch_size: int = 64) -> np.ndarray:
        """Features of ``images`` (any size, grey or colour), one row each: n × 361 float32."""
        parts = [offline_features(np.stack([thumbnail(im) for im in batch])) for batch in batches(images, batch_size)]
        if not parts:
            raise InputError(Problem("images", "none to encode", "at least one image"))
        return np.concatenate(parts)

    def describe(self) -> EncoderInfo:
        return EncoderInfo(
            name=self.name,
            input_size=self.input_size,
            dim=self.dim,
            method=(
                "offline features (no weights): colour histograms, a 4×4 colour layout, HOG-style gradient "
                "histograms at 3 scales, uniform LBP at 2 scales, Haar wavelet energies at 4 levels and 32 fixed "
                "random 5×5 filters; z-scored on the real images, blocks weighted equally; not a semantic encoder"
            ),
            resize="antialiased bilinear (Pillow) to 128×128",
            semantic=False,
            from_thumbnails=True,
            blocks=OFFLINE_BLOCKS,
            fid_scale=OFFLINE_FID_SCALE,
            kid_scale=OFFLINE_KID_SCALE,
        )
