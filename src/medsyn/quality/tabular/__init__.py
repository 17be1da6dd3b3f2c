"""Quality metrics for tables; importing this package registers them."""

from medsyn.quality.tabular._missing import Missingness

__all__ = ["Missingness"]
