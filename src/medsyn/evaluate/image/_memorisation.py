"""Memorisation: synthetic images that copy a training image, by feature distance and SSIM.

For each synthetic image the ``candidates`` nearest training images in the encoder's feature
space are found (:func:`nearest`, blocked), and the structural similarity (SSIM) of the
synthetic image with each candidate is computed on 64 × 64 grey versions; the candidate with the
highest SSIM is its *partner*. A synthetic image is flagged as memorised when

- it is closer to a training image than real images the generator never saw usually are, in
  both views: its nearest training image in feature space is nearer than the ``baseline_quantile``
  quantile (default 1 %) of the holdout's nearest-training distances, *and* its best SSIM exceeds
  the holdout's ``1 − baseline_quantile`` quantile of best SSIMs (either view alone flags about
  1 % of an honest generator's images by chance; this needs a holdout, and without one only the
  SSIM criterion below is used, as the result says); or
- its SSIM with its partner is at least ``ssim_threshold`` (default 0.95): pixel for pixel the
  same picture, up to small noise, blur or re-encoding.

SSIM is ``skimage.metrics.structural_similarity`` (7 × 7 uniform window, sample covariance,
K1 = 0.01, K2 = 0.03, data range 1) computed for whole batches of pairs at once
(:func:`ssim_batch`, checked against scikit-image in the tests).

:func:`memorisation_pairs` returns the closest pairs (synthetic index, training index, SSIM,
distance) for reports that show them side by side; the metric draws them as its figure.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np

from medsyn.evaluate._inputs import EvalInputs
from medsyn.evaluate._neighbors import nearest
from medsyn.evaluate.image._common import ImageFeatureMetric
from medsyn.evaluate.image._encoders import ImageEncoder
from medsyn.evaluate.image._features import EncodedSides
from medsyn.evaluate.image._pixels import SSIM_SIDE, grey_thumbnails, image_pixels
from medsyn.metric import METRICS, Direction, ItemResult, MetricKind, MetricResult, Status, Threshold

__all__ = ["ImageMemorisation", "MemorisationScan", "MemorisedPair", "memorisation_pairs", "ssim_batch"]

_PAIRS_PER_BLOCK = 256
_SHOWN = 8


def ssim_batch(a: np.ndarray, b: np.ndarray, *, data_range: float = 1.0, win_size: int = 7) -> np.ndarray:
    """Mean SSIM of each pair ``(a[i], b[i])`` of grey images (p × H × W), as scikit-image computes it.

    Computed in float32 (within 1e-5 of scikit-image's float64), whole blocks of pairs at once.

    Examples
    --------
    >>> x = np.random.default_rng(0).random((2, 32, 32))
    >>> ssim_batch(x, x).tolist()
    [1.0, 1.0]
    """
    from scipy.ndimage import uniform_filter

    out = np.empty(len(a))
    size = (1, win_size, win_size)
    n_px = win_size * win_size
    cov_norm = n_px / (n_px - 1)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    pad = (win_size - 1) // 2
    for start in range(0, len(a), _PAIRS_PER_BLOCK):
        x = a[start : start + _PAIRS_PER_BLOCK].astype(np.float32)
        y = b[start : start + _PAIRS_PER_BLOCK].astype(np.float32)
        ux, uy = uniform_filter(x, size), uniform_filter(y, size)
        vx = cov_norm * (uniform_filter(x * x, size) - ux * ux)
        vy = cov_norm * (uniform_filter(y * y, size) - uy * uy)
        vxy = cov_norm * (uniform_filter(x * y, size) - ux * uy)
        s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
        out[start : start + len(x)] = s[:, pad:-pad, pad:-pad].mean(axis=(1, 2), dtype=np.float64)
    return out


@dataclass(frozen=True, slots=True)
class MemorisedPair:
    """A synthetic image and its closest training image, with their SSIM and feature distance."""

    synthetic: int
    train: int
    synthetic_key: str
    train_key: str
    ssim: float
    distance: float
    flagged: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "synthetic": self.synthetic,
            "train": self.train,
            "synthetic_key": self.synthetic_key,
            "train_key": self.train_key,
            "ssim": self.ssim,
            "distance": self.distance,
            "flagged": self.flagged,
        }


@dataclass(frozen=True, slots=True)
class MemorisationScan:
    """Per synthetic image: nearest training distance, best SSIM, its partner (and their distance), the verdicts."""

    encoder: str
    distance: np.ndarray
    ssim: np.ndarray
    partner: np.ndarray
    partner_distance: np.ndarray
    by_distance: np.ndarray
    by_ssim: np.ndarray
    distance_threshold: float | None
    baseline_ssim: float | None
    ssim_threshold: float
    holdout_ssim_share: float | None

    @property
    def flagged(self) -> np.ndarray:
        return np.asarray(self.by_distance | self.by_ssim)

    def order(self) -> np.ndarray:
        """Synthetic images from the most to the least likely copy: flagged first, then SSIM, then distance."""
        return np.lexsort((self.distance, -self.ssim, ~self.flagged))


def _best_ssim(query_grey: np.ndarray, train_grey: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Highest SSIM of each query among its candidate training images (each distinct pair computed once)."""
    n, c = candidates.shape
    cands = np.sort(candidates, axis=1)
    fresh = np.ones((n, c), dtype=bool)
    fresh[:, 1:] = cands[:, 1:] != cands[:, :-1]
    rows, cols = np.nonzero(fresh)
    ssim = np.full((n, c), -np.inf)
    ssim[rows, cols] = ssim_batch(query_grey[rows], train_grey[cands[rows, cols]])
    best = ssim.argmax(axis=1)
    return ssim[np.arange(n), best], cands[np.arange(n), best]


def _pixel_vectors(grey: np.ndarray) -> np.ndarray:
    """32 × 32 grey pixels per image (2 × 2 means of the SSIM images): a noise-robust pixel-space view."""
    n, h, w = grey.shape
    small: np.ndarray = grey.reshape(n, h // 2, 2, w // 2, 2).mean(axis=(2, 4))
    return small.reshape(n, -1).astype(np.float32)


def _candidates(features: np.ndarray, pixels: np.ndarray, sides: tuple[np.ndarray, np.ndarray], c: int) -> np.ndarray:
    """The ``c`` nearest training images in feature space and the ``c`` nearest in pixel space, per query."""
    by_features = nearest(features, sides[0], c).indices
    by_pixels = nearest(pixels, sides[1], c).indices
    return np.concatenate([by_features, by_pixels], axis=1)


def _scan(
    inputs: EvalInputs, sides: EncodedSides, candidates: int, ssim_threshold: float, quantile: float
) -> MemorisationScan:
    c = min(candidates, len(sides.real))
    train_grey = grey_thumbnails(image_pixels(inputs, "real").thumbnails, SSIM_SIDE)
    syn_grey = grey_thumbnails(image_pixels(inputs, "synthetic").thumbnails, SSIM_SIDE)
    train_space = (sides.real, _pixel_vectors(train_grey))
    nn = nearest(sides.synthetic, sides.real, 1)
    ssim, partner = _best_ssim(
        syn_grey, train_grey, _candidates(sides.synthetic, _pixel_vectors(syn_grey), train_space, c)
    )
    distance = nn.first().astype(np.float64)
    threshold: float | None = None
    baseline_ssim: float | None = None
    holdout_share: float | None = None
    if sides.holdout is not None:
        hold_grey = grey_thumbnails(image_pixels(inputs, "holdout").thumbnails, SSIM_SIDE)
        hold_nn = nearest(sides.holdout, sides.real, 1)
        threshold = float(np.quantile(hold_nn.first(), quantile))
        hold_cands = _candidates(sides.holdout, _pixel_vectors(hold_grey), train_space, c)
        hold_ssim, _ = _best_ssim(hold_grey, train_grey, hold_cands)
        holdout_share = float((hold_ssim >= ssim_threshold).mean())
        baseline_ssim = float(np.quantile(hold_ssim, 1 - quantile))
        # closer than unseen real images in feature space *and* in pixels: chance alone rarely does both
        by_distance = (distance < threshold) & (ssim >= baseline_ssim)
    else:
        by_distance = np.zeros(len(distance), dtype=bool)
    partner_distance = np.linalg.norm(sides.synthetic - sides.real[partner], axis=1).astype(np.float64)
    return MemorisationScan(
        sides.info.name,
        distance,
        ssim,
        partner,
        partner_distance,
        by_distance,
        ssim >= ssim_threshold,
        threshold,
        baseline_ssim,
        ssim_threshold,
        holdout_share,
    )


def _pairs(inputs: EvalInputs, scan: MemorisationScan, top: int) -> tuple[MemorisedPair, ...]:
    syn_keys = image_pixels(inputs, "synthetic").keys
    train_keys = image_pixels(inputs, "real").keys
    out = []
    for i in scan.order()[:top].tolist():
        j = int(scan.partner[i])
        out.append(
            MemorisedPair(
                i,
                j,
                syn_keys[i],
                train_keys[j],
                float(scan.ssim[i]),
                float(scan.partner_distance[i]),
                bool(scan.flagged[i]),
            )
        )
    return tuple(out)


def memorisation_pairs(
    inputs: EvalInputs,
    *,
    encoder: str | ImageEncoder = "offline",
    top: int = 12,
    candidates: int = 3,
    ssim_threshold: float = 0.95,
    baseline_quantile: float = 0.01,
) -> tuple[MemorisedPair, ...]:
    """The ``top`` synthetic images most likely copied from a training image, each with its closest training image.

    Uses (and fills) the same cache as :class:`ImageMemorisation` with the same parameters, so a
    report calling it after the metric recomputes nothing. Indices are positions in
    ``inputs.synthetic`` and ``inputs.real``; draw them with ``inputs.synthetic.image(i)``.
    """
    metric = ImageMemorisation(
        encoder=encoder, candidates=candidates, ssim_threshold=ssim_threshold, baseline_quantile=baseline_quantile
    )
    return metric.pairs(inputs, top=top)


@METRICS.register("image_memorisation")
class ImageMemorisation(ImageFeatureMetric):
    """Share of synthetic images that copy a training image: closer in features than unseen real images, or SSIM ≥ 0.95.

    A generator that memorises reproduces patients' images, which is a privacy breach even when
    every other number looks good. Each synthetic image is compared with its nearest training
    images (in the encoder's feature space, then pixel-wise by SSIM on 64 × 64 grey versions).
    It is flagged when it is closer to a training image than 99 % of holdout images (real images
    the generator never saw) are to theirs, both in feature distance and in SSIM, or when its SSIM
    with a training image is at least 0.95. The items are the closest pairs, for review side by
    side. Without a holdout only the SSIM criterion applies and the reason says so. Score:
    exp(−value / 0.05).
    """

    name = "image_memorisation"
    title = "Memorised training images (feature distance and SSIM)"
    kind = MetricKind.PRIVACY
    direction = Direction.MINIMIZE
    ideal = 0.0
    unit = "share of synthetic images"
    default_threshold = Threshold(warn=0.02, fail=0.05)

    def __init__(
        self,
        *,
        encoder: str | ImageEncoder = "offline",
        candidates: int = 3,
        ssim_threshold: float = 0.95,
        baseline_quantile: float = 0.01,
        top: int = 12,
        batch_size: int = 32,
        threshold: Threshold | None = None,
    ) -> None:
        super().__init__(encoder=encoder, batch_size=batch_size, threshold=threshold)
        self.candidates = candidates
        self.ssim_threshold = ssim_threshold
        self.baseline_quantile = baseline_quantile
        self.top = top

    def scan(self, inputs: EvalInputs) -> MemorisationScan:
        """The per-image comparison, computed once per evaluation and parameters."""
        sides = self.encoded(inputs, holdout=True)
        key = ("image-memorisation", sides.info.name, self.candidates, self.ssim_threshold, self.baseline_quantile)
        return inputs.memo(
            key, lambda: _scan(inputs, sides, self.candidates, self.ssim_threshold, self.baseline_quantile)
        )

    def pairs(self, inputs: EvalInputs, *, top: int | None = None) -> tuple[MemorisedPair, ...]:
        """The ``top`` (default: the metric's ``top``) most likely copies, each with its closest training image."""
        return _pairs(inputs, self.scan(inputs), self.top if top is None else top)

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        scan = self.scan(inputs)
        flagged = scan.flagged
        value = float(flagged.mean())
        ci, reps = inputs.bootstrap_mean(flagged.astype(np.float64), "synthetic")
        items = []
        for pair in self.pairs(inputs):
            why = []
            if scan.by_distance[pair.synthetic]:
                why.append(f"closer to it than {1 - self.baseline_quantile:.0%} of holdout images are to theirs")
            if scan.by_ssim[pair.synthetic]:
                why.append(f"SSIM ≥ {self.ssim_threshold:g}")
            note = f"SSIM {pair.ssim:.3f}, feature distance {pair.distance:.3g}" + (
                f": likely a copy ({'; '.join(why)})" if why else ""
            )
            items.append(
                ItemResult(
                    "pair",
                    f"{pair.synthetic_key} ↔ {pair.train_key}",
                    pair.ssim,
                    Status.FAIL if pair.flagged else Status.PASS,
                    note,
                    {
                        "synthetic_index": pair.synthetic,
                        "train_index": pair.train,
                        "synthetic_file": pair.synthetic_key,
                        "train_file": pair.train_key,
                        "ssim": pair.ssim,
                        "distance": pair.distance,
                    },
                )
            )
        n = len(flagged)
        reason = (
            f"{int(flagged.sum())} of {n} synthetic images ({value:.1%}) look copied from a training image "
            f"({int(scan.by_distance.sum())} closer than the holdout baseline, {int(scan.by_ssim.sum())} by SSIM ≥ "
            f"{self.ssim_threshold:g}); highest SSIM {float(scan.ssim.max()):.3f}; candidates by '{scan.encoder}' "
            "features and by pixels"
        )
        if scan.distance_threshold is None:
            reason += "; no holdout: the feature-distance criterion needs one, only SSIM was used"
        info = self.encoder_info()
        details = {
            **info.details(),
            "by_distance": int(scan.by_distance.sum()),
            "by_ssim": int(scan.by_ssim.sum()),
            "distance_threshold": scan.distance_threshold,
            "baseline_ssim": scan.baseline_ssim,
            "baseline_quantile": self.baseline_quantile,
            "ssim_threshold": self.ssim_threshold,
            "holdout_ssim_share": scan.holdout_ssim_share,
            "median_nearest_distance": float(np.median(scan.distance)),
            "max_ssim": float(scan.ssim.max()),
            "candidates": self.candidates,
            "ssim_size": f"{SSIM_SIDE}×{SSIM_SIDE} grey",
        }
        return self.result(value, reason, items=items, details=details, ci=ci, replicates=reps)

    def score(self, value: float) -> float:
        """exp(−value / 0.05): 1 with no copies, 0.82 at 1 %, 0.37 at 5 %; monotone decreasing."""
        if math.isnan(value):
            return math.nan
        return math.exp(-max(value, 0.0) / 0.05)

    def figure(self, inputs: EvalInputs, result: MetricResult) -> bytes | None:
        """The closest pairs side by side: synthetic above, its training image below, with SSIM."""
        pairs = self.pairs(inputs)[:_SHOWN]
        if not pairs:
            return None
        from matplotlib.figure import Figure

        syn = image_pixels(inputs, "synthetic").thumbnails
        real = image_pixels(inputs, "real").thumbnails
        fig = Figure(figsize=(1.6 * len(pairs), 3.6))
        axes = fig.subplots(2, len(pairs), squeeze=False)
        for col, pair in enumerate(pairs):
            top, bottom = axes[0][col], axes[1][col]
            top.imshow(syn[pair.synthetic])
            bottom.imshow(real[pair.train])
            colour = "#c0392b" if pair.flagged else "#333333"
            top.set_title(f"SSIM {pair.ssim:.2f}", fontsize=8, color=colour)
            top.set_xlabel(pair.synthetic_key[-18:], fontsize=6)
            bottom.set_xlabel(pair.train_key[-18:], fontsize=6)
            for ax in (top, bottom):
                ax.set_xticks([])
                ax.set_yticks([])
        axes[0][0].set_ylabel("synthetic", fontsize=8)
        axes[1][0].set_ylabel("training", fontsize=8)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
        return buf.getvalue()
