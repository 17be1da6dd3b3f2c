"""Utility of synthetic tables: train on synthetic, test on real, against train on real."""

from medsyn.evaluate.utility._metrics import (
    AugmentationGain,
    FeatureImportanceAgreement,
    TstrUtility,
    TstrUtilityByGroup,
)
from medsyn.evaluate.utility._task import MODEL_FAMILIES, PredictionTask, prediction_task

__all__ = [
    "MODEL_FAMILIES",
    "AugmentationGain",
    "FeatureImportanceAgreement",
    "PredictionTask",
    "TstrUtility",
    "TstrUtilityByGroup",
    "prediction_task",
]
