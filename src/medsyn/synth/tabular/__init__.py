"""Tabular generators: each registers itself in :data:`medsyn.synth.GENERATORS` when imported."""

from medsyn.synth.tabular._base import TabularGenerator
from medsyn.synth.tabular._bayesnet import BayesianNetwork
from medsyn.synth.tabular._cart import CartGenerator
from medsyn.synth.tabular._copula import GaussianCopula
from medsyn.synth.tabular._ctgan import CTGAN
from medsyn.synth.tabular._marginal import AIM, MST
from medsyn.synth.tabular._plan import ColumnPlan, ModelColumn, TablePlan
from medsyn.synth.tabular._tvae import TVAE

__all__ = [
    "AIM",
    "CTGAN",
    "MST",
    "TVAE",
    "BayesianNetwork",
    "CartGenerator",
    "ColumnPlan",
    "GaussianCopula",
    "ModelColumn",
    "TablePlan",
    "TabularGenerator",
]
