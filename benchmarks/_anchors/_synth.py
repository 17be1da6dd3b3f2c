"""The tabular-synthesis protocol shared by every synthesis runner (ours and the anchors).

A runner is started as ``<venv python> <runner>.py --input T.parquet --meta T.meta.json --model M
--rows N --epochs E --seed S --output OUT.parquet``. It imports its tool, then

1. notes the resident memory after imports (``rss_base_mb``) and loads the table (``load_s``),
2. *fit*: from the table in memory to a fitted model, metadata detection included
   (``fit_s`` wall, ``fit_cpu_s`` user+system of all threads, ``peak_fit_mb``),
3. *sample*: ``N`` rows as a pandas DataFrame (``sample_s``, ``sample_cpu_s``, ``peak_sample_mb``),
4. writes the sample to ``OUT.parquet`` (not timed) and prints one ``RESULT_JSON`` line.

``--meta`` is the driver's column description, the same for every tool: ``{"columns": {name:
{"sdtype": "numerical" | "categorical" | "datetime"}}}``, from medsyn's inferred schema.

Standard library only at import: this module is imported from every anchor venv.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _common

#: fit(model name, table, column metadata, args) -> fitted state (it may note facts in ``args.info``);
#: sample(state, n, seed) -> DataFrame.
Fit = Callable[[str, Any, dict[str, Any], argparse.Namespace], Any]
Sample = Callable[[Any, int, int], Any]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--input", required=True, help="the real table, Parquet")
    p.add_argument("--meta", required=True, help="JSON with each column's sdtype")
    p.add_argument("--model", required=True)
    p.add_argument("--rows", type=int, required=True, help="rows to sample")
    p.add_argument("--epochs", type=int, default=None, help="training epochs of deep models")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", required=True, help="where to write the sample, Parquet")
    return p.parse_args()


def seed_everything(seed: int) -> None:
    """Seed the global generators that tools without a seed parameter draw from."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)  # noqa: NPY002 - the anchors draw from numpy's global generator
    except ImportError:
        pass
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:
        pass


def run(
    tool: str, load: Callable[[str], Any], fit: Fit, sample: Sample, *, extra: dict[str, Any] | None = None
) -> None:
    """Load, fit, sample, measure, write the sample and print one RESULT_JSON line (also on failure)."""
    args = parse_args()
    meta = json.loads(Path(args.meta).read_text())
    out: dict[str, Any] = {"tool": tool, "model": args.model, "epochs": args.epochs, "pid": os.getpid()}
    out.update(extra or {})
    out["rss_base_mb"] = _common.rss_mb()
    try:
        with _common.Phase() as p_load:
            data = load(args.input)
        out["load_s"] = p_load.wall_s
        seed_everything(args.seed)
        args.info = {}  # fit may note what it used here (parameters), reported as is
        with _common.Phase() as p_fit:
            state = fit(args.model, data, meta, args)
        out.update(args.info)
        out.update(fit_s=p_fit.wall_s, fit_cpu_s=p_fit.cpu_s, peak_fit_mb=p_fit.peak_mb, peak_method=p_fit.method)
        with _common.Phase() as p_sample:
            frame = sample(state, args.rows, args.seed)
        out.update(sample_s=p_sample.wall_s, sample_cpu_s=p_sample.cpu_s, peak_sample_mb=p_sample.peak_mb)
        out["peak_mb"] = max(p_load.peak_mb, p_fit.peak_mb, p_sample.peak_mb)
        out["rows_sampled"], out["columns"] = len(frame), int(frame.shape[1])
        target = Path(args.output)
        tmp = target.with_name(target.name + ".tmp")
        frame.to_parquet(tmp, index=False)
        tmp.replace(target)
        out["output"] = str(target)
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    out["ru_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
    _common.emit(out)


def categories_as_objects(frame: Any) -> Any:
    """A copy with pandas ``category`` columns as plain objects (SDV's CTGAN/TVAE and synthcity refuse ``category``)."""
    import pandas as pd

    out = frame.copy()
    for name in out.columns:
        if isinstance(out[name].dtype, pd.CategoricalDtype):
            out[name] = out[name].astype(object)
    return out
