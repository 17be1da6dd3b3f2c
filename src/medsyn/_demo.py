"""The steps of ``medsyn demo`` after the audit: synthesis, then evaluation with a release gate.

The demo splits the real table into a training part and a holdout (records the generator never
sees), fits ``cart`` on the training part, writes a synthetic table balanced over gender × race,
and scores an unbalanced synthetic sample against the training part and the holdout under
:data:`DEMO_GATE`. The gate's verdict is printed, never turned into a failing exit code: the
demo shows what a release decision looks like.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
from rich.table import Table

from medsyn._cli_common import console

if TYPE_CHECKING:
    from medsyn.data import TabularDataset

#: The release policy the demo checks (see docs/evaluation.md for every key).
DEMO_GATE: dict[str, float | bool] = {"max_exact_copies": 0, "max_membership_auc": 0.6, "min_fidelity": 0.7}
#: Share of the real table kept back as the holdout.
HOLDOUT_SHARE = 0.2


def run_demo_steps(csv_path: Path, out: Path) -> None:
    """Synthesis and evaluation on the real table at ``csv_path``; outputs under ``out``."""
    from medsyn.data import read

    real = cast("TabularDataset", read(csv_path))  # a CSV is always read as a table
    order = np.random.default_rng(0).permutation(len(real))
    n_holdout = round(HOLDOUT_SHARE * len(real))
    train, holdout = real.select(np.sort(order[n_holdout:])), real.select(np.sort(order[:n_holdout]))
    synthetic = _synthesise(real, train, out / "synth")
    _evaluate(train, synthetic, holdout, out / "evaluate")


def _synthesise(real: TabularDataset, train: TabularDataset, out_dir: Path) -> TabularDataset:
    """Fit ``cart`` on the training split; write a balanced table and return a plain sample."""
    from medsyn.data import write_table
    from medsyn.synth import get

    console.print(f"\n[bold]Synthesis[/]: fitting cart on {len(train):,} training rows …")
    model = get("cart")().fit(train, seed=0, progress=True)
    model.save(out_dir / "model")
    # a tabular generator samples a TabularDataset (Generator.sample declares only Dataset)
    balanced = cast("TabularDataset", model.sample(len(real), balance=["gender", "race"], seed=0))
    target = write_table(balanced, out_dir / "synthetic_balanced.parquet")
    plain = cast("TabularDataset", model.sample(len(train), seed=1))
    write_table(plain, out_dir / "synthetic.parquet")
    table = Table(
        "gender", "race", "real share", "synthetic share", title="Balanced synthetic table", header_style="bold"
    )
    real_share = real.data.groupby(["gender", "race"]).size() / len(real)
    syn_share = balanced.data.groupby(["gender", "race"]).size() / len(balanced)
    for key, share in real_share.items():
        gender, race = cast("tuple[object, object]", key)  # a two-column groupby key
        table.add_row(str(gender), str(race), f"{share:.1%}", f"{syn_share.get((gender, race), 0.0):.1%}")
    console.print(table)
    console.print(f"Synthetic table ({len(balanced):,} rows): [bold]{target}[/]\nModel: [bold]{out_dir / 'model'}[/]")
    return plain


def _evaluate(train: TabularDataset, synthetic: TabularDataset, holdout: TabularDataset, out_dir: Path) -> None:
    """Score the plain synthetic sample on the four axes and check the demo's release gate."""
    from medsyn.evaluate import GatePolicy, evaluate

    console.print(
        f"\n[bold]Evaluation[/]: {len(synthetic):,} synthetic vs {len(train):,} training rows, "
        f"{len(holdout):,} holdout rows (target 'cens') …"
    )
    with console.status("scoring fidelity, diversity, privacy and utility …"):
        card = evaluate(train, synthetic, holdout, target="cens", seed=0)
    card = card.with_gate(GatePolicy.from_mapping(DEMO_GATE, source="demo gate").check(card))
    files = card.write(out_dir)
    table = Table("axis", "score", "95% CI", title="Scorecard", header_style="bold")
    for a in card.axes:
        ci = "" if a.ci is None else f"[{a.ci[0]:.2f}, {a.ci[1]:.2f}]"
        table.add_row(a.axis.value, "—" if a.score != a.score else f"{a.score:.2f}", ci)
    console.print(table)
    assert card.gate is not None
    for c in card.gate.checks:
        mark = "[green]pass[/]" if c.passed else "[red]fail[/]"
        console.print(f"  gate {c.key}: {mark} — {c.reason}")
    console.print(f"Scorecard: [bold]{files.html}[/]")
