"""Precision, recall, density and coverage of synthetic images in an encoder's feature space.

The k-nearest-neighbour manifold estimates of Kynkäänniemi et al. (2019, improved precision and
recall) and Naeem et al. (2020, density and coverage), with k = 5:

- a real image's ball has the radius to its k-th nearest real neighbour (itself excluded), a
  synthetic image's ball that to its k-th nearest synthetic neighbour;
- **precision**: share of synthetic images inside at least one real ball (realism);
- **recall**: share of real images inside at least one synthetic ball (the real variety the
  synthetic set reaches);
- **density**: mean number of real balls holding a synthetic image, divided by k (≈ 1 when the
  synthetic images are spread like the real ones, > 1 when they crowd dense regions);
- **coverage**: share of real images whose ball holds at least one synthetic image (diversity,
  robust to outliers).

A ball holds points at distance ≤ its radius (the ``prdc`` package uses <; the difference is only
ties). Neighbours and counts come from the evaluation core (:func:`nearest`,
:func:`count_within`): blocked, never an all-pairs matrix. The four metrics share one computation
per encoder and k. Intervals are bootstraps of the per-image terms over the evaluation's shared
resamples (the radii are kept fixed).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from medsyn.evaluate._base import clip01
from medsyn.evaluate._inputs import EvalInputs, Side
from medsyn.evaluate._neighbors import count_within, nearest
from medsyn.evaluate.image._common import ImageFeatureMetric
from medsyn.evaluate.image._encoders import ImageEncoder
from medsyn.metric import METRICS, Direction, MetricKind, MetricResult, Threshold

__all__ = ["ImageCoverage", "ImageDensity", "ImagePrecision", "ImageRecall", "Manifolds", "manifolds"]


@dataclass(frozen=True, slots=True)
class Manifolds:
    """Per-image terms of the four metrics: real and synthetic ball radii and who is inside whose ball."""

    k: int
    real_radii: np.ndarray
    synthetic_radii: np.ndarray
    #: per synthetic image: how many real balls hold it
    inside_real: np.ndarray
    #: per real image: whether any synthetic ball holds it
    inside_synthetic: np.ndarray
    #: per real image: whether its own ball holds a synthetic image
    covered: np.ndarray
    method: str


def manifolds(real: np.ndarray, synthetic: np.ndarray, k: int = 5) -> Manifolds:
    """The k-NN manifold terms of real and synthetic features (rows).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> m = manifolds(rng.normal(size=(200, 4)), rng.normal(size=(200, 4)))
    >>> 0.6 < float((m.inside_real > 0).mean()) <= 1.0
    True
    """
    real_nn = nearest(real, real, k, exclude_self=True)
    syn_nn = nearest(synthetic, synthetic, k, exclude_self=True)
    real_radii = real_nn.distances[:, -1]
    syn_radii = syn_nn.distances[:, -1]
    inside_real = count_within(synthetic, real, real_radii)
    inside_syn = count_within(real, synthetic, syn_radii) > 0
    to_syn = nearest(real, synthetic, 1)
    covered = to_syn.first() <= real_radii
    return Manifolds(k, real_radii, syn_radii, inside_real, inside_syn, covered, real_nn.method)


class _ManifoldMetric(ImageFeatureMetric):
    """Shared parameters and computation of the four k-NN manifold metrics."""

    direction = Direction.MAXIMIZE
    ideal = 1.0
    unit = "share of images"
    default_threshold = Threshold(warn=0.6, fail=0.4)
    #: which side's images the value averages over
    side: ClassVar[Side]

    def __init__(
        self,
        *,
        encoder: str | ImageEncoder = "offline",
        k: int = 5,
        batch_size: int = 32,
        threshold: Threshold | None = None,
    ) -> None:
        super().__init__(encoder=encoder, batch_size=batch_size, threshold=threshold)
        self.k = k

    def why_not(self, inputs: EvalInputs) -> str | None:
        why = super().why_not(inputs)
        if why is not None:
            return why
        n_r, n_s = len(inputs.real), len(inputs.synthetic)
        if min(n_r, n_s) <= self.k:
            return f"needs more than k={self.k} images on each side (real {n_r}, synthetic {n_s})"
        return None

    @abstractmethod
    def _terms(self, m: Manifolds) -> np.ndarray:
        """One term per image of :attr:`side`; the value is their mean."""

    @abstractmethod
    def _words(self, value: float, m: Manifolds, n_real: int, n_syn: int) -> str:
        """The value in words, for the reason."""

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        sides = self.encoded(inputs)
        m = inputs.memo(
            ("image-manifolds", sides.info.name, self.k), lambda: manifolds(sides.real, sides.synthetic, self.k)
        )
        terms = self._terms(m).astype(np.float64)
        value = float(terms.mean())
        ci, reps = inputs.bootstrap_mean(terms, self.side)
        reason = (
            self._words(value, m, len(sides.real), len(sides.synthetic)) + f" ('{sides.info.name}' features, k={m.k})"
        )
        return self.result(
            value,
            reason,
            details={
                **sides.info.details(),
                "k": m.k,
                "neighbours": m.method,
                "real_images": len(sides.real),
                "synthetic_images": len(sides.synthetic),
            },
            ci=ci,
            replicates=reps,
        )


@METRICS.register("image_precision")
class ImagePrecision(_ManifoldMetric):
    """Share of synthetic images that fall inside the real images' k-NN manifold (improved precision).

    A synthetic image counts as realistic when it lies within the ball of at least one real
    image (radius: distance to that image's 5th nearest real neighbour) in the encoder's feature
    space. Low precision means many synthetic images look like nothing in the real set — blurred,
    noisy, off-colour or broken samples (Kynkäänniemi et al., 2019).
    """

    name = "image_precision"
    title = "Precision of synthetic images (k-NN manifold)"
    kind = MetricKind.FIDELITY
    side = "synthetic"

    def _terms(self, m: Manifolds) -> np.ndarray:
        return m.inside_real > 0

    def _words(self, value: float, m: Manifolds, n_real: int, n_syn: int) -> str:
        return f"{value:.1%} of {n_syn} synthetic images lie inside the real images' manifold"


@METRICS.register("image_recall")
class ImageRecall(_ManifoldMetric):
    """Share of real images that fall inside the synthetic images' k-NN manifold (improved recall).

    A real image is reached when it lies within the ball of at least one synthetic image
    (radius: distance to that image's 5th nearest synthetic neighbour). Low recall means the
    synthetic set misses part of the real variety; a collapsed generator (one image repeated)
    has balls of radius 0 and recall near 0 (Kynkäänniemi et al., 2019).
    """

    name = "image_recall"
    title = "Recall of real images by the synthetic set (k-NN manifold)"
    kind = MetricKind.DIVERSITY
    side = "real"

    def _terms(self, m: Manifolds) -> np.ndarray:
        return m.inside_synthetic

    def _words(self, value: float, m: Manifolds, n_real: int, n_syn: int) -> str:
        return f"{value:.1%} of {n_real} real images lie inside the synthetic images' manifold"


@METRICS.register("image_density")
class ImageDensity(_ManifoldMetric):
    """How many real k-NN balls hold each synthetic image, divided by k (density; 1 when spread like the real images).

    Density counts, rather than just detects, the real balls around each synthetic image, so it
    is robust to real outliers that inflate precision: about 1 when synthetic images are spread
    like real ones, below 1 when they sit in sparse or empty regions, above 1 when they crowd the
    densest ones (Naeem et al., 2020). Score: 1 − |density − 1|, clipped to [0, 1].
    """

    name = "image_density"
    title = "Density of synthetic images in the real manifold"
    kind = MetricKind.FIDELITY
    unit = ""
    side = "synthetic"

    def _terms(self, m: Manifolds) -> np.ndarray:
        return m.inside_real / m.k

    def _words(self, value: float, m: Manifolds, n_real: int, n_syn: int) -> str:
        return f"each of {n_syn} synthetic images lies in {value * m.k:.2f} real balls on average (density {value:.3f})"

    def score(self, value: float) -> float:
        """1 − |density − 1|, clipped to [0, 1]: 1 at density 1, 0 at 0 and at 2 or more."""
        return clip01(1.0 - abs(value - 1.0))


@METRICS.register("image_coverage")
class ImageCoverage(_ManifoldMetric):
    """Share of real images whose k-NN ball holds at least one synthetic image (coverage).

    Coverage asks whether the synthetic set reaches every part of the real set, measured around
    the real images, so unlike recall it is not inflated by synthetic outliers. A collapsed
    generator covers only the few real images near its repeated sample (Naeem et al., 2020).
    """

    name = "image_coverage"
    title = "Coverage of the real images by the synthetic set"
    kind = MetricKind.DIVERSITY
    side = "real"

    def _terms(self, m: Manifolds) -> np.ndarray:
        return m.covered

    def _words(self, value: float, m: Manifolds, n_real: int, n_syn: int) -> str:
        return f"{value:.1%} of {n_real} real images have a synthetic image within their k-NN ball"
