"""Run the evaluation metrics and aggregate them into one scorecard with four axis scores.

:func:`evaluate` validates the inputs once, runs every evaluation metric of the modality (or the
ones asked for) in order, sharing the cached encodings and neighbour queries, and never loses a
metric: one that cannot run is ``skipped`` with its reason, one that fails is an ``error``
result naming the exception.

Axis scores. Each metric maps its value to a score in [0, 1] through its documented monotone
:meth:`~medsyn.evaluate.EvalMetric.score`. An axis score (fidelity, diversity, privacy,
utility) is the plain mean of the scores of its scored metrics that ran — monotone in every
metric, so a better metric never lowers an axis. Its confidence interval is a bootstrap: the
metrics' replicates share their resamples (replicate ``b`` resamples the same records for every
metric), so replicate ``b`` of the axis is the mean of the metrics' replicate-``b`` scores; a
metric without replicates (deterministic given the data) contributes its value to every
replicate. An axis with no metric that ran has no score (``NaN``) and says why.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from medsyn import __version__
from medsyn.data.dataset import Dataset
from medsyn.errors import InputError, MedsynError, Problem
from medsyn.evaluate._base import EvalMetric
from medsyn.evaluate._inputs import EvalInputs, InputNote, percentile_ci
from medsyn.metric import MetricKind, MetricResult, Status, get_metric, metrics_for

if TYPE_CHECKING:
    from medsyn.evaluate._gate import GateResult
    from medsyn.report import ReportFiles

__all__ = ["AXES", "AxisScore", "Scorecard", "evaluate", "evaluation_metrics"]

#: The four axes, in report order.
AXES: tuple[MetricKind, ...] = (MetricKind.FIDELITY, MetricKind.DIVERSITY, MetricKind.PRIVACY, MetricKind.UTILITY)

#: ``progress(metric_name, done, total)`` after each metric.
ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class AxisScore:
    """One axis: its score in [0, 1] with a bootstrap CI, and which metrics made it."""

    axis: MetricKind
    score: float
    ci: tuple[float, float] | None
    metrics: tuple[str, ...]
    not_scored: tuple[str, ...]
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {
            "axis": self.axis.value,
            "score": None if math.isnan(self.score) else self.score,
            "ci": None if self.ci is None else list(self.ci),
            "metrics": list(self.metrics),
            "not_scored": list(self.not_scored),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Scorecard:
    """Every metric's result, the four axis scores, the stated handling of the inputs, and a gate verdict."""

    subject: Mapping[str, object]
    results: tuple[MetricResult, ...]
    axes: tuple[AxisScore, ...]
    notes: tuple[InputNote, ...] = ()
    errors: tuple[str, ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)
    scores: Mapping[str, float] = field(default_factory=dict)
    #: PNG charts a metric drew with access to the data (e.g. memorised image pairs); HTML only.
    figures: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    gate: GateResult | None = None
    seconds: float = 0.0
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def __getitem__(self, metric: str) -> MetricResult:
        for r in self.results:
            if r.metric == metric:
                return r
        raise KeyError(f"no result for metric '{metric}'; ran: {[r.metric for r in self.results]}")

    def __contains__(self, metric: object) -> bool:
        return any(r.metric == metric for r in self.results)

    def axis(self, axis: MetricKind | str) -> AxisScore:
        wanted = MetricKind(axis)
        return next(a for a in self.axes if a.axis is wanted)

    def skipped(self) -> list[MetricResult]:
        """Metrics that could not be computed, each with its reason."""
        return [r for r in self.results if r.status in (Status.SKIPPED, Status.ERROR)]

    def with_gate(self, gate: GateResult) -> Scorecard:
        return replace(self, gate=gate)

    def to_dict(self) -> dict[str, object]:
        return {
            "title": "Synthetic-data scorecard",
            "created": self.created,
            "medsyn_version": __version__,
            "subject": dict(self.subject),
            "axes": {a.axis.value: a.to_dict() for a in self.axes},
            "gate": None if self.gate is None else self.gate.to_dict(),
            "notes": [n.to_dict() for n in self.notes],
            "errors": list(self.errors),
            "not_computed": [
                {"metric": r.metric, "status": r.status.value, "reason": r.reason} for r in self.skipped()
            ],
            "results": [{**r.to_dict(), "score": _clean(self.scores.get(r.metric, math.nan))} for r in self.results],
            "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
            "seconds": round(self.seconds, 3),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False, default=str)

    def write(self, out_dir: str | Path, *, stem: str = "scorecard") -> ReportFiles:
        """Write ``<stem>.json`` and ``<stem>.html`` into ``out_dir`` (each atomically)."""
        from medsyn.report import write_scorecard

        return write_scorecard(self, out_dir, stem=stem)


def _clean(x: float) -> float | None:
    return None if math.isnan(x) else x


def evaluation_metrics(modality: object) -> list[type[EvalMetric]]:
    """Every registered evaluation metric for a modality, fidelity → utility, by name within an axis."""
    out: list[type[EvalMetric]] = []
    for axis in AXES:
        out += [c for c in metrics_for(modality, axis) if issubclass(c, EvalMetric)]  # type: ignore[arg-type]
    return out


def _resolve(
    inputs: EvalInputs, metrics: Sequence[str | EvalMetric] | None, exclude: Sequence[str]
) -> list[EvalMetric]:
    if metrics is None:
        chosen = [cls() for cls in evaluation_metrics(inputs.modality)]
    else:
        chosen = []
        problems = []
        for m in metrics:
            instance = get_metric(m)() if isinstance(m, str) else m
            if not isinstance(instance, EvalMetric):
                problems.append(
                    Problem(f"metric '{instance.name}'", f"a {instance.kind.value} metric", "an evaluation metric")
                )
            elif instance.modality is not inputs.modality:
                problems.append(
                    Problem(f"metric '{instance.name}'", f"measures {instance.modality.value}", inputs.modality.value)
                )
            else:
                chosen.append(instance)
        if problems:
            raise InputError(problems, location="metrics")
    unknown = [name for name in exclude if name not in {m.name for m in chosen}]
    if unknown:
        get_metric(unknown[0])  # an unknown name raises with a suggestion
    return [m for m in chosen if m.name not in set(exclude)]


def _run_one(metric: EvalMetric, inputs: EvalInputs) -> tuple[MetricResult, str | None, float]:
    started = time.perf_counter()
    try:
        result, error = metric.evaluate(inputs), None
    except MedsynError as exc:
        result, error = metric.result(math.nan, f"could not run: {exc}", status=Status.ERROR), str(exc)
    except Exception as exc:  # one broken metric must not lose the scorecard
        message = f"internal error {type(exc).__name__}: {exc}"
        result, error = metric.result(math.nan, message, status=Status.ERROR), message
    return result, error, time.perf_counter() - started


def _axis(axis: MetricKind, pairs: list[tuple[EvalMetric, MetricResult]], n_boot: int) -> AxisScore:
    mine = [(m, r) for m, r in pairs if m.kind is axis]
    used = [(m, r) for m, r in mine if m.scored and r.status not in (Status.SKIPPED, Status.ERROR)]
    used = [(m, r) for m, r in used if not math.isnan(m.score(r.value))]
    not_scored = tuple(r.metric for m, r in mine if (m, r) not in used)
    if not used:
        why = "no metric of this axis could be computed" if mine else "no metric of this axis was run"
        return AxisScore(axis, math.nan, None, (), not_scored, why)
    score = float(np.mean([m.score(r.value) for m, r in used]))
    reps = np.empty((n_boot, len(used)))
    for j, (m, r) in enumerate(used):
        values = r.replicates if len(r.replicates) == n_boot else (r.value,) * n_boot
        reps[:, j] = [m.score(v) for v in values]
    reps = np.where(np.isnan(reps), np.nanmean(reps, axis=0, keepdims=True), reps)
    ci = percentile_ci(reps.mean(axis=1)) if n_boot > 1 else None
    bootstrapped = sum(1 for _, r in used if len(r.replicates) == n_boot)
    reason = f"mean of {len(used)} metric score(s); {bootstrapped} bootstrapped"
    return AxisScore(axis, score, ci, tuple(r.metric for _, r in used), not_scored, reason)


def evaluate(
    real: Dataset,
    synthetic: Dataset,
    holdout: Dataset | None = None,
    *,
    target: str | None = None,
    protected: Sequence[str] | None = None,
    metrics: Sequence[str | EvalMetric] | None = None,
    exclude: Sequence[str] = (),
    seed: int = 0,
    n_bootstrap: int = 100,
    progress: ProgressCallback | None = None,
) -> Scorecard:
    """Measure ``synthetic`` against ``real`` (its training data) and ``holdout`` on every axis.

    Parameters
    ----------
    real
        The real records the generator was trained on.
    synthetic
        The synthetic records to judge.
    holdout
        Real records the generator never saw: the baseline for privacy and the test set for
        utility. Without it those metrics are skipped, each saying so.
    target
        The outcome column for utility and inference metrics (default: the one field with the
        role ``target``).
    protected
        Columns whose groups per-group metrics split on (default: fields with role ``protected``).
    metrics, exclude
        Names (or configured instances) to run instead of all, and names to leave out.
    seed, n_bootstrap
        Seed of every sampled step, and bootstrap replicates for confidence intervals.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from medsyn.data import TabularDataset
    >>> rng = np.random.default_rng(0)
    >>> real = TabularDataset(pd.DataFrame({"age": rng.integers(20, 90, 200), "sex": rng.choice(["F", "M"], 200)}))
    >>> card = evaluate(real, real.select(np.arange(100)), metrics=["tstr_utility"])
    >>> card["tstr_utility"].reason
    'needs a holdout (real records the generator never saw): pass --holdout'
    """
    started = time.perf_counter()
    inputs = EvalInputs.build(
        real, synthetic, holdout, target=target, protected=protected, seed=seed, n_bootstrap=n_bootstrap
    )
    chosen = _resolve(inputs, metrics, exclude)
    outcomes = []
    for done, metric in enumerate(chosen, start=1):
        outcomes.append(_run_one(metric, inputs))
        if progress is not None:
            progress(metric.name, done, len(chosen))
    pairs = [(m, r) for m, (r, _, _) in zip(chosen, outcomes, strict=True)]
    figures = {}
    for m, r in pairs:
        if r.status not in (Status.SKIPPED, Status.ERROR):
            png = m.figure(inputs, r)
            if png:
                figures[m.name] = png
    _, group_notes = inputs.groups() if inputs.protected else ([], [])
    subject = {
        "modality": inputs.modality.value,
        "real": real.summary(),
        "synthetic": synthetic.summary(),
        "holdout": None if holdout is None else holdout.summary(),
        "target": inputs.target,
        "protected": list(inputs.protected),
        "seed": seed,
        "bootstrap_replicates": n_bootstrap,
    }
    return Scorecard(
        subject=subject,
        results=tuple(r for _, r in pairs),
        axes=tuple(_axis(axis, pairs, n_bootstrap) for axis in AXES),
        notes=tuple(inputs.notes) + tuple(group_notes),
        errors=tuple(f"{m.name}: {e}" for m, (_, e, _) in zip(chosen, outcomes, strict=True) if e is not None),
        timings={m.name: t for m, (_, _, t) in zip(chosen, outcomes, strict=True)},
        scores={m.name: m.score(r.value) for m, r in pairs if r.status not in (Status.SKIPPED, Status.ERROR)},
        figures=figures,
        seconds=time.perf_counter() - started,
    )
