"""The Metric contract shared by the data-quality audit and the synthetic-data evaluation.

A :class:`Metric` has a name, a modality, a kind (quality, fidelity, diversity, privacy,
utility), a direction and an ideal, and ``compute(real, synthetic=None) -> MetricResult``.
Results are typed and carry their verdict: the value is compared with a :class:`Threshold`
and the result says pass / warn / fail *and why*. Results may carry per-item findings
(per column, record, channel, image or group) as :class:`ItemResult` s, which reports chart.

A metric that cannot run on a dataset (no target column, no protected attribute) returns a
``skipped`` result saying why; it is never silently dropped.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

from medsyn._registry import Registry
from medsyn.data.dataset import Dataset, Modality
from medsyn.errors import InputError, Problem

__all__ = [
    "METRICS",
    "Detail",
    "Direction",
    "ItemResult",
    "Metric",
    "MetricKind",
    "MetricResult",
    "Status",
    "Threshold",
    "get_metric",
    "metrics_for",
]

Detail = float | int | str | bool | None


class MetricKind(StrEnum):
    QUALITY = "quality"
    FIDELITY = "fidelity"
    DIVERSITY = "diversity"
    PRIVACY = "privacy"
    UTILITY = "utility"


class Direction(StrEnum):
    """Which way is better."""

    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"


class Status(StrEnum):
    """A verdict, ordered from good to bad by :attr:`severity`; ``skipped``/``error`` explain themselves."""

    PASS = "pass"
    INFO = "info"
    WARN = "warn"
    FAIL = "fail"
    SKIPPED = "skipped"
    ERROR = "error"

    @property
    def severity(self) -> int:
        return {"pass": 0, "info": 0, "skipped": 0, "warn": 1, "fail": 2, "error": 3}[self.value]


@dataclass(frozen=True, slots=True)
class Threshold:
    """Where a value turns from pass to warn and from warn to fail, in the metric's direction.

    For a ``minimize`` metric, ``value <= warn`` passes, ``value <= fail`` warns, else fails;
    for ``maximize`` the comparisons flip.
    """

    warn: float
    fail: float

    def judge(self, value: float, direction: Direction) -> Status:
        if math.isnan(value):
            return Status.INFO
        if direction is Direction.MINIMIZE:
            return Status.PASS if value <= self.warn else Status.WARN if value <= self.fail else Status.FAIL
        return Status.PASS if value >= self.warn else Status.WARN if value >= self.fail else Status.FAIL

    def to_dict(self) -> dict[str, Detail]:
        """JSON-safe form; an infinite limit (never fails) becomes ``null``."""
        return {"warn": _clean(self.warn), "fail": _clean(self.fail)}

    def describe(self, direction: Direction) -> str:
        op = "≤" if direction is Direction.MINIMIZE else "≥"
        if math.isinf(self.fail):
            return f"pass {op} {self.warn:g}, else warn"
        return f"pass {op} {self.warn:g}, warn {op} {self.fail:g}"


def _clean(value: Detail) -> Detail:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True, slots=True)
class ItemResult:
    """A finding for one column / record / channel / image / group inside a metric."""

    scope: str
    key: str
    value: float
    status: Status = Status.INFO
    note: str = ""
    details: Mapping[str, Detail] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "scope": self.scope,
            "key": self.key,
            "value": _clean(self.value),
            "status": self.status.value,
            "note": self.note,
            "details": {k: _clean(v) for k, v in self.details.items()},
        }


@dataclass(frozen=True, slots=True)
class MetricResult:
    """The typed outcome of one metric on one dataset (or one real/synthetic pair)."""

    metric: str
    kind: MetricKind
    modality: Modality
    value: float
    ideal: float
    direction: Direction
    status: Status
    reason: str
    title: str = ""
    unit: str = ""
    threshold: Threshold | None = None
    ci: tuple[float, float] | None = None
    details: Mapping[str, Detail] = field(default_factory=dict)
    items: tuple[ItemResult, ...] = ()
    item_threshold: Threshold | None = None
    #: Bootstrap replicates of ``value`` on the evaluation's shared resamples (replicate ``b`` of
    #: every metric resamples the same records), so a scorecard can bootstrap aggregates. Not
    #: serialised; the CI is.
    replicates: tuple[float, ...] = field(default=(), repr=False)

    def __repr__(self) -> str:
        ci = f" CI[{self.ci[0]:.3g}, {self.ci[1]:.3g}]" if self.ci else ""
        return f"<MetricResult {self.metric}={self.value:.4g}{ci} {self.status.value}: {self.reason}>"

    def flagged(self) -> list[ItemResult]:
        """Items whose status is warn or worse, worst first."""
        bad = [i for i in self.items if i.status.severity >= Status.WARN.severity]
        return sorted(bad, key=lambda i: -i.status.severity)

    def to_dict(self) -> dict[str, object]:
        return {
            "metric": self.metric,
            "title": self.title,
            "kind": self.kind.value,
            "modality": self.modality.value,
            "value": _clean(self.value),
            "unit": self.unit,
            "ideal": self.ideal,
            "direction": self.direction.value,
            "status": self.status.value,
            "reason": self.reason,
            "threshold": None if self.threshold is None else self.threshold.to_dict(),
            "ci": None if self.ci is None else [_clean(self.ci[0]), _clean(self.ci[1])],
            "details": {k: _clean(v) for k, v in self.details.items()},
            "items": [i.to_dict() for i in self.items],
            "item_threshold": None if self.item_threshold is None else self.item_threshold.to_dict(),
        }


class Metric(ABC):
    """Base class: boundary checks once in :meth:`compute`, the measurement in ``_compute``.

    Subclasses set the class attributes and implement ``_compute``; optional parameters are
    keyword-only ``__init__`` arguments stored as attributes. ``threshold`` overrides
    ``default_threshold`` for one run (e.g. from a policy file).
    """

    name: ClassVar[str]
    title: ClassVar[str]
    modality: ClassVar[Modality]
    kind: ClassVar[MetricKind]
    direction: ClassVar[Direction] = Direction.MINIMIZE
    ideal: ClassVar[float] = 0.0
    unit: ClassVar[str] = ""
    default_threshold: ClassVar[Threshold | None] = None
    needs_synthetic: ClassVar[bool] = False

    def __init__(self, *, threshold: Threshold | None = None) -> None:
        self.threshold = threshold if threshold is not None else self.default_threshold

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    @classmethod
    def describe(cls) -> str:
        """The first paragraph of the class docstring: what the metric measures and why."""
        doc = (cls.__doc__ or "").strip().split("\n\n")[0]
        return " ".join(doc.split())

    def applies_to(self, data: Dataset) -> str | None:
        """``None`` when the metric can run on ``data``, else the reason it cannot."""
        return None

    def compute(self, real: Dataset, synthetic: Dataset | None = None) -> MetricResult:
        """Measure ``real`` (and ``synthetic``, for evaluation metrics)."""
        if real.modality is not self.modality:
            raise InputError(
                Problem(f"metric '{self.name}'", f"a {real.modality.value} dataset", f"a {self.modality.value} dataset")
            )
        if self.needs_synthetic and synthetic is None:
            raise InputError(Problem(f"metric '{self.name}'", "no synthetic dataset", "real and synthetic datasets"))
        why_not = self.applies_to(real)
        if why_not is not None:
            return self.skipped(why_not)
        return self._compute(real, synthetic)

    @abstractmethod
    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        """The measurement itself; inputs are already validated."""

    # -- helpers for subclasses -------------------------------------------------------------
    def result(
        self,
        value: float,
        reason: str,
        *,
        status: Status | None = None,
        items: Iterable[ItemResult] = (),
        details: Mapping[str, Detail] | None = None,
        ci: tuple[float, float] | None = None,
        item_threshold: Threshold | None = None,
        replicates: Iterable[float] = (),
    ) -> MetricResult:
        """Build a result; ``status`` defaults to judging ``value`` against the threshold.

        ``item_threshold`` records the threshold the items were judged with, when it differs
        from the dataset-level one (reports draw it on per-item charts).
        """
        value = float(value)
        if status is None:
            status = self.threshold.judge(value, self.direction) if self.threshold is not None else Status.INFO
        return MetricResult(
            metric=self.name,
            kind=self.kind,
            modality=self.modality,
            value=value,
            ideal=self.ideal,
            direction=self.direction,
            status=status,
            reason=reason,
            title=self.title,
            unit=self.unit,
            threshold=self.threshold,
            ci=ci,
            details=dict(details or {}),
            items=tuple(items),
            item_threshold=item_threshold,
            replicates=tuple(float(v) for v in replicates),
        )

    def judge(self, value: float) -> Status:
        """The status of one value (e.g. one column's) under this metric's threshold."""
        if self.threshold is None:
            return Status.INFO
        return self.threshold.judge(float(value), self.direction)

    def skipped(self, why: str) -> MetricResult:
        return self.result(math.nan, why, status=Status.SKIPPED)


def _check_metric(name: str, cls: type[Metric]) -> None:
    for attr in ("name", "title", "modality", "kind"):
        if not hasattr(cls, attr):
            raise TypeError(f"metric '{name}' must define class attribute '{attr}'")
    if cls.name != name:
        raise TypeError(f"metric registered as '{name}' but its name is '{cls.name}'")
    if not (cls.__doc__ or "").strip():
        raise TypeError(f"metric '{name}' needs a docstring saying what it measures")


METRICS: Registry[type[Metric]] = Registry("metric", entry_point_group="medsyn.metrics", check=_check_metric)


def get_metric(name: str) -> type[Metric]:
    """The metric class registered as ``name`` (``UnknownNameError`` with a suggestion otherwise)."""
    _load_builtin_metrics()
    return METRICS.get(name)


def metrics_for(modality: Modality | str | None = None, kind: MetricKind | str | None = None) -> list[type[Metric]]:
    """Every registered metric for a modality and kind (``None``: any), in name order."""
    _load_builtin_metrics()
    mod = Modality(modality) if modality is not None else None
    wanted = MetricKind(kind) if kind is not None else None
    return [
        cls
        for _, cls in METRICS.items()
        if (mod is None or cls.modality is mod) and (wanted is None or cls.kind is wanted)
    ]


def _load_builtin_metrics() -> None:
    """Import the packages that register metrics (explicit list: no globbing for plugins)."""
    import medsyn.evaluate
    import medsyn.quality  # noqa: F401
