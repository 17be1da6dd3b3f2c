"""Fidelity and diversity of synthetic tables: per column, per pair, multivariate, per group.

Importing this package registers the tabular fidelity metrics (``ks_statistic``,
``total_variation``, ``wasserstein``, ``jensen_shannon``, ``correlation_difference``,
``contingency_similarity``, ``mutual_information_difference``, ``detection_auc``, ``mmd``,
``alpha_precision``, ``improved_precision``, ``density``), their per-protected-group versions
(``<name>_by_group``) and the diversity metrics (``improved_recall``, ``coverage``,
``beta_recall``, ``category_coverage``, ``range_coverage``, ``mode_collapse``). All read one
:class:`~medsyn.evaluate.EvalInputs`, sharing its encoding, codes, samples and bootstrap.
"""

from medsyn.evaluate.tabular._columns import (
    JensenShannon,
    KsStatistic,
    TotalVariation,
    Wasserstein,
    jensen_shannon_distance,
    ks_statistic_1d,
    total_variation_distance,
    wasserstein_1d,
)
from medsyn.evaluate.tabular._common import TabularMetric
from medsyn.evaluate.tabular._detection import DetectionAuc, DetectionModel, weighted_auc
from medsyn.evaluate.tabular._diversity import (
    CategoryCoverage,
    ModeCollapse,
    ModeCollapseIndicators,
    RangeCoverage,
    mode_collapse_indicators,
)
from medsyn.evaluate.tabular._groups import BY_GROUP, BY_GROUP_BASES, BY_GROUP_TABLE, GroupedMetric, group_inputs
from medsyn.evaluate.tabular._knn import ManifoldTerms, Prdc, manifold_terms, prdc
from medsyn.evaluate.tabular._manifold import (
    AlphaBetaCurves,
    AlphaPrecision,
    BetaRecall,
    Coverage,
    Density,
    ImprovedPrecision,
    ImprovedRecall,
    Manifold,
    alpha_beta_curves,
    manifold,
)
from medsyn.evaluate.tabular._mmd import Mmd, MmdEstimate, median_bandwidth, mmd_unbiased
from medsyn.evaluate.tabular._pairs import (
    ContingencySimilarity,
    CorrelationDifference,
    MutualInformationDifference,
    PairTables,
    normalized_mutual_information,
    pair_tables,
    pairwise_correlation,
)

__all__ = [
    "BY_GROUP",
    "BY_GROUP_BASES",
    "BY_GROUP_TABLE",
    "AlphaBetaCurves",
    "AlphaPrecision",
    "BetaRecall",
    "CategoryCoverage",
    "ContingencySimilarity",
    "CorrelationDifference",
    "Coverage",
    "Density",
    "DetectionAuc",
    "DetectionModel",
    "GroupedMetric",
    "ImprovedPrecision",
    "ImprovedRecall",
    "JensenShannon",
    "KsStatistic",
    "Manifold",
    "ManifoldTerms",
    "Mmd",
    "MmdEstimate",
    "ModeCollapse",
    "ModeCollapseIndicators",
    "MutualInformationDifference",
    "PairTables",
    "Prdc",
    "RangeCoverage",
    "TabularMetric",
    "TotalVariation",
    "Wasserstein",
    "alpha_beta_curves",
    "group_inputs",
    "jensen_shannon_distance",
    "ks_statistic_1d",
    "manifold",
    "manifold_terms",
    "median_bandwidth",
    "mmd_unbiased",
    "mode_collapse_indicators",
    "normalized_mutual_information",
    "pair_tables",
    "pairwise_correlation",
    "prdc",
    "total_variation_distance",
    "wasserstein_1d",
    "weighted_auc",
]
