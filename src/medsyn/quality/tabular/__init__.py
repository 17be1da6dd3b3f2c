"""Quality metrics for tables; importing this package registers them."""

from medsyn.quality.tabular._duplicates import DuplicateRows, NearDuplicateRows
from medsyn.quality.tabular._missing import Missingness, MissingnessByGroup
from medsyn.quality.tabular._outliers import MultivariateOutliers, UnivariateOutliers
from medsyn.quality.tabular._shape import ConstantColumns, RowsPerColumn

__all__ = [
    "ConstantColumns",
    "DuplicateRows",
    "Missingness",
    "MissingnessByGroup",
    "MultivariateOutliers",
    "NearDuplicateRows",
    "RowsPerColumn",
    "UnivariateOutliers",
]
