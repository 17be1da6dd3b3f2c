"""Redundant columns: strongly correlated pairs, multicollinearity (VIF), associated categories.

Correlations are computed on a seeded sample of at most ``sample_size`` rows as one matrix
product over standardised columns; the variance inflation factors are the diagonal of the
inverse correlation matrix, so no regression is fitted per column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from medsyn.data.dataset import Dataset, Modality
from medsyn.metric import METRICS, Direction, ItemResult, Metric, MetricKind, MetricResult, Status, Threshold
from medsyn.quality.tabular._common import (
    factorized,
    feature_fields,
    float_values,
    is_text,
    numeric_fields,
    sample_positions,
    table,
    worst,
)

__all__ = ["Collinearity"]

_MAX_LEVELS = 50
_BLAS_FROM_COLUMNS = 200
#: VIF needs an eigen-decomposition of the p × p correlation matrix (O(p³)); above this it is left out.
_MAX_VIF_COLUMNS = 1000
#: Cramér's V is computed for at most this many text columns (pairs grow quadratically).
_MAX_CATEGORICAL_COLUMNS = 200


def _corr(z: np.ndarray) -> np.ndarray:
    """Correlation matrix of the columns of ``z`` (NaN → column mean, i.e. no contribution)."""
    mean = np.nanmean(z, axis=0)
    z = np.where(np.isnan(z), mean, z) - mean
    sd = np.sqrt((z**2).sum(axis=0))
    sd[sd == 0] = np.inf
    z = z / sd
    # einsum, not BLAS, for the usual few dozen columns (threaded BLAS stalls on busy machines);
    # BLAS once the p × p product is large (a 10,000-column table).
    product = z.T @ z if z.shape[1] > _BLAS_FROM_COLUMNS else np.einsum("ij,ik->jk", z, z)
    c: np.ndarray = np.clip(product, -1.0, 1.0)
    np.fill_diagonal(c, 1.0)
    return c


def _vif(r: np.ndarray) -> np.ndarray:
    """Variance inflation factors, the diagonal of the inverse correlation matrix, from its eigenvalues.

    Exact linear dependence (a total computed from its parts) gives an eigenvalue of ~0; the
    columns loading on it get an infinite VIF instead of an arbitrary huge number.
    """
    w, v = np.linalg.eigh(r)
    tiny = w < 1e-10 * len(w)
    vif = (v[:, ~tiny] ** 2 / w[~tiny]).sum(axis=1)
    dependent = (np.abs(v[:, tiny]) > 1e-6).any(axis=1)
    out: np.ndarray = np.where(dependent, np.inf, np.maximum(vif, 1.0))
    return out


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks per column; NaN stays NaN (and then contributes nothing to the correlation)."""
    from scipy.stats import rankdata

    ranks: np.ndarray = rankdata(x, axis=0, method="average", nan_policy="omit")
    return ranks


def _cramers_v(a: np.ndarray, b: np.ndarray, ka: int, kb: int) -> float:
    keep = (a >= 0) & (b >= 0)
    a, b = a[keep], b[keep]
    n = len(a)
    if n == 0 or ka < 2 or kb < 2:
        return 0.0
    table = np.bincount(a * kb + b, minlength=ka * kb).reshape(ka, kb).astype(float)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if min(table.shape) < 2:
        return 0.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return float(np.sqrt(chi2 / (n * (min(table.shape) - 1))))


@METRICS.register("collinearity")
class Collinearity(Metric):
    """Feature columns that largely repeat each other: correlated pairs, VIF, associated categories.
    Two columns measuring the same thing (weight in kg and in lb, a score and its components)
    make model coefficients unstable and double-count a factor. Numeric pairs with |Pearson| or
    |Spearman| at or above ``pair_limit`` and features with a variance inflation factor above
    ``vif_limit`` warn; categorical pairs with Cramér's V at or above ``pair_limit`` warn too.
    The value is the strongest association found between two different features.

    Parameters
    ----------
    pair_limit
        |r| (Pearson or Spearman) or Cramér's V at which a pair is flagged.
    vif_limit
        Variance inflation factor above which a feature is flagged.
    sample_size, seed
        Rows (seeded sample) on which associations are estimated.
    threshold
        Verdict on the strongest association.
    """

    name = "collinearity"
    title = "Correlated and redundant features"
    modality = Modality.TABULAR
    kind = MetricKind.QUALITY
    direction = Direction.MINIMIZE
    ideal = 0.0
    default_threshold = Threshold(warn=0.95, fail=0.995)

    def __init__(
        self,
        *,
        pair_limit: float = 0.95,
        vif_limit: float = 10.0,
        sample_size: int = 50_000,
        seed: int = 0,
        threshold: Threshold | None = None,
    ) -> None:
        super().__init__(threshold=threshold)
        self.pair_limit = pair_limit
        self.vif_limit = vif_limit
        self.sample_size = sample_size
        self.seed = seed

    def applies_to(self, data: Dataset) -> str | None:
        if len(feature_fields(data.schema)) < 2:
            return "fewer than two feature columns: nothing can be redundant"
        if len(data) < 3:
            return f"only {len(data)} rows: correlations are undefined"
        return None

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        frame, schema = table(real)
        pos = sample_positions(len(frame), self.sample_size, self.seed)
        features = {f.name for f in feature_fields(schema)}
        num = [f.name for f in numeric_fields(frame, schema, include_boolean=True) if f.name in features]
        items: list[ItemResult] = []
        strongest = 0.0
        vif_max = float("nan")
        if len(num) >= 2:
            x = np.column_stack([float_values(frame[c] if pos is None else frame[c].iloc[pos]) for c in num])
            pearson, spearman = _corr(x), _corr(_ranks(x))
            both = np.maximum(np.abs(pearson), np.abs(spearman))
            iu = np.triu_indices(len(num), k=1)
            upper = both[iu]
            strongest = float(upper.max())
            hits = np.flatnonzero(upper >= self.pair_limit)
            for i, j in zip(iu[0][hits], iu[1][hits], strict=True):
                r = float(both[i, j])
                if r >= self.pair_limit:
                    items.append(
                        ItemResult(
                            "pair",
                            f"{num[i]} ~ {num[j]}",
                            r,
                            self.judge(r),
                            f"'{num[i]}' and '{num[j]}' move together (Pearson {pearson[i, j]:+.3f}, "
                            f"Spearman {spearman[i, j]:+.3f}); one may be redundant",
                            {"pearson": float(pearson[i, j]), "spearman": float(spearman[i, j])},
                        )
                    )
            vif = _vif(pearson) if len(num) <= _MAX_VIF_COLUMNS else np.full(len(num), np.nan)
            vif_max = float(np.nanmax(vif)) if np.isfinite(vif).any() or np.isinf(vif).any() else float("nan")
            for c, v in zip(num, vif, strict=True):
                if v > self.vif_limit:
                    shown = "∞" if np.isinf(v) else f"{v:.0f}"
                    items.append(
                        ItemResult(
                            "column",
                            c,
                            float(v),
                            Status.WARN,
                            f"VIF {shown}: '{c}' is almost a linear combination of other features",
                            {"vif": float(v)},
                        )
                    )
        strongest = max(strongest, self._categorical(frame, features, pos, items))
        status = worst([self.judge(strongest), *(i.status for i in items)])
        pairs = [i for i in items if i.scope == "pair"]
        if pairs:
            top = max(pairs, key=lambda i: i.value)
            reason = f"{len(pairs)} feature pairs are strongly associated; strongest {top.note}"
        elif items:
            reason = f"{len(items)} features are near-linear combinations of others (VIF > {self.vif_limit:g})"
        else:
            reason = f"no two features are redundant (strongest association {strongest:.2f})"
        details = {
            "numeric_features": len(num),
            "max_vif": vif_max,
            "sampled_rows": len(frame) if pos is None else len(pos),
            "pair_limit": self.pair_limit,
            "vif_limit": self.vif_limit,
        }
        if pos is not None:
            reason += f" (estimated on a seeded sample of {len(pos):,} rows)"
        if len(num) > _MAX_VIF_COLUMNS:
            reason += f"; VIF left out for {len(num):,} numeric features (computed up to {_MAX_VIF_COLUMNS:,})"
        return self.result(strongest, reason, status=status, items=items, details=details)

    def _categorical(
        self, frame: pd.DataFrame, features: set[str], pos: np.ndarray | None, items: list[ItemResult]
    ) -> float:
        """Cramér's V for pairs of low-cardinality text columns; appends flagged pairs, returns the largest V."""
        cats: list[tuple[str, np.ndarray, int]] = []
        for c in map(str, frame.columns):
            if c not in features or not is_text(frame[c]):
                continue
            if pos is None:
                shared = factorized(frame, c)
                codes, k = shared.codes, len(shared.uniques)
            else:
                codes, uniques = pd.factorize(frame[c].iloc[pos])
                k = len(uniques)
            if 2 <= k <= _MAX_LEVELS and len(cats) < _MAX_CATEGORICAL_COLUMNS:
                cats.append((c, codes.astype(np.int64), k))
        best = 0.0
        for a in range(len(cats)):
            for b in range(a + 1, len(cats)):
                (na, ca, ka), (nb, cb, kb) = cats[a], cats[b]
                v = _cramers_v(ca, cb, ka, kb)
                best = max(best, v)
                if v >= self.pair_limit:
                    items.append(
                        ItemResult(
                            "pair",
                            f"{na} ~ {nb}",
                            v,
                            self.judge(v),
                            f"'{na}' and '{nb}' determine each other (Cramér's V {v:.3f})",
                            {"cramers_v": v},
                        )
                    )
        return best
