"""``medsyn evaluate``: score synthetic data against its real training data and a holdout.

Thin: reads the three inputs (the synthetic and holdout data with the real data's schema, so
types line up), calls :func:`medsyn.evaluate.evaluate`, optionally judges the release gate,
writes ``scorecard.json`` and ``scorecard.html`` atomically and prints the axis scores. A failed
gate exits with code 4 and its reasons; bad input exits 2 like every command.

``--image-encoder`` picks the encoder of every image feature metric (Fréchet distance, KID,
precision/recall/density/coverage, memorisation); it is built and its weights or model file
loaded before any data is read, so an unknown name or a missing file fails at once. Each
result names the encoder in its details.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from medsyn._cli_common import (
    DecimalOpt,
    DelimiterOpt,
    EncodingOpt,
    FormatOpt,
    HeaderOpt,
    SchemaOpt,
    console,
    err_console,
    governor,
)

if TYPE_CHECKING:
    from medsyn.data.dataset import Dataset
    from medsyn.evaluate import EvalMetric
    from medsyn.evaluate.image import ImageEncoder

#: Exit code of a failed release gate (shared with `medsyn audit --fail-on`).
EXIT_GATE = 4


def _list_gate_keys() -> None:
    from medsyn.evaluate import gate_keys

    table = Table("key", "bounds", header_style="bold")
    for key, what in gate_keys().items():
        table.add_row(key, what)
    console.print(table)


RealOpt = Annotated[Path | None, typer.Option("--real", exists=True, help="Real data the generator was trained on.")]
SyntheticOpt = Annotated[Path | None, typer.Option("--synthetic", exists=True, help="The synthetic data to judge.")]
HoldoutOpt = Annotated[
    Path | None,
    typer.Option("--holdout", exists=True, help="Real records the generator never saw (privacy and utility need it)."),
]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Folder for scorecard.json and scorecard.html.")]
TargetOpt = Annotated[str | None, typer.Option("--target", help="Outcome column for utility and inference.")]
ProtectedOpt = Annotated[
    list[str] | None, typer.Option("--protected", help="A protected column for per-group metrics (repeatable).")
]
MetricOpt = Annotated[list[str] | None, typer.Option("--metric", "-m", help="Run only these metrics (repeatable).")]
ExcludeOpt = Annotated[list[str] | None, typer.Option("--exclude", help="Leave these metrics out (repeatable).")]
GateOpt = Annotated[
    Path | None, typer.Option("--gate", exists=True, help="A YAML release-gate policy; exit 4 when it fails.")
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of every sampled step.")]
BootstrapOpt = Annotated[int, typer.Option("--bootstrap", min=2, help="Bootstrap replicates for CIs.")]
ListKeysOpt = Annotated[bool, typer.Option("--list-gate-keys", help="List the keys a gate policy may use.")]
ImageEncoderOpt = Annotated[
    str | None,
    typer.Option(
        "--image-encoder",
        help="Encoder of the image feature metrics: 'offline' (default; no weights), 'inception_v3' or "
        "'inception_v3:WEIGHTS.pth' (pytorch-fid's FID weights on disk; never downloaded), "
        "'torchscript:MODEL.pt' (your own TorchScript export), or another registered encoder.",
    ),
]


def evaluate_command(
    real: RealOpt = None,
    synthetic: SyntheticOpt = None,
    holdout: HoldoutOpt = None,
    out: OutOpt = None,
    target: TargetOpt = None,
    protected: ProtectedOpt = None,
    metric: MetricOpt = None,
    exclude: ExcludeOpt = None,
    gate: GateOpt = None,
    seed: SeedOpt = 0,
    bootstrap: BootstrapOpt = 100,
    list_gate_keys: ListKeysOpt = False,
    image_encoder: ImageEncoderOpt = None,
    schema: SchemaOpt = None,
    fmt: FormatOpt = None,
    delimiter: DelimiterOpt = None,
    encoding: EncodingOpt = None,
    header: HeaderOpt = None,
    decimal: DecimalOpt = None,
) -> None:
    """Score synthetic data on fidelity, diversity, privacy and utility; optionally enforce a release gate."""
    if list_gate_keys:
        _list_gate_keys()
        return
    missing = [name for name, value in (("--real", real), ("--synthetic", synthetic), ("--out", out)) if value is None]
    if missing:
        raise typer.BadParameter(f"missing {', '.join(missing)}", param_hint=missing[0])
    assert real is not None
    assert synthetic is not None
    assert out is not None
    from medsyn.evaluate import GatePolicy, evaluate

    policy = GatePolicy.from_yaml(gate) if gate is not None else None  # a bad policy fails before any work
    encoder = _encoder(image_encoder) if image_encoder is not None else None  # so does a missing weight file
    options = {"delimiter": delimiter, "encoding": encoding, "header": header, "decimal": decimal}
    run = {
        "target": target,
        "protected": protected or [],
        "metrics": metric or [],
        "seed": seed,
        "bootstrap": bootstrap,
    }
    with governor().operation("evaluate", parameters=run) as op:
        real_data = op.read(real, role="real", schema=schema, fmt=fmt, **options)
        syn_data = op.read(synthetic, role="synthetic", schema=real_data.schema, fmt=fmt, **options)
        hold_data = (
            op.read(holdout, role="holdout", schema=real_data.schema, fmt=fmt, **options)
            if holdout is not None
            else None
        )
        chosen: list[str | EvalMetric] | None = list(metric) if metric else None
        if encoder is not None:
            chosen = _with_encoder(real_data, metric or None, encoder)
        with Progress(
            TextColumn("[bold]evaluating[/] {task.description}"), BarColumn(), TimeElapsedColumn(), console=err_console
        ) as bar:
            task = bar.add_task("", total=None)

            def progress(name: str, done: int, total: int) -> None:
                bar.update(task, description=name, completed=done, total=total)

            card = evaluate(
                real_data,
                syn_data,
                hold_data,
                target=target,
                protected=protected or None,
                metrics=chosen,
                exclude=exclude or (),
                seed=seed,
                n_bootstrap=bootstrap,
                progress=progress,
            )
        if policy is not None:
            card = card.with_gate(policy.check(card))
        files = card.write(out)
        op.output(out, kind="derived", role="scorecard", data=False)
        op.note(gate_passed=None if card.gate is None else card.gate.passed)
    _print(card)
    console.print(f"Scorecard: [bold]{files.html}[/] (and {files.json.name})")
    if card.gate is not None and not card.gate.passed:
        err_console.print(f"[bold red]Release gate failed[/] ({len(card.gate.failures())} of {len(card.gate.checks)}):")
        for c in card.gate.failures():
            err_console.print(f"  {c.key}: {c.reason}")
        raise typer.Exit(EXIT_GATE)


def _encoder(spec: str) -> ImageEncoder:
    """The encoder ``--image-encoder`` names, its weights or model loaded (errors name the file)."""
    from medsyn.evaluate.image import check_encoder, encoder_from_spec

    encoder = encoder_from_spec(spec)
    with console.status(f"Loading the image encoder {encoder.name} …"):
        info = check_encoder(encoder)
    weights = f", weights {info.weights}" if info.weights else ""
    console.print(f"Image encoder: [bold]{info.name}[/] ({info.dim}-d features{weights})")
    return encoder


def _with_encoder(data: Dataset, names: list[str] | None, encoder: ImageEncoder) -> list[str | EvalMetric]:
    """The metrics to run, each image feature metric built with ``encoder``; others by name."""
    from medsyn.data.dataset import Modality
    from medsyn.evaluate import evaluation_metrics
    from medsyn.evaluate.image import ImageFeatureMetric
    from medsyn.metric import get_metric

    if data.modality is not Modality.IMAGE:
        raise typer.BadParameter(
            f"applies to image data; the real data is {data.modality.value} data", param_hint="--image-encoder"
        )
    wanted = names if names is not None else [cls.name for cls in evaluation_metrics(Modality.IMAGE)]
    out: list[str | EvalMetric] = []
    for name in wanted:
        cls = get_metric(name)  # an unknown name raises with a suggestion
        out.append(cls(encoder=encoder) if issubclass(cls, ImageFeatureMetric) else name)
    return out


def _print(card: object) -> None:
    from medsyn.evaluate import Scorecard

    assert isinstance(card, Scorecard)
    table = Table("axis", "score", "95% CI", "metrics", header_style="bold")
    for a in card.axes:
        score = "—" if a.score != a.score else f"{a.score:.2f}"
        ci = "" if a.ci is None or a.score != a.score else f"[{a.ci[0]:.2f}, {a.ci[1]:.2f}]"
        table.add_row(a.axis.value, score, ci, a.reason)
    console.print(table)
    skipped = card.skipped()
    if skipped:
        console.print(f"[yellow]{len(skipped)} metric(s) not computed:[/]")
        for r in skipped:
            console.print(f"  {r.metric}: {r.reason}")
    if card.gate is not None and card.gate.passed:
        console.print(f"[bold green]Release gate passed[/] ({len(card.gate.checks)} checks)")
