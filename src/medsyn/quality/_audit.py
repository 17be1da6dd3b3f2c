"""Run every applicable quality metric on a dataset and collect typed results.

One failing check never loses the others: an exception inside a metric becomes an ``error``
result that names the metric and the exception, and the audit goes on.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from medsyn.data.dataset import Dataset
from medsyn.data.schema import Schema
from medsyn.errors import InputError, MedsynError
from medsyn.metric import Metric, MetricKind, MetricResult, Status, get_metric, metrics_for

__all__ = ["AuditResult", "audit"]

#: ``progress(metric_name, done, total)`` is called before each metric and once at the end.
ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class AuditResult:
    """Everything an audit found: dataset facts, its schema, and one result per metric."""

    dataset: dict[str, object]
    schema: Schema
    results: tuple[MetricResult, ...]
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0
    errors: tuple[str, ...] = field(default_factory=tuple)

    @property
    def status(self) -> Status:
        """The worst verdict over all results (``pass`` when nothing is wrong)."""
        worst = max((r.status for r in self.results), key=lambda s: s.severity, default=Status.PASS)
        return Status.PASS if worst.severity == 0 else worst

    def counts(self) -> dict[str, int]:
        c = Counter(r.status.value for r in self.results)
        return {s.value: c.get(s.value, 0) for s in Status}

    def __getitem__(self, metric: str) -> MetricResult:
        for r in self.results:
            if r.metric == metric:
                return r
        raise KeyError(metric)

    def to_dict(self) -> dict[str, object]:
        return {
            "status": self.status.value,
            "counts": self.counts(),
            "dataset": self.dataset,
            "warnings": list(self.warnings),
            "seconds": round(self.seconds, 3),
            "results": [r.to_dict() for r in self.results],
            "schema": self.schema.to_dict(),
        }


def _resolve(dataset: Dataset, metrics: Sequence[str | Metric] | None, exclude: Sequence[str]) -> list[Metric]:
    if metrics is None:
        chosen: list[Metric] = [cls() for cls in metrics_for(dataset.modality, MetricKind.QUALITY)]
    else:
        chosen = [get_metric(m)() if isinstance(m, str) else m for m in metrics]
    wrong = [m.name for m in chosen if m.modality is not dataset.modality]
    if wrong:
        raise InputError(f"metrics {wrong} do not apply to {dataset.modality.value} data", location="metrics")
    return [m for m in chosen if m.name not in set(exclude)]


def audit(
    dataset: Dataset,
    *,
    metrics: Sequence[str | Metric] | None = None,
    exclude: Sequence[str] = (),
    progress: ProgressCallback | None = None,
) -> AuditResult:
    """Audit the quality of ``dataset`` with every registered quality metric of its modality.

    Parameters
    ----------
    dataset
        A table, signal or image dataset.
    metrics
        Names or configured instances to run instead of all of them.
    exclude
        Names to leave out.
    progress
        Called as ``progress(name, done, total)``.

    Examples
    --------
    >>> import pandas as pd
    >>> from medsyn.data import TabularDataset
    >>> res = audit(TabularDataset(pd.DataFrame({"age": [70, 81, None], "sex": ["F", "M", "F"]})),
    ...             metrics=["missingness"])
    >>> res["missingness"].value
    0.3333333333333333
    """
    chosen = _resolve(dataset, metrics, exclude)
    started = time.perf_counter()
    results: list[MetricResult] = []
    errors: list[str] = []
    for i, metric in enumerate(chosen):
        if progress is not None:
            progress(metric.name, i, len(chosen))
        try:
            results.append(metric.compute(dataset))
        except MedsynError as exc:
            results.append(metric.result(float("nan"), f"could not run: {exc}", status=Status.ERROR))
            errors.append(f"{metric.name}: {exc}")
        except Exception as exc:
            message = f"internal error {type(exc).__name__}: {exc}"
            results.append(metric.result(float("nan"), message, status=Status.ERROR))
            errors.append(f"{metric.name}: {message}")
    if progress is not None:
        progress("done", len(chosen), len(chosen))
    return AuditResult(
        dataset=dataset.summary(),
        schema=dataset.schema,
        results=tuple(results),
        warnings=dataset.provenance.warnings,
        seconds=time.perf_counter() - started,
        errors=tuple(errors),
    )
