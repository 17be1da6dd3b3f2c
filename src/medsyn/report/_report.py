"""Reports: typed results rendered to JSON (for machines) and self-contained HTML (for people).

A :class:`Report` holds metric results, the subject they describe and its data dictionary. The
HTML is one file with inline CSS and embedded PNG charts, so it can be mailed or archived
as it is. Both files are written atomically.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

from medsyn import __version__
from medsyn._atomic import write_text
from medsyn.data.schema import Schema
from medsyn.metric import ItemResult, MetricResult, Status, get_metric
from medsyn.report._figures import figure_for

if TYPE_CHECKING:
    from medsyn.quality import AuditResult

__all__ = ["Report", "ReportFiles"]

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("medsyn.report", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_VERDICTS = {
    Status.PASS: "no problems found.",
    Status.WARN: "usable, with findings to review before use.",
    Status.FAIL: "problems that should be fixed or justified before use.",
    Status.ERROR: "some checks could not run; see the errors below.",
}


def _num(value: float | int | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if unit.startswith("share of "):  # "0.175 share of channels" reads as "17.5% of channels"
        return f"{100 * float(value):.3g}% {unit[len('share ') :]}"
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return f"{text} {unit}".strip()


@dataclass(frozen=True, slots=True)
class ReportFiles:
    json: Path
    html: Path


@dataclass(frozen=True, slots=True)
class Report:
    """A titled list of results about one subject (a dataset, or a real/synthetic pair)."""

    title: str
    subject: Mapping[str, object]
    results: tuple[MetricResult, ...]
    schema: Schema | None = None
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @classmethod
    def from_audit(cls, audit: AuditResult, *, title: str | None = None) -> Report:
        prov = audit.dataset.get("provenance")
        name = str(prov.get("source", "dataset")) if isinstance(prov, Mapping) else "dataset"
        return cls(
            title=title or f"Data-quality audit: {Path(name).name}",
            subject=audit.dataset,
            results=audit.results,
            schema=audit.schema,
            warnings=audit.warnings,
            errors=audit.errors,
        )

    @property
    def status(self) -> Status:
        worst = max((r.status for r in self.results), key=lambda s: s.severity, default=Status.PASS)
        return Status.PASS if worst.severity == 0 else worst

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in (Status.PASS, Status.WARN, Status.FAIL, Status.INFO, Status.SKIPPED, Status.ERROR)}
        for r in self.results:
            out[r.status.value] += 1
        return out

    def to_dict(self) -> dict[str, object]:
        return {
            "title": self.title,
            "created": self.created,
            "medsyn_version": __version__,
            "status": self.status.value,
            "counts": self.counts(),
            "subject": dict(self.subject),
            "warnings": list(self.warnings),
            "errors": list(self.errors),
            "results": [r.to_dict() for r in self.results],
            "schema": None if self.schema is None else self.schema.to_dict(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False, default=str)

    def to_html(self) -> str:
        results = [self._result_view(r) for r in self.results]
        subject = self.subject
        prov = subject.get("provenance") if isinstance(subject.get("provenance"), Mapping) else {}
        assert isinstance(prov, Mapping)
        rows = [(k, _subject_value(v)) for k, v in subject.items() if k != "provenance"]
        labels = {"source": "read from", "reader": "reader", "digest": "content sha-256", "id": "provenance id"}
        rows += [(labels[k], _subject_value(v)) for k, v in prov.items() if k in labels]
        line = f"{subject.get('modality', '')} · {subject.get('records', '?')} records"
        return _ENV.get_template("report.html").render(
            title=self.title,
            version=__version__,
            created=self.created,
            subject_line=line,
            status=self.status.value,
            verdict=_VERDICTS.get(self.status, ""),
            counts=[(k, v) for k, v in self.counts().items() if v],
            results=results,
            warnings=list(self.warnings) + [f"error: {e}" for e in self.errors],
            subject=rows,
            schema=self._schema_view(),
            digest_line=f"data digest {prov.get('digest', '')}",
        )

    def write(self, out_dir: str | Path, *, stem: str = "report") -> ReportFiles:
        """Write ``<stem>.json`` and ``<stem>.html`` into ``out_dir`` (created if needed)."""
        out = Path(out_dir)
        files = ReportFiles(json=out / f"{stem}.json", html=out / f"{stem}.html")
        write_text(files.json, self.to_json())
        write_text(files.html, self.to_html())
        return files

    # -- views for the template ---------------------------------------------------------------
    @staticmethod
    def _result_view(r: MetricResult) -> dict[str, object]:
        png = figure_for(r)
        try:
            description = get_metric(r.metric).describe()
        except LookupError:
            description = ""
        flagged: Sequence[ItemResult] = r.flagged()
        return {
            "metric": r.metric,
            "title": r.title,
            "status": r.status.value,
            "reason": r.reason,
            "description": description,
            "value_text": _num(r.value, r.unit),
            "ideal": _num(r.ideal),
            "direction_text": "lower is better" if r.direction.value == "minimize" else "higher is better",
            "threshold_text": _threshold_text(r),
            "ci_text": "" if r.ci is None else f"[{_num(r.ci[0])}, {_num(r.ci[1])}]",
            "figure": base64.b64encode(png).decode() if png else None,
            "flagged": [
                {"scope": i.scope, "key": i.key, "status": i.status.value, "value_text": _num(i.value), "note": i.note}
                for i in flagged
            ],
            "details": [(k, _num(v) if isinstance(v, float) else v) for k, v in r.details.items()],
        }

    def _schema_view(self) -> list[dict[str, str]]:
        if self.schema is None:
            return []
        rows = []
        for f in self.schema:
            if f.categories is not None:
                rng = ", ".join(f.categories[:15]) + (f" … ({len(f.categories)})" if len(f.categories) > 15 else "")
            elif f.minimum is not None or f.maximum is not None:
                rng = f"{_num(f.minimum)} – {_num(f.maximum)}"
            else:
                rng = ""
            rows.append(
                {
                    "name": f.name,
                    "type": f.type.value,
                    "roles": ", ".join(r.value for r in f.roles),
                    "unit": f.unit or "",
                    "range": rng,
                    "reason": f.reason or "",
                }
            )
        return rows


def _threshold_text(r: MetricResult) -> str:
    """The threshold in the same units as the value ("pass ≤ 0%, warn ≤ 10%" for shares)."""
    if r.threshold is None:
        return ""
    t = r.threshold
    if not r.unit.startswith("share of "):
        return t.describe(r.direction)
    op = "≤" if r.direction.value == "minimize" else "≥"
    text = f"pass {op} {100 * t.warn:g}%"
    return text + (", else warn" if math.isinf(t.fail) else f", warn {op} {100 * t.fail:g}%")


def _subject_value(value: object) -> str:
    if isinstance(value, list | tuple):
        text = ", ".join(map(str, value[:20]))
        return text + (f" … ({len(value)})" if len(value) > 20 else "")
    if isinstance(value, float):
        return _num(value)
    return str(value)
