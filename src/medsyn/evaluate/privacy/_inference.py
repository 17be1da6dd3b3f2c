"""Attribute inference: does the synthetic data let an attacker who knows part of a record guess the rest?

Two attacks, both by nearest synthetic neighbour on the shared encoding of the columns the attacker
knows, both judged against real records the generator never saw:

- :class:`AttributeInference` — the attacker knows the quasi-identifiers and guesses each sensitive
  column; every (sampled) training and holdout record is attacked, the value is the accuracy gain
  on training records over holdout records, with a bootstrap CI.
- :class:`InferenceRisk` — the Article 29 inference risk as anonymeter measures it (Giomi et al.
  2023): the attacker knows every other column (or given ones), ``n_attacks`` training records,
  ``n_attacks`` holdout records (control) and a naive attacker who copies the secret of a random
  synthetic record (baseline); risk = (attack − control) / (1 − control) with Wilson intervals.

A guess is right when it equals the secret exactly (a missing secret guessed as missing counts);
:class:`InferenceRisk` can accept numbers within a relative tolerance instead, and
:class:`AttributeInference` compares numbers by their bin (20 quantile bins of the training data).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from medsyn.data.schema import Role
from medsyn.evaluate._base import clip01
from medsyn.evaluate._inputs import EvalInputs, Side
from medsyn.evaluate._neighbors import Neighbours, nearest
from medsyn.evaluate.privacy._common import (
    MAX_RECORDS,
    PrivacyMetric,
    exact_codes,
    feature_index,
    replicate_weights,
    sensitive_columns,
    weighted_ci,
    weighted_means,
)
from medsyn.evaluate.privacy._stats import AttackOutcome
from medsyn.metric import METRICS, Detail, Direction, ItemResult, MetricResult, Status, Threshold

__all__ = ["AttributeInference", "InferenceRisk", "inference_attack"]


def _vote(labels: np.ndarray) -> np.ndarray:
    """The most frequent label per row (ties: the nearer neighbour's)."""
    if labels.shape[1] == 1:
        return np.asarray(labels[:, 0])
    votes = np.stack([(labels == labels[:, [j]]).sum(axis=1) for j in range(labels.shape[1])], axis=1)
    return np.asarray(labels[np.arange(len(labels)), np.argmax(votes, axis=1)])


def quasi_identifiers(inputs: EvalInputs, secret: str) -> tuple[list[str], str]:
    """The columns the attacker knows: quasi-identifiers, else every non-sensitive non-target column."""
    names = [f.name for f in inputs.feature_fields()]
    qis = [f.name for f in inputs.schema.by_role(Role.QUASI_IDENTIFIER) if f.name in names and f.name != secret]
    if qis:
        return qis, "quasi-identifiers"
    sensitive = {f.name for f in inputs.schema.by_role(Role.SENSITIVE)} | {inputs.target, secret}
    return [n for n in names if n not in sensitive], "no quasi-identifier in the schema: every non-sensitive column"


@METRICS.register("attribute_inference")
class AttributeInference(PrivacyMetric):
    """Accuracy gain of guessing a sensitive column from the quasi-identifiers, training over holdout records.

    An attacker who knows a patient's quasi-identifiers (role ``quasi_identifier``; without any,
    every column that is neither sensitive nor the target) looks up the nearest synthetic record(s)
    on those columns and reads off the sensitive value (role ``sensitive``; without any, the
    target). The same attack on holdout records measures what the synthetic data teaches about
    anyone; the excess accuracy on training records is what it leaks about its own patients. The
    value is the largest gain over the sensitive columns (numbers are compared by their quantile
    bin). CI: bootstrap over training and holdout records. Score: ``1 − min(1, max(0, 2·gain))``.
    """

    name = "attribute_inference"
    title = "Attribute inference (accuracy gain on training records)"
    direction = Direction.MINIMIZE
    ideal = 0.0
    unit = "accuracy gain"
    default_threshold = Threshold(warn=0.05, fail=0.15)

    def __init__(
        self, *, threshold: Threshold | None = None, max_records: int = MAX_RECORDS, n_neighbors: int = 1
    ) -> None:
        super().__init__(threshold=threshold, max_records=max_records)
        self.n_neighbors = n_neighbors

    def why_not(self, inputs: EvalInputs) -> str | None:
        why = super().why_not(inputs)
        if why is not None:
            return why
        secrets, rule = sensitive_columns(inputs)
        if not secrets:
            return f"nothing to infer: {rule}"
        if not any(quasi_identifiers(inputs, s)[0] for s in secrets):
            return "no column left for the attacker to know"
        return None

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        secrets, rule = sensitive_columns(inputs)
        tp, hp = self._sampled(inputs, "real"), self._sampled(inputs, "holdout")
        w_t, w_h = replicate_weights(inputs, "real", tp), replicate_weights(inputs, "holdout", hp)
        syn_m, real_m, hold_m = inputs.matrix("synthetic"), inputs.matrix("real"), inputs.matrix("holdout")
        k = min(self.n_neighbors, len(syn_m))
        items: list[ItemResult] = []
        gains: dict[str, tuple[float, np.ndarray]] = {}
        known_rule = ""
        for secret in secrets:
            known, known_rule = quasi_identifiers(inputs, secret)
            if not known:
                continue
            idx = feature_index(inputs, known)

            def lookup(idx: np.ndarray = idx) -> Neighbours:
                query = np.vstack([real_m[tp][:, idx], hold_m[hp][:, idx]])
                return nearest(query, syn_m[:, idx], k, seed=inputs.seed)

            nb = inputs.memo(("privacy-knn", "known-columns", tuple(known), k, len(tp), len(hp)), lookup)
            codes = inputs.codes(secret)
            guess = _vote(codes.codes[1][nb.indices])
            right_t = guess[: len(tp)] == codes.codes[0][tp]
            right_h = guess[len(tp) :] == codes.codes[2][hp]
            gain = float(right_t.mean() - right_h.mean())
            reps = weighted_means(right_t, w_t) - weighted_means(right_h, w_h)
            gains[secret] = (gain, reps)
            items.append(
                ItemResult(
                    "column",
                    secret,
                    gain,
                    self.judge(gain),
                    note=f"right for {right_t.mean():.1%} of training vs {right_h.mean():.1%} of holdout records",
                    details={"accuracy_training": float(right_t.mean()), "accuracy_holdout": float(right_h.mean())},
                )
            )
        worst = max(gains, key=lambda s: gains[s][0])
        value = gains[worst][0]
        all_reps = np.max(np.stack([r for _, r in gains.values()]), axis=0)
        ci, replicates = weighted_ci(all_reps)
        details: dict[str, Detail] = {
            "secrets": ", ".join(gains),
            "secret_rule": rule,
            "known_columns": known_rule,
            "worst_secret": worst,
            "n_neighbors": k,
            "n_training_used": len(tp),
            "n_holdout_used": len(hp),
        }
        reason = (
            f"guessing '{worst}' from the {known_rule} is {value:+.1%} more accurate for training records "
            "than for holdout records"
        )
        return self.result(value, reason, items=items, details=details, ci=ci, replicates=replicates)

    def score(self, value: float) -> float:
        return math.nan if math.isnan(value) else 1.0 - clip01(2.0 * value)


def _correct(guess: np.ndarray, truth: np.ndarray, values: np.ndarray | None, tolerance: float | None) -> np.ndarray:
    right = np.asarray(guess == truth)
    if tolerance is None or values is None:
        return right
    g = np.where(guess >= 0, values[np.maximum(guess, 0)], np.nan)
    t = np.where(truth >= 0, values[np.maximum(truth, 0)], np.nan)
    with np.errstate(invalid="ignore"):
        return np.asarray(right | (np.abs(g - t) <= tolerance * np.abs(t)))


def inference_attack(
    inputs: EvalInputs,
    secret: str,
    *,
    known: Sequence[str] | None = None,
    n_attacks: int = 500,
    tolerance: float | None = None,
    level: float = 0.95,
) -> AttackOutcome:
    """anonymeter's inference attack on one secret: 1-NN on ``known`` columns; training, holdout, random."""
    codes = exact_codes(inputs)
    c = codes.columns.index(secret)
    values = codes.values[c] if codes.numeric[c] else None
    if known is None:
        known = [name for name in codes.columns if name != secret]
    idx = feature_index(inputs, [k for k in known if k != secret])
    rng = inputs.rng(f"inference_risk-{secret}")
    syn_m = inputs.matrix("synthetic")[:, idx]
    syn_secret = codes.side("synthetic")[c]

    def attack(side: Side, n: int) -> int:
        pos = rng.choice(len(inputs.frame(side)), n, replace=False)
        guess = syn_secret[nearest(inputs.matrix(side)[pos][:, idx], syn_m, 1, seed=inputs.seed).indices[:, 0]]
        return int(_correct(guess, codes.side(side)[c][pos], values, tolerance).sum())

    n_train, n_syn, n_hold = (len(inputs.frame(s)) for s in ("real", "synthetic", "holdout"))
    n_ori = min(n_attacks, n_train)
    n_base = min(n_syn, n_ori)
    n_ctl = min(n_attacks, n_hold)
    base_targets = rng.choice(n_train, n_base, replace=False)
    base_guess = syn_secret[rng.choice(n_syn, n_base, replace=False)]
    n_baseline = int(_correct(base_guess, codes.side("real")[c][base_targets], values, tolerance).sum())
    n_success = attack("real", n_ori)
    n_control = attack("holdout", n_ctl)
    return AttackOutcome(n_ori, n_success, float(n_control), n_baseline, n_ctl, n_base, level)


@METRICS.register("inference_risk")
class InferenceRisk(PrivacyMetric):
    """Inference risk (Article 29): excess success of guessing a secret column for training over holdout records.

    anonymeter's attack (Giomi et al. 2023): knowing the other columns of a record (or
    ``known_columns``), the attacker copies the secret of the nearest synthetic record. Run on
    ``n_attacks`` training records (attack), ``n_attacks`` holdout records (control) and as random
    guessing from the synthetic column (baseline); risk = (attack − control) / (1 − control),
    clipped to [0, 1], with Wilson intervals. Secrets: the ``sensitive`` columns, else the target.
    The value is the largest risk over the secrets, its CI that secret's; the details hold each
    secret's rates. Score: ``1 − risk``.
    """

    name = "inference_risk"
    title = "Inference risk (anonymeter-style)"
    direction = Direction.MINIMIZE
    ideal = 0.0
    unit = "risk"
    default_threshold = Threshold(warn=0.1, fail=0.25)

    def __init__(
        self,
        *,
        threshold: Threshold | None = None,
        n_attacks: int = 500,
        known_columns: Sequence[str] | None = None,
        tolerance: float | None = None,
    ) -> None:
        super().__init__(threshold=threshold)
        self.n_attacks = n_attacks
        self.known_columns = None if known_columns is None else tuple(known_columns)
        self.tolerance = tolerance

    def why_not(self, inputs: EvalInputs) -> str | None:
        why = super().why_not(inputs)
        if why is not None:
            return why
        secrets, rule = sensitive_columns(inputs)
        if not secrets:
            return f"nothing to infer: {rule}"
        if len(inputs.feature_fields()) < 2:
            return "needs at least two compared columns (one known, one secret)"
        return None

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        secrets, rule = sensitive_columns(inputs)
        outcomes = {
            s: inference_attack(inputs, s, known=self.known_columns, n_attacks=self.n_attacks, tolerance=self.tolerance)
            for s in secrets
        }
        valued = {s: o for s, o in outcomes.items() if not math.isnan(o.value)}
        if not valued:
            return self.skipped("every control attack succeeded, so no residual risk can be measured")
        worst = max(valued, key=lambda s: valued[s].value)
        details: dict[str, Detail] = {"secrets": ", ".join(secrets), "secret_rule": rule, "worst_secret": worst}
        details["known_columns"] = ", ".join(self.known_columns) if self.known_columns else "every other column"
        for s, o in outcomes.items():
            details.update(o.to_dict(f"{s}_"))
        details.update(valued[worst].to_dict())
        items = [
            ItemResult(
                "column",
                s,
                o.value,
                Status.INFO if math.isnan(o.value) else self.judge(o.value),
                note=f"right for {o.n_success}/{o.n_attacks} training, {o.n_control:.0f}/{o.n_attacks_control} "
                f"holdout, {o.n_baseline}/{o.n_attacks_baseline} random guesses",
                details={"attack_rate": o.attack.value, "control_rate": o.control.value},
            )
            for s, o in outcomes.items()
        ]
        w = valued[worst]
        reason = (
            f"inferring '{worst}' succeeds on {w.attack.value:.1%} of training records vs {w.control.value:.1%} of "
            f"holdout records ({w.baseline.value:.1%} at random): risk {w.value:.3f}"
        )
        return self.result(w.value, reason, items=items, details=details, ci=w.risk_ci)

    def score(self, value: float) -> float:
        return math.nan if math.isnan(value) else 1.0 - clip01(value)
