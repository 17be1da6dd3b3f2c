"""``medsyn risk DATA``: measure a table's re-identification risk and write risk.json + risk.html.

The command is thin: it reads the table (and an optional population table), calls
:func:`medsyn.privacy.assess_risk`, writes the report atomically and prints a summary. Errors
surface through :func:`medsyn.cli.main` like every command (exit 2 for bad input).
"""

from __future__ import annotations

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
    from medsyn.data import TabularDataset
    from medsyn.privacy import RiskReport

__all__ = ["EXIT_FINDINGS", "demo_risk", "print_risk", "risk", "risk_app"]

EXIT_FINDINGS = 4
_STYLE = {"pass": "green", "info": "blue", "warn": "yellow", "fail": "red", "skipped": "dim", "error": "magenta"}


class RiskFailOn(StrEnum):
    never = "never"
    warn = "warn"
    fail = "fail"


def _columns(values: list[str] | None) -> list[str] | None:
    """``--qi age --qi sex`` and ``--qi age,sex`` both give ``["age", "sex"]``."""
    if values is None:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _table(ds: object, where: str) -> TabularDataset:
    from medsyn.data import TabularDataset

    if not isinstance(ds, TabularDataset):
        modality = getattr(getattr(ds, "modality", None), "value", type(ds).__name__)
        raise InputError(Problem(where, f"a {modality} dataset", "a table"))
    return ds


def risk(
    path: PathArg,
    schema: SchemaOpt = None,
    qi: Annotated[
        list[str] | None,
        typer.Option("--qi", help="Quasi-identifier column (repeatable or comma-separated); default: schema roles."),
    ] = None,
    sensitive: Annotated[
        list[str] | None,
        typer.Option("--sensitive", help="Sensitive column (repeatable or comma-separated); default: schema roles."),
    ] = None,
    population: Annotated[
        Path | None,
        typer.Option("--population", help="A table holding the whole population the data were drawn from."),
    ] = None,
    sampling_fraction: Annotated[
        float | None,
        typer.Option("--sampling-fraction", help="Share of the population in the data, e.g. 0.05 (no --population)."),
    ] = None,
    k: Annotated[int, typer.Option("-k", help="Target k: smallest acceptable class size.")] = 5,
    l_target: Annotated[float, typer.Option("-l", help="Target distinct l-diversity.")] = 2.0,
    t_target: Annotated[float, typer.Option("-t", help="Target t-closeness (largest acceptable EMD).")] = 0.2,
    max_risk: Annotated[
        float | None, typer.Option("--max-risk", help="Highest acceptable risk of one record (default 1/k).")
    ] = None,
    average_risk: Annotated[
        float, typer.Option("--average-risk", help="Highest acceptable average (prosecutor) risk.")
    ] = 0.05,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for risk.json and risk.html.")] = Path(
        "medsyn-risk"
    ),
    fail_on: Annotated[
        RiskFailOn, typer.Option("--fail-on", help="Exit with code 4 when a finding reaches this level.")
    ] = RiskFailOn.never,
    fmt: FormatOpt = None,
    delimiter: DelimiterOpt = None,
    encoding: EncodingOpt = None,
    decimal: DecimalOpt = None,
    header: HeaderOpt = None,
) -> None:
    """Measure re-identification risk: k-anonymity, l-diversity, t-closeness, prosecutor / journalist /
    marketer risk, population uniqueness and the HIPAA Safe Harbor screen; write risk.json and risk.html."""
    from medsyn.data import read

    run = {"qi": qi or [], "sensitive": sensitive or [], "k": k, "l": l_target, "t": t_target}
    with governor().operation("risk", parameters=run) as op:
        ds = _table(
            op.read(
                path, schema=schema, fmt=fmt, delimiter=delimiter, encoding=encoding, decimal=decimal, header=header
            ),
            str(path),
        )
        pop = None
        if population is not None:
            with console.status(f"Reading {population} …"):
                pop = _table(read(op.input(population, role="population")), str(population))
        report = _assess(ds, pop, qi, sensitive, sampling_fraction, k, l_target, t_target, max_risk, average_risk)
        with console.status("Writing the report …"):
            files = report.write(output)
        op.output(output, kind="derived", role="report", label="risk", data=False)
        attacker = report.reidentification.prosecutor
        op.measure("input", k_reached=report.k_anonymity.k, risk=attacker.maximum, average_risk=attacker.average)
    print_risk(report)
    console.print(f"Report: [bold]{files.html}[/]  (data: {files.json})")
    levels = {RiskFailOn.warn: 1, RiskFailOn.fail: 2}
    if fail_on in levels and report.status.severity >= levels[fail_on]:
        raise typer.Exit(EXIT_FINDINGS)


def _assess(
    ds: TabularDataset,
    pop: TabularDataset | None,
    qi: list[str] | None,
    sensitive: list[str] | None,
    sampling_fraction: float | None,
    k: int,
    l_target: float,
    t_target: float,
    max_risk: float | None,
    average_risk: float,
) -> RiskReport:
    from medsyn.privacy import assess_risk

    with console.status("Measuring risk …"):
        return assess_risk(
            ds,
            quasi_identifiers=_columns(qi),
            sensitive=_columns(sensitive),
            population=pop,
            sampling_fraction=sampling_fraction,
            k=k,
            l=l_target,
            t=t_target,
            max_risk=max_risk,
            average_risk=average_risk,
        )


def print_risk(report: RiskReport) -> None:
    """The summary table, the Safe Harbor findings and the warnings of a risk report."""
    console.print(
        f"[bold]Quasi-identifiers[/]: {', '.join(report.quasi_identifiers)}   "
        f"[bold]sensitive[/]: {', '.join(report.sensitive) or '(none)'}"
    )
    table = Table(header_style="bold")
    for col in ("measure", "value", "target", "verdict", "why"):
        table.add_column(col, overflow="fold")
    for r in report.results:
        value = f"{100 * r.value:.3g}%" if r.unit.startswith("share of") else f"{r.value:.4g}"
        target = (
            "" if r.threshold is None else ("≥ " if r.direction.value == "maximize" else "≤ ") + f"{r.threshold.warn:g}"
        )
        style = _STYLE[r.status.value]
        table.add_row(r.title, value, target, f"[{style}]{r.status.value}[/]", r.reason)
    console.print(table)
    if report.hipaa.findings:
        found = Table("column", "identifier", "certainty", "reason", title="HIPAA Safe Harbor", header_style="bold")
        for f in report.hipaa.findings:
            style = "red" if f.certainty.value == "identifier" else "yellow"
            found.add_row(
                f.column, f"({f.category.letter}) {f.category.label}", f"[{style}]{f.certainty.value}[/]", f.reason
            )
        console.print(found)
    for w in report.warnings:
        console.print(f"[yellow]note:[/] {w}")
    console.print(f"Overall: [{_STYLE[report.status.value]}]{report.status.value}[/]")


def demo_risk(csv_path: Path, out_dir: Path) -> RiskReport:
    """The demo's risk step: the real demo table with its inferred roles, report written to ``out_dir``."""
    from medsyn.data import read
    from medsyn.privacy import assess_risk

    console.print("\n[bold]Risk[/]: re-identification risk of the real table (roles from the inferred schema) …")
    report = assess_risk(_table(read(csv_path), str(csv_path)))
    files = report.write(out_dir)
    print_risk(report)
    console.print(f"Risk report: [bold]{files.html}[/]")
    return report


risk_app = typer.Typer(name="risk", add_completion=False, pretty_exceptions_enable=False, rich_markup_mode="rich")
risk_app.command("risk")(risk)
