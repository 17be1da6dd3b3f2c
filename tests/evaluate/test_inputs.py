"""Evaluation inputs: validation with every problem at once, stated handling, shared encodings and resamples."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from medsyn.data import TabularDataset
from medsyn.data.dataset import ImageDataset
from medsyn.data.schema import Role
from medsyn.errors import InputError
from medsyn.evaluate import EvalInputs, TableEncoding, column_codes


def _table(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(n) + 1000 * seed,
            "age": rng.integers(18, 95, n),
            "sex": rng.choice(["F", "M"], n),
            "sbp": rng.normal(130, 15, n).round(1),
            "outcome": rng.choice(["yes", "no"], n),
        }
    )


def _ds(frame: pd.DataFrame, like: TabularDataset | None = None) -> TabularDataset:
    ds = TabularDataset(frame)
    roles = {
        "id": {"type": "identifier", "role": "identifier"},
        "sex": {"role": "protected"},
        "age": {"role": "protected"},
        "outcome": {"role": "target"},
    }
    schema = like.schema if like is not None else ds.schema.with_overrides({"fields": roles})
    return TabularDataset(frame, schema)


@pytest.fixture
def real() -> TabularDataset:
    return _ds(_table())


def test_defaults_come_from_schema_roles(real: TabularDataset) -> None:
    inputs = EvalInputs.build(real, _ds(_table(seed=1), real))
    assert inputs.target == "outcome"
    assert set(inputs.protected) == {"age", "sex"}
    assert inputs.notes == []


def test_every_column_problem_is_reported_at_once(real: TabularDataset) -> None:
    bad = _table(seed=1).drop(columns=["sbp"]).assign(extra=1)
    bad["age"] = bad["age"].astype(object)
    bad.loc[3, "age"] = "old"
    with pytest.raises(InputError) as err:
        EvalInputs.build(real, TabularDataset(bad))
    text = str(err.value)
    assert "sbp" in text
    assert "extra" in text
    assert "'age'" in text
    assert "old" in text


def test_too_few_records_and_wrong_modality(real: TabularDataset) -> None:
    with pytest.raises(InputError, match="at least 2 records"):
        EvalInputs.build(real, real.select([0]))
    images = ImageDataset.from_arrays([np.zeros((4, 4))] * 3)
    with pytest.raises(InputError, match="image dataset"):
        EvalInputs.build(real, images)  # type: ignore[arg-type]


def test_unknown_target_and_protected_are_named(real: TabularDataset) -> None:
    with pytest.raises(InputError) as err:
        EvalInputs.build(real, real, target="died", protected=["ethnicity"])
    assert "died" in str(err.value)
    assert "ethnicity" in str(err.value)


def test_new_categories_and_new_gaps_are_stated_not_dropped(real: TabularDataset) -> None:
    syn = _table(seed=2)
    syn.loc[:4, "sex"] = "X"
    syn.loc[:9, "sbp"] = np.nan
    inputs = EvalInputs.build(real, _ds(syn, real))
    messages = " ".join(n.message for n in inputs.notes)
    assert "5 value(s) in categories the real data never had" in messages
    assert "10 missing value(s)" in messages
    codes = inputs.codes("sex")
    assert codes.labels[-1] == "<other>"
    assert int((codes.codes[1] == len(codes.labels) - 1).sum()) == 5


def test_encoding_scales_numbers_to_real_range_and_one_hot_costs_one(real: TabularDataset) -> None:
    frame = real.data
    enc = TableEncoding.fit(frame, real.schema)
    assert "id" in enc.excluded
    x = enc.transform(frame)
    sl = enc.slices()
    age = x[:, sl["age"]].ravel()
    assert age.min() == 0
    assert age.max() == 1
    a = frame.index[frame["sex"] == "F"][0]
    b = frame.index[frame["sex"] == "M"][0]
    assert math.isclose(float(np.linalg.norm(x[a, sl["sex"]] - x[b, sl["sex"]])), 1.0, rel_tol=1e-6)
    assert enc.without("outcome").size == enc.width - 2


def test_missing_values_get_an_indicator_and_sit_mid_range(real: TabularDataset) -> None:
    syn = _table(seed=3)
    syn.loc[0, "sbp"] = np.nan
    enc = TableEncoding.fit(real.data, real.schema, [syn])
    x = enc.transform(syn)
    sl = enc.slices()["sbp"]
    assert sl.stop - sl.start == 2
    assert x[0, sl.start] == 0.5
    assert x[0, sl.start + 1] == 1


def test_numeric_codes_share_real_quantile_bins(real: TabularDataset) -> None:
    shifted = real.data.assign(sbp=real.data["sbp"] + 1000)
    codes = column_codes([real.data, shifted], real.schema["sbp"], bins=10)
    assert codes.binned
    assert len(set(codes.codes[0])) == 10
    assert set(codes.codes[1]) == {9}  # all beyond the real maximum: the top bin


def test_groups_use_age_bands_and_note_small_groups(real: TabularDataset) -> None:
    syn = _table(seed=1)
    syn.loc[:4, "sex"] = "X"
    inputs = EvalInputs.build(real, _ds(syn, real))
    groups, notes = inputs.groups(min_records=20)
    keys = {g.key for g in groups}
    assert {"sex=F", "sex=M", "age=40–64", "age=80+"} <= keys
    assert [n.scope for n in notes] == ["group sex=<other>"]
    for g in groups:
        if g.column == "sex":
            assert (real.data["sex"].iloc[g.real] == g.label).all()
            assert (syn["sex"].iloc[g.synthetic] == g.label).all()


def test_bootstrap_resamples_are_shared_and_ci_covers_the_mean(real: TabularDataset) -> None:
    inputs = EvalInputs.build(real, _ds(_table(seed=1), real), n_bootstrap=50)
    assert (inputs.resample("synthetic", 3) == inputs.resample("synthetic", 3)).all()
    assert not (inputs.resample("synthetic", 3) == inputs.resample("synthetic", 4)).all()
    terms = (inputs.frame("synthetic")["sex"] == "F").to_numpy(float)
    (lo, hi), reps = inputs.bootstrap_mean(terms, "synthetic")
    assert len(reps) == 50
    assert lo <= terms.mean() <= hi
    assert hi - lo < 0.3


@pytest.mark.parametrize("n", [2, 3, 1_000, 65_537, 1_000_003])
def test_32_bit_resample_draws_the_64_bit_positions(n: int) -> None:
    """The resample is drawn in 32 bits for speed; numpy must give the draw a 64-bit request gives."""
    for b in range(3):
        fast = np.random.default_rng([0, 7919, 1, b]).integers(0, n, n, dtype=np.int32)
        wide = np.random.default_rng([0, 7919, 1, b]).integers(0, n, n)
        np.testing.assert_array_equal(fast, wide)


def test_resample_is_the_seeded_64_bit_draw(real: TabularDataset) -> None:
    inputs = EvalInputs.build(real, _ds(_table(seed=1), real), seed=7)
    n = len(inputs.frame("synthetic"))
    for b in (0, 5):
        expect = np.random.default_rng([7, 7919, 1, b]).integers(0, n, n)
        np.testing.assert_array_equal(inputs.resample("synthetic", b), expect)


def test_restrict_shares_the_encoding(real: TabularDataset) -> None:
    inputs = EvalInputs.build(real, _ds(_table(seed=1), real))
    sub = inputs.restrict(np.arange(10), np.arange(5, 25))
    assert sub.encoding() is inputs.encoding()
    np.testing.assert_array_equal(sub.matrix("synthetic"), inputs.matrix("synthetic")[5:25])
    assert len(sub.frame("real")) == 10
    assert sub.holdout is None


def test_role_enum_used_for_protected_default(real: TabularDataset) -> None:
    assert [f.name for f in real.schema.by_role(Role.PROTECTED)] == ["age", "sex"]


def test_memo_computes_each_piece_once_across_threads() -> None:
    """Metrics split their loops over threads: a shared piece asked for at once is still computed once."""
    import threading
    import time

    inputs = EvalInputs.build(_ds(_table(50, 0)), _ds(_table(50, 1)))
    calls: list[str] = []
    start = threading.Barrier(4, timeout=10)

    def slow() -> int:
        calls.append(threading.current_thread().name)
        time.sleep(0.05)  # long enough for every thread to ask while it runs
        return 42

    def ask() -> None:
        start.wait()
        assert inputs.memo(("test-piece",), slow) == 42

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert inputs.memo(("other-piece",), lambda: 7) == 7  # a different piece is computed on its own
