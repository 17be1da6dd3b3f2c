"""Temporal and spatial structure: the autocorrelation of each channel, and how channels move together.

A generator can get every channel's spectrum roughly right and still lose what ties samples in
time (the autocorrelation up to a beat or an alpha cycle) or channels to each other (the fixed
geometry of ECG leads, the spatial smoothness of EEG). Both summaries are per record, cached
per evaluation, and compared as averages over records.
"""

from __future__ import annotations

import math

import numpy as np

from medsyn.evaluate._base import clip01
from medsyn.evaluate._inputs import EvalInputs, Side
from medsyn.evaluate.signal._base import SignalMetric, paired_bootstrap
from medsyn.evaluate.signal._prepare import SignalLayout
from medsyn.metric import METRICS, Detail, ItemResult, MetricKind, MetricResult, Threshold

__all__ = ["AutocorrelationDifference", "CrossChannelCorrelation", "autocorrelation", "channel_correlation"]


def autocorrelation(x: np.ndarray, lags: int) -> np.ndarray:
    """Normalised autocorrelation at lags 1..``lags`` along the last axis (biased estimator, via FFT).

    A constant series gets NaN.

    Examples
    --------
    >>> t = np.arange(400)
    >>> acf = autocorrelation(np.sin(2 * np.pi * t / 20), 20)
    >>> round(float(acf[9]), 2), round(float(acf[19]), 2)   # half a period, a full period
    (-0.97, 0.95)
    """
    centred = x - x.mean(axis=-1, keepdims=True)
    n = x.shape[-1]
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(centred, size, axis=-1)
    acov = np.fft.irfft(spectrum.real**2 + spectrum.imag**2, size, axis=-1)[..., : lags + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(acov[..., :1] > 0, acov[..., 1:] / acov[..., :1], np.nan))


def channel_correlation(x: np.ndarray) -> np.ndarray:
    """Pearson correlation between the channels of each record (records × channels × channels).

    A constant channel's row and column are NaN.
    """
    centred = x - x.mean(axis=-1, keepdims=True)
    norm = np.sqrt((centred**2).sum(axis=-1, keepdims=True))
    unit = np.where(norm > 0, centred / np.where(norm > 0, norm, 1.0), np.nan)
    return np.asarray(np.einsum("rcn,rdn->rcd", unit, unit))


@METRICS.register("autocorrelation_difference")
class AutocorrelationDifference(SignalMetric):
    """How far the synthetic channels' average autocorrelation lies from the real one over the
    first ``lag_seconds`` (1 s), because the autocorrelation is the signal's memory: beat
    regularity in an ECG, rhythmic activity in an EEG; white noise or shuffled samples lose it.

    Per record and channel the normalised autocorrelation is computed (FFT, biased estimator,
    over the first ``max_seconds`` of the common segment) at ``n_lags`` (32) lags spaced
    logarithmically from one sample to ``lag_seconds``, so that short-range smoothness and
    long-range rhythm count alike whatever the sampling rate; the real and synthetic curves are
    averaged over records; a channel's value is the mean absolute difference of the two curves
    over the lags (0 = identical, at most 2). The value is the mean over channels. Above 0.1
    warns, above 0.2 fails (white noise against an ECG: about 0.35); score: ``exp(−value / 0.2)``.
    Amplitude does not change an autocorrelation (see ``psd_distance``), and neither does
    randomising the phases of a spectrum.
    """

    name = "autocorrelation_difference"
    title = "Autocorrelation difference"
    kind = MetricKind.FIDELITY
    unit = "mean |ΔACF|"
    default_threshold = Threshold(warn=0.1, fail=0.2)
    scale = 0.2

    def __init__(
        self,
        *,
        lag_seconds: float = 1.0,
        n_lags: int = 32,
        max_seconds: float | None = 60.0,
        threshold: Threshold | None = None,
    ) -> None:
        super().__init__(threshold=threshold)
        self.lag_seconds = lag_seconds
        self.n_lags = n_lags
        self.max_seconds = max_seconds

    def score(self, value: float) -> float:
        return math.nan if math.isnan(value) else clip01(math.exp(-value / self.scale))

    def _lags(self, lay: SignalLayout) -> np.ndarray:
        """Lags (samples) on a logarithmic grid from 1 to ``lag_seconds``."""
        top = max(1, min(round(self.lag_seconds * lay.rate), lay.samples(self.max_seconds) - 1))
        return np.unique(np.round(np.geomspace(1, top, self.n_lags)).astype(int))

    def why_not(self, inputs: EvalInputs) -> str | None:
        why = super().why_not(inputs)
        if why is None and self.layout(inputs).samples(self.max_seconds) < 4:
            return "records hold fewer than 4 samples"
        return why

    def _acf(self, inputs: EvalInputs, side: Side, lags: np.ndarray) -> np.ndarray:
        return self.summary(
            inputs,
            side,
            ("acf", tuple(lags.tolist()), self.max_seconds),
            lambda x, _: autocorrelation(x, int(lags[-1]))[..., lags - 1],
            max_seconds=self.max_seconds,
        )

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        lay = self.layout(inputs)
        lags = self._lags(lay)
        real = self._acf(inputs, "real", lags)
        syn = self._acf(inputs, "synthetic", lags)

        def diff(r: np.ndarray, s: np.ndarray) -> np.ndarray:
            with np.errstate(invalid="ignore"):
                gap = np.abs(np.nanmean(real[r], axis=0) - np.nanmean(syn[s], axis=0))
            return np.asarray(np.nanmean(gap, axis=-1))

        per_channel = diff(np.arange(len(real)), np.arange(len(syn)))
        value = float(np.nanmean(per_channel))
        ci, reps = paired_bootstrap(inputs, lambda r, s: float(np.nanmean(diff(r, s))), value)
        items = [
            ItemResult(
                "channel",
                name,
                float(per_channel[c]),
                self.judge(per_channel[c]),
                f"mean |ΔACF| {per_channel[c]:.3f} over {len(lags)} lags up to {lags[-1] / lay.rate:g} s",
            )
            for c, name in enumerate(lay.channels)
        ]
        details: dict[str, Detail] = {"lags": len(lags), "max_lag_seconds": float(lags[-1] / lay.rate)}
        reason = (
            f"average autocorrelations differ by {value:.3f} on average over {len(lags)} lags "
            f"(1 sample to {lags[-1] / lay.rate:g} s)"
        )
        return self.result(value, reason, items=items, ci=ci, replicates=reps, details=details)


@METRICS.register("cross_channel_correlation")
class CrossChannelCorrelation(SignalMetric):
    """How far the synthetic signals' channel-by-channel correlation matrix lies from the real
    one, because channels of one recording are tied together (ECG leads are projections of one
    cardiac vector; neighbouring EEG electrodes see the same sources) and a generator that
    produces each channel on its own breaks that.

    Per record the Pearson correlation of every pair of channels is taken over the first
    ``max_seconds`` of the common segment; the matrices are averaged over records; the value is
    the mean absolute difference between the real and synthetic averages over channel pairs
    (0 = same structure, at most 2). Per channel, the item is the mean difference of its row.
    Needs two channels. Above 0.15 warns, above 0.3 fails; score: ``1 − value / 0.5`` (clipped).
    Shuffling time points (the same way in every channel) keeps these correlations.
    """

    name = "cross_channel_correlation"
    title = "Cross-channel correlation"
    kind = MetricKind.FIDELITY
    unit = "mean |Δr|"
    default_threshold = Threshold(warn=0.15, fail=0.3)
    scale = 0.5

    def __init__(self, *, max_seconds: float | None = 60.0, threshold: Threshold | None = None) -> None:
        super().__init__(threshold=threshold)
        self.max_seconds = max_seconds

    def score(self, value: float) -> float:
        return math.nan if math.isnan(value) else clip01(1.0 - value / self.scale)

    def why_not(self, inputs: EvalInputs) -> str | None:
        why = super().why_not(inputs)
        if why is None and len(self.layout(inputs).channels) < 2:
            return "needs at least two channels"
        return why

    def _corr(self, inputs: EvalInputs, side: Side) -> np.ndarray:
        return self.summary(
            inputs, side, ("corr", self.max_seconds), lambda x, _: channel_correlation(x), max_seconds=self.max_seconds
        )

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        lay = self.layout(inputs)
        real = self._corr(inputs, "real")
        syn = self._corr(inputs, "synthetic")
        n = len(lay.channels)
        upper = np.triu_indices(n, 1)
        off = ~np.eye(n, dtype=bool)

        def gap(r: np.ndarray, s: np.ndarray) -> np.ndarray:
            with np.errstate(invalid="ignore"):
                return np.asarray(np.abs(np.nanmean(real[r], axis=0) - np.nanmean(syn[s], axis=0)))

        full = gap(np.arange(len(real)), np.arange(len(syn)))
        value = float(np.nanmean(full[upper]))
        ci, reps = paired_bootstrap(inputs, lambda r, s: float(np.nanmean(gap(r, s)[upper])), value)
        masked = np.where(off & np.isfinite(full), full, -np.inf)
        with np.errstate(invalid="ignore"):
            per_channel = np.nanmean(np.where(off, full, np.nan), axis=1)
        items = []
        for c, name in enumerate(lay.channels):
            partner = int(np.argmax(masked[c]))
            items.append(
                ItemResult(
                    "channel",
                    name,
                    float(per_channel[c]),
                    self.judge(per_channel[c]),
                    f"mean |Δr| {per_channel[c]:.3f}; largest with {lay.channels[partner]} ({full[c, partner]:.2f})",
                    {"largest_with": lay.channels[partner], "largest_difference": float(full[c, partner])},
                )
            )
        i, j = np.unravel_index(int(np.argmax(masked)), full.shape)
        reason = (
            f"channel correlations differ by {value:.3f} on average over {len(upper[0])} pairs "
            f"(largest: {lay.channels[i]}–{lay.channels[j]}, {full[i, j]:.2f})"
        )
        details: dict[str, Detail] = {"pairs": len(upper[0]), "largest_pair": f"{lay.channels[i]}–{lay.channels[j]}"}
        return self.result(value, reason, items=items, ci=ci, replicates=reps, details=details)
