"""EEG bad channels: amplitude outliers, channels that move with no other, and excess high-frequency noise."""

from __future__ import annotations

import numpy as np

from medsyn.data.dataset import SignalRecord
from medsyn.metric import METRICS, Status, Threshold
from medsyn.quality.signal._base import ChannelCheck, ChannelView, Finding, fill_gaps

__all__ = ["EegBadChannels"]

_MAD_TO_SD = 1.4826
_MIN_CHANNELS = 4


def _robust_z(values: np.ndarray) -> np.ndarray:
    median = np.median(values)
    spread = _MAD_TO_SD * np.median(np.abs(values - median))
    if spread <= 0:
        spread = float(np.std(values)) or 1.0
    return np.asarray((values - median) / spread)


@METRICS.register("signal_eeg_bad_channels")
class EegBadChannels(ChannelCheck):
    """EEG channels unlike the others of their recording (amplitude far off, correlated with no
    other channel, or full of high-frequency noise), because a dead, loose or noisy electrode
    corrupts every average reference and spatial filter, and a generator learns it as brain
    activity.

    Following the PREP pipeline (Bigdely-Shamlo et al. 2015), per recording and within its EEG
    channels: the value is the robust z-score (median/MAD) of each channel's log robust
    amplitude (IQR) in 1–40 Hz (|z| > 4 warns, > 6 fails); a channel whose largest correlation
    with any other channel is below 0.4 fails; a robust z of the high-frequency noise ratio
    (amplitude above 40 Hz over 1–40 Hz) above 5 warns and above 10 fails. Needs at least four
    EEG channels; the first ``max_seconds`` (120 s) count.
    """

    name = "signal_eeg_bad_channels"
    title = "EEG bad channels"
    channel_kinds = frozenset({"eeg"})
    item_threshold = Threshold(warn=4.0, fail=6.0)
    item_unit = "|robust z| of amplitude"
    problem = "bad-channel signs (amplitude outlier, no correlation, or high-frequency noise)"

    def __init__(
        self,
        *,
        max_seconds: float | None = 120.0,
        min_correlation: float = 0.4,
        noise_z: float = 5.0,
        threshold: Threshold | None = None,
    ) -> None:
        super().__init__(threshold=threshold)
        self.max_seconds = max_seconds
        self.min_correlation = min_correlation
        self.noise_z = noise_z

    def check_record(self, record: SignalRecord, views: list[ChannelView]) -> dict[str, Finding | str]:
        from scipy.signal import butter, sosfiltfilt

        out: dict[str, Finding | str] = {}
        if len(views) < _MIN_CHANNELS:
            why = f"only {len(views)} EEG channel(s) in the record; comparing channels needs {_MIN_CHANNELS}"
            return {v.channel: why for v in views}
        rate = views[0].rate
        if len(views[0].data) < 2 * rate:
            return {v.channel: f"record too short ({len(views[0].data) / rate:.1f} s); needs 2 s" for v in views}
        usable: list[ChannelView] = []
        filled: list[np.ndarray] = []
        for v in views:
            x = fill_gaps(v.data)
            if x is None:
                out[v.channel] = "under half of the samples are valid"
            elif float(np.ptp(x)) == 0:
                out[v.channel] = Finding(
                    np.inf,
                    "the channel is constant (dead electrode)",
                    status=Status.FAIL,
                    details={"max_correlation": None},
                )
            else:
                usable.append(v)
                filled.append(x)
        if len(usable) < _MIN_CHANNELS:
            for v in usable:
                out[v.channel] = f"only {len(usable)} usable EEG channel(s); comparing channels needs {_MIN_CHANNELS}"
            return out
        data = np.stack(filled)
        band = sosfiltfilt(butter(4, [1.0, min(40.0, 0.45 * rate)], btype="bandpass", fs=rate, output="sos"), data)
        # robust SD (IQR / 1.349, as PREP): eye blinks and brief artefacts do not make a channel "loud"
        q75, q25 = np.percentile(band, [75, 25], axis=1)
        amplitude = (q75 - q25) / 1.349
        z_amp = _robust_z(np.log(np.maximum(amplitude, 1e-12)))
        if rate / 2 > 45:
            high = data - sosfiltfilt(butter(4, 40.0, fs=rate, output="sos"), data)
            z_noise = _robust_z(np.std(high, axis=1) / np.maximum(amplitude, 1e-12))
        else:
            z_noise = np.zeros(len(usable))
        # correlation as one float32 matrix product of standardised rows (half the cost of np.corrcoef)
        centred = band - band.mean(axis=1, keepdims=True)
        scale = np.sqrt((centred**2).sum(axis=1, keepdims=True))
        unit = (centred / np.where(scale > 0, scale, 1.0)).astype(np.float32)
        corr = np.abs(unit @ unit.T).astype(np.float64)
        np.fill_diagonal(corr, 0.0)
        best = np.nan_to_num(corr.max(axis=1))
        for i, v in enumerate(usable):
            z = float(z_amp[i])
            status = self.item_threshold.judge(abs(z), self.item_direction)
            reasons: list[str] = []
            if abs(z) > self.item_threshold.warn:
                reasons.append(f"amplitude {'far above' if z > 0 else 'far below'} the other channels (z = {z:+.1f})")
            if best[i] < self.min_correlation:
                reasons.append(f"correlates with no other channel (best r = {best[i]:.2f})")
                status = Status.FAIL
            if z_noise[i] > self.noise_z:
                reasons.append(f"excess high-frequency noise (z = {z_noise[i]:.1f})")
                worse = Status.FAIL if z_noise[i] > 2 * self.noise_z else Status.WARN
                status = max(status, worse, key=lambda s: s.severity)
            note = "; ".join(reasons) if reasons else f"amplitude z = {z:+.1f}, best r = {best[i]:.2f}"
            out[v.channel] = Finding(
                abs(z),
                note,
                status=status,
                details={"amplitude_z": z, "max_correlation": float(best[i]), "noise_z": float(z_noise[i])},
            )
        return out
