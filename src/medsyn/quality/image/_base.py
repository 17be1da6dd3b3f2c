"""What every image quality metric shares: the cached features, per-image verdicts and the summary.

An image metric judges each image (an :class:`ItemResult` with scope ``"image"`` and the file
name as key) and reports as its value the share of images flagged (warn or worse), so every
image check reads the same way in a report: "3 of 40 images (7.5 %) are unsharp: ...".
Images that could not be decoded are ``error`` items, named, and left out of the share.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np

from medsyn.data.dataset import Dataset, ImageDataset, Modality
from medsyn.metric import Detail, Direction, ItemResult, Metric, MetricKind, MetricResult, Status, Threshold
from medsyn.quality.image._features import DEFAULT_CONFIG, FeatureConfig, ImageFeatures, features_for

__all__ = ["ImageMetric", "Limits", "robust_z"]

_LISTED = 5


class Limits:
    """Two-sided or one-sided per-image limits: beyond ``warn`` warns, beyond ``fail`` fails.

    Parameters
    ----------
    low_warn, low_fail
        A value below ``low_warn`` warns, below ``low_fail`` fails (``None``: no lower limit).
    high_warn, high_fail
        A value above ``high_warn`` warns, above ``high_fail`` fails (``None``: no upper limit).
    """

    __slots__ = ("high_fail", "high_warn", "low_fail", "low_warn")

    def __init__(
        self,
        *,
        low_warn: float | None = None,
        low_fail: float | None = None,
        high_warn: float | None = None,
        high_fail: float | None = None,
    ) -> None:
        self.low_warn, self.low_fail, self.high_warn, self.high_fail = low_warn, low_fail, high_warn, high_fail

    def judge(self, value: float) -> tuple[Status, str]:
        """The status of ``value`` and which side it broke (``"low"``, ``"high"`` or ``""``)."""
        if math.isnan(value):
            return Status.INFO, ""
        if self.low_fail is not None and value < self.low_fail:
            return Status.FAIL, "low"
        if self.high_fail is not None and value > self.high_fail:
            return Status.FAIL, "high"
        if self.low_warn is not None and value < self.low_warn:
            return Status.WARN, "low"
        if self.high_warn is not None and value > self.high_warn:
            return Status.WARN, "high"
        return Status.PASS, ""

    def __repr__(self) -> str:
        return (
            f"Limits(low_warn={self.low_warn}, low_fail={self.low_fail}, "
            f"high_warn={self.high_warn}, high_fail={self.high_fail})"
        )


def robust_z(values: np.ndarray) -> np.ndarray:
    """Distance from the median in robust standard deviations (1.4826 × MAD); NaN stays NaN.

    The MAD is floored at 5 % of the median's magnitude so that a set of near-identical values
    does not turn a tiny difference into an outlier.
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.full_like(values, np.nan, dtype=float)
    med = float(np.median(finite))
    mad = 1.4826 * float(np.median(np.abs(finite - med)))
    scale = max(mad, 0.05 * abs(med), 1e-12)
    return (values - med) / scale


def worst(*statuses: Status) -> Status:
    return max(statuses, key=lambda s: s.severity, default=Status.PASS)


class ImageMetric(Metric):
    """Base of the image quality metrics: features from the shared one-pass cache, value = share flagged.

    Parameters
    ----------
    limits
        Per-image limits on the check's feature (default: the class's ``default_limits``).
    threshold
        Limits on the share of flagged images (default: more than 5 % warns, more than 20 % fails).
    config
        Feature extraction settings (analysis size, exposure levels, threads); metrics with the
        same config share one decoding pass.
    """

    modality = Modality.IMAGE
    kind = MetricKind.QUALITY
    direction = Direction.MINIMIZE
    ideal = 0.0
    unit = "share of images"
    default_threshold: ClassVar[Threshold | None] = Threshold(warn=0.05, fail=0.20)
    #: what a flagged image is, in plain words ("unsharp", "badly exposed")
    flagged_as: ClassVar[str] = "flagged"
    #: per-image limits of checks that judge one feature per image (none: nothing is flagged)
    default_limits: ClassVar[Limits] = Limits()

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        threshold: Threshold | None = None,
        config: FeatureConfig | None = None,
    ) -> None:
        super().__init__(threshold=threshold)
        self.limits = limits if limits is not None else self.default_limits
        self.config = config if config is not None else DEFAULT_CONFIG

    def applies_to(self, data: Dataset) -> str | None:
        if len(data) == 0:
            return "the dataset holds no images"
        return None

    def features(self, data: Dataset) -> tuple[ImageFeatures, ...]:
        """The shared per-image features of ``data`` (computed on first use, then cached)."""
        assert isinstance(data, ImageDataset)
        return features_for(data, self.config)

    @staticmethod
    def error_item(f: ImageFeatures) -> ItemResult:
        return ItemResult("image", f.key, math.nan, Status.ERROR, f"could not be measured: {f.error}")

    def summarise(
        self,
        items: Sequence[ItemResult],
        *,
        total: int,
        measure: str,
        details: Mapping[str, Detail] | None = None,
        extra_status: Status = Status.PASS,
    ) -> MetricResult:
        """Value = share of measured images flagged; the reason names the first few flagged images.

        Parameters
        ----------
        items
            One item per image, or only the flagged ones (duplicate checks).
        total
            Number of images in the dataset.
        measure
            A clause summarising the measurement for the reason, e.g. "median Laplacian variance 31".
        details
            Extra numbers for the report.
        extra_status
            A status the dataset-level verdict must reach at least.
        """
        errors = [i for i in items if i.status is Status.ERROR]
        flagged = [i for i in items if i.status in (Status.WARN, Status.FAIL)]
        flagged.sort(key=lambda i: -i.status.severity)
        measured = total - len(errors)
        value = len(flagged) / measured if measured else math.nan
        if measured == 0:
            reason = f"none of the {total} images could be measured ({errors[0].note})" if errors else "no images"
            return self.result(math.nan, reason, status=Status.ERROR, items=items, details=details)
        if flagged:
            names = ", ".join(f"{i.key} ({i.note})" for i in flagged[:_LISTED])
            more = f" and {len(flagged) - _LISTED} more" if len(flagged) > _LISTED else ""
            reason = f"{len(flagged)} of {measured} images ({value:.1%}) {self.flagged_as}: {names}{more}; {measure}"
        else:
            reason = f"none of the {measured} images {self.flagged_as}; {measure}"
            if self.flagged_as.startswith("are not "):  # "none ... are not gradable" reads badly
                reason = f"all {measured} images are {self.flagged_as.removeprefix('are not ')}; {measure}"
        status = worst(self.judge(value), extra_status)
        if errors:
            reason += f"; {len(errors)} image(s) could not be read ({', '.join(e.key for e in errors[:_LISTED])})"
            status = worst(status, Status.WARN)
        all_details: dict[str, Detail] = {"images": total, "flagged": len(flagged), "unreadable": len(errors)}
        all_details.update(details or {})
        return self.result(value, reason, status=status, items=items, details=all_details)


def analysis_size(feats: Sequence[ImageFeatures]) -> str:
    """How the images were measured, for details: "512×342 (1/2 of 1024×685)" or a range."""
    ok = [f for f in feats if f.ok]
    if not ok:
        return ""
    sizes = {(f.analysis_width, f.analysis_height, f.factor) for f in ok}
    if len(sizes) == 1:
        w, h, k = next(iter(sizes))
        return f"{w}×{h}" + (f" (block mean 1/{k} of the original)" if k > 1 else " (full size)")
    longest = max(max(f.analysis_width, f.analysis_height) for f in ok)
    return f"long side ≤ {longest} px (block-averaged by an integer factor)"
