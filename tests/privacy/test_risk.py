"""Re-identification risk, population-uniqueness estimators and the risk report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medsyn.data import Field, FieldType, Role, Schema, TabularDataset, read
from medsyn.errors import InputError
from medsyn.metric import Status
from medsyn.privacy import (
    RiskReport,
    UniquenessModel,
    assess_risk,
    equivalence_classes,
    population_uniqueness,
    reidentification_risk,
)
from tests.conftest import shared

DIABETES = "diabetes_130us_hospitals/dataset_diabetes.zip/dataset_diabetes/diabetic_data.csv"

# ---------------------------------------------------------------------------- attacker risk


def _sample() -> pd.DataFrame:
    # classes: (F,70) ×2, (M,80) ×2, (M,90) ×1
    return pd.DataFrame({"sex": ["F", "F", "M", "M", "M"], "age": [70, 70, 80, 80, 90]})


def test_prosecutor_risk_hand_computed() -> None:
    r = reidentification_risk(_sample(), ["sex", "age"], threshold=0.5)
    assert r.prosecutor.maximum == 1.0
    assert r.prosecutor.average == pytest.approx(3 / 5)
    assert r.prosecutor.records_at_risk == pytest.approx(1 / 5)  # only the unique record is above 0.5
    assert r.per_record.tolist() == [0.5, 0.5, 0.5, 0.5, 1.0]
    assert r.sample_uniques == 1
    assert r.sample_uniqueness == pytest.approx(0.2)
    # without a population the journalist risk is the prosecutor's (an upper bound), marketer = classes / records
    assert r.journalist.maximum == 1.0
    assert "upper bound" in r.journalist.basis
    assert r.marketer.average == pytest.approx(3 / 5)
    assert r.to_dict()["prosecutor"]["maximum"] == 1.0  # type: ignore[index]


def test_journalist_and_marketer_with_a_population_hand_computed() -> None:
    sample = _sample()
    extra = pd.DataFrame({"sex": ["F", "F", "M", "M", "M", "M", "F"], "age": [70, 70, 90, 90, 90, 90, 50]})
    population = pd.concat([sample, extra], ignore_index=True)  # F = 4, 2, 5 for the three sample classes
    r = reidentification_risk(sample, ["sex", "age"], population=population, threshold=0.2)
    assert r.journalist.maximum == pytest.approx(1 / 2)
    marketer = (2 / 4 + 2 / 2 + 1 / 5) / 5
    assert r.marketer.average == pytest.approx(marketer)
    assert r.journalist.average == pytest.approx(max(3 / 11, marketer))
    assert r.journalist.records_at_risk == pytest.approx(4 / 5)  # 1/5 is not above 0.2
    assert r.journalist_per_record.tolist() == pytest.approx([0.25, 0.25, 0.5, 0.5, 0.2])
    assert r.prosecutor.maximum == 1.0  # the prosecutor still knows the person is in the sample


def test_journalist_from_a_sampling_fraction() -> None:
    r = reidentification_risk(_sample(), ["sex", "age"], sampling_fraction=0.1)
    assert r.journalist.maximum == pytest.approx(0.1)  # F = f / π = 10 for the unique record
    assert r.marketer.average == pytest.approx(0.1 * 3 / 5)  # Σ f/F over classes / records = π · classes / records


def test_suppressed_records_carry_no_risk() -> None:
    r = reidentification_risk(_sample(), ["sex", "age"], keep=[True, True, True, True, False])
    assert r.per_record.tolist() == [0.5, 0.5, 0.5, 0.5, 0.0]
    assert r.prosecutor.maximum == 0.5
    assert r.suppressed == 1
    assert r.records == 4


def test_attacker_risk_bad_input() -> None:
    with pytest.raises(InputError) as err:
        reidentification_risk(_sample(), ["sex"], threshold=0, sampling_fraction=1.5)
    assert len(err.value.problems) == 2
    with pytest.raises(InputError, match="population"):
        reidentification_risk(_sample(), ["sex", "age"], population=_sample().iloc[:3])
    with pytest.raises(InputError, match="'age'"):
        reidentification_risk(_sample(), ["sex", "age"], population=_sample()[["sex"]])


frames = st.integers(min_value=1, max_value=60).flatmap(
    lambda n: st.fixed_dictionaries(
        {
            "a": st.lists(st.sampled_from(["x", "y", "z"]), min_size=n, max_size=n),
            "b": st.lists(st.integers(0, 4), min_size=n, max_size=n),
        }
    )
)


@settings(max_examples=50, deadline=None)
@given(frames, st.integers(min_value=0, max_value=40), st.floats(min_value=0.05, max_value=1.0))
def test_risk_invariants(data: dict[str, list[object]], extra: int, threshold: float) -> None:
    df = pd.DataFrame(data)
    qis = ["a", "b"]
    ec = equivalence_classes(df, qis)
    r = reidentification_risk(df, qis, threshold=threshold, classes=ec)
    assert np.allclose(r.per_record, 1.0 / ec.record_sizes())
    assert r.prosecutor.maximum == pytest.approx(1.0 / ec.smallest)
    assert r.prosecutor.average == pytest.approx(ec.n_classes / len(df))
    assert 0.0 <= r.prosecutor.records_at_risk <= 1.0
    assert r.prosecutor.records_at_risk == pytest.approx(float((r.per_record > threshold).mean()))
    population = pd.concat([df, df.sample(n=extra, replace=True, random_state=0)], ignore_index=True) if extra else df
    rp = reidentification_risk(df, qis, population=population, threshold=threshold, classes=ec)
    assert (rp.journalist_per_record <= r.per_record + 1e-12).all()
    assert rp.journalist.maximum <= r.prosecutor.maximum + 1e-12
    assert rp.marketer.average <= r.prosecutor.average + 1e-12
    assert 0.0 < rp.marketer.average <= 1.0


# ------------------------------------------------------------------- population uniqueness


def _hypergeom_pmf1(population: int, successes: int, draws: int) -> float:
    return math.comb(successes, 1) * math.comb(population - successes, draws - 1) / math.comb(population, draws)


def test_zayatz_hand_computed() -> None:
    u = population_uniqueness([1, 1, 2], sampling_fraction=0.5, model="zayatz")  # n = 4, N = 8
    p1, p2 = _hypergeom_pmf1(8, 1, 4), _hypergeom_pmf1(8, 2, 4)
    conditional = (2 / 3 * p1) / (2 / 3 * p1 + 1 / 3 * p2)
    assert u.zayatz == pytest.approx(2 * conditional / 0.5)
    assert u.population_uniques == u.zayatz
    assert u.chosen is UniquenessModel.ZAYATZ
    assert u.population_size == 8


def test_no_sample_uniques_means_no_population_uniques() -> None:
    u = population_uniqueness([2, 3, 5], sampling_fraction=0.05)
    assert (u.pitman, u.zayatz, u.snb, u.population_uniques) == (0.0, 0.0, 0.0, 0.0)
    assert u.chosen is UniquenessModel.DANKAR


def test_population_uniqueness_bad_input() -> None:
    with pytest.raises(InputError) as err:
        population_uniqueness([0, 1], sampling_fraction=0)
    assert len(err.value.problems) == 2
    with pytest.raises(InputError, match="model"):
        population_uniqueness([1, 2], sampling_fraction=0.1, model="poisson")


def _zipf_population(seed: int) -> np.ndarray:
    """400,000 people whose quasi-identifier combinations follow a Zipf law (a few common, many rare)."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, 200_001) ** 1.3
    return rng.choice(len(weights), size=400_000, p=weights / weights.sum())


@pytest.mark.parametrize(("fraction", "expected"), [(0.05, UniquenessModel.PITMAN), (0.5, UniquenessModel.ZAYATZ)])
def test_estimators_recover_population_uniques_of_a_known_population(
    fraction: float, expected: UniquenessModel
) -> None:
    population = _zipf_population(0)
    truth = int((np.bincount(population) == 1).sum())
    rng = np.random.default_rng(1)
    drawn = population[rng.choice(len(population), size=int(len(population) * fraction), replace=False)]
    sizes = np.bincount(drawn)
    u = population_uniqueness(sizes[sizes > 0], sampling_fraction=fraction)
    assert u.chosen is expected  # Dankar's rule: Pitman at small fractions, min(Zayatz, SNB) at large ones
    assert 0.67 * truth <= u.population_uniques <= 1.5 * truth
    for estimate in (u.pitman, u.zayatz, u.snb):
        assert estimate is not None
        assert 0.67 * truth <= estimate <= 1.5 * truth
    # the naive guess (sample uniques / π) is far off: the estimators are doing real work
    assert u.sample_uniques / fraction > 1.5 * truth or fraction > 0.1
    assert u.population_uniqueness == pytest.approx(u.population_uniques / 400_000)


# ------------------------------------------------------------------------------ the report


def _table() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 400
    return pd.DataFrame(
        {
            "sex": rng.choice(["F", "M"], n),
            "age_band": rng.choice(["40-49", "50-59", "60-69"], n),
            "dx": rng.choice(["a", "b", "c", "d"], n),
            "los": rng.integers(1, 10, n),
        }
    )


def test_assess_risk_on_a_safe_table() -> None:
    r = assess_risk(_table(), quasi_identifiers=["sex", "age_band"], sensitive=["dx", "los"], k=5)
    assert r.k_anonymity.k >= 40
    assert r.l_diversity is not None
    assert r.l_diversity.l == 4.0
    assert r.t_closeness is not None
    assert r.t_closeness.t < 0.2
    assert r.limits.max_risk == pytest.approx(0.2)
    assert {m.metric: m.status for m in r.results}["privacy.k_anonymity"] is Status.PASS
    assert r.status is Status.PASS
    assert any("1%" in w for w in r.warnings)  # the assumed sampling fraction is said
    as_dict = r.to_dict()
    json.dumps(as_dict, allow_nan=False)
    assert as_dict["population_uniqueness"]["basis"].startswith("assumed")  # type: ignore[index]


def test_assess_risk_reads_roles_from_the_schema() -> None:
    df = _table()
    schema = Schema(
        (
            Field("sex", FieldType.CATEGORICAL, (Role.PROTECTED, Role.QUASI_IDENTIFIER)),
            Field("age_band", FieldType.CATEGORICAL, (Role.QUASI_IDENTIFIER,)),
            Field("dx", FieldType.CATEGORICAL, (Role.SENSITIVE,)),
            Field("los", FieldType.INTEGER),
        )
    )
    r = assess_risk(TabularDataset(df, schema))
    assert r.quasi_identifiers == ("sex", "age_band")
    assert r.sensitive == ("dx",)


def test_assess_risk_flags_a_risky_table() -> None:
    df = _table().assign(los=np.arange(400))  # a unique value per record
    r = assess_risk(df, quasi_identifiers=["sex", "los"], sensitive=["dx"], k=5)
    by_metric = {m.metric: m for m in r.results}
    assert by_metric["privacy.k_anonymity"].status is Status.FAIL
    assert by_metric["privacy.max_risk"].value == 1.0
    assert by_metric["privacy.records_at_risk"].value == 1.0
    assert r.status is Status.FAIL


def test_assess_risk_with_a_population() -> None:
    population = _table()
    sample = population.sample(n=100, random_state=0).reset_index(drop=True)
    r = assess_risk(sample, quasi_identifiers=["sex", "age_band"], sensitive=["dx"], population=population, k=5)
    assert r.k_map is not None
    assert r.k_map.k >= r.k_anonymity.k
    assert r.delta_presence is not None
    assert 0 < r.delta_presence.delta_max <= 1
    assert r.uniqueness.sampling_fraction == pytest.approx(0.25)
    assert r.uniqueness_basis == "population table"
    assert {"privacy.k_map", "privacy.delta_presence"} <= {m.metric for m in r.results}


def test_assess_risk_collects_every_bad_input() -> None:
    df = _table()
    with pytest.raises(InputError) as err:
        assess_risk(df, quasi_identifiers=["sexx", "dx"], sensitive=["dx"], k=1000, max_risk=2.0)
    text = str(err.value)
    assert "'sexx'" in text
    assert "'sex'" in text  # the close name
    assert "also listed" in text
    assert "larger than the data" in text
    assert "max_risk" in text
    assert len(err.value.problems) == 4


def test_assess_risk_without_quasi_identifiers_says_how_to_fix() -> None:
    df = pd.DataFrame({"x": [1.5, 2.5, 3.5]})
    with pytest.raises(InputError, match="role: quasi_identifier"):
        assess_risk(df)
    with pytest.raises(InputError, match="one of the two"):
        assess_risk(_table(), quasi_identifiers=["sex"], population=_table(), sampling_fraction=0.1)


def test_write_renders_both_files_before_writing_either(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = assess_risk(_table(), quasi_identifiers=["sex", "age_band"], sensitive=["dx"])
    files = r.write(tmp_path / "out")
    data = json.loads(files.json.read_text())
    assert data["k_anonymity"]["k"] == r.k_anonymity.k
    assert "results" in data
    html = files.html.read_text()
    assert "Re-identification risk" in html
    assert "k-anonymity" in html

    def boom(self: RiskReport) -> str:
        raise RuntimeError("rendering failed")

    monkeypatch.setattr(RiskReport, "to_html", boom)
    with pytest.raises(RuntimeError):
        r.write(tmp_path / "second")
    assert not (tmp_path / "second").exists() or not any((tmp_path / "second").iterdir())


@pytest.mark.shared_data
def test_real_diabetes_table_risk_report(tmp_path: Path) -> None:
    ds = read(shared(DIABETES))
    r = assess_risk(ds)  # roles from the inferred schema: race, gender, age, weight; diagnoses sensitive
    assert set(r.quasi_identifiers) >= {"race", "gender", "age"}
    naive = ds.data.groupby(list(r.quasi_identifiers), dropna=False, observed=True).size()
    assert r.k_anonymity.k == int(naive.min())
    assert r.reidentification.sample_uniques == int((naive == 1).sum())
    flagged = {f.column: f.category.letter for f in r.hipaa.findings}
    assert flagged["patient_nbr"] == "H"  # a medical record number
    assert flagged["encounter_id"] == "R"
    files = r.write(tmp_path)
    assert json.loads(files.json.read_text())["status"] == r.status.value
