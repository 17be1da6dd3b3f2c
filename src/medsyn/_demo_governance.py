"""The governance part of ``medsyn demo``: the same work, done inside a workspace, on record.

It creates a workspace, registers ACTG 175 as identifiable health data, and then shows what a
hospital's data-protection officer asks for: a data scientist's request to fit a generator on
identifiable data is refused (and the refusal recorded); the data steward anonymises the table;
the scientist fits and samples from the anonymised table; a differentially private count is
charged to the data set's budget; a checkpoint of the ledger is signed and kept outside the
workspace, and the ledger verifies against it; the lineage runs from the trial table to
the synthetic one; the GDPR Art. 30 records are written. Each step runs the real command, and
the demo prints it as a user would type it.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from medsyn._cli_common import console
from medsyn.errors import MedsynError

STEWARD = {"MEDSYN_USER": "sam", "MEDSYN_ROLE": "data_steward", "MEDSYN_TRAINING": "gdpr"}
SCIENTIST = {"MEDSYN_USER": "ada", "MEDSYN_ROLE": "data_scientist", "MEDSYN_TRAINING": "gdpr"}


@contextmanager
def _identity(env: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _medsyn(args: list[str], who: Mapping[str, str] | None = None, *, expect_refusal: bool = False) -> None:
    """Run one ``medsyn`` command in this process, printed as typed (with the identity it runs as)."""
    from medsyn.cli import app

    prefix = " ".join(f"{k}={v}" for k, v in (who or {}).items() if k in ("MEDSYN_ROLE", "MEDSYN_USER"))
    console.print(f"\n[dim]$ {prefix + ' ' if prefix else ''}medsyn {shlex.join(args)}[/]", highlight=False)
    with _identity(who or {}):
        try:
            app(args, standalone_mode=False)
        except MedsynError as exc:
            if not expect_refusal:
                raise
            from rich.markup import escape

            console.print(f"[bold red]refused (exit {exc.exit_code}):[/] {escape(str(exc))}", highlight=False)


def run_governance_demo(csv_path: Path, out: Path) -> None:
    """The governed steps; the workspace is ``out/workspace`` (replaced when the demo runs again)."""
    ws = out / "workspace"
    if (ws / "medsyn-workspace.yaml").is_file():
        shutil.rmtree(ws)  # the demo's own workspace from an earlier run
    console.print(
        "\n[bold]Governance[/]: the same kind of work inside a workspace — every request decided by the "
        "access policy, every step in a tamper-evident ledger"
    )
    _medsyn(["init", str(ws), "--site", "demo-hospital", "--controller", "Demo Hospital", "--dpo", "dpo@example.org"])
    g = ["--workspace", str(ws), "--purpose", "research"]
    _medsyn(
        [*g, "catalog", "register", str(csv_path), "--name", "actg175", "--kind", "identifiable",
         "--legal-basis", "art6-1-e", "--legal-basis", "art9-2-j", "--allowed-purpose", "research",
         "--allowed-purpose", "ai_development", "--retention", "P10Y",
         "--description", "Data subjects: adults with HIV-1 enrolled in the ACTG 175 trial."],
        STEWARD,
    )  # fmt: skip
    console.print("\nA data scientist asks to fit a generator on the identifiable table:")
    _medsyn(
        [*g, "synth", "fit", "actg175", "-o", str(out / "governed" / "model-denied")], SCIENTIST, expect_refusal=True
    )
    _medsyn([*g, "anonymize", "actg175", "--k", "5", "-o", str(out / "governed" / "anonymised")], STEWARD)
    anonymised = out / "governed" / "anonymised" / "anonymized.csv"
    _medsyn([*g, "synth", "fit", str(anonymised), "-o", str(out / "governed" / "model")], SCIENTIST)
    synthetic = out / "governed" / "synthetic.csv"
    _medsyn([*g, "synth", "sample", str(out / "governed" / "model"), "-n", "2000", "-o", str(synthetic)], SCIENTIST)
    _medsyn([*g, "dp", "budget", "actg175", "--epsilon", "1.0"], STEWARD)
    _medsyn([*g, "dp", "count", "actg175", "--epsilon", "0.25", "--where", "age >= 50"], STEWARD)
    head = out / "governed" / "ledger-head.note"  # a signed tree head kept outside the workspace
    _medsyn(["--workspace", str(ws), "ledger", "checkpoint", "-o", str(head)], STEWARD)
    _medsyn(["--workspace", str(ws), "ledger", "verify", "--checkpoint", str(head)], STEWARD)
    _medsyn(["--workspace", str(ws), "lineage", "actg175", "--down"], STEWARD)
    _medsyn(["--workspace", str(ws), "records", "-o", str(out / "governed" / "records")], STEWARD)
    console.print(f"Workspace: [bold]{ws}[/]  (try: medsyn --workspace {ws} ledger show)")
