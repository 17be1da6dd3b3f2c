"""Synthesis: generators that learn from real data and sample new records under control.

``get(name)`` returns a generator class; instances ``fit`` a dataset and ``sample(n,
conditions=..., seed=...)`` records that meet every condition and constraint. See
``docs/synthesis.md`` for the generators, conditions, constraints, rebalancing and privacy.
"""

from medsyn.synth._balance import GroupPlan, plan_rebalance, rebalance
from medsyn.synth._base import GENERATORS, Generator, Supports, get, load, names
from medsyn.synth.tabular import (
    AIM,
    CTGAN,
    MST,
    TVAE,
    BayesianNetwork,
    CartGenerator,
    GaussianCopula,
    TabularGenerator,
)

__all__ = [
    "AIM",
    "CTGAN",
    "GENERATORS",
    "MST",
    "TVAE",
    "BayesianNetwork",
    "CartGenerator",
    "GaussianCopula",
    "Generator",
    "GroupPlan",
    "Supports",
    "TabularGenerator",
    "get",
    "load",
    "names",
    "plan_rebalance",
    "rebalance",
]
