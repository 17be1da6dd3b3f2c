"""TimeGAN-style post-hoc scores (Yoon, Jarrett & van der Schaar 2019): can a small network tell
synthetic windows from real ones, and does a forecaster trained on synthetic data work on real data?

Both read the same windows: the first ``max_seconds`` (10 s) of each record's common segment,
resampled to ``rate_hz`` (50 Hz, anti-aliased), cut into non-overlapping windows of
``window_seconds`` (2 s), every channel standardised with the real windows' mean and spread
(so amplitude differences stay visible). Records are split, never windows: windows of one
record are all in training or all in testing. Networks are small 1-D CNNs in torch, trained for
a fixed number of Adam steps on the CPU, on one thread, seeded; the caller's global torch RNG
state and thread count are restored afterwards. TimeGAN used GRUs; a CNN gives the same
protocol in a fraction of the CPU time. Confidence intervals resample the test records (the
evaluation's shared resamples) with the trained networks fixed: they say how sure the test set
makes us.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from medsyn._deps import require
from medsyn.evaluate._base import clip01
from medsyn.evaluate._inputs import EvalInputs, Side, percentile_ci
from medsyn.evaluate.signal._base import SignalMetric, replicate_rows
from medsyn.evaluate.signal._prepare import layout, positions, segments
from medsyn.metric import METRICS, Detail, Direction, MetricKind, MetricResult, Threshold

__all__ = ["DiscriminativeScore", "PredictiveScore", "WindowSpec", "signal_windows"]


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """How records become training windows, and the training budget."""

    max_seconds: float = 10.0
    rate_hz: float = 50.0
    window_seconds: float = 2.0
    max_records: int = 500
    steps: int = 300
    batch: int = 64
    test_share: float = 0.3

    def to_dict(self) -> dict[str, Detail]:
        return {
            "window_seconds": self.window_seconds,
            "window_rate_hz": self.rate_hz,
            "seconds_per_record": self.max_seconds,
            "max_records": self.max_records,
            "training_steps": self.steps,
            "batch": self.batch,
        }


@dataclass(frozen=True, slots=True)
class Windows:
    """One side's windows: the record positions read, the windows and which record each came from."""

    rows: np.ndarray
    data: np.ndarray
    owner: np.ndarray


def _raw_windows(inputs: EvalInputs, side: Side, spec: WindowSpec) -> Windows:
    def build() -> Windows:
        from scipy.signal import resample_poly

        lay = layout(inputs)
        ratio = Fraction(spec.rate_hz / lay.rate).limit_denominator(1000) if spec.rate_hz < lay.rate else Fraction(1)
        rate = lay.rate * ratio
        size = max(2, round(spec.window_seconds * float(rate)))
        rows = positions(inputs, side, max_records=spec.max_records, name="timegan")
        parts, owners = [], []
        for chunk, x in segments(inputs, side, max_seconds=spec.max_seconds, records=rows):
            if ratio != 1:
                x = resample_poly(x, ratio.numerator, ratio.denominator, axis=-1)
            count = x.shape[2] // size
            if count == 0:
                continue
            w = x[:, :, : count * size].reshape(len(x), x.shape[1], count, size).transpose(0, 2, 1, 3)
            parts.append(w.reshape(-1, x.shape[1], size).astype(np.float32))
            owners.append(np.repeat(np.searchsorted(rows, chunk), count))
        if not parts:
            return Windows(rows, np.empty((0, len(lay.channels), size), dtype=np.float32), np.empty(0, dtype=int))
        return Windows(rows, np.concatenate(parts), np.concatenate(owners))

    return inputs.memo(("signal", "windows", side, spec), build)


def signal_windows(inputs: EvalInputs, side: Side, spec: WindowSpec) -> Windows:
    """One side's windows, standardised per channel with the real windows' mean and spread (cached)."""

    def build() -> Windows:
        real = _raw_windows(inputs, "real", spec).data
        mean = real.mean(axis=(0, 2), keepdims=True)
        spread = real.std(axis=(0, 2), keepdims=True)
        raw = _raw_windows(inputs, side, spec)
        data = (raw.data - mean) / np.where(spread > 0, spread, 1.0)
        return Windows(raw.rows, data.astype(np.float32), raw.owner)

    return inputs.memo(("signal", "windows-standard", side, spec), build)


def _split(n: int, share: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Record indices for training and testing (at least one of each)."""
    order = rng.permutation(n)
    n_test = min(n - 1, max(1, round(share * n)))
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def _torch() -> Any:
    return require("torch", "synth", "the TimeGAN-style discriminative and predictive scores")


@contextmanager
def _torch_session(seed: int) -> Iterator[Any]:
    """torch seeded and on one thread, the caller's global RNG state and thread count restored after.

    Networks this small train an order of magnitude faster on one thread than on several
    (thread hand-offs cost more than the arithmetic), and the result does not depend on the machine.
    """
    torch = _torch()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            yield torch
    finally:
        torch.set_num_threads(threads)


def _train(model: Any, loss_fn: Any, x: np.ndarray, y: np.ndarray, spec: WindowSpec, seed: int) -> Any:
    """Adam for ``spec.steps`` steps on batches drawn with a seeded generator."""
    torch = _torch()
    rng = np.random.default_rng(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    model.train()
    for _ in range(spec.steps):
        pick = torch.from_numpy(rng.integers(0, len(x), min(spec.batch, len(x))))
        optimiser.zero_grad()
        loss = loss_fn(model(xt[pick]), yt[pick])
        loss.backward()
        optimiser.step()
    model.eval()
    return model


def _classifier(channels: int) -> Any:
    nn = _torch().nn
    return nn.Sequential(
        nn.Conv1d(channels, 16, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool1d(2),
        nn.Conv1d(16, 32, 5, padding=2),
        nn.ReLU(),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(32, 1),
    )


def _forecaster(channels: int) -> Any:
    """A causal CNN: the output at ``t`` sees inputs up to ``t`` only, and predicts the change to ``t + 1``."""
    torch = _torch()
    nn = torch.nn

    class Forecaster(nn.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(
                nn.ConstantPad1d((4, 0), 0.0),
                nn.Conv1d(channels, 16, 5),
                nn.ReLU(),
                nn.ConstantPad1d((8, 0), 0.0),
                nn.Conv1d(16, 16, 5, dilation=2),
                nn.ReLU(),
                nn.Conv1d(16, channels, 1),
            )

        def forward(self, x: Any) -> Any:
            return x + self.net(x)

    return Forecaster()


class _WindowMetric(SignalMetric):
    """Shared parameters and skip reasons of the window-based scores."""

    min_records = 2

    def __init__(
        self,
        *,
        max_seconds: float = 10.0,
        rate_hz: float = 50.0,
        window_seconds: float = 2.0,
        max_records: int = 500,
        steps: int = 300,
        threshold: Threshold | None = None,
    ) -> None:
        super().__init__(threshold=threshold)
        self.spec = WindowSpec(max_seconds, rate_hz, window_seconds, max_records, steps)

    def why_not(self, inputs: EvalInputs) -> str | None:
        why = super().why_not(inputs)
        if why is None and layout(inputs).seconds < self.spec.window_seconds:
            return f"records ({layout(inputs).seconds:.2g} s) shorter than one {self.spec.window_seconds:g}-s window"
        return why


@METRICS.register("discriminative_score")
class DiscriminativeScore(_WindowMetric):
    """How well a small neural network tells synthetic signal windows from real ones (TimeGAN's
    discriminative score: accuracy above chance), because anything a classifier can pick up
    (wrong morphology, missing noise, unnatural smoothness, broken channel structure, lost
    phase) is a difference between the synthetic and the real data, even where no hand-made
    feature looks.

    Real (training) and synthetic records are each dealt into ``folds`` (3) groups by record; for
    each group a 1-D CNN (two convolutions, global average pooling) learns real vs synthetic
    windows on the other groups for a fixed number of Adam steps, seeded, and labels the
    group's windows, so every record is tested once by a network that never saw it (TimeGAN
    holds out one split; cross-fitting tests all records, which matters with tens of records).
    The value is max(0, balanced accuracy − 0.5) over all windows (balanced accuracy, the mean
    of the per-class accuracies, equals TimeGAN's accuracy when the classes are the same size);
    0 means indistinguishable, 0.5 perfectly separable. TimeGAN takes |accuracy − 0.5|; here an
    accuracy *below* chance is not counted as a fidelity loss, because with cross-fitting it
    arises when synthetic records copy real ones (the copy of a record the network learnt as
    real is called real): the reason says so and ``dtw_nearest_neighbour`` measures it. Above
    0.1 warns, above 0.25 fails; score: 1 − 2 × value. Windows: see the module docstring.
    """

    name = "discriminative_score"
    title = "Discriminative score (TimeGAN)"
    kind = MetricKind.FIDELITY
    direction = Direction.MINIMIZE
    ideal = 0.0
    unit = "accuracy − 0.5"
    default_threshold = Threshold(warn=0.1, fail=0.25)

    def score(self, value: float) -> float:
        return math.nan if math.isnan(value) else clip01(1.0 - 2.0 * value)

    def __init__(
        self,
        *,
        folds: int = 3,
        max_seconds: float = 10.0,
        rate_hz: float = 50.0,
        window_seconds: float = 2.0,
        max_records: int = 500,
        steps: int = 200,
        threshold: Threshold | None = None,
    ) -> None:
        super().__init__(
            max_seconds=max_seconds,
            rate_hz=rate_hz,
            window_seconds=window_seconds,
            max_records=max_records,
            steps=steps,
            threshold=threshold,
        )
        self.folds = folds

    def why_not(self, inputs: EvalInputs) -> str | None:
        why = super().why_not(inputs)
        if why is not None:
            return why
        for side in ("real", "synthetic"):
            if len(inputs.frame(side)) < self.folds:
                return f"needs at least {self.folds} {side} records (one per fold)"
        return None

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        real = signal_windows(inputs, "real", self.spec)
        syn = signal_windows(inputs, "synthetic", self.spec)
        rng = inputs.rng(self.name)
        real_fold = rng.permutation(len(real.rows))[real.owner] % self.folds
        syn_fold = rng.permutation(len(syn.rows))[syn.owner] % self.folds
        real_ok = np.zeros(len(real.data), dtype=bool)
        syn_ok = np.zeros(len(syn.data), dtype=bool)
        with _torch_session(inputs.seed) as torch:
            for fold in range(self.folds):
                r_tr, s_tr = real_fold != fold, syn_fold != fold
                x = np.concatenate([real.data[r_tr], syn.data[s_tr]])
                y = np.concatenate([np.ones(r_tr.sum()), np.zeros(s_tr.sum())]).astype(np.float32)[:, None]
                model = _train(
                    _classifier(x.shape[1]), torch.nn.BCEWithLogitsLoss(), x, y, self.spec, inputs.seed + fold
                )
                with torch.no_grad():
                    real_ok[~r_tr] = model(torch.from_numpy(real.data[~r_tr])).numpy()[:, 0] > 0
                    syn_ok[~s_tr] = model(torch.from_numpy(syn.data[~s_tr])).numpy()[:, 0] <= 0
        real_owner, syn_owner = real.owner, syn.owner

        def gap(real_weight: np.ndarray, syn_weight: np.ndarray) -> float:
            if real_weight.sum() == 0 or syn_weight.sum() == 0:
                return math.nan
            balanced = 0.5 * (real_weight @ real_ok / real_weight.sum() + syn_weight @ syn_ok / syn_weight.sum())
            return max(0.0, float(balanced) - 0.5)

        value = gap(np.ones(len(real_ok)), np.ones(len(syn_ok)))
        reps = []
        for b in range(inputs.n_bootstrap):
            rw = np.bincount(replicate_rows(inputs, "real", b, real.rows), minlength=len(real.rows))[real_owner]
            sw = np.bincount(replicate_rows(inputs, "synthetic", b, syn.rows), minlength=len(syn.rows))[syn_owner]
            reps.append(gap(rw.astype(float), sw.astype(float)))
        finite = np.array([v for v in reps if math.isfinite(v)])
        ci = percentile_ci(finite) if len(finite) >= 2 else None
        accuracy = 0.5 * (real_ok.mean() + syn_ok.mean())
        # below chance by more than the noise of a coin over these records: copies (see the docstring)
        below = accuracy < 0.5 - 1.0 / math.sqrt(len(real.rows) + len(syn.rows))
        details: dict[str, Detail] = {
            **self.spec.to_dict(),
            "balanced_accuracy": float(accuracy),
            "real_test_accuracy": float(real_ok.mean()),
            "synthetic_test_accuracy": float(syn_ok.mean()),
            "folds": self.folds,
            "windows": len(real_ok) + len(syn_ok),
            "records": len(real.rows) + len(syn.rows),
        }
        reason = (
            f"a 1-D CNN tells synthetic from real windows with balanced accuracy {accuracy:.2f} "
            f"over {len(real.rows) + len(syn.rows)} records, each tested by a network that never saw it "
            "(0.5 = indistinguishable)"
        )
        if below:
            reason += (
                "; below chance: synthetic records resemble real records the network learnt as real "
                "(copies? see dtw_nearest_neighbour)"
            )
        return self.result(value, reason, ci=ci, replicates=reps, details=details)


@METRICS.register("predictive_score")
class PredictiveScore(_WindowMetric):
    """How well a forecaster trained on synthetic signals predicts real ones, relative to one
    trained on real signals (TimeGAN's predictive score, train on synthetic, test on real),
    because synthetic data meant for training models must teach the real dynamics, not just
    look right.

    A causal 1-D CNN learns to predict every channel's next sample from the samples before it
    (one step ahead, mean absolute error, a fixed number of Adam steps, seeded), once on the
    synthetic windows (TSTR) and once, with the same budget, on the real training windows
    (TRTR). Both are tested on the holdout records' windows, or without a holdout on a 30 %
    split of the real records that the real-trained forecaster never saw. The value is
    MAE(TSTR) / MAE(TRTR): 1 means synthetic data teaches as well as real data; TimeGAN's own
    number, MAE(TSTR) on the standardised windows, is in the details. Above 1.25 warns, above
    1.5 fails; score: min(1, 1 / value).
    """

    name = "predictive_score"
    title = "Predictive score (TimeGAN, TSTR / TRTR)"
    kind = MetricKind.UTILITY
    direction = Direction.MINIMIZE
    ideal = 1.0
    unit = "MAE ratio"
    default_threshold = Threshold(warn=1.25, fail=1.5)

    def score(self, value: float) -> float:
        if math.isnan(value):
            return math.nan
        return 1.0 if value <= 1.0 else clip01(1.0 / value)

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        real = signal_windows(inputs, "real", self.spec)
        syn = signal_windows(inputs, "synthetic", self.spec)
        test_side: Side
        if inputs.holdout is not None:
            test_side = "holdout"
            test = signal_windows(inputs, "holdout", self.spec)
            train_real = real.data
            test_data, test_owner, test_rows = test.data, test.owner, test.rows
        else:
            test_side = "real"
            real_train, real_test = _split(len(real.rows), self.spec.test_share, inputs.rng(self.name))
            train_real = real.data[np.isin(real.owner, real_train)]
            keep = np.isin(real.owner, real_test)
            test_data, test_owner, test_rows = real.data[keep], real.owner[keep], real.rows
        errors = {}
        for label, train in (("tstr", syn.data), ("trtr", train_real)):
            with _torch_session(inputs.seed) as torch:
                model = _train(
                    _forecaster(train.shape[1]),
                    torch.nn.L1Loss(),
                    train[:, :, :-1],
                    train[:, :, 1:],
                    self.spec,
                    inputs.seed,
                )
                with torch.no_grad():
                    pred = model(torch.from_numpy(test_data[:, :, :-1])).numpy()
                errors[label] = np.abs(pred - test_data[:, :, 1:]).mean(axis=(1, 2))

        def ratio(weight: np.ndarray) -> float:
            if weight.sum() == 0:
                return math.nan
            return float((weight @ errors["tstr"]) / max(float(weight @ errors["trtr"]), 1e-12))

        value = ratio(np.ones(len(test_data)))
        reps = [
            ratio(
                np.bincount(replicate_rows(inputs, test_side, b, test_rows), minlength=len(test_rows))[
                    test_owner
                ].astype(float)
            )
            for b in range(inputs.n_bootstrap)
        ]
        finite = np.array([v for v in reps if math.isfinite(v)])
        ci = percentile_ci(finite) if len(finite) >= 2 else None
        tstr, trtr = float(errors["tstr"].mean()), float(errors["trtr"].mean())
        details: dict[str, Detail] = {
            **self.spec.to_dict(),
            "mae_tstr": tstr,
            "mae_trtr": trtr,
            "test_set": "holdout" if test_side == "holdout" else "30% of the real records",
            "test_windows": len(test_data),
            "synthetic_train_windows": len(syn.data),
            "real_train_windows": len(train_real),
        }
        reason = (
            f"one-step forecasts trained on synthetic data err {value:.2f} × as much on real "
            f"{'holdout' if test_side == 'holdout' else 'test'} windows as forecasts trained on real data "
            f"(MAE {tstr:.3g} vs {trtr:.3g})"
        )
        return self.result(value, reason, ci=ci, replicates=reps, details=details)
