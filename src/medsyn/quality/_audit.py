"""Run every applicable quality metric on a dataset and collect typed results.

One failing check never loses the others: an exception inside a metric becomes an ``error``
result that names the metric and the exception, and the audit goes on.

Checks run on a small thread pool (two workers by default, the size of the machines we target):
they spend their time in numpy, pandas, scipy and scikit-learn, which release the GIL, so two
checks overlap almost fully. Each check is seeded on its own, so results do not depend on the
order in which threads finish; they are returned in the order the checks were given.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace

from medsyn.data.dataset import Dataset, Modality, TabularDataset
from medsyn.data.schema import Schema
from medsyn.errors import InputError, MedsynError
from medsyn.metric import Metric, MetricKind, MetricResult, Status, get_metric, metrics_for

__all__ = ["ATTRIBUTE_CHECKS", "AuditResult", "audit"]

#: ``progress(metric_name, done, total)`` is called as each metric finishes and once at the end ("done").
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
    timings: Mapping[str, float] = field(default_factory=dict)

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
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "results": [r.to_dict() for r in self.results],
            "schema": self.schema.to_dict(),
        }


#: Table checks that also run on the per-record attribute table of signals and images (age, sex,
#: labels): representativeness and balance mean the same for ECGs and fundus photographs as for rows.
ATTRIBUTE_CHECKS: tuple[str, ...] = ("class_imbalance", "missingness", "representativeness")


def _attribute_table(dataset: Dataset) -> TabularDataset:
    """The per-record attributes of a signal or image dataset as a table, with their schema."""
    names = [n for n in dataset.schema.names if n in dataset.attributes.columns]
    return TabularDataset(dataset.attributes[names], dataset.schema.select(names), dataset.provenance)


def _resolve(
    dataset: Dataset, metrics: Sequence[str | Metric] | None, exclude: Sequence[str]
) -> list[tuple[Metric, Dataset]]:
    """The checks to run, each with the dataset it runs on (the data, or its attribute table)."""
    if metrics is None:
        chosen: list[tuple[Metric, Dataset]] = [
            (cls(), dataset) for cls in metrics_for(dataset.modality, MetricKind.QUALITY)
        ]
        if dataset.modality is not Modality.TABULAR and len(dataset.attributes.columns) > 1:
            records = _attribute_table(dataset)
            chosen += [(get_metric(name)(), records) for name in ATTRIBUTE_CHECKS]
    else:
        chosen = [(get_metric(m)() if isinstance(m, str) else m, dataset) for m in metrics]
        wrong = [m.name for m, _ in chosen if m.modality is not dataset.modality]
        if wrong:
            raise InputError(f"metrics {wrong} do not apply to {dataset.modality.value} data", location="metrics")
    return [(m, d) for m, d in chosen if m.name not in set(exclude)]


def _run_one(metric: Metric, dataset: Dataset) -> tuple[MetricResult, str | None, float]:
    """One check, never raising: failures become an ``error`` result and a message."""
    started = time.perf_counter()
    try:
        result, error = metric.compute(dataset), None
    except MedsynError as exc:
        result, error = metric.result(float("nan"), f"could not run: {exc}", status=Status.ERROR), str(exc)
    except Exception as exc:  # one broken check must not lose the audit
        message = f"internal error {type(exc).__name__}: {exc}"
        result, error = metric.result(float("nan"), message, status=Status.ERROR), message
    return result, error, time.perf_counter() - started


def audit(
    dataset: Dataset,
    *,
    metrics: Sequence[str | Metric] | None = None,
    exclude: Sequence[str] = (),
    progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> AuditResult:
    """Audit the quality of ``dataset`` with every registered quality metric of its modality.

    Signals and images are also checked on their per-record attributes (age, sex, labels) with
    :data:`ATTRIBUTE_CHECKS`, so a report shows whether women or a DR grade are represented.

    Parameters
    ----------
    dataset
        A table, signal or image dataset.
    metrics
        Names or configured instances to run instead of all of them.
    exclude
        Names to leave out.
    progress
        Called as ``progress(name, done, total)`` when each check finishes.
    workers
        Checks run at once (threads); default ``min(2, cpu count)``. ``1`` runs them in order.

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
    names = [m.name for m, _ in chosen]
    n_workers = max(1, workers if workers is not None else min(2, os.cpu_count() or 1))
    started = time.perf_counter()
    outcomes: dict[int, tuple[MetricResult, str | None, float]] = {}
    with ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="medsyn-audit") as pool:
        futures = {pool.submit(_run_one, metric, data): i for i, (metric, data) in enumerate(chosen)}
        try:
            for done, future in enumerate(as_completed(futures), start=1):
                i = futures[future]
                outcomes[i] = future.result()
                if progress is not None:
                    progress(names[i], done, len(chosen))
        except BaseException:  # Ctrl-C: drop the queued checks instead of running them all first
            for future in futures:
                future.cancel()
            raise
    if progress is not None:
        progress("done", len(chosen), len(chosen))
    ordered = [outcomes[i] for i in range(len(chosen))]
    results = [
        r if data is dataset else replace(r, title=f"Record attributes: {r.title}")
        for (r, _, _), (_, data) in zip(ordered, chosen, strict=True)
    ]
    return AuditResult(
        dataset=dataset.summary(),
        schema=dataset.schema,
        results=tuple(results),
        warnings=dataset.provenance.warnings,
        seconds=time.perf_counter() - started,
        errors=tuple(f"{n}: {e}" for n, (_, e, _) in zip(names, ordered, strict=True) if e is not None),
        timings={n: t for n, (_, _, t) in zip(names, ordered, strict=True)},
    )
