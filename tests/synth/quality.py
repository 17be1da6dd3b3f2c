"""Fidelity measures the synthesis tests share (the evaluation issue brings the full metrics).

Tolerances used with them, and why: at n ≈ 2–8k rows the KS statistic between two samples of
the *same* distribution is below ≈ 0.03 (critical value 1.36·sqrt(2/n)), so KS < 0.1 leaves
room for model error without accepting a visibly wrong marginal; total variation < 0.1 is the
same for categories; a Spearman correlation that moves by less than 0.15 keeps the sign and
rough strength of every clinical association; a train-on-synthetic AUC within 0.1 of
train-on-real means the synthetic table supports the same model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score


def _numeric(frame: pd.DataFrame) -> list[str]:
    return [
        c
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
        and frame[c].nunique() > 2
    ]


def ks_by_column(real: pd.DataFrame, synthetic: pd.DataFrame) -> dict[str, float]:
    return {c: float(stats.ks_2samp(real[c].dropna(), synthetic[c].dropna()).statistic) for c in _numeric(real)}


def tvd_by_column(real: pd.DataFrame, synthetic: pd.DataFrame) -> dict[str, float]:
    out = {}
    for c in real.columns:
        if c in _numeric(real) or pd.api.types.is_datetime64_any_dtype(real[c]):
            continue
        p = real[c].astype(str).value_counts(normalize=True)
        q = synthetic[c].astype(str).value_counts(normalize=True)
        out[c] = float(0.5 * p.subtract(q, fill_value=0).abs().sum())
    return out


def spearman_gap(real: pd.DataFrame, synthetic: pd.DataFrame) -> float:
    """Largest absolute difference between real and synthetic Spearman correlations."""
    cols = _numeric(real)
    a = real[cols].corr(method="spearman").to_numpy()
    b = synthetic[cols].corr(method="spearman").to_numpy()
    return float(np.nanmax(np.abs(a - b)))


def _encode(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = frame[columns].copy()
    for c in columns:
        if not pd.api.types.is_numeric_dtype(out[c]) or pd.api.types.is_bool_dtype(out[c]):
            out[c] = out[c].astype("category")
    return out


def tstr_auc(
    train_real: pd.DataFrame, synthetic: pd.DataFrame, test: pd.DataFrame, target: str, positive: object
) -> tuple[float, float]:
    """(AUC train-real/test-real, AUC train-synthetic/test-real) with gradient boosting."""
    features = [
        c for c in train_real.columns if c != target and not pd.api.types.is_datetime64_any_dtype(train_real[c])
    ]
    scores = []
    for train in (train_real, synthetic):
        x = _encode(pd.concat([train, test], ignore_index=True), features)
        model = HistGradientBoostingClassifier(max_iter=100, random_state=0, categorical_features="from_dtype")
        model.fit(x.iloc[: len(train)], (train[target] == positive).to_numpy())
        prob = model.predict_proba(x.iloc[len(train) :])[:, 1]
        scores.append(float(roc_auc_score((test[target] == positive).to_numpy(), prob)))
    return scores[0], scores[1]
