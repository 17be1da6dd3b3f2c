"""Signal inputs: rates, channels, lengths, units and gaps are checked once, with clear errors or stated handling."""

from __future__ import annotations

import numpy as np
import pytest

from medsyn.data.dataset import Provenance, SignalDataset, SignalRecord
from medsyn.errors import InputError
from medsyn.evaluate import EvalInputs
from medsyn.evaluate.signal import (
    CrossChannelCorrelation,
    PsdDistance,
    layout,
    segments,
)
from medsyn.metric import Status
from tests.evaluate.signal.conftest import Split
from tests.evaluate.signal.helpers import copy, crop, variant

pytestmark = pytest.mark.shared_data

LEADS = ("I", "II", "V1")


@pytest.fixture(scope="module")
def small(ecg: Split) -> Split:
    """2-s, 3-lead crops of the ECG split: enough for the checks, cheap to compute on."""
    return Split(*(crop(d, 2.0, LEADS) for d in (ecg.real, ecg.holdout, ecg.other)))


def _rebuild(data: SignalDataset, make: object) -> SignalDataset:
    records = [make(r) for r in data.records]  # type: ignore[operator]
    attributes = data.attributes.copy()
    attributes["record"] = [r.name for r in records]
    return SignalDataset(records, attributes, data.schema)


def test_matching_inputs_validate_and_share_a_layout(small: Split) -> None:
    inputs = EvalInputs.build(small.real, small.other, small.holdout)
    lay = layout(inputs)
    assert lay.rate == 500.0
    assert lay.channels == LEADS
    assert lay.kinds == ("ecg", "ecg", "ecg")
    assert lay.n_samples == 1000
    assert not lay.lengths_differ
    assert not [n for n in inputs.notes if n.scope == "signal lengths"]


def test_different_sampling_rates_are_an_error_naming_both_rates(small: Split) -> None:
    slow = _rebuild(small.other, lambda r: SignalRecord(r.name, r.data[:, ::2], 250.0, r.channels, r.units))
    with pytest.raises(InputError) as err:
        EvalInputs.build(small.real, slow)
    text = str(err.value)
    assert "synthetic records (10 of 10" in text
    assert "sampled at 250 Hz" in text
    assert "500 Hz" in text
    assert "Resample" in text


def test_mixed_rates_within_the_real_data_are_an_error(small: Split) -> None:
    first = small.real.records[0]
    odd = SignalRecord(first.name, first.data[:, ::2], 250.0, first.channels, first.units)
    mixed = SignalDataset([*small.real.records[1:], odd], small.real.attributes, small.real.schema)
    with pytest.raises(InputError, match=r"real records \(1 of 10"):
        EvalInputs.build(mixed, small.other)


def test_channel_mismatch_names_missing_and_extra_channels_on_every_side(small: Split) -> None:
    renamed = _rebuild(small.other, lambda r: SignalRecord(r.name, r.data, r.sampling_rate, ("I", "II", "X"), r.units))
    fewer = crop(small.holdout, 2.0, ("I", "II"))
    with pytest.raises(InputError) as err:
        EvalInputs.build(small.real, renamed, fewer)
    text = str(err.value)
    assert "2 problems" in text
    assert "missing channel(s) ['V1']; extra channel(s) ['X']" in text
    assert "holdout records (10 of 10" in text
    assert "the real channels ['I', 'II', 'V1']" in text


def test_records_of_different_lengths_use_the_common_segment(small: Split) -> None:
    short = crop(small.other, 1.5)
    inputs = EvalInputs.build(small.real, short, small.holdout)
    lay = layout(inputs)
    assert lay.lengths_differ
    assert lay.n_samples == 750
    note = next(n for n in inputs.notes if n.scope == "signal lengths")
    assert "first 750 samples (1.5 s" in note.message
    for _, x in segments(inputs, "real"):
        assert x.shape[1:] == (3, 750)
    result = PsdDistance().evaluate(inputs)
    assert result.status is not Status.SKIPPED
    assert result.details["analysed_seconds"] == 1.5


def test_missing_samples_in_synthetic_records_are_noted_and_filled(small: Split) -> None:
    def gap(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x = x.copy()
        x[0, 100:150] = np.nan
        return x

    gappy = variant(small.real, gap, "g")
    inputs = EvalInputs.build(small.real, gappy, small.holdout)
    note = next(n for n in inputs.notes if n.scope == "synthetic signals")
    assert note.severity == "warn"
    assert "10 of 10 record(s) hold 500 missing sample(s)" in note.message
    assert "no record is dropped" in note.message
    chunks = [x for _, x in segments(inputs, "synthetic")]
    assert all(np.isfinite(x).all() for x in chunks)
    assert sum(len(x) for x in chunks) == 10
    # the interpolated 0.1 s barely moves a copy's spectrum
    assert PsdDistance().evaluate(inputs).value < 1.0


def test_channels_are_matched_by_name_and_units_converted(small: Split) -> None:
    def reorder(r: SignalRecord) -> SignalRecord:
        return SignalRecord(r.name, 1000.0 * r.data[::-1], r.sampling_rate, r.channels[::-1], ("uV",) * 3)

    microvolts = _rebuild(variant(small.real, copy, "c"), reorder)
    inputs = EvalInputs.build(small.real, microvolts, small.holdout)
    assert any(n.scope == "synthetic units" and "converted" in n.message for n in inputs.notes)
    assert PsdDistance().evaluate(inputs).value == pytest.approx(0.0, abs=1e-4)
    assert CrossChannelCorrelation().evaluate(inputs).value == pytest.approx(0.0, abs=1e-5)


def test_records_without_samples_are_an_error(small: Split) -> None:
    empty = _rebuild(small.other, lambda r: SignalRecord(r.name, r.data[:, :1], r.sampling_rate, r.channels, r.units))
    with pytest.raises(InputError, match="fewer than 2 samples"):
        EvalInputs.build(small.real, empty)


def test_compute_takes_two_datasets_and_validates_them(small: Split) -> None:
    result = PsdDistance().compute(small.real, small.other)
    assert result.metric == "psd_distance"
    assert np.isfinite(result.value)
    with pytest.raises(InputError):
        PsdDistance().compute(small.real, crop(small.other, 2.0, ("I", "II")))


def _named(data: SignalDataset, source: str) -> SignalDataset:
    """``data`` as if read from ``source`` (the provenance names the dataset in errors)."""
    return SignalDataset(data.records, data.attributes, data.schema, Provenance(source=source, reader="wfdb"))


def test_a_rate_mismatch_names_both_rates_and_both_datasets(small: Split) -> None:
    slow = _rebuild(small.other, lambda r: SignalRecord(r.name, r.data[:, ::2], 250.0, r.channels, r.units))
    with pytest.raises(InputError) as err:
        EvalInputs.build(_named(small.real, "/data/ecg_train"), _named(slow, "/data/ecg_synthetic"))
    text = str(err.value)
    assert "synthetic records in 'ecg_synthetic' (10 of 10" in text
    assert "sampled at 250 Hz" in text
    assert "500 Hz like the real record" in text
    assert "in 'ecg_train'" in text
    assert "never resamples" in text


def test_a_holdout_at_another_rate_is_an_error_too(small: Split) -> None:
    fast = _rebuild(
        small.holdout, lambda r: SignalRecord(r.name, np.repeat(r.data, 2, axis=1), 1000.0, r.channels, r.units)
    )
    with pytest.raises(InputError) as err:
        EvalInputs.build(small.real, small.other, _named(fast, "/data/ecg_holdout"))
    text = str(err.value)
    assert "holdout records in 'ecg_holdout' (10 of 10" in text
    assert "sampled at 1000 Hz" in text
    assert "synthetic" not in text  # the synthetic side is fine and not blamed


def test_every_signal_metric_states_the_common_segment_in_its_details(small: Split) -> None:
    same = EvalInputs.build(small.real, small.other, small.holdout, n_bootstrap=5)
    cut = EvalInputs.build(small.real, crop(small.other, 1.5), small.holdout, n_bootstrap=5)
    for metric in (PsdDistance(), CrossChannelCorrelation()):
        full, short = metric.evaluate(same), metric.evaluate(cut)
        assert full.details["common_seconds"] == 2.0
        assert full.details["lengths_differ"] is False
        assert short.details["common_seconds"] == 1.5
        assert short.details["lengths_differ"] is True
    skipped = CrossChannelCorrelation().evaluate(
        EvalInputs.build(crop(small.real, 2.0, ("I",)), crop(small.other, 2.0, ("I",)))
    )
    assert skipped.status is Status.SKIPPED
    assert "common_seconds" not in skipped.details
