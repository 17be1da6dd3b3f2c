"""Every registered tabular generator keeps the same promises (run over the whole registry).

The table is a slice of real FLCHAIN data (missing values, integers, booleans, a 22-level
categorical) with three derived columns the real table lacks: a patterned patient identifier
and an admission/discharge date pair (for the date type and an ordering constraint).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from medsyn import synth
from medsyn.data import TabularDataset, read
from medsyn.errors import DataFormatError, InputError, NotFittedError
from medsyn.synth import GENERATORS
from tests.conftest import shared

TABULAR = [name for name, cls in GENERATORS.items() if "tabular" in {m.value for m in cls.supports.modalities}]


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    real = read(shared("survival_sets_sksurv_lifelines/flchain.csv")).data
    df = real.sample(800, random_state=0).reset_index(drop=True)
    rng = np.random.default_rng(0)
    df.insert(0, "patient_id", [f"P-{i:05d}" for i in rng.permutation(90000)[: len(df)]])
    df["admitted"] = pd.Timestamp("1995-01-01") + pd.to_timedelta(df["futime"].fillna(0) % 3000, unit="D")
    df["discharged"] = df["admitted"] + pd.to_timedelta(rng.integers(0, 30, len(df)), unit="D")
    return df


def _make(name: str) -> synth.TabularGenerator:
    cls = GENERATORS.get(name)
    return cls(**dict(cls.quick_params))  # type: ignore[return-value]


@pytest.fixture(scope="module", params=TABULAR)
def fitted(request: pytest.FixtureRequest, table: pd.DataFrame) -> tuple[str, synth.TabularGenerator]:
    gen = _make(request.param)
    # dates get declared bounds (inference leaves them open; DP generators need public bounds)
    # and complete columns are declared not nullable, as a data owner would (DP reads neither from the data)
    fields: dict[str, dict[str, object]] = {c: {"nullable": False} for c in table if not table[c].isna().any()}
    for c in ("admitted", "discharged"):
        fields[c] |= {"minimum": "1994-01-01", "maximum": "2004-12-31"}
    ds = TabularDataset(table, TabularDataset(table).schema.with_overrides({"fields": fields}))
    gen.fit(ds, constraints=["discharged >= admitted", "kappa <= 10"], seed=0)
    return request.param, gen


def test_types_ranges_categories_and_fresh_identifiers(fitted, table: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    _, gen = fitted
    out = gen.sample(400, seed=0).data
    assert list(out.columns) == list(table.columns)
    assert out.dtypes.astype(str).to_dict() == table.dtypes.astype(str).to_dict()
    for col in ("age", "kappa", "creatinine", "futime"):
        assert out[col].min() >= table[col].min(), col
        assert out[col].max() <= table[col].max(), col
    for col in ("sex", "death", "chapter", "mgus"):
        assert set(out[col].dropna().astype(str)) <= set(table[col].dropna().astype(str)), col
    assert (out["age"] == out["age"].round()).all()
    assert not set(out["patient_id"]) & set(table["patient_id"])
    assert out["patient_id"].is_unique
    # the training format, except under DP where nothing about identifiers is read from the data
    assert out["patient_id"].str.fullmatch(r"SYN-\d{6}" if gen.privacy else r"P-\d+").all()
    # missingness is learned, not dropped: creatinine is missing in ~17 % of real rows
    assert 0.05 < out["creatinine"].isna().mean() < 0.35
    assert (out["discharged"] >= out["admitted"]).all()
    assert (out["kappa"] <= 10).all()


def _copies(rows: pd.DataFrame, of: pd.DataFrame) -> float:
    """Share of ``rows`` equal to some row of ``of`` on every column they share but the identifier."""
    cols = [c for c in rows.columns if c in of.columns and c != "patient_id"]
    seen = set(pd.util.hash_pandas_object(of[cols].astype(str), index=False))
    return float(np.mean([h in seen for h in pd.util.hash_pandas_object(rows[cols].astype(str), index=False)]))


def test_no_more_copies_of_training_rows_than_chance(fitted, table: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    """Chance: how often a real patient *outside* the training slice equals a training row (on the
    real columns; the synthetic rows are compared on every column, the derived dates too)."""
    _, gen = fitted
    real = read(shared("survival_sets_sksurv_lifelines/flchain.csv")).data
    outside = real.loc[~real.index.isin(real.sample(800, random_state=0).index)].head(2000)
    chance = _copies(outside, table)
    assert _copies(gen.sample(2000, seed=5).data, table) <= chance + 0.002


def test_deterministic_under_a_seed(fitted) -> None:  # type: ignore[no-untyped-def]
    _, gen = fitted
    a, b = gen.sample(300, seed=7).data, gen.sample(300, seed=7).data
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(gen.sample(300, seed=8).data)


def test_conditions_hold_on_every_row_including_rare_ones(fitted, table: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    _, gen = fitted
    out = gen.sample(150, conditions='sex == "F" and age >= 70 and death == "dead"', seed=1).data
    assert len(out) == 150
    assert (out["sex"] == "F").all()
    assert (out["age"] >= 70).all()
    assert (out["death"] == "dead").all()
    share = table["chapter"].value_counts(normalize=True)
    rare = str(share[(share > 0.005) & (share < 0.03)].index[0])  # a category of 0.5–3 % of rows
    out = gen.sample(50, conditions={"chapter": rare}, seed=2).data
    assert (out["chapter"] == rare).all()
    assert len(out) == 50
    assert gen.sample(40, conditions="creatinine is missing", seed=3).data["creatinine"].isna().all()
    dates = gen.sample(40, conditions="admitted >= 2000-01-01", seed=3).data
    assert (dates["admitted"] >= pd.Timestamp("2000-01-01")).all()


@pytest.mark.parametrize("seed", range(5))
def test_constraints_hold_over_seeds(fitted, seed: int) -> None:  # type: ignore[no-untyped-def]
    _, gen = fitted
    out = gen.sample(200, constraints=["lambda >= kappa"], seed=seed).data
    assert (out["lambda"] >= out["kappa"]).all()
    assert (out["discharged"] >= out["admitted"]).all()


def test_save_load_round_trip_and_corruption(fitted, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _name, gen = fitted
    gen.save(tmp_path / "m")
    again = synth.load(tmp_path / "m")
    assert type(again) is type(gen)
    pd.testing.assert_frame_equal(gen.sample(100, seed=4).data, again.sample(100, seed=4).data)
    arrays = tmp_path / "m" / "arrays.safetensors"
    arrays.write_bytes(arrays.read_bytes()[:-8])
    with pytest.raises(DataFormatError, match="does not match the digest"):
        synth.load(tmp_path / "m")
    gen.save(tmp_path / "m2")
    meta = json.loads((tmp_path / "m2" / "model.json").read_text())
    meta["state"]["plan"]["columns"] = meta["state"]["plan"]["columns"][:2]
    (tmp_path / "m2" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(DataFormatError, match="damaged model"):
        synth.load(tmp_path / "m2")


def test_bad_conditions_are_clear_errors(fitted) -> None:  # type: ignore[no-untyped-def]
    _, gen = fitted
    with pytest.raises(InputError, match="unknown column 'agee'"):
        gen.sample(10, conditions="agee > 3")
    with pytest.raises(InputError, match="never seen in training"):
        gen.sample(10, conditions="sex == X")
    with pytest.raises(InputError, match="can satisfy"):
        gen.sample(10, conditions="age > 200")
    with pytest.raises(InputError, match="identifier column"):
        gen.sample(10, conditions="patient_id == P-00001")


def test_privacy_guarantee_is_reported_and_within_budget(fitted) -> None:  # type: ignore[no-untyped-def]
    _, gen = fitted
    epsilon = getattr(gen, "epsilon", None)
    if epsilon is None:
        assert gen.privacy is None
    else:
        assert gen.privacy is not None
        assert gen.privacy.epsilon <= epsilon * (1 + 1e-9)
        assert gen.privacy.spends


@pytest.mark.parametrize("name", TABULAR)
def test_bad_training_data(name: str, table: pd.DataFrame) -> None:
    with pytest.raises(NotFittedError):
        _make(name).sample(5)
    with pytest.raises(InputError, match="at least 2 rows"):
        _make(name).fit(table.head(1))
    with pytest.raises(InputError, match="every value missing"):
        _make(name).fit(table.assign(empty=np.nan))
    with pytest.raises(InputError, match="cycle"):
        _make(name).fit(table, constraints=["kappa > lambda", "lambda > kappa"])
