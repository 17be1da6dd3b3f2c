"""Synthetic-data evaluation: fidelity, diversity, privacy and utility, one scorecard and a release gate.

Every metric is a registered :class:`~medsyn.metric.Metric` (kinds ``fidelity``, ``diversity``,
``privacy``, ``utility``) built on :class:`EvalMetric`, which reads the validated
:class:`EvalInputs` of one evaluation (real training data, synthetic data, optional holdout).
"""

from medsyn.evaluate import image, privacy, signal, tabular, utility
from medsyn.evaluate._base import EvalMetric
from medsyn.evaluate._encode import ColumnCodes, TableEncoding, column_codes
from medsyn.evaluate._gate import GateCheck, GatePolicy, GateResult, gate_keys
from medsyn.evaluate._inputs import EvalInputs, Group, InputNote
from medsyn.evaluate._neighbors import Neighbours, count_within, nearest
from medsyn.evaluate._scorecard import AXES, AxisScore, Scorecard, evaluate, evaluation_metrics

__all__ = [
    "AXES",
    "AxisScore",
    "ColumnCodes",
    "EvalInputs",
    "EvalMetric",
    "GateCheck",
    "GatePolicy",
    "GateResult",
    "Group",
    "InputNote",
    "Neighbours",
    "Scorecard",
    "TableEncoding",
    "column_codes",
    "count_within",
    "evaluate",
    "evaluation_metrics",
    "gate_keys",
    "image",
    "nearest",
    "privacy",
    "signal",
    "tabular",
    "utility",
]
