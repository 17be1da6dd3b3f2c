"""The audit's image-quality checks applied to the synthetic images, compared with the real images.

Every registered image quality check (brightness, contrast, exposure, sharpness, noise,
colourfulness, duplicates, near-duplicates, resolution and, for fundus photographs, field of
view, illumination and gradability) runs on the real and on the synthetic set, with the audit's
own limits. Each check flags a share of images; a faithful generator flags about the same share
as the real data — many more unsharp or duplicated synthetic images is a defect of the generator,
many fewer noisy ones may mean over-smoothing. The checks read the audit's one-pass per-image
features (``medsyn.quality.image.features_for``), cached per dataset.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from medsyn.data.dataset import Dataset, Modality
from medsyn.errors import MedsynError
from medsyn.evaluate._base import EvalMetric
from medsyn.evaluate._inputs import EvalInputs
from medsyn.metric import (
    METRICS,
    Direction,
    ItemResult,
    Metric,
    MetricKind,
    MetricResult,
    Status,
    Threshold,
    get_metric,
    metrics_for,
)

__all__ = ["ImageQualityShift"]

_COMPARABLE = (Status.PASS, Status.INFO, Status.WARN, Status.FAIL)


def _run(check: Metric, data: Dataset) -> MetricResult | str:
    """The check's result on ``data``, or why it cannot be compared."""
    try:
        result = check.compute(data)
    except MedsynError as exc:
        return f"could not run: {exc}"
    if result.status not in _COMPARABLE or math.isnan(result.value):
        return f"{result.status.value}: {result.reason}"
    return result


@METRICS.register("image_quality_shift")
class ImageQualityShift(EvalMetric):
    """The largest difference, over the audit's image-quality checks, in the share of images flagged: synthetic vs real.

    Runs every image quality check of the audit (sharpness, noise, exposure, duplicates, fundus
    gradability, …) on both sets with the audit's own limits and compares the share of images
    each flags. The value is the largest absolute difference (0 = the synthetic images have the
    real images' quality profile); each check is an item with its signed difference (synthetic −
    real), so a generator that blurs, adds noise, repeats images or breaks the fundus field of
    view shows which defect it has. Checks that cannot run on one of the sets are listed, not
    compared.
    """

    name = "image_quality_shift"
    title = "Image-quality profile: synthetic vs real (audit checks)"
    modality = Modality.IMAGE
    kind = MetricKind.FIDELITY
    direction = Direction.MINIMIZE
    ideal = 0.0
    unit = "share of images"
    default_threshold = Threshold(warn=0.05, fail=0.15)

    def __init__(self, *, checks: Sequence[str] | None = None, threshold: Threshold | None = None) -> None:
        super().__init__(threshold=threshold)
        self.checks = None if checks is None else tuple(checks)

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        if self.checks is None:
            classes = metrics_for(Modality.IMAGE, MetricKind.QUALITY)
        else:
            classes = [get_metric(name) for name in self.checks]
        items: list[ItemResult] = []
        shifts: list[tuple[float, str]] = []
        for cls in classes:
            check = cls()
            real, synthetic = _run(check, inputs.real), _run(check, inputs.synthetic)
            if isinstance(real, str) or isinstance(synthetic, str):
                why = "; ".join(
                    f"{side}: {r}" for side, r in (("real", real), ("synthetic", synthetic)) if isinstance(r, str)
                )
                items.append(ItemResult("check", cls.name, math.nan, Status.INFO, f"not compared ({why})"))
                continue
            diff = synthetic.value - real.value
            flagged_as = getattr(check, "flagged_as", "flagged")
            note = f"{synthetic.value:.1%} of synthetic vs {real.value:.1%} of real images {flagged_as}"
            items.append(
                ItemResult(
                    "check",
                    cls.name,
                    diff,
                    self.judge(abs(diff)),
                    note,
                    {
                        "real_share": real.value,
                        "synthetic_share": synthetic.value,
                        "real_status": real.status.value,
                        "synthetic_status": synthetic.status.value,
                    },
                )
            )
            shifts.append((abs(diff), cls.name))
        if not shifts:
            return self.skipped("no image quality check could run on both sets")
        value, worst = max(shifts)
        item = next(i for i in items if i.key == worst)
        reason = f"largest shift {value:.1%} in '{worst}' ({item.note}); {len(shifts)} checks compared"
        skipped = [i.key for i in items if math.isnan(i.value)]
        if skipped:
            reason += f", {len(skipped)} not ({', '.join(skipped)})"
        return self.result(
            value,
            reason,
            items=items,
            details={"compared": len(shifts), "not_compared": len(skipped), "largest_shift_check": worst},
            item_threshold=self.threshold,
        )
