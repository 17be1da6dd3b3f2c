"""Signal inputs for the evaluation: what real, synthetic and holdout signals must share, and the
aligned segments every signal metric reads.

:func:`check_signals` is registered in :data:`~medsyn.evaluate._inputs.VALIDATORS` for signals.
Its policy, stated once here and in the notes of every evaluation it applies to:

- **Sampling rate**: every record of every side must have the real records' rate. Nothing is
  resampled behind the user's back (resampling changes spectra and beat morphology, the very
  things measured); a mismatch on any side (real, synthetic, holdout) is an error naming both
  rates, the side and, for data read from files, the dataset, with the fix. There is no
  resampling option on purpose.
- **Channels** are matched by name, in any order: every record must hold exactly the real
  channels. An error lists the missing and the extra channels per side.
- **Units**: a channel in µV on one side and mV on the other is converted to the real unit
  (noted); units that cannot be converted are noted and compared as given.
- **Lengths**: records may differ in length. Every metric reads the *common segment*, the first
  ``n`` samples of each record, where ``n`` is the shortest record of all sides; a metric may
  read less (its ``max_seconds``). A note says so whenever lengths differ, and every signal
  result states it in its details (``common_seconds``, ``lengths_differ``).
- **Missing samples** (NaN/inf) are reported in a note, never dropped: gaps are interpolated
  linearly per channel; a channel with under half of its samples valid becomes a flat line.

:func:`segments` yields the common segments in chunks of records (records × channels × samples,
channels in the real order, real units), so metrics work on arrays without holding every record
of a large dataset in memory at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from medsyn.data.channels import channel_kind, unit_scale
from medsyn.data.dataset import SignalDataset, SignalRecord
from medsyn.errors import Problem
from medsyn.evaluate._inputs import EvalInputs, InputNote, Side
from medsyn.quality.signal._base import fill_gaps

__all__ = ["SignalLayout", "check_signals", "layout", "positions", "record_names", "segments", "stack"]

#: Memory of one chunk that :func:`segments` yields (float64). The metrics make a few arrays of
#: its size per chunk; 8 MB (about twenty 12-lead 8-s ECGs at 500 Hz) keeps that small while the
#: per-chunk overhead stays negligible.
CHUNK_BYTES = 8 * 2**20
_SIDES: tuple[Side, ...] = ("real", "synthetic", "holdout")


@dataclass(frozen=True, slots=True)
class SignalLayout:
    """What the validated signal datasets share: rate, channels (in the real order) and length.

    ``n_samples`` is the shortest record over real, synthetic and holdout: the common segment.
    """

    rate: float
    channels: tuple[str, ...]
    units: tuple[str, ...]
    kinds: tuple[str, ...]
    n_samples: int
    lengths_differ: bool

    @property
    def seconds(self) -> float:
        return self.n_samples / self.rate

    def samples(self, max_seconds: float | None = None) -> int:
        """Samples of the common segment a metric reads, at most ``max_seconds`` long."""
        if max_seconds is None:
            return self.n_samples
        return max(1, min(self.n_samples, round(max_seconds * self.rate)))

    def channels_of(self, kind: str) -> list[int]:
        """Positions of the channels of one kind (``"ecg"``, ``"eeg"``, ``"other"``)."""
        return [i for i, k in enumerate(self.kinds) if k == kind]

    def to_dict(self) -> dict[str, object]:
        return {
            "rate_hz": self.rate,
            "channels": list(self.channels),
            "units": list(self.units),
            "common_samples": self.n_samples,
            "common_seconds": self.seconds,
            "lengths_differ": self.lengths_differ,
        }


def _signal(inputs: EvalInputs, side: Side) -> SignalDataset | None:
    data = inputs.data(side)
    return data if isinstance(data, SignalDataset) else None


def _units(record: SignalRecord) -> tuple[str, ...]:
    return tuple(record.units) + ("",) * (len(record.channels) - len(record.units))


def _source(data: SignalDataset) -> str:
    """`` in 'name'`` for a dataset read from somewhere, nothing for one built in memory."""
    return "" if data.provenance.source == "<memory>" else f" in '{data.name}'"


def _examples(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (", …" if len(names) > limit else "")


def layout(inputs: EvalInputs) -> SignalLayout:
    """The shared layout of a validated signal evaluation (cached)."""

    def build() -> SignalLayout:
        real = _signal(inputs, "real")
        assert real is not None
        assert real.records
        first = real.records[0]
        units = _units(first)
        lengths = [r.n_samples for s in _SIDES if (d := _signal(inputs, s)) is not None for r in d.records]
        return SignalLayout(
            rate=float(first.sampling_rate),
            channels=tuple(first.channels),
            units=units,
            kinds=tuple(channel_kind(c, u) for c, u in zip(first.channels, units, strict=True)),
            n_samples=min(lengths),
            lengths_differ=len(set(lengths)) > 1,
        )

    return inputs.memo(("signal", "layout"), build)


def check_signals(inputs: EvalInputs) -> tuple[list[Problem], list[InputNote]]:
    """Rates, channels, lengths, units and gaps of the signal datasets (see the module docstring)."""
    problems: list[Problem] = []
    notes: list[InputNote] = []
    sides = [(s, d) for s in _SIDES if (d := _signal(inputs, s)) is not None]
    real = _signal(inputs, "real")
    if real is None or not real.records:
        return [Problem("real data", "no signal records", "a signal dataset with records")], notes
    ref = real.records[0]
    rate = float(ref.sampling_rate)
    channels = tuple(ref.channels)
    wanted = set(channels)
    for side, data in sides:
        where = f"{side} records"
        rates = Counter(float(r.sampling_rate) for r in data.records)
        other = {f: n for f, n in rates.items() if f != rate}
        if other:
            names = [r.name for r in data.records if float(r.sampling_rate) != rate]
            shown = " and ".join(f"{f:g} Hz" for f in sorted(other))
            problems.append(
                Problem(
                    f"{where}{_source(data)} ({len(names)} of {len(data)}, e.g. {_examples(names)})",
                    f"sampled at {shown}",
                    f"{rate:g} Hz like the real record {ref.name}{_source(real)}",
                    f"Resample them to {rate:g} Hz (e.g. scipy.signal.resample_poly) before evaluating; "
                    "the evaluation never resamples, because resampling changes the spectra it measures.",
                )
            )
        mismatched: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = {}
        for r in data.records:
            have = set(r.channels)
            if have != wanted or len(r.channels) != len(have):
                missing = tuple(c for c in channels if c not in have)
                extra = tuple(sorted(have - wanted))
                mismatched.setdefault((missing, extra), []).append(r.name)
        for (missing, extra), names in mismatched.items():
            found = []
            if missing:
                found.append(f"missing channel(s) {list(missing)}")
            if extra:
                found.append(f"extra channel(s) {list(extra)}")
            if not found:
                found.append("a channel name repeated")
            problems.append(
                Problem(
                    f"{where} ({len(names)} of {len(data)}, e.g. {_examples(names)})",
                    "; ".join(found),
                    f"the real channels {list(channels)}",
                )
            )
        empty = [r.name for r in data.records if r.n_samples < 2]
        if empty:
            problems.append(
                Problem(f"{where} ({_examples(empty)})", "fewer than 2 samples", "records with samples to compare")
            )
    if problems:
        return problems, notes
    notes += _length_notes(inputs, sides)
    for side, data in sides:
        notes += _unit_notes(side, data, channels, _units(ref))
        notes += _gap_notes(side, data)
    return problems, notes


def _length_notes(inputs: EvalInputs, sides: list[tuple[Side, SignalDataset]]) -> list[InputNote]:
    lengths = {s: [r.n_samples for r in d.records] for s, d in sides}
    shortest = min(min(v) for v in lengths.values())
    if all(min(v) == max(v) == shortest for v in lengths.values()):
        return []
    rate = float(sides[0][1].records[0].sampling_rate)
    spans = "; ".join(f"{s} {min(v) / rate:g}–{max(v) / rate:g} s" for s, v in lengths.items())
    return [
        InputNote(
            "signal lengths",
            f"records differ in length ({spans}); every signal metric reads the first {shortest} samples "
            f"({shortest / rate:g} s, the shortest record) of each record, or less where the metric says so",
            "info",
        )
    ]


def _unit_notes(side: Side, data: SignalDataset, channels: tuple[str, ...], units: tuple[str, ...]) -> list[InputNote]:
    want = dict(zip(channels, units, strict=True))
    converted: set[str] = set()
    unknown: set[str] = set()
    for r in data.records:
        for c, u in zip(r.channels, _units(r), strict=True):
            if u.strip().lower() == want[c].strip().lower():
                continue
            (converted if unit_scale(u, want[c]) is not None else unknown).add(f"{c} ({u or '?'} vs {want[c] or '?'})")
    notes = []
    if converted:
        notes.append(
            InputNote(f"{side} units", f"channels {sorted(converted)[:6]} converted to the real records' units", "info")
        )
    if unknown:
        notes.append(
            InputNote(
                f"{side} units",
                f"channels {sorted(unknown)[:6]} are in units that cannot be converted; compared as given",
            )
        )
    return notes


def _gap_notes(side: Side, data: SignalDataset) -> list[InputNote]:
    bad = [(r.name, int((~np.isfinite(r.data)).sum()), r.data.size) for r in data.records]
    bad = [b for b in bad if b[1]]
    if not bad:
        return []
    samples = sum(b[1] for b in bad)
    total = sum(b[2] for b in bad)
    return [
        InputNote(
            f"{side} signals",
            f"{len(bad)} of {len(data)} record(s) hold {samples} missing sample(s) (NaN/inf; {samples / total:.2%} "
            f"of their samples; e.g. {_examples([b[0] for b in bad])}); gaps are interpolated linearly per "
            "channel, a channel with under half of its samples valid is treated as flat; no record is dropped",
            "warn" if side == "synthetic" else "info",
        )
    ]


def positions(inputs: EvalInputs, side: Side, *, max_records: int | None, name: str) -> np.ndarray:
    """All record positions of ``side``, or a seeded subsample of ``max_records`` (sorted)."""
    n = len(inputs.frame(side))
    if max_records is None or n <= max_records:
        return np.arange(n)
    return np.sort(inputs.rng(f"{name}:{side}").choice(n, max_records, replace=False))


def record_names(inputs: EvalInputs, side: Side, rows: np.ndarray | None = None) -> list[str]:
    """Names of the records of ``side`` at positions ``rows`` (all: ``None``)."""
    data = _signal(inputs, side)
    assert data is not None
    pos = range(len(data)) if rows is None else rows
    return [data.records[int(i)].name for i in pos]


def _aligned(record: SignalRecord, lay: SignalLayout, n: int) -> np.ndarray:
    order = [record.channels.index(c) for c in lay.channels]
    x = np.asarray(record.data[order, :n], dtype=np.float64)
    units = _units(record)
    for row, (channel, want) in enumerate(zip(order, lay.units, strict=True)):
        have = units[channel]
        if have.strip().lower() != want.strip().lower():
            factor = unit_scale(have, want)
            if factor is not None:
                x[row] *= factor
    if not np.isfinite(x).all():
        for bad in np.flatnonzero(~np.isfinite(x).all(axis=1)):
            filled = fill_gaps(np.where(np.isfinite(x[bad]), x[bad], np.nan))
            x[bad] = 0.0 if filled is None else filled
    return x


def segments(
    inputs: EvalInputs,
    side: Side,
    *,
    max_seconds: float | None = None,
    records: np.ndarray | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Chunks of (record positions, records × channels × samples float64) of one side's common segment.

    Channels come in the real order and units, gaps filled (see the module docstring); each
    record is cropped to the common length, at most ``max_seconds``. Each chunk is a new array,
    which the caller may change in place.
    """
    data = _signal(inputs, side)
    assert data is not None
    lay = layout(inputs)
    n = lay.samples(max_seconds)
    pos = np.arange(len(data)) if records is None else np.asarray(records)
    per_chunk = max(1, chunk_bytes // (8 * n * len(lay.channels)))
    for start in range(0, len(pos), per_chunk):
        chunk = pos[start : start + per_chunk]
        yield chunk, np.stack([_aligned(data.records[int(i)], lay, n) for i in chunk])


def stack(
    inputs: EvalInputs, side: Side, *, max_seconds: float | None = None, records: np.ndarray | None = None
) -> np.ndarray:
    """Every (selected) record's common segment in one records × channels × samples array."""
    parts = [x for _, x in segments(inputs, side, max_seconds=max_seconds, records=records)]
    return np.concatenate(parts) if parts else np.empty((0, len(layout(inputs).channels), 0))
