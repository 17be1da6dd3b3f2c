"""Ours: a registered medsyn tabular generator on a prepared Parquet table.

Timed as load: ``medsyn.data.read(parquet)`` (schema inference included; reported apart); fit:
``medsyn.synth.get(name)(**params).fit(dataset)``; sample: ``generator.sample(N, seed=S)`` up to
its ``.data`` DataFrame. Parameters are the generator's defaults, plus ``epochs`` (``--epochs``)
where the generator takes it, ``seed`` where it takes one and ``progress=False`` where it shows a
progress bar.

Imports are not timed for any tool (SDV imports scikit-learn and torch when it is imported), so
the libraries our generators import lazily inside ``fit`` are imported here first.
"""

from __future__ import annotations

import argparse
from typing import Any

import _common
import _synth

try:
    import pandas as pd

    import medsyn.data
    import medsyn.synth as synth
except Exception as exc:
    _common.skip("medsyn", f"import failed: {type(exc).__name__}: {exc}")
    raise SystemExit(0) from None


#: what each generator imports lazily inside fit (kept out of the timings, like every tool's imports)
LAZY_IMPORTS = {"cart": ["sklearn.tree"], "tvae": ["torch"], "ctgan": ["torch", "sklearn.mixture"]}


def params_for(cls: Any, args: argparse.Namespace) -> dict[str, Any]:
    names = set(cls._param_names()) if hasattr(cls, "_param_names") else set()
    params: dict[str, Any] = {}
    if args.epochs is not None and "epochs" in names:
        params["epochs"] = args.epochs
    if "seed" in names:
        params["seed"] = args.seed
    if "progress" in names:
        params["progress"] = False
    return params


def fit(model: str, ds: Any, meta: dict[str, Any], args: argparse.Namespace) -> Any:
    cls = synth.get(model)
    params = params_for(cls, args)
    args.info["params"] = params
    generator = cls(**params)
    generator.fit(ds)
    return generator


def sample(generator: Any, rows: int, seed: int) -> pd.DataFrame:
    return generator.sample(rows, seed=seed).data


def load(path: str) -> Any:
    """Read the table; first import what the generator would import lazily (not timed: see above)."""
    import importlib
    import sys

    model = sys.argv[sys.argv.index("--model") + 1] if "--model" in sys.argv else ""
    for module in LAZY_IMPORTS.get(model, []):
        importlib.import_module(module)
    return medsyn.data.read(path)


if __name__ == "__main__":
    _synth.run("medsyn", load, fit, sample, extra={"version": _common.version("medsyn")})
