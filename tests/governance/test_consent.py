"""Consent filtering: which records stay for a purpose, why the others go, and clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medsyn.data import TabularDataset, read
from medsyn.data.dataset import ImageDataset, SignalDataset, SignalRecord
from medsyn.data.schema import Role
from medsyn.errors import InputError
from medsyn.governance._consent import ConsentValue, consent_scope, filter_consent, parse_consent_value
from tests.conftest import shared

PURPOSES = ["treatment", "quality_improvement", "research", "ai_development", "public_health"]


def _expected_keep(value: object, purpose: str) -> bool:
    """The documented reading of one cell, written out plainly."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return False
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"yes", "y", "true", "t", "1"}:
        return True
    if text in {"no", "n", "false", "f", "0", ""}:
        return False
    return purpose in {t.strip().replace(" ", "_") for t in text.replace("|", ";").replace(",", ";").split(";")}


@pytest.mark.shared_data
def test_filters_a_real_table_by_its_consent_column() -> None:
    ds = read(shared("heart_disease_cleveland/heart_cleveland.csv"))
    rng = np.random.default_rng(7)
    forms = np.array(["yes", "No", "", "research; ai_development", "treatment", " Y ", "AI development|research"])
    frame = ds.attributes.assign(consent=rng.choice(forms, size=len(ds)))
    frame.loc[rng.choice(len(frame), 20, replace=False), "consent"] = None
    table = TabularDataset(frame, provenance=ds.provenance)
    assert table.schema["consent"].has_role(Role.CONSENT)  # inferred from the name

    result = filter_consent(table, "research", purposes=PURPOSES)

    keep = np.array([_expected_keep(v, "research") for v in frame["consent"]])
    assert (result.kept, result.excluded) == (int(keep.sum()), int((~keep).sum()))
    assert sum(result.excluded_by_reason.values()) == result.excluded
    assert set(result.excluded_by_reason) == {"refused", "no_consent_recorded", "purpose_not_consented"}
    blank = sum(1 for v in frame["consent"] if v is None or not str(v).strip())
    assert result.excluded_by_reason["no_consent_recorded"] == blank
    out = result.dataset
    pd.testing.assert_frame_equal(out.attributes, frame[keep].reset_index(drop=True))
    assert out.schema == table.schema
    assert out.provenance.reader == "medsyn.governance.consent"
    assert out.provenance.source == f"consent[research]:{ds.provenance.source}"
    assert out.provenance.digest != ds.provenance.digest
    assert (result.column, result.purpose) == ("consent", "research")
    assert "kept" in result.note
    assert result.to_dict()["excluded"] == result.excluded
    # the caller's table is untouched
    assert len(table) == len(ds)


def test_opt_out_per_purpose_and_combined_columns() -> None:
    frame = pd.DataFrame(
        {
            "age": [70, 71, 72, 73, 74, 75],
            "opt_out": ["no", "yes", "research", "ai_development", None, "no"],
            "consent_research": [True, True, True, True, True, False],
            "consent_ai_development": [False, True, True, True, True, True],
        }
    )
    ds = TabularDataset(frame)
    research = filter_consent(ds, "research", purposes=PURPOSES)
    # row 1 opted out of everything, row 2 of research; row 5 refused research in its per-purpose column
    assert research.dataset.attributes["age"].tolist() == [70, 73, 74]
    assert dict(research.excluded_by_reason) == {"opted_out": 2, "refused": 1}
    assert research.columns == ("opt_out", "consent_research")
    assert research.ignored_columns == ("consent_ai_development",)
    ai = filter_consent(ds, "ai_development", purposes=PURPOSES)
    assert ai.dataset.attributes["age"].tolist() == [72, 74, 75]
    # treatment: no per-purpose column, the opt-out column grants rows 0 and 5 (no opt-out) and row 2/3 (other purposes)
    treatment = filter_consent(ds, "treatment", purposes=PURPOSES)
    assert treatment.dataset.attributes["age"].tolist() == [70, 72, 73, 75]
    assert treatment.excluded_by_reason == {"no_consent_recorded": 1, "opted_out": 1}


def test_without_a_consent_column_everything_is_kept_and_said() -> None:
    ds = TabularDataset(pd.DataFrame({"age": [1, 2, 3]}))
    result = filter_consent(ds, "research", purposes=PURPOSES)
    assert result.dataset is ds
    assert (result.kept, result.excluded, result.column) == (3, 0, None)
    assert result.note == "no consent column: all 3 records kept"
    assert consent_scope(ds, PURPOSES) is None


def test_consent_scope_lists_purposes_some_record_consented_to() -> None:
    ds = TabularDataset(pd.DataFrame({"consent": ["research", "research|treatment", "no", None]}))
    assert consent_scope(ds, PURPOSES) == frozenset({"research", "treatment"})
    assert consent_scope(TabularDataset(pd.DataFrame({"consent": ["no", "n"]})), PURPOSES) == frozenset()


def test_typed_columns_booleans_numbers_and_nullable() -> None:
    nullable = pd.Series([True, False, None, True], dtype="boolean")
    numbers = pd.Series([1.0, 0.0, np.nan, 1.0])
    for column in (nullable, numbers):
        result = filter_consent(TabularDataset(pd.DataFrame({"consent": column})), "research", purposes=PURPOSES)
        assert (result.kept, dict(result.excluded_by_reason)) == (2, {"no_consent_recorded": 1, "refused": 1})


def test_bad_values_name_the_column_values_and_accepted_forms() -> None:
    frame = pd.DataFrame({"consent": ["yes", "maybe", "maybe", "reserch", 2, "no"]})
    with pytest.raises(InputError) as caught:
        filter_consent(TabularDataset(frame), "research", purposes=PURPOSES)
    text = str(caught.value)
    assert "consent column 'consent'" in text
    assert "'maybe' (2 records), 'reserch' (1 records), '2' (1 records)" in text
    assert "yes/no" in text
    assert "'research'" in text  # the declared purposes are listed
    per_purpose = TabularDataset(pd.DataFrame({"consent_research": ["yes", "research"]}))
    with pytest.raises(InputError, match="yes/no values \\(it is a per-purpose column\\)"):
        filter_consent(per_purpose, "research", purposes=PURPOSES)
    with pytest.raises(InputError, match="purpose: 'marketing'; expected one of the declared purposes"):
        filter_consent(TabularDataset(frame), "marketing", purposes=PURPOSES)
    with pytest.raises(InputError, match=r"consent column\(s\) \['agreed'\] not found"):
        filter_consent(TabularDataset(frame), "research", purposes=PURPOSES, columns=["agreed"])


def test_named_columns_override_the_schema_roles() -> None:
    frame = pd.DataFrame({"agreed": ["yes", "no", "yes"], "consent": ["no", "no", "no"]})
    result = filter_consent(TabularDataset(frame), "research", purposes=PURPOSES, columns=["agreed"])
    assert (result.columns, result.kept) == (("agreed",), 2)


def test_signal_and_image_datasets_filter_through_their_attributes() -> None:
    records = [SignalRecord(f"r{i}", np.full((1, 10), float(i)), 100.0, ("I",), ("mV",)) for i in range(4)]
    attributes = pd.DataFrame({"record": [r.name for r in records], "consent": ["yes", "no", "research", ""]})
    signals = SignalDataset(records, attributes)
    result = filter_consent(signals, "research", purposes=PURPOSES)
    assert [r.name for r in result.dataset.records] == ["r0", "r2"]
    assert result.dataset.attributes["record"].tolist() == ["r0", "r2"]
    assert result.dataset.provenance.digest  # derived from the parent and the kept positions

    images = ImageDataset.from_arrays(
        [np.full((2, 2), i) for i in range(3)],
        pd.DataFrame({"file": ["a", "b", "c"], "opt_out": ["no", "yes", "no"]}),
    )
    kept = filter_consent(images, "research", purposes=PURPOSES).dataset
    assert [int(im[0, 0]) for im in kept] == [0, 2]
    assert isinstance(kept, ImageDataset)


def test_many_rows_cost_their_distinct_values() -> None:
    values = np.random.default_rng(0).choice(np.array(["yes", "no", "research;treatment", ""], dtype=object), 200_000)
    result = filter_consent(TabularDataset(pd.DataFrame({"consent": values})), "research", purposes=PURPOSES)
    assert result.kept == int(np.isin(values, ["yes", "research;treatment"]).sum())


# ------------------------------------------------------------------------------ parser properties

PADDED = st.tuples(st.sampled_from(["", " ", "  "]), st.sampled_from(["", " ", "\t"]))


def _case(text: str, data: st.DataObject) -> str:
    flips = data.draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if f else c for c, f in zip(text, flips, strict=True))


@settings(max_examples=150, deadline=None)
@given(
    chosen=st.lists(st.sampled_from(PURPOSES), min_size=1, max_size=5, unique=True),
    separator=st.sampled_from([";", ",", "|", " ; ", ", ", " | "]),
    pad=PADDED,
    data=st.data(),
)
def test_purpose_lists_parse_whatever_the_separator_case_and_spacing(
    chosen: list[str], separator: str, pad: tuple[str, str], data: st.DataObject
) -> None:
    spelled = [_case(p.replace("_", data.draw(st.sampled_from(["_", " ", "-"]))), data) for p in chosen]
    parsed = parse_consent_value(pad[0] + separator.join(spelled) + pad[1], PURPOSES)
    assert parsed == ConsentValue(purposes=frozenset(chosen))
    for purpose in PURPOSES:
        assert parsed.covers(purpose) == (purpose in chosen)


@settings(max_examples=100, deadline=None)
@given(word=st.sampled_from(["yes", "y", "true", "t", "1", "no", "n", "false", "f", "0"]), pad=PADDED, data=st.data())
def test_boolean_words_mean_all_or_nothing(word: str, pad: tuple[str, str], data: st.DataObject) -> None:
    parsed = parse_consent_value(pad[0] + _case(word, data) + pad[1], PURPOSES)
    assert parsed == ConsentValue(all=word in {"yes", "y", "true", "t", "1"})


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=12))
def test_any_other_text_is_missing_or_refused_loudly(text: str) -> None:
    try:
        parsed = parse_consent_value(text, PURPOSES)
    except ValueError:
        return
    word = text.strip().lower()
    if parsed is None:
        assert not word
    elif parsed.purposes:
        assert parsed.purposes <= set(PURPOSES)
        assert not parsed.all
    else:
        assert word in {"yes", "y", "true", "t", "1", "no", "n", "false", "f", "0"}
        assert parsed.all == (word in {"yes", "y", "true", "t", "1"})


@settings(max_examples=60, deadline=None)
@given(
    cells=st.lists(
        st.one_of(
            st.none(),
            st.sampled_from(["yes", "no", "", "Y", "research", "treatment|research", "ai_development"]),
        ),
        min_size=1,
        max_size=40,
    ),
    purpose=st.sampled_from(PURPOSES),
)
def test_kept_and_excluded_add_up_and_match_each_cell(cells: list[str | None], purpose: str) -> None:
    ds = TabularDataset(pd.DataFrame({"consent": pd.Series(cells, dtype=object)}))
    result = filter_consent(ds, purpose, purposes=PURPOSES)
    expected = [c for c in cells if _expected_keep(c, purpose)]
    assert result.kept == len(expected)
    assert result.kept + result.excluded == len(cells) == result.kept + sum(result.excluded_by_reason.values())
    assert result.dataset.attributes["consent"].tolist() == expected
