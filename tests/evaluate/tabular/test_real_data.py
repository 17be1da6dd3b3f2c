"""On real data: a real split scores near ideal, noise loses fidelity, mode collapse loses diversity first."""

from __future__ import annotations

import pytest

from medsyn.evaluate import EvalInputs
from medsyn.evaluate.tabular import (
    AlphaPrecision,
    BetaRecall,
    CategoryCoverage,
    ContingencySimilarity,
    CorrelationDifference,
    Coverage,
    Density,
    DetectionAuc,
    ImprovedPrecision,
    ImprovedRecall,
    JensenShannon,
    KsStatistic,
    Mmd,
    ModeCollapse,
    MutualInformationDifference,
    RangeCoverage,
    TabularMetric,
    TotalVariation,
    Wasserstein,
)
from medsyn.metric import MetricKind, Status, metrics_for


def _fidelity() -> list[TabularMetric]:
    return [
        KsStatistic(),
        TotalVariation(),
        Wasserstein(),
        JensenShannon(),
        CorrelationDifference(),
        ContingencySimilarity(max_pairs=150),
        MutualInformationDifference(max_pairs=150),
        DetectionAuc(models=("gradient_boosting",), folds=3, max_records=500),
        Mmd(max_records=600),
        AlphaPrecision(),
        ImprovedPrecision(),
        Density(),
    ]


def _diversity() -> list[TabularMetric]:
    return [ImprovedRecall(), Coverage(), BetaRecall(), CategoryCoverage(), RangeCoverage(), ModeCollapse()]


def test_the_lists_here_are_every_tabular_metric_of_the_package() -> None:
    from medsyn.evaluate.tabular import GroupedMetric

    ours = {
        c.name
        for kind in (MetricKind.FIDELITY, MetricKind.DIVERSITY)
        for c in metrics_for("tabular", kind)
        if issubclass(c, TabularMetric) and not issubclass(c, GroupedMetric)
    }
    assert ours == {m.name for m in _fidelity() + _diversity()}


def test_a_real_split_scores_near_ideal(actg_inputs: EvalInputs) -> None:
    for metric in _fidelity() + _diversity():
        r = metric.evaluate(actg_inputs)
        assert r.status is Status.PASS, r
        assert metric.score(r.value) > 0.85, r


def test_noise_lowers_every_fidelity_score(actg_inputs: EvalInputs, actg_noisy_inputs: EvalInputs) -> None:
    for metric in _fidelity():
        clean, dirty = metric.evaluate(actg_inputs), metric.evaluate(actg_noisy_inputs)
        margin = (
            0.0005 if metric.name == "mmd" else 0.01
        )  # the median-heuristic kernel moves little (test_multivariate)
        assert metric.score(dirty.value) < metric.score(clean.value) - margin, (metric.name, clean, dirty)


def test_mode_collapse_costs_diversity_far_more_than_precision(
    actg_inputs: EvalInputs, actg_collapsed_inputs: EvalInputs
) -> None:
    def drop(metric: TabularMetric) -> float:
        return metric.score(metric.evaluate(actg_inputs).value) - metric.score(
            metric.evaluate(actg_collapsed_inputs).value
        )

    precision_drop = drop(ImprovedPrecision())
    assert precision_drop < 0.05  # every synthetic record is a real record
    for metric in (ImprovedRecall(), Coverage(), BetaRecall(), ModeCollapse(), RangeCoverage()):
        assert drop(metric) > precision_drop + 0.3, metric.name


@pytest.mark.parametrize("metric", [ImprovedRecall(), Coverage(), ModeCollapse()], ids=lambda m: m.name)
def test_collapsed_set_fails_the_diversity_gate(actg_collapsed_inputs: EvalInputs, metric: TabularMetric) -> None:
    assert metric.evaluate(actg_collapsed_inputs).status is Status.FAIL
