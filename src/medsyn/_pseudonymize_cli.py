"""``medsyn pseudonymize``, ``medsyn reidentify`` and ``medsyn dp …``: protect a table, release statistics.

``pseudonymize`` replaces identifiers by keyed pseudonyms, shifts dates per patient and scrubs
free text, writing the new table (in the input's format) and a JSON report into one output
folder, atomically; the key file and the optional vault are written before it, each atomically,
so an interrupted run leaves no half-written output. ``reidentify`` looks pseudonyms up in a
vault for a stated purpose. ``dp`` releases differentially private counts, histograms, means
and quantiles, charged to a budget file that is saved before the numbers are shown.

Secrets never go on the command line (where shell history and ``ps`` would show them): a vault
passphrase comes from ``MEDSYN_VAULT_PASSPHRASE`` or a hidden prompt, a key from a file or
``MEDSYN_PSEUDONYM_KEY``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from medsyn._cli_common import DelimiterOpt, EncodingOpt, FormatOpt, PathArg, SchemaOpt, console, governor, read_input
from medsyn.errors import InputError, Problem

if TYPE_CHECKING:
    from medsyn.data import TabularDataset
    from medsyn.privacy import DPRelease, PrivacyBudget, ReidentificationVault, SecretKey

__all__ = ["dp_app", "pseudonymize", "reidentify"]

PASSPHRASE_ENV = "MEDSYN_VAULT_PASSPHRASE"
REPORT_NAME = "pseudonymize_report.json"


def _table(ds: object, path: Path) -> TabularDataset:
    from medsyn.data import TabularDataset

    if not isinstance(ds, TabularDataset):
        raise InputError(Problem(str(path), "not a table", "a CSV or Parquet table"))
    return ds


def _resolve_key(key: Path | None, new_key: bool) -> tuple[SecretKey, bool]:
    """The key and whether it is new (to be written); the environment variable stands in for a file."""
    from medsyn.privacy import KEY_ENV_VAR, SecretKey, load_key

    if key is None:
        if new_key:
            raise InputError(Problem("--new-key", "no --key path", "--key PATH where the new key is written"))
        if KEY_ENV_VAR not in os.environ:
            raise InputError(Problem("--key", "not given", f"a key file, or the key in ${KEY_ENV_VAR}"))
        return SecretKey.from_env(), False
    if new_key and not key.exists():
        return SecretKey(SecretKey.generate().material, str(key)), True
    return load_key(key), False


def _open_vault(vault: Path, vault_key: Path | None, *, create: bool) -> ReidentificationVault:
    from medsyn.privacy import ReidentificationVault, load_key

    if vault_key is not None:
        secret = load_key(vault_key)
        if create and not vault.exists():
            return ReidentificationVault.create(vault, key=secret)
        return ReidentificationVault.open(vault, key=secret)
    passphrase = os.environ.get(PASSPHRASE_ENV)
    if passphrase is None:
        passphrase = typer.prompt(
            f"Passphrase for {vault}", hide_input=True, confirmation_prompt=create and not vault.exists()
        )
    if create and not vault.exists():
        return ReidentificationVault.create(vault, passphrase=passphrase)
    return ReidentificationVault.open(vault, passphrase=passphrase)


def _inside(path: Path | None, folder: Path) -> bool:
    if path is None:
        return False
    return folder.resolve() in path.resolve().parents


def _output_name(path: Path) -> str:
    """The output table's file name: the input's name, in its format where we can write it."""
    name = path.name
    suffix = path.suffix.lower()
    stem = path.stem if suffix else name
    return f"{stem}.parquet" if suffix in (".parquet", ".pq") else f"{stem}.csv"


def pseudonymize(
    path: PathArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the pseudonymised table and report.")],
    key: Annotated[
        Path | None,
        typer.Option("--key", "-k", help="Key file (mode 0600). Without it: the key in $MEDSYN_PSEUDONYM_KEY."),
    ] = None,
    new_key: Annotated[
        bool, typer.Option("--new-key", help="Create the --key file with a fresh random key if it does not exist.")
    ] = False,
    columns: Annotated[
        list[str] | None,
        typer.Option("--column", "-c", help="Column to pseudonymise (repeatable; default: identifier columns)."),
    ] = None,
    namespace: Annotated[
        str, typer.Option("--namespace", help="Token namespace: the same key and namespace give the same pseudonyms.")
    ] = "default",
    length: Annotated[int, typer.Option("--length", help="Hex digits per pseudonym (8-64).")] = 16,
    prefix: Annotated[str, typer.Option("--prefix", help="Text before every pseudonym, e.g. P-.")] = "",
    date_shift_days: Annotated[
        int | None, typer.Option("--date-shift-days", help="Shift each patient's dates by up to ±N days.")
    ] = None,
    keep_weekday: Annotated[
        bool, typer.Option("--keep-weekday", help="Shift dates by whole weeks only (weekday kept).")
    ] = False,
    patient_column: Annotated[
        str | None, typer.Option("--patient-column", help="Patient id column for date shifting.")
    ] = None,
    date_columns: Annotated[
        list[str] | None, typer.Option("--date-column", help="Date column to shift (repeatable; default: dates).")
    ] = None,
    scrub_text: Annotated[
        list[str] | None, typer.Option("--scrub-text", help="Free-text column to scrub (repeatable).")
    ] = None,
    names: Annotated[
        Path | None, typer.Option("--names", help="Text file of names to scrub from text, one per line.")
    ] = None,
    pattern: Annotated[
        list[str] | None,
        typer.Option("--pattern", help="Extra identifier pattern LABEL=REGEX for text scrubbing (repeatable)."),
    ] = None,
    scrub_pseudonyms: Annotated[
        bool, typer.Option("--scrub-pseudonyms", help="Replace identifiers in text by keyed tokens, not [LABEL].")
    ] = False,
    vault: Annotated[
        Path | None,
        typer.Option("--vault", help=f"Re-identification vault to fill (passphrase from ${PASSPHRASE_ENV}/prompt)."),
    ] = None,
    vault_key: Annotated[
        Path | None, typer.Option("--vault-key", help="Open the vault with this key file instead of a passphrase.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing, non-empty output folder.")] = False,
    schema: SchemaOpt = None,
    fmt: FormatOpt = None,
    delimiter: DelimiterOpt = None,
    encoding: EncodingOpt = None,
) -> None:
    """Pseudonymise a table: keyed pseudonyms, per-patient date shifts, scrubbed free text, optional vault."""
    from medsyn._atomic import atomic_dir
    from medsyn.data import write_table
    from medsyn.privacy import DateShifter, Scrubber, load_names, pseudonymize_table

    problems: list[Problem] = []
    if output.exists() and (not output.is_dir() or (any(output.iterdir()) and not force)):
        problems.append(Problem(str(output), "exists and is not empty", "a new folder", "Pass --force to replace it."))
    for label, secret_path in (("--key", key), ("--vault", vault), ("--vault-key", vault_key)):
        if _inside(secret_path, output):
            problems.append(Problem(label, f"{secret_path} is inside the output folder", "a path outside it"))
    if date_shift_days is None and (keep_weekday or patient_column or date_columns):
        problems.append(Problem("--date-shift-days", "not given", "N days, with the other date options"))
    if vault_key is not None and vault is None:
        problems.append(Problem("--vault-key", "given without --vault", "--vault PATH"))
    patterns: dict[str, str] = {}
    for item in pattern or []:
        label, sep, regex = item.partition("=")
        if not sep or not label:
            problems.append(Problem(f"--pattern {item!r}", "no '='", "LABEL=REGEX, e.g. STUDY_ID=STU-\\d{4}"))
        patterns[label] = regex
    if problems:
        raise InputError(problems)

    run = {"columns": columns or [], "namespace": namespace, "date_shift_days": date_shift_days, "vault": bool(vault)}
    with governor().operation("pseudonymize", parameters=run) as op:
        secret, is_new = _resolve_key(key, new_key)
        ds = _table(op.read(path, schema=schema, fmt=fmt, delimiter=delimiter, encoding=encoding), path)
        shifter = (
            DateShifter(secret, max_days=date_shift_days, keep_weekday=keep_weekday, namespace=namespace)
            if (date_shift_days is not None)
            else None
        )
        scrubber = None
        if scrub_text or names is not None or patterns or scrub_pseudonyms:
            scrubber = Scrubber(
                names=load_names(names) if names is not None else (),
                patterns=patterns,
                replacement="pseudonym" if scrub_pseudonyms else "placeholder",
                key=secret,
            )
        the_vault = _open_vault(vault, vault_key, create=True) if vault is not None else None
        result = pseudonymize_table(
            ds,
            key=secret,
            columns=columns or None,
            namespace=namespace,
            length=length,
            prefix=prefix,
            date_shift=shifter,
            patient_column=patient_column,
            date_columns=date_columns or None,
            scrubber=scrubber,
            text_columns=scrub_text or None,
            vault=the_vault,
        )
        # the key first: outputs made with a key that was never saved could not be linked again
        if is_new:
            assert key is not None
            secret.save(key)
            console.print(f"New key written to [bold]{key}[/] (fingerprint {secret.fingerprint}); keep it secret.")
        if the_vault is not None:
            the_vault.save()
        table_name = _output_name(path)
        report = {**result.to_dict(), "table": table_name}
        with atomic_dir(output) as tmp:
            write_table(result.dataset, tmp / table_name)
            (tmp / REPORT_NAME).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        op.output(
            output / table_name,
            kind="pseudonymised",
            role="pseudonymised",
        )
    _print_report(result.report.to_dict(), output / table_name)


def _print_report(report: dict[str, object], table_path: Path) -> None:
    table = Table("column", "treatment", "values", "distinct / found", header_style="bold")
    pseudonymized = report["pseudonymized"]
    assert isinstance(pseudonymized, dict)
    for col, info in pseudonymized.items():
        table.add_row(col, "pseudonym", f"{info['values']:,}", f"{info['distinct']:,}")
    shift = report["date_shift"]
    if isinstance(shift, dict):
        for col in shift["date_columns"]:
            table.add_row(col, f"date shift ±{shift['max_days']} d", f"{shift['dates_shifted']:,}", "")
    scrubbed = report["scrubbed"]
    assert isinstance(scrubbed, dict)
    for col, info in scrubbed.items():
        table.add_row(col, "scrubbed", f"{info['rows_changed']:,} rows", f"{info['found']:,} {info['by_label']}")
    console.print(table)
    console.print(f"key fingerprint {report['key_fingerprint']}, namespace '{report['namespace']}'")
    if report["vault"]:
        console.print(f"vault: {report['vault']} (+{report['vault_entries_added']} entries)")
    warnings = report["warnings"]
    assert isinstance(warnings, list)
    for warning in warnings:
        console.print(f"[yellow]note:[/] {warning}", highlight=False)
    console.print(f"Pseudonymised table: [bold]{table_path}[/]  (report: {table_path.parent / REPORT_NAME})")


def reidentify(
    vault: Annotated[Path, typer.Argument(help="The re-identification vault file.")],
    pseudonyms: Annotated[list[str], typer.Argument(help="Pseudonyms to look up.")],
    purpose: Annotated[str, typer.Option("--purpose", help="Why re-identification is needed (logged in the vault).")],
    namespace: Annotated[str, typer.Option("--namespace", help="The pseudonyms' namespace.")] = "default",
    vault_key: Annotated[
        Path | None, typer.Option("--vault-key", help="Open the vault with this key file instead of a passphrase.")
    ] = None,
) -> None:
    """Look pseudonyms up in a re-identification vault; each look-up is logged with its purpose."""
    with governor().operation("reidentify", parameters={"namespace": namespace, "count": len(pseudonyms)}) as op:
        op.authorize_unregistered(vault.name, kind="identifiable", role="vault")
        opened = _open_vault(vault, vault_key, create=False)
        result = opened.reidentify(pseudonyms, purpose=purpose, namespace=namespace)
        op.note(found=result.found)
    table = Table("pseudonym", "original", header_style="bold")
    for token, original in result.as_mapping().items():
        table.add_row(token, original if original is not None else "[dim](not in the vault)[/]")
    console.print(table)
    console.print(f"{result.found} of {len(result.pseudonyms)} found; purpose logged: '{result.purpose}'")


# -- differential privacy ------------------------------------------------------------------------
dp_app = typer.Typer(
    name="dp",
    help="Differentially private counts, histograms, means and quantiles, charged to a per-dataset budget.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


class MechanismChoice(StrEnum):
    laplace = "laplace"
    gaussian = "gaussian"


class ModeChoice(StrEnum):
    pure = "pure"
    zcdp = "zcdp"


BudgetOpt = Annotated[
    Path | None, typer.Option("--budget", "-b", help="Budget file (see `medsyn dp budget`); none in a workspace.")
]
EpsilonOpt = Annotated[float, typer.Option("--epsilon", "-e", help="Privacy loss ε this release spends.")]
WhereOpt = Annotated[str | None, typer.Option("--where", "-w", help="Only rows meeting this, e.g. 'age >= 70'.")]
MechanismOpt = Annotated[MechanismChoice, typer.Option("--mechanism", help="Noise: laplace (pure ε) or gaussian.")]
DeltaOpt = Annotated[float, typer.Option("--delta", help="δ of the Gaussian mechanism (e.g. 1e-6).")]
RowsOpt = Annotated[int, typer.Option("--rows-per-person", help="Most rows one person contributes.")]
ReleaseOut = Annotated[Path | None, typer.Option("--output", "-o", help="Also write the release as JSON here.")]
BoundsOpt = Annotated[
    tuple[float, float] | None, typer.Option("--bounds", help="LOWER UPPER clamp bounds (default: the schema's).")
]


@dp_app.command("budget")
def budget_create(
    path: PathArg,
    epsilon: Annotated[float, typer.Option("--epsilon", "-e", help="Total ε of the data set.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Budget file to create (.json); none in a workspace.")
    ] = None,
    delta: Annotated[float, typer.Option("--delta", help="Total δ (needed for Gaussian releases, zCDP).")] = 0.0,
    mode: Annotated[ModeChoice, typer.Option("--mode", help="How charges compose.")] = ModeChoice.pure,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing budget file (its record is lost).")
    ] = False,
    schema: SchemaOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Create the privacy budget of a data set (in the workspace, or a file keyed by name and digest)."""
    from medsyn.privacy import PrivacyBudget

    gov = governor()
    if gov.workspace is not None:
        if output is not None:
            raise InputError(Problem("--output", "a budget file inside a workspace", "no --output"))
        with gov.operation("dp.budget", parameters={"epsilon": epsilon, "delta": delta, "mode": mode.value}) as op:
            op.input(path, role="input")
            op.set_budget("input", epsilon, delta, mode=mode.value)
        console.print(
            f"Budget ε={epsilon:g}, δ={delta:g} ({mode.value}) set in workspace '{gov.workspace.config.name}'"
        )
        return
    if output is None:
        raise InputError(Problem("--output", "missing", "a budget file to create (outside a workspace)"))
    if output.exists() and not force:
        raise InputError(Problem(str(output), "a budget file already exists", "a new path", "Pass --force."))
    ds = read_input(path, schema, fmt)
    budget = PrivacyBudget.for_dataset(ds, epsilon, delta, mode=mode.value)
    budget.save(output)
    console.print(f"Budget for '{budget.dataset}' (version {budget.version}): {budget!r} → [bold]{output}[/]")


@dp_app.command("show")
def budget_show(
    budget: Annotated[str, typer.Argument(help="A budget file; in a workspace, a data set (name or file).")],
) -> None:
    """Show a budget: total, spent, remaining, and every charge."""
    from medsyn.privacy import PrivacyBudget

    gov = governor()
    if gov.workspace is not None:
        loaded = gov.workspace_budget(budget)
    else:
        loaded = PrivacyBudget.load(Path(budget))
    table = Table("charge", "ε", "δ", "ρ", header_style="bold")
    for s in loaded.spends:
        table.add_row(s.what, f"{s.epsilon:.4g}", f"{s.delta:.3g}", f"{s.rho:.4g}")
    console.print(table)
    console.print(f"{loaded!r}; remaining ε {loaded.remaining_epsilon:.4g}")


def _release(
    action: str,
    path: Path,
    budget_path: Path | None,
    schema: Path | None,
    output: Path | None,
    release_fn: Callable[..., DPRelease],
    **params: object,
) -> None:
    """Read, charge the budget (the workspace's, or the file's outside one), release, show.

    ``release_fn(data, budget=…, **params)`` is one of the ``medsyn.privacy.dp_*`` releases.
    """
    from medsyn._atomic import write_text
    from medsyn.privacy import PrivacyBudget

    gov = governor()
    if gov.workspace is not None and budget_path is not None:
        raise InputError(
            Problem("--budget", "a budget file inside a workspace", "no --budget: the workspace holds the budget")
        )
    if gov.workspace is None and budget_path is None:
        raise InputError(Problem("--budget", "missing", "a budget file (see `medsyn dp budget`) outside a workspace"))
    with gov.operation("dp.release", parameters={"release": action}) as op:
        ds = _table(op.read(path, role="input", schema=schema), path)
        with op.budget("input", data=ds) as held:  # holds the workspace budget's lock while it is charged
            budget: PrivacyBudget = held if held is not None else PrivacyBudget.load(budget_path)  # type: ignore[arg-type]
            release = release_fn(ds, budget=budget, **params)
            if held is None:
                budget.save(budget_path)  # type: ignore[arg-type]  # the charge is on record before anyone sees the numbers
        if output is not None:
            write_text(output, json.dumps(release.to_dict(), indent=2, ensure_ascii=False) + "\n")
            op.output(output, kind="derived", role="release", label=f"dp-{action}", data=False)
    console.print(str(release), highlight=False)
    where = budget_path if budget_path is not None else f"workspace budget of '{op.base_name}'"
    console.print(f"budget: spent ε {budget.spent_epsilon:.4g} of {budget.epsilon:g} → {where}")


@dp_app.command("count")
def count_cmd(
    path: PathArg,
    epsilon: EpsilonOpt,
    column: Annotated[str | None, typer.Option("--column", help="Count non-missing values of this column.")] = None,
    where: WhereOpt = None,
    mechanism: MechanismOpt = MechanismChoice.laplace,
    delta: DeltaOpt = 0.0,
    rows_per_person: RowsOpt = 1,
    output: ReleaseOut = None,
    schema: SchemaOpt = None,
    budget: BudgetOpt = None,
) -> None:
    """A differentially private count of rows (optionally where a condition holds)."""
    from medsyn.privacy import dp_count

    _release(
        "count",
        path,
        budget,
        schema,
        output,
        dp_count,
        epsilon=epsilon,
        column=column,
        where=where,
        mechanism=mechanism.value,
        delta=delta,
        rows_per_person=rows_per_person,
    )


@dp_app.command("histogram")
def histogram_cmd(
    path: PathArg,
    column: Annotated[str, typer.Option("--column", help="Categorical column.")],
    epsilon: EpsilonOpt,
    category: Annotated[
        list[str] | None, typer.Option("--category", help="A category (repeatable; default: the schema's).")
    ] = None,
    where: WhereOpt = None,
    mechanism: MechanismOpt = MechanismChoice.laplace,
    delta: DeltaOpt = 0.0,
    rows_per_person: RowsOpt = 1,
    output: ReleaseOut = None,
    schema: SchemaOpt = None,
    budget: BudgetOpt = None,
) -> None:
    """Differentially private counts per category (categories from the schema or --category)."""
    from medsyn.privacy import dp_histogram

    _release(
        "histogram",
        path,
        budget,
        schema,
        output,
        dp_histogram,
        column=column,
        epsilon=epsilon,
        categories=category or None,
        where=where,
        mechanism=mechanism.value,
        delta=delta,
        rows_per_person=rows_per_person,
    )


@dp_app.command("mean")
def mean_cmd(
    path: PathArg,
    column: Annotated[str, typer.Option("--column", help="Numeric column.")],
    epsilon: EpsilonOpt,
    bounds: BoundsOpt = None,
    where: WhereOpt = None,
    mechanism: MechanismOpt = MechanismChoice.laplace,
    delta: DeltaOpt = 0.0,
    rows_per_person: RowsOpt = 1,
    output: ReleaseOut = None,
    schema: SchemaOpt = None,
    budget: BudgetOpt = None,
) -> None:
    """A differentially private mean (values clamped to the bounds)."""
    from medsyn.privacy import dp_mean

    _release(
        "mean",
        path,
        budget,
        schema,
        output,
        dp_mean,
        column=column,
        epsilon=epsilon,
        bounds=bounds,
        where=where,
        mechanism=mechanism.value,
        delta=delta,
        rows_per_person=rows_per_person,
    )


@dp_app.command("quantile")
def quantile_cmd(
    path: PathArg,
    column: Annotated[str, typer.Option("--column", help="Numeric column.")],
    epsilon: EpsilonOpt,
    alpha: Annotated[
        list[float] | None, typer.Option("--alpha", "-q", help="Quantile level in [0, 1] (repeatable; default 0.5).")
    ] = None,
    bounds: BoundsOpt = None,
    where: WhereOpt = None,
    rows_per_person: RowsOpt = 1,
    output: ReleaseOut = None,
    schema: SchemaOpt = None,
    budget: BudgetOpt = None,
) -> None:
    """Differentially private quantiles (exponential mechanism over candidates within the bounds)."""
    from medsyn.privacy import dp_quantiles

    _release(
        "quantile",
        path,
        budget,
        schema,
        output,
        dp_quantiles,
        column=column,
        epsilon=epsilon,
        alphas=tuple(alpha or (0.5,)),
        bounds=bounds,
        where=where,
        rows_per_person=rows_per_person,
    )
