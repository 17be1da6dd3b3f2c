from __future__ import annotations

import json
import math
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from medsyn.data import TabularDataset, read
from medsyn.data.dataset import Modality
from medsyn.metric import Direction, ItemResult, MetricKind, MetricResult, Status, Threshold
from medsyn.quality import audit
from medsyn.report import Report, figure_for
from tests.conftest import shared


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.images: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"] or "")
        if tag == "img":
            self.images.append(a.get("src") or "")
        if tag in {"script", "link"} and (a.get("src") or a.get("href")):
            self.external.append(a.get("src") or a.get("href") or "")


def _result(items: int = 5, status: Status = Status.WARN) -> MetricResult:
    return MetricResult(
        metric="missingness",
        kind=MetricKind.QUALITY,
        modality=Modality.TABULAR,
        value=0.12,
        ideal=0.0,
        direction=Direction.MINIMIZE,
        status=status,
        reason="12% missing <script>alert(1)</script>",
        title="Missing values",
        threshold=Threshold(0.05, 0.3),
        details={"inf": math.inf, "n": 3},
        items=tuple(ItemResult("column", f"c{i}", i / 10, Status.FAIL if i > 3 else Status.PASS) for i in range(items)),
    )


def test_json_is_strict_and_carries_every_result(tmp_path: Path) -> None:
    report = Report("t", {"modality": "tabular", "records": 3}, (_result(),))
    files = report.write(tmp_path)
    data = json.loads(files.json.read_text())
    assert data["status"] == "warn"
    assert data["results"][0]["details"]["inf"] is None, "non-finite numbers become null, JSON stays valid"
    assert data["results"][0]["items"][4]["status"] == "fail"


def test_html_is_self_contained_escaped_and_charts_items(tmp_path: Path) -> None:
    html = Report("t", {"modality": "tabular", "records": 3}, (_result(),)).to_html()
    parser = _Collector()
    parser.feed(html)
    assert "missingness" in parser.ids
    assert parser.images
    assert all(src.startswith("data:image/png;base64,") for src in parser.images)
    assert parser.external == [], "no external scripts or stylesheets"
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_skipped_results_get_no_figure() -> None:
    assert figure_for(_result(status=Status.SKIPPED)) is None
    assert figure_for(_result(items=1)) is None
    assert figure_for(_result(items=5)) is not None


def test_audit_report_on_real_table(tmp_path: Path) -> None:
    ds = read(shared("actg175_hiv_trial/ACTG175.csv"))
    result = audit(ds)
    files = Report.from_audit(result).write(tmp_path / "out")
    html = files.html.read_text()
    assert "Data dictionary" in html
    assert "pidnum" in html
    data = json.loads(files.json.read_text())
    assert {r["metric"] for r in data["results"]} == {r.metric for r in result.results}
    assert data["subject"]["records"] == 2139
    assert not list((tmp_path / "out").glob(".*")), "atomic writes leave no temporary files"


def test_a_failing_check_is_reported_not_fatal() -> None:
    from medsyn.metric import Metric

    class Broken(Metric):
        """Always breaks."""

        name = "broken"
        title = "Broken"
        modality = Modality.TABULAR
        kind = MetricKind.QUALITY

        def _compute(self, real, synthetic):  # type: ignore[no-untyped-def]
            raise ZeroDivisionError("boom")

    ds = TabularDataset(pd.DataFrame({"a": [1, 2, None]}))
    result = audit(ds, metrics=[Broken(), "missingness"])
    assert result["broken"].status is Status.ERROR
    assert "ZeroDivisionError: boom" in result["broken"].reason
    assert result["missingness"].status is not Status.ERROR
    assert result.status is Status.ERROR
    assert result.errors


def test_metrics_of_another_modality_are_refused() -> None:
    ds = TabularDataset(pd.DataFrame({"a": [1, 2]}))
    from medsyn.metric import METRICS

    signal_metrics = [n for n, c in METRICS.items() if c.modality is Modality.SIGNAL]
    if not signal_metrics:
        pytest.skip("no signal metric registered")
    with pytest.raises(ValueError, match="do not apply to tabular data"):
        audit(ds, metrics=signal_metrics[:1])


def test_shares_read_as_percentages_with_matching_thresholds() -> None:
    from medsyn.report._report import _num, _threshold_text

    assert _num(0.175, "share of channels") == "17.5% of channels"
    assert _num(85.56, "rows per column") == "85.56 rows per column"
    share = MetricResult(
        "x",
        MetricKind.QUALITY,
        Modality.SIGNAL,
        0.1,
        0.0,
        Direction.MINIMIZE,
        Status.WARN,
        "",
        unit="share of channels",
        threshold=Threshold(0.0, 0.1),
    )
    assert _threshold_text(share) == "pass ≤ 0%, warn ≤ 10%"
    never_fails = MetricResult(
        "x",
        MetricKind.QUALITY,
        Modality.TABULAR,
        2.0,
        0.0,
        Direction.MINIMIZE,
        Status.WARN,
        "",
        threshold=Threshold(0.0, math.inf),
    )
    assert _threshold_text(never_fails) == "pass ≤ 0, else warn"
