"""What every signal quality check shares: walking records and channels, and turning per-channel
findings into per-channel, per-record and dataset results.

A check looks at one channel at a time (:meth:`ChannelCheck.check_channel`) and returns a
:class:`Finding`. The base class keys items as ``"record:channel"`` (scope ``channel``) and
``"record"`` (scope ``record``, the worst of its channels), skips what cannot be measured with a
reason (an empty record, a channel with no valid samples, a channel of the wrong kind), and
gives the dataset one value: the share of analysed channels flagged (warn or worse). Any flagged
channel makes the dataset at least ``warn``, so a single broken lead is never averaged away.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from medsyn.data.channels import channel_kind
from medsyn.data.dataset import Dataset, Modality, SignalDataset, SignalRecord
from medsyn.metric import Detail, Direction, ItemResult, Metric, MetricKind, MetricResult, Status, Threshold

__all__ = [
    "ChannelCheck",
    "ChannelView",
    "Finding",
    "PerChannelCheck",
    "fill_gaps",
    "filled_channels",
    "iter_channels",
    "runs",
    "welch",
]

#: Below this share of valid samples a channel is not analysed by checks that need a continuous signal.
MIN_VALID_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class ChannelView:
    """One channel of one record, as a check sees it (possibly cropped to the first seconds)."""

    record: str
    channel: str
    kind: str
    unit: str
    rate: float
    data: np.ndarray
    cropped: bool = False

    @property
    def key(self) -> str:
        return f"{self.record}:{self.channel}"


@dataclass(frozen=True, slots=True)
class Finding:
    """A check's verdict on one channel; ``status=None`` lets the check's item threshold judge."""

    value: float
    note: str = ""
    status: Status | None = None
    details: dict[str, Detail] = field(default_factory=dict)


def iter_channels(record: SignalRecord, *, max_seconds: float | None = None) -> Iterator[ChannelView]:
    """Every channel of ``record`` as float64, cropped to the first ``max_seconds`` when given."""
    n = record.n_samples
    stop = n if max_seconds is None else min(n, round(max_seconds * record.sampling_rate))
    units = tuple(record.units) + ("",) * (len(record.channels) - len(record.units))
    for i, name in enumerate(record.channels):
        yield ChannelView(
            record=record.name,
            channel=name,
            kind=channel_kind(name, units[i]),
            unit=units[i],
            rate=float(record.sampling_rate),
            data=np.asarray(record.data[i, :stop], dtype=np.float64),
            cropped=stop < n,
        )


def fill_gaps(x: np.ndarray) -> np.ndarray | None:
    """``x`` with missing samples linearly interpolated; ``None`` when under half of it is valid."""
    ok = np.isfinite(x)
    if ok.all():
        return x
    if ok.mean() < MIN_VALID_SHARE:
        return None
    idx = np.arange(len(x))
    return np.asarray(np.interp(idx, idx[ok], x[ok]), dtype=np.float64)


def welch(x: np.ndarray, rate: float, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectral density with ``seconds``-long Hann windows (shorter records: one window).

    ``x`` may be one channel or channels × samples (one call for a whole record is much faster).
    """
    from scipy.signal import welch as _welch

    nperseg = max(8, min(x.shape[-1], round(seconds * rate)))
    freqs, psd = _welch(x, fs=rate, nperseg=nperseg, detrend="constant", axis=-1)
    return np.asarray(freqs), np.asarray(psd)


def filled_channels(views: list[ChannelView]) -> tuple[list[ChannelView], np.ndarray, dict[str, str]]:
    """The channels with enough valid samples, gaps interpolated, stacked; and why the others are left out."""
    usable: list[ChannelView] = []
    rows: list[np.ndarray] = []
    skipped: dict[str, str] = {}
    for v in views:
        x = fill_gaps(v.data)
        if x is None:
            skipped[v.channel] = "under half of the samples are valid"
        else:
            usable.append(v)
            rows.append(x)
    data = np.stack(rows) if rows else np.empty((0, 0))
    return usable, data, skipped


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start indices and lengths of the runs of ``True`` in a boolean array."""
    if not mask.any():
        return np.empty(0, dtype=int), np.empty(0, dtype=int)
    padded = np.concatenate(([False], mask, [False]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    starts, stops = edges[::2], edges[1::2]
    return starts, stops - starts


class ChannelCheck(Metric):
    """Base of the per-channel signal checks (kind ``quality``, modality ``signal``).

    Subclasses set ``channel_kinds`` (``None``: every channel), ``item_threshold`` and
    ``item_direction`` for one channel's value, and implement :meth:`check_record`, which
    returns per channel a :class:`Finding`, or a string saying why the channel is skipped.
    """

    modality = Modality.SIGNAL
    kind = MetricKind.QUALITY
    direction = Direction.MINIMIZE
    ideal = 0.0
    unit = "share of channels"
    #: Any flagged channel warns; more than 10 % of channels flagged fails.
    default_threshold = Threshold(warn=0.0, fail=0.10)
    channel_kinds: ClassVar[frozenset[str] | None] = None
    item_threshold: ClassVar[Threshold]
    item_direction: ClassVar[Direction] = Direction.MINIMIZE
    item_unit: ClassVar[str] = ""
    #: What a flagged channel has, in plain words, for the dataset reason ("a flat segment of 1 s or more").
    problem: ClassVar[str]
    max_seconds: float | None = None

    def applies_to(self, data: Dataset) -> str | None:
        assert isinstance(data, SignalDataset)
        if not data.records:
            return "the dataset holds no records"
        if self.channel_kinds is None:
            return None
        kinds = {channel_kind(c, u) for r in data.records for c, u in zip(r.channels, _units(r), strict=True)}
        if kinds & self.channel_kinds:
            return None
        wanted = " or ".join(sorted(k.upper() for k in self.channel_kinds))
        return f"no {wanted} channels in this {data.kind} dataset (channel names do not look like {wanted} leads)"

    @abstractmethod
    def check_record(self, record: SignalRecord, views: list[ChannelView]) -> dict[str, Finding | str]:
        """Measure the channels ``views`` of one record: channel name → finding, or why it was skipped."""

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        assert isinstance(real, SignalDataset)
        items: list[ItemResult] = []
        analysed: list[ItemResult] = []
        skipped = 0
        cropped = False
        for record in real.records:
            if record.n_samples == 0 or not record.channels:
                items.append(ItemResult("record", record.name, math.nan, Status.SKIPPED, "the record holds no samples"))
                skipped += 1
                continue
            views = [
                v
                for v in iter_channels(record, max_seconds=self.max_seconds)
                if self.channel_kinds is None or v.kind in self.channel_kinds
            ]
            if not views:
                continue
            cropped = cropped or any(v.cropped for v in views)
            findings = self.check_record(record, views)
            channel_items: list[ItemResult] = []
            for view in views:
                found = findings[view.channel]
                if isinstance(found, str):
                    channel_items.append(ItemResult("channel", view.key, math.nan, Status.SKIPPED, found))
                    skipped += 1
                    continue
                status = found.status or self.item_threshold.judge(found.value, self.item_direction)
                item = ItemResult("channel", view.key, found.value, status, found.note, dict(found.details))
                channel_items.append(item)
                analysed.append(item)
            items.append(self._record_item(record.name, channel_items))
            items.extend(channel_items)
        return self._summarise(items, analysed, skipped, cropped)

    def _record_item(self, name: str, channel_items: list[ItemResult]) -> ItemResult:
        measured = [i for i in channel_items if not math.isnan(i.value)]
        if not measured:
            return ItemResult("record", name, math.nan, Status.SKIPPED, "no channel could be measured")
        pick = max if self.item_direction is Direction.MINIMIZE else min
        worst = pick(measured, key=lambda i: i.value)
        status = max((i.status for i in measured), key=lambda s: s.severity)
        flagged = [i.key.split(":", 1)[1] for i in measured if i.status.severity >= Status.WARN.severity]
        note = f"flagged: {', '.join(flagged)}" if flagged else "no channel flagged"
        return ItemResult("record", name, worst.value, status, note, {"worst_channel": worst.key.split(":", 1)[1]})

    def _summarise(
        self, items: list[ItemResult], analysed: list[ItemResult], skipped: int, cropped: bool
    ) -> MetricResult:
        details: dict[str, Detail] = {"channels_analysed": len(analysed), "channels_skipped": skipped}
        if self.max_seconds is not None:
            details["analysed_seconds_per_record"] = self.max_seconds
            details["cropped"] = cropped
        if not analysed:
            why = "no channel could be measured"
            return self.result(math.nan, why, status=Status.SKIPPED, items=items, details=details)
        flagged = [i for i in analysed if i.status.severity >= Status.WARN.severity]
        share = len(flagged) / len(analysed)
        values = np.array([i.value for i in analysed], dtype=float)
        details["median_channel_value"] = float(np.nanmedian(values))
        status = self.judge(share)
        if flagged and status.severity < Status.WARN.severity:
            status = Status.WARN
        if flagged:
            names = ", ".join(i.key for i in flagged[:5]) + (", …" if len(flagged) > 5 else "")
            reason = f"{len(flagged)} of {len(analysed)} channels have {self.problem} ({names})"
        else:
            reason = f"none of {len(analysed)} channels has {self.problem}"
        if cropped and self.max_seconds is not None:
            reason += f"; first {self.max_seconds:g} s of each record analysed"
        return self.result(
            share, reason, status=status, items=items, details=details, item_threshold=self.item_threshold
        )


class PerChannelCheck(ChannelCheck):
    """A check that judges each channel on its own (most do; EEG bad channels compare them)."""

    @abstractmethod
    def check_channel(self, view: ChannelView) -> Finding | str:
        """Measure one channel; return a :class:`Finding`, or why the channel cannot be measured."""

    def check_record(self, record: SignalRecord, views: list[ChannelView]) -> dict[str, Finding | str]:
        return {v.channel: self.check_channel(v) for v in views}


def _units(record: SignalRecord) -> tuple[str, ...]:
    return tuple(record.units) + ("",) * (len(record.channels) - len(record.units))
