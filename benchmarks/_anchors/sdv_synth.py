"""Anchor: SDV's single-table synthesizers (GaussianCopula, CTGAN, TVAE) on a prepared Parquet table.

Benchmark only: SDV is under the Business Source License, never a dependency of medsyn.

Models: ``sdv_gaussian_copula`` (``GaussianCopulaSynthesizer``, SDV's defaults: beta marginals),
``sdv_ctgan`` and ``sdv_tvae`` (``CTGANSynthesizer`` / ``TVAESynthesizer`` with ``epochs`` from
``--epochs``, otherwise SDV's defaults; CPU). Timed as fit: building SDV ``Metadata`` from the
driver's column sdtypes, casting pandas ``category`` columns to ``object`` (CTGAN/TVAE refuse them)
and ``synthesizer.fit``; sample: ``synthesizer.sample(num_rows=N)``. SDV ≥ 2 takes and returns
``{table name: DataFrame}`` in its single-table synthesizers too.
"""

from __future__ import annotations

import argparse
from typing import Any

import _common
import _synth

try:
    import pandas as pd
    from sdv.metadata import Metadata
    from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer, TVAESynthesizer
except Exception as exc:
    _common.skip("sdv", f"import failed: {type(exc).__name__}: {exc}")
    raise SystemExit(0) from None

TABLE = "table"
#: SDV 2 takes and returns ``{table name: DataFrame}`` even in single-table synthesizers; SDV 1 a DataFrame.
SDV2 = int(_common.version("sdv").split(".")[0]) >= 2
MODELS: dict[str, Any] = {
    "sdv_gaussian_copula": GaussianCopulaSynthesizer,
    "sdv_ctgan": CTGANSynthesizer,
    "sdv_tvae": TVAESynthesizer,
}
DEEP = {"sdv_ctgan", "sdv_tvae"}


def sdv_metadata(meta: dict[str, Any]) -> Metadata:
    """SDV ``Metadata`` for one table from the driver's column sdtypes (no keys: identifiers were dropped)."""
    return Metadata.load_from_dict({"tables": {TABLE: {"columns": meta["columns"]}}, "relationships": []})


def fit(model: str, df: pd.DataFrame, meta: dict[str, Any], args: argparse.Namespace) -> Any:
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose from {sorted(MODELS)}")
    params: dict[str, Any] = {}
    if model in DEEP:
        params["enable_gpu"] = False
        if args.epochs is not None:
            params["epochs"] = args.epochs
    args.info["params"] = params
    synthesizer = MODELS[model](sdv_metadata(meta), **params)
    table = _synth.categories_as_objects(df[list(meta["columns"])])  # CTGAN/TVAE refuse the 'category' dtype
    synthesizer.fit({TABLE: table} if SDV2 else table)
    return synthesizer


def sample(synthesizer: Any, rows: int, seed: int) -> pd.DataFrame:
    # SDV fixes its own sampling seed (sdv.single_table.base.FIXED_RNG_SEED) unless reset
    out = synthesizer.sample(num_rows=rows)
    return out[TABLE] if isinstance(out, dict) else out


if __name__ == "__main__":
    _synth.run(
        "sdv",
        pd.read_parquet,
        fit,
        sample,
        extra={"version": _common.version("sdv"), "pandas": pd.__version__},
    )
