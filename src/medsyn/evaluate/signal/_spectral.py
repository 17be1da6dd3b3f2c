"""Spectral fidelity: the power spectrum per channel, and EEG band powers per channel and band.

Both read one Welch spectrum per record and channel (2-s Hann windows, the whole record in one
call), computed once per evaluation and side and shared through ``inputs.memo``.
"""

from __future__ import annotations

import math

import numpy as np

from medsyn.evaluate._base import clip01
from medsyn.evaluate._inputs import EvalInputs, Side
from medsyn.evaluate.signal._base import SignalMetric, ks_columns, ks_null, paired_bootstrap
from medsyn.evaluate.signal._prepare import SignalLayout
from medsyn.metric import METRICS, Detail, ItemResult, MetricKind, MetricResult, Threshold
from medsyn.quality.signal._base import welch

__all__ = ["EEG_BANDS", "EegBandPowers", "PsdDistance", "band_powers", "record_spectra"]

#: EEG bands (Hz), lower edge included, upper excluded.
EEG_BANDS: dict[str, tuple[float, float]] = {
    "delta": (1.0, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 13.0),
    "beta": (13.0, 30.0),
    "gamma": (30.0, 45.0),
}
#: Power this far below a channel's mean real power (−60 dB) counts as nothing, so empty bins
#: do not turn into infinite log ratios.
_FLOOR = 1e-6


def record_spectra(
    inputs: EvalInputs, side: Side, *, window_seconds: float, max_seconds: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies and the Welch PSD of every record and channel of ``side`` (records × channels × bins)."""
    lay = SignalMetric.layout(inputs)
    seconds = min(window_seconds, lay.samples(max_seconds) / lay.rate)
    # the segment length ``welch`` picks for these seconds (at least 8 samples)
    freqs = np.fft.rfftfreq(max(8, min(lay.samples(max_seconds), round(seconds * lay.rate))), 1.0 / lay.rate)

    def compute(x: np.ndarray, _: SignalLayout) -> np.ndarray:
        return welch(x, lay.rate, seconds)[1]

    psd = SignalMetric.summary(inputs, side, ("welch", window_seconds, max_seconds), compute, max_seconds=max_seconds)
    return freqs, psd


@METRICS.register("psd_distance")
class PsdDistance(SignalMetric):
    """How far the synthetic signals' average power spectrum lies from the real one, per channel,
    in dB, because a generator that gets the spectrum wrong (too smooth, too noisy, the wrong
    amplitude or rhythm) produces signals no recording device would.

    Per record and channel a Welch spectrum (2-s Hann windows, the first ``max_seconds`` of the
    common segment) is taken; the real and the synthetic spectra are averaged over records, and
    a channel's value is the mean over frequency bins (0 Hz < f ≤ ``max_hz``, default Nyquist) of
    the absolute log-ratio ``|10·log10(P_syn / P_real)|`` in dB (power 60 dB below the channel's
    mean real power counts as that floor). The value is the mean over channels. 3 dB is a factor
    of two in power: above 3 dB warns, above 6 dB fails. Score: ``exp(−value / 6 dB)``.
    The spectrum ignores phase: phase-randomised signals keep it (see ``discriminative_score``).
    """

    name = "psd_distance"
    title = "Power spectral density distance"
    kind = MetricKind.FIDELITY
    unit = "dB"
    default_threshold = Threshold(warn=3.0, fail=6.0)
    scale_db = 6.0

    def __init__(
        self,
        *,
        window_seconds: float = 2.0,
        max_seconds: float | None = 60.0,
        max_hz: float | None = None,
        threshold: Threshold | None = None,
    ) -> None:
        super().__init__(threshold=threshold)
        self.window_seconds = window_seconds
        self.max_seconds = max_seconds
        self.max_hz = max_hz

    def score(self, value: float) -> float:
        return math.nan if math.isnan(value) else clip01(math.exp(-value / self.scale_db))

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        lay = self.layout(inputs)
        freqs, real = record_spectra(inputs, "real", window_seconds=self.window_seconds, max_seconds=self.max_seconds)
        _, syn = record_spectra(inputs, "synthetic", window_seconds=self.window_seconds, max_seconds=self.max_seconds)
        top = lay.rate / 2 if self.max_hz is None else min(self.max_hz, lay.rate / 2)
        mask = (freqs > 0) & (freqs <= top)

        def gaps(r: np.ndarray, s: np.ndarray) -> np.ndarray:
            return np.asarray(_log_ratio(real[r].mean(axis=0), syn[s].mean(axis=0), mask))

        db = gaps(np.arange(len(real)), np.arange(len(syn)))
        per_channel = np.abs(db).mean(axis=1)
        value = float(per_channel.mean())
        ci, reps = paired_bootstrap(inputs, lambda r, s: float(np.abs(gaps(r, s)).mean()), value)
        f = freqs[mask]
        items = []
        for c, name in enumerate(lay.channels):
            worst = int(np.argmax(np.abs(db[c])))
            details: dict[str, Detail] = {
                "mean_signed_db": float(db[c].mean()),
                "largest_gap_hz": float(f[worst]),
                "largest_gap_db": float(db[c, worst]),
            }
            note = (
                f"{per_channel[c]:.1f} dB on average; largest gap {db[c, worst]:+.1f} dB at {f[worst]:g} Hz "
                f"({'more' if db[c].mean() > 0 else 'less'} power in the synthetic signals overall)"
            )
            items.append(ItemResult("channel", name, float(per_channel[c]), self.judge(per_channel[c]), note, details))
        worst_channel = lay.channels[int(np.argmax(per_channel))]
        reason = (
            f"average spectra differ by {value:.2f} dB over 0–{top:g} Hz (mean of {len(lay.channels)} channels; "
            f"worst {worst_channel}: {per_channel.max():.2f} dB)"
        )
        return self.result(
            value,
            reason,
            items=items,
            ci=ci,
            replicates=reps,
            details={
                "window_seconds": self.window_seconds,
                "analysed_seconds": lay.samples(self.max_seconds) / lay.rate,
                "max_hz": top,
                "real_records": len(real),
                "synthetic_records": len(syn),
            },
        )


def _log_ratio(real: np.ndarray, syn: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``10·log10(syn / real)`` per channel and bin in ``mask``, both floored at −60 dB of the real mean."""
    floor = _FLOOR * real[:, mask].mean(axis=1, keepdims=True) + 1e-300
    return np.asarray(10.0 * np.log10((syn[:, mask] + floor) / (real[:, mask] + floor)))


def band_powers(freqs: np.ndarray, psd: np.ndarray, bands: dict[str, tuple[float, float]]) -> np.ndarray:
    """Relative power per band (records × channels × bands): band power over the power in all the bands.

    A channel with no power in the bands gets NaN.
    """
    lo = min(b[0] for b in bands.values())
    hi = max(b[1] for b in bands.values())
    total = psd[..., (freqs >= lo) & (freqs < hi)].sum(axis=-1)
    out = np.stack([psd[..., (freqs >= a) & (freqs < b)].sum(axis=-1) for a, b in bands.values()], axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(total[..., None] > 0, out / total[..., None], np.nan))


@METRICS.register("eeg_band_powers")
class EegBandPowers(SignalMetric):
    """Whether the synthetic EEG has the real EEG's relative band powers (delta, theta, alpha,
    beta, gamma) on each channel, because band powers are what EEG readers and most EEG models
    use, and a generator that shifts power between bands changes the apparent brain state.

    Per record and EEG channel, the relative power of each band (delta 1–4, theta 4–8, alpha
    8–13, beta 13–30, gamma 30–45 Hz, over the power in 1–45 Hz) comes from the same Welch
    spectra as ``psd_distance``. For each channel × band, the real and synthetic distributions
    over records are compared with the two-sample Kolmogorov–Smirnov statistic (0 = same, 1 =
    disjoint); the value is the mean over channels and bands. Bands above the Nyquist frequency
    are left out and bands across it cut there (both said in the details). Above 0.45 warns,
    above 0.65 fails; score: 1 − value. KS has a noise floor that falls with the number of
    records (two runs of one subject, a dozen 10-s windows each, differ by about 0.3):
    ``details.ks_noise_floor`` gives it. Skipped when no channel is named like an EEG electrode.
    """

    name = "eeg_band_powers"
    title = "EEG relative band powers"
    kind = MetricKind.FIDELITY
    unit = "KS statistic"
    default_threshold = Threshold(warn=0.45, fail=0.65)

    def __init__(
        self, *, window_seconds: float = 2.0, max_seconds: float | None = 60.0, threshold: Threshold | None = None
    ) -> None:
        super().__init__(threshold=threshold)
        self.window_seconds = window_seconds
        self.max_seconds = max_seconds

    def why_not(self, inputs: EvalInputs) -> str | None:
        why = super().why_not(inputs)
        if why is not None:
            return why
        lay = self.layout(inputs)
        if not lay.channels_of("eeg"):
            return "no EEG channels (no channel is named like a 10-20 electrode or 'EEG …')"
        if lay.samples(self.max_seconds) < 2 * lay.rate:
            return f"records too short ({lay.seconds:.2g} s) for a 0.5-Hz spectrum; needs 2 s"
        if lay.rate / 2 <= EEG_BANDS["delta"][1]:
            return f"sampled at {lay.rate:g} Hz, too slow to resolve EEG bands"
        return None

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        lay = self.layout(inputs)
        eeg = lay.channels_of("eeg")
        nyquist = lay.rate / 2
        bands = {k: (a, min(b, nyquist)) for k, (a, b) in EEG_BANDS.items() if a < nyquist}
        dropped = [k for k in EEG_BANDS if k not in bands]
        cut = [k for k, (_, b) in bands.items() if b < EEG_BANDS[k][1]]
        freqs, real_psd = record_spectra(
            inputs, "real", window_seconds=self.window_seconds, max_seconds=self.max_seconds
        )
        _, syn_psd = record_spectra(
            inputs, "synthetic", window_seconds=self.window_seconds, max_seconds=self.max_seconds
        )
        real = band_powers(freqs, real_psd[:, eeg], bands).reshape(len(real_psd), -1)
        syn = band_powers(freqs, syn_psd[:, eeg], bands).reshape(len(syn_psd), -1)
        ks = ks_columns(real, syn)
        value = float(np.nanmean(ks))
        ci, reps = paired_bootstrap(inputs, lambda r, s: float(np.nanmean(ks_columns(real[r], syn[s]))), value)
        names = list(bands)
        real_median = np.nanmedian(real, axis=0)
        syn_median = np.nanmedian(syn, axis=0)
        items = []
        for j in range(real.shape[1]):
            channel, band = lay.channels[eeg[j // len(names)]], names[j % len(names)]
            note = f"median relative {band} power {real_median[j]:.1%} real, {syn_median[j]:.1%} synthetic"
            items.append(
                ItemResult(
                    "channel_band",
                    f"{channel}:{band}",
                    float(ks[j]),
                    self.judge(ks[j]),
                    note,
                    {"real_median": float(real_median[j]), "synthetic_median": float(syn_median[j]), "band": band},
                )
            )
        per_band = {f"ks_{b}": float(np.nanmean(ks[i :: len(names)])) for i, b in enumerate(names)}
        worst = max(per_band, key=lambda k: per_band[k])
        details: dict[str, Detail] = {
            **per_band,
            "eeg_channels": len(eeg),
            "bands_left_out": ", ".join(dropped),
            "bands_cut_at_nyquist": ", ".join(cut),
            "ks_noise_floor": ks_null(len(real), len(syn)),
        }
        reason = (
            f"mean KS {value:.2f} over {len(eeg)} EEG channels × {len(names)} bands "
            f"(worst band: {worst.removeprefix('ks_')}, {per_band[worst]:.2f})"
        )
        return self.result(value, reason, items=items, ci=ci, replicates=reps, details=details)
