"""Vectorised bootstrap replicates equal a straightforward loop over replicates.

Every replicate of the per-column and pairwise metrics is computed for all replicates at once
(matrix products of the bootstrap multiplicities with one-hot codes or per-record terms). Each
test here recomputes the replicates the plain way — replicate ``b`` *is* the sampled records
repeated as often as replicate ``b`` drew them — with the scipy-equal distances, and compares.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import medsyn.evaluate._parallel as parallel
import medsyn.evaluate.tabular._common as common
import medsyn.evaluate.tabular._pairs as pairs_module
from medsyn.evaluate import EvalInputs
from medsyn.evaluate._encode import is_numeric_field, numeric_values
from medsyn.evaluate._inputs import Side
from medsyn.evaluate.tabular import (
    ContingencySimilarity,
    CorrelationDifference,
    JensenShannon,
    KsStatistic,
    MutualInformationDifference,
    TotalVariation,
    Wasserstein,
    jensen_shannon_distance,
    ks_statistic_1d,
    normalized_mutual_information,
    pair_tables,
    pairwise_correlation,
    total_variation_distance,
    wasserstein_1d,
)
from medsyn.evaluate.tabular._columns import _column_replicates, _combined_scale, _PerColumn
from medsyn.evaluate.tabular._common import (
    centred,
    replicate_counts,
    replicate_weights,
    shared_codes,
    weighted_counts,
)
from medsyn.evaluate.tabular._pairs import replicate_correlations
from tests.evaluate.tabular.conftest import inputs_of

N_BOOT = 12


def _table(n: int, seed: int) -> pd.DataFrame:
    """Numbers with ties, gaps and a date-free mix of categories with missing values."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "x": x,
            "y": np.round(x + rng.normal(scale=0.7, size=n), 1),  # many ties
            "k": rng.integers(0, 4, n).astype(float),  # few distinct values
            "c": rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "g": rng.choice(["u", "v"], n),
        }
    )
    frame.loc[rng.random(n) < 0.1, "y"] = np.nan
    frame.loc[rng.random(n) < 0.08, "c"] = None
    return frame


@pytest.fixture(scope="module")
def small() -> EvalInputs:
    real, syn = _table(240, 0), _table(180, 1)
    syn["x"] += 0.3
    syn.loc[syn.index[:7], "c"] = "e"  # a category the real data never had
    return inputs_of(real, syn, n_bootstrap=N_BOOT)


def _repeated(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The records of one replicate: each sampled record as often as the replicate drew it."""
    return np.repeat(values, weights.astype(np.int64), axis=0)


# -- the building blocks ----------------------------------------------------------------------
@pytest.mark.parametrize("group_entries", [None, 500 * 2])  # one product; groups of two columns
def test_replicate_counts_equal_bincount_per_replicate(
    group_entries: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if group_entries is not None:
        monkeypatch.setattr(common, "_ONEHOT_ENTRIES", group_entries)
    rng = np.random.default_rng(0)
    n, rows = 500, 9
    weights = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(rows)]).astype(float)
    sizes = [3, 1, 40, 300, 7, 0, 33]  # few and many codes, and an empty column
    codes = [rng.integers(-1, max(k, 1) + 2, n) for k in sizes]  # some codes out of range: not counted
    got = replicate_counts(codes, sizes, weights)
    for c, k, g in zip(codes, sizes, got, strict=True):
        assert g.shape == (rows, k)
        expect = np.array(
            [np.bincount(c[(c >= 0) & (c < k)], weights=w[(c >= 0) & (c < k)], minlength=k) for w in weights]
        )
        assert np.array_equal(g, expect.reshape(rows, k))  # whole multiplicities: exact
        if k:
            kept = np.where((c >= 0) & (c < k), c, 0)
            assert np.array_equal(g, weighted_counts(kept, weights * ((c >= 0) & (c < k)), k))
    fractional = weights * 0.37
    for c, k, g in zip(codes, sizes, replicate_counts(codes, sizes, fractional), strict=True):
        ok = (c >= 0) & (c < k)
        expect = np.array([np.bincount(c[ok], weights=w[ok], minlength=k) for w in fractional]).reshape(rows, k)
        assert np.allclose(g, expect, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cap", [None, 150])
def test_replicate_weights_count_each_replicates_resample(cap: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    def looped(inputs: EvalInputs) -> np.ndarray:
        positions = common.sample_positions(inputs, "real", cap)
        where = np.full(len(inputs.frame("real")), -1)
        where[positions] = np.arange(len(positions))
        out = []
        for b in range(inputs.n_bootstrap):
            drawn = where[inputs.resample("real", b)]
            out.append(np.bincount(drawn[drawn >= 0], minlength=len(positions)))
        return np.array(out, dtype=float)

    fast = inputs_of(_table(240, 0), _table(180, 1), n_bootstrap=N_BOOT)
    w = replicate_weights(fast, "real", cap)
    assert np.array_equal(w.weights, looped(fast))
    assert w.single is not None
    assert np.array_equal(w.single, w.weights)
    monkeypatch.setattr(common, "_FULL_COUNTS_CELLS", 0)  # the per-replicate path of large tables
    slow = inputs_of(_table(240, 0), _table(180, 1), n_bootstrap=N_BOOT)
    assert np.array_equal(replicate_weights(slow, "real", cap).weights, w.weights)


def test_record_counts_widen_past_one_byte(monkeypatch: pytest.MonkeyPatch) -> None:
    """A record drawn more than 255 times in a replicate keeps its exact count (one byte would wrap)."""
    monkeypatch.setattr(parallel, "PARALLEL_RECORDS", 0)  # replicates drawn in chunks on several threads
    n_boot = 40
    inputs = inputs_of(_table(300, 0), _table(180, 1), n_bootstrap=n_boot)
    real_resample = EvalInputs.resample

    def skewed(self: EvalInputs, side: Side, b: int) -> np.ndarray:
        drawn = real_resample(self, side, b)
        if side == "real" and b in (3, 31):
            drawn = drawn.copy()
            drawn[:280] = 7  # record 7 drawn at least 280 times
        return drawn

    monkeypatch.setattr(EvalInputs, "resample", skewed)
    w = replicate_weights(inputs, "real", None)
    assert w.weights[3, 7] >= 280
    assert w.weights[31, 7] >= 280
    expect = np.array([np.bincount(skewed(inputs, "real", b), minlength=300) for b in range(n_boot)], dtype=float)
    assert np.array_equal(w.weights, expect)
    assert w.single is not None
    assert np.array_equal(w.single, expect)
    assert w.replicates == n_boot
    assert not w.weights.flags.writeable


@pytest.mark.parametrize("gaps", [True, False])
def test_replicate_correlations_equal_weighted_correlation_per_replicate(
    gaps: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 5))
    x[:, 1] += x[:, 0]
    x[:, 3] = 2.0  # constant: undefined
    if gaps:
        x[rng.random(200) < 0.2, 2] = np.nan
        x[rng.random(200) < 0.1, 4] = np.nan
    weights = np.stack([np.bincount(rng.integers(0, 200, 200), minlength=200) for _ in range(7)]).astype(float)
    ia, ib = np.triu_indices(5, k=1)
    got = replicate_correlations(x, weights, ia, ib)
    expect = np.array([pairwise_correlation(x, w)[ia, ib] for w in weights])
    assert np.array_equal(np.isnan(got), np.isnan(expect))
    assert np.allclose(got, expect, atol=1e-12, equal_nan=True)
    monkeypatch.setattr(pairs_module, "_TERM_CELLS", 6 * 200 * 3)  # products of 3 pairs at a time
    assert np.allclose(replicate_correlations(x, weights, ia, ib), got, rtol=0, atol=1e-12, equal_nan=True)
    # weights are multiplicities: the correlation of the repeated rows, as pandas computes it
    for w, row in zip(weights, got, strict=True):
        by_pandas = pd.DataFrame(_repeated(x, w)).corr().to_numpy()[ia, ib]
        assert np.allclose(row, by_pandas, atol=1e-10, equal_nan=True)


# -- the per-column metrics -------------------------------------------------------------------
def test_ks_values_equal_the_one_dimensional_statistic_to_the_last_bit(small: EvalInputs) -> None:
    """KS per column is counted on the distinct values, and must not move from ks_statistic_1d (= scipy)."""
    items = {i.key: i.value for i in KsStatistic().evaluate(small).items}
    for name in ("x", "y", "k"):
        xr = numeric_values(small.frame("real")[name])
        xs = numeric_values(small.frame("synthetic")[name])
        assert items[name] == ks_statistic_1d(xr[np.isfinite(xr)], xs[np.isfinite(xs)])


def _plain_column(metric: _PerColumn, inputs: EvalInputs, name: str, b: int, cap: int) -> float:
    """One column's replicate ``b``, recomputed from the repeated records."""
    wr = replicate_weights(inputs, "real", cap)
    ws = replicate_weights(inputs, "synthetic", cap)
    f = inputs.schema[name]
    if isinstance(metric, KsStatistic | Wasserstein):
        xr = _repeated(numeric_values(inputs.frame("real")[name])[wr.positions], wr.weights[b])
        xs = _repeated(numeric_values(inputs.frame("synthetic")[name])[ws.positions], ws.weights[b])
        full = numeric_values(inputs.frame("real")[name])
        low, span = np.nanmin(full), np.nanmax(full) - np.nanmin(full)
        xr, xs = (xr[np.isfinite(xr)] - low) / span, (xs[np.isfinite(xs)] - low) / span
        return ks_statistic_1d(xr, xs) if isinstance(metric, KsStatistic) else wasserstein_1d(xr, xs)
    codes = shared_codes(inputs, f, metric.bins)
    cr = _repeated(codes.codes[0][wr.positions], wr.weights[b])
    cs = _repeated(codes.codes[1][ws.positions], ws.weights[b])
    if isinstance(metric, TotalVariation):  # observed values only
        seen_r = _repeated(_observed(inputs, "real", name)[wr.positions], wr.weights[b])
        seen_s = _repeated(_observed(inputs, "synthetic", name)[ws.positions], ws.weights[b])
        cr, cs = cr[seen_r], cs[seen_s]
        return total_variation_distance(
            np.bincount(cr, minlength=len(codes.labels)), np.bincount(cs, minlength=len(codes.labels))
        )
    return jensen_shannon_distance(
        np.bincount(cr, minlength=len(codes.labels)), np.bincount(cs, minlength=len(codes.labels))
    )


def _observed(inputs: EvalInputs, side: Side, name: str) -> np.ndarray:
    """Records whose value is present (numbers: finite)."""
    column = inputs.frame(side)[name]
    present: np.ndarray
    if is_numeric_field(inputs.schema[name]):
        present = np.isfinite(numeric_values(column))
    else:
        present = column.notna().to_numpy()
    return present


@pytest.mark.parametrize("metric_type", [KsStatistic, Wasserstein, TotalVariation, JensenShannon])
@pytest.mark.parametrize("cap", [20_000, 150])  # every record; a sample of 150 per side
def test_per_column_replicates_equal_a_loop_over_replicates(small: EvalInputs, metric_type: type, cap: int) -> None:
    metric: _PerColumn = metric_type(bootstrap_records=cap)
    wr = replicate_weights(small, "real", cap)
    ws = replicate_weights(small, "synthetic", cap)
    fields = metric.fields(small)
    columns = [metric._column(small, f, wr, ws) for f in fields]
    reps = _column_replicates([c.value for c in columns], [c.replicable for c in columns], wr, ws)
    plain = np.array([[_plain_column(metric, small, f.name, b, cap) for b in range(N_BOOT)] for f in fields])
    assert np.allclose(reps, plain, rtol=0, atol=1e-12)
    # and the reported replicates are those, averaged over columns and recentred on the value
    result = metric.evaluate(small)
    n_real, n_syn = len(small.frame("real")), len(small.frame("synthetic"))
    ci, expect = centred(
        result.value, plain.mean(axis=0), scale=_combined_scale(wr, ws, n_real, n_syn), low=0.0, high=1.0
    )
    assert np.allclose(result.replicates, expect, rtol=0, atol=1e-12)
    assert result.ci == pytest.approx(ci, abs=1e-12)


# -- the pairwise metrics ---------------------------------------------------------------------
def test_correlation_replicates_equal_a_loop_over_replicates(small: EvalInputs) -> None:
    metric = CorrelationDifference(bootstrap_records=150)
    result = metric.evaluate(small)
    wr = replicate_weights(small, "real", 150)
    ws = replicate_weights(small, "synthetic", 150)
    names = ["x", "y", "k"]
    xr = np.column_stack([numeric_values(small.frame("real")[n]) for n in names])[wr.positions]
    xs = np.column_stack([numeric_values(small.frame("synthetic")[n]) for n in names])[ws.positions]
    ia, ib = np.triu_indices(3, k=1)
    plain = []
    for b in range(N_BOOT):
        real = pd.DataFrame(_repeated(xr, wr.weights[b])).corr().to_numpy()[ia, ib]
        syn = pd.DataFrame(_repeated(xs, ws.weights[b])).corr().to_numpy()[ia, ib]
        plain.append(np.nanmean(np.abs(real - np.where(np.isfinite(syn), syn, 0.0))))
    scale = _combined_scale(wr, ws, len(small.frame("real")), len(small.frame("synthetic")))
    _, expect = centred(result.value, np.array(plain), scale=scale, low=0.0, high=2.0)
    assert np.allclose(result.replicates, expect, rtol=0, atol=1e-10)  # pandas' own sums: 1e-10


def test_contingency_and_mutual_information_replicates_equal_a_loop(small: EvalInputs) -> None:
    t = pair_tables(small, bootstrap_records=150)
    wr = replicate_weights(small, "real", 150)
    ws = replicate_weights(small, "synthetic", 150)
    codes = [shared_codes(small, f, 10) for f in small.feature_fields()]
    tv_dev, nmi_dev = np.zeros(N_BOOT), np.zeros(N_BOOT)
    for p in t.replicated:
        a, b = t.pairs[p]
        n_b = len(codes[b].labels)
        for rep in range(N_BOOT):
            ar = _repeated(codes[a].codes[0][wr.positions], wr.weights[rep])
            br = _repeated(codes[b].codes[0][wr.positions], wr.weights[rep])
            as_ = _repeated(codes[a].codes[1][ws.positions], ws.weights[rep])
            bs = _repeated(codes[b].codes[1][ws.positions], ws.weights[rep])
            cells = np.unique(np.concatenate([ar * n_b + br, as_ * n_b + bs]))
            jr = np.array([np.sum(ar * n_b + br == c) for c in cells], dtype=float)
            js = np.array([np.sum(as_ * n_b + bs == c) for c in cells], dtype=float)
            tv_dev[rep] += total_variation_distance(jr, js) - t.tv[p]
            diff = abs(normalized_mutual_information(ar, br) - normalized_mutual_information(as_, bs))
            nmi_dev[rep] += diff - abs(t.nmi_real[p] - t.nmi_synthetic[p])
    assert np.allclose(t.tv_replicates, t.tv.mean() + tv_dev / len(t.replicated), rtol=0, atol=1e-12)
    expect_nmi = np.abs(t.nmi_real - t.nmi_synthetic).mean() + nmi_dev / len(t.replicated)
    assert np.allclose(t.nmi_replicates, expect_nmi, rtol=0, atol=1e-12)
    # the metrics report exactly these, recentred
    sim = ContingencySimilarity(bootstrap_records=150).evaluate(small)
    assert sim.replicates == centred(sim.value, 1.0 - t.tv_replicates, scale=t.scale, low=0.0, high=1.0)[1]
    mi = MutualInformationDifference(bootstrap_records=150).evaluate(small)
    assert mi.replicates == centred(mi.value, t.nmi_replicates, scale=t.scale, low=0.0, high=1.0)[1]


def test_mutual_information_is_computed_only_when_asked(small: EvalInputs) -> None:
    t = pair_tables(small, bins=7)  # a table of its own (another bins)
    assert "_nmi_sides" not in vars(t)  # contingency alone never pays for it
    ContingencySimilarity(bins=7).evaluate(small)
    assert "_nmi_sides" not in vars(t)
    assert all(math.isfinite(v) for v in t.nmi_real)
    assert "_nmi_sides" in vars(t)


@pytest.mark.parametrize("metric", [KsStatistic, TotalVariation, CorrelationDifference, ContingencySimilarity])
def test_loops_split_over_cores_give_the_same_results(metric: type, monkeypatch: pytest.MonkeyPatch) -> None:
    """Large inputs split their replicates, columns and pairs over threads: nothing may change."""
    real, syn = _table(300, 0), _table(260, 1)
    syn["x"] += 0.2

    def run() -> tuple[float, tuple[float, ...], list[tuple[str, float]]]:
        r = metric().evaluate(inputs_of(real, syn, n_bootstrap=40))
        return r.value, r.replicates, [(i.key, i.value) for i in r.items]

    monkeypatch.setattr(parallel, "available_cores", lambda: 1)
    alone = run()
    monkeypatch.setattr(parallel, "available_cores", lambda: 3)
    monkeypatch.setattr(parallel, "PARALLEL_RECORDS", 0)
    split = run()
    assert split[0] == alone[0]
    assert split[1] == alone[1]
    assert split[2] == alone[2]
