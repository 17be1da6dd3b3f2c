"""Brightness, contrast and exposure: is each image lit well enough to see what it shows?"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from medsyn.data.dataset import Dataset
from medsyn.metric import METRICS, ItemResult, MetricResult, Status, Threshold
from medsyn.quality.image._base import ImageMetric, Limits, analysis_size, robust_z, worst
from medsyn.quality.image._features import FeatureConfig

__all__ = ["Brightness", "Contrast", "Exposure"]

#: robust z-score beyond which an image is unlike the rest of its set; needs at least this many images
_OUTLIER_Z = 4.0
_MIN_FOR_OUTLIERS = 10


def _where(in_fov: bool) -> str:
    return " in the field of view" if in_fov else ""


@METRICS.register("brightness")
class Brightness(ImageMetric):
    """Mean luminance of each image (0 black – 1 white), flagging images too dark or too bright to read.

    A photograph or radiograph whose mean luminance is near either end hides detail, and one
    much darker or brighter than the rest of its set (more than 4 robust standard deviations
    from the median) usually comes from another device or setting. For fundus photographs the
    mean is taken inside the field of view, not over the black surround. Absolute limits apply
    only to 8-bit images; other bit depths (DICOM) are scaled to their own range and judged
    only against the set.
    """

    name = "brightness"
    title = "Brightness"
    flagged_as = "are too dark or too bright"

    default_limits = Limits(low_fail=0.06, low_warn=0.12, high_warn=0.80, high_fail=0.90)

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        outlier_z: float = _OUTLIER_Z,
        threshold: Threshold | None = None,
        config: FeatureConfig | None = None,
    ) -> None:
        super().__init__(limits=limits, threshold=threshold, config=config)
        self.outlier_z = outlier_z

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        feats = self.features(real)
        values = np.array([f.brightness if f.ok else np.nan for f in feats])
        z = robust_z(values) if np.isfinite(values).sum() >= _MIN_FOR_OUTLIERS else np.zeros_like(values)
        med = float(np.nanmedian(values)) if np.isfinite(values).any() else float("nan")
        items: list[ItemResult] = []
        for f, zi in zip(feats, z, strict=True):
            if not f.ok:
                items.append(self.error_item(f))
                continue
            status, side = self.limits.judge(f.brightness) if f.native_range else (Status.PASS, "")
            note = f"mean luminance {f.brightness:.2f}{_where(f.in_fov)}"
            if side:
                note = ("too dark: " if side == "low" else "too bright: ") + note
            elif abs(zi) > self.outlier_z:
                status = Status.WARN
                note = ("much darker" if zi < 0 else "much brighter") + f" than the set (median {med:.2f}): " + note
            items.append(ItemResult("image", f.key, f.brightness, status, note, {"z": round(float(zi), 2)}))
        return self.summarise(
            items,
            total=len(feats),
            measure=f"median luminance {med:.2f}",
            details={"median": med, "analysis_size": analysis_size(feats)},
        )


@METRICS.register("contrast")
class Contrast(ImageMetric):
    """RMS contrast (standard deviation of luminance) and Michelson contrast of each image, flagging flat images.

    Low contrast washes out vessels, lesions and edges. RMS contrast is the spread of luminance
    (0–1 scale); Michelson contrast is (max − min) / (max + min) over the 1st–99th percentiles,
    so a few hot pixels do not count. For fundus photographs both are taken inside the field
    of view. An image warns below RMS 0.025 and fails below 0.012.
    """

    name = "contrast"
    title = "Contrast (RMS / Michelson)"
    flagged_as = "have low contrast"

    default_limits = Limits(low_warn=0.025, low_fail=0.012)

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        feats = self.features(real)
        items: list[ItemResult] = []
        for f in feats:
            if not f.ok:
                items.append(self.error_item(f))
                continue
            status, _ = self.limits.judge(f.rms_contrast)
            note = f"RMS contrast {f.rms_contrast:.3f}, Michelson {f.michelson:.2f}{_where(f.in_fov)}"
            items.append(ItemResult("image", f.key, f.rms_contrast, status, note, {"michelson": f.michelson}))
        ok = [f for f in feats if f.ok]
        rms = float(np.median([f.rms_contrast for f in ok])) if ok else float("nan")
        mich = float(np.median([f.michelson for f in ok])) if ok else float("nan")
        return self.summarise(
            items,
            total=len(feats),
            measure=f"median RMS contrast {rms:.3f}, Michelson {mich:.2f}",
            details={"median_rms": rms, "median_michelson": mich, "analysis_size": analysis_size(feats)},
        )


@METRICS.register("exposure")
class Exposure(ImageMetric):
    """Share of under- and over-exposed pixels in each image, flagging images crushed to black or clipped to white.

    A pixel is under-exposed below 10/255 luminance and over-exposed (clipped) when any colour
    channel exceeds 245/255: clipped areas hold no information, and in fundus photographs the
    red channel saturates first. An image warns when more than 25 % of its pixels are
    under-exposed or its mean luminance is below 0.12, or when more than 15 % are clipped or
    its mean is above 0.75; it fails at 50 %, 0.06, 40 % and 0.85. Fundus photographs are
    measured inside the field of view. Only 8-bit images are judged (others have no fixed
    black and white level).
    """

    name = "exposure"
    title = "Exposure (under / over)"
    flagged_as = "are badly exposed"

    #: share of under-exposed pixels, of clipped pixels, and mean luminance (the gradability verdict reuses them)
    default_under: ClassVar[Limits] = Limits(high_warn=0.25, high_fail=0.50)
    default_over: ClassVar[Limits] = Limits(high_warn=0.15, high_fail=0.40)
    default_mean: ClassVar[Limits] = Limits(low_warn=0.12, low_fail=0.06, high_warn=0.75, high_fail=0.85)

    def __init__(
        self,
        *,
        under: Limits | None = None,
        over: Limits | None = None,
        mean: Limits | None = None,
        threshold: Threshold | None = None,
        config: FeatureConfig | None = None,
    ) -> None:
        super().__init__(threshold=threshold, config=config)
        self.under = under or self.default_under
        self.over = over or self.default_over
        self.mean = mean or self.default_mean

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        feats = self.features(real)
        items: list[ItemResult] = []
        judged = 0
        for f in feats:
            if not f.ok:
                items.append(self.error_item(f))
                continue
            shares = f"{f.under:.1%} under-, {f.over:.1%} over-exposed pixels{_where(f.in_fov)}"
            if not f.native_range:
                items.append(
                    ItemResult(
                        "image",
                        f.key,
                        f.under + f.over,
                        Status.INFO,
                        f"not judged (not 8-bit; values scaled to their own range); {shares}",
                    )
                )
                continue
            judged += 1
            s_under, _ = self.under.judge(f.under)
            s_over, _ = self.over.judge(f.over)
            s_mean, side = self.mean.judge(f.brightness)
            status = worst(s_under, s_over, s_mean)
            words = []
            if s_under is not Status.PASS or side == "low":
                words.append("under-exposed")
            if s_over is not Status.PASS or side == "high":
                words.append("over-exposed")
            note = (" and ".join(words) + ": " if words else "") + f"{shares}, mean luminance {f.brightness:.2f}"
            items.append(
                ItemResult(
                    "image",
                    f.key,
                    f.under + f.over,
                    status,
                    note,
                    {"under": f.under, "over": f.over, "mean": f.brightness},
                )
            )
        ok = [f for f in feats if f.ok]
        med_over = float(np.median([f.over for f in ok])) if ok else float("nan")
        med_under = float(np.median([f.under for f in ok])) if ok else float("nan")
        return self.summarise(
            items,
            total=len(feats),
            measure=f"median {med_under:.1%} under-, {med_over:.1%} over-exposed pixels",
            details={
                "judged": judged,
                "median_under": med_under,
                "median_over": med_over,
                "dark_level": self.config.dark_level,
                "bright_level": self.config.bright_level,
                "analysis_size": analysis_size(feats),
            },
        )
