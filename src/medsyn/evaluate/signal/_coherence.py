"""Band coherence: how strongly each pair of channels oscillates together, band by band.

The cross-channel correlation (:mod:`._structure`) sees one number per channel pair, dominated by
the slowest, largest waves. Coherence separates the frequencies: two EEG electrodes may share
their alpha rhythm and nothing in beta; two ECG leads share the QRS complex but not the muscle
noise above it. A generator that builds each channel on its own, or mixes channels the wrong
way, keeps the spectra (``psd_distance``) and can keep broadband correlations, yet loses this.

The magnitude-squared coherence is Welch's estimate, computed as :func:`scipy.signal.coherence`
computes it (Hann segments, half overlapping, each segment's mean removed) but for every channel
pair of a record at once, from one set of segment spectra per channel.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from medsyn.data.channels import dominant_kind
from medsyn.evaluate._base import clip01
from medsyn.evaluate._inputs import EvalInputs, Side
from medsyn.evaluate.signal._base import SignalMetric, paired_bootstrap
from medsyn.evaluate.signal._prepare import SignalLayout
from medsyn.metric import METRICS, Detail, ItemResult, MetricKind, MetricResult, Threshold

__all__ = [
    "COHERENCE_EEG_BANDS",
    "ECG_COHERENCE_BANDS",
    "BandCoherence",
    "coherence_bands",
    "coherence_matrix",
    "segment_length",
]

#: EEG bands for coherence (Hz): lower edge included, upper excluded.
COHERENCE_EEG_BANDS: dict[str, tuple[float, float]] = {
    "delta": (0.5, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 13.0),
    "beta": (13.0, 30.0),
    "gamma": (30.0, 45.0),
}
#: Broad ECG bands (Hz): rhythm, P and T waves; the QRS complex; its high-frequency content.
ECG_COHERENCE_BANDS: dict[str, tuple[float, float]] = {
    "low": (0.5, 5.0),
    "qrs": (5.0, 15.0),
    "high": (15.0, 40.0),
}
#: Fewest samples per segment: below it the spectrum has too few bins to split into bands.
MIN_SEGMENT = 8
#: Working memory of the per-pair cross spectra of one batch of records.
_WORK_BYTES = 64 * 2**20


def segment_length(n_samples: int, rate: float, window_seconds: float) -> int:
    """Samples per Welch segment: ``window_seconds`` long, but at most a quarter of the record.

    A quarter keeps at least 7 half-overlapping segments: coherence from a single segment is 1
    for any two signals, and its bias for unrelated signals falls as 1 / segments.
    """
    return max(1, min(round(window_seconds * rate), n_samples // 4))


def coherence_matrix(x: np.ndarray, rate: float, nperseg: int) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies and the magnitude-squared coherence of every channel pair (records × freqs × ch × ch).

    ``x`` is records × channels × samples. Equal to ``scipy.signal.coherence(x[r, i], x[r, j],
    rate, nperseg=nperseg)`` for every record ``r`` and pair ``i, j`` (Hann window, half overlap,
    constant detrend), but every channel's segment spectra are taken once. A flat channel's row
    and column are NaN; the diagonal is 1.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=2000)
    >>> x = np.stack([a, a + 0.1 * rng.normal(size=2000), rng.normal(size=2000)])[None]
    >>> _, c = coherence_matrix(x, 100.0, 100)
    >>> bool(c[0, 1:, 0, 1].mean() > 0.95), bool(c[0, 1:, 0, 2].mean() < 0.2)
    (True, True)
    """
    from scipy.signal import get_window

    step = nperseg - nperseg // 2
    frames = np.lib.stride_tricks.sliding_window_view(x, nperseg, axis=-1)[..., ::step, :]
    frames = frames - frames.mean(axis=-1, keepdims=True)
    spectra = np.fft.rfft(frames * get_window("hann", nperseg), axis=-1)  # records × ch × segments × freqs
    per_freq = np.ascontiguousarray(spectra.transpose(0, 3, 1, 2))  # records × freqs × ch × segments
    cross = per_freq @ per_freq.conj().swapaxes(-1, -2)  # records × freqs × ch × ch
    power = np.real(np.diagonal(cross, axis1=-2, axis2=-1))
    denominator = power[..., :, None] * power[..., None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        msc = np.where(denominator > 0, np.abs(cross) ** 2 / np.where(denominator > 0, denominator, 1.0), np.nan)
    return np.fft.rfftfreq(nperseg, 1.0 / rate), np.asarray(msc)


def coherence_bands(
    kind: str, rate: float, nperseg: int, bands: Mapping[str, tuple[float, float]] | None = None
) -> tuple[dict[str, tuple[float, float]], list[str]]:
    """The bands measured (cut at the Nyquist frequency) and the names of those left out (no frequency bin).

    ``kind`` (``"eeg"``, ``"ecg"``, anything else) picks the default bands: EEG bands, broad ECG
    bands, or four logarithmically spaced bands from two frequency bins to the Nyquist frequency.
    """
    nyquist = rate / 2
    resolution = rate / nperseg
    if bands is None:
        if kind == "eeg":
            bands = COHERENCE_EEG_BANDS
        elif kind == "ecg":
            bands = ECG_COHERENCE_BANDS
        else:
            edges = np.geomspace(min(2 * resolution, nyquist / 2), nyquist, 5)
            bands = {f"b{i + 1}": (float(edges[i]), float(edges[i + 1])) for i in range(4)}
    freqs = np.fft.rfftfreq(nperseg, 1.0 / rate)
    kept: dict[str, tuple[float, float]] = {}
    dropped: list[str] = []
    for name, (lo, hi) in bands.items():
        hi = min(hi, nyquist)
        if lo < hi and bool(_band_mask(freqs, lo, hi, nyquist).any()):
            kept[name] = (lo, hi)
        else:
            dropped.append(name)
    return kept, dropped


def _band_mask(freqs: np.ndarray, lo: float, hi: float, nyquist: float) -> np.ndarray:
    """Bins in ``[lo, hi)``; the Nyquist bin counts in a band that reaches it."""
    return np.asarray((freqs >= lo) & ((freqs < hi) | ((hi >= nyquist) & (freqs <= nyquist))))


def _describe(bands: Mapping[str, tuple[float, float]]) -> str:
    return ", ".join(f"{name} {lo:.3g}–{hi:.3g} Hz" for name, (lo, hi) in bands.items())


@METRICS.register("band_coherence")
class BandCoherence(SignalMetric):
    """How far the synthetic signals' channel-pair coherence, band by band, lies from the real
    one, because channels of one recording oscillate together in some bands and not in others
    (EEG electrodes share an alpha rhythm; ECG leads share the QRS complex, not the muscle noise)
    and a generator that makes each channel on its own, or mixes them wrongly, loses that even
    when every channel's spectrum and the broadband correlations look right.

    Per record and channel pair, the magnitude-squared coherence (Welch; 2-s Hann segments, at
    most a quarter of the record, half overlapping; as ``scipy.signal.coherence``) is averaged
    over the bins of each band: for EEG delta 0.5–4, theta 4–8, alpha 8–13, beta 13–30, gamma
    30–45 Hz; for ECG 0.5–5, 5–15 (QRS), 15–40 Hz; for other signals four log-spaced bands up to
    the Nyquist frequency. Bands are cut at the Nyquist frequency, left out when they hold no
    bin (both said in the details). The real and synthetic values are averaged over records;
    the value is the mean absolute difference over channel pairs and bands (0 = same coherence,
    at most 1). Both sides read the same common segment, so the estimator's bias (about
    1 / segments for unrelated channels, ``details.coherence_floor``) cancels. Per channel, the
    item is the mean difference over its pairs and bands. Needs two channels. Above 0.1 warns,
    above 0.2 fails; score: ``1 − value / 0.4`` (clipped). Two disjoint sets of real records
    differ by about 0.02–0.04; ECG with noise at half the signal's spread by 0.15; channels
    taken from different records (each channel made on its own) by 0.5–0.7. Coherence ignores
    gain and phase: ECG leads, all coherent with each other, keep it when their order is
    permuted (``cross_channel_correlation`` sees that).
    """

    name = "band_coherence"
    title = "Cross-channel band coherence"
    kind = MetricKind.FIDELITY
    unit = "mean |ΔMSC|"
    default_threshold = Threshold(warn=0.1, fail=0.2)
    scale = 0.4

    def __init__(
        self,
        *,
        window_seconds: float = 2.0,
        max_seconds: float | None = 60.0,
        bands: Mapping[str, tuple[float, float]] | None = None,
        threshold: Threshold | None = None,
    ) -> None:
        super().__init__(threshold=threshold)
        self.window_seconds = window_seconds
        self.max_seconds = max_seconds
        self.bands = bands

    def score(self, value: float) -> float:
        return math.nan if math.isnan(value) else clip01(1.0 - value / self.scale)

    def _plan(self, lay: SignalLayout) -> tuple[str, int, dict[str, tuple[float, float]], list[str]]:
        """Band set, segment length, bands measured and bands left out for this layout."""
        kind = dominant_kind(lay.channels, lay.units)
        nperseg = segment_length(lay.samples(self.max_seconds), lay.rate, self.window_seconds)
        bands, dropped = coherence_bands(kind, lay.rate, nperseg, self.bands)
        return kind, nperseg, bands, dropped

    def why_not(self, inputs: EvalInputs) -> str | None:
        why = super().why_not(inputs)
        if why is not None:
            return why
        lay = self.layout(inputs)
        if len(lay.channels) < 2:
            return "needs at least two channels"
        _, nperseg, bands, _ = self._plan(lay)
        if nperseg < MIN_SEGMENT:
            return f"records too short ({lay.samples(self.max_seconds)} samples) for 7 Welch segments of 8 samples"
        if not bands:
            return f"no coherence band has a frequency bin at {lay.rate:g} Hz with {nperseg}-sample segments"
        return None

    def _coherence(
        self, inputs: EvalInputs, side: Side, nperseg: int, bands: dict[str, tuple[float, float]]
    ) -> np.ndarray:
        """Records × pairs × bands of one side (pairs in ``np.triu_indices`` order), cached."""
        freqs = np.fft.rfftfreq(nperseg, 1.0)  # in cycles per sample; scaled by the rate below

        def compute(x: np.ndarray, lay: SignalLayout) -> np.ndarray:
            n_ch = x.shape[1]
            upper = np.triu_indices(n_ch, 1)
            hz = freqs * lay.rate
            masks = [_band_mask(hz, lo, hi, lay.rate / 2) for lo, hi in bands.values()]
            per = max(1, _WORK_BYTES // (16 * len(freqs) * n_ch * n_ch))
            out = []
            for start in range(0, len(x), per):
                _, msc = coherence_matrix(x[start : start + per], lay.rate, nperseg)
                pairs = msc[:, :, upper[0], upper[1]]  # records × freqs × pairs
                with np.errstate(invalid="ignore"):
                    out.append(np.stack([np.nanmean(pairs[:, m], axis=1) for m in masks], axis=-1))
            return np.concatenate(out)

        key = ("coherence", nperseg, tuple(bands.items()), self.max_seconds)
        return self.summary(inputs, side, key, compute, max_seconds=self.max_seconds)

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        lay = self.layout(inputs)
        kind, nperseg, bands, dropped = self._plan(lay)
        real = self._coherence(inputs, "real", nperseg, bands)
        syn = self._coherence(inputs, "synthetic", nperseg, bands)
        n_ch = len(lay.channels)
        upper = np.triu_indices(n_ch, 1)
        names = list(bands)

        def gap(r: np.ndarray, s: np.ndarray) -> np.ndarray:
            with np.errstate(invalid="ignore"):
                return np.asarray(np.abs(np.nanmean(real[r], axis=0) - np.nanmean(syn[s], axis=0)))

        full = gap(np.arange(len(real)), np.arange(len(syn)))  # pairs × bands
        value = float(np.nanmean(full))
        ci, reps = paired_bootstrap(inputs, lambda r, s: float(np.nanmean(gap(r, s))), value)
        with np.errstate(invalid="ignore"):
            real_mean = np.nanmean(real, axis=0)
            syn_mean = np.nanmean(syn, axis=0)
            per_pair = np.nanmean(full, axis=1)
        matrix = np.full((n_ch, n_ch), np.nan)
        matrix[upper] = per_pair
        matrix[upper[::-1]] = per_pair
        items = []
        for c, channel in enumerate(lay.channels):
            mine = (upper[0] == c) | (upper[1] == c)
            with np.errstate(invalid="ignore"):
                per_band = np.nanmean(full[mine], axis=0)
            row = np.where(np.isfinite(matrix[c]), matrix[c], -np.inf)
            partner = int(np.argmax(row))
            band = names[int(np.nanargmax(np.where(np.isfinite(per_band), per_band, -np.inf)))]
            mean = float(np.nanmean(per_band))
            items.append(
                ItemResult(
                    "channel",
                    channel,
                    mean,
                    self.judge(mean),
                    f"mean |ΔMSC| {mean:.3f}; largest with {lay.channels[partner]} ({matrix[c, partner]:.2f}), "
                    f"worst band {band}",
                    {
                        "largest_with": lay.channels[partner],
                        "largest_difference": float(matrix[c, partner]),
                        "worst_band": band,
                    },
                )
            )
        segments = 1 + (lay.samples(self.max_seconds) - nperseg) // (nperseg - nperseg // 2)
        details: dict[str, Detail] = {
            "band_set": kind if self.bands is None else "custom",
            "bands": _describe(bands),
            "bands_left_out": ", ".join(dropped),
            "pairs": len(upper[0]),
            "segment_seconds": nperseg / lay.rate,
            "segments_per_record": segments,
            "coherence_floor": 1.0 / segments,
            "analysed_seconds": lay.samples(self.max_seconds) / lay.rate,
            "real_records": len(real),
            "synthetic_records": len(syn),
        }
        with np.errstate(invalid="ignore"):
            band_gap = np.nanmean(full, axis=0)
            real_band = np.nanmean(real_mean, axis=0)
            syn_band = np.nanmean(syn_mean, axis=0)
        for b, band in enumerate(names):
            details[f"gap_{band}"] = float(band_gap[b])
            details[f"real_msc_{band}"] = float(real_band[b])
            details[f"synthetic_msc_{band}"] = float(syn_band[b])
        worst = int(np.argmax(np.where(np.isfinite(band_gap), band_gap, -np.inf)))
        pair = int(np.argmax(np.where(np.isfinite(per_pair), per_pair, -np.inf)))
        reason = (
            f"band coherence differs by {value:.3f} on average over {len(upper[0])} pairs × {len(names)} bands "
            f"(worst band: {names[worst]}, {band_gap[worst]:.3f}; "
            f"worst pair: {lay.channels[upper[0][pair]]}–{lay.channels[upper[1][pair]]})"
        )
        return self.result(value, reason, items=items, ci=ci, replicates=reps, details=details)
