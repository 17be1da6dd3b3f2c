"""The risk report: every privacy measure of one table, judged against release limits, as JSON and HTML.

:func:`assess_risk` is what ``medsyn risk`` runs. It reads the quasi-identifiers and sensitive
attributes from the schema's roles (or takes them as arguments), checks every input in one pass,
builds the equivalence classes once and measures k-anonymity, l-diversity, t-closeness, the
prosecutor / journalist / marketer risk, sample and population uniqueness, k-map and δ-presence
(with a population table) and the HIPAA Safe Harbor screen. The :class:`RiskReport` serialises
to JSON and renders through :mod:`medsyn.report` as one self-contained HTML page; both files are
written atomically, and both are rendered before either is written.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from medsyn._atomic import write_text
from medsyn.data.dataset import Modality, TabularDataset
from medsyn.data.schema import Role, Schema
from medsyn.errors import InputError, Problem
from medsyn.metric import Direction, ItemResult, MetricKind, MetricResult, Status, Threshold
from medsyn.privacy._classes import column_problems, equivalence_classes
from medsyn.privacy._hipaa import SafeHarborCertainty, SafeHarborReport, safe_harbor_check
from medsyn.privacy._models import (
    DeltaPresence,
    KAnonymity,
    KMap,
    LDiversity,
    TCloseness,
    delta_presence,
    k_anonymity,
    k_map,
    l_diversity,
    t_closeness,
)
from medsyn.privacy._risk import (
    PopulationUniqueness,
    ReidentificationRisk,
    population_uniqueness,
    reidentification_risk,
)

__all__ = ["DEFAULT_SAMPLING_FRACTION", "RiskFiles", "RiskLimits", "RiskReport", "assess_risk"]

#: The sampling fraction assumed for population-uniqueness estimates when neither a population
#: table nor a fraction is given (a hospital's records as a share of its region's people).
DEFAULT_SAMPLING_FRACTION = 0.01


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """What a release is judged against. ``max_risk`` defaults to 1/k (the risk a class of k carries)."""

    k: int = 5
    l: float = 2.0  # noqa: E741
    t: float = 0.2
    max_risk: float = 0.2
    average_risk: float = 0.05

    def to_dict(self) -> dict[str, float]:
        return {"k": self.k, "l": self.l, "t": self.t, "max_risk": self.max_risk, "average_risk": self.average_risk}


@dataclass(frozen=True, slots=True)
class RiskFiles:
    json: Path
    html: Path


@dataclass(frozen=True, slots=True)
class RiskReport:
    """Every measure of one table; ``results`` are the same numbers as judged :class:`MetricResult` s."""

    subject: Mapping[str, object]
    quasi_identifiers: tuple[str, ...]
    sensitive: tuple[str, ...]
    limits: RiskLimits
    k_anonymity: KAnonymity
    l_diversity: LDiversity | None
    entropy_l_diversity: LDiversity | None
    t_closeness: TCloseness | None
    reidentification: ReidentificationRisk
    uniqueness: PopulationUniqueness
    uniqueness_basis: str
    k_map: KMap | None
    delta_presence: DeltaPresence | None
    hipaa: SafeHarborReport
    warnings: tuple[str, ...] = ()
    schema: Schema | None = field(default=None, repr=False)
    results: tuple[MetricResult, ...] = field(default=(), repr=False)

    @property
    def status(self) -> Status:
        worst = max((r.status for r in self.results), key=lambda s: s.severity, default=Status.PASS)
        return Status.PASS if worst.severity == 0 else worst

    def to_dict(self) -> dict[str, object]:
        def opt(x: object) -> object:
            return None if x is None else x.to_dict()  # type: ignore[attr-defined]

        out = _finite(
            {
                "status": self.status.value,
                "subject": dict(self.subject),
                "quasi_identifiers": list(self.quasi_identifiers),
                "sensitive": list(self.sensitive),
                "limits": self.limits.to_dict(),
                "k_anonymity": self.k_anonymity.to_dict(),
                "l_diversity": opt(self.l_diversity),
                "entropy_l_diversity": opt(self.entropy_l_diversity),
                "t_closeness": opt(self.t_closeness),
                "reidentification": self.reidentification.to_dict(),
                "population_uniqueness": {**self.uniqueness.to_dict(), "basis": self.uniqueness_basis},
                "k_map": opt(self.k_map),
                "delta_presence": opt(self.delta_presence),
                "hipaa_safe_harbor": self.hipaa.to_dict(),
                "warnings": list(self.warnings),
                "results": [r.to_dict() for r in self.results],
                "schema": None if self.schema is None else self.schema.to_dict(),
            }
        )
        assert isinstance(out, dict)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False)

    def to_html(self) -> str:
        from medsyn.report import Report

        name = Path(str(self.subject.get("source", "table"))).name
        report = Report(
            title=f"Re-identification risk: {name}",
            subject=self.subject,
            results=self.results,
            schema=self.schema,
            warnings=self.warnings,
        )
        return report.to_html()

    def write(self, out_dir: str | Path, *, stem: str = "risk") -> RiskFiles:
        """Write ``<stem>.json`` and ``<stem>.html`` into ``out_dir``; both are rendered before either is written."""
        out = Path(out_dir)
        files = RiskFiles(json=out / f"{stem}.json", html=out / f"{stem}.html")
        text_json, text_html = self.to_json(), self.to_html()
        write_text(files.json, text_json)
        write_text(files.html, text_html)
        return files


def _finite(value: object) -> object:
    """The same structure with NaN and infinities as ``None`` (JSON has no such numbers)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


# ----------------------------------------------------------------------------------- assess


def assess_risk(
    dataset: TabularDataset | pd.DataFrame,
    *,
    quasi_identifiers: Sequence[str] | None = None,
    sensitive: Sequence[str] | None = None,
    population: TabularDataset | pd.DataFrame | None = None,
    sampling_fraction: float | None = None,
    k: int = 5,
    l: float = 2.0,  # noqa: E741
    t: float = 0.2,
    max_risk: float | None = None,
    average_risk: float = 0.05,
) -> RiskReport:
    """Measure every privacy model and re-identification risk of a table, judged against limits.

    Parameters
    ----------
    dataset
        The table to be released (a DataFrame gets an inferred schema).
    quasi_identifiers
        Columns an attacker may know; default: the schema's ``quasi_identifier`` fields.
    sensitive
        Columns to protect from attribute disclosure (l-diversity, t-closeness); default: the
        schema's ``sensitive`` fields that are not quasi-identifiers. None at all skips l and t.
    population
        A table that contains the dataset's people: journalist and marketer risk, k-map and
        δ-presence use it, and the sampling fraction is records / population records.
    sampling_fraction
        Without a population: the share of the population the dataset holds. It sets the
        journalist's expected class sizes and the population-uniqueness estimate; when omitted the
        estimate assumes :data:`DEFAULT_SAMPLING_FRACTION` (said so in the warnings) and the
        journalist risk is the prosecutor risk, an upper bound.
    k, l, t
        Targets: smallest class size, distinct l, largest t (EMD).
    max_risk
        Highest acceptable risk of one record (default 1/k); records above it are "at risk".
    average_risk
        Highest acceptable average (prosecutor) risk.

    Raises
    ------
    InputError
        Every problem with the inputs at once: a quasi-identifier or sensitive column not in the
        data (with close names), none in the schema and none given, a sensitive column that is also
        a quasi-identifier, k larger than the data, limits out of range, a population without the
        quasi-identifier columns.

    Examples
    --------
    >>> df = pd.DataFrame({"sex": ["F", "M"] * 50, "age": [70, 80] * 50, "dx": list("abcde") * 20})
    >>> r = assess_risk(df, quasi_identifiers=["sex", "age"], sensitive=["dx"], k=5)
    >>> r.k_anonymity.k, r.l_diversity.l, r.status.value
    (50, 5.0, 'pass')
    """
    ds = _as_dataset(dataset)
    frame = ds.data
    pop_frame = None if population is None else _as_dataset(population, where="population").data
    qis, sens, problems = _roles(ds, quasi_identifiers, sensitive)
    risk_limit = (1.0 / k if isinstance(k, int) and k >= 1 else 0.2) if max_risk is None else max_risk
    problems += _limit_problems(len(frame), k, l, t, risk_limit, average_risk, sampling_fraction)
    if pop_frame is not None:
        problems += column_problems(pop_frame, qis, what="quasi-identifier", where="population")
        if sampling_fraction is not None:
            problems.append(Problem("sampling_fraction", "given with a population table", "one of the two"))
        if len(pop_frame) < len(frame):
            problems.append(
                Problem("population", f"{len(pop_frame)} records", f"at least the dataset's {len(frame)} records")
            )
    if problems:
        raise InputError(problems)
    limits = RiskLimits(k=k, l=l, t=t, max_risk=risk_limit, average_risk=average_risk)
    warnings: list[str] = []
    ec = equivalence_classes(frame, qis)
    missing = {q: int(frame[q].isna().sum()) for q in qis if frame[q].isna().any()}
    if missing:
        warnings.append(f"missing quasi-identifier values count as one value of their own: {missing}")
    ka = k_anonymity(frame, qis, classes=ec)
    ld = l_diversity(frame, qis, sens, classes=ec) if sens else None
    ent = l_diversity(frame, qis, sens, kind="entropy", classes=ec) if sens else None
    tc = t_closeness(frame, qis, sens, classes=ec) if sens else None
    if not sens:
        warnings.append(
            "no sensitive attribute (schema role 'sensitive' or --sensitive): l-diversity and t-closeness skipped"
        )
    reid = reidentification_risk(
        frame, qis, population=pop_frame, sampling_fraction=sampling_fraction, threshold=risk_limit, classes=ec
    )
    if pop_frame is not None:
        fraction, basis = len(frame) / len(pop_frame), "population table"
    elif sampling_fraction is not None:
        fraction, basis = sampling_fraction, "given sampling fraction"
    else:
        fraction, basis = DEFAULT_SAMPLING_FRACTION, f"assumed sampling fraction {DEFAULT_SAMPLING_FRACTION:g}"
        warnings.append(
            f"population uniqueness assumes the data hold {DEFAULT_SAMPLING_FRACTION:.0%} of the population; "
            "pass sampling_fraction (--sampling-fraction) or a population table for a real estimate"
        )
    uniq = population_uniqueness(ec, sampling_fraction=fraction)
    km = k_map(frame, pop_frame, qis) if pop_frame is not None else None
    dp = delta_presence(frame, pop_frame, qis) if pop_frame is not None else None
    hipaa = safe_harbor_check(ds)
    subject = {
        **ds.summary(),
        "source": ds.provenance.source,
        "quasi_identifiers": list(qis),
        "sensitive": list(sens),
    }
    report = RiskReport(
        subject=subject,
        quasi_identifiers=tuple(qis),
        sensitive=tuple(sens),
        limits=limits,
        k_anonymity=ka,
        l_diversity=ld,
        entropy_l_diversity=ent,
        t_closeness=tc,
        reidentification=reid,
        uniqueness=uniq,
        uniqueness_basis=basis,
        k_map=km,
        delta_presence=dp,
        hipaa=hipaa,
        warnings=tuple(warnings),
        schema=ds.schema,
    )
    return replace(report, results=_results(report))


def _as_dataset(data: object, *, where: str = "dataset") -> TabularDataset:
    if isinstance(data, TabularDataset):
        return data
    if isinstance(data, pd.DataFrame):
        return TabularDataset(data)
    raise InputError(Problem(where, f"a {type(data).__name__}", "a table (TabularDataset or pandas DataFrame)"))


def _roles(
    ds: TabularDataset, quasi_identifiers: Sequence[str] | None, sensitive: Sequence[str] | None
) -> tuple[list[str], list[str], list[Problem]]:
    problems: list[Problem] = []
    if quasi_identifiers is None:
        qis = [f.name for f in ds.schema.by_role(Role.QUASI_IDENTIFIER)]
        if not qis:
            problems.append(
                Problem(
                    "schema",
                    "no field has the role quasi_identifier and none were given",
                    "at least one quasi-identifier",
                    "Mark columns with 'role: quasi_identifier' in the schema YAML, or pass --qi COLUMN.",
                )
            )
    else:
        qis = [str(q) for q in quasi_identifiers]
        if not qis:
            problems.append(Problem("quasi_identifiers", "an empty list", "at least one column"))
    if sensitive is None:
        sens = [f.name for f in ds.schema.by_role(Role.SENSITIVE) if f.name not in qis]
    else:
        sens = [str(s) for s in sensitive]
        both = sorted(set(sens) & set(qis))
        if both:
            problems.append(
                Problem(
                    "sensitive",
                    f"{both} also listed as quasi-identifier(s)",
                    "separate columns",
                    "A column is either known to the attacker or protected from them.",
                )
            )
    for what, names in (("quasi-identifier", qis), ("sensitive attribute", sens)):
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            problems.append(Problem(what, f"{dupes} listed twice", "each column once"))
    problems += column_problems(ds.data, qis, what="quasi-identifier")
    problems += column_problems(ds.data, sens, what="sensitive attribute")
    return qis, sens, problems


def _limit_problems(
    n: int,
    k: int,
    l_target: float,
    t: float,
    max_risk: float,
    average_risk: float,
    sampling_fraction: float | None,
) -> list[Problem]:
    problems = []
    if n == 0:
        problems.append(Problem("dataset", "no records", "at least one record"))
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        problems.append(Problem("k", repr(k), "a whole number ≥ 1"))
    elif k > n > 0:
        problems.append(
            Problem(
                "k",
                f"{k} is larger than the data ({n} records)",
                f"k ≤ {n}",
                "No table of n records is k-anonymous for k > n.",
            )
        )
    if not l_target >= 1:
        problems.append(Problem("l", repr(l_target), "a number ≥ 1"))
    if not 0 <= t <= 1:
        problems.append(Problem("t", repr(t), "an EMD in [0, 1]"))
    if not 0 < max_risk <= 1:
        problems.append(Problem("max_risk", repr(max_risk), "a risk in (0, 1]"))
    if not 0 < average_risk <= 1:
        problems.append(Problem("average_risk", repr(average_risk), "a risk in (0, 1]"))
    if sampling_fraction is not None and not 0 < sampling_fraction <= 1:
        problems.append(Problem("sampling_fraction", repr(sampling_fraction), "a share in (0, 1]"))
    return problems


# ---------------------------------------------------------------------------------- results


def _result(
    metric: str,
    title: str,
    value: float,
    reason: str,
    *,
    direction: Direction,
    ideal: float,
    threshold: Threshold | None = None,
    status: Status | None = None,
    unit: str = "",
    details: Mapping[str, float | int | str | bool | None] | None = None,
    items: Sequence[ItemResult] = (),
) -> MetricResult:
    if status is None:
        status = threshold.judge(value, direction) if threshold is not None else Status.INFO
    return MetricResult(
        metric=metric,
        kind=MetricKind.PRIVACY,
        modality=Modality.TABULAR,
        value=float(value),
        ideal=ideal,
        direction=direction,
        status=status,
        reason=reason,
        title=title,
        unit=unit,
        threshold=threshold,
        details=dict(details or {}),
        items=tuple(items),
    )


def _results(r: RiskReport) -> tuple[MetricResult, ...]:
    lim, reid, ka = r.limits, r.reidentification, r.k_anonymity
    up, down = Direction.MAXIMIZE, Direction.MINIMIZE
    out = [
        _result(
            "privacy.k_anonymity",
            "k-anonymity",
            ka.k,
            f"the smallest of {ka.classes:,} classes holds {ka.k} record(s); target k ≥ {lim.k}",
            direction=up,
            ideal=float(lim.k),
            threshold=Threshold(warn=lim.k, fail=min(lim.k, 2)),
            details={
                "classes": ka.classes,
                "records": ka.records,
                "quasi_identifiers": ", ".join(ka.quasi_identifiers),
            },
        )
    ]
    if r.l_diversity is not None and r.entropy_l_diversity is not None and r.t_closeness is not None:
        ld, ent, tc = r.l_diversity, r.entropy_l_diversity, r.t_closeness
        out.append(
            _result(
                "privacy.l_diversity",
                "l-diversity (distinct)",
                ld.l,
                f"the least diverse class holds {ld.l:g} distinct sensitive value(s); target l ≥ {lim.l:g}",
                direction=up,
                ideal=lim.l,
                threshold=Threshold(warn=lim.l, fail=min(lim.l, 2.0)),
                details={f"entropy l ({a.attribute})": a.l for a in ent.attributes}
                | {f"distinct l ({a.attribute})": a.l for a in ld.attributes},
                items=[
                    ItemResult("attribute", a.attribute, a.l, Status.PASS if a.l >= lim.l else Status.FAIL)
                    for a in ld.attributes
                ],
            )
        )
        out.append(
            _result(
                "privacy.t_closeness",
                "t-closeness",
                tc.t,
                f"the largest EMD between a class and the table is {tc.t:.3g}; target t ≤ {lim.t:g}",
                direction=down,
                ideal=0.0,
                threshold=Threshold(warn=lim.t, fail=max(lim.t, 0.5)),
                details={f"{a.attribute} ({a.kind.value} EMD)": a.t for a in tc.attributes},
                items=[
                    ItemResult("attribute", a.attribute, a.t, Status.PASS if a.t <= lim.t else Status.FAIL)
                    for a in tc.attributes
                ],
            )
        )
    pro, jou, mar = reid.prosecutor, reid.journalist, reid.marketer
    out += [
        _result(
            "privacy.max_risk",
            "Highest re-identification risk (prosecutor)",
            pro.maximum,
            f"a record in the smallest class is re-identified with probability {pro.maximum:.3g}",
            direction=down,
            ideal=0.0,
            threshold=Threshold(warn=lim.max_risk, fail=max(lim.max_risk, 0.5)),
        ),
        _result(
            "privacy.average_risk",
            "Average re-identification risk (prosecutor)",
            pro.average,
            f"on average a record is re-identified with probability {pro.average:.3g} (classes / records)",
            direction=down,
            ideal=0.0,
            threshold=Threshold(warn=lim.average_risk, fail=max(lim.average_risk, 0.2)),
        ),
        _result(
            "privacy.records_at_risk",
            "Records at risk (prosecutor)",
            pro.records_at_risk,
            f"{pro.records_at_risk:.1%} of records have a risk above {lim.max_risk:.3g}",
            direction=down,
            ideal=0.0,
            unit="share of records",
            threshold=Threshold(warn=0.0, fail=0.05),
        ),
        _result(
            "privacy.journalist_risk",
            "Journalist risk",
            jou.maximum,
            f"highest {jou.maximum:.3g}, average {jou.average:.3g}; population from {jou.basis}",
            direction=down,
            ideal=0.0,
            threshold=Threshold(warn=lim.max_risk, fail=max(lim.max_risk, 0.5)),
            details={"average": jou.average, "records_at_risk": jou.records_at_risk, "basis": jou.basis},
        ),
        _result(
            "privacy.marketer_risk",
            "Marketer risk",
            mar.average,
            f"an attacker matching every record re-identifies {mar.average:.1%} of them on average",
            direction=down,
            ideal=0.0,
            unit="share of records",
            details={"basis": mar.basis},
        ),
        _result(
            "privacy.sample_uniques",
            "Sample uniques",
            reid.sample_uniqueness,
            f"{reid.sample_uniques:,} record(s) are alone in their class",
            direction=down,
            ideal=0.0,
            unit="share of records",
            details={"sample_uniques": reid.sample_uniques},
        ),
    ]
    u = r.uniqueness
    out.append(
        _result(
            "privacy.population_uniques",
            "Population uniques (estimated)",
            u.population_uniqueness,
            f"about {u.population_uniques:,.0f} of {u.population_size:,.0f} people in the population are unique "
            f"({u.chosen.value}, Dankar's rule; {r.uniqueness_basis})",
            direction=down,
            ideal=0.0,
            unit="share of population",
            details={"pitman": u.pitman, "zayatz": u.zayatz, "snb": u.snb, "sampling_fraction": u.sampling_fraction},
        )
    )
    if r.k_map is not None:
        out.append(
            _result(
                "privacy.k_map",
                "k-map",
                r.k_map.k,
                f"every sample class matches at least {r.k_map.k} population record(s); target ≥ {lim.k}",
                direction=up,
                ideal=float(lim.k),
                threshold=Threshold(warn=lim.k, fail=min(lim.k, 2)),
            )
        )
    if r.delta_presence is not None:
        d = r.delta_presence
        out.append(
            _result(
                "privacy.delta_presence",
                "δ-presence (δmax)",
                d.delta_max,
                f"δ in [{d.delta_min:.3g}, {d.delta_max:.3g}] over {d.population_classes:,} population classes",
                direction=down,
                ideal=0.0,
                details={"delta_min": d.delta_min, "delta_min_sampled": d.delta_min_sampled},
            )
        )
    out.append(_hipaa_result(r.hipaa))
    return tuple(out)


def _hipaa_result(h: SafeHarborReport) -> MetricResult:
    definite = sum(f.certainty is SafeHarborCertainty.IDENTIFIER for f in h.findings)
    possible = len(h.findings) - definite
    status = Status.FAIL if definite else Status.WARN if possible else Status.PASS
    if h.findings:
        shown = ", ".join(f"{f.column} ({f.category.letter})" for f in h.findings[:8])
        reason = f"{definite} identifier column(s), {possible} to review: {shown}"
    else:
        reason = f"none of the 18 identifiers found in {len(h.columns_checked)} columns"
    items = [
        ItemResult(
            "column",
            f.column,
            1.0,
            Status.FAIL if f.certainty is SafeHarborCertainty.IDENTIFIER else Status.WARN,
            f"({f.category.letter}) {f.category.label}: {f.reason}. {f.fix}",
        )
        for f in h.findings
    ]
    return _result(
        "privacy.hipaa_safe_harbor",
        "HIPAA Safe Harbor",
        float(definite),
        reason,
        direction=Direction.MINIMIZE,
        ideal=0.0,
        status=status,
        details={"possible": possible, "note": "no actual knowledge that the rest identifies a person is required too"},
        items=items,
    )
