"""Helpers for the signal-quality tests: crop a real record, inject an artefact into one channel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from medsyn.data.dataset import SignalDataset, SignalRecord

Change = Callable[[np.ndarray, float], np.ndarray]


def crop(record: SignalRecord, seconds: float) -> SignalRecord:
    n = int(seconds * record.sampling_rate)
    return replace(record, data=record.data[:, :n].copy())


def inject(dataset: SignalDataset, record: str, channel: str, change: Change) -> SignalDataset:
    """A copy of ``dataset`` where ``change(signal, rate)`` replaced one channel of one record."""
    records = []
    for r in dataset.records:
        if r.name == record:
            data = r.data.copy()
            i = r.channels.index(channel)
            data[i] = change(data[i].astype(np.float64), r.sampling_rate).astype(np.float32)
            r = replace(r, data=data)
        records.append(r)
    return SignalDataset(records, dataset.attributes, provenance=dataset.provenance, kind=dataset.kind)
