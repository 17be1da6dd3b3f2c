"""Ours, images: ``medsyn.quality.audit`` on a folder of 512×512 fundus PNGs read by ``medsyn.data.read``.

Timed as load: ``medsyn.data.read(folder)`` plus decoding every image into memory (the
dataset is lazy, so this is where the files are read); audit: ``medsyn.quality.audit`` on the
in-memory ``ImageDataset`` with every registered image quality metric.
"""

from __future__ import annotations

from typing import Any

import _common

try:
    import medsyn.data
    import medsyn.quality
    from medsyn.data import ImageDataset, Modality
    from medsyn.metric import MetricKind, metrics_for
except Exception as exc:
    _common.skip("medsyn", f"import failed: {type(exc).__name__}: {exc}")
    raise SystemExit(0) from None


def _load(folder: str) -> ImageDataset:
    ds = medsyn.data.read(folder)
    if not isinstance(ds, ImageDataset):
        raise TypeError(f"medsyn.data.read({folder!r}) gave a {type(ds).__name__}, expected an ImageDataset")
    arrays = [ds.image(i) for i in range(len(ds))]
    return ImageDataset.from_arrays(arrays, ds.attributes, kind=ds.kind, provenance=ds.provenance)


def _audit(ds: ImageDataset) -> dict[str, Any]:
    res = medsyn.quality.audit(ds)
    return {
        "per_metric_s": dict(res.timings),  # checks run two at a time: each one's own wall time
        "checks": len(res.results),
        "metrics": [r.metric for r in res.results],
        "status": res.status.value,
        "metric_errors": list(res.errors),
        "images": len(ds),
    }


def _data_mb(ds: ImageDataset) -> float:
    return sum(ds.image(i).nbytes for i in range(len(ds))) / 1e6


if __name__ == "__main__":
    if not metrics_for(Modality.IMAGE, MetricKind.QUALITY):
        _common.skip("medsyn", "no image quality metrics are registered yet (medsyn.quality.image is empty)")
        raise SystemExit(0)
    _common.run(
        "medsyn",
        _load,
        _audit,
        size_of=_data_mb,
        timed="load = medsyn.data.read(folder) + decode all images; audit = medsyn.quality.audit(in-memory dataset)",
        extra={"version": _common.version("medsyn")},
    )
