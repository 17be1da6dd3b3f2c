"""``gaussian_copula``: empirical marginals joined by a Gaussian dependence structure.

Each column is mapped to a standard normal score through its own distribution (the
*distributional transform*: a value with cumulative probabilities F(x−) < F(x) gets a uniform
draw between them, which is exact for discrete, tied and mixed columns such as integer ages
or zero-inflated lab values); categories are ordered by frequency and treated the same way.
The correlation of the scores is the dependence model. Sampling draws correlated normal
scores and maps them back through each column's quantile function (interpolated between up to
``quantiles`` knots, so values within the training range but not copies of training values).

Conditions are native and exact: a condition on a column is an interval (or a union of
intervals for a category set) of its normal score, the conditioned scores are drawn from the
truncated multivariate normal (one exact step for one column, a Gibbs sampler for several),
and the other scores from the conditional normal given them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from medsyn.data.conditions import Conditions
from medsyn.data.dataset import Modality
from medsyn.synth._base import GENERATORS, Supports
from medsyn.synth.tabular._base import TabularGenerator
from medsyn.synth.tabular._plan import ModelColumn

__all__ = ["GaussianCopula"]

_EPS = 1e-9


def _ndtri(u: np.ndarray) -> np.ndarray:
    return np.asarray(special.ndtri(np.clip(u, _EPS, 1 - _EPS)), dtype=np.float64)


@GENERATORS.register("gaussian_copula")
class GaussianCopula(TabularGenerator):
    """Fast baseline with good marginals and exact conditional sampling.

    Parameters
    ----------
    quantiles
        Knots of each numeric column's quantile function (more: closer marginals, larger model).
    gibbs_sweeps
        Gibbs sweeps when several columns are conditioned at once.

    Examples
    --------
    >>> import pandas as pd
    >>> from medsyn.synth import get
    >>> df = pd.DataFrame({"age": [30, 40, 50, 60, 70, 80] * 5, "sex": list("FMFMFM") * 5})
    >>> out = get("gaussian_copula")().fit(df).sample(4, conditions="sex == 'F'", seed=0)
    >>> sorted(set(out.data["sex"]))
    ['F']
    """

    name = "gaussian_copula"
    supports = Supports(
        frozenset({Modality.TABULAR}),
        conditions="native",
        summary="empirical marginals + Gaussian copula; seconds at 1M rows; exact conditional sampling",
    )

    def __init__(self, *, quantiles: int = 1000, gibbs_sweeps: int = 25) -> None:
        self.quantiles = quantiles
        self.gibbs_sweeps = gibbs_sweeps

    # -- fit --------------------------------------------------------------------------------
    def _fit(self, table: pd.DataFrame, columns: list[ModelColumn], rng: np.random.Generator) -> None:
        n = len(table)
        scores = np.empty((n, len(columns)))
        attenuation = np.ones(len(columns))
        self.knots_: dict[str, np.ndarray] = {}
        self.cdf_: dict[str, np.ndarray] = {}
        with self._progress(self._show_progress, len(columns) + 1, "gaussian_copula: marginals") as advance:
            for j, col in enumerate(columns):
                if col.kind == "numeric":
                    x = table[col.name].to_numpy(dtype=float)
                    levels = np.linspace(0.0, 1.0, min(self.quantiles, n) + 1)
                    self.knots_[col.name] = np.quantile(x, levels)
                    scores[:, j] = _ndtri(_distributional(x, rng))
                    _, counts = np.unique(x, return_counts=True)
                    attenuation[j] = _attenuation(counts / n)
                else:
                    codes = table[col.name].cat.codes.to_numpy()
                    counts = np.bincount(codes, minlength=len(col.categories)).astype(float)
                    order = np.argsort(-counts, kind="stable")  # most frequent first: a fixed, reproducible order
                    rank_of = np.empty_like(order)
                    rank_of[order] = np.arange(len(order))
                    cum = np.concatenate([[0.0], np.cumsum(counts[order]) / n])
                    self.cdf_[col.name] = np.stack([order.astype(float), cum[:-1], cum[1:]])
                    r = rank_of[codes]
                    u = cum[r] + rng.random(n) * (cum[r + 1] - cum[r])
                    scores[:, j] = _ndtri(u)
                    attenuation[j] = _attenuation(counts[order] / n)
                advance(1)
            corr = np.corrcoef(scores, rowvar=False) if len(columns) > 1 else np.ones((1, 1))
            corr = np.nan_to_num(np.atleast_2d(corr), nan=0.0)
            # undo the attenuation that ties and categories cause, under the latent-normal model
            corr = np.clip(corr / np.outer(attenuation, attenuation), -0.995, 0.995)
            np.fill_diagonal(corr, 1.0)
            self.corr_ = _nearest_correlation(corr)
            advance(1)

    # -- sample -----------------------------------------------------------------------------
    def _sample(self, n: int, rng: np.random.Generator, conditions: Conditions) -> pd.DataFrame:
        names = [c.name for c in self.columns_]
        bounds = {}
        for name in conditions.columns:
            if name in names:
                bounds[names.index(name)] = self._score_intervals(name, conditions)
        z = self._draw_scores(n, rng, bounds)
        out: dict[str, object] = {}
        u = special.ndtr(z)
        for j, col in enumerate(self.columns_):
            if col.kind == "numeric":
                knots = self.knots_[col.name]
                out[col.name] = np.interp(u[:, j], np.linspace(0, 1, len(knots)), knots)
            else:
                order, _lo, hi = self.cdf_[col.name]
                k = np.clip(np.searchsorted(hi, u[:, j], side="right"), 0, len(hi) - 1)
                codes = order.astype(int)[k]
                # pandas-stubs type categories as an Index only; pandas accepts any list-like
                out[col.name] = pd.Categorical.from_codes(codes, categories=list(col.categories))  # type: ignore[call-overload]
        return pd.DataFrame(out)

    def _score_intervals(self, name: str, conditions: Conditions) -> np.ndarray:
        """The normal-score intervals (rows of [low, high]) where ``name`` meets ``conditions``."""
        col = self.columns_[[c.name for c in self.columns_].index(name)]
        if col.kind == "numeric":
            low, high, _, _ = conditions.interval(name)
            knots = self.knots_[name]
            levels = np.linspace(0, 1, len(knots))
            u_lo = 0.0 if low <= knots[0] else float(np.interp(low, knots, levels, left=0.0, right=1.0))
            u_hi = 1.0 if high >= knots[-1] else float(np.interp(high, knots, levels, left=0.0, right=1.0))
            return _ndtri(np.array([[u_lo, max(u_hi, u_lo)]]))
        order, lo, hi = self.cdf_[name]
        allowed = set(conditions.allowed(name, list(col.categories)))
        rows = [[lo[k], hi[k]] for k, code in enumerate(order.astype(int)) if col.categories[code] in allowed]
        return _ndtri(np.array(rows if rows else [[0.0, 0.0]]))

    def _draw_scores(self, n: int, rng: np.random.Generator, bounds: dict[int, np.ndarray]) -> np.ndarray:
        d = len(self.columns_)
        corr = self.corr_
        if not bounds:
            chol = np.linalg.cholesky(corr)
            return rng.standard_normal((n, d)) @ chol.T
        cond = sorted(bounds)
        rest = [j for j in range(d) if j not in bounds]
        s_cc = corr[np.ix_(cond, cond)]
        z_c = np.empty((n, len(cond)))
        if len(cond) == 1:
            z_c[:, 0] = _truncated_normal(np.zeros(n), np.ones(n), bounds[cond[0]], rng)
        else:  # Gibbs on the conditioned block, started from the truncated marginals
            prec = np.linalg.inv(s_cc)
            for i, j in enumerate(cond):
                z_c[:, i] = _truncated_normal(np.zeros(n), np.ones(n), bounds[j], rng)
            for _ in range(self.gibbs_sweeps):
                for i, j in enumerate(cond):
                    others = [k for k in range(len(cond)) if k != i]
                    mean = -(z_c[:, others] @ prec[i, others]) / prec[i, i]
                    sd = np.full(n, 1.0 / np.sqrt(prec[i, i]))
                    z_c[:, i] = _truncated_normal(mean, sd, bounds[j], rng)
        z = np.empty((n, d))
        z[:, cond] = z_c
        if rest:
            s_rc = corr[np.ix_(rest, cond)]
            s_rr = corr[np.ix_(rest, rest)]
            solve = np.linalg.solve(s_cc, s_rc.T).T
            mean = z_c @ solve.T
            cov = s_rr - solve @ s_rc.T
            chol = np.linalg.cholesky(_nearest_correlation(cov, unit_diagonal=False))
            z[:, rest] = mean + rng.standard_normal((n, len(rest))) @ chol.T
        return z

    # -- state ------------------------------------------------------------------------------
    def _model_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        arrays = {"corr": self.corr_}
        arrays |= {f"knots/{k}": v for k, v in self.knots_.items()}
        arrays |= {f"cdf/{k}": v for k, v in self.cdf_.items()}
        return {"columns": [c.name for c in self.columns_]}, arrays

    def _load_model_state(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        names = [c.name for c in self.columns_]
        if list(state["columns"]) != names:
            raise ValueError(f"model columns {state['columns']} do not match the plan {names}")
        self.corr_ = np.asarray(arrays["corr"], dtype=float)
        self.knots_ = {k.split("/", 1)[1]: np.asarray(v) for k, v in arrays.items() if k.startswith("knots/")}
        self.cdf_ = {k.split("/", 1)[1]: np.asarray(v) for k, v in arrays.items() if k.startswith("cdf/")}
        missing = [c.name for c in self.columns_ if c.name not in self.knots_ and c.name not in self.cdf_]
        if missing or self.corr_.shape != (len(names), len(names)):
            raise ValueError(f"arrays missing for columns {missing}")


def _attenuation(masses: np.ndarray) -> float:
    """Corr(latent normal, its jittered score) for a column whose values have these probabilities.

    A value occupying the normal-score interval [a, b] (mass p) gets a uniform draw inside it,
    independent of the latent normal given the interval, so the correlation of two such scores
    is the latent correlation times ρ_i ρ_j with ρ = Σ (φ(a) − φ(b))² / p (the polyserial /
    polychoric correction). ρ = 1 for a continuous column, 2/π ≈ 0.64 for a balanced binary one.
    """
    masses = masses[masses > 0]
    if masses.size <= 1:
        return 1.0
    edges = _ndtri(np.concatenate([[0.0], np.cumsum(masses)]))
    dens = np.exp(-0.5 * edges**2) / np.sqrt(2 * np.pi)
    dens[0] = dens[-1] = 0.0
    return float(np.sum((dens[:-1] - dens[1:]) ** 2 / masses))


def _distributional(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """U ~ Uniform(F(x−), F(x)) for each value: uniform scores even with ties."""
    n = len(x)
    sorted_x = np.sort(x)
    below = np.searchsorted(sorted_x, x, side="left")
    upto = np.searchsorted(sorted_x, x, side="right")
    return (below + rng.random(n) * (upto - below)) / n


def _truncated_normal(mean: np.ndarray, sd: np.ndarray, intervals: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row from N(mean, sd²) restricted to the union of ``intervals`` (exact inverse CDF)."""
    lo = (intervals[:, 0][None, :] - mean[:, None]) / sd[:, None]
    hi = (intervals[:, 1][None, :] - mean[:, None]) / sd[:, None]
    # log-space masses keep far tails (rare conditions) accurate
    c_lo, c_hi = special.ndtr(lo), special.ndtr(hi)
    mass = np.clip(c_hi - c_lo, 0, None)
    total = mass.sum(axis=1, keepdims=True)
    degenerate = total[:, 0] <= 1e-300
    total[degenerate] = 1.0
    cum = np.cumsum(mass / total, axis=1)
    pick = (rng.random(len(mean))[:, None] > cum).sum(axis=1)
    pick = np.minimum(pick, intervals.shape[0] - 1)
    rows = np.arange(len(mean))
    a, b = c_lo[rows, pick], c_hi[rows, pick]
    u = a + rng.random(len(mean)) * (b - a)
    z = special.ndtri(np.clip(u, 1e-300, 1 - 1e-16))
    # far in a tail ndtr saturates: fall back to the nearer edge of the interval
    edge = np.where(np.abs(lo[rows, pick]) < np.abs(hi[rows, pick]), lo[rows, pick], hi[rows, pick])
    z = np.where(np.isfinite(z) & (b > a), z, edge)
    z = np.clip(z, lo[rows, pick], hi[rows, pick])
    return np.asarray(mean + sd * z, dtype=np.float64)


def _nearest_correlation(matrix: np.ndarray, *, unit_diagonal: bool = True) -> np.ndarray:
    """Clip negative eigenvalues so the Cholesky factor exists (and rescale to unit diagonal)."""
    sym = (matrix + matrix.T) / 2
    values, vectors = np.linalg.eigh(sym)
    values = np.clip(values, 1e-8, None)
    fixed = (vectors * values) @ vectors.T
    if unit_diagonal:
        scale = np.sqrt(np.diag(fixed))
        fixed = fixed / scale[:, None] / scale[None, :]
    return np.asarray((fixed + fixed.T) / 2, dtype=np.float64)
