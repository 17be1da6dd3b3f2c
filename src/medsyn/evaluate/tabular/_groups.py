"""Fidelity per protected group: every fidelity metric again within each group, the worst group as value.

Synthetic data can be faithful on average and wrong for women, for the over-80s or for one
site. For each fidelity metric ``X`` in :data:`BY_GROUP_BASES` a metric ``X_by_group`` is
generated (one class per base metric, from that table — not written out by hand) that runs
``X`` within each protected group of :meth:`EvalInputs.groups` — the real and synthetic records
of the group, through :meth:`EvalInputs.restrict`, so the encoding, bins and categories stay the
evaluation's — and reports:

- one :class:`~medsyn.metric.ItemResult` per group (value, verdict, CI and record counts; a
  group too small to measure is listed with the reason, never dropped),
- the *worst* group's value as the metric's value (worst by the base metric's own score, so
  "worst" follows its direction and ideal), with the overall value and the gap in the details.

These metrics are **reported but not scored** (``scored = False``): each repeats its base metric
on subsets of the same records, so adding it to the fidelity score would count the same errors
twice and make the score depend on how many protected columns were declared. A policy can still
gate on them (e.g. a ``ks_statistic_by_group`` threshold).

Within a group, sides larger than ``max_records`` (50,000) are sampled (seeded), the same sample
for every per-group metric. Every group repeats the work, so the sampled multivariate metrics
run on :data:`GROUP_SAMPLE_RECORDS` (2,000) records per side and group (the detection test on
1,000, gradient boosting only, 3 folds: it fits 3 models per group), and the pairwise ones on
:data:`GROUP_MAX_PAIRS` (200) pairs; the overall value shown beside the worst group is measured
with the same settings, so the gap compares like with like. Groups with fewer than
:data:`GROUP_MIN_RECORDS` (100) real or synthetic records are listed with that reason, not
measured: between a few dozen records every distance is mostly noise, and the worst of many
noisy groups would always look bad.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar

import numpy as np

from medsyn.data.dataset import Modality
from medsyn.evaluate._base import EvalMetric
from medsyn.evaluate._inputs import EvalInputs, Group
from medsyn.evaluate.tabular._columns import JensenShannon, KsStatistic, TotalVariation, Wasserstein
from medsyn.evaluate.tabular._common import TabularMetric
from medsyn.evaluate.tabular._detection import DetectionAuc
from medsyn.evaluate.tabular._manifold import AlphaPrecision, Density, ImprovedPrecision
from medsyn.evaluate.tabular._mmd import Mmd
from medsyn.evaluate.tabular._pairs import ContingencySimilarity, CorrelationDifference, MutualInformationDifference
from medsyn.metric import METRICS, Detail, ItemResult, MetricKind, MetricResult, Status, Threshold

__all__ = [
    "BY_GROUP",
    "BY_GROUP_BASES",
    "BY_GROUP_TABLE",
    "GROUP_MAX_PAIRS",
    "GROUP_MAX_RECORDS",
    "GROUP_MIN_RECORDS",
    "GROUP_SAMPLE_RECORDS",
    "GroupedMetric",
    "group_inputs",
]

#: Records per side and group that per-group metrics see at most (a seeded sample beyond).
GROUP_MAX_RECORDS = 50_000

#: Real and synthetic records a group needs to be measured: a distance between two samples of a
#: few dozen records is mostly noise, and the worst of many such groups would always look bad.
GROUP_MIN_RECORDS = 100
#: Records per side and group for the sampled multivariate metrics (k-NN manifolds, detection,
#: MMD): every group repeats the work, so each gets a smaller sample than the overall metric.
GROUP_SAMPLE_RECORDS = 2_000
#: Column pairs per group for the pairwise metrics.
GROUP_MAX_PAIRS = 200

Factory = Callable[[Threshold | None], TabularMetric]

#: The fidelity metrics measured per protected group — per column, per pair, multivariate — each
#: with the settings it runs with inside a group (and, for the overall value beside it, outside).
BY_GROUP_TABLE: tuple[tuple[type[TabularMetric], Factory], ...] = (
    (KsStatistic, lambda t: KsStatistic(threshold=t)),
    (TotalVariation, lambda t: TotalVariation(threshold=t)),
    (Wasserstein, lambda t: Wasserstein(threshold=t)),
    (JensenShannon, lambda t: JensenShannon(threshold=t)),
    (CorrelationDifference, lambda t: CorrelationDifference(threshold=t, max_pairs=GROUP_MAX_PAIRS)),
    (ContingencySimilarity, lambda t: ContingencySimilarity(threshold=t, max_pairs=GROUP_MAX_PAIRS)),
    (MutualInformationDifference, lambda t: MutualInformationDifference(threshold=t, max_pairs=GROUP_MAX_PAIRS)),
    (
        DetectionAuc,
        lambda t: DetectionAuc(
            threshold=t, models=("gradient_boosting",), folds=3, max_records=GROUP_SAMPLE_RECORDS // 2
        ),
    ),
    (Mmd, lambda t: Mmd(threshold=t, max_records=GROUP_SAMPLE_RECORDS)),
    (AlphaPrecision, lambda t: AlphaPrecision(threshold=t, max_records=GROUP_SAMPLE_RECORDS)),
    (ImprovedPrecision, lambda t: ImprovedPrecision(threshold=t, max_records=GROUP_SAMPLE_RECORDS)),
    (Density, lambda t: Density(threshold=t, max_records=GROUP_SAMPLE_RECORDS)),
)
#: The base metrics of :data:`BY_GROUP_TABLE`.
BY_GROUP_BASES: tuple[type[TabularMetric], ...] = tuple(base for base, _ in BY_GROUP_TABLE)


def _sample(positions: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    if len(positions) <= cap:
        return positions
    return np.sort(rng.choice(positions, size=cap, replace=False))


def group_inputs(inputs: EvalInputs, group: Group, *, max_records: int = GROUP_MAX_RECORDS) -> EvalInputs:
    """The evaluation restricted to one group (sides sampled to ``max_records``), shared by all per-group metrics."""

    def compute() -> EvalInputs:
        rng = inputs.rng(f"group {group.key}")
        real = _sample(group.real, max_records, rng)
        syn = _sample(group.synthetic, max_records, rng)
        hold = None if group.holdout is None else _sample(group.holdout, max_records, rng)
        return inputs.restrict(real, syn, hold)

    return inputs.memo(("tabular-group-inputs", group.key, max_records), compute)


class GroupedMetric(EvalMetric):
    """Base of the generated ``*_by_group`` metrics: :attr:`base` run within each protected group."""

    modality = Modality.TABULAR
    kind = MetricKind.FIDELITY
    needs_groups = True
    scored = False
    #: The metric measured within each group, and how it is made (its per-group settings).
    base: ClassVar[type[TabularMetric]]
    make: ClassVar[Factory]

    def __init__(
        self,
        *,
        threshold: Threshold | None = None,
        metric: TabularMetric | None = None,
        min_records: int = GROUP_MIN_RECORDS,
        max_records: int = GROUP_MAX_RECORDS,
    ) -> None:
        super().__init__(threshold=threshold)
        self.metric = metric if metric is not None else type(self).make(threshold)
        self.min_records = min_records
        self.max_records = max_records

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        groups, notes = inputs.groups(min_records=self.min_records)
        items: list[ItemResult] = []
        results: list[tuple[ItemResult, MetricResult]] = []
        for g in groups:
            r = self.metric.evaluate(group_inputs(inputs, g, max_records=self.max_records))
            details: dict[str, Detail] = {"real_records": len(g.real), "synthetic_records": len(g.synthetic)}
            if r.ci is not None:
                details["ci_low"], details["ci_high"] = r.ci
            if r.status is Status.SKIPPED or math.isnan(r.value):
                items.append(ItemResult("group", g.key, math.nan, Status.SKIPPED, r.reason, details))
                continue
            caution = r.details.get("caution")  # a base metric's warning about its own value, e.g. degenerate balls
            item = ItemResult("group", g.key, r.value, self.judge(r.value), str(caution or ""), details)
            items.append(item)
            results.append((item, r))
        items += [
            ItemResult("group", n.scope.removeprefix("group "), math.nan, Status.SKIPPED, n.message) for n in notes
        ]
        if not results:
            return self.skipped(
                "no protected group could be measured: " + "; ".join(f"{i.key}: {i.note}" for i in items)
            )
        worst, worst_result = min(results, key=lambda ir: self.metric.score(ir[0].value))
        overall = self.metric.evaluate(inputs)
        details = {
            "base_metric": self.metric.name,
            "worst_group": worst.key,
            "groups_measured": len(results),
            "groups_not_measured": len(items) - len(results),
            "overall_value": overall.value,
            "gap_to_overall": worst.value - overall.value,
            "group_max_records": self.max_records,
        }
        reason = (
            f"worst group {worst.key}: {self.metric.name} {worst.value:.3g} "
            f"(overall {overall.value:.3g}; {len(results)} group(s) measured)"
        )
        return self.result(worst.value, reason, items=items, details=details, ci=worst_result.ci)

    def score(self, value: float) -> float:
        """The base metric's score of the worst group's value."""
        return self.metric.score(value)


def _by_group(base: type[TabularMetric], make: Factory) -> type[GroupedMetric]:
    name = f"{base.name}_by_group"
    doc = (
        f"{base.title} within each protected group; the value is the worst group's.\n\n"
        f"Runs ``{base.name}`` on the real and synthetic records of each protected group (one item "
        "per group, with its CI) and reports the group furthest from ideal, the overall value and "
        "the gap. Reported, not scored: it repeats its base metric on subsets of the same records."
    )
    attrs: dict[str, object] = {
        "__doc__": doc,
        "__module__": __name__,
        "__qualname__": f"{base.__name__}ByGroup",
        "name": name,
        "title": f"{base.title} — worst protected group",
        "base": base,
        "make": staticmethod(make),
        "kind": base.kind,
        "direction": base.direction,
        "ideal": base.ideal,
        "unit": base.unit,
        "default_threshold": base.default_threshold,
    }
    cls = type(f"{base.__name__}ByGroup", (GroupedMetric,), attrs)
    METRICS.register(name)(cls)
    return cls


#: The generated per-group metrics, by name (``ks_statistic_by_group``, …).
BY_GROUP: dict[str, type[GroupedMetric]] = {f"{b.name}_by_group": _by_group(b, make) for b, make in BY_GROUP_TABLE}
