"""A per-dataset privacy budget: one accountant per data set, charged by every release from it.

Differential privacy composes: ten releases at ε = 0.1 leak as much as one at ε = 1. So the
budget belongs to the *data set* (the people in it), not to one analysis. :class:`PrivacyBudget`
ties a :class:`~medsyn.privacy.PrivacyAccountant` to a dataset name and version (its content
digest), refuses releases from other data, lends parts of itself to DP generators
(:meth:`PrivacyBudget.allocate`) and serialises to JSON, so the governance layer can persist
it between runs and every charge stays on record.

Charges are converted to the accountant's mode: a pure ε-DP release costs ρ = ε²/2 under zCDP
accounting (Bun & Steinke 2016, Prop. 1.4); an approximate (ε, δ) charge cannot be expressed as
zCDP and is refused there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from medsyn._atomic import write_text
from medsyn.data.dataset import Dataset
from medsyn.errors import DataFormatError, InputError, Problem
from medsyn.privacy._accountant import Mode, PrivacyAccountant, PrivacyGuarantee, Spend

__all__ = ["PrivacyBudget", "charge"]

_FORMAT = "medsyn-privacy-budget"


def charge(
    accountant: PrivacyAccountant, what: str, *, epsilon: float, delta: float = 0.0, rho: float | None = None
) -> None:
    """Charge a release to ``accountant`` in its own mode (refused before anything is charged).

    ``epsilon``/``delta`` are the release's (ε, δ)-DP cost; ``rho`` its zCDP cost where the
    mechanism has one (Gaussian noise). Pure ε-DP converts to ρ = ε²/2.
    """
    if accountant.mode == "zcdp":
        if rho is None:
            if delta > 0:
                raise InputError(
                    Problem(f"charge '{what}'", f"an (ε={epsilon:g}, δ={delta:g}) charge", "a ρ or pure-ε charge")
                )
            rho = epsilon**2 / 2
        accountant.spend(what, rho=rho)
    else:
        accountant.spend(what, epsilon=epsilon, delta=delta)


class PrivacyBudget:
    """The privacy budget of one data set.

    Parameters
    ----------
    dataset
        The data set's name (what a person reads in a report).
    epsilon, delta, mode
        The total budget and how charges compose (see :class:`PrivacyAccountant`).
    version
        The data set's version (its provenance id: a content digest). Releases from data of
        another version are refused; empty accepts any version.

    Examples
    --------
    >>> b = PrivacyBudget("actg175", 1.0)
    >>> b.spend("count of rows", epsilon=0.25)
    >>> round(b.remaining_epsilon, 2), PrivacyBudget.from_json(b.to_json()).spent_epsilon
    (0.75, 0.25)
    """

    def __init__(
        self,
        dataset: str,
        epsilon: float,
        delta: float = 0.0,
        *,
        mode: Mode = "pure",
        version: str = "",
        accountant: PrivacyAccountant | None = None,
    ) -> None:
        if not isinstance(dataset, str) or not dataset.strip():
            raise InputError(Problem("dataset", repr(dataset), "the data set's name"))
        self.dataset = dataset
        self.version = str(version)
        self.accountant = accountant if accountant is not None else PrivacyAccountant(epsilon, delta, mode=mode)

    @classmethod
    def for_dataset(cls, data: Dataset, epsilon: float, delta: float = 0.0, *, mode: Mode = "pure") -> PrivacyBudget:
        """A fresh budget keyed by ``data``'s name and provenance id."""
        return cls(data.name or data.provenance.source, epsilon, delta, mode=mode, version=data.provenance.id)

    def __repr__(self) -> str:
        acc = self.accountant
        return (
            f"PrivacyBudget({self.dataset!r}, version={self.version!r}, ε={acc.epsilon:g}, δ={acc.delta:g}, "
            f"mode={acc.mode!r}, spent ε={acc.spent_epsilon:.4g}, {len(acc.spends)} charges)"
        )

    # -- the accountant's view --------------------------------------------------------------
    @property
    def epsilon(self) -> float:
        return self.accountant.epsilon

    @property
    def delta(self) -> float:
        return self.accountant.delta

    @property
    def mode(self) -> str:
        return self.accountant.mode

    @property
    def spends(self) -> tuple[Spend, ...]:
        return self.accountant.spends

    @property
    def spent_epsilon(self) -> float:
        return self.accountant.spent_epsilon

    @property
    def remaining_epsilon(self) -> float:
        return self.accountant.remaining_epsilon

    def spend(self, what: str, *, epsilon: float = 0.0, delta: float = 0.0, rho: float = 0.0) -> None:
        """Charge the accountant directly (in its own mode's units)."""
        self.accountant.spend(what, epsilon=epsilon, delta=delta, rho=rho)

    def guarantee(self, mechanism: str = "releases") -> PrivacyGuarantee:
        return self.accountant.guarantee(mechanism)

    def check_data(self, data: Dataset | pd.DataFrame) -> None:
        """Refuse data of another version than the budget's (a different set of people)."""
        if isinstance(data, Dataset) and self.version and data.provenance.id and data.provenance.id != self.version:
            raise InputError(
                Problem(
                    f"privacy budget of '{self.dataset}'",
                    f"data of version {data.provenance.id} ({data.name})",
                    f"version {self.version}",
                    "Use the budget of this data set, or create one for it.",
                )
            )

    def allocate(self, what: str, *, epsilon: float, delta: float = 0.0, mode: Mode = "pure") -> PrivacyAccountant:
        """Charge a share of the budget now and return a fresh accountant of that size.

        For a DP generator or a batch of releases that keep their own accounting: their total
        guarantee is at most the share charged here (sequential composition).
        """
        child = PrivacyAccountant(epsilon, delta, mode=mode)
        if self.accountant.mode == "zcdp":
            rho = child.rho_budget if mode == "zcdp" else None
            charge(self.accountant, what, epsilon=epsilon, delta=delta if mode == "pure" else 0.0, rho=rho)
        else:
            charge(self.accountant, what, epsilon=epsilon, delta=delta)
        return child

    # -- serialisation ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, object]:
        return {
            "format": _FORMAT,
            "dataset": self.dataset,
            "version": self.version,
            "accountant": self.accountant.to_dict(),
            "spent_epsilon": self.accountant.spent_epsilon,
            "remaining_epsilon": self.accountant.remaining_epsilon,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object], *, source: str = "privacy budget") -> PrivacyBudget:
        if not isinstance(data, Mapping) or data.get("format") != _FORMAT:
            raise InputError(Problem(source, "not a privacy budget", f"a JSON object with format '{_FORMAT}'"))
        accountant = data.get("accountant")
        if not isinstance(accountant, Mapping):
            raise InputError(Problem(f"{source}: accountant", repr(accountant), "the accountant's record"))
        acc = PrivacyAccountant.from_dict(accountant, source=f"{source}: accountant")
        return cls(
            str(data.get("dataset", "")), acc.epsilon, acc.delta, version=str(data.get("version", "")), accountant=acc
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str, *, source: str = "privacy budget") -> PrivacyBudget:
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataFormatError(
                Problem(source, f"not JSON ({exc.msg}, line {exc.lineno})", "a budget file")
            ) from None
        return cls.from_dict(loaded, source=source)

    def save(self, path: str | Path) -> Path:
        """Write the budget as JSON, atomically."""
        return write_text(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | Path) -> PrivacyBudget:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(
                Problem(str(path), "no such budget file", "a budget written by PrivacyBudget.save")
            ) from None
        return cls.from_json(text, source=str(path))
