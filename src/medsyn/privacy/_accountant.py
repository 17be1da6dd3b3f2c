"""Differential-privacy accounting: every use of the data is charged before it happens.

Two composition modes: ``pure`` (ε adds up; δ adds up) for mechanisms such as PrivBayes, and
``zcdp`` (zero-concentrated DP: ρ adds up and converts to (ε, δ) at the end, as AIM and MST
account) which gives much tighter totals for many Gaussian measurements. The accountant refuses
a charge that would exceed the budget *before* the mechanism runs
(:class:`~medsyn.errors.PrivacyBudgetExceeded`), and its :class:`PrivacyGuarantee` lists every
charge, so a report can say exactly what the data paid for (bounds, category sets, marginals).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from medsyn.errors import InputError, PrivacyBudgetExceeded, Problem

__all__ = ["PrivacyAccountant", "PrivacyGuarantee", "Spend", "cdp_eps", "cdp_rho"]

Mode = Literal["pure", "zcdp"]


def cdp_eps(rho: float, delta: float) -> float:
    """The ε of (ε, δ)-DP implied by ρ-zCDP (Canonne, Kamath & Steinke 2020, Prop. 3 — tight form)."""
    if rho < 0 or not 0 < delta < 1:
        raise ValueError("rho must be >= 0 and 0 < delta < 1")
    if rho == 0:
        return 0.0
    best = math.inf
    # eps = min over alpha > 1 of rho*alpha + log(1/(alpha*delta)) / (alpha-1) + log(1 - 1/alpha)
    lo, hi = 1.0 + 1e-9, 1e6
    for _ in range(200):  # golden-section search on a convex function
        a = lo + (hi - lo) * 0.382
        b = lo + (hi - lo) * 0.618
        fa, fb = _eps_at(a, rho, delta), _eps_at(b, rho, delta)
        best = min(best, fa, fb)
        if fa < fb:
            hi = b
        else:
            lo = a
    return max(0.0, best)


def _eps_at(alpha: float, rho: float, delta: float) -> float:
    return (alpha - 1) * rho + math.log1p(-1 / alpha) - (math.log(delta) + math.log(alpha)) / (alpha - 1) + rho


def cdp_rho(epsilon: float, delta: float) -> float:
    """The largest ρ whose zCDP guarantee converts to at most (ε, δ) (bisection on :func:`cdp_eps`)."""
    if epsilon <= 0 or not 0 < delta < 1:
        raise ValueError("epsilon must be > 0 and 0 < delta < 1")
    lo, hi = 0.0, epsilon
    for _ in range(100):
        mid = (lo + hi) / 2
        if cdp_eps(mid, delta) <= epsilon:
            lo = mid
        else:
            hi = mid
    return lo


@dataclass(frozen=True, slots=True)
class Spend:
    """One charge: what was learned and what it cost (ε/δ for pure DP, ρ for zCDP)."""

    what: str
    epsilon: float = 0.0
    delta: float = 0.0
    rho: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {"what": self.what, "epsilon": self.epsilon, "delta": self.delta, "rho": self.rho}


@dataclass(frozen=True, slots=True)
class PrivacyGuarantee:
    """What a release guarantees: (ε, δ)-DP with the charges that add up to it."""

    epsilon: float
    delta: float
    mode: str
    mechanism: str
    spends: tuple[Spend, ...] = field(default_factory=tuple)
    caveats: tuple[str, ...] = ()  # what the guarantee does not cover (e.g. bounds read from the data)

    def __str__(self) -> str:
        delta = f", δ={self.delta:.3g}" if self.delta else ""
        text = f"({self.epsilon:.4g}{delta})-differential privacy via {self.mechanism} [{self.mode} accounting]"
        return text + "".join(f"\n  caveat: {c}" for c in self.caveats)

    def to_dict(self) -> dict[str, object]:
        return {
            "epsilon": self.epsilon,
            "delta": self.delta,
            "mode": self.mode,
            "mechanism": self.mechanism,
            "spends": [s.to_dict() for s in self.spends],
            "caveats": list(self.caveats),
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> PrivacyGuarantee:
        spends = tuple(Spend(**s) for s in data.get("spends", []))  # type: ignore[attr-defined]
        return cls(
            float(data["epsilon"]),  # type: ignore[arg-type]
            float(data["delta"]),  # type: ignore[arg-type]
            str(data["mode"]),
            str(data["mechanism"]),
            spends,
            tuple(map(str, data.get("caveats", []))),  # type: ignore[call-overload]
        )


class PrivacyAccountant:
    """A privacy budget that mechanisms charge before they touch the data.

    Parameters
    ----------
    epsilon, delta
        The total budget. ``delta`` must be > 0 in ``zcdp`` mode (the conversion needs it).
    mode
        ``"pure"``: ε and δ compose by addition. ``"zcdp"``: ρ composes by addition, and the
        budget is the largest ρ that converts to (ε, δ).

    Examples
    --------
    >>> acc = PrivacyAccountant(1.0)
    >>> acc.spend("age bounds", epsilon=0.1)
    >>> round(acc.remaining_epsilon, 3)
    0.9
    """

    def __init__(self, epsilon: float, delta: float = 0.0, *, mode: Mode = "pure") -> None:
        problems = []
        if not (isinstance(epsilon, (int, float)) and math.isfinite(epsilon) and epsilon > 0):
            problems.append(Problem("epsilon", repr(epsilon), "a finite number > 0"))
        if not (isinstance(delta, (int, float)) and 0 <= delta < 1):
            problems.append(Problem("delta", repr(delta), "a number in [0, 1)"))
        if mode == "zcdp" and not (isinstance(delta, (int, float)) and delta > 0):
            problems.append(Problem("delta", repr(delta), "> 0 for zCDP accounting (e.g. 1e-6)"))
        if mode not in ("pure", "zcdp"):
            problems.append(Problem("mode", repr(mode), "'pure' or 'zcdp'"))
        if problems:
            raise InputError(problems)
        self.epsilon, self.delta, self.mode = float(epsilon), float(delta), mode
        self.rho_budget = cdp_rho(self.epsilon, self.delta) if mode == "zcdp" else 0.0
        self._spends: list[Spend] = []

    @property
    def spends(self) -> tuple[Spend, ...]:
        return tuple(self._spends)

    @property
    def spent_epsilon(self) -> float:
        if self.mode == "zcdp":
            rho = self.spent_rho
            return cdp_eps(rho, self.delta) if rho > 0 else 0.0
        return sum(s.epsilon for s in self._spends)

    @property
    def spent_rho(self) -> float:
        return sum(s.rho for s in self._spends)

    @property
    def remaining_epsilon(self) -> float:
        return max(0.0, self.epsilon - self.spent_epsilon)

    @property
    def remaining_rho(self) -> float:
        return max(0.0, self.rho_budget - self.spent_rho)

    def spend(self, what: str, *, epsilon: float = 0.0, delta: float = 0.0, rho: float = 0.0) -> None:
        """Charge one mechanism; raises :class:`PrivacyBudgetExceeded` (and charges nothing) if it does not fit."""
        tolerance = 1e-9
        if self.mode == "zcdp":
            if epsilon or delta:
                raise InputError(Problem(f"charge '{what}'", "an (ε, δ) charge", "a ρ charge in zCDP mode"))
            if rho < 0 or self.spent_rho + rho > self.rho_budget * (1 + tolerance):
                raise PrivacyBudgetExceeded(
                    f"'{what}' needs ρ={rho:.4g} but only ρ={self.remaining_rho:.4g} of the "
                    f"(ε={self.epsilon:g}, δ={self.delta:g}) budget is left"
                )
        else:
            if rho:
                raise InputError(Problem(f"charge '{what}'", "a ρ charge", "an (ε, δ) charge in pure mode"))
            spent_delta = sum(s.delta for s in self._spends)
            if (
                epsilon < 0
                or self.spent_epsilon + epsilon > self.epsilon * (1 + tolerance)
                or spent_delta + delta > self.delta * (1 + tolerance) + 1e-15
            ):
                raise PrivacyBudgetExceeded(
                    f"'{what}' needs ε={epsilon:.4g}, δ={delta:.3g} but only ε={self.remaining_epsilon:.4g}, "
                    f"δ={max(0.0, self.delta - spent_delta):.3g} of the budget is left"
                )
        self._spends.append(Spend(what, epsilon, delta, rho))

    def to_dict(self) -> dict[str, object]:
        """Plain data: the budget and every charge (what :meth:`from_dict` reads back)."""
        return {
            "epsilon": self.epsilon,
            "delta": self.delta,
            "mode": self.mode,
            "spends": [s.to_dict() for s in self._spends],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object], *, source: str = "accountant") -> PrivacyAccountant:
        """Rebuild an accountant with its charges; a record whose charges exceed its budget is refused."""
        if not isinstance(data, Mapping) or not {"epsilon", "mode"} <= set(data):
            raise InputError(Problem(source, "no epsilon/mode", "an accountant written by to_dict()"))
        mode = data["mode"]
        acc = cls(data["epsilon"], data.get("delta", 0.0), mode=mode)  # type: ignore[arg-type]
        raw = data.get("spends", [])
        problems: list[Problem] = []
        spends: list[Spend] = []
        for i, item in enumerate(raw if isinstance(raw, list) else [raw]):
            try:
                spend = Spend(
                    str(item["what"]),
                    float(item.get("epsilon", 0.0)),
                    float(item.get("delta", 0.0)),
                    float(item.get("rho", 0.0)),
                )
            except (TypeError, KeyError, ValueError, AttributeError):
                problems.append(Problem(f"{source}: spends[{i}]", repr(item), "{what, epsilon, delta, rho}"))
                continue
            if min(spend.epsilon, spend.delta, spend.rho) < 0 or not all(
                math.isfinite(v) for v in (spend.epsilon, spend.delta, spend.rho)
            ):
                problems.append(Problem(f"{source}: spends[{i}]", repr(item), "finite charges >= 0"))
            spends.append(spend)
        if problems:
            raise InputError(problems)
        acc._spends = spends
        over = (
            acc.spent_rho > acc.rho_budget * (1 + 1e-9)
            if mode == "zcdp"
            else acc.spent_epsilon > acc.epsilon * (1 + 1e-9)
            or sum(s.delta for s in spends) > acc.delta * (1 + 1e-9) + 1e-15
        )
        if over:
            raise InputError(Problem(source, "charges that exceed the budget", "a record written by to_dict()"))
        return acc

    def guarantee(self, mechanism: str) -> PrivacyGuarantee:
        """The guarantee of everything charged so far."""
        if self.mode == "zcdp":
            eps, delta = (cdp_eps(self.spent_rho, self.delta), self.delta) if self.spent_rho else (0.0, 0.0)
        else:
            eps, delta = self.spent_epsilon, sum(s.delta for s in self._spends)
        return PrivacyGuarantee(eps, delta, self.mode, mechanism, self.spends)
