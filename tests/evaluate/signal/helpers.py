"""Synthetic stand-ins made from real recordings: disjoint real records, copies, and corrupted variants.

Every variant keeps the record's rate, channels and units and gets a renamed record, so the
evaluation sees a plausible "synthetic" dataset whose distance from the real one is known in
direction: noise and shuffling move it away, a copy of the training records is a privacy failure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from medsyn.data.dataset import SignalDataset, SignalRecord

Transform = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def variant(data: SignalDataset, transform: Transform, prefix: str, *, seed: int = 0) -> SignalDataset:
    """``data`` with ``transform(record.data, rng)`` applied to every record, records renamed ``prefix + name``."""
    rng = np.random.default_rng(seed)
    records = [
        SignalRecord(
            prefix + r.name,
            np.asarray(transform(r.data.astype(np.float64), rng), dtype=np.float32),
            r.sampling_rate,
            r.channels,
            r.units,
        )
        for r in data.records
    ]
    attributes = data.attributes.copy()
    attributes["record"] = [r.name for r in records]
    return SignalDataset(records, attributes, data.schema, kind=data.kind)


def copy(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return x


def noise(level: float) -> Transform:
    """Gaussian noise with ``level`` × each channel's standard deviation."""

    def add(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return x + level * x.std(axis=1, keepdims=True) * rng.normal(size=x.shape)

    return add


def scale(factor: float) -> Transform:
    def times(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return factor * x

    return times


def shuffle(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Time points permuted (the same permutation in every channel): no temporal structure left."""
    return x[:, rng.permutation(x.shape[1])]


def phase_randomise(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each channel's Fourier phases replaced by random ones: same power spectrum, no beats, no channel coupling."""
    spectrum = np.fft.rfft(x, axis=1)
    phases = np.exp(2j * np.pi * rng.random(spectrum.shape))
    phases[:, 0] = 1.0
    return np.fft.irfft(spectrum * phases, x.shape[1], axis=1)


def crop(data: SignalDataset, seconds: float, channels: Sequence[str] | None = None) -> SignalDataset:
    """The first ``seconds`` of each record, optionally only ``channels``."""

    def cut(r: SignalRecord) -> SignalRecord:
        idx = list(range(len(r.channels))) if channels is None else [r.channels.index(c) for c in channels]
        n = round(seconds * r.sampling_rate)
        return SignalRecord(
            r.name, r.data[idx, :n], r.sampling_rate, tuple(r.channels[i] for i in idx), tuple(r.units[i] for i in idx)
        )

    return SignalDataset([cut(r) for r in data.records], data.attributes, data.schema, kind=data.kind)


def windows(records: Sequence[SignalRecord], seconds: float, channels: Sequence[str]) -> SignalDataset:
    """Consecutive non-overlapping ``seconds`` windows of each recording as records (named ``name_k``)."""
    out = []
    for r in records:
        idx = [r.channels.index(c) for c in channels]
        n = round(seconds * r.sampling_rate)
        for k in range(r.n_samples // n):
            out.append(
                SignalRecord(
                    f"{r.name}_{k:02d}",
                    r.data[idx, k * n : (k + 1) * n],
                    r.sampling_rate,
                    tuple(channels),
                    tuple(r.units[i] for i in idx),
                )
            )
    return SignalDataset(out, pd.DataFrame({"record": [r.name for r in out]}), kind="eeg")
