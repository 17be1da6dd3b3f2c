"""The image checks of an evaluation's inputs, registered in ``VALIDATORS[Modality.IMAGE]``.

Run once when :class:`EvalInputs` is built. Every image of the real, synthetic and holdout sets
is decoded once (:func:`image_pixels`, which keeps the thumbnails the metrics reuse):

- an image that cannot be read or is not an image array (wrong shape, more than four channels,
  NaN pixels) is a problem naming the set and the file; all are collected, then raised once;
- images of different sizes are a note stating the handling: every encoder resizes each image
  to its own square input (aspect ratio not kept) and SSIM compares 64 × 64 grey versions;
- grey mixed with colour images is a note: grey is repeated into three channels, alpha dropped;
- different pixel types (8-bit beside 16-bit or float) is a note on how values are scaled.
"""

from __future__ import annotations

from medsyn.data.dataset import ImageDataset, Modality
from medsyn.errors import Problem
from medsyn.evaluate._inputs import VALIDATORS, EvalInputs, InputNote, Side
from medsyn.evaluate.image._pixels import PixelPass, image_pixels

__all__ = ["check_image_inputs"]

_LISTED = 10
_SIDES: tuple[Side, ...] = ("real", "synthetic", "holdout")


def _size_text(sizes: list[tuple[int, int]]) -> str:
    shown = ", ".join(f"{w}×{h}" for w, h in sizes[:3])
    return shown + (f" and {len(sizes) - 3} more" if len(sizes) > 3 else "")


def _problems(side: str, px: PixelPass) -> list[Problem]:
    out = [
        Problem(f"{side} image '{key}'", why, "a readable image: H × W or H × W × C (C ≤ 4), finite pixels")
        for _, key, why in px.errors[:_LISTED]
    ]
    if len(px.errors) > _LISTED:
        out.append(Problem(f"{side} images", f"{len(px.errors) - _LISTED} more unreadable image(s)", "readable images"))
    return out


def check_image_inputs(inputs: EvalInputs) -> tuple[list[Problem], list[InputNote]]:
    """Problems (unreadable images) and notes (sizes, channels, pixel types) of an image evaluation."""
    passes: dict[str, PixelPass] = {}
    problems: list[Problem] = []
    for side in _SIDES:
        if isinstance(inputs.data(side), ImageDataset):
            passes[side] = image_pixels(inputs, side)
            problems += _problems(side, passes[side])
    notes: list[InputNote] = []
    sizes = {side: px.sizes() for side, px in passes.items()}
    distinct = {s for found in sizes.values() for s in found}
    if len(distinct) > 1:
        listing = "; ".join(f"{side}: {_size_text(found)}" for side, found in sizes.items())
        across = set(sizes.get("real", [])) != set(sizes.get("synthetic", []))
        notes.append(
            InputNote(
                "images",
                f"{len(distinct)} image sizes ({listing}): each encoder resizes every image to its square input "
                "(offline 128×128, inception_v3 299×299), not keeping the aspect ratio; SSIM compares 64×64 grey "
                "versions",
                "warn" if across else "info",
            )
        )
    channels = {side: sorted({int(c) for c in px.channels[px.heights > 0]}) for side, px in passes.items()}
    if len({c for found in channels.values() for c in found}) > 1:
        listing = "; ".join(f"{side}: {'/'.join(map(str, found))}" for side, found in channels.items())
        notes.append(
            InputNote(
                "images",
                f"grey and colour images mixed (channels {listing}): grey is repeated into 3 channels and alpha "
                "dropped, so every image is compared as RGB",
                "warn" if channels.get("real") != channels.get("synthetic") else "info",
            )
        )
    dtypes = {side: px.dtypes for side, px in passes.items()}
    if len({d for found in dtypes.values() for d in found}) > 1:
        listing = "; ".join(f"{side}: {'/'.join(found)}" for side, found in dtypes.items())
        notes.append(
            InputNote(
                "images",
                f"pixel types differ ({listing}): uint8 is used as is, floats in [0, 1] or [−1, 1] are scaled to "
                "0–255, other ranges are stretched from each image's own minimum and maximum",
                "info",
            )
        )
    return problems, notes


VALIDATORS[Modality.IMAGE] = check_image_inputs
