"""Fréchet distance between real and synthetic image features (FID when the encoder is InceptionV3).

FID = ‖μ_r − μ_s‖² + tr Σ_r + tr Σ_s − 2 tr (Σ_r Σ_s)^½ between Gaussians fitted to the two sets of
features (Heusel et al., 2017; covariances with the n − 1 denominator, as pytorch-fid).

:func:`frechet_distance` is pytorch-fid's computation from moments: ``scipy.linalg.sqrtm`` of the
covariance product, ``eps·I`` added to both covariances when the square root is not finite, and
imaginary parts dropped when they are negligible. The metric computes the same number a faster,
exact way: with Σ = F Fᵀ for any factor F, tr (Σ_r Σ_s)^½ is the sum of the singular values of
F_rᵀ F_s, its nuclear norm (read off the eigenvalues of its smaller Gram matrix). F is the centred
features / √(n − 1) when there are fewer images than dimensions, else the Cholesky factor of Σ.
No non-symmetric square root, no imaginary parts, and at 2048 dimensions a fraction of a second
where ``sqrtm`` takes a minute on two cores; the tests check both against each other and against
the closed form for Gaussians. That speed is what makes the bootstrap interval affordable:
replicate ``b`` refits both Gaussians on the evaluation's shared resample ``b`` of the real and
the synthetic images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from medsyn.evaluate._inputs import EvalInputs, percentile_ci
from medsyn.evaluate.image._common import ImageFeatureMetric, resample_counts
from medsyn.evaluate.image._encoders import ImageEncoder
from medsyn.metric import METRICS, Direction, MetricKind, MetricResult, Threshold

__all__ = ["FrechetDistance", "FrechetParts", "frechet_distance", "frechet_parts"]

#: Factor ranks up to which the linear algebra runs on one thread.
SMALL_RANK = 1024


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, *, eps: float = 1e-6
) -> float:
    """Fréchet distance of two Gaussians from their moments, computed as pytorch-fid does.

    Parameters
    ----------
    mu1, sigma1, mu2, sigma2
        Means (d) and covariances (d × d).
    eps
        Added to both diagonals when the matrix square root of the product is not finite.

    Raises
    ------
    ValueError
        When the square root keeps an imaginary part larger than 1e-3 on its diagonal.

    Examples
    --------
    >>> frechet_distance(np.zeros(2), np.eye(2), np.ones(2), 4 * np.eye(2))
    4.0
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    diff = mu1 - mu2
    from scipy import linalg

    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(len(sigma1)) * eps
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"imaginary component {np.max(np.abs(covmean.imag)):.3g} in sqrtm(Σ1 Σ2)")
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


@dataclass(frozen=True, slots=True)
class FrechetParts:
    """The Fréchet distance and its terms: mean term ‖μ_r − μ_s‖², the two traces and tr (Σ_r Σ_s)^½."""

    distance: float
    mean_term: float
    trace_real: float
    trace_synthetic: float
    trace_sqrt: float

    @property
    def covariance_term(self) -> float:
        return self.distance - self.mean_term


def _moments(x: np.ndarray, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, float]:
    """Mean, a factor F with Σ = F Fᵀ (d × r, r ≤ min(n, d)), and tr Σ of weighted rows."""
    if weights is not None:
        keep = weights > 0
        x, w = x[keep], weights[keep]
    else:
        w = np.ones(len(x))
    m = float(w.sum())
    mu = w @ x / m
    xc = x - mu
    scaled = xc * np.sqrt(w / (m - 1))[:, None]
    trace = float(np.einsum("ij,ij->", scaled, scaled))
    if len(x) <= x.shape[1]:
        return mu, scaled.T, trace
    from scipy import linalg

    cov = scaled.T @ scaled
    try:
        return mu, linalg.cholesky(cov, lower=True), trace
    except linalg.LinAlgError:  # singular: a symmetric square root is a factor too
        vals, vecs = linalg.eigh(cov)
        return mu, vecs * np.sqrt(np.clip(vals, 0, None)), trace


def frechet_parts(
    real: np.ndarray,
    synthetic: np.ndarray,
    *,
    real_weights: np.ndarray | None = None,
    synthetic_weights: np.ndarray | None = None,
) -> FrechetParts:
    """Fréchet distance between two sets of features (rows), optionally with per-row counts (a bootstrap).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(500, 3)), rng.normal(size=(500, 3)) + 1
    >>> round(frechet_parts(a, b).mean_term, 1)
    3.0
    """
    mu_r, f_r, tr_r = _moments(real.astype(np.float64), real_weights)
    mu_s, f_s, tr_s = _moments(synthetic.astype(np.float64), synthetic_weights)
    cross = f_r.T @ f_s
    # the singular values of the cross product are the square roots of its Gram matrix's eigenvalues
    gram = cross @ cross.T if cross.shape[0] <= cross.shape[1] else cross.T @ cross
    from scipy import linalg

    trace_sqrt = float(np.sqrt(np.clip(linalg.eigvalsh(gram), 0, None)).sum())
    diff = mu_r - mu_s
    mean_term = float(diff @ diff)
    return FrechetParts(mean_term + tr_r + tr_s - 2 * trace_sqrt, mean_term, tr_r, tr_s, trace_sqrt)


@METRICS.register("frechet_distance")
class FrechetDistance(ImageFeatureMetric):
    """Fréchet distance between real and synthetic image features (FID with the InceptionV3 encoder).

    Fits a Gaussian to the features of the real and of the synthetic images and measures how far
    apart they are: the squared distance of the means plus a term for the covariances; 0 when
    the synthetic images are distributed like the real ones in feature space. It is the standard
    fidelity number of image generators, but it mixes fidelity and diversity and depends on the
    encoder and on sample size, so it is only comparable between runs with the same encoder, the
    same real set and similar numbers of images. The interval is a bootstrap over the shared
    resamples of both sides, re-centred on the estimate (a resample repeats images, which
    inflates FID by the ``bootstrap_shift`` in the details). Score:
    exp(−FID / scale), with the encoder's scale (offline 10, inception_v3 50).
    """

    name = "frechet_distance"
    title = "Fréchet distance of image features (FID)"
    kind = MetricKind.FIDELITY
    direction = Direction.MINIMIZE
    ideal = 0.0

    def __init__(
        self,
        *,
        encoder: str | ImageEncoder = "offline",
        n_bootstrap: int | None = None,
        batch_size: int = 32,
        threshold: Threshold | None = None,
    ) -> None:
        super().__init__(encoder=encoder, batch_size=batch_size, threshold=threshold)
        self.n_bootstrap = n_bootstrap

    def _scale(self) -> float:
        return self.encoder_info().fid_scale

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        sides = self.encoded(inputs)
        n_boot = inputs.n_bootstrap if self.n_bootstrap is None else min(self.n_bootstrap, inputs.n_bootstrap)
        rank = max(min(len(x), x.shape[1]) for x in (sides.real, sides.synthetic))
        # small factorisations gain nothing from threads and lose much when processes share the cores
        with threadpool_limits(limits=1 if rank <= SMALL_RANK else None):
            parts = frechet_parts(sides.real, sides.synthetic)
            reps = np.array(
                [
                    frechet_parts(
                        sides.real,
                        sides.synthetic,
                        real_weights=resample_counts(inputs, "real", b),
                        synthetic_weights=resample_counts(inputs, "synthetic", b),
                    ).distance
                    for b in range(n_boot)
                ]
            )
        # a resample repeats images, which inflates FID (its small-sample bias grows); the replicates
        # are re-centred on the estimate so that the interval measures spread, not that bias
        shift = float(reps.mean() - parts.distance) if n_boot else 0.0
        reps = reps - shift
        ci = percentile_ci(reps) if n_boot > 1 else None
        info = sides.info
        relative = parts.distance / parts.trace_real if parts.trace_real > 0 else math.nan
        reason = (
            f"Fréchet distance {parts.distance:.4g} between {len(sides.synthetic)} synthetic and "
            f"{len(sides.real)} real images in '{info.name}' features ({info.dim}-d): mean term "
            f"{parts.mean_term:.3g}, covariance term {parts.covariance_term:.3g}; "
            f"{relative:.2f}× the real features' total variance"
        )
        # default limits follow the encoder's scale: warn beyond a quarter of it, fail beyond it
        threshold = self.threshold or Threshold(warn=0.25 * self._scale(), fail=self._scale())
        result = self.result(
            parts.distance,
            reason,
            status=threshold.judge(parts.distance, self.direction),
            details={
                **info.details(),
                "mean_term": parts.mean_term,
                "covariance_term": parts.covariance_term,
                "trace_real": parts.trace_real,
                "trace_synthetic": parts.trace_synthetic,
                "relative_to_real_variance": relative,
                "score_scale": self._scale(),
                "real_images": len(sides.real),
                "synthetic_images": len(sides.synthetic),
                "bootstrap_replicates": n_boot,
                "bootstrap_shift": shift,
            },
            ci=ci,
            replicates=reps,
        )
        return replace(result, threshold=threshold)

    def score(self, value: float) -> float:
        """exp(−FID / scale): 1 at 0, 1/e at the encoder's ``fid_scale``; monotone decreasing."""
        if math.isnan(value):
            return math.nan
        return math.exp(-max(value, 0.0) / self._scale())
