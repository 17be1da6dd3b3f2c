"""Mode-specific normalisation: the model table as the matrix the deep generators learn from.

Xu et al. (2019, "Modeling Tabular Data using Conditional GAN", section 4.2): a numeric
column is often multi-modal and far from Gaussian, so min–max scaling it for a ``tanh``
output wastes most of the range. Instead each numeric column gets a variational
(Dirichlet-process) Gaussian mixture with up to ``max_modes`` modes; a value ``x`` is
represented by a mode ``k`` drawn from its posterior over the modes (as a one-hot vector)
and the scalar ``α = (x − μ_k) / (4 σ_k)`` inside that mode. A categorical column is a one-hot
vector. The inverse maps the scalar back through the most probable mode.

Two details beyond the paper:

- the mixture is fitted to the standardised column (numerically safe at any scale) and, for
  large tables, on a random subsample of ``max_fit_rows`` rows (the mixture is an encoding,
  it does not need every row);
- a value is only ever assigned a mode that can represent it (``|α| ≤ 0.99``); training
  values that no kept mode covers (outliers beyond the pruned mixture) get one extra wide mode,
  so ``inverse(transform(x)) == x`` for every training value, outliers included.

The learned state is plain arrays (``to_state`` / ``from_state``): one ``(3, k)`` array of
mode means, standard deviations and weights per numeric column, nothing pickled.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from medsyn.synth.tabular._plan import ModelColumn

__all__ = ["ModeTransformer", "Span"]

_ALPHA_MAX = 0.99  # the normalised scalar stays inside tanh's range
_SD_FLOOR = 1e-3  # in standard units of the column: modes no narrower than 0.1 % of its spread


@dataclass(frozen=True, slots=True)
class Span:
    """A run of output columns: one ``tanh`` scalar, or a one-hot block learned with a softmax."""

    column: int  # index into the model columns
    kind: Literal["scalar", "onehot"]
    start: int
    width: int
    categorical: bool = False  # a categorical column's one-hot (not a numeric column's modes)

    @property
    def stop(self) -> int:
        return self.start + self.width


class ModeTransformer:
    """Mode-specific normalisation of numeric columns, one-hot encoding of categorical ones.

    Parameters
    ----------
    max_modes
        Components of each column's Bayesian Gaussian mixture (modes with weight below
        ``weight_threshold`` are dropped after fitting).
    weight_threshold
        Smallest weight of a kept mode.
    max_fit_rows
        The mixtures are fitted on at most this many randomly chosen rows.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from medsyn.synth.tabular._plan import ModelColumn
    >>> cols = [ModelColumn("x", "numeric"), ModelColumn("c", "categorical", ("a", "b"))]
    >>> table = pd.DataFrame({"x": [1.0, 2.0, 10.0, 11.0] * 5, "c": pd.Categorical(list("abab") * 5)})
    >>> rng = np.random.default_rng(0)
    >>> t = ModeTransformer().fit(table, cols, rng)
    >>> back = t.inverse(t.transform(table, rng))
    >>> bool(np.allclose(back["x"], table["x"])) and back["c"].tolist() == table["c"].tolist()
    True
    """

    def __init__(self, *, max_modes: int = 10, weight_threshold: float = 0.005, max_fit_rows: int = 5000) -> None:
        self.max_modes = max_modes
        self.weight_threshold = weight_threshold
        self.max_fit_rows = max_fit_rows

    # -- fitting ----------------------------------------------------------------------------
    def fit(self, table: pd.DataFrame, columns: Sequence[ModelColumn], rng: np.random.Generator) -> ModeTransformer:
        """Learn each numeric column's modes (categorical columns need nothing but their categories)."""
        self.columns = list(columns)
        self.shift: dict[int, float] = {}
        self.scale: dict[int, float] = {}
        self.modes: dict[int, np.ndarray] = {}  # (3, k): means, sds, weights in standard units
        for j, col in enumerate(self.columns):
            if col.kind != "numeric":
                continue
            x = table[col.name].to_numpy(dtype=float)
            shift = float(np.mean(x))
            sd = float(np.std(x))
            scale = sd if sd > 0 and math.isfinite(sd) else 1.0
            z = (x - shift) / scale
            self.shift[j], self.scale[j] = shift, scale
            self.modes[j] = _cover(self._mixture(z, rng), z)
        self._layout()
        return self

    def _mixture(self, z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Means, sds and weights of the kept modes of a Dirichlet-process mixture fitted to ``z``."""
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.mixture import BayesianGaussianMixture

        if len(z) > self.max_fit_rows:
            z = z[rng.choice(len(z), size=self.max_fit_rows, replace=False)]
        distinct = np.unique(z)
        seed = int(rng.integers(2**31 - 1))
        if len(distinct) == 1:
            return np.array([[float(distinct[0])], [_SD_FLOOR], [1.0]])
        bgm = BayesianGaussianMixture(
            n_components=min(self.max_modes, len(distinct)),
            weight_concentration_prior_type="dirichlet_process",
            weight_concentration_prior=0.001,
            covariance_type="spherical",  # the same model in one dimension, about 3x faster than "full"
            reg_covar=_SD_FLOOR**2,
            n_init=1,
            random_state=seed,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            bgm.fit(z[:, None])
        weights = np.asarray(bgm.weights_, dtype=float)
        keep = weights > self.weight_threshold
        if not keep.any():
            keep = weights == weights.max()
        means = np.asarray(bgm.means_, dtype=float)[:, 0][keep]
        sds = np.sqrt(np.asarray(bgm.covariances_, dtype=float).reshape(-1))[keep]
        w = weights[keep] / weights[keep].sum()
        order = np.argsort(means, kind="stable")
        return np.stack([means[order], np.maximum(sds[order], _SD_FLOOR), w[order]])

    def _layout(self) -> None:
        spans: list[Span] = []
        start = 0
        for j, col in enumerate(self.columns):
            if col.kind == "numeric":
                k = self.modes[j].shape[1]
                spans += [Span(j, "scalar", start, 1), Span(j, "onehot", start + 1, k)]
                start += 1 + k
            else:
                spans.append(Span(j, "onehot", start, len(col.categories), categorical=True))
                start += len(col.categories)
        self.spans = spans
        self.width = start

    @property
    def categorical_spans(self) -> list[Span]:
        """One-hot spans of categorical columns (what CTGAN's conditional vector is built from)."""
        return [s for s in self.spans if s.categorical]

    # -- transform --------------------------------------------------------------------------
    def transform(self, table: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
        """The ``(n, width)`` float32 matrix; each numeric value's mode is drawn from its posterior."""
        n = len(table)
        out = np.zeros((n, self.width), dtype=np.float32)
        rows = np.arange(n)
        for span in self.spans:
            col = self.columns[span.column]
            if span.kind == "scalar":
                z = (table[col.name].to_numpy(dtype=float) - self.shift[span.column]) / self.scale[span.column]
                k, alpha = _assign(z, self.modes[span.column], rng)
                out[:, span.start] = alpha
                out[rows, span.start + 1 + k] = 1.0
            elif span.categorical:
                cat = pd.Categorical(table[col.name], categories=list(col.categories))
                codes = np.asarray(cat.codes, dtype=np.int64)
                out[rows, span.start + codes] = 1.0
        return out

    def inverse(
        self,
        matrix: np.ndarray,
        *,
        sigmas: np.ndarray | None = None,
        rng: np.random.Generator | None = None,
    ) -> pd.DataFrame:
        """Model-table rows from a matrix: ``tanh`` scalars and one-hot scores (argmax is taken).

        ``sigmas`` (one per output column, with ``rng``) adds Gaussian noise to each scalar
        before it is decoded, as TVAE's decoder models it.
        """
        n = len(matrix)
        out: dict[str, object] = {}
        for span in self.spans:
            col = self.columns[span.column]
            if span.kind == "scalar":
                alpha = matrix[:, span.start].astype(float)
                if sigmas is not None and rng is not None:
                    alpha = alpha + rng.standard_normal(n) * float(sigmas[span.start])
                alpha = np.clip(alpha, -1.0, 1.0)
                means, sds, _ = self.modes[span.column]
                k = np.argmax(matrix[:, span.start + 1 : span.start + 1 + len(means)], axis=1)
                z = alpha * 4.0 * sds[k] + means[k]
                x = z * self.scale[span.column] + self.shift[span.column]
                out[col.name] = np.clip(x, col.low, col.high)
            elif span.categorical:
                codes = np.argmax(matrix[:, span.start : span.stop], axis=1)
                out[col.name] = pd.Categorical.from_codes(codes, categories=pd.Index(list(col.categories)))
        return pd.DataFrame({c.name: out[c.name] for c in self.columns}, index=range(n))

    # -- state ------------------------------------------------------------------------------
    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        numeric = sorted(self.modes)
        state = {
            "max_modes": self.max_modes,
            "weight_threshold": self.weight_threshold,
            "max_fit_rows": self.max_fit_rows,
            "numeric": numeric,
            "shift": [self.shift[j] for j in numeric],
            "scale": [self.scale[j] for j in numeric],
        }
        return state, {f"modes/{j}": self.modes[j] for j in numeric}

    @classmethod
    def from_state(
        cls, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray], columns: Sequence[ModelColumn]
    ) -> ModeTransformer:
        """Rebuild from :meth:`to_state`; ``ValueError`` when the state does not fit ``columns``."""
        out = cls(
            max_modes=int(state["max_modes"]),
            weight_threshold=float(state["weight_threshold"]),
            max_fit_rows=int(state["max_fit_rows"]),
        )
        out.columns = list(columns)
        numeric = [int(j) for j in state["numeric"]]
        expected = [j for j, c in enumerate(columns) if c.kind == "numeric"]
        if numeric != expected:
            raise ValueError(f"transformer numeric columns {numeric} do not match the plan's {expected}")
        out.shift = {j: float(v) for j, v in zip(numeric, state["shift"], strict=True)}
        out.scale = {j: float(v) for j, v in zip(numeric, state["scale"], strict=True)}
        out.modes = {}
        for j in numeric:
            modes = np.asarray(arrays[f"modes/{j}"], dtype=float)
            if modes.ndim != 2 or modes.shape[0] != 3 or modes.shape[1] < 1:
                raise ValueError(f"modes of column {j} have shape {modes.shape}; expected (3, k)")
            out.modes[j] = modes
        out._layout()
        return out


# -- helpers ------------------------------------------------------------------------------------
def _alphas(z: np.ndarray, modes: np.ndarray) -> np.ndarray:
    means, sds, _ = modes
    out: np.ndarray = (z[:, None] - means[None, :]) / (4.0 * sds[None, :])
    return out


def _cover(modes: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Add one wide mode when some values lie beyond every kept mode's ±0.99 × 4σ."""
    uncovered = z[~(np.abs(_alphas(z, modes)) <= _ALPHA_MAX).any(axis=1)]
    if uncovered.size == 0:
        return modes
    centre = (float(uncovered.min()) + float(uncovered.max())) / 2
    half = (float(uncovered.max()) - float(uncovered.min())) / 2
    sd = max(half / (4.0 * _ALPHA_MAX) * (1 + 1e-6), _SD_FLOOR)
    weight = uncovered.size / z.size
    extra = np.array([[centre], [sd], [weight]])
    merged = np.concatenate([modes * np.array([[1.0], [1.0], [1.0 - weight]]), extra], axis=1)
    return merged[:, np.argsort(merged[0], kind="stable")]


def _assign(z: np.ndarray, modes: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each value's mode (drawn from the posterior over the modes that can represent it) and its α."""
    means, sds, weights = modes
    alpha = _alphas(z, modes)
    logp = np.log(np.maximum(weights, 1e-300))[None, :] - np.log(sds)[None, :] - 8.0 * alpha**2
    covered = np.abs(alpha) <= _ALPHA_MAX
    any_covered = covered.any(axis=1)
    logp = np.where(covered | ~any_covered[:, None], logp, -np.inf)
    logp -= logp.max(axis=1, keepdims=True)
    prob = np.exp(logp)
    cum = np.cumsum(prob, axis=1)
    u = rng.random(len(z)) * cum[:, -1]
    k = np.minimum((u[:, None] > cum).sum(axis=1), len(means) - 1)
    picked = alpha[np.arange(len(z)), k]
    return k, np.clip(picked, -_ALPHA_MAX, _ALPHA_MAX)
