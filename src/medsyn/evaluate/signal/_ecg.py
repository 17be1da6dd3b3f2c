"""ECG clinical features compared as distributions: heart rate, HRV, QRS, PR, QT and QTc.

A cardiologist reads an ECG through a handful of intervals and rates; a synthetic ECG that looks
like an ECG but has a QT interval no heart produces fails them. Per record, one lead (lead II,
else the first ECG lead) is cleaned and turned QRS-up as the audit's ECG check does
(:mod:`medsyn.quality.signal._ecg`), R peaks are found and the waves delineated with neurokit2
(``ecg_peaks``, ``ecg_delineate(method="dwt")``). Features are computed once per evaluation and
side (cached), on at most ``max_records`` records per side (a seeded subsample beyond).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from medsyn._deps import require
from medsyn.evaluate._base import clip01
from medsyn.evaluate._inputs import EvalInputs, Side
from medsyn.evaluate.signal._base import SignalMetric, ks_columns, ks_null, paired_bootstrap
from medsyn.evaluate.signal._prepare import SignalLayout, positions, segments
from medsyn.metric import METRICS, Detail, ItemResult, MetricKind, MetricResult, Status, Threshold
from medsyn.quality.signal._ecg import _upright

__all__ = ["ECG_FEATURES", "EcgClinicalFeatures", "ecg_features", "ecg_lead"]

#: Feature name → unit, in the order of the feature columns.
ECG_FEATURES: dict[str, str] = {
    "heart_rate": "bpm",
    "sdnn": "ms",
    "rmssd": "ms",
    "lf_hf": "ratio",
    "qrs_duration": "ms",
    "pr_interval": "ms",
    "qt_interval": "ms",
    "qtc_bazett": "ms",
}
#: Plausible ranges (ms) outside which an interval is a detection or delineation error, not physiology.
_RR_MS = (300.0, 2000.0)
_QRS_MS = (40.0, 200.0)
_PR_MS = (60.0, 400.0)
_QT_MS = (200.0, 700.0)
_LEAD_II = frozenset({"II", "MLII", "LEADII", "DII", "ECGII"})


def ecg_lead(lay: SignalLayout) -> int | None:
    """Position of lead II, else of the first ECG channel; ``None`` without ECG channels."""
    ecg = lay.channels_of("ecg")
    for i in ecg:
        if "".join(lay.channels[i].upper().split()).replace("_", "") in _LEAD_II:
            return i
    return ecg[0] if ecg else None


def _in_range(values: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    return values[(values >= bounds[0]) & (values <= bounds[1])]


def _lf_hf(peaks: np.ndarray, rr_ms: np.ndarray, rate: float) -> float:
    """LF (0.04–0.15 Hz) over HF (0.15–0.4 Hz) power of the RR series, by a Lomb–Scargle periodogram.

    Lomb–Scargle works on the unevenly spaced beats directly (no resampling of the tachogram).
    """
    from scipy.signal import lombscargle

    t = peaks[1:] / rate
    ok = (rr_ms >= _RR_MS[0]) & (rr_ms <= _RR_MS[1])
    if ok.sum() < 10:
        return math.nan
    freqs = np.arange(0.04, 0.4, 0.005)
    power = lombscargle(t[ok], rr_ms[ok] - rr_ms[ok].mean(), 2 * np.pi * freqs)
    lf = float(power[freqs < 0.15].sum())
    hf = float(power[freqs >= 0.15].sum())
    return lf / hf if hf > 0 else math.nan


def _interval(waves: dict[str, Any], start: str, stop: str, rate: float, bounds: tuple[float, float]) -> float:
    a = np.asarray(waves.get(start, []), dtype=float)
    b = np.asarray(waves.get(stop, []), dtype=float)
    if len(a) == 0 or len(a) != len(b):
        return math.nan
    values = _in_range((b - a) / rate * 1000.0, bounds)
    return float(np.median(values)) if len(values) else math.nan


def ecg_features(
    x: np.ndarray, rate: float, *, delineate_seconds: float = 30.0, min_hrv_seconds: float = 120.0
) -> np.ndarray:
    """The :data:`ECG_FEATURES` of one lead (NaN where a feature cannot be measured).

    Heart rate from the mean RR interval; SDNN and RMSSD of the RR intervals (those within
    300–2000 ms); LF/HF only on records of ``min_hrv_seconds`` or more; QRS duration (QRS onset
    to offset), PR interval (P onset to QRS onset) and QT interval (QRS onset to T offset) as the
    median over beats of the first ``delineate_seconds``, each within a plausible range (QRS
    40–200, PR 60–400, QT 200–700 ms); QTc by Bazett (QT / √RR in seconds).
    """
    nk = require("neurokit2", "signal", "the ECG clinical features")
    out = np.full(len(ECG_FEATURES), np.nan)
    if float(np.ptp(x)) == 0:
        return out
    sr = round(rate)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cleaned = _upright(np.asarray(nk.ecg_clean(x, sampling_rate=sr), dtype=np.float64), rate)
            _, info = nk.ecg_peaks(cleaned, sampling_rate=sr)
    except Exception:  # neurokit2 raises bare errors on degenerate signals: the features are missing
        return out
    peaks = np.asarray(info["ECG_R_Peaks"], dtype=int)
    if len(peaks) < 3:
        return out
    rr = np.diff(peaks) / rate * 1000.0
    ok = _in_range(rr, _RR_MS)
    if len(ok) >= 2:
        out[0] = 60000.0 / ok.mean()
    if len(ok) >= 3:
        out[1] = float(np.std(ok, ddof=1))
        successive = np.diff(rr)[
            (rr[:-1] >= _RR_MS[0]) & (rr[:-1] <= _RR_MS[1]) & (rr[1:] >= _RR_MS[0]) & (rr[1:] <= _RR_MS[1])
        ]
        if len(successive) >= 2:
            out[2] = float(np.sqrt(np.mean(successive**2)))
    if len(x) / rate >= min_hrv_seconds:
        out[3] = _lf_hf(peaks, rr, rate)
    stop = min(len(x), round(delineate_seconds * rate))
    beats = peaks[(peaks > 0) & (peaks < stop)]
    if len(beats) >= 3:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _, waves = nk.ecg_delineate(cleaned[:stop], beats, sampling_rate=sr, method="dwt")
        except Exception:  # delineation fails on signals without P/T waves: those features are missing
            waves = {}
        out[4] = _interval(waves, "ECG_R_Onsets", "ECG_R_Offsets", rate, _QRS_MS)
        out[5] = _interval(waves, "ECG_P_Onsets", "ECG_R_Onsets", rate, _PR_MS)
        out[6] = _interval(waves, "ECG_R_Onsets", "ECG_T_Offsets", rate, _QT_MS)
        if np.isfinite(out[6]) and np.isfinite(out[0]):
            out[7] = out[6] / math.sqrt(60.0 / out[0])
    return out


@METRICS.register("ecg_clinical_features")
class EcgClinicalFeatures(SignalMetric):
    """Whether synthetic ECGs have the real ECGs' heart rate, heart-rate variability and
    conduction intervals (QRS, PR, QT/QTc), compared as distributions over records, because these
    are what a clinician measures first and a generator can get the look of an ECG right while
    getting them wrong.

    Per record, on lead II (else the first ECG lead): heart rate; SDNN and RMSSD; LF/HF power
    (Lomb–Scargle, only on records of 2 min or more); QRS duration, PR and QT intervals and
    Bazett's QTc from neurokit2's wavelet delineation (median over the beats of the first 30 s;
    implausible intervals are delineation errors and left out; see ``ecg_features``). Per feature
    the value is the two-sample Kolmogorov–Smirnov statistic between the real and synthetic
    records, or the difference in the share of records where the feature could be measured when
    that is larger (a synthetic set whose beats cannot be found does not escape). The value is
    the mean over features (0 = same, 1 = disjoint). Above 0.45 warns, above 0.65 fails; score:
    1 − value. KS has a noise floor that falls with the number of records (two sets of 10 real
    ECGs differ by 0.25–0.45, of 200 by about 0.1): ``details.ks_noise_floor`` gives it. Skipped without ECG
    channels or with records under ``min_seconds`` (5 s). neurokit2 costs about 0.2–0.3 s a
    record: at most ``max_records`` (200) records per side are read.
    """

    name = "ecg_clinical_features"
    title = "ECG clinical features"
    kind = MetricKind.FIDELITY
    unit = "KS statistic"
    default_threshold = Threshold(warn=0.45, fail=0.65)

    def __init__(
        self,
        *,
        max_records: int = 200,
        max_seconds: float | None = 300.0,
        min_seconds: float = 5.0,
        delineate_seconds: float = 30.0,
        min_hrv_seconds: float = 120.0,
        threshold: Threshold | None = None,
    ) -> None:
        super().__init__(threshold=threshold)
        self.max_records = max_records
        self.max_seconds = max_seconds
        self.min_seconds = min_seconds
        self.delineate_seconds = delineate_seconds
        self.min_hrv_seconds = min_hrv_seconds

    def why_not(self, inputs: EvalInputs) -> str | None:
        why = super().why_not(inputs)
        if why is not None:
            return why
        lay = self.layout(inputs)
        if ecg_lead(lay) is None:
            return "no ECG channels (no channel is named like an ECG lead)"
        if lay.seconds < self.min_seconds:
            return f"records too short ({lay.seconds:.2g} s) to measure beats; needs {self.min_seconds:g} s"
        return None

    def features(self, inputs: EvalInputs, side: Side) -> tuple[np.ndarray, np.ndarray]:
        """Record positions and their features (records × :data:`ECG_FEATURES`), cached per side."""

        def compute() -> tuple[np.ndarray, np.ndarray]:
            lay = self.layout(inputs)
            lead = ecg_lead(lay)
            assert lead is not None
            rows = positions(inputs, side, max_records=self.max_records, name="ecg-features")
            parts = [
                np.stack(
                    [
                        ecg_features(
                            rec[lead],
                            lay.rate,
                            delineate_seconds=self.delineate_seconds,
                            min_hrv_seconds=self.min_hrv_seconds,
                        )
                        for rec in x
                    ]
                )
                for _, x in segments(inputs, side, max_seconds=self.max_seconds, records=rows)
            ]
            return rows, np.concatenate(parts)

        key = (
            "signal",
            "ecg-features",
            side,
            self.max_records,
            self.max_seconds,
            self.delineate_seconds,
            self.min_hrv_seconds,
        )
        return inputs.memo(key, compute)

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        lay = self.layout(inputs)
        real_rows, real = self.features(inputs, "real")
        syn_rows, syn = self.features(inputs, "synthetic")
        names = list(ECG_FEATURES)
        measured = np.isfinite(real).sum(axis=0) >= 2

        def gaps(r: np.ndarray, s: np.ndarray) -> np.ndarray:
            ks = ks_columns(real[r], syn[s])
            share = np.abs(np.isfinite(real[r]).mean(axis=0) - np.isfinite(syn[s]).mean(axis=0))
            return np.asarray(np.fmax(np.where(np.isfinite(syn[s]).any(axis=0), ks, 1.0), share))

        if not measured.any():
            return self.skipped("no feature could be measured on two or more real records")
        value_per = gaps(np.arange(len(real)), np.arange(len(syn)))
        value = float(value_per[measured].mean())
        ci, reps = paired_bootstrap(
            inputs,
            lambda r, s: float(gaps(r, s)[measured].mean()),
            value,
            real_rows=real_rows,
            synthetic_rows=syn_rows,
        )
        items = [
            self._item(inputs, f, names[f], real[:, f], syn[:, f], float(value_per[f]), measured[f])
            for f in range(len(names))
        ]
        lead = ecg_lead(lay)
        assert lead is not None
        worst = max((i for i in items if i.status is not Status.SKIPPED), key=lambda i: i.value)
        details: dict[str, Detail] = {
            "lead": lay.channels[lead],
            "real_records": len(real),
            "synthetic_records": len(syn),
            "features_compared": int(measured.sum()),
            "ks_noise_floor": ks_null(len(real), len(syn)),
        }
        reason = (
            f"mean KS {value:.2f} over {int(measured.sum())} features on lead {lay.channels[lead]} "
            f"(worst: {worst.key}, {worst.value:.2f})"
        )
        return self.result(value, reason, items=items, ci=ci, replicates=reps, details=details)

    def _item(
        self, inputs: EvalInputs, f: int, name: str, real: np.ndarray, syn: np.ndarray, value: float, measured: bool
    ) -> ItemResult:
        unit = ECG_FEATURES[name]
        r, s = real[np.isfinite(real)], syn[np.isfinite(syn)]
        if not measured:
            why = (
                f"records shorter than {self.min_hrv_seconds:g} s"
                if name == "lf_hf" and self.layout(inputs).seconds < self.min_hrv_seconds
                else "measurable on fewer than 2 real records"
            )
            return ItemResult("feature", name, math.nan, Status.SKIPPED, f"not compared: {why}")
        details: dict[str, Detail] = {
            "unit": unit,
            "real_median": float(np.median(r)),
            "synthetic_median": float(np.median(s)) if len(s) else None,
            "real_measurable_share": len(r) / len(real),
            "synthetic_measurable_share": len(s) / len(syn) if len(syn) else 0.0,
        }
        if len(s):
            from scipy.stats import wasserstein_distance

            details["wasserstein"] = float(wasserstein_distance(r, s))
            note = (
                f"median {np.median(r):.4g} {unit} real vs {np.median(s):.4g} {unit} synthetic "
                f"(Wasserstein {details['wasserstein']:.3g} {unit}); "
                f"measurable on {len(r) / len(real):.0%} / {len(s) / len(syn):.0%} of records"
            )
        else:
            note = "not measurable on any synthetic record"
        return ItemResult("feature", name, clip01(value), self.judge(value), note, details)
