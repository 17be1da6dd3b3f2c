"""Resolution and aspect-ratio consistency across an image set."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from medsyn.data.dataset import Dataset, ImageDataset
from medsyn.metric import METRICS, ItemResult, MetricResult, Status, Threshold
from medsyn.quality.image._base import ImageMetric
from medsyn.quality.image._features import image_keys

__all__ = ["ResolutionConsistency"]


@METRICS.register("image_resolution")
class ResolutionConsistency(ImageMetric):
    """Whether all images share one size and aspect ratio, flagging those that differ from the most common.

    Models take a fixed input size: images of another resolution are resampled, and another
    aspect ratio is cropped or distorted — often the mark of a different camera or a different
    export. An image of the common aspect ratio but another size warns; one whose aspect ratio
    differs by more than 2 % fails. The value is the share of images not at the most common
    size; read from the attribute table, so no image is decoded.
    """

    name = "image_resolution"
    title = "Resolution and aspect-ratio consistency"
    flagged_as = "differ in size from the rest"
    default_threshold = Threshold(warn=0.0, fail=0.25)

    def __init__(self, *, aspect_tolerance: float = 0.02, threshold: Threshold | None = None) -> None:
        super().__init__(threshold=threshold)
        self.aspect_tolerance = aspect_tolerance

    def _sizes(self, data: Dataset) -> list[tuple[int, int] | None]:
        attrs = data.attributes
        if {"width", "height"} <= set(attrs.columns):
            return [
                None if pd.isna(w) or pd.isna(h) else (int(w), int(h))
                for w, h in zip(attrs["width"].tolist(), attrs["height"].tolist(), strict=True)
            ]
        feats = self.features(data)
        return [(f.width, f.height) if f.ok else None for f in feats]

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        assert isinstance(real, ImageDataset)
        sizes = self._sizes(real)
        keys = image_keys(real)
        known = [s for s in sizes if s is not None]
        if not known:
            return self.result(float("nan"), "no image size is known", status=Status.ERROR)
        counts = Counter(known)
        (mw, mh), n_common = counts.most_common(1)[0]
        aspect = mw / mh
        items: list[ItemResult] = []
        for key, size in zip(keys, sizes, strict=True):
            if size is None:
                items.append(ItemResult("image", key, float("nan"), Status.ERROR, "size unknown"))
                continue
            w, h = size
            ratio = (w / h) / aspect
            if (w, h) == (mw, mh):
                status, note = Status.PASS, f"{w}×{h}"
            elif abs(ratio - 1) > self.aspect_tolerance:
                status, note = Status.FAIL, f"{w}×{h}, aspect ratio {w / h:.3f} vs {aspect:.3f} of the common {mw}×{mh}"
            else:
                status, note = Status.WARN, f"{w}×{h} instead of the common {mw}×{mh} (same aspect ratio)"
            items.append(ItemResult("image", key, float(w * h) / (mw * mh), status, note, {"width": w, "height": h}))
        listing = ", ".join(f"{w}×{h} ({n})" for (w, h), n in counts.most_common(5))
        return self.summarise(
            items,
            total=len(sizes),
            measure=f"{len(counts)} distinct size(s): {listing}",
            details={
                "distinct_sizes": len(counts),
                "common_width": mw,
                "common_height": mh,
                "common_count": n_common,
                "min_side": min(min(s) for s in known),
                "max_side": max(max(s) for s in known),
            },
        )
