"""The release gate: a YAML policy of bounds that a scorecard must meet before data is released.

A policy is a flat mapping, each key one bound on one number of the scorecard::

    max_exact_copies: 0          # metric value ≤ 0
    max_membership_auc: 0.6      # the worse of the two membership attacks
    min_fidelity: 0.8            # axis score ≥ 0.8
    max_singling_out_risk: 0.05
    singling_out_within_baseline: true

Keys are ``max_<metric>`` / ``min_<metric>`` for every registered evaluation metric,
``min_<axis>`` for the four axis scores, and the named keys in :data:`SPECIAL_KEYS`. An unknown
key is an error with a suggestion, never ignored. A bound on a metric that was not computed
(skipped, failed, or left out) fails the gate with that reason: absence of evidence is not
evidence of safety.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from medsyn.errors import InputError, Problem
from medsyn.evaluate._scorecard import AXES, Scorecard, evaluation_metrics
from medsyn.metric import MetricResult, Status, metrics_for

__all__ = ["SPECIAL_KEYS", "GateCheck", "GatePolicy", "GateResult", "gate_keys"]

#: (value, what it is) or the reason no value exists.
Reading = tuple[float, str] | str


def _metric_value(scorecard: Scorecard, name: str) -> Reading:
    if name not in scorecard:
        return f"metric '{name}' was not run"
    r = scorecard[name]
    if r.status in (Status.SKIPPED, Status.ERROR) or math.isnan(r.value):
        return f"metric '{name}' was not computed: {r.reason}"
    return r.value, name


def _worst_membership_auc(scorecard: Scorecard) -> Reading:
    names = [r.metric for r in scorecard.results if r.metric.startswith("membership_inference")]
    readings = [_metric_value(scorecard, n) for n in names]
    values = [x for x in readings if not isinstance(x, str)]
    if not values:
        return readings[0] if readings else "no membership-inference metric was run"
    return max(values, key=lambda x: x[0])


def _exact_copy_count(scorecard: Scorecard) -> Reading:
    """The number of synthetic records that copy a training record (the metric's value is the share)."""
    reading = _metric_value(scorecard, "exact_copies")
    if isinstance(reading, str):
        return reading
    count = scorecard["exact_copies"].details.get("count")
    if not isinstance(count, int | float):
        return "metric 'exact_copies' reports no count"
    return float(count), "exact copies (count)"


def _singling_out_within_baseline(scorecard: Scorecard) -> Reading:
    """1 when the singling-out attack does no better than its control within the CIs, else 0."""
    reading = _metric_value(scorecard, "singling_out_risk")
    if isinstance(reading, str):
        return reading
    r: MetricResult = scorecard["singling_out_risk"]
    if r.ci is not None:
        return (1.0 if r.ci[0] <= 0.0 else 0.0), "singling_out_risk CI includes 0 (attack ≤ control)"
    return (1.0 if r.value <= 0.0 else 0.0), "singling_out_risk ≤ 0 (attack ≤ control)"


@dataclass(frozen=True, slots=True)
class SpecialKey:
    """A gate key that is not a plain metric or axis bound."""

    bound: str  # "max" | "min" | "true"
    read: Callable[[Scorecard], Reading]
    description: str


SPECIAL_KEYS: dict[str, SpecialKey] = {
    "max_exact_copies": SpecialKey(
        "max", _exact_copy_count, "the number of synthetic records copying a training record"
    ),
    "max_exact_copy_share": SpecialKey(
        "max",
        lambda card: _metric_value(card, "exact_copies"),
        "the share of synthetic records copying a training record",
    ),
    "max_membership_auc": SpecialKey(
        "max", _worst_membership_auc, "the worse AUC of the distance-based and density-based membership attacks"
    ),
    "singling_out_within_baseline": SpecialKey(
        "true", _singling_out_within_baseline, "the singling-out risk's CI includes 0 (attack no better than control)"
    ),
}


def gate_keys() -> dict[str, str]:
    """Every key a policy may use → what it bounds."""
    keys = {}
    for axis in AXES:
        keys[f"min_{axis.value}"] = f"the {axis.value} axis score (0–1)"
    for cls in {c for mod in ("tabular", "signal", "image") for c in evaluation_metrics(mod)}:
        keys[f"max_{cls.name}"] = f"{cls.title} (value)"
        keys[f"min_{cls.name}"] = f"{cls.title} (value)"
    keys.update({name: spec.description for name, spec in SPECIAL_KEYS.items()})  # specials win
    return dict(sorted(keys.items()))


@dataclass(frozen=True, slots=True)
class GateCheck:
    """One bound of the policy, judged."""

    key: str
    limit: float | bool
    value: float | None
    passed: bool
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"key": self.key, "limit": self.limit, "value": self.value, "passed": self.passed, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class GateResult:
    """The verdict: passed only when every check passed."""

    source: str
    checks: tuple[GateCheck, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def failures(self) -> list[GateCheck]:
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, object]:
        return {"source": self.source, "passed": self.passed, "checks": [c.to_dict() for c in self.checks]}


@dataclass(frozen=True, slots=True)
class GatePolicy:
    """Bounds keyed as in the module docstring; build with :meth:`from_yaml` or :meth:`from_mapping`."""

    bounds: Mapping[str, float | bool]
    source: str = "policy"

    @classmethod
    def from_yaml(cls, path: str | Path) -> GatePolicy:
        p = Path(path)
        if not p.is_file():
            raise InputError(Problem(str(p), "no such file", "a YAML release-gate policy"))
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise InputError(Problem(str(p), f"invalid YAML ({exc})", "a flat mapping of gate keys")) from exc
        return cls.from_mapping(data if data is not None else {}, source=str(p))

    @classmethod
    def from_mapping(cls, data: object, *, source: str = "policy") -> GatePolicy:
        if not isinstance(data, Mapping):
            raise InputError(Problem(source, f"a {type(data).__name__}", "a flat mapping like 'max_exact_copies: 0'"))
        metrics_for()  # load the registry so every metric key is known
        known = gate_keys()
        problems = []
        bounds: dict[str, float | bool] = {}
        for key, value in data.items():
            where = f"{source}: '{key}'"
            if key not in known:
                close = difflib.get_close_matches(str(key), list(known), n=3, cutoff=0.6)
                hint = f"did you mean {close}? " if close else ""
                problems.append(
                    Problem(where, "an unknown gate key", f"{hint}one of `medsyn evaluate --list-gate-keys`")
                )
                continue
            special = SPECIAL_KEYS.get(key)
            if special is not None and special.bound == "true":
                if not isinstance(value, bool):
                    problems.append(Problem(where, repr(value), "true or false"))
                    continue
                bounds[key] = value
            elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                problems.append(Problem(where, repr(value), "a finite number"))
            elif key.startswith("min_") and key[4:] in {a.value for a in AXES} and not 0 <= value <= 1:
                problems.append(Problem(where, repr(value), "an axis score between 0 and 1"))
            else:
                bounds[key] = float(value)
        if problems:
            raise InputError(problems, location=source)
        return cls(bounds, source)

    def check(self, scorecard: Scorecard) -> GateResult:
        """Judge every bound against the scorecard."""
        return GateResult(self.source, tuple(self._check(key, limit, scorecard) for key, limit in self.bounds.items()))

    def _check(self, key: str, limit: float | bool, scorecard: Scorecard) -> GateCheck:
        special = SPECIAL_KEYS.get(key)
        if special is not None:
            reading, bound = special.read(scorecard), special.bound
        elif key.startswith("min_") and key[4:] in {a.value for a in AXES}:
            axis = scorecard.axis(key[4:])
            reading = (axis.score, f"{axis.axis.value} score") if not math.isnan(axis.score) else axis.reason
            bound = "min"
        else:
            bound, name = key.split("_", 1)
            reading = _metric_value(scorecard, name)
        if isinstance(reading, str):
            if bound == "true" and limit is False:
                return GateCheck(key, limit, None, True, "not required")
            return GateCheck(key, limit, None, False, f"cannot be checked: {reading}")
        value, what = reading
        if bound == "true":
            ok = bool(value) or limit is False
            return GateCheck(key, limit, value, ok, f"{what}: {'yes' if value else 'no'}")
        lim = float(limit)
        ok = value <= lim if bound == "max" else value >= lim
        op = "≤" if bound == "max" else "≥"
        verdict = "meets" if ok else "breaks"
        return GateCheck(key, limit, value, ok, f"{what} = {value:.4g} {verdict} {op} {lim:g}")
