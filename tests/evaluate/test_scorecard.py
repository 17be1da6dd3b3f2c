"""Scorecard: axis aggregation with paired bootstrap CIs, nothing dropped, errors contained, gate policy."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from medsyn.data import TabularDataset
from medsyn.data.dataset import Modality
from medsyn.errors import InputError, UnknownNameError
from medsyn.evaluate import EvalInputs, EvalMetric, GatePolicy, evaluate, gate_keys
from medsyn.metric import MetricKind, MetricResult, Status


class _Share(EvalMetric):
    """Share of synthetic records with sex F (a test metric with per-record bootstrap)."""

    name = "test_share_f"
    title = "share F"
    modality = Modality.TABULAR
    kind = MetricKind.FIDELITY

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        terms = (inputs.frame("synthetic")["sex"] == "F").to_numpy(float)
        ci, reps = inputs.bootstrap_mean(terms, "synthetic")
        return self.result(float(terms.mean()), "share", ci=ci, replicates=reps)


class _Constant(EvalMetric):
    """A deterministic test metric with a fixed value."""

    name = "test_constant"
    title = "constant"
    modality = Modality.TABULAR
    kind = MetricKind.FIDELITY

    def __init__(self, value: float = 0.2) -> None:
        super().__init__()
        self.value = value

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        return self.result(self.value, "fixed")


class _Broken(EvalMetric):
    """A test metric that fails."""

    name = "test_broken"
    title = "broken"
    modality = Modality.TABULAR
    kind = MetricKind.PRIVACY

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        raise ZeroDivisionError("boom")


class _NeedsHoldout(_Constant):
    """A test metric that needs a holdout (named like a registered one, so gate keys know it)."""

    name = "feature_importance_agreement"
    kind = MetricKind.PRIVACY
    needs_holdout = True


class _FakeUtility(_Constant):
    """A deterministic stand-in named like a registered metric, so gate keys know it."""

    name = "tstr_utility"


def _data(n: int, seed: int) -> TabularDataset:
    rng = np.random.default_rng(seed)
    return TabularDataset(pd.DataFrame({"age": rng.integers(20, 90, n), "sex": rng.choice(["F", "M"], n)}))


def test_axis_score_is_mean_of_scores_with_paired_ci() -> None:
    real, syn = _data(300, 0), _data(300, 1)
    card = evaluate(real, syn, metrics=[_Share(), _Constant(0.2)], n_bootstrap=60)
    share = card["test_share_f"].value
    fidelity = card.axis("fidelity")
    # default score of a minimised metric on [0, 1]: 1 - value
    assert math.isclose(fidelity.score, ((1 - share) + 0.8) / 2)
    assert fidelity.ci is not None
    assert fidelity.ci[0] <= fidelity.score <= fidelity.ci[1]
    # the constant contributes no spread: the axis CI is half the share's CI width
    share_ci = card["test_share_f"].ci
    assert share_ci is not None
    assert math.isclose(fidelity.ci[1] - fidelity.ci[0], (share_ci[1] - share_ci[0]) / 2, rel_tol=0.05)
    assert math.isnan(card.axis("utility").score)
    assert card.axis("utility").reason == "no metric of this axis was run"


def test_nothing_is_dropped_skips_and_errors_are_listed() -> None:
    card = evaluate(_data(50, 0), _data(50, 1), metrics=[_Broken(), _NeedsHoldout(), _Constant()])
    assert card["test_broken"].status is Status.ERROR
    assert "ZeroDivisionError" in card["test_broken"].reason
    assert card["feature_importance_agreement"].status is Status.SKIPPED
    assert "holdout" in card["feature_importance_agreement"].reason
    assert {r.metric for r in card.skipped()} == {"test_broken", "feature_importance_agreement"}
    privacy = card.axis("privacy")
    assert math.isnan(privacy.score)
    assert set(privacy.not_scored) == {"test_broken", "feature_importance_agreement"}
    data = json.loads(card.to_json())
    assert {d["metric"] for d in data["not_computed"]} == {"test_broken", "feature_importance_agreement"}
    assert data["errors"] == ["test_broken: internal error ZeroDivisionError: boom"]


def test_write_produces_json_and_html(tmp_path) -> None:
    card = evaluate(_data(80, 0), _data(80, 1), metrics=[_Share(), _NeedsHoldout()], n_bootstrap=20)
    policy = GatePolicy.from_mapping({"min_fidelity": 0.1, "max_feature_importance_agreement": 1})
    card = card.with_gate(policy.check(card))
    files = card.write(tmp_path / "out")
    html = files.html.read_text()
    assert "Release gate" in html
    assert "FAILED" in html
    assert "needs a holdout" in html
    data = json.loads(files.json.read_text())
    assert data["gate"]["passed"] is False
    assert data["axes"]["fidelity"]["score"] == pytest.approx(card.axis("fidelity").score)


def test_unknown_metric_names_are_refused_with_a_suggestion() -> None:
    with pytest.raises(UnknownNameError, match="tstr_utility"):
        evaluate(_data(20, 0), _data(20, 1), metrics=["tstr_utilty"])
    with pytest.raises(InputError, match="evaluation metric"):
        evaluate(_data(20, 0), _data(20, 1), metrics=["missingness"])


def test_gate_unknown_key_is_an_error_not_ignored() -> None:
    with pytest.raises(InputError) as err:
        GatePolicy.from_mapping({"max_exact_copy": 0, "min_fidelity": 2, "min_utility": "high"}, source="p.yaml")
    text = str(err.value)
    assert "max_exact_copy" in text
    assert "did you mean" in text
    assert "min_fidelity" in text
    assert "min_utility" in text


def test_gate_keys_cover_axes_metrics_and_specials() -> None:
    keys = gate_keys()
    assert {"min_fidelity", "min_diversity", "min_privacy", "min_utility", "max_membership_auc"} <= set(keys)
    assert "min_tstr_utility" in keys


def test_gate_fails_on_a_metric_that_was_not_computed() -> None:
    card = evaluate(_data(50, 0), _data(50, 1), metrics=[_NeedsHoldout()])
    verdict = GatePolicy.from_mapping({"max_feature_importance_agreement": 1.0}).check(card)
    assert not verdict.passed
    assert "not computed" in verdict.checks[0].reason
    missing = GatePolicy.from_mapping({"min_augmentation_gain": 0.0}).check(card)
    assert "was not run" in missing.checks[0].reason


def test_gate_bounds_compare_in_the_right_direction() -> None:
    card = evaluate(_data(50, 0), _data(50, 1), metrics=[_FakeUtility(0.2)])
    ok = GatePolicy.from_mapping({"max_tstr_utility": 0.2, "min_tstr_utility": 0.1, "min_fidelity": 0.8})
    assert ok.check(card).passed
    bad = GatePolicy.from_mapping({"max_tstr_utility": 0.1, "min_fidelity": 0.81}).check(card)
    assert [c.passed for c in bad.checks] == [False, False]
    assert "breaks ≤ 0.1" in bad.checks[0].reason


def test_gate_from_yaml_errors_name_the_file(tmp_path) -> None:
    bad = tmp_path / "gate.yaml"
    bad.write_text("- max_exact_copies: 0\n")
    with pytest.raises(InputError, match=r"gate\.yaml"):
        GatePolicy.from_yaml(bad)
    with pytest.raises(InputError, match="no such file"):
        GatePolicy.from_yaml(tmp_path / "absent.yaml")


class _FakeCopies(_Constant):
    """A stand-in for exact_copies: value is the share, the count is in the details."""

    name = "exact_copies"
    kind = MetricKind.PRIVACY

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        return self.result(0.02, "2 of 100", details={"count": 2})


def test_max_exact_copies_bounds_the_count_and_the_share_has_its_own_key() -> None:
    card = evaluate(_data(50, 0), _data(50, 1), metrics=[_FakeCopies()])
    verdict = GatePolicy.from_mapping({"max_exact_copies": 1, "max_exact_copy_share": 0.05}).check(card)
    assert [c.passed for c in verdict.checks] == [False, True]
    assert verdict.checks[0].value == 2
