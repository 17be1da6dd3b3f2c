"""Colourfulness (Hasler–Süsstrunk) of colour images."""

from __future__ import annotations

import numpy as np

from medsyn.data.dataset import Dataset
from medsyn.metric import METRICS, ItemResult, MetricResult, Status
from medsyn.quality.image._base import ImageMetric, Limits, analysis_size

__all__ = ["Colourfulness"]


@METRICS.register("colourfulness")
class Colourfulness(ImageMetric):
    """Hasler–Süsstrunk colourfulness of each colour image, flagging colour images that are nearly grey.

    M = √(σ²_rg + σ²_yb) + 0.3 √(μ²_rg + μ²_yb) with rg = R − G and yb = (R + G)/2 − B on the
    0–255 scale: about 0 for grey, 15 "slightly", 33 "moderately", 59 "quite" and above 82
    "highly" colourful. A colour photograph (a fundus image) with M below 8 has lost its colour
    — a red-free capture, a failed white balance or a grey image saved as RGB — and a model
    trained on colour will read it wrongly. Fundus photographs are measured inside the field of
    view. Grey-level images are not judged; a set without colour images is skipped.
    """

    name = "colourfulness"
    title = "Colourfulness (Hasler–Süsstrunk)"
    flagged_as = "are nearly grey"

    default_limits = Limits(low_warn=8.0, low_fail=3.0)

    def applies_to(self, data: Dataset) -> str | None:
        empty = super().applies_to(data)
        if empty is not None:
            return empty
        if "channels" in data.attributes.columns:
            channels = data.attributes["channels"].fillna(1).astype(int)
            if not (channels >= 3).any():
                return "no colour images (all have one channel)"
        return None

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        feats = self.features(real)
        items: list[ItemResult] = []
        for f in feats:
            if not f.ok:
                items.append(self.error_item(f))
            elif f.is_colour:
                status, _ = self.limits.judge(f.colourfulness)
                note = f"colourfulness {f.colourfulness:.1f}" + (" in the field of view" if f.in_fov else "")
                items.append(
                    ItemResult(
                        "image",
                        f.key,
                        f.colourfulness,
                        status,
                        ("nearly grey: " if status is not Status.PASS else "") + note,
                    )
                )
        colour = [f.colourfulness for f in feats if f.ok and f.is_colour]
        if not colour and not any(i.status is Status.ERROR for i in items):
            return self.skipped("no colour images")
        med = float(np.median(colour)) if colour else float("nan")
        total = len(items)
        return self.summarise(
            items,
            total=total,
            measure=f"median colourfulness {med:.1f}",
            details={"median": med, "colour_images": len(colour), "analysis_size": analysis_size(feats)},
        )
