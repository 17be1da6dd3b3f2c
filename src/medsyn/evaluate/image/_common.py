"""What the image-feature metrics share: the encoder option, the cached features and the encoder in details.

Every feature metric takes ``encoder=`` (a registered name such as ``"offline"`` or
``"inception_v3"``, or an :class:`ImageEncoder` instance), reads the evaluation's cached
features through :class:`EncodedSides`, and names the encoder in its details (``encoder``,
``encoder_dim``, ``encoder_input``, ``encoder_weights``, ``encoder_semantic``) and its reason,
because feature-space numbers from different encoders are not comparable.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from medsyn.data.dataset import Modality
from medsyn.evaluate._base import EvalMetric
from medsyn.evaluate._inputs import EvalInputs, Side
from medsyn.evaluate.image._encoders import EncoderInfo, ImageEncoder, get_encoder
from medsyn.evaluate.image._features import EncodedSides
from medsyn.metric import Threshold

__all__ = ["DEFAULT_ENCODER", "ImageFeatureMetric", "resample_counts"]

#: The encoder the image metrics use unless told otherwise: needs no weights and no download.
DEFAULT_ENCODER = "offline"


def resample_counts(inputs: EvalInputs, side: Side, b: int) -> np.ndarray:
    """How often replicate ``b`` of the evaluation's shared bootstrap draws each record of ``side``."""
    n = len(inputs.frame(side))
    return np.bincount(inputs.resample(side, b), minlength=n).astype(np.float64)


class ImageFeatureMetric(EvalMetric):
    """Base of the metrics that compare images in an encoder's feature space.

    Parameters
    ----------
    encoder
        A registered encoder name (``"offline"``, ``"inception_v3"``, ``"torchscript"`` needs
        options, so pass an instance) or an :class:`ImageEncoder`.
    batch_size
        Images per forward pass of the encoder.
    threshold
        Overrides the metric's default threshold.
    """

    modality = Modality.IMAGE
    #: Fewest images each compared side needs.
    min_images: ClassVar[int] = 2

    def __init__(
        self,
        *,
        encoder: str | ImageEncoder = DEFAULT_ENCODER,
        batch_size: int = 32,
        threshold: Threshold | None = None,
    ) -> None:
        super().__init__(threshold=threshold)
        self.encoder = encoder
        self.batch_size = batch_size
        self._info: EncoderInfo | None = None

    def why_not(self, inputs: EvalInputs) -> str | None:
        why = super().why_not(inputs)
        if why is not None:
            return why
        small = [
            f"{side} has {len(data)}"
            for side, data in (("real", inputs.real), ("synthetic", inputs.synthetic))
            if len(data) < self.min_images
        ]
        if small:
            return f"needs at least {self.min_images} images on each side; " + ", ".join(small)
        return None

    def encoded(self, inputs: EvalInputs, *, holdout: bool = False) -> EncodedSides:
        """The evaluation's features for this metric's encoder (encoded once, shared by every metric)."""
        sides = EncodedSides.of(inputs, self.encoder, batch_size=self.batch_size, holdout=holdout)
        self._info = sides.info
        return sides

    def encoder_info(self) -> EncoderInfo:
        """The encoder's description (from the last evaluation, or from the encoder itself)."""
        if self._info is None:
            self._info = get_encoder(self.encoder).describe()
        return self._info
