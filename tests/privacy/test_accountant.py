"""The DP accountant: composition, conversion, refusal before overspending."""

from __future__ import annotations

import math

import pytest

from medsyn.errors import InputError, PrivacyBudgetExceeded
from medsyn.privacy import PrivacyAccountant, PrivacyGuarantee, cdp_eps, cdp_rho


def test_pure_composition_and_refusal_charges_nothing() -> None:
    acc = PrivacyAccountant(1.0)
    acc.spend("structure", epsilon=0.3)
    acc.spend("marginals", epsilon=0.7)
    assert math.isclose(acc.spent_epsilon, 1.0)
    with pytest.raises(PrivacyBudgetExceeded, match=r"'extra' needs ε=0\.1"):
        acc.spend("extra", epsilon=0.1)
    assert len(acc.spends) == 2
    g = acc.guarantee("privbayes")
    assert g.epsilon == pytest.approx(1.0)
    assert g.delta == 0
    assert PrivacyGuarantee.from_dict(g.to_dict()) == g


def test_zcdp_conversion_matches_published_values() -> None:
    # McKenna et al.'s cdp_rho(1, 1e-9) ≈ 0.0150 (private-pgm mechanisms/cdp2adp.py)
    assert cdp_rho(1.0, 1e-9) == pytest.approx(0.01497, rel=1e-3)
    for eps in (0.1, 1.0, 10.0):
        assert cdp_eps(cdp_rho(eps, 1e-6), 1e-6) == pytest.approx(eps, rel=1e-6)
    # monotone in rho
    assert cdp_eps(0.01, 1e-6) < cdp_eps(0.02, 1e-6)


def test_zcdp_budget() -> None:
    acc = PrivacyAccountant(1.0, 1e-6, mode="zcdp")
    half = acc.rho_budget / 2
    acc.spend("1-way", rho=half)
    acc.spend("2-way", rho=half)
    assert acc.spent_epsilon == pytest.approx(1.0, rel=1e-6)
    with pytest.raises(PrivacyBudgetExceeded):
        acc.spend("more", rho=1e-3)
    with pytest.raises(InputError, match="ρ charge"):
        acc.spend("wrong", epsilon=0.1)


@pytest.mark.parametrize(("eps", "delta", "mode"), [(0, 0, "pure"), (-1, 0, "pure"), (1, 0, "zcdp"), (1, 2, "pure")])
def test_bad_budgets(eps: float, delta: float, mode: str) -> None:
    with pytest.raises(InputError):
        PrivacyAccountant(eps, delta, mode=mode)  # type: ignore[arg-type]
