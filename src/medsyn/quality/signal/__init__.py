"""Quality checks for multichannel signals (ECG, EEG); importing this package registers them.

Each check reports per channel (``"record:channel"``) and per record, and gives the dataset the
share of channels it flags. Checks for one kind of signal (ECG quality, EEG bad channels) are
skipped, with the reason, on data without such channels.
"""

from medsyn.quality.signal._amplitude import AmplitudePlausibility, AmplitudeRange
from medsyn.quality.signal._artifacts import Clipping, FlatLine, NanGaps
from medsyn.quality.signal._base import ChannelCheck, PerChannelCheck
from medsyn.quality.signal._ecg import EcgQuality
from medsyn.quality.signal._eeg import EegBadChannels
from medsyn.quality.signal._snr import SignalToNoise, detect_r_peaks
from medsyn.quality.signal._spectral import BaselineWander, PowerLine

__all__ = [
    "AmplitudePlausibility",
    "AmplitudeRange",
    "BaselineWander",
    "ChannelCheck",
    "Clipping",
    "EcgQuality",
    "EegBadChannels",
    "FlatLine",
    "NanGaps",
    "PerChannelCheck",
    "PowerLine",
    "SignalToNoise",
    "detect_r_peaks",
]
