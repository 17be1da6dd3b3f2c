"""Signal-to-noise ratio of ECG (beat template vs residual) and EEG (physiological band vs high band)."""

from __future__ import annotations

import math

import numpy as np

from medsyn.data.dataset import SignalRecord
from medsyn.metric import METRICS, Direction, Threshold
from medsyn.quality.signal._base import ChannelCheck, ChannelView, Finding, filled_channels, welch

__all__ = ["SignalToNoise", "detect_r_peaks"]

_BEAT_BEFORE_S = 0.15
_BEAT_AFTER_S = 0.15
_MIN_BEATS = 5


def _bandpass(x: np.ndarray, rate: float, low: float, high: float) -> np.ndarray:
    from scipy.signal import butter, sosfiltfilt

    high = min(high, 0.45 * rate)
    sos = butter(2, [low, high], btype="bandpass", fs=rate, output="sos")
    return np.asarray(sosfiltfilt(sos, x))


def detect_r_peaks(x: np.ndarray, rate: float) -> np.ndarray:
    """R-peak sample indices by a light Pan–Tompkins scheme (5–15 Hz band, squared slope, 120 ms energy).

    Used to align beats for the template SNR; it favours speed over the last percent of
    sensitivity (the ``signal_ecg_quality`` check uses neurokit2's detector).

    Examples
    --------
    >>> t = np.arange(0, 10, 1 / 250)
    >>> ecg = np.exp(-(((t % 1.0) - 0.5) ** 2) / 0.0002)   # one narrow "R wave" per second
    >>> len(detect_r_peaks(ecg, 250.0))
    10
    """
    from scipy.signal import find_peaks

    qrs = _bandpass(x, rate, 5.0, 15.0)
    energy = np.convolve(np.gradient(qrs) ** 2, np.ones(max(1, int(0.12 * rate))), mode="same")
    top = float(np.percentile(energy, 98))
    if top <= 0:
        return np.empty(0, dtype=int)
    candidates, _ = find_peaks(energy, height=0.3 * top, distance=max(1, int(0.25 * rate)))
    half = max(1, int(0.06 * rate))
    magnitude = np.abs(qrs)
    peaks = [c - half + int(np.argmax(magnitude[max(0, c - half) : c + half])) for c in candidates]
    return np.unique(np.clip(np.asarray(peaks, dtype=int), 0, len(x) - 1))


def _template_snr(x: np.ndarray, rate: float) -> tuple[float, int] | None:
    """SNR in dB of the median beat against the beat-to-beat residual; ``None`` with too few beats."""
    clean = _bandpass(x, rate, 0.5, 100.0)
    peaks = detect_r_peaks(clean, rate)
    before, after = int(_BEAT_BEFORE_S * rate), int(_BEAT_AFTER_S * rate)
    peaks = peaks[(peaks >= before) & (peaks + after < len(clean))]
    if len(peaks) < _MIN_BEATS:
        return None
    from scipy.signal import detrend

    # a straight line per beat takes out what is left of baseline wander (signal_baseline_wander's job)
    beats = detrend(np.stack([clean[p - before : p + after] for p in peaks]), axis=1, type="linear")
    template = np.median(beats, axis=0)
    residual = beats - template
    signal_power = float(np.mean(template**2))
    noise_power = float(np.mean(residual**2))
    if noise_power <= 0:
        return 60.0, len(peaks)
    return 10 * math.log10(max(signal_power, 1e-300) / noise_power), len(peaks)


def _band_snr(x: np.ndarray, rate: float, band: tuple[float, float], lines: tuple[float, ...]) -> np.ndarray | None:
    """SNR in dB of power in ``band`` against power above it (mains bands and harmonics excluded).

    ``x`` is one channel or channels × samples; ``None`` when no band above ``band`` exists.
    """
    freqs, psd = welch(x, rate, min(4.0, x.shape[-1] / rate))
    top = min(rate / 2, 4 * band[1])
    in_band = (freqs >= band[0]) & (freqs <= band[1])
    above = (freqs > band[1]) & (freqs <= top)
    for f0 in lines:
        for harmonic in (f0, 2 * f0):
            above &= np.abs(freqs - harmonic) > 2.0
    if not above.any():
        return None
    signal_power = psd[..., in_band].sum(axis=-1)
    noise_power = psd[..., above].sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = 10 * np.log10(np.maximum(signal_power, 1e-300) / noise_power)
    return np.asarray(np.where(noise_power > 0, snr, 60.0))


@METRICS.register("signal_snr")
class SignalToNoise(ChannelCheck):
    """Signal-to-noise ratio per channel, in dB (ECG: the average beat against what varies from
    beat to beat; EEG: the 1–40 Hz band against the band above it), because noise from muscles,
    electrode motion or the amplifier hides the waves a diagnosis reads and a generator learns.

    For an ECG lead, R peaks are detected and windows of
    ±150 ms around them (the QRS complex, whose shape stays stable even when the rhythm does
    not) are aligned after a 0.5–100 Hz band-pass and a straight-line detrend per beat (baseline
    wander is left to ``signal_baseline_wander``); the median beat is the signal and each beat's
    difference from it is the noise. Ectopic beats count as noise too, and so do f-waves in
    atrial fibrillation, which lowers the value on AF Holter recordings. With fewer than five
    beats the ECG falls back to the band estimate (0.5–40 Hz vs above). For EEG the noise band
    is 40 Hz up to 4 × 40 Hz or Nyquist, without the 50/60 Hz mains bands (see
    ``signal_powerline``). Below 5 dB warns and below 0 dB (more noise than signal) fails.
    """

    name = "signal_snr"
    title = "Signal-to-noise ratio"
    channel_kinds = frozenset({"ecg", "eeg"})
    item_threshold = Threshold(warn=5.0, fail=0.0)
    item_direction = Direction.MAXIMIZE
    item_unit = "dB"
    problem = "a low signal-to-noise ratio"

    def __init__(self, *, max_seconds: float | None = 300.0, threshold: Threshold | None = None) -> None:
        super().__init__(threshold=threshold)
        self.max_seconds = max_seconds

    def check_record(self, record: SignalRecord, views: list[ChannelView]) -> dict[str, Finding | str]:
        usable, data, out = filled_channels(views)
        result: dict[str, Finding | str] = dict(out)
        if not usable:
            return result
        rate = usable[0].rate
        if data.shape[1] < 2 * rate:
            why = f"record too short ({data.shape[1] / rate:.1f} s); needs 2 s"
            return {**result, **{v.channel: why for v in usable}}
        by_band: dict[tuple[float, float], list[int]] = {}
        for i, v in enumerate(usable):
            if float(np.ptp(data[i])) == 0:
                result[v.channel] = "the channel is constant (see signal_flat_line)"
                continue
            if v.kind == "ecg":
                found = _template_snr(data[i], rate)
                if found is not None:
                    snr, beats = found
                    result[v.channel] = Finding(
                        snr,
                        f"{snr:.1f} dB (median beat of {beats} beats vs residual)",
                        details={"method": "beat template", "beats": beats},
                    )
                    continue
            by_band.setdefault((0.5, 40.0) if v.kind == "ecg" else (1.0, 40.0), []).append(i)
        for band, rows in by_band.items():
            snrs = _band_snr(data[rows], rate, band, (50.0, 60.0))
            for k, i in enumerate(rows):
                v = usable[i]
                if snrs is None:
                    result[v.channel] = f"sampled at {rate:g} Hz, no band above {band[1]:g} Hz to measure noise in"
                    continue
                method = "band (fewer than 5 beats found)" if v.kind == "ecg" else "band"
                value = float(snrs[k])
                result[v.channel] = Finding(
                    value, f"{value:.1f} dB ({band[0]:g}–{band[1]:g} Hz vs above)", details={"method": method}
                )
        return result
