"""Anchor, images: pyMDMA's no-reference image *input* metrics on the same 512×512 PNGs.

Timed as load: decoding every PNG with Pillow into one ``(N, H, W, 3)`` uint8 array (the layout
pyMDMA's metrics take); audit: each metric of ``pymdma.image.measures.input_val`` that needs no
reference image and no downloaded weights — ``DOM``, ``Tenengrad``, ``TenengradRelative``,
``EME``, ``ExposureBrightness``, ``Brightness`` and ``Colorfulness``. Left out: ``BRISQUE`` and
``CLIPIQA`` (piq downloads SVM / CLIP weights from GitHub at first use, which fails offline) and
``PSNR``/``SSIM``/``MSSSIM`` (they need a reference image).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import _common

try:
    import numpy as np
    from PIL import Image
except Exception as exc:
    _common.skip("pymdma", f"import failed: {type(exc).__name__}: {exc}")
    raise SystemExit(0) from None

METRICS: list[Any] = []
IMPORT_ERRORS: list[str] = []
TORCHVISION_STUBBED = False


try:
    import torchvision  # noqa: F401
except Exception as exc:
    IMPORT_ERRORS.append(f"torchvision: {type(exc).__name__}: {exc} (stubbed; unused by these metrics)")
    # piq imports torchvision at package level for FID/LPIPS feature extractors (Inception, VGG)
    # that the no-reference metrics below never use
    _common.stub_torchvision()
    TORCHVISION_STUBBED = True
try:
    from pymdma.image.measures.input_val.data.dom import DOM

    METRICS.append(DOM)
except Exception as exc:
    IMPORT_ERRORS.append(f"DOM: {type(exc).__name__}: {exc}")
try:
    from pymdma.image.measures.input_val.data import no_reference as nr

    METRICS += [nr.Tenengrad, nr.TenengradRelative, nr.EME, nr.ExposureBrightness, nr.Brightness, nr.Colorfulness]
except Exception as exc:
    IMPORT_ERRORS.append(f"no_reference (Tenengrad, EME, Brightness, Colorfulness, ...): {type(exc).__name__}: {exc}")


def _load(folder: str) -> np.ndarray:
    files = sorted((Path(folder) / "images").glob("*.png"))
    return np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])


def _audit(imgs: np.ndarray) -> dict[str, Any]:
    per_metric: dict[str, float] = {}
    errors: list[str] = []
    for cls in METRICS:
        t = time.perf_counter()
        try:
            cls().compute(imgs)
        except Exception as exc:
            errors.append(f"{cls.__name__}: {type(exc).__name__}: {exc}")
        per_metric[cls.__name__] = time.perf_counter() - t
    return {
        "checks": len(METRICS) - len(errors),
        "metrics": [c.__name__ for c in METRICS],
        "metric_errors": errors,
        "import_errors": IMPORT_ERRORS,
        "per_metric_s": per_metric,
        "images": len(imgs),
    }


if __name__ == "__main__":
    if not METRICS:
        _common.skip("pymdma", "no pymdma image input metric could be imported: " + "; ".join(IMPORT_ERRORS))
        raise SystemExit(0)
    _common.run(
        "pymdma",
        _load,
        _audit,
        size_of=lambda a: a.nbytes / 1e6,
        timed="load = Pillow decode into (N,H,W,3) uint8; audit = 7 pymdma no-reference image input_val metrics",
        extra={
            "version": _common.version("pymdma"),
            "import_errors": IMPORT_ERRORS,
            "torchvision_stubbed": TORCHVISION_STUBBED,
        },
    )
