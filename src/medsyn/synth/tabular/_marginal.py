"""``mst`` and ``aim``: differentially private synthesis from noisy marginals and a graphical model.

Both measure low-dimensional marginals (count tables) of the binned table with Gaussian noise,
fit one graphical model to all the noisy measurements (Private-PGM, :mod:`._pgm`), and sample
from it. They are differentially private by construction: ``epsilon`` is required and the
guarantee is (ε, δ)-DP through zero-concentrated DP (ρ-zCDP composes by addition; the
accountant converts the total to (ε, δ) at the end).

- **MST** (McKenna, Miklau & Sheldon 2021, "Winning the NIST contest: a scalable and general
  approach to differentially private synthetic data"): a third of ρ measures every one-way
  marginal; a third chooses a maximum spanning tree of the columns, one edge at a time by the
  exponential mechanism, scoring each pair by how badly the one-way model predicts its two-way
  table; a third measures the chosen two-way marginals.
- **AIM** (McKenna, Mullins, Sheldon & Miklau 2022, "AIM: an adaptive and iterative mechanism
  for differentially private synthetic data"): the one-way marginals with 0.9/``rounds`` of ρ
  each, then rounds that each choose the worst-approximated marginal of the workload (all
  pairs, and the single columns) by the exponential mechanism — its error less the error that
  the noise alone would cause, weighted by how much of the workload it covers, among the
  marginals that keep the model under ``max_model_size`` (grown with the budget used) — measure
  it and refit. The noise is halved when a measurement barely changes the model, and the last
  round spends whatever is left.

Privacy. Neighbouring tables differ by *replacing* one record (as ``bayesian_network``), so the
number of records n is public (a zero-cost charge says so): a count table has L2 sensitivity √2
(a Gaussian measurement with noise σ costs ρ = 1/σ²) and the selection score ‖x − x̂‖₁ has
sensitivity 2 (an exponential-mechanism step with ε costs ρ = ε²/8, Cesar & Rogers 2021).
Bounds and categories come from the schema (the table plan refuses a private fit without them).
A missing number is set to its public lower bound before counting, so each record's counts
depend on that record alone (its missingness indicator is modelled). Every charge is listed in
:attr:`privacy`. The noise is drawn from the fit's seeded generator (reproducible runs); keep
the seed of a released model secret, since the seed and the data together determine the noise.

Bins. Numbers are cut into equal-width bins over their public bounds (:mod:`._discretize`; one
per whole number when the range is short), as many as keep the average count per bin above the
one-way noise (n/σ, between ``bins`` and 8 × ``bins``). After the one-way measurement, and
from it alone (post-processing, free): neighbouring bins are merged until each group holds about
n/``bins`` noisy records and stands out of its own noise (at most ``bins`` groups, the model's
codes), categories too rare to measure are pooled (MST's domain compression), and each group
keeps how it spreads over its bins, from significant runs of noisy counts, for decoding.

Sampling draws bin codes from the model, then each code's finer bin, then a value uniformly
inside that bin. Conditions are native and exact: the allowed categories, and for a number the
share of each bin inside its interval, are evidence passed up the junction tree before drawing,
and a conditioned number is drawn on the part of its bin inside the interval; the base class
still checks every decoded row.
"""

from __future__ import annotations

import itertools
import math
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from medsyn.data.conditions import Conditions
from medsyn.data.dataset import Dataset, Modality
from medsyn.errors import InputError, Problem
from medsyn.privacy import PrivacyAccountant
from medsyn.synth._base import GENERATORS, Supports
from medsyn.synth._params import is_number, is_whole
from medsyn.synth.tabular._base import ConstraintLike, TabularGenerator
from medsyn.synth.tabular._discretize import Discretizer
from medsyn.synth.tabular._pgm import JunctionTree, Measurement, Model, estimate, model_size_mb
from medsyn.synth.tabular._plan import ModelColumn

__all__ = ["AIM", "MST"]

#: L2 sensitivity of a count table when one record is replaced
_L2 = math.sqrt(2.0)
#: sensitivity of the selection score ‖x − x̂‖₁ when one record is replaced
_L1 = 2.0
#: fine bins per model bin (at most): the one-way measurement's resolution, before merging
_FINE = 8
#: spend a hair under the budget, so that float sums never convert to more than the requested ε
_SAFETY = 1.0 - 1e-6
#: share of each bin group spread evenly over its bins, so no value in the public range is unreachable
_FLOOR = 1e-3
_NEIGHBOURS = "number of records n: public (neighbouring tables differ by one replaced record)"


class _MarginalGenerator(TabularGenerator):
    """Shared machinery of MST and AIM: binning, one-way measurements, the model, sampling, state."""

    dp_mode = "zcdp"
    epsilon: float
    delta: float
    bins: int
    iters: int

    # -- mechanism hooks --------------------------------------------------------------------
    @abstractmethod
    def _one_way_sigma(self, d: int, rho: float) -> float:
        """Noise scale of the one-way measurements (raises :class:`InputError` for unusable settings)."""

    @abstractmethod
    def _select_and_measure(
        self,
        codes: np.ndarray,
        sizes: Sequence[int],
        one_way: list[Measurement],
        sigma: float,
        rho: float,
        rng: np.random.Generator,
        advance: Callable[[int], None],
    ) -> tuple[list[Measurement], Model | None]:
        """More measurements (charged to the accountant first) and, optionally, a model to warm-start from."""

    def _progress_total(self, d: int) -> int:
        return self.iters // 50 + d

    # -- parameters -------------------------------------------------------------------------
    def _check_params(self) -> None:
        problems = self._param_problems()
        if problems:
            raise InputError(problems)

    def _param_problems(self) -> list[Problem]:
        problems: list[Problem] = []
        if self.epsilon is None:
            problems.append(
                Problem(
                    f"{self.name} epsilon",
                    "None",
                    "a number > 0",
                    fix=f"{self.name} is differentially private by construction; give the budget (default 1.0)",
                )
            )
        elif not is_number(self.epsilon) or not 0 < self.epsilon < math.inf:
            problems.append(Problem(f"{self.name} epsilon", repr(self.epsilon), "a finite number > 0"))
        if not is_number(self.delta) or not 0 < self.delta < 1:
            problems.append(Problem(f"{self.name} delta", repr(self.delta), "a number in (0, 1), e.g. 1e-9"))
        if not is_whole(self.bins) or self.bins < 2:
            problems.append(Problem(f"{self.name} bins", repr(self.bins), "a whole number >= 2"))
        if not is_whole(self.iters) or self.iters < 1:
            problems.append(Problem(f"{self.name} iters", repr(self.iters), "a whole number >= 1"))
        return problems

    # -- fit --------------------------------------------------------------------------------
    def fit(  # type: ignore[override]  # the same signature as TabularGenerator.fit
        self,
        data: Dataset | pd.DataFrame,
        /,
        *,
        constraints: Sequence[ConstraintLike] | None = None,
        seed: int | None = 0,
        progress: bool = False,
    ) -> Self:
        """Learn from ``data`` under the privacy budget; see :meth:`TabularGenerator.fit`.

        Raises
        ------
        InputError
            Bad parameters (before the data is read), or a numeric column without public bounds
            or a categorical column without public categories in the schema.
        """
        self._check_params()
        return super().fit(data, constraints=constraints, seed=seed, progress=progress)

    def _fit(self, table: pd.DataFrame, columns: list[ModelColumn], rng: np.random.Generator) -> None:
        accountant = self.accountant_
        assert isinstance(accountant, PrivacyAccountant)  # epsilon is required (checked in fit)
        n, d = len(table), len(columns)
        accountant.spend(_NEIGHBOURS, rho=0.0)
        rho = accountant.rho_budget * _SAFETY
        sigma = self._one_way_sigma(d, rho)
        table = _place_missing_values(table, columns)
        self.discretizer_ = Discretizer.fit(table, columns, bins=_fine_bins(n, sigma, int(self.bins)), private=True)
        fine = self.discretizer_.encode(table)
        fine_sizes = [int(s) for s in self.discretizer_.sizes]
        with self._progress(self._show_progress, self._progress_total(d), f"{self.name}: marginals") as advance:
            accountant.spend(
                f"one-way marginals of {d} columns (Gaussian mechanism, σ={sigma:.4g} each)",
                rho=d * _L2**2 / (2 * sigma**2),
            )
            noisy = [
                np.bincount(fine[:, j], minlength=fine_sizes[j]) + rng.normal(0.0, sigma, fine_sizes[j])
                for j in range(d)
            ]
            self.groups_: list[np.ndarray] = []
            self.within_: list[np.ndarray] = []
            one_way: list[Measurement] = []
            for j, col in enumerate(columns):
                group = (
                    _merge_numeric(noisy[j], sigma, int(self.bins), n)
                    if col.kind == "numeric"
                    else _merge_categories(noisy[j], sigma)
                )
                self.groups_.append(group)
                self.within_.append(_within(noisy[j], group, sigma, col.kind == "numeric"))
                one_way.append(_compressed((j,), noisy[j], group, sigma))
            codes = np.column_stack([self.groups_[j][fine[:, j]] for j in range(d)]) if d else fine
            sizes = [int(g.max()) + 1 for g in self.groups_]
            advance(d)
            more, warm = self._select_and_measure(codes, sizes, one_way, sigma, rho, rng, advance)
            self.measurements_ = [(tuple(columns[a].name for a in m.clique), float(m.sigma)) for m in one_way + more]
            self.model_ = estimate(sizes, one_way + more, float(n), iters=int(self.iters), warm=warm, callback=advance)

    # -- sample -----------------------------------------------------------------------------
    def _sample(self, n: int, rng: np.random.Generator, conditions: Conditions) -> pd.DataFrame:
        masks = self._condition_masks(conditions) if conditions else {}
        weights = {j: self.within_[j] * mask for j, mask in masks.items()}
        evidence = {
            j: np.bincount(self.groups_[j], weights=w, minlength=self.model_.sizes[j]) for j, w in weights.items()
        }
        coarse = self.model_.sample(n, rng, evidence) if evidence else None
        if coarse is None:  # no condition, or one the model cannot meet: the base class rejects what fails
            coarse = self.model_.sample(n, rng)
            weights = {}
        assert coarse is not None
        fine = np.empty_like(coarse)
        for j, group in enumerate(self.groups_):
            w = weights.get(j, self.within_[j])
            table = np.zeros((self.model_.sizes[j], group.size))
            table[group, np.arange(group.size)] = w
            empty = table.sum(axis=1) <= 0
            table[empty] = np.where(group[None, :] == np.flatnonzero(empty)[:, None], 1.0, 0.0)
            cdf = np.cumsum(table, axis=1) / table.sum(axis=1, keepdims=True)
            cdf[:, -1] = 1.0
            flat = (cdf + np.arange(table.shape[0])[:, None]).ravel()
            row = coarse[:, j]
            pick = np.searchsorted(flat, row + rng.random(n), side="right") - row * group.size
            fine[:, j] = np.clip(pick, 0, group.size - 1)
        out = self.discretizer_.decode(fine, rng)
        for j in weights:  # a conditioned number: uniform on the part of its bin inside the interval
            col = self.columns_[j]
            if col.kind == "numeric":
                edges = self.discretizer_.edges[col.name]
                low, high, _, _ = conditions.interval(col.name)
                lo = np.maximum(edges[fine[:, j]], low)
                hi = np.minimum(edges[fine[:, j] + 1], high)
                out[col.name] = lo + rng.random(n) * np.maximum(hi - lo, 0.0)
        return out

    def _condition_masks(self, conditions: Conditions) -> dict[int, np.ndarray]:
        """Per conditioned column, the weight of each fine bin: its share inside the condition.

        A category is in or out; a numeric bin counts with the fraction of its width inside the
        condition's interval, and its value is then drawn on that part (bins decode uniformly
        under privacy), so the draw is exact without rejecting values near an edge.
        """
        masks = self.discretizer_.allowed(conditions)
        for j, col in enumerate(self.columns_):
            if j in masks and col.kind == "numeric":
                edges = self.discretizer_.edges[col.name]
                low, high, _, _ = conditions.interval(col.name)
                width = edges[1:] - edges[:-1]
                inside = np.clip(np.minimum(edges[1:], high) - np.maximum(edges[:-1], low), 0.0, None)
                point = (edges[:-1] >= low) & (edges[1:] <= high)  # a zero-width bin inside the interval
                masks[j] = np.where(width > 0, inside / np.where(width > 0, width, 1.0), point.astype(float))
        return masks

    # -- introspection ----------------------------------------------------------------------
    @property
    def cliques(self) -> list[tuple[str, ...]]:
        """The marginals the model was fitted to (column names), after :meth:`fit`."""
        self._check_fitted()
        return [c for c, _ in self.measurements_]

    # -- state ------------------------------------------------------------------------------
    def _model_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        names = [c.name for c in self.columns_]
        bins_state, arrays = self.discretizer_.to_state()
        arrays |= {f"group/{names[j]}": g for j, g in enumerate(self.groups_)}
        arrays |= {f"within/{names[j]}": w for j, w in enumerate(self.within_)}
        arrays |= {f"table/{i}": t for i, t in enumerate(self.model_.tables)}
        state = {
            "columns": names,
            "sizes": list(self.model_.sizes),
            "tree": {
                "cliques": [[names[a] for a in cl] for cl in self.model_.tree.cliques],
                "parents": list(self.model_.tree.parents),
            },
            "measurements": [{"clique": list(c), "sigma": s} for c, s in self.measurements_],
            "bins": bins_state,
        }
        return state, arrays

    def _load_model_state(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        names = [c.name for c in self.columns_]
        if list(state["columns"]) != names:
            raise ValueError(f"model columns {state['columns']} do not match the plan {names}")
        index = {name: j for j, name in enumerate(names)}
        self.discretizer_ = Discretizer.from_state(self.columns_, state["bins"], arrays)
        self.groups_ = [np.asarray(arrays[f"group/{c}"], dtype=np.int64) for c in names]
        self.within_ = [np.asarray(arrays[f"within/{c}"], dtype=float) for c in names]
        sizes = tuple(int(s) for s in state["sizes"])
        tree = JunctionTree(
            tuple(tuple(index[c] for c in cl) for cl in state["tree"]["cliques"]),
            tuple(int(p) for p in state["tree"]["parents"]),
        )
        tables = [np.asarray(arrays[f"table/{i}"], dtype=float) for i in range(len(tree.cliques))]
        for i, cl in enumerate(tree.cliques):
            if tables[i].shape != tuple(sizes[a] for a in cl):
                raise ValueError(f"table {i} has shape {tables[i].shape}, expected {tuple(sizes[a] for a in cl)}")
        fine_sizes = [int(s) for s in self.discretizer_.sizes]
        for j, (g, w) in enumerate(zip(self.groups_, self.within_, strict=True)):
            if g.size != fine_sizes[j] or w.size != fine_sizes[j] or int(g.max()) + 1 != sizes[j]:
                raise ValueError(f"bin groups of column '{names[j]}' do not match its bins")
        self.model_ = Model(sizes, tree, tables)
        self.measurements_ = [(tuple(m["clique"]), float(m["sigma"])) for m in state["measurements"]]


@GENERATORS.register("mst")
class MST(_MarginalGenerator):
    """MST: one-way marginals, a private maximum spanning tree of two-way marginals, a graphical model.

    Parameters
    ----------
    epsilon, delta
        The (ε, δ)-DP guarantee (required; δ should be far below 1/n).
    bins
        Most bins per numeric column in the model (fewer where the noisy counts are small).
    iters
        Most mirror-descent iterations of the model fit (it stops earlier once converged).

    Examples
    --------
    >>> import pandas as pd
    >>> from medsyn.data import TabularDataset
    >>> from medsyn.data.schema import Field, FieldType, Schema
    >>> schema = Schema((Field("age", FieldType.INTEGER, minimum=18, maximum=100, nullable=False),
    ...                  Field("sex", FieldType.CATEGORICAL, categories=("F", "M"), nullable=False)))
    >>> df = pd.DataFrame({"age": [30, 40, 50, 60, 70, 80] * 50, "sex": list("FMFMFM") * 50})
    >>> model = MST(epsilon=1.0).fit(TabularDataset(df, schema))
    >>> model.privacy.epsilon <= 1.0
    True
    >>> len(model.sample(5, conditions="sex == 'F'", seed=0).data)
    5
    """

    name = "mst"
    supports = Supports(
        frozenset({Modality.TABULAR}),
        conditions="native",
        differential_privacy=True,
        summary="MST: noisy one- and two-way marginals on a private spanning tree + graphical model; (ε, δ)-DP (zCDP)",
    )

    def __init__(self, *, epsilon: float = 1.0, delta: float = 1e-9, bins: int = 32, iters: int = 1000) -> None:
        self.epsilon = epsilon
        self.delta = delta
        self.bins = bins
        self.iters = iters

    def _one_way_sigma(self, d: int, rho: float) -> float:
        share = 1.0 if d == 1 else 1.0 / 3.0
        return math.sqrt(d * _L2**2 / (2 * share * rho))

    def _select_and_measure(
        self,
        codes: np.ndarray,
        sizes: Sequence[int],
        one_way: list[Measurement],
        sigma: float,
        rho: float,
        rng: np.random.Generator,
        advance: Callable[[int], None],
    ) -> tuple[list[Measurement], Model | None]:
        d = len(sizes)
        if d == 1:
            return [], None
        accountant = self.accountant_
        assert accountant is not None
        n = codes.shape[0]
        names = [c.name for c in self.columns_]
        independent = estimate(sizes, one_way, float(n), iters=int(self.iters))
        margins = [independent.marginal((j,)) * n for j in range(d)]
        score = {
            (a, b): float(np.abs(_counts(codes, sizes, (a, b)) - np.multiply.outer(margins[a], margins[b]) / n).sum())
            for a, b in itertools.combinations(range(d), 2)
        }
        eps = math.sqrt(8 * (rho / 3) / (d - 1))
        accountant.spend(
            f"MST: {d - 1} edges of a spanning tree "
            f"(exponential mechanism, ε={eps:.4g} each, score sensitivity {_L1:g})",
            rho=(d - 1) * eps**2 / 8,
        )
        root = list(range(d))

        def find(i: int) -> int:
            while root[i] != i:
                root[i] = root[root[i]]
                i = root[i]
            return i

        edges: list[tuple[int, int]] = []
        for _ in range(d - 1):
            candidates = [e for e in score if find(e[0]) != find(e[1])]
            pick = candidates[_exponential(np.array([score[e] for e in candidates]), eps, _L1, rng)]
            edges.append(pick)
            root[find(pick[0])] = find(pick[1])
        sigma2 = math.sqrt((d - 1) * _L2**2 / (2 * rho / 3))
        accountant.spend(
            "MST: two-way marginals of "
            + ", ".join(f"({names[a]}, {names[b]})" for a, b in edges)
            + f" (Gaussian mechanism, σ={sigma2:.4g} each)",
            rho=(d - 1) * _L2**2 / (2 * sigma2**2),
        )
        out = []
        for a, b in edges:
            x = _counts(codes, sizes, (a, b)).ravel()
            out.append(Measurement((a, b), x + rng.normal(0.0, sigma2, x.size), sigma2))
        return out, None


@GENERATORS.register("aim")
class AIM(_MarginalGenerator):
    """AIM: adaptive, workload-aware selection of noisy marginals with a graphical model.

    Parameters
    ----------
    epsilon, delta
        The (ε, δ)-DP guarantee (required; δ should be far below 1/n).
    bins
        Most bins per numeric column in the model (fewer where the noisy counts are small).
    iters
        Most mirror-descent iterations of the final model fit; each round refits with a tenth.
    rounds
        Sets the initial noise (each round would cost ρ/rounds); default ``16 × columns``, the
        paper's. Must be at least the number of model columns.
    max_model_size
        Largest model (megabytes of junction-tree tables, 8 bytes a cell) once the whole budget
        is used. The paper's 80 MB suits its JAX engine on a GPU; the NumPy engine costs about
        0.3 µs per cell per iteration, so the default 1 MB (131,072 cells) keeps a fit on a
        12-column table under a minute even at ε = 10.
    """

    name = "aim"
    supports = Supports(
        frozenset({Modality.TABULAR}),
        conditions="native",
        differential_privacy=True,
        summary="AIM: adaptive noisy marginals for the all-pairs workload + graphical model ((ε, δ)-DP via zCDP)",
    )

    quick_params: ClassVar[Mapping[str, Any]] = {"rounds": 40, "iters": 150}

    def __init__(
        self,
        *,
        epsilon: float = 1.0,
        delta: float = 1e-9,
        bins: int = 32,
        iters: int = 1000,
        rounds: int | None = None,
        max_model_size: float = 1.0,
    ) -> None:
        self.epsilon = epsilon
        self.delta = delta
        self.bins = bins
        self.iters = iters
        self.rounds = rounds
        self.max_model_size = max_model_size

    def _param_problems(self) -> list[Problem]:
        problems = super()._param_problems()
        if self.rounds is not None and (not is_whole(self.rounds) or self.rounds < 1):
            problems.append(Problem("aim rounds", repr(self.rounds), "None or a whole number >= 1"))
        if not is_number(self.max_model_size) or not 0 < self.max_model_size < math.inf:
            problems.append(Problem("aim max_model_size", repr(self.max_model_size), "a number of megabytes > 0"))
        return problems

    def _rounds(self, d: int) -> int:
        return int(self.rounds) if self.rounds is not None else 16 * d

    def _progress_total(self, d: int) -> int:
        return self.iters // 50 + d + self._rounds(d)

    def _one_way_sigma(self, d: int, rho: float) -> float:
        rounds = self._rounds(d)
        if rounds < d:
            raise InputError(
                Problem(
                    "aim rounds",
                    f"{rounds} for {d} model columns",
                    f"at least {d} (the one-way marginals alone take {d} rounds' budget)",
                    fix=f"use rounds >= {d}, or leave it at the default {16 * d}",
                )
            )
        return math.sqrt(rounds * _L2**2 / (2 * 0.9 * rho))

    def _select_and_measure(
        self,
        codes: np.ndarray,
        sizes: Sequence[int],
        one_way: list[Measurement],
        sigma: float,
        rho: float,
        rng: np.random.Generator,
        advance: Callable[[int], None],
    ) -> tuple[list[Measurement], Model | None]:
        accountant = self.accountant_
        assert accountant is not None
        n, d = codes.shape
        workload = list(itertools.combinations(range(d), 2))
        candidates: dict[tuple[int, ...], float] = {
            cl: float(sum(len(set(cl) & set(w)) for w in workload)) for cl in [(j,) for j in range(d)] + workload
        }
        if not workload:  # a single column: nothing to select
            candidates = {(0,): 1.0}
        answers: dict[tuple[int, ...], np.ndarray] = {}
        rounds = self._rounds(d)
        eps = math.sqrt(8 * 0.1 * rho / rounds)
        used = d * _L2**2 / (2 * sigma**2)
        round_iters = max(50, int(self.iters) // 10)
        measurements = list(one_way)
        model = estimate(sizes, measurements, float(n), iters=round_iters)
        step = 0
        while True:
            step += 1
            cost = eps**2 / 8 + _L2**2 / (2 * sigma**2)
            last = rho - used < 2 * cost
            if last:  # spend exactly what is left
                remaining = rho - used
                sigma = math.sqrt(_L2**2 / (2 * 0.9 * remaining))
                eps = math.sqrt(8 * 0.1 * remaining)
                cost = remaining
            limit = float(self.max_model_size) * (used + cost) / rho
            free = {
                tuple(sorted(s))
                for cl in model.cliques
                for k in range(1, len(cl) + 1)
                for s in itertools.combinations(cl, k)
            }
            allowed = {
                cl: w
                for cl, w in candidates.items()
                if cl in free or model_size_mb(sizes, [*model.cliques, cl]) <= limit
            }
            accountant.spend(
                f"AIM round {step}: choose one marginal (exponential mechanism, ε={eps:.4g}) "
                f"and measure it (Gaussian mechanism, σ={sigma:.4g})",
                rho=cost,
            )
            used += cost
            keys = list(allowed)
            errors = np.empty(len(keys))
            for k, cl in enumerate(keys):
                if cl not in answers:
                    answers[cl] = _counts(codes, sizes, cl)
                cells = answers[cl].size
                errors[k] = allowed[cl] * (
                    np.abs(answers[cl] - model.marginal(cl) * n).sum() - math.sqrt(2 / math.pi) * sigma * cells
                )
            chosen = keys[_exponential(errors, eps, _L1 * max(allowed.values()), rng)]
            x = answers[chosen].ravel()
            before = model.marginal(chosen).ravel() * n
            measurements.append(Measurement(chosen, x + rng.normal(0.0, sigma, x.size), sigma))
            model = estimate(sizes, measurements, float(n), iters=round_iters, warm=model)
            after = model.marginal(chosen).ravel() * n
            advance(1)
            if last:
                break
            if np.abs(after - before).sum() <= math.sqrt(2 / math.pi) * sigma * x.size:
                sigma /= 2
                eps *= 2
        self.rounds_used_ = step  # diagnostic of this fit (not saved; the measured cliques are)
        return measurements[d:], model


# -- helpers ------------------------------------------------------------------------------------
def _exponential(scores: np.ndarray, eps: float, sensitivity: float, rng: np.random.Generator) -> int:
    """Index drawn by the exponential mechanism: P(i) ∝ exp(ε · score_i / (2 Δ))."""
    logits = 0.5 * eps / sensitivity * (scores - scores.max())
    p = np.exp(logits)
    return int(rng.choice(scores.size, p=p / p.sum()))


def _counts(codes: np.ndarray, sizes: Sequence[int], clique: tuple[int, ...]) -> np.ndarray:
    shape = tuple(int(sizes[a]) for a in clique)
    flat = np.ravel_multi_index(tuple(codes[:, a] for a in clique), shape)
    return np.bincount(flat, minlength=math.prod(shape)).reshape(shape).astype(float)


def _fine_bins(n: int, sigma: float, bins: int) -> int:
    """Resolution of the one-way measurement: as many bins as keep the average count per bin at
    least one noise scale (``n / σ``), between ``bins`` and ``_FINE × bins``. Finer bins would
    drown in noise; public numbers only (n, and σ from the budget)."""
    return int(min(_FINE * bins, max(bins, n / sigma)))


def _merge_numeric(noisy: np.ndarray, sigma: float, bins: int, n: int) -> np.ndarray:
    """Neighbouring fine bins grouped left to right, at most ``bins`` groups.

    A group closes once its noisy count reaches both ``n / bins`` (about equal mass) and three
    times its own noise, ``3σ√m`` for ``m`` fine bins, so a long empty stretch (noise only) joins
    its neighbour instead of becoming a bin, while a dense region keeps fine bins. Uses only the
    noisy counts and the public ``n``: post-processing.
    """
    group = np.zeros(noisy.size, dtype=np.int64)
    g, acc, m = 0, 0.0, 0
    for f in range(noisy.size):
        group[f] = g
        acc += float(noisy[f])
        m += 1
        if acc >= max(n / bins, 3 * sigma * math.sqrt(m)) and f < noisy.size - 1:
            g, acc, m = g + 1, 0.0, 0
    if g > 0 and acc < max(n / bins, 3 * sigma * math.sqrt(max(m, 1))):  # a light tail joins the group before it
        group[group == g] = g - 1
    return group


def _merge_categories(noisy: np.ndarray, sigma: float) -> np.ndarray:
    """MST's compression: categories with noisy count >= 3σ keep their own code, the rest share one."""
    keep = noisy >= 3 * sigma
    group = np.cumsum(keep) - 1
    rare = int(keep.sum())
    return np.where(keep, group, rare).astype(np.int64) if rare else np.zeros(noisy.size, dtype=np.int64)


def _within(noisy: np.ndarray, group: np.ndarray, sigma: float, ordered: bool) -> np.ndarray:
    """P(fine bin | its group) from the noisy counts (post-processing).

    Numbers (``ordered``): shares from significant runs of neighbouring bins (:func:`_runs`),
    so noise in an empty stretch does not scatter values over it, while dense stretches keep
    single-bin detail; ``_FLOOR`` of each group is spread evenly, so every value in the public
    range stays reachable by a condition. Categories pooled as too rare to measure: uniform
    (as MST). A group without any signal is uniform.
    """
    out = np.zeros(noisy.size)
    for g in range(int(group.max()) + 1):
        cells = np.flatnonzero(group == g)
        share = _runs(noisy[cells], sigma) if ordered else np.ones(cells.size)
        share = share / share.sum() if share.sum() > 0 else np.full(cells.size, 1.0 / cells.size)
        out[cells] = (1 - _FLOOR) * share + _FLOOR / cells.size
    return out


def _runs(y: np.ndarray, sigma: float) -> np.ndarray:
    """Unnormalised shares of neighbouring bins from their noisy counts.

    Scanning left to right, a run closes once its noisy sum reaches ``3σ√m``, and its mass is
    spread evenly over it, unless the run starts significantly sparser than the shortest
    significant stretch at its end (an empty bin before a dense one): then each part gets its
    own sum. A trailing run that never closes gets nothing.
    """
    out = np.zeros(y.size)
    start, acc = 0, 0.0
    for f in range(y.size):
        acc += float(y[f])
        if acc < 3 * sigma * math.sqrt(f - start + 1):
            continue
        tail, k = 0.0, f
        for k in range(f, start - 1, -1):
            tail += float(y[k])
            if tail >= 3 * sigma * math.sqrt(f - k + 1):
                break
        head, m_head, m_tail = acc - tail, k - start, f - k + 1
        # head − (tail density)·m_head has noise sd σ·√(m_head + m_head²/m_tail) when the run is even
        if m_head and tail * m_head / m_tail - head > 3 * sigma * math.sqrt(m_head + m_head**2 / m_tail):
            out[start:k] = max(head, 0.0) / m_head
            out[k : f + 1] = tail / m_tail
        else:
            out[start : f + 1] = acc / (f - start + 1)
        start, acc = f + 1, 0.0
    return out


def _compressed(clique: tuple[int, ...], noisy: np.ndarray, group: np.ndarray, sigma: float) -> Measurement:
    """The fine one-way measurement re-expressed on the groups: sums scaled by 1/√(group size)."""
    size = np.bincount(group).astype(float)
    sums = np.bincount(group, weights=noisy)
    if np.all(size == 1):
        return Measurement(clique, sums, sigma)
    scale = 1.0 / np.sqrt(size)
    return Measurement(clique, sums * scale, sigma, scale)


def _place_missing_values(table: pd.DataFrame, columns: Sequence[ModelColumn]) -> pd.DataFrame:
    """Missing numbers set to their column's public lower bound before counting.

    The plan fills a missing number with another record's value; under privacy that would let
    one record change the counts of many. The value of a missing number is never used (the
    missingness indicator decides), so a fixed public value keeps each record's counts its own
    and confines the missing records to one bin, where MST's first choice of edge (the
    indicator and its column) separates them, instead of spreading them over the range.
    """
    out = table.copy()
    for col in columns:
        indicator = f"{col.name}__missing"
        if col.kind != "numeric" or indicator not in table.columns:
            continue
        missing = np.asarray(table[indicator].astype(str) == "1")
        if missing.any():
            values = out[col.name].to_numpy(dtype=float, copy=True)
            values[missing] = col.low
            out[col.name] = values
    return out
