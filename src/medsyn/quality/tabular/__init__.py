"""Quality metrics for tables; importing this package registers them.

Each check is a :class:`~medsyn.metric.Metric` of kind ``quality`` for tabular data, found by
name in :data:`medsyn.metric.METRICS` and run together by :func:`medsyn.quality.audit`.
"""

from medsyn.quality.tabular._correlation import Collinearity
from medsyn.quality.tabular._dates import DateSanity
from medsyn.quality.tabular._duplicates import DuplicateRows, NearDuplicateRows
from medsyn.quality.tabular._identifiers import IdentifierColumns
from medsyn.quality.tabular._imbalance import ClassImbalance
from medsyn.quality.tabular._leakage import TargetLeakage
from medsyn.quality.tabular._missing import Missingness, MissingnessByGroup
from medsyn.quality.tabular._outliers import MultivariateOutliers, UnivariateOutliers
from medsyn.quality.tabular._representativeness import Representativeness
from medsyn.quality.tabular._schema_checks import PLAUSIBLE_BY_UNIT, MixedTypes, SchemaViolations
from medsyn.quality.tabular._shape import ConstantColumns, RowsPerColumn

__all__ = [
    "PLAUSIBLE_BY_UNIT",
    "ClassImbalance",
    "Collinearity",
    "ConstantColumns",
    "DateSanity",
    "DuplicateRows",
    "IdentifierColumns",
    "Missingness",
    "MissingnessByGroup",
    "MixedTypes",
    "MultivariateOutliers",
    "NearDuplicateRows",
    "Representativeness",
    "RowsPerColumn",
    "SchemaViolations",
    "TargetLeakage",
    "UnivariateOutliers",
]
