"""The ``medsyn`` command: inspect data, write its data dictionary, audit its quality.

Commands call the same library functions as the Python API. Errors map to exit codes in one
place (:func:`main`): 2 for bad input (a file, a column, an option), 1 for an internal failure,
3 for a refused action, 4 when ``--fail-on`` finds findings at or above the chosen level.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from medsyn import __version__
from medsyn._anonymize_cli import anonymize_cmd
from medsyn._catalog_cli import catalog_app, lineage_command, records_command
from medsyn._cli_common import (
    SESSION,
    DecimalOpt,
    DelimiterOpt,
    EncodingOpt,
    FormatOpt,
    HeaderOpt,
    PathArg,
    SchemaOpt,
    console,
    err_console,
    governor,
)
from medsyn._deid_cli import deid_app
from medsyn._demo import run_demo_steps
from medsyn._demo_governance import run_governance_demo
from medsyn._evaluate_cli import evaluate_command
from medsyn._governance_cli import init_command, register_command, workspace_app
from medsyn._ledger_cli import ledger_app
from medsyn._pseudonymize_cli import dp_app, pseudonymize, reidentify
from medsyn._risk_cli import demo_risk, risk
from medsyn._synth_cli import synth_app
from medsyn.errors import MedsynError

if TYPE_CHECKING:
    from medsyn.data import Dataset, Schema
    from medsyn.metric import MetricResult
    from medsyn.quality import AuditResult

__all__ = ["app", "main"]

app = typer.Typer(
    name="medsyn",
    help="Trustworthy medical AI data: audit, protect, synthesise and evaluate clinical data.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)

EXIT_FINDINGS = 4
_STATUS_STYLE = {"pass": "green", "info": "blue", "warn": "yellow", "fail": "red", "skipped": "dim", "error": "magenta"}


class FailOn(StrEnum):
    never = "never"
    warn = "warn"
    fail = "fail"


class SchemaFormat(StrEnum):
    yaml = "yaml"
    json = "json"
    md = "md"


def _version(value: bool) -> None:
    if value:
        console.print(f"medsyn {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace", "-W", help="Workspace folder (default: $MEDSYN_WORKSPACE, else found upwards from here)."
        ),
    ] = None,
    purpose: Annotated[
        str | None,
        typer.Option(
            "--purpose", envvar="MEDSYN_PURPOSE", help="Declared purpose of this processing (in a workspace)."
        ),
    ] = None,
) -> None:
    """medsyn — point it at medical data; get its data dictionary and a quality audit.

    Inside a workspace (`medsyn init`) every command on data is checked against the access
    policy and recorded in the ledger; pass the purpose of the processing with --purpose.
    """
    SESSION.workspace, SESSION.purpose, SESSION.governor = workspace, purpose, None


def _schema_table(schema: Schema) -> Table:
    table = Table(title="Data dictionary", show_lines=False, header_style="bold")
    for col in ("column", "type", "role", "unit", "range / categories"):
        table.add_column(col, overflow="fold")
    for f in schema:
        if f.categories is not None:
            rng = ", ".join(f.categories[:8]) + (f" … ({len(f.categories)})" if len(f.categories) > 8 else "")
        elif f.minimum is not None or f.maximum is not None:
            rng = f"{f.minimum:g} – {f.maximum:g}" if f.minimum is not None and f.maximum is not None else ""
        else:
            rng = ""
        role_style = "bold red" if f.has_role("identifier") else "bold" if f.role.value != "feature" else ""
        table.add_row(
            f.name,
            f.type.value,
            f"[{role_style}]{', '.join(r.value for r in f.roles)}[/]" if role_style else f.role.value,
            f.unit or "",
            rng,
        )
    return table


@app.command()
def inspect(
    path: PathArg,
    schema: SchemaOpt = None,
    fmt: FormatOpt = None,
    delimiter: DelimiterOpt = None,
    encoding: EncodingOpt = None,
    decimal: DecimalOpt = None,
    header: HeaderOpt = None,
) -> None:
    """Print what a dataset holds and its inferred data dictionary."""
    with governor().operation("read", parameters={"command": "inspect"}) as op:
        ds = op.read(
            path, schema=schema, fmt=fmt, delimiter=delimiter, encoding=encoding, decimal=decimal, header=header
        )
    summary = ds.summary()
    console.print(f"[bold]{path}[/]: {summary['modality']}, {summary['records']} records", highlight=False)
    for key, value in summary.items():
        if key not in {"modality", "records", "provenance"}:
            console.print(f"  {key}: {value}", highlight=False)
    console.print(f"  provenance id: {ds.provenance.id}  reader: {ds.provenance.reader}")
    for w in ds.provenance.warnings:
        console.print(f"  [yellow]warning:[/] {w}", highlight=False)
    console.print(_schema_table(ds.schema))


@app.command("schema")
def schema_cmd(
    path: PathArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write: .yaml/.yml, .json or .md.")],
    schema: SchemaOpt = None,
    fmt: FormatOpt = None,
    delimiter: DelimiterOpt = None,
    encoding: EncodingOpt = None,
    decimal: DecimalOpt = None,
    header: HeaderOpt = None,
) -> None:
    """Write the data dictionary (inferred, plus any --schema overrides) to a file."""
    from medsyn._atomic import write_text
    from medsyn.errors import InputError

    with governor().operation("read", parameters={"command": "schema"}) as op:
        ds = op.read(
            path, schema=schema, fmt=fmt, delimiter=delimiter, encoding=encoding, decimal=decimal, header=header
        )
    writers = {".yaml": ds.schema.to_yaml, ".yml": ds.schema.to_yaml, ".json": ds.schema.to_json}
    suffix = output.suffix.lower()
    if suffix == ".md":
        text = ds.schema.to_markdown(f"Data dictionary: {ds.name}")
    elif suffix in writers:
        text = writers[suffix]()
    else:
        raise InputError(f"suffix '{output.suffix}'; expected .yaml, .yml, .json or .md", location=str(output))
    write_text(output, text)
    console.print(f"Wrote the data dictionary of {len(ds.schema)} fields to [bold]{output}[/]")


@app.command()
def audit(
    path: PathArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for report.json and report.html.")] = Path(
        "medsyn-audit"
    ),
    schema: SchemaOpt = None,
    fmt: FormatOpt = None,
    metric: Annotated[
        list[str] | None, typer.Option("--metric", "-m", help="Run only these checks (repeatable).")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", "-x", help="Leave out these checks (repeatable).")
    ] = None,
    fail_on: Annotated[FailOn, typer.Option(help="Exit with code 4 when a finding reaches this level.")] = FailOn.never,
    delimiter: DelimiterOpt = None,
    encoding: EncodingOpt = None,
    decimal: DecimalOpt = None,
    header: HeaderOpt = None,
) -> None:
    """Audit data quality and write report.json and a self-contained report.html."""
    from medsyn.report import Report

    params = {"metric": metric or [], "exclude": exclude or []}
    with governor().operation("audit", parameters=params) as op:
        ds = op.read(
            path, schema=schema, fmt=fmt, delimiter=delimiter, encoding=encoding, decimal=decimal, header=header
        )
        result = _run_audit(ds, metric, exclude)
        with console.status("Writing the report …"):
            files = Report.from_audit(result).write(output)
        op.output(output, kind="derived", role="report", label="audit", data=False)
        op.note(status=result.status.value)
    _print_results(result.results)
    counts = {k: v for k, v in result.counts().items() if v}
    console.print(
        f"Overall: [{_STATUS_STYLE[result.status.value]}]{result.status.value}[/]  {counts}  ({result.seconds:.1f} s)"
    )
    console.print(f"Report: [bold]{files.html}[/]  (data: {files.json})")
    if result.errors:
        for e in result.errors:
            err_console.print(f"[magenta]error in check[/] {e}", highlight=False)
        raise typer.Exit(1)
    levels = {FailOn.warn: 1, FailOn.fail: 2}
    if fail_on in levels and result.status.severity >= levels[fail_on]:
        raise typer.Exit(EXIT_FINDINGS)


def _run_audit(ds: Dataset, metric: list[str] | None, exclude: list[str] | None) -> AuditResult:
    from medsyn.quality import audit as run_audit

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("auditing", total=None)

        def progress(name: str, done: int, total: int) -> None:
            bar.update(task, description=f"check: {name}", completed=done, total=total)

        return run_audit(ds, metrics=metric or None, exclude=exclude or (), progress=progress)


def _print_results(results: Sequence[MetricResult]) -> None:
    table = Table(header_style="bold")
    table.add_column("check")
    table.add_column("verdict")
    table.add_column("why", overflow="fold")
    for r in results:
        style = _STATUS_STYLE[r.status.value]
        table.add_row(r.title or r.metric, f"[{style}]{r.status.value}[/]", r.reason)
    console.print(table)


@app.command()
def metrics(
    modality: Annotated[
        str | None, typer.Option(help="Only metrics for this modality: tabular, signal, image.")
    ] = None,
) -> None:
    """List the registered metrics with what each measures."""
    from medsyn.errors import InputError
    from medsyn.metric import metrics_for

    try:
        chosen = metrics_for(modality)
    except ValueError:
        raise InputError(f"modality '{modality}'; expected tabular, signal or image", location="--modality") from None
    table = Table(header_style="bold")
    for col in ("name", "modality", "kind", "what it measures"):
        table.add_column(col, overflow="fold")
    for cls in chosen:
        table.add_row(cls.name, cls.modality.value, cls.kind.value, cls.describe())
    console.print(table)


@app.command()
def formats() -> None:
    """List the readers: which files and folders medsyn reads."""
    from medsyn.data.io import READERS

    table = Table(header_style="bold")
    for col in ("reader", "modality", "suffixes", "what it reads"):
        table.add_column(col, overflow="fold")
    for name, cls in READERS.items():
        doc = " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())
        table.add_row(name, cls.modality.value, " ".join(cls.suffixes), doc)
    console.print(table)


@app.command()
def demo(
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the demo's outputs.")] = Path(
        "demo-output"
    ),
) -> None:
    """Run the main job on a real trial table (ACTG 175): audit, synthesise, evaluate against a holdout.

    The table ships with lifelines. The demo audits it, fits a synthesiser on a training split,
    samples a table balanced over sex and race, and scores synthetic data on the four axes.
    """
    from medsyn._deps import require

    require("lifelines", "demo", "the demo's real data (ACTG 175, shipped with lifelines)")
    source = resources.files("lifelines.datasets").joinpath("ACTG175.csv")
    with resources.as_file(source) as csv_path:
        console.print(
            "[bold]medsyn demo[/]: auditing ACTG 175 (AIDS Clinical Trials Group study 175; 2,139 patients; "
            "shipped with the lifelines package, MIT licence)"
        )
        audit(
            csv_path,
            output=output / "audit",
            schema=None,
            fmt=None,
            metric=None,
            exclude=None,
            fail_on=FailOn.never,
            delimiter=None,
            encoding=None,
            decimal=None,
            header=None,
        )
        demo_risk(csv_path, output / "risk")
        run_demo_steps(csv_path, output)
        run_governance_demo(csv_path, output)


def main() -> None:
    """Entry point: run the app and map errors to exit codes (2 bad input, 1 internal, 3 refused)."""
    try:
        app()  # usage errors exit 2 and --help exits 0 inside (standalone mode)
    except MedsynError as exc:
        from rich.markup import escape

        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted; no partial outputs were left")
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("MEDSYN_DEBUG"):
            traceback.print_exc()
        err_console.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {exc}\n"
            "This is a bug in medsyn. Run again with MEDSYN_DEBUG=1 for the traceback and report it.",
            highlight=False,
        )
        sys.exit(1)


app.add_typer(synth_app, name="synth")
app.command("evaluate")(evaluate_command)
app.add_typer(deid_app, name="deid")
app.command("risk")(risk)
app.command("anonymize")(anonymize_cmd)
app.command("pseudonymize")(pseudonymize)
app.command("reidentify")(reidentify)
app.add_typer(dp_app, name="dp")
app.command("init")(init_command)
app.add_typer(workspace_app, name="workspace")
catalog_app.command("register")(register_command)
app.add_typer(catalog_app, name="catalog")
app.command("lineage")(lineage_command)
app.command("records")(records_command)
app.add_typer(ledger_app, name="ledger")

if __name__ == "__main__":
    main()
