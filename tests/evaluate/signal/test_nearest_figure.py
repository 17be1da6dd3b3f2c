"""The DTW memorisation metric draws its closest synthetic/training pairs, and the scorecard shows them."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from medsyn.evaluate import EvalInputs, evaluate
from medsyn.evaluate.signal import DtwNearestNeighbour
from medsyn.evaluate.signal._nearest import FIGURE_PAIRS
from medsyn.report import scorecard_html
from tests.evaluate.signal.conftest import Split
from tests.evaluate.signal.helpers import copy, noise, variant

pytestmark = pytest.mark.shared_data


def test_a_copy_is_drawn_over_its_training_record_and_marked_too_close(ecg: Split) -> None:
    copied = variant(ecg.real, copy, "c")
    inputs = EvalInputs.build(ecg.real, copied, ecg.holdout, n_bootstrap=5)
    metric = DtwNearestNeighbour()
    result = metric.evaluate(inputs)
    fig = metric.pairs_figure(inputs)
    assert fig is not None
    axes = fig.get_axes()
    assert len(axes) == FIGURE_PAIRS
    first = axes[0]
    real_line, syn_line = first.get_lines()
    real_y, syn_y = np.asarray(real_line.get_ydata()), np.asarray(syn_line.get_ydata())
    np.testing.assert_allclose(real_y, syn_y)  # the copy lies on its original
    assert "too close" in first.get_title()
    legend = first.get_legend()
    assert legend is not None
    labels = [t.get_text() for t in legend.get_texts()]
    nearest = result.items[0]
    assert labels == [f"training {nearest.details['nearest_real']}", f"synthetic {nearest.key}"]
    assert len(np.asarray(real_line.get_xdata())) == result.details["dtw_samples"]
    png = metric.figure(inputs, result)
    assert png is not None
    assert png.startswith(b"\x89PNG")


def test_new_records_are_not_marked_and_the_figure_reaches_the_scorecard_html(ecg: Split) -> None:
    synthetic = variant(ecg.other, noise(0.1), "n", seed=1)
    card = evaluate(ecg.real, synthetic, ecg.holdout, metrics=["dtw_nearest_neighbour"], n_bootstrap=5)
    png = card.figures["dtw_nearest_neighbour"]
    assert png.startswith(b"\x89PNG")
    html = scorecard_html(card)
    assert 'alt="chart for dtw_nearest_neighbour"' in html
    assert base64.b64encode(png).decode() in html
    fig = DtwNearestNeighbour().pairs_figure(EvalInputs.build(ecg.real, synthetic, ecg.holdout, n_bootstrap=5))
    assert fig is not None
    titles = [ax.get_title() for ax in fig.get_axes()]
    assert not any("too close" in t for t in titles[1:])  # at most the closest one by chance


def test_no_figure_without_a_holdout(ecg: Split) -> None:
    inputs = EvalInputs.build(ecg.real, ecg.other, n_bootstrap=5)
    assert DtwNearestNeighbour().pairs_figure(inputs) is None
    card = evaluate(ecg.real, ecg.other, metrics=["dtw_nearest_neighbour"], n_bootstrap=5)
    assert "dtw_nearest_neighbour" not in card.figures
