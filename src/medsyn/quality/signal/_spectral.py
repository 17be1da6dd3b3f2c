"""Frequency-domain artefacts: baseline wander (power below 0.5 Hz) and power-line interference (50/60 Hz).

Both work on a whole record at once (one Welch spectrum, one filter call for all channels),
which is an order of magnitude faster than channel by channel on 64-channel EEG.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from medsyn.data.dataset import SignalRecord
from medsyn.metric import METRICS, Direction, Threshold
from medsyn.quality.signal._base import ChannelCheck, ChannelView, Finding, filled_channels, welch

__all__ = ["BaselineWander", "PowerLine"]


@METRICS.register("signal_baseline_wander")
class BaselineWander(ChannelCheck):
    """Share of an ECG or EEG channel's power below 0.5 Hz, where breathing, movement and
    sweating move the baseline; wander shifts ST segments and amplitudes, swamps slow EEG
    activity, and a generator copies it as if it were physiology.

    The value is the share of the channel's (mean-removed) power below ``cutoff_hz``, from a
    Welch spectrum with 10-s windows.
    ECG carries little power there (median ≈ 6 % on the PhysioNet/CinC samples): above 30 %
    warns, above 60 % fails. EEG has genuine slow activity (median ≈ 29 % on eegmmidb), so its
    limits are 60 % and 85 %. The ``drift`` detail is the range of the 0.5-Hz low-pass baseline
    relative to the signal's own peak-to-peak amplitude.
    """

    name = "signal_baseline_wander"
    title = "Baseline wander"
    channel_kinds = frozenset({"ecg", "eeg"})
    item_threshold = Threshold(warn=0.30, fail=0.60)
    #: Wander is common in raw recordings and a high-pass filter removes it: it fails the data
    #: set only when most channels have it.
    default_threshold = Threshold(warn=0.0, fail=0.50)
    eeg_threshold: ClassVar[Threshold] = Threshold(warn=0.60, fail=0.85)
    item_unit = "share of power"
    problem = "strong baseline wander"

    def __init__(self, *, cutoff_hz: float = 0.5, threshold: Threshold | None = None) -> None:
        super().__init__(threshold=threshold)
        self.cutoff_hz = cutoff_hz

    def check_record(self, record: SignalRecord, views: list[ChannelView]) -> dict[str, Finding | str]:
        from scipy.signal import butter, sosfiltfilt

        usable, data, out = filled_channels(views)
        if not usable:
            return dict(out)
        rate = usable[0].rate
        seconds = data.shape[1] / rate
        need = 4 / self.cutoff_hz
        if seconds < need:
            why = f"record too short ({seconds:.1f} s) to resolve {self.cutoff_hz:g} Hz; needs {need:g} s"
            return {**out, **{v.channel: why for v in usable}}
        freqs, psd = welch(data, rate, min(10.0, seconds))
        total = psd[:, freqs > 0].sum(axis=1)
        low = psd[:, (freqs > 0) & (freqs < self.cutoff_hz)].sum(axis=1)
        baseline = sosfiltfilt(butter(2, self.cutoff_hz, fs=rate, output="sos"), data, axis=1)
        rest = data - baseline
        span = np.percentile(rest, 99.9, axis=1) - np.percentile(rest, 0.1, axis=1)
        swing = np.percentile(baseline, 99, axis=1) - np.percentile(baseline, 1, axis=1)
        result: dict[str, Finding | str] = dict(out)
        for i, v in enumerate(usable):
            if total[i] <= 0:
                result[v.channel] = "the channel is constant (see signal_flat_line)"
                continue
            share = float(low[i] / total[i])
            drift = float(swing[i] / span[i]) if span[i] > 0 else float("nan")
            limits = self.eeg_threshold if v.kind == "eeg" else self.item_threshold
            note = (
                f"{share:.0%} of the power is below {self.cutoff_hz:g} Hz; the baseline drifts over "
                f"{drift:.0%} of the signal's amplitude"
            )
            result[v.channel] = Finding(
                share,
                note,
                status=limits.judge(share, Direction.MINIMIZE),
                details={"drift": drift, "limit_warn": limits.warn},
            )
        return result


@METRICS.register("signal_powerline")
class PowerLine(ChannelCheck):
    """Power-line interference: how far the 50 Hz and 60 Hz spectral peaks rise above the
    neighbouring bands, in dB, because mains hum (unshielded leads, poor electrode contact)
    hides small waves and leaks into anything trained on the data.

    The hum is a sine at 50 Hz (Europe, Asia) or 60 Hz (Americas). The
    value is the larger of the two peaks (highest 1-Hz Welch bin within ±1 Hz) over the median
    power 2–6 Hz on either side. Clean recordings stay within a few dB (95th percentile ≈ 6 dB
    on the PhysioNet samples); above 10 dB warns, above 20 dB fails. A frequency that the
    sampling rate cannot represent is not checked.
    """

    name = "signal_powerline"
    title = "Power-line interference"
    item_threshold = Threshold(warn=10.0, fail=20.0)
    item_unit = "dB"
    problem = "power-line interference"

    def __init__(self, *, frequencies: tuple[float, ...] = (50.0, 60.0), threshold: Threshold | None = None) -> None:
        super().__init__(threshold=threshold)
        self.frequencies = tuple(frequencies)

    def check_record(self, record: SignalRecord, views: list[ChannelView]) -> dict[str, Finding | str]:
        usable, data, out = filled_channels(views)
        if not usable:
            return dict(out)
        rate = usable[0].rate
        lines = [f0 for f0 in self.frequencies if f0 + 6 < rate / 2]
        if not lines:
            shown = " or ".join(f"{f:g}" for f in self.frequencies)
            return {**out, **{v.channel: f"sampled at {rate:g} Hz, too slow to show {shown} Hz" for v in usable}}
        if data.shape[1] < 2 * rate:
            why = f"record too short ({data.shape[1] / rate:.1f} s) for a 1-Hz spectrum; needs 2 s"
            return {**out, **{v.channel: why for v in usable}}
        freqs, psd = welch(data, rate, 1.0)
        ratios = np.empty((len(usable), len(lines)))
        for j, f0 in enumerate(lines):
            peak = psd[:, (freqs >= f0 - 1) & (freqs <= f0 + 1)].max(axis=1)
            near = ((freqs >= f0 - 6) & (freqs <= f0 - 2)) | ((freqs >= f0 + 2) & (freqs <= f0 + 6))
            floor = np.median(psd[:, near], axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = 10 * np.log10(np.maximum(peak, 1e-300) / floor)
            ratios[:, j] = np.where(floor > 0, ratio, np.where(peak > 0, 60.0, 0.0))
        result: dict[str, Finding | str] = dict(out)
        for i, v in enumerate(usable):
            j = int(np.argmax(ratios[i]))
            details: dict[str, float | int | str | bool | None] = {
                f"peak_{f0:g}hz_db": float(ratios[i, k]) for k, f0 in enumerate(lines)
            }
            details["frequency_hz"] = lines[j]
            note = f"{lines[j]:g} Hz peak {ratios[i, j]:.1f} dB above the neighbouring bands"
            result[v.channel] = Finding(float(ratios[i, j]), note, details=details)
        return result
