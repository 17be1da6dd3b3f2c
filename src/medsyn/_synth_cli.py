"""``medsyn synth …``: fit a generator, sample from it (with conditions or balance), augment real data.

The commands are thin: they parse options, call :mod:`medsyn.synth`, write outputs atomically
and print what was done. Errors surface through :func:`medsyn.cli.main` like every command.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer
import yaml
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

synth_app = typer.Typer(
    name="synth",
    help="Synthesise tables: fit a generator, sample under conditions, rebalance or augment real data.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

ModelArg = Annotated[Path, typer.Argument(help="A model folder written by `medsyn synth fit`.")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Random seed: same seed, same rows.")]
ConditionOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--condition", "-c", help="A condition every row meets, e.g. 'sex=F', 'age>=70' (repeatable; all hold)."
    ),
]


def _parse_params(pairs: list[str] | None) -> dict[str, object]:
    params: dict[str, object] = {}
    problems = []
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            problems.append(Problem(f"--param {pair!r}", "no '='", "KEY=VALUE, e.g. epochs=50"))
            continue
        params[key.strip()] = yaml.safe_load(value)
    if problems:
        raise InputError(problems)
    return params


@synth_app.command("generators")
def generators() -> None:
    """List every generator with what it supports (conditions, differential privacy, GPU)."""
    from medsyn.synth import GENERATORS

    table = Table(header_style="bold")
    for col in ("generator", "modalities", "conditions", "DP", "GPU", "parameters", "what it is"):
        table.add_column(col, overflow="fold")
    for name, cls in GENERATORS.items():
        s = cls.supports
        params = ", ".join(cls._param_names())
        table.add_row(
            name,
            ", ".join(sorted(m.value for m in s.modalities)),
            s.conditions,
            "yes" if s.differential_privacy else "",
            "yes" if s.gpu else "",
            params,
            s.summary,
        )
    console.print(table)


@synth_app.command("fit")
def fit(
    path: PathArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to write the fitted model to.")],
    generator: Annotated[str, typer.Option("--generator", "-g", help="See `medsyn synth generators`.")] = "cart",
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Generator parameter KEY=VALUE (repeatable).")
    ] = None,
    epsilon: Annotated[
        float | None, typer.Option("--epsilon", help="Differential-privacy budget (DP generators only).")
    ] = None,
    delta: Annotated[float | None, typer.Option("--delta", help="DP δ (generators that use one).")] = None,
    constraint: Annotated[
        list[str] | None,
        typer.Option("--constraint", help="A rule every row keeps, e.g. 'systolic > diastolic' (repeatable)."),
    ] = None,
    seed: SeedOpt = 0,
    schema: SchemaOpt = None,
    fmt: FormatOpt = None,
    delimiter: DelimiterOpt = None,
    encoding: EncodingOpt = None,
    decimal: DecimalOpt = None,
    header: HeaderOpt = None,
) -> None:
    """Fit a generator on a table and save the model (JSON + safetensors, no pickle)."""
    from medsyn.data import TabularDataset
    from medsyn.synth import get

    cls = get(generator)
    params = _parse_params(param)
    for key, value in (("epsilon", epsilon), ("delta", delta)):
        if value is not None:
            if key not in cls._param_names():
                raise InputError(
                    Problem(
                        f"--{key}",
                        f"generator '{generator}' has no {key}",
                        "a DP generator (see `medsyn synth generators`)",
                    )
                )
            params[key] = value
    unknown = sorted(set(params) - set(cls._param_names()))
    if unknown:
        raise InputError(
            Problem("--param", f"unknown parameter(s) {unknown} for '{generator}'", f"one of {cls._param_names()}")
        )
    run = {"generator": generator, "params": params, "constraints": constraint or [], "seed": seed}
    with governor().operation("synth.fit", parameters=run) as op:
        ds = op.read(
            path,
            role="real",
            schema=schema,
            fmt=fmt,
            delimiter=delimiter,
            encoding=encoding,
            decimal=decimal,
            header=header,
        )
        if not isinstance(ds, TabularDataset):
            raise InputError(Problem(str(path), f"a {ds.modality.value} dataset", "a table"))
        model = cls(**params)
        if "epsilon" in params:  # a DP generator draws its ε (and δ) from the data set's budget first
            with op.budget("real", data=ds) as budget:
                if budget is not None:
                    eps, dlt = params["epsilon"], params.get("delta") or 0.0
                    assert isinstance(eps, float | int)
                    assert isinstance(dlt, float | int)
                    budget.spend(f"synth.fit {generator}", epsilon=float(eps), delta=float(dlt))
        model.fit(ds, constraints=constraint, seed=seed, progress=True)
        model.save(output)
        op.note(guarantee=str(model.privacy or "none"))
        op.output(
            output,
            kind="derived",
            role="model",
            label=f"{generator}-model",
            data=False,
        )
    console.print(f"[bold]{generator}[/] fitted on {len(ds):,} rows × {len(ds.schema)} columns → [bold]{output}[/]")
    for warning in getattr(model, "warnings_", []):
        console.print(f"[yellow]note:[/] {warning}")
    console.print(f"privacy: {model.privacy or 'no formal guarantee (not differentially private)'}")


@synth_app.command("sample")
def sample(
    model_path: ModelArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Table to write (.parquet or .csv).")],
    n: Annotated[int, typer.Option("-n", "--rows", help="Number of rows.", min=0)] = 1000,
    condition: ConditionOpt = None,
    balance: Annotated[
        list[str] | None,
        typer.Option("--balance", "-b", help="Share rows equally over this column's categories (repeat to combine)."),
    ] = None,
    seed: SeedOpt = None,
) -> None:
    """Sample rows from a saved model; every row meets every --condition."""
    from medsyn.data import write_table
    from medsyn.synth import load

    run = {"rows": n, "conditions": condition or [], "balance": balance or [], "seed": seed}
    with governor().operation("synth.sample", parameters=run) as op:
        model = load(op.input(model_path, role="model"))
        # every registered generator is tabular and samples a TabularDataset (Generator.sample declares Dataset)
        out = cast("TabularDataset", model.sample(n, conditions=condition or None, balance=balance or None, seed=seed))
        write_table(out, output)
        op.output(output, kind="synthetic", role="synthetic")
    what = f" where {' and '.join(condition)}" if condition else ""
    spread = f", balanced over {', '.join(balance)}" if balance else ""
    console.print(f"{len(out):,} synthetic rows{what}{spread} → [bold]{output}[/]")


@synth_app.command("augment")
def augment(
    model_path: ModelArg,
    path: PathArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Table to write (.parquet or .csv).")],
    by: Annotated[list[str], typer.Option("--by", help="Column(s) whose groups to rebalance (repeatable).")],
    target: Annotated[
        str, typer.Option("--target", help="'equal' shares, or 'minority' (all new rows to the smallest group).")
    ] = "equal",
    n: Annotated[
        int | None, typer.Option("-n", "--rows", help="New rows to add (default: the fewest that reach the target).")
    ] = None,
    condition: ConditionOpt = None,
    with_real: Annotated[
        bool, typer.Option("--with-real/--only-new", help="Write the real rows too, or only the new ones.")
    ] = False,
    seed: SeedOpt = None,
    schema: SchemaOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Add synthetic rows to under-represented groups of a real table (e.g. --by sex --by death)."""
    from medsyn.data import TabularDataset, write_table
    from medsyn.synth import load, plan_rebalance, rebalance

    run = {"by": by, "target": target, "rows": n, "conditions": condition or [], "with_real": with_real, "seed": seed}
    with governor().operation("synth.augment", parameters=run) as op:
        model = load(op.input(model_path, role="model"))
        ds = op.read(path, role="real", schema=schema, fmt=fmt)
        if not isinstance(ds, TabularDataset):
            raise InputError(Problem(str(path), f"a {ds.modality.value} dataset", "a table"))
        plans = plan_rebalance(ds, by, target, n=n)
        table = Table("group", "real rows", "target share", "added", header_style="bold")
        for p in plans:
            table.add_row(p.label, f"{p.count:,}", f"{p.share:.1%}", f"{p.add:,}")
        console.print(table)
        out = rebalance(model, ds, by, target, n=n, conditions=condition or None, only_new=not with_real, seed=seed)
        write_table(out, output)
        # real rows written beside synthetic ones keep the real data's kind
        op.output(output, kind=op.input_kind("real") if with_real else "synthetic", role="augmented")
    console.print(f"{len(out):,} rows ({'real + new' if with_real else 'new only'}) → [bold]{output}[/]")
