"""Time-domain recording artefacts: flat lines, clipping at the channel's extremes, missing-sample gaps."""

from __future__ import annotations

import numpy as np

from medsyn.metric import METRICS, Threshold
from medsyn.quality.signal._base import ChannelView, Finding, PerChannelCheck, runs

__all__ = ["Clipping", "FlatLine", "NanGaps"]


@METRICS.register("signal_flat_line")
class FlatLine(PerChannelCheck):
    """Share of each channel's time spent in flat segments (one value held for at least 1 s),
    because a living ECG or EEG never holds still that long: a flat stretch is a disconnected
    lead, a dead electrode or a gap filled with a constant.

    Models trained on such data learn the artefact. ``min_seconds`` sets the length. Any such
    segment flags the channel (warn); more than 10 % of its time fails.
    """

    name = "signal_flat_line"
    title = "Flat-line segments"
    item_threshold = Threshold(warn=0.0, fail=0.10)
    item_unit = "share of time"
    problem = "a flat segment"

    def __init__(self, *, min_seconds: float = 1.0, tolerance: float = 0.0, threshold: Threshold | None = None) -> None:
        super().__init__(threshold=threshold)
        self.min_seconds = min_seconds
        self.tolerance = tolerance

    def check_channel(self, view: ChannelView) -> Finding | str:
        x = view.data
        if not np.isfinite(x).any():
            return "no valid samples (see signal_nan_gaps)"
        min_len = max(2, round(self.min_seconds * view.rate))
        # a flat run of k equal steps covers k + 1 samples
        same = np.abs(np.diff(x)) <= self.tolerance
        starts, lengths = runs(same)
        long = lengths + 1 >= min_len
        flat_samples = int((lengths[long] + 1).sum())
        share = flat_samples / len(x)
        details: dict[str, float | int | str | bool | None] = {"segments": int(long.sum())}
        if long.any():
            longest = int(lengths[long].max()) + 1
            first = int(starts[long][0])
            details |= {"longest_seconds": longest / view.rate, "first_onset_seconds": first / view.rate}
            count, secs = int(long.sum()), longest / view.rate
            note = (
                f"{count} flat segment(s) of ≥ {self.min_seconds:g} s, longest {secs:.1f} s, "
                f"first at {first / view.rate:.1f} s ({share:.1%} of the time)"
            )
        else:
            note = "no flat segment"
        return Finding(share, note, details=details)


@METRICS.register("signal_clipping")
class Clipping(PerChannelCheck):
    """Share of samples stuck at the channel's maximum or minimum for 10 ms or more, because a
    saturated amplifier or converter cuts the peaks off, distorting the amplitudes and shapes
    that diagnoses (and synthetic data) depend on.

    A real R wave or EEG wave never sits on its extreme value for several samples in a row.
    More than 0.1 % of samples on such plateaus warns, more than 1 % fails.
    """

    name = "signal_clipping"
    title = "Clipping / saturation"
    item_threshold = Threshold(warn=0.001, fail=0.01)
    item_unit = "share of samples"
    problem = "samples clipped at their extreme value"

    def __init__(self, *, min_seconds: float = 0.01, min_samples: int = 3, threshold: Threshold | None = None) -> None:
        super().__init__(threshold=threshold)
        self.min_seconds = min_seconds
        self.min_samples = min_samples

    def check_channel(self, view: ChannelView) -> Finding | str:
        x = view.data
        finite = np.isfinite(x)
        if not finite.any():
            return "no valid samples (see signal_nan_gaps)"
        hi, lo = float(np.max(x[finite])), float(np.min(x[finite]))
        if hi == lo:
            return "the channel is constant (see signal_flat_line)"
        min_len = max(self.min_samples, round(self.min_seconds * view.rate))
        clipped = 0
        plateaus = 0
        for level in (hi, lo):
            _, lengths = runs(x == level)
            long = lengths[lengths >= min_len]
            clipped += int(long.sum())
            plateaus += len(long)
        share = clipped / len(x)
        note = (
            f"{plateaus} plateau(s) at the extreme values ({lo:.4g} / {hi:.4g} {view.unit}), {share:.2%} of samples"
            if plateaus
            else "no plateau at the extreme values"
        )
        return Finding(share, note, details={"plateaus": plateaus, "max": hi, "min": lo})


@METRICS.register("signal_nan_gaps")
class NanGaps(PerChannelCheck):
    """Share of missing (NaN) samples per channel, with the number and length of the gaps,
    because a model or generator that silently interpolates across gaps learns invented data.

    WFDB marks the samples a recorder could not capture as invalid; they are read as NaN. Any gap warns;
    more than 5 % of a channel missing fails.
    """

    name = "signal_nan_gaps"
    title = "Missing samples (gaps)"
    item_threshold = Threshold(warn=0.0, fail=0.05)
    item_unit = "share of samples"
    problem = "missing samples"

    def check_channel(self, view: ChannelView) -> Finding:
        missing = ~np.isfinite(view.data)
        share = float(missing.mean()) if len(missing) else 0.0
        if not missing.any():
            return Finding(0.0, "no missing samples", details={"gaps": 0})
        _, lengths = runs(missing)
        longest = int(lengths.max()) / view.rate
        if missing.all():
            return Finding(1.0, "the channel holds no valid samples", details={"gaps": 1, "longest_seconds": longest})
        note = f"{len(lengths)} gap(s), {int(missing.sum())} samples ({share:.2%}), longest {longest:.3g} s"
        return Finding(share, note, details={"gaps": len(lengths), "longest_seconds": longest})
