"""Privacy of synthetic tables: copies, distances to real records, membership and attribute attacks, GDPR risks.

Every metric is registered (``medsyn.metric.metrics_for("tabular", "privacy")``) and compares the
synthetic records with the training records *against a baseline of real records the generator never
saw* (the holdout): real data has near-duplicates of its own, so what matters is the excess.

- ``exact_copies``, ``dcr``, ``nndr``, ``authenticity`` — how close synthetic records sit to training records;
- ``membership_inference_distance``, ``membership_inference_domias`` — can membership be told (AUC);
- ``attribute_inference`` — can sensitive columns be guessed better for training records;
- ``singling_out_risk``, ``linkability_risk``, ``inference_risk`` — the Article 29 risks, measured
  as Giomi et al. (2023) define them (attack vs control vs random baseline, Wilson intervals).
"""

from medsyn.evaluate.privacy._distance import (
    Authenticity,
    DistanceToClosestRecord,
    ExactCopies,
    NearestNeighbourDistanceRatio,
)
from medsyn.evaluate.privacy._inference import AttributeInference, InferenceRisk, inference_attack
from medsyn.evaluate.privacy._linkability import LinkabilityRisk, linkability_attack
from medsyn.evaluate.privacy._membership import MembershipInferenceDistance, MembershipInferenceDomias
from medsyn.evaluate.privacy._singling_out import SinglingOutAttack, SinglingOutRisk, singling_out_attack
from medsyn.evaluate.privacy._stats import AttackOutcome, SuccessRate, residual_risk, success_rate

__all__ = [
    "AttackOutcome",
    "AttributeInference",
    "Authenticity",
    "DistanceToClosestRecord",
    "ExactCopies",
    "InferenceRisk",
    "LinkabilityRisk",
    "MembershipInferenceDistance",
    "MembershipInferenceDomias",
    "NearestNeighbourDistanceRatio",
    "SinglingOutAttack",
    "SinglingOutRisk",
    "SuccessRate",
    "inference_attack",
    "linkability_attack",
    "residual_risk",
    "singling_out_attack",
    "success_rate",
]
