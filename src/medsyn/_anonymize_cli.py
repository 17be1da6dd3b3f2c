"""``medsyn anonymize``: release a table that satisfies k / l / t (and risk limits), with a report.

The command parses options, reads the table and any hierarchy files, calls
:func:`medsyn.privacy.anonymize`, and writes into the output folder, all at once or not at all:

- ``anonymized.csv`` (or ``.parquet``, matching the input) — the released table;
- ``anonymization.json`` — requirements, chosen generalisation, suppression, loss and risk
  before/after, every model re-checked on the released values, downstream utility, search
  statistics;
- ``anonymization.html`` — the same for people.

A request that cannot be met within ``--max-suppression`` exits with code 2 and a message saying
what the most general release would still need; no folder is written.
"""

from __future__ import annotations

import json
import math
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from medsyn._cli_common import (
    DecimalOpt,
    DelimiterOpt,
    EncodingOpt,
    FormatOpt,
    HeaderOpt,
    PathArg,
    SchemaOpt,
    console,
    governor,
)
from medsyn.errors import InputError, Problem

if TYPE_CHECKING:
    from medsyn.metric import MetricResult
    from medsyn.privacy import AnonymizationResult, HierarchySpec

__all__ = ["anonymize_app", "anonymize_cmd"]

anonymize_app = typer.Typer(
    name="anonymize",
    help="Anonymise a table: generalise quasi-identifiers and suppress records until k / l / t hold.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


class MethodChoice(StrEnum):
    optimal = "optimal"
    mondrian = "mondrian"


class LossChoice(StrEnum):
    ncp = "ncp"
    entropy = "entropy"
    discernibility = "discernibility"


class LVariantChoice(StrEnum):
    distinct = "distinct"
    entropy = "entropy"
    recursive = "recursive"


class TDistanceChoice(StrEnum):
    auto = "auto"
    equal = "equal"
    ordered = "ordered"


class OutputFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


def _load_hierarchies(files: list[Path] | None) -> dict[str, HierarchySpec]:
    from medsyn.privacy import load_hierarchies

    specs: dict[str, HierarchySpec] = {}
    problems: list[Problem] = []
    for path in files or []:
        try:
            loaded = load_hierarchies(path)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        for column, spec in loaded.items():
            if column in specs:
                problems.append(
                    Problem(
                        f"{path}: hierarchies.{column}",
                        f"also given in {specs[column].source}",
                        "one hierarchy per column",
                    )
                )
            specs[column] = spec
    if problems:
        raise InputError(problems)
    return specs


def _finite(value: object) -> object:
    """JSON-safe: non-finite floats become null, containers are cleaned recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _report_results(result: AnonymizationResult) -> tuple[MetricResult, ...]:
    """The result as metric results, for the HTML report."""
    from medsyn.data import Modality
    from medsyn.metric import Direction, MetricKind, MetricResult, Status

    out: list[MetricResult] = []
    for check in result.checks:
        out.append(
            MetricResult(
                metric=f"anonymize.{check.model.split()[0].lower()}",
                kind=MetricKind.PRIVACY,
                modality=Modality.TABULAR,
                value=float(check.achieved),
                ideal=float(check.required),
                direction=Direction.MAXIMIZE if check.at_least else Direction.MINIMIZE,
                status=Status.PASS if check.satisfied else Status.FAIL,
                reason=f"{check.model}: {check.achieved_text} on the released table",
                title=check.model,
            )
        )
    before, after = result.loss_before, result.loss_after
    rows = [
        ("ncp", "Information loss (NCP)", after.ncp, before.ncp, "share of generalisation per cell; 0 = original"),
        (
            "entropy",
            "Non-uniform entropy loss",
            after.entropy,
            before.entropy,
            "share of the bits lost if all were suppressed",
        ),
        (
            "discernibility",
            "Discernibility",
            after.discernibility,
            before.discernibility,
            "Σ class size² + n × suppressed",
        ),
        (
            "avg_class_size",
            "Average class size (C_avg)",
            after.avg_class_size,
            before.avg_class_size,
            "(records / classes) / k",
        ),
        (
            "max_risk",
            "Maximum re-identification risk",
            result.risk_after.max_risk,
            result.risk_before.max_risk,
            "1 / smallest class",
        ),
        (
            "avg_risk",
            "Average re-identification risk",
            result.risk_after.avg_risk,
            result.risk_before.avg_risk,
            "classes / records",
        ),
    ]
    for key, title, value, was, what in rows:
        out.append(
            MetricResult(
                metric=f"anonymize.{key}",
                kind=MetricKind.PRIVACY if "risk" in key else MetricKind.UTILITY,
                modality=Modality.TABULAR,
                value=float(value),
                ideal=0.0,
                direction=Direction.MINIMIZE,
                status=Status.INFO,
                reason=f"{was:.4g} before → {value:.4g} after ({what})",
                title=title,
                details={"before": float(was), "after": float(value)},
            )
        )
    if result.utility is not None:
        u = result.utility
        out.append(
            MetricResult(
                metric="anonymize.utility",
                kind=MetricKind.UTILITY,
                modality=Modality.TABULAR,
                value=u.after,
                ideal=1.0,
                direction=Direction.MAXIMIZE,
                status=Status.WARN if u.change < -0.05 else Status.INFO,
                reason=f"{u.metric} predicting '{u.target}': {u.before:.3f} before → {u.after:.3f} after",
                title="Downstream utility",
                details={"before": u.before, "after": u.after, "model": u.model},
            )
        )
    return tuple(out)


def _summary(result: AnonymizationResult) -> Table:
    table = Table(title="Anonymisation", header_style="bold")
    table.add_column("")
    table.add_column("before", justify="right")
    table.add_column("after", justify="right")
    b, a = result.loss_before, result.loss_after
    table.add_row("records", f"{result.records_in:,}", f"{len(result.dataset):,}")
    table.add_row("classes", f"{b.classes:,}", f"{a.classes:,}")
    table.add_row("smallest class", f"{result.risk_before.smallest_class:,}", f"{result.risk_after.smallest_class:,}")
    table.add_row("max risk", f"{result.risk_before.max_risk:.3g}", f"{result.risk_after.max_risk:.3g}")
    table.add_row("avg risk", f"{result.risk_before.avg_risk:.3g}", f"{result.risk_after.avg_risk:.3g}")
    table.add_row("NCP loss", f"{b.ncp:.3f}", f"{a.ncp:.3f}")
    if result.utility is not None:
        u = result.utility
        table.add_row(f"utility ({u.metric})", f"{u.before:.3f}", f"{u.after:.3f}")
    return table


@anonymize_app.callback()
def _root() -> None:
    """Anonymise tables (k-anonymity, l-diversity, t-closeness, risk limits)."""


@anonymize_app.command("anonymize")
def anonymize_cmd(
    path: PathArg,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for anonymized.csv/.parquet, anonymization.json and .html.")
    ],
    k: Annotated[
        int | None, typer.Option("--k", help="k-anonymity: every record shares its QIs with ≥ k−1 others.")
    ] = 5,
    l: Annotated[  # noqa: E741  (the model's name)
        float | None, typer.Option("--l", help="l-diversity of the sensitive column(s) in every class.")
    ] = None,
    t: Annotated[
        float | None, typer.Option("--t", help="t-closeness: EMD of each class to the whole table ≤ t.")
    ] = None,
    max_suppression: Annotated[
        float, typer.Option("--max-suppression", help="Share of records that may be removed (0–1).")
    ] = 0.0,
    l_variant: Annotated[LVariantChoice, typer.Option("--l-variant", help="distinct, entropy or recursive.")] = (
        LVariantChoice.distinct
    ),
    c: Annotated[float, typer.Option("--c", help="c of recursive (c, l)-diversity.")] = 1.0,
    t_distance: Annotated[TDistanceChoice, typer.Option("--t-distance", help="EMD ground distance.")] = (
        TDistanceChoice.auto
    ),
    max_risk: Annotated[float | None, typer.Option("--max-risk", help="Largest re-identification risk (1/k).")] = None,
    avg_risk: Annotated[float | None, typer.Option("--avg-risk", help="Average re-identification risk limit.")] = None,
    qi: Annotated[
        list[str] | None, typer.Option("--qi", help="Quasi-identifier column (repeatable; default: schema roles).")
    ] = None,
    sensitive: Annotated[
        list[str] | None, typer.Option("--sensitive", help="Sensitive column for l / t (repeatable; default: schema).")
    ] = None,
    method: Annotated[MethodChoice, typer.Option("--method", help="optimal (lattice) or mondrian.")] = (
        MethodChoice.optimal
    ),
    relaxed: Annotated[bool, typer.Option("--relaxed", help="Mondrian: relaxed instead of strict cuts.")] = False,
    loss: Annotated[LossChoice, typer.Option("--loss", help="What the optimal search minimises.")] = LossChoice.ncp,
    hierarchy: Annotated[
        list[Path] | None, typer.Option("--hierarchy", help="Hierarchy YAML file (repeatable; see docs/privacy.md).")
    ] = None,
    output_format: Annotated[
        OutputFormat | None, typer.Option("--output-format", help="csv or parquet (default: like the input).")
    ] = None,
    utility: Annotated[
        bool, typer.Option("--utility/--no-utility", help="Compare a model's score before/after (needs a target).")
    ] = True,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the utility model and its split.")] = 0,
    schema: SchemaOpt = None,
    fmt: FormatOpt = None,
    delimiter: DelimiterOpt = None,
    encoding: EncodingOpt = None,
    decimal: DecimalOpt = None,
    header: HeaderOpt = None,
) -> None:
    """Anonymise a table and write the release, anonymization.json and anonymization.html."""
    from medsyn._atomic import atomic_dir
    from medsyn.data import TabularDataset, write_table
    from medsyn.privacy import LVariant, Requirements, TDistance, anonymize
    from medsyn.report import Report

    run = {"method": method.value, "k": k, "l": l, "t": t, "qi": qi or [], "sensitive": sensitive or [], "seed": seed}
    with governor().operation("anonymize", parameters=run) as op:
        specs = _load_hierarchies(hierarchy)
        ds = op.read(
            path, schema=schema, fmt=fmt, delimiter=delimiter, encoding=encoding, decimal=decimal, header=header
        )
        if not isinstance(ds, TabularDataset):
            raise InputError(Problem(str(path), f"a {ds.modality.value} dataset", "a table"))
        req = Requirements(
            k=k,
            l=l,
            l_variant=LVariant(l_variant.value),
            c=c,
            t=t,
            t_distance=TDistance(t_distance.value),
            max_risk=max_risk,
            avg_risk=avg_risk,
            max_suppression=max_suppression,
        )
        with console.status(f"Anonymising {len(ds):,} records ({method.value}) …"):
            result = anonymize(
                ds,
                req,
                quasi_identifiers=qi or None,
                sensitive=sensitive or None,
                method=method.value,
                hierarchies=specs,
                loss=loss.value,
                strict=not relaxed,
                utility=utility,
                seed=seed,
            )
        suffix = "." + (
            output_format.value if output_format else ("parquet" if path.suffix.lower() == ".parquet" else "csv")
        )
        table_name = f"anonymized{suffix}"
        payload = {
            "input": ds.provenance.to_dict(),
            "output": {"file": table_name, "records": len(result.dataset), "digest": result.dataset.provenance.digest},
            **result.to_dict(),
        }
        report = Report(
            title=f"Anonymisation: {ds.name}",
            subject={
                **result.dataset.summary(),
                "method": result.method,
                "requirements": result.requirements.describe(),
            },
            results=_report_results(result),
            schema=result.dataset.schema,
        )
        with atomic_dir(output) as tmp:
            write_table(result.dataset, tmp / table_name)
            (tmp / "anonymization.json").write_text(
                json.dumps(_finite(payload), indent=2, ensure_ascii=False, allow_nan=False, default=str),
                encoding="utf-8",
            )
            (tmp / "anonymization.html").write_text(report.to_html(), encoding="utf-8")
        after = result.risk_after
        op.output(
            output / table_name,
            kind="anonymised",
            role="anonymised",
            privacy={"k_reached": after.smallest_class, "risk": after.max_risk, "average_risk": after.avg_risk},
        )
    console.print(_summary(result))
    if result.levels is not None:
        chosen = ", ".join(f"{col}: {result.generalization[col]}" for col in result.levels)
        console.print(f"generalisation: {chosen}", highlight=False)
    verdict = "[green]all satisfied[/]" if result.satisfied else "[red]NOT all satisfied[/]"
    console.print(
        f"{result.requirements.describe()} — {verdict}; {result.suppressed:,} record(s) suppressed; "
        f"dropped identifiers: {', '.join(result.dropped_columns) or 'none'}"
    )
    console.print(f"Wrote [bold]{output / table_name}[/], anonymization.json and anonymization.html")
