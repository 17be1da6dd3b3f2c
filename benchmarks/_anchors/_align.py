"""Value alignment of a real and a synthetic table before scoring (pandas only).

Used by the SDMetrics runner (in the sdv venv) and by the driver's own fidelity score, so both
compare the same values.
"""

from __future__ import annotations

from typing import Any


def align(real: Any, synthetic: Any, columns: dict[str, dict[str, Any]]) -> tuple[Any, Any]:
    """Both tables with the metadata's columns in order and comparable values.

    Numerical columns become float (unparsable values → NaN). Categorical ones become text with
    missing kept missing, spelled the same on both sides: a boolean ``True`` and a float ``1.0``
    are both ``"1"``, so a tool that returns ``bool`` where the real table holds 0/1 is not
    penalised for the spelling. A column missing from the synthetic table is all-missing there.
    """
    import numpy as np
    import pandas as pd

    def spell(v: Any) -> str:
        if isinstance(v, bool | np.bool_):
            return str(int(v))
        if isinstance(v, float | np.floating) and float(v).is_integer():
            return str(int(v))
        return str(v)

    def text(s: pd.Series) -> pd.Series:
        s = s.astype(object)
        mask = s.notna()
        res = pd.Series(np.nan, index=s.index, dtype=object)
        res[mask] = s[mask].map(spell)
        return res

    out = []
    for frame in (real, synthetic):
        cols = {}
        for name, info in columns.items():
            s = frame[name] if name in frame.columns else pd.Series(np.nan, index=frame.index, dtype=object)
            if info["sdtype"] == "numerical":
                cols[name] = pd.to_numeric(s.astype(object), errors="coerce").astype(float)
            elif info["sdtype"] == "datetime":
                cols[name] = pd.to_datetime(s, errors="coerce")
            else:
                cols[name] = text(s)
        out.append(pd.DataFrame(cols, index=frame.index).reset_index(drop=True))
    return out[0], out[1]
