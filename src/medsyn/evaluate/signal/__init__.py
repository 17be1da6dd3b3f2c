"""Fidelity, diversity, privacy and utility of synthetic signals (ECG, EEG, any multichannel series).

Importing this package registers the signal metrics and the signal input checks
(:func:`check_signals` in :data:`~medsyn.evaluate._inputs.VALIDATORS`): same sampling rate and
channels on every side, records compared over their common segment, gaps noted and filled.

- fidelity: ``psd_distance``, ``autocorrelation_difference``, ``cross_channel_correlation``,
  ``band_coherence``, ``ecg_clinical_features``, ``eeg_band_powers``, ``discriminative_score``
- diversity: ``dtw_coverage``
- privacy: ``dtw_nearest_neighbour``
- utility: ``predictive_score``
"""

from medsyn.data.dataset import Modality
from medsyn.evaluate._inputs import VALIDATORS
from medsyn.evaluate.signal._base import SignalMetric, ks_columns
from medsyn.evaluate.signal._coherence import (
    COHERENCE_EEG_BANDS,
    ECG_COHERENCE_BANDS,
    BandCoherence,
    coherence_bands,
    coherence_matrix,
    segment_length,
)
from medsyn.evaluate.signal._dtw import DtwNeighbours, banded_dtw, dtw_nearest, lb_keogh, window_for
from medsyn.evaluate.signal._ecg import ECG_FEATURES, EcgClinicalFeatures, ecg_features, ecg_lead
from medsyn.evaluate.signal._nearest import DtwCoverage, DtwNearestNeighbour, DtwSeries, dtw_series
from medsyn.evaluate.signal._prepare import SignalLayout, check_signals, layout, segments
from medsyn.evaluate.signal._spectral import EEG_BANDS, EegBandPowers, PsdDistance, band_powers, record_spectra
from medsyn.evaluate.signal._structure import (
    AutocorrelationDifference,
    CrossChannelCorrelation,
    autocorrelation,
    channel_correlation,
)
from medsyn.evaluate.signal._timegan import DiscriminativeScore, PredictiveScore, WindowSpec, signal_windows

VALIDATORS[Modality.SIGNAL] = check_signals

__all__ = [
    "COHERENCE_EEG_BANDS",
    "ECG_COHERENCE_BANDS",
    "ECG_FEATURES",
    "EEG_BANDS",
    "AutocorrelationDifference",
    "BandCoherence",
    "CrossChannelCorrelation",
    "DiscriminativeScore",
    "DtwCoverage",
    "DtwNearestNeighbour",
    "DtwNeighbours",
    "DtwSeries",
    "EcgClinicalFeatures",
    "EegBandPowers",
    "PredictiveScore",
    "PsdDistance",
    "SignalLayout",
    "SignalMetric",
    "WindowSpec",
    "autocorrelation",
    "band_powers",
    "banded_dtw",
    "channel_correlation",
    "check_signals",
    "coherence_bands",
    "coherence_matrix",
    "dtw_nearest",
    "dtw_series",
    "ecg_features",
    "ecg_lead",
    "ks_columns",
    "layout",
    "lb_keogh",
    "record_spectra",
    "segment_length",
    "segments",
    "signal_windows",
    "window_for",
]
