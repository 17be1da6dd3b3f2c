"""Figures for reports: matplotlib charts rendered to PNG bytes, chosen by metric name.

Metrics never draw; a report asks :data:`FIGURES` for a chart of a result. A metric without a
figure of its own gets the generic chart of its per-item values, coloured by verdict.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from medsyn._registry import Registry
from medsyn.metric import ItemResult, MetricResult, Status

__all__ = ["FIGURES", "STATUS_COLOURS", "figure_for"]

FigureFn = Callable[[MetricResult], Figure | None]
FIGURES: Registry[FigureFn] = Registry("figure")

STATUS_COLOURS: dict[Status, str] = {
    Status.PASS: "#2e7d32",
    Status.INFO: "#607d8b",
    Status.WARN: "#f9a825",
    Status.FAIL: "#c62828",
    Status.SKIPPED: "#9e9e9e",
    Status.ERROR: "#6a1b9a",
}
_MAX_BARS = 30


def _to_png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _items_chart(result: MetricResult, items: list[ItemResult], title: str, xlabel: str) -> Figure:
    shown = sorted(items, key=lambda i: (-i.status.severity, -abs(i.value)))[:_MAX_BARS]
    shown.reverse()
    fig, ax = plt.subplots(figsize=(7.5, 0.28 * len(shown) + 1.2))
    ax.barh([i.key[:40] for i in shown], [i.value for i in shown], color=[STATUS_COLOURS[i.status] for i in shown])
    if result.item_threshold is not None:
        ax.axvline(result.item_threshold.warn, color=STATUS_COLOURS[Status.WARN], ls="--", lw=1, label="warn")
        ax.axvline(result.item_threshold.fail, color=STATUS_COLOURS[Status.FAIL], ls="--", lw=1, label="fail")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return fig


def _generic(result: MetricResult) -> Figure | None:
    """Per-item values of one scope (the one with most findings), coloured by verdict."""
    by_scope: dict[str, list[ItemResult]] = {}
    for item in result.items:
        if item.value == item.value and item.value != 0:  # drop NaN and zeros
            by_scope.setdefault(item.scope, []).append(item)
    if not by_scope:
        return None
    scope = max(by_scope, key=lambda sc: (sum(i.status.severity > 0 for i in by_scope[sc]), len(by_scope[sc])))
    items = by_scope[scope]
    if len(items) < 2 and not any(i.status.severity for i in items):
        return None
    extra = f" (top {_MAX_BARS} of {len(items)})" if len(items) > _MAX_BARS else ""
    return _items_chart(result, items, f"{result.title or result.metric} per {scope}{extra}", f"value per {scope}")


@FIGURES.register("representativeness")
def _groups(result: MetricResult) -> Figure | None:
    """Group shares (and target prevalence where known) per protected attribute."""
    groups = [i for i in result.items if i.scope == "group"]
    if not groups:
        return _generic(result)
    by_attr: dict[str, list[ItemResult]] = {}
    for item in groups:
        by_attr.setdefault(item.key.split("=", 1)[0], []).append(item)
    n = len(by_attr)
    fig, axes = plt.subplots(n, 1, figsize=(7.5, 2.2 * n + 0.5), squeeze=False)
    for ax, (attr, items) in zip(axes[:, 0], by_attr.items(), strict=True):
        labels = [i.key.split("=", 1)[-1][:25] for i in items]
        share = [float(i.details.get("share", i.value) or 0.0) for i in items]
        ax.bar(labels, share, color=[STATUS_COLOURS[i.status] for i in items], label="share of records")
        prevalence = [i.details.get("prevalence") for i in items]
        if any(isinstance(p, int | float) for p in prevalence):
            ax2 = ax.twinx()
            ax2.plot(labels, [p if isinstance(p, int | float) else float("nan") for p in prevalence], "ko-", ms=4)
            ax2.set_ylabel("target prevalence", fontsize=8)
        ax.set_title(attr, fontsize=10)
        ax.set_ylabel("share", fontsize=8)
        ax.tick_params(axis="x", labelsize=8, rotation=30)
    fig.tight_layout()
    return fig


def figure_for(result: MetricResult) -> bytes | None:
    """PNG bytes of the figure for ``result``, or ``None`` when there is nothing to chart."""
    if result.status in {Status.SKIPPED, Status.ERROR}:
        return None
    fn = FIGURES.get(result.metric) if result.metric in FIGURES else _generic
    fig = fn(result)
    return None if fig is None else _to_png(fig)
