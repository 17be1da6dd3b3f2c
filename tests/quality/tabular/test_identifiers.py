"""Identifier-like columns that must not be released."""

from __future__ import annotations

import numpy as np
import pandas as pd

from medsyn.data import TabularDataset
from medsyn.metric import Status
from medsyn.quality.tabular import IdentifierColumns


def test_clean_heart_has_no_identifier(heart: TabularDataset) -> None:
    res = IdentifierColumns().compute(heart)
    assert res.status is Status.PASS
    assert res.value == 0


def test_schema_identifiers_in_actg(actg: TabularDataset) -> None:
    res = IdentifierColumns().compute(actg)
    assert {i.key for i in res.items} == {"pidnum", "unnamed_0"}
    assert res.status is Status.WARN
    assert "must not be released" in res.reason


def test_injected_direct_identifiers_are_found(heart: TabularDataset) -> None:
    n = len(heart)
    rng = np.random.default_rng(8)
    frame = heart.data.copy()
    first = np.array(["Anna", "Ben", "Carla", "David", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kemal"])
    last = np.array(["Smith", "Okafor", "Nguyen", "Garcia", "Muller", "Rossi", "Novak", "Dubois", "Silva", "Jensen"])
    frame["contact"] = [f"p{i}.{rng.integers(1000)}@hospital.org" for i in range(n)]
    frame["tel"] = [f"+44 20 7{rng.integers(100, 999)} {rng.integers(1000, 9999)}" for _ in range(n)]
    initials = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    frame["full"] = [f"{rng.choice(first)} {rng.choice(initials)}. {rng.choice(last)}" for _ in range(n)]
    frame["dob"] = pd.Timestamp("1930-01-01") + pd.to_timedelta(rng.integers(0, 20_000, n), unit="D")
    frame["ref"] = rng.choice(np.arange(1_000_000, 9_999_999), size=n, replace=False)
    res = IdentifierColumns().compute(TabularDataset(frame))
    found = {i.key: i.note for i in res.items}
    assert set(found) == {"contact", "tel", "full", "dob", "ref"}
    assert "e-mail" in found["contact"]
    assert "phone" in found["tel"]
    assert "names" in found["full"]
    assert "birth" in found["dob"]
    assert "own value" in found["ref"]


def test_repeated_two_word_categories_are_not_names(icu: TabularDataset) -> None:
    frame = icu.data.copy()
    frame["source"] = np.where(frame["admit"] == "Emergency", "Emergency Room", "Physician Referral")
    frame["visit"] = pd.date_range("2001-01-01", periods=len(frame), freq="D").strftime("%Y-%m-%d")
    found = {i.key for i in IdentifierColumns().compute(TabularDataset(frame)).items}
    assert "source" not in found
    assert "visit" not in found  # dates written as text are not phone numbers


def test_unique_measurements_are_not_identifiers() -> None:
    rng = np.random.default_rng(9)
    frame = pd.DataFrame({"weight": rng.normal(70, 12, 200), "hr": rng.integers(50, 120, 200)})
    res = IdentifierColumns().compute(TabularDataset(frame))
    assert res.items == ()
