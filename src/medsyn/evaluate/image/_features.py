"""Image features of one evaluation: each side encoded once per encoder, shared by every image metric.

:func:`image_features` returns the features the metrics compare, cached on the evaluation under
``("image-features", encoder_name, side)``; the Fréchet distance, KID, the four PRDC metrics and
memorisation all read the same arrays, so a scorecard encodes each image once per encoder. The
encoder's raw output is also kept per dataset object, so evaluating several synthetic sets
against one training set encodes the training images once.

An encoder that declares feature ``blocks`` (the offline encoder, whose features have unrelated
units) gets its features standardised: each feature is z-scored with the mean and standard
deviation of the *real* (training) images, then each block is multiplied by 1/√size so that every
block has the same total variance on the real images. A feature's spread is floored at a tenth of
its block's median spread, so a feature that is constant on the real images (an unused histogram
bin) does not turn a tiny synthetic difference into a huge one. Encoders without blocks (networks,
as FID intends) are used as they are.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from medsyn.data.dataset import ImageDataset
from medsyn.evaluate._inputs import EvalInputs, Side
from medsyn.evaluate.image._encoders import EncoderInfo, ImageEncoder, get_encoder
from medsyn.evaluate.image._pixels import image_pixels

__all__ = ["EncodedSides", "encoder_for", "encoder_info", "image_features"]


@dataclass(frozen=True, slots=True)
class _Scaler:
    centre: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, real: np.ndarray, blocks: tuple[int, ...]) -> _Scaler:
        x = real.astype(np.float64)
        centre = x.mean(axis=0)
        spread = x.std(axis=0)
        weight = np.empty_like(spread)
        start = 0
        for size in blocks:
            part = slice(start, start + size)
            floor = max(0.1 * float(np.median(spread[part])), 1e-6)
            spread[part] = np.maximum(spread[part], floor)
            weight[part] = 1 / np.sqrt(size)
            start += size
        return cls(centre, weight / spread)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        scaled: np.ndarray = (x.astype(np.float64) - self.centre) * self.scale
        return scaled.astype(np.float32)


def encoder_for(inputs: EvalInputs, encoder: str | ImageEncoder) -> ImageEncoder:
    """One encoder instance per name and evaluation (a network's weights load once)."""
    if isinstance(encoder, str):
        return inputs.memo(("image-encoder", encoder), lambda: get_encoder(encoder))
    return inputs.memo(("image-encoder", encoder.name), lambda: encoder)


def encoder_info(inputs: EvalInputs, encoder: ImageEncoder) -> EncoderInfo:
    """The encoder's description, once per evaluation."""
    return inputs.memo(("image-encoder-info", encoder.name), encoder.describe)


#: Raw features per dataset object and encoder (name, weights): comparing several synthetic sets
#: with one training set encodes the training images once.
_ENCODED: weakref.WeakKeyDictionary[ImageDataset, dict[tuple[str, str], np.ndarray]] = weakref.WeakKeyDictionary()


def _raw(inputs: EvalInputs, encoder: ImageEncoder, side: Side, batch_size: int) -> np.ndarray:
    data = inputs.data(side)
    assert isinstance(data, ImageDataset)

    def compute() -> np.ndarray:
        info = encoder_info(inputs, encoder)
        cache = _ENCODED.setdefault(data, {})
        key = (info.name, info.weights)
        if key not in cache:
            if info.from_thumbnails:
                cache[key] = encoder.encode(iter(image_pixels(inputs, side).thumbnails), batch_size=batch_size)
            else:
                cache[key] = encoder.encode(iter(data), batch_size=batch_size)
        return cache[key]

    return inputs.memo(("image-features-raw", encoder.name, side), compute)


def image_features(inputs: EvalInputs, encoder: ImageEncoder, side: Side, *, batch_size: int = 32) -> np.ndarray:
    """The features of one side as the metrics compare them (n × d float32), computed once per evaluation.

    Parameters
    ----------
    inputs
        The evaluation.
    encoder
        The encoder (see :func:`encoder_for`).
    side
        ``"real"``, ``"synthetic"`` or ``"holdout"``.
    batch_size
        Images per forward pass.
    """

    def compute() -> np.ndarray:
        raw = _raw(inputs, encoder, side, batch_size)
        blocks = encoder_info(inputs, encoder).blocks
        if not blocks:
            return raw
        scaler = inputs.memo(
            ("image-feature-scaler", encoder.name),
            lambda: _Scaler.fit(_raw(inputs, encoder, "real", batch_size), blocks),
        )
        return scaler(raw)

    return inputs.memo(("image-features", encoder.name, side), compute)


@dataclass(frozen=True, slots=True)
class EncodedSides:
    """Real, synthetic and (when asked for and given) holdout features, and the encoder's description."""

    info: EncoderInfo
    real: np.ndarray
    synthetic: np.ndarray
    holdout: np.ndarray | None

    @classmethod
    def of(
        cls, inputs: EvalInputs, encoder: str | ImageEncoder, *, batch_size: int = 32, holdout: bool = False
    ) -> EncodedSides:
        """Encode (or read from the evaluation's cache) real and synthetic, and the holdout when asked and given."""
        enc = encoder_for(inputs, encoder)
        with_holdout = holdout and inputs.holdout is not None
        return cls(
            encoder_info(inputs, enc),
            image_features(inputs, enc, "real", batch_size=batch_size),
            image_features(inputs, enc, "synthetic", batch_size=batch_size),
            image_features(inputs, enc, "holdout", batch_size=batch_size) if with_holdout else None,
        )
