"""Fundus photographs: field of view, illumination inside it, and a gradability verdict per image.

These checks apply to colour retinal photographs only: a dataset whose ``kind`` is
``"fundus"`` (set by the images reader when the folder or labels mention DR, retina or
fundus), or one where most colour images show a roughly circular bright field of view on a
black surround. Any other dataset gets a ``skipped`` result saying why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from medsyn.data.dataset import Dataset
from medsyn.metric import METRICS, ItemResult, MetricResult, Status, Threshold
from medsyn.quality.image._base import ImageMetric, Limits, worst
from medsyn.quality.image._exposure import Contrast, Exposure
from medsyn.quality.image._features import FeatureConfig, ImageFeatures
from medsyn.quality.image._sharpness import Sharpness

__all__ = ["FundusFieldOfView", "FundusGradability", "FundusIllumination"]


class _FundusMetric(ImageMetric):
    """Shared applicability rule of the fundus checks."""

    def applies_to(self, data: Dataset) -> str | None:
        empty = super().applies_to(data)
        if empty is not None:
            return empty
        kind = getattr(data, "kind", "image")
        if kind == "fundus":
            return None
        if "channels" in data.attributes.columns and not (data.attributes["channels"].fillna(1) >= 3).any():
            return f"not fundus photographs: no colour images (dataset kind '{kind}')"
        feats = [f for f in self.features(data) if f.ok and f.is_colour]
        circular = sum(f.fov_ok for f in feats)
        if not feats or circular < 0.5 * len(feats):
            return (
                f"not fundus photographs: only {circular} of {len(feats)} colour images show a circular "
                f"field of view (dataset kind '{kind}'; read with kind='fundus' to force these checks)"
            )
        return None


def _fov_note(f: ImageFeatures) -> str:
    if not f.is_colour:
        return "grey image: no colour field of view to find"
    if math.isnan(f.fov_fraction) or f.fov_fraction == 0:
        return "no bright field of view found (image too dark or not a fundus photograph)"
    return f"field of view covers {f.fov_fraction:.0%} of the image, overlap with a fitted disc {f.fov_circularity:.2f}"


@METRICS.register("fundus_fov")
class FundusFieldOfView(_FundusMetric):
    """Whether each fundus photograph shows a circular field of view (FOV), found by thresholding its red channel.

    Every later fundus measure is taken inside the FOV, and a photograph without a clean
    circular FOV (lens cap, eyelid, external eye photo, wrong image) is not gradable. The FOV
    is the largest bright component of the red channel after a morphological opening, with its
    holes filled; it must cover 20–99.5 % of the image and overlap the disc fitted to it (clipped
    to the image, since cameras crop the top and bottom) by an IoU of at least 0.85.
    """

    name = "fundus_fov"
    title = "Fundus field of view"
    flagged_as = "lack a usable field of view"

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        feats = self.features(real)
        items: list[ItemResult] = []
        for f in feats:
            if not f.ok:
                items.append(self.error_item(f))
                continue
            status = Status.PASS if f.fov_ok else Status.FAIL
            value = f.fov_circularity if f.is_colour else math.nan
            items.append(
                ItemResult(
                    "image",
                    f.key,
                    value,
                    status,
                    _fov_note(f),
                    {"fov_fraction": f.fov_fraction, "fov_iou": f.fov_circularity},
                )
            )
        fractions = [f.fov_fraction for f in feats if f.ok and f.fov_ok]
        med = float(np.median(fractions)) if fractions else math.nan
        return self.summarise(
            items,
            total=len(feats),
            measure=f"median field of view {med:.0%} of the image",
            details={"median_fov_fraction": med},
        )


@METRICS.register("fundus_illumination")
class FundusIllumination(_FundusMetric):
    """Uniformity of the illumination inside each fundus photograph's field of view (p10 / p90 of the background).

    Uneven illumination — a dark crescent from a misaligned pupil, vignetting, a bright haze —
    hides lesions in the dark part and is a main cause of ungradable photographs. The
    background illumination is the luminance inside the FOV under a heavy Gaussian blur
    (normalised by the blurred FOV mask so the black surround does not darken the rim); the
    uniformity is its 10th percentile over its 90th (1 = even). On the 480 real photographs it
    ranges 0.26–0.92 (median 0.68); an image warns below 0.3 and fails below 0.2.
    """

    name = "fundus_illumination"
    title = "Fundus illumination uniformity"
    flagged_as = "are unevenly lit"

    default_limits = Limits(low_warn=0.30, low_fail=0.20)

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        feats = self.features(real)
        items: list[ItemResult] = []
        for f in feats:
            if not f.ok:
                items.append(self.error_item(f))
            elif not f.fov_ok or math.isnan(f.illumination):
                items.append(ItemResult("image", f.key, math.nan, Status.INFO, "not measured: " + _fov_note(f)))
            else:
                status, _ = self.limits.judge(f.illumination)
                note = (
                    "uneven: " if status is not Status.PASS else ""
                ) + f"illumination uniformity {f.illumination:.2f}"
                items.append(ItemResult("image", f.key, f.illumination, status, note))
        values = [f.illumination for f in feats if f.ok and f.fov_ok and not math.isnan(f.illumination)]
        med = float(np.median(values)) if values else math.nan
        return self.summarise(
            items,
            total=len(feats),
            measure=f"median uniformity {med:.2f}",
            details={"median_uniformity": med, "measured": len(values)},
        )


@METRICS.register("fundus_gradability")
class FundusGradability(_FundusMetric):
    """A gradability verdict per fundus photograph from its field of view, sharpness, exposure, contrast and lighting.

    A grader (human or model) can only read a photograph whose retina is in view, in focus,
    neither too dark nor clipped and evenly lit. An image is *ungradable* (fail) when any
    criterion is at its fail level, *gradable with reservations* (warn) when any is at its
    warn level, and *gradable* otherwise; each item names the criteria that failed, in plain
    words. The value is the share of ungradable images. Criteria (inside the FOV): a circular
    FOV; high-frequency index (Laplacian variance / Tenengrad) ≥ 0.02 (fail < 0.015); mean
    luminance 0.12–0.75 (fail < 0.06 or > 0.85); clipped pixels ≤ 15 % (fail > 40 %);
    under-exposed pixels ≤ 25 % (fail > 50 %); RMS contrast ≥ 0.025 (fail < 0.012);
    illumination uniformity ≥ 0.3 (fail < 0.2).
    """

    name = "fundus_gradability"
    title = "Fundus gradability"
    flagged_as = "are not gradable"

    def __init__(
        self,
        *,
        sharpness: Limits | None = None,
        brightness: Limits | None = None,
        over: Limits | None = None,
        under: Limits | None = None,
        contrast: Limits | None = None,
        illumination: Limits | None = None,
        threshold: Threshold | None = None,
        config: FeatureConfig | None = None,
    ) -> None:
        super().__init__(threshold=threshold, config=config)
        # The same limits as the single checks, so the verdict and the checks never disagree.
        self.sharpness = sharpness or Sharpness.default_limits
        self.brightness = brightness or Exposure.default_mean
        self.over = over or Exposure.default_over
        self.under = under or Exposure.default_under
        self.contrast = contrast or Contrast.default_limits
        self.illumination = illumination or FundusIllumination.default_limits

    def _criteria(self, f: ImageFeatures) -> list[tuple[Status, str]]:
        index = f.laplacian_var / f.tenengrad if f.tenengrad > 0 else 0.0
        checks: Sequence[tuple[Limits, float, str, str]] = (
            (self.sharpness, index, f"unsharp (high-frequency index {index:.3f})", ""),
            (
                self.brightness,
                f.brightness,
                f"too dark (mean luminance {f.brightness:.2f})",
                f"too bright (mean luminance {f.brightness:.2f})",
            ),
            (
                self.over,
                f.over,
                f"over-exposed ({f.over:.0%} clipped pixels)",
                f"over-exposed ({f.over:.0%} clipped pixels)",
            ),
            (
                self.under,
                f.under,
                f"under-exposed ({f.under:.0%} dark pixels)",
                f"under-exposed ({f.under:.0%} dark pixels)",
            ),
            (self.contrast, f.rms_contrast, f"low contrast (RMS {f.rms_contrast:.3f})", ""),
            (self.illumination, f.illumination, f"unevenly lit (uniformity {f.illumination:.2f})", ""),
        )
        found: list[tuple[Status, str]] = []
        for limits, value, low_words, high_words in checks:
            status, side = limits.judge(value)
            if status is not Status.PASS and status is not Status.INFO:
                found.append((status, low_words if side == "low" or not high_words else high_words))
        return found

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        feats = self.features(real)
        items: list[ItemResult] = []
        reservations = 0
        for f in feats:
            if not f.ok:
                items.append(self.error_item(f))
                continue
            if not f.fov_ok:
                items.append(ItemResult("image", f.key, 0.0, Status.FAIL, "not gradable: " + _fov_note(f)))
                continue
            found = self._criteria(f)
            status = worst(*(s for s, _ in found))
            words = "; ".join(w for _, w in sorted(found, key=lambda sw: -sw[0].severity))
            if status is Status.FAIL:
                note, value = f"not gradable: {words}", 0.0
            elif status is Status.WARN:
                note, value = f"gradable with reservations: {words}", 0.5
                reservations += 1
            else:
                note, value = "gradable", 1.0
            items.append(ItemResult("image", f.key, value, status, note))
        # the value counts only ungradable images; reservations are reported beside it
        ungradable = [i for i in items if i.status is Status.FAIL]
        errors = sum(i.status is Status.ERROR for i in items)
        measured = len(feats) - errors
        gradable = measured - len(ungradable) - reservations
        result = self.summarise(
            [i for i in items if i.status is not Status.WARN],
            total=len(feats),
            measure=f"{gradable} gradable, {reservations} gradable with reservations",
            details={
                "ungradable": len(ungradable),
                "with_reservations": reservations,
                "gradable": gradable,
            },
        )
        return self.result(result.value, result.reason, status=result.status, items=items, details=result.details)
