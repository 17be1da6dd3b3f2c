"""Anchor, evaluation: pyMDMA's synthetic-data metrics on the shared encoded matrices and ECG arrays.

Units (one per process, see ``_eval_common``), each a metric's ``compute`` as its documentation
shows it, with default parameters:

- ``precision``, ``recall``, ``density``, ``coverage``: ``ImprovedPrecision``, ``ImprovedRecall``,
  ``Density``, ``Coverage`` (k = 5, Euclidean) of ``pymdma.tabular.measures.synthesis_val`` on the
  real (training) and synthetic ``.npy`` matrices — medsyn's encoding, the same numbers ours reads.
  Each builds its own all-pairs distance matrices (no shared ``context``), as a user calling one
  metric does;
- ``dcr``, ``nndr``: ``DCRPrivacy`` and ``NNDRPrivacy`` (ball tree, Euclidean) on the same
  matrices. Their headline is a KDE-smoothed "% of synthetic records below the real 25th
  percentile"; the nearest-neighbour distances they compute are captured on the way (a thin
  wrapper around ``_get_nn_distances``, negligible time) so that the median synthetic DCR / NNDR
  can be compared with ours exactly;
- ``dtw``: ``pymdma.time_series ... DTW`` (fastdtw of every target against every reference
  signal, per channel) on the first ``subset`` real and synthetic ECG windows only: all 500 × 500
  pairs would take days; the driver extrapolates from the pairs timed.

``piq`` (imported by pyMDMA's time-series package) imports torchvision at package level; the
runner stubs that import when torchvision is missing or broken (the DTW metric never uses it).
"""

from __future__ import annotations

from typing import Any

import _common
import _eval_common
from _eval_common import Unit, finite

IMPORT_NOTES: list[str] = []
try:
    import numpy as np
    from pymdma.tabular.measures.synthesis_val import (
        Coverage,
        DCRPrivacy,
        Density,
        ImprovedPrecision,
        ImprovedRecall,
        NNDRPrivacy,
    )
    from pymdma.tabular.measures.synthesis_val.feature import privacy as _privacy
except Exception as exc:
    _eval_common.skip("pymdma", f"import failed: {type(exc).__name__}: {exc}")
    raise SystemExit(0) from None

FEATURE_METRICS = {"precision": ImprovedPrecision, "recall": ImprovedRecall, "density": Density, "coverage": Coverage}


def _dtw_class() -> Any:
    try:
        import torchvision  # noqa: F401
    except Exception as exc:
        IMPORT_NOTES.append(f"torchvision: {type(exc).__name__}: {exc} (stubbed; unused by DTW)")
        _common.stub_torchvision()
    from pymdma.time_series.measures.synthesis_val import DTW

    return DTW


def _matrices(spec: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    return np.load(spec["matrix"]["real"]), np.load(spec["matrix"]["synthetic"])


def _dataset_value(result: Any) -> Any:
    return result.value[0]


def _feature_unit(name: str) -> Unit:
    def work(data: tuple[np.ndarray, np.ndarray], spec: dict[str, Any]) -> dict[str, Any]:
        real, syn = data
        value = _dataset_value(FEATURE_METRICS[name](k=spec["k"]).compute(real, syn))
        return {"value": finite(value)}

    return Unit(_matrices, work, f"{FEATURE_METRICS[name].__name__}(k).compute(real, synthetic)")


def _privacy_unit(name: str) -> Unit:
    cls = DCRPrivacy if name == "dcr" else NNDRPrivacy

    def work(data: tuple[np.ndarray, np.ndarray], spec: dict[str, Any]) -> dict[str, Any]:
        real, syn = data
        captured: list[tuple[dict[str, Any], dict[str, Any]]] = []
        original = _privacy._get_nn_distances

        def capture(*args: Any, **kwargs: Any) -> Any:
            out = original(*args, **kwargs)
            captured.append(out)
            return out

        _privacy._get_nn_distances = capture
        try:
            value = _dataset_value(cls().compute(real, syn))
        finally:
            _privacy._get_nn_distances = original
        dcr, nndr = captured[0]
        per_record = dcr if name == "dcr" else nndr
        return {
            "privacy": finite(value["privacy"]),
            "level": finite(value["level"]),
            "median_synthetic": finite(np.median(per_record["syn"])),
            "median_real": finite(np.median(per_record["tgt"])),
        }

    return Unit(_matrices, work, f"{cls.__name__}().compute(real, synthetic)")


def _signals(spec: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, Any]:
    sig = spec["signals"]
    m = int(sig["subset"])
    # records × channels × samples on disk; pyMDMA takes records × samples × channels
    real = np.ascontiguousarray(np.load(sig["real"])[:m].transpose(0, 2, 1))
    syn = np.ascontiguousarray(np.load(sig["synthetic"])[:m].transpose(0, 2, 1))
    return real, syn, _dtw_class()


def _dtw(data: tuple[np.ndarray, np.ndarray, Any], spec: dict[str, Any]) -> dict[str, Any]:
    real, syn, dtw = data
    value = _dataset_value(dtw().compute(real, syn))
    notes = list(IMPORT_NOTES)
    return {"value": finite(value), "subset": len(real), "pairs": len(real) * len(syn), "_notes": notes}


UNITS: dict[str, Unit] = {
    **{name: _feature_unit(name) for name in FEATURE_METRICS},
    "dcr": _privacy_unit("dcr"),
    "nndr": _privacy_unit("nndr"),
    "dtw": Unit(_signals, _dtw, "DTW().compute(real[:m], synthetic[:m]): fastdtw on every pair and channel"),
}

if __name__ == "__main__":
    _eval_common.run("pymdma", UNITS, extra={"version": _common.version("pymdma")})
