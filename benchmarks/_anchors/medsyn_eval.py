"""Ours, evaluation: medsyn's evaluation metrics on the prepared tables and ECG windows.

Loading (not timed) reads the three Parquet tables — the synthetic and holdout ones with the real
table's schema, as ``medsyn evaluate`` does — builds :class:`medsyn.evaluate.EvalInputs` (the
target set) and computes the shared encoding, so that a unit times the metric on data already in
memory, like an anchor given the encoded ``.npy`` matrices. Units (one per process):

- ``precision``, ``recall``, ``density``, ``coverage``, ``dcr``, ``nndr``: one registered metric,
  ``metric.evaluate(inputs)``, on fresh inputs (nothing shared with another metric; the four
  manifold metrics compute their shared neighbour queries for whichever runs first);
- ``prdc``: the four of them on one inputs, sharing their neighbour queries (as in a scorecard);
- ``quality``: ``ks_statistic``, ``total_variation`` and the pair metrics (correlation,
  contingency) on one inputs — SDMetrics' QualityReport counterpart — with every column's and
  pair's value for the column-by-column agreement check;
- ``singling_out``, ``linkability``, ``inference``: the anonymeter-style risks with the spec's
  ``n_attacks``, ``n_cols``, column halves and known columns;
- ``scorecard``: ``medsyn.evaluate.evaluate(real, synthetic, holdout)`` with every registered
  tabular metric; here the validation and the encoding are part of the time (the 1M-row run);
- ``dtw``: the registered signal DTW metric (synthetic and holdout windows' DTW nearest real
  window) on the ECG windows, ``EvalInputs`` built untimed.

Metric names are looked up in the registry by role (``ROLE_NAMES``; the spec's ``our_names``
overrides), so a renamed metric only needs its name there; a role with no registered metric is
reported as skipped with the names that are registered.
"""

from __future__ import annotations

import inspect
from typing import Any

import _common
import _eval_common
from _eval_common import Unit, finite, with_ci

try:
    import numpy as np

    import medsyn.data
    import medsyn.evaluate
    from medsyn.data.dataset import SignalDataset, SignalRecord
    from medsyn.evaluate import EvalInputs, EvalMetric
    from medsyn.metric import MetricResult, get_metric, metrics_for
except Exception as exc:
    _eval_common.skip("medsyn", f"import failed: {type(exc).__name__}: {exc}")
    raise SystemExit(0) from None

#: Role → our metric names to look for, first registered wins (the spec's ``our_names`` overrides).
ROLE_NAMES: dict[str, tuple[str, ...]] = {
    "precision": ("improved_precision", "precision", "prdc_precision"),
    "recall": ("improved_recall", "recall", "prdc_recall"),
    "density": ("density", "prdc_density"),
    "coverage": ("coverage", "prdc_coverage"),
    "dcr": ("dcr",),
    "nndr": ("nndr",),
    "ks": ("ks_statistic",),
    "tv": ("total_variation",),
    "correlation": ("correlation_difference",),
    "contingency": ("contingency_similarity",),
    "singling_out": ("singling_out_risk",),
    "linkability": ("linkability_risk",),
    "inference": ("inference_risk",),
    "dtw": ("dtw_nearest_neighbour",),
}


class Unresolved(LookupError):
    """No registered metric plays this role."""


def resolve(role: str, spec: dict[str, Any], modality: str = "tabular") -> str:
    """Our metric name for a role: the spec's override, else the first registered candidate."""
    registered = {c.name for c in metrics_for(modality)}
    override = spec.get("our_names", {}).get(role)
    for name in (override,) if override else ROLE_NAMES[role]:
        if name in registered:
            return name
    looked = override or ", ".join(ROLE_NAMES[role])
    raise Unresolved(
        f"no registered {modality} metric for '{role}' (looked for {looked}); registered: {sorted(registered)}"
    )


def build(name: str, **params: Any) -> EvalMetric:
    """An instance of metric ``name`` with those of ``params`` its constructor takes."""
    cls = get_metric(name)
    accepted = set(inspect.signature(cls.__init__).parameters)
    metric = cls(**{k: v for k, v in params.items() if k in accepted})
    assert isinstance(metric, EvalMetric)
    return metric


def _value(r: MetricResult) -> dict[str, Any]:
    lo, hi = r.ci if r.ci is not None else (None, None)
    return {**with_ci(r.value, lo, hi), "status": r.status.value, "reason": r.reason}


# -- loading -----------------------------------------------------------------------------------
def _datasets(spec: dict[str, Any]) -> tuple[Any, Any, Any]:
    real = medsyn.data.read(spec["real"])
    syn = medsyn.data.read(spec["synthetic"], schema=real.schema)
    hold = medsyn.data.read(spec["holdout"], schema=real.schema)
    return real, syn, hold


def _inputs(spec: dict[str, Any]) -> EvalInputs:
    real, syn, hold = _datasets(spec)
    inputs = EvalInputs.build(real, syn, hold, target=spec["target"], seed=spec["seed"])
    for side in ("real", "synthetic", "holdout"):
        inputs.matrix(side)  # the shared encoding, computed before the clock starts (as the anchors' .npy)
    metrics_for("tabular")  # registry plugin discovery (~50 ms, once per process) is start-up, like imports
    _import_libraries()
    return inputs


def _import_libraries() -> None:
    """Import what the metrics import lazily (medsyn keeps `import medsyn` light), before the clock starts.

    The anchors import their libraries when their process starts; timing ours with scikit-learn's,
    SciPy's and faiss's import inside the work would compare start-up, not the metrics (faiss
    alone is ~0.2 s and 15 MB, which the DCR unit used to count as work). medsyn's one look-up of
    the BLAS and OpenMP thread pools (a scan of the loaded libraries, ~30 ms once imports are
    done) is start-up too, like scikit-learn's own when it first limits its threads.
    """
    import scipy.linalg
    import scipy.ndimage
    import scipy.optimize
    import scipy.signal
    import scipy.sparse
    import scipy.stats
    import sklearn.ensemble
    import sklearn.linear_model
    import sklearn.metrics
    import sklearn.tree

    del scipy, sklearn
    from medsyn.evaluate._parallel import one_blas_thread

    with one_blas_thread():  # finds the thread pools, once per process
        pass
    try:  # the exact and approximate neighbour searches (optional: without it numpy blocks answer)
        import faiss

        del faiss
    except ImportError:
        pass


# -- units -------------------------------------------------------------------------------------
def _single(role: str) -> Unit:
    def work(inputs: EvalInputs, spec: dict[str, Any]) -> dict[str, Any]:
        try:
            name = resolve(role, spec)
        except Unresolved as exc:
            return {"_skipped": str(exc)}
        r = build(name, k=spec["k"], nearest_k=spec["k"]).evaluate(inputs)
        out = {"metric": name, **_value(r)}
        for key in ("median_dcr_synthetic", "median_nndr_synthetic", "neighbours", "n_synthetic_used"):
            if key in r.details:
                out[key] = r.details[key]
        return out

    return Unit(_inputs, work, f"metric.evaluate(inputs) of the '{role}' metric, encoding precomputed")


def _prdc(inputs: EvalInputs, spec: dict[str, Any]) -> dict[str, Any]:
    """The four manifold metrics on one inputs: they share their neighbour queries, as a scorecard does."""
    out: dict[str, Any] = {"_notes": []}
    for role in ("precision", "recall", "density", "coverage"):
        try:
            name = resolve(role, spec)
        except Unresolved as exc:
            out["_notes"].append(str(exc))
            continue
        out[role] = {"metric": name, **_value(build(name, k=spec["k"], nearest_k=spec["k"]).evaluate(inputs))}
    return out


def _items(r: MetricResult) -> list[list[Any]]:
    return [
        [i.key, finite(i.value), {k: v for k, v in i.details.items() if isinstance(v, int | float | str)}]
        for i in r.items
    ]


def _quality(inputs: EvalInputs, spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"metrics": {}, "_notes": []}
    for role in ("ks", "tv", "correlation", "contingency"):
        try:
            name = resolve(role, spec)
        except Unresolved as exc:
            out["_notes"].append(str(exc))
            continue
        r = build(name).evaluate(inputs)
        out["metrics"][role] = {"metric": name, **_value(r), "items": _items(r)}
    return out


def _attack(role: str) -> Unit:
    def work(inputs: EvalInputs, spec: dict[str, Any]) -> dict[str, Any]:
        a = spec["attacks"]
        try:
            name = resolve(role, spec)
        except Unresolved as exc:
            return {"_skipped": str(exc)}
        metric = build(
            name,
            n_attacks=a["n_attacks"],
            n_cols=a["n_cols"],
            columns=tuple(a["link_columns"]),
            known_columns=a["known_columns"],
        )
        r = metric.evaluate(inputs)
        out: dict[str, Any] = {"metric": name, **_value(r)}
        d = r.details
        prefixes = ("univariate_", "multivariate_") if role == "singling_out" else ("",)
        for p in prefixes:
            if f"{p}risk" not in d:
                continue
            part: dict[str, Any] = {"risk": with_ci(d[f"{p}risk"], d[f"{p}risk_ci_low"], d[f"{p}risk_ci_high"])}
            for rate in ("attack", "control", "baseline"):
                part[f"{rate}_rate"] = with_ci(d[f"{p}{rate}_rate"], d[f"{p}{rate}_ci_low"], d[f"{p}{rate}_ci_high"])
            part["n_success"], part["n_control"], part["n_baseline"] = (
                d.get(f"{p}n_success"),
                d.get(f"{p}n_control"),
                d.get(f"{p}n_baseline"),
            )
            out[p.rstrip("_") or "attack"] = part
        return out

    return Unit(_inputs, work, f"the '{role}' risk metric's evaluate(inputs), encoding precomputed")


def _scorecard(data: tuple[Any, Any, Any], spec: dict[str, Any]) -> dict[str, Any]:
    real, syn, hold = data
    card = medsyn.evaluate.evaluate(real, syn, hold, target=spec["target"], seed=spec["seed"])
    return {
        "metrics": {r.metric: {**_value(r), "seconds": finite(card.timings.get(r.metric))} for r in card.results},
        "axes": {a.axis.value: finite(a.score) for a in card.axes},
        "seconds_in_evaluate": card.seconds,
        "errors": list(card.errors),
    }


# -- signals -----------------------------------------------------------------------------------
def _signal_dataset(x: np.ndarray, prefix: str, sig: dict[str, Any]) -> SignalDataset:
    channels = tuple(sig["channels"])
    units = tuple(sig.get("units") or ["mV"] * len(channels))
    records = [
        SignalRecord(f"{prefix}{i:04d}", x[i], float(sig["sampling_rate"]), channels, units) for i in range(len(x))
    ]
    return SignalDataset(records, kind="ecg")


def _signals(spec: dict[str, Any]) -> EvalInputs:
    sig = spec["signals"]
    real, syn, hold = (_signal_dataset(np.load(sig[side]), side, sig) for side in ("real", "synthetic", "holdout"))
    inputs = EvalInputs.build(real, syn, hold, seed=spec["seed"])
    _import_libraries()
    return inputs


def _dtw(inputs: EvalInputs, spec: dict[str, Any]) -> dict[str, Any]:
    try:
        name = resolve("dtw", spec, "signal")
    except Unresolved as exc:
        return {"_skipped": str(exc)}
    r = build(name).evaluate(inputs)
    return {"metric": name, **_value(r), **{k: v for k, v in r.details.items() if k.startswith("dtw_")}}


UNITS: dict[str, Unit] = {
    **{role: _single(role) for role in ("precision", "recall", "density", "coverage", "dcr", "nndr")},
    "prdc": Unit(_inputs, _prdc, "the four precision/recall/density/coverage metrics on one inputs"),
    "quality": Unit(_inputs, _quality, "ks_statistic, total_variation, correlation and contingency metrics"),
    **{role: _attack(role) for role in ("singling_out", "linkability", "inference")},
    "scorecard": Unit(
        _datasets, _scorecard, "medsyn.evaluate.evaluate(real, synthetic, holdout): every tabular metric"
    ),
    "dtw": Unit(
        _signals, _dtw, "the DTW nearest-neighbour metric: synthetic and holdout windows against the real ones"
    ),
}

if __name__ == "__main__":
    _eval_common.run("medsyn", UNITS, extra={"version": _common.version("medsyn")})
