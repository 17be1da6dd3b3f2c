"""ECG signal-quality index and R-peak detectability with a plausible heart rate, via neurokit2."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from medsyn._deps import require
from medsyn.metric import METRICS, Detail, Direction, Status, Threshold
from medsyn.quality.signal._base import ChannelView, Finding, PerChannelCheck, fill_gaps
from medsyn.quality.signal._snr import detect_r_peaks

__all__ = ["EcgQuality"]


def _nearest(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Signed distance from each element of ``a`` to the nearest element of sorted ``b``."""
    idx = np.clip(np.searchsorted(b, a), 1, len(b) - 1) if len(b) > 1 else np.zeros(len(a), dtype=int)
    left, right = b[idx - 1] if len(b) > 1 else b[idx], b[idx]
    return np.asarray(np.where(np.abs(a - left) <= np.abs(a - right), a - left, a - right))


def _matched_share(a: np.ndarray, b: np.ndarray, tolerance: int, max_shift: int) -> float:
    """bSQI: beats found by both detectors (within ``tolerance`` samples) over beats found by either.

    A constant offset up to ``max_shift`` (one detector marking the S wave of a negative QRS, the
    other the R wave) is removed first: both still see the same beats.
    """
    if len(a) == 0 or len(b) == 0:
        return 0.0
    offset = float(np.median(_nearest(a, b)))
    shifted = a - (round(offset) if abs(offset) <= max_shift else 0)
    matched = int(np.sum(np.abs(_nearest(shifted, b)) <= tolerance))
    return matched / (len(a) + len(b) - matched)


def _template_match(cleaned: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """Correlation of each beat with the average beat (Orphanidou et al. 2015).

    The same index as ``nk.ecg_quality(method="templatematch")``: beats one median RR interval
    long, centred on their R peak. Computed on a beats × samples array because neurokit2's
    version pivots a pandas table per lead (35–75 ms a lead, against under 1 ms here).
    """
    half = int(np.median(np.diff(peaks)) // 2)
    inside = peaks[(peaks - half >= 0) & (peaks + half < len(cleaned))]
    if len(inside) < 2 or half < 2:
        return np.empty(0)
    beats = np.stack([cleaned[p - half : p + half] for p in inside])
    template = beats.mean(axis=0)
    b = beats - beats.mean(axis=1, keepdims=True)
    t = template - template.mean()
    denom = np.sqrt((b**2).sum(axis=1) * (t**2).sum())
    return np.asarray(np.where(denom > 0, (b @ t) / np.where(denom > 0, denom, 1.0), 0.0))


def _upright(cleaned: np.ndarray, rate: float) -> np.ndarray:
    """The lead turned so that its QRS complexes point up.

    neurokit2's detector looks for positive R waves; on a lead whose QRS points down (aVR, often
    III or V1) it marks other waves. ``nk.ecg_invert`` does the same but costs 10–100 ms a lead.
    """
    peaks = detect_r_peaks(cleaned, rate)
    if len(peaks) < 3:
        return cleaned
    half = max(1, int(0.06 * rate))
    windows = np.stack(
        [cleaned[max(0, p - half) : p + half + 1].take(np.arange(2 * half + 1), mode="clip") for p in peaks]
    )
    level = float(np.median(cleaned))
    down = float(np.median(level - windows.min(axis=1)))
    up = float(np.median(windows.max(axis=1) - level))
    return -cleaned if down > up else cleaned


@METRICS.register("signal_ecg_quality")
class EcgQuality(PerChannelCheck):
    """ECG signal-quality index (template matching, 0–1) per lead, with R-peak detectability and
    a plausible heart rate, because a lead whose beats cannot be found reliably is useless for
    rhythm labels, heart-rate statistics and beat-level synthesis.

    Per ECG lead the first ``max_seconds`` (60 s) are cleaned, turned QRS-up (aVR), and R peaks
    detected with ``nk.ecg_peaks``; the value is the template-matching index that
    ``nk.ecg_quality(method="templatematch")`` gives (computed here on an array, see
    ``_template_match``): the mean correlation of each beat with the average beat
    (Orphanidou et al. 2015). Detectability is the agreement (bSQI, Li & Clifford
    2008) between neurokit2's peaks and an independent Pan–Tompkins-style detector. Fewer than
    three beats, a heart rate outside ``hr_range`` (30–220 bpm) or an index below 0.66
    (Orphanidou's limit) fails; an index below 0.8 or an agreement below 0.8 warns.
    """

    name = "signal_ecg_quality"
    title = "ECG quality and R-peak detectability"
    channel_kinds = frozenset({"ecg"})
    item_threshold = Threshold(warn=0.8, fail=0.66)
    item_direction = Direction.MAXIMIZE
    item_unit = "quality index (0–1)"
    problem = "poor ECG quality or undetectable R peaks"

    def __init__(
        self,
        *,
        max_seconds: float | None = 60.0,
        hr_range: tuple[float, float] = (30.0, 220.0),
        min_agreement: float = 0.8,
        threshold: Threshold | None = None,
    ) -> None:
        super().__init__(threshold=threshold)
        self.max_seconds = max_seconds
        self.hr_range = hr_range
        self.min_agreement = min_agreement

    def check_channel(self, view: ChannelView) -> Finding | str:
        x = fill_gaps(view.data)
        if x is None:
            return "under half of the samples are valid"
        seconds = len(x) / view.rate
        if seconds < 4:
            return f"record too short ({seconds:.1f} s) to find beats; needs 4 s"
        if float(np.ptp(x)) == 0:
            return Finding(0.0, "the lead is constant: no R peaks", status=Status.FAIL, details={"beats": 0})
        nk = require("neurokit2", "signal", "the ECG quality check")
        try:
            peaks, quality = self._neurokit(nk, x, view.rate)
        except Exception as exc:  # neurokit2 raises bare errors on degenerate signals: a finding, not a crash
            return Finding(
                0.0, f"R peaks could not be detected ({type(exc).__name__})", status=Status.FAIL, details={"beats": 0}
            )
        beats = len(peaks)
        if beats < 3:
            return Finding(
                0.0, f"only {beats} R peak(s) found in {seconds:.0f} s", status=Status.FAIL, details={"beats": beats}
            )
        rr = np.diff(peaks) / view.rate
        heart_rate = 60.0 / float(np.median(rr))
        other = detect_r_peaks(x, view.rate)
        agreement = _matched_share(np.asarray(peaks, dtype=int), other, int(0.15 * view.rate), int(0.25 * view.rate))
        sqi = float(np.nanmean(quality)) if len(quality) else math.nan
        details: dict[str, Detail] = {
            "beats": beats,
            "heart_rate_bpm": heart_rate,
            "detector_agreement": agreement,
            "analysed_seconds": seconds,
        }
        problems: list[str] = []
        status = self.item_threshold.judge(sqi, Direction.MAXIMIZE)
        if not self.hr_range[0] <= heart_rate <= self.hr_range[1]:
            problems.append(
                f"heart rate {heart_rate:.0f} bpm is implausible ({self.hr_range[0]:g}–{self.hr_range[1]:g})"
            )
            status = Status.FAIL
        if agreement < self.min_agreement:
            problems.append(f"two R-peak detectors agree on only {agreement:.0%} of beats")
            status = max(status, Status.WARN, key=lambda s: s.severity)
        if sqi < self.item_threshold.warn:
            problems.append(f"beats match the average beat poorly ({sqi:.2f})")
        note = f"quality {sqi:.2f}, {beats} beats, {heart_rate:.0f} bpm, detector agreement {agreement:.0%}"
        if problems:
            note += ": " + "; ".join(problems)
        return Finding(sqi, note, status=status, details=details)

    @staticmethod
    def _neurokit(nk: Any, x: np.ndarray, rate: float) -> tuple[np.ndarray, np.ndarray]:
        sr = round(rate)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cleaned = _upright(np.asarray(nk.ecg_clean(x, sampling_rate=sr), dtype=np.float64), rate)
            _, info = nk.ecg_peaks(cleaned, sampling_rate=sr)
            peaks = np.asarray(info["ECG_R_Peaks"], dtype=int)
            if len(peaks) < 3:
                return peaks, np.empty(0)
        return peaks, _template_match(cleaned, peaks)
