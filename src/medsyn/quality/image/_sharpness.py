"""Sharpness (variance of the Laplacian, Tenengrad) and noise (Immerkær's σ) of each image."""

from __future__ import annotations

import numpy as np

from medsyn.data.dataset import Dataset
from medsyn.metric import METRICS, ItemResult, MetricResult, Status, Threshold
from medsyn.quality.image._base import ImageMetric, Limits, analysis_size, robust_z
from medsyn.quality.image._features import FeatureConfig

__all__ = ["Noise", "Sharpness"]

_MIN_FOR_OUTLIERS = 10
#: below this many pixels on the short side, derivatives describe the grid, not the picture
_MIN_SIDE = 16


def _too_small(height: int, width: int) -> bool:
    return min(height, width) < _MIN_SIDE


@METRICS.register("sharpness")
class Sharpness(ImageMetric):
    """Focus of each image: variance of the Laplacian and Tenengrad, flagging blurred (unsharp) images.

    Blur from defocus, motion or a dirty lens erases small vessels and microaneurysms. Both
    classic focus measures are reported (in 8-bit grey levels² at the analysis size): the
    variance of the Laplacian (second derivative) and Tenengrad (mean squared Sobel gradient).
    Each depends on the image's content and contrast, so the verdict uses their ratio, the
    *high-frequency index* Laplacian variance / Tenengrad, which blur lowers whatever the
    contrast: on the 480 real fundus photographs it ranges 0.025–0.20 and a Gaussian blur of
    σ = 2 px drops it to about 0.01. An image warns below 0.02, fails below 0.015 or when the
    Laplacian variance is under 0.5 (a flat image), and warns when its index is below a quarter
    of its set's median. For fundus photographs only the inside of the field of view counts.
    """

    name = "sharpness"
    title = "Sharpness (Laplacian variance, Tenengrad)"
    flagged_as = "are unsharp"

    default_limits = Limits(low_warn=0.02, low_fail=0.015)

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        min_laplacian: float = 0.5,
        relative: float = 0.25,
        threshold: Threshold | None = None,
        config: FeatureConfig | None = None,
    ) -> None:
        super().__init__(limits=limits, threshold=threshold, config=config)
        self.min_laplacian = min_laplacian
        self.relative = relative

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        feats = self.features(real)
        index = np.array([f.laplacian_var / f.tenengrad if f.ok and f.tenengrad > 0 else np.nan for f in feats])
        finite = index[np.isfinite(index)]
        med = float(np.median(finite)) if finite.size else float("nan")
        use_relative = finite.size >= _MIN_FOR_OUTLIERS
        items: list[ItemResult] = []
        for f, hf in zip(feats, index, strict=True):
            if not f.ok:
                items.append(self.error_item(f))
                continue
            measures = (
                f"Laplacian variance {f.laplacian_var:.1f}, Tenengrad {f.tenengrad:.0f}, high-frequency index {hf:.3f}"
            )
            if _too_small(f.analysis_height, f.analysis_width):
                status, note = Status.INFO, f"not judged: {f.width}×{f.height} is too small; {measures}"
            elif f.laplacian_var < self.min_laplacian or not np.isfinite(hf):
                status, note = Status.FAIL, f"no detail at all (flat image): {measures}"
            else:
                status, side = self.limits.judge(float(hf))
                note = ("blurred: " if side else "") + measures
                if status is Status.PASS and use_relative and hf < self.relative * med:
                    status, note = Status.WARN, f"much blurrier than the set (median index {med:.3f}): {measures}"
            items.append(
                ItemResult(
                    "image",
                    f.key,
                    float(hf),
                    status,
                    note,
                    {"laplacian_var": f.laplacian_var, "tenengrad": f.tenengrad},
                )
            )
        ok = [f for f in feats if f.ok]
        lap = float(np.median([f.laplacian_var for f in ok])) if ok else float("nan")
        ten = float(np.median([f.tenengrad for f in ok])) if ok else float("nan")
        return self.summarise(
            items,
            total=len(feats),
            measure=f"median Laplacian variance {lap:.1f}, Tenengrad {ten:.0f}, high-frequency index {med:.3f}",
            details={
                "median_laplacian_var": lap,
                "median_tenengrad": ten,
                "median_index": med,
                "analysis_size": analysis_size(feats),
            },
        )


@METRICS.register("image_noise")
class Noise(ImageMetric):
    """Noise level of each image by Immerkær's fast σ estimate, flagging grainy images.

    Sensor noise and heavy compression hide fine structure and mislead models. Immerkær's
    estimator convolves the image with a 3 × 3 difference of Laplacians, which cancels smooth
    structure, and turns the mean absolute response into σ (8-bit grey levels at the analysis
    size; block averaging lowers white noise by the block side). It over-estimates on strongly
    textured images, so an image is judged both absolutely (warn above σ 4, fail above 8) and
    against its set (warn beyond 5 robust standard deviations and twice the median).
    """

    name = "image_noise"
    title = "Noise (Immerkær σ)"
    unit = "share of images"
    flagged_as = "are noisy"

    default_limits = Limits(high_warn=4.0, high_fail=8.0)

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        outlier_z: float = 5.0,
        threshold: Threshold | None = None,
        config: FeatureConfig | None = None,
    ) -> None:
        super().__init__(limits=limits, threshold=threshold, config=config)
        self.outlier_z = outlier_z

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        feats = self.features(real)
        sigma = np.array([f.noise_sigma if f.ok else np.nan for f in feats])
        finite = sigma[np.isfinite(sigma)]
        med = float(np.median(finite)) if finite.size else float("nan")
        z = robust_z(sigma) if finite.size >= _MIN_FOR_OUTLIERS else np.zeros_like(sigma)
        items: list[ItemResult] = []
        for f, zi in zip(feats, z, strict=True):
            if not f.ok:
                items.append(self.error_item(f))
                continue
            status, side = self.limits.judge(f.noise_sigma)
            note = f"noise σ {f.noise_sigma:.2f} grey levels"
            if _too_small(f.analysis_height, f.analysis_width):
                status, note = Status.INFO, f"not judged: {f.width}×{f.height} is too small; {note}"
            elif side:
                note = "noisy: " + note
            elif zi > self.outlier_z and f.noise_sigma > 2 * med:
                status, note = Status.WARN, f"much noisier than the set (median σ {med:.2f}): {note}"
            items.append(ItemResult("image", f.key, f.noise_sigma, status, note, {"z": round(float(zi), 2)}))
        return self.summarise(
            items,
            total=len(feats),
            measure=f"median noise σ {med:.2f} grey levels",
            details={"median_sigma": med, "analysis_size": analysis_size(feats)},
        )
