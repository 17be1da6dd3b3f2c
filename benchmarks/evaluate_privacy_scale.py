"""Every registered tabular privacy metric at scale (default 1M vs 1M, holdout 1M), one process.

Reads the tables `evaluate.py` caches (`benchmarks/.cache/eval/{real,holdout}_<n>_seed0.parquet`
and `synthetic_cart_<n>_seed0.parquet`; run `evaluate.py --sizes <n> --setup-only` first), builds
`EvalInputs` once and runs each privacy metric in turn, printing wall and CPU seconds, the value
and the process's peak memory so far. It shows that the privacy axis finishes on a 2-core
machine at that size; there is no anchor (pyMDMA and anonymeter do not run at 1M).

    .venv/bin/python benchmarks/evaluate_privacy_scale.py [--size 1000000]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache" / "eval"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="rows per side (tables cached by evaluate.py)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from medsyn.data import read
    from medsyn.data.dataset import Modality
    from medsyn.evaluate import EvalInputs, evaluation_metrics

    tag = f"{args.size}_seed{args.seed}"
    start = time.perf_counter()
    real = read(CACHE / f"real_{tag}.parquet")
    synthetic = read(CACHE / f"synthetic_cart_{tag}.parquet", schema=real.schema)
    holdout = read(CACHE / f"holdout_{tag}.parquet", schema=real.schema)
    spec = json.loads((CACHE / f"spec_{tag}.json").read_text())
    inputs = EvalInputs.build(real, synthetic, holdout, target=spec.get("target"), seed=args.seed)
    print(f"read and validated {args.size:,} rows per side in {time.perf_counter() - start:.1f} s", flush=True)
    print("| metric | wall s | CPU s | value | status | peak MB so far |\n|---|--:|--:|--:|---|--:|")
    for cls in evaluation_metrics(Modality.TABULAR):
        if cls.kind.value != "privacy":
            continue
        wall, cpu = time.perf_counter(), time.process_time()
        result = cls().evaluate(inputs)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"| {cls.name} | {time.perf_counter() - wall:.1f} | {time.process_time() - cpu:.1f} | "
            f"{result.value:.4g} | {result.status.value} | {peak:,.0f} |",
            flush=True,
        )
    print(f"total {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
