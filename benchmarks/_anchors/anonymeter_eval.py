"""Anchor, evaluation: anonymeter's three GDPR risk evaluators (Giomi et al. 2023) on the prepared tables.

Units (one per process), each with the settings ours gets, from the driver's spec:

- ``singling_out_univariate`` / ``singling_out_multivariate``: ``SinglingOutEvaluator(ori=real,
  syn=synthetic, control=holdout, n_attacks, n_cols, seed).evaluate(mode=...)``;
- ``linkability``: ``LinkabilityEvaluator(real, synthetic, aux_cols=(first, second), n_attacks,
  n_neighbors=1, control=holdout).evaluate()`` with the two column halves ours uses;
- ``inference``: ``InferenceEvaluator(real, synthetic, aux_cols=every other column, secret,
  n_attacks, control=holdout).evaluate()`` (a categorical secret: exact matches).

``n_jobs`` is left at anonymeter's default. The tables get the same value alignment as every
anchor here (``_align.align``: numbers as float, categories as text, missing as missing; not
timed). anonymeter draws targets with pandas' ``sample`` (numpy's global generator), so that is
seeded too. Values: the risk with its confidence interval and the attack, control and baseline
success rates.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import _align
import _common
import _eval_common
from _eval_common import Unit, finite, with_ci

try:
    import numpy as np
    import pandas as pd
    from anonymeter.evaluators import InferenceEvaluator, LinkabilityEvaluator, SinglingOutEvaluator
except Exception as exc:
    _eval_common.skip("anonymeter", f"import failed: {type(exc).__name__}: {exc}")
    raise SystemExit(0) from None

Tables = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]


def _load(spec: dict[str, Any]) -> Tables:
    columns = json.loads(Path(spec["meta"]).read_text())["columns"]
    real_raw = pd.read_parquet(spec["real"])
    real, syn = _align.align(real_raw, pd.read_parquet(spec["synthetic"]), columns)
    _, holdout = _align.align(real_raw, pd.read_parquet(spec["holdout"]), columns)
    logging.getLogger("anonymeter").setLevel(logging.ERROR)
    np.random.seed(spec["seed"])  # noqa: NPY002 - anonymeter samples targets from numpy's global generator
    return real, syn, holdout


def _values(evaluator: Any) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = evaluator.results()
        risk = evaluator.risk()
    out: dict[str, Any] = {"risk": with_ci(risk.value, *risk.ci)}
    for name in ("attack", "control", "baseline"):
        rate = getattr(res, f"{name}_rate")
        out[f"{name}_rate"] = with_ci(rate.value, rate.value - rate.error, rate.value + rate.error)
    out["n_success"], out["n_control"], out["n_baseline"] = (
        int(res.n_success),
        finite(res.n_control),
        int(res.n_baseline),
    )
    return out


def _singling_out(mode: str) -> Unit:
    def work(data: Tables, spec: dict[str, Any]) -> dict[str, Any]:
        real, syn, holdout = data
        a = spec["attacks"]
        evaluator = SinglingOutEvaluator(
            ori=real, syn=syn, control=holdout, n_attacks=a["n_attacks"], n_cols=a["n_cols"], seed=spec["seed"]
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            evaluator.evaluate(mode=mode)
        return {**_values(evaluator), "n_queries": len(evaluator.queries())}

    return Unit(_load, work, f"SinglingOutEvaluator(...).evaluate(mode='{mode}')")


def _linkability(data: Tables, spec: dict[str, Any]) -> dict[str, Any]:
    real, syn, holdout = data
    a = spec["attacks"]
    first, second = a["link_columns"]
    evaluator = LinkabilityEvaluator(
        ori=real, syn=syn, aux_cols=(first, second), n_attacks=a["n_attacks"], n_neighbors=1, control=holdout
    )
    evaluator.evaluate()
    return _values(evaluator)


def _inference(data: Tables, spec: dict[str, Any]) -> dict[str, Any]:
    real, syn, holdout = data
    a = spec["attacks"]
    evaluator = InferenceEvaluator(
        ori=real,
        syn=syn,
        aux_cols=a["known_columns"],
        secret=a["secret"],
        regression=False,
        n_attacks=a["n_attacks"],
        control=holdout,
    )
    evaluator.evaluate()
    return _values(evaluator)


UNITS = {
    "singling_out_univariate": _singling_out("univariate"),
    "singling_out_multivariate": _singling_out("multivariate"),
    "linkability": Unit(_load, _linkability, "LinkabilityEvaluator(...).evaluate()"),
    "inference": Unit(_load, _inference, "InferenceEvaluator(...).evaluate()"),
}

if __name__ == "__main__":
    _eval_common.run("anonymeter", UNITS, extra={"version": _common.version("anonymeter")})
