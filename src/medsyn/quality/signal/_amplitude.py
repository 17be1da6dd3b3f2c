"""Amplitude plausibility: is each ECG lead's swing a few millivolts, each EEG channel's tens to hundreds of µV?"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medsyn.data.channels import unit_scale
from medsyn.metric import METRICS, Status, Threshold
from medsyn.quality.signal._base import ChannelView, Finding, PerChannelCheck

__all__ = ["AmplitudePlausibility", "AmplitudeRange"]


@dataclass(frozen=True, slots=True)
class AmplitudeRange:
    """Peak-to-peak limits in ``unit``.

    Outside ``[fail_low, fail_high]`` fails, outside ``[warn_low, warn_high]`` warns.
    """

    unit: str
    fail_low: float
    warn_low: float
    warn_high: float
    fail_high: float

    def judge(self, value: float) -> Status:
        if not self.fail_low <= value <= self.fail_high:
            return Status.FAIL
        if not self.warn_low <= value <= self.warn_high:
            return Status.WARN
        return Status.PASS


#: Surface ECG: QRS swings of 0.5–3 mV; under 0.05 mV is a dead lead, over 15 mV a unit or gain error.
ECG_RANGE = AmplitudeRange("mV", fail_low=0.05, warn_low=0.15, warn_high=8.0, fail_high=15.0)
#: Scalp EEG: tens to a few hundred µV (blinks near 1 mV); under 2 µV is dead, over 5 mV is not EEG.
EEG_RANGE = AmplitudeRange("uV", fail_low=2.0, warn_low=10.0, warn_high=1500.0, fail_high=5000.0)


@METRICS.register("signal_amplitude")
class AmplitudePlausibility(PerChannelCheck):
    """Robust peak-to-peak amplitude of each ECG (mV) and EEG (µV) channel against physiological
    limits, using the channel's unit, because a lead with an implausible swing is dead, badly
    connected, or stored with the wrong gain or unit, and every amplitude finding on it is wrong.

    µV read as mV is a factor of 1000.
    The value is the 0.1–99.9 percentile range in mV for ECG and µV for EEG. ECG outside
    0.15–8 mV warns and outside 0.05–15 mV fails; EEG outside 10–1500 µV warns and outside
    2–5000 µV fails. Channels whose unit is not a voltage are skipped with that reason.
    """

    name = "signal_amplitude"
    title = "Amplitude plausibility"
    channel_kinds = frozenset({"ecg", "eeg"})
    item_threshold = Threshold(warn=0.0, fail=0.0)  # unused: each channel is judged against its kind's range
    item_unit = "mV (ECG) / µV (EEG) peak to peak"
    problem = "an implausible amplitude"

    def __init__(
        self, *, ecg: AmplitudeRange = ECG_RANGE, eeg: AmplitudeRange = EEG_RANGE, threshold: Threshold | None = None
    ) -> None:
        super().__init__(threshold=threshold)
        self.ranges = {"ecg": ecg, "eeg": eeg}

    def check_channel(self, view: ChannelView) -> Finding | str:
        limits = self.ranges[view.kind]
        scale = unit_scale(view.unit, limits.unit)
        if scale is None:
            return f"unit '{view.unit or '(none)'}' is not a voltage, so the amplitude cannot be judged"
        x = view.data[np.isfinite(view.data)]
        if len(x) == 0:
            return "no valid samples (see signal_nan_gaps)"
        low, high = np.percentile(x, [0.1, 99.9])
        swing = float(high - low) * scale
        status = limits.judge(swing)
        shown = "µV" if limits.unit == "uV" else limits.unit
        note = f"{swing:.3g} {shown} peak to peak"
        if status is not Status.PASS:
            side = "low" if swing < limits.warn_low else "high"
            plausible = f"plausible {limits.warn_low:g}–{limits.warn_high:g} {shown}"
            hint = "a dead or disconnected channel?" if side == "low" else "wrong gain or unit, or artefact?"
            note += f": too {side} for {view.kind.upper()} ({plausible}); {hint}"
        return Finding(swing, note, status=status, details={"unit": shown})
