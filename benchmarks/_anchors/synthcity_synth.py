"""Anchor: synthcity's tabular plugins (``bayesian_network``, ``ctgan``, ``tvae``) on a prepared Parquet table.

Models are named ``synthcity_<plugin>``. Timed as fit: ``Plugins().get(plugin, **params)`` +
``plugin.fit(GenericDataLoader(df))``; sample: ``plugin.generate(count=N).dataframe()``. Deep
plugins get ``n_iter`` = ``--epochs`` (synthcity counts epochs as ``n_iter``), otherwise synthcity's
defaults. synthcity imports torchvision at package level for image data loaders that tabular
plugins never use; where that import is broken beside the CPU torch 2.13, it is stubbed.
"""

from __future__ import annotations

import argparse
from typing import Any

import _common
import _synth

TORCHVISION_NOTE = ""
try:
    import pandas as pd

    try:
        import torchvision  # noqa: F401
    except Exception as exc:
        TORCHVISION_NOTE = f"torchvision stubbed ({type(exc).__name__}: {exc})"
        _common.stub_torchvision()
    from synthcity.plugins import Plugins
    from synthcity.plugins.core.dataloader import GenericDataLoader
except Exception as exc:
    _common.skip("synthcity", f"import failed: {type(exc).__name__}: {exc}")
    raise SystemExit(0) from None

PLUGINS = {"synthcity_bayesian_network": "bayesian_network", "synthcity_ctgan": "ctgan", "synthcity_tvae": "tvae"}
DEEP = {"synthcity_ctgan", "synthcity_tvae"}


def fit(model: str, df: pd.DataFrame, meta: dict[str, Any], args: argparse.Namespace) -> Any:
    if model not in PLUGINS:
        raise ValueError(f"unknown model {model!r}; choose from {sorted(PLUGINS)}")
    params: dict[str, Any] = {"random_state": args.seed}
    if model in DEEP:
        params["device"] = "cpu"
        if args.epochs is not None:
            params["n_iter"] = args.epochs
    args.info["params"] = params
    frame = _synth.categories_as_objects(df[list(meta["columns"])])
    plugin = Plugins().get(PLUGINS[model], **params)
    plugin.fit(GenericDataLoader(frame))
    return plugin


def sample(plugin: Any, rows: int, seed: int) -> pd.DataFrame:
    return plugin.generate(count=rows, random_state=seed).dataframe()


if __name__ == "__main__":
    _synth.run(
        "synthcity",
        pd.read_parquet,
        fit,
        sample,
        extra={"version": _common.version("synthcity"), "pandas": pd.__version__, "note": TORCHVISION_NOTE},
    )
