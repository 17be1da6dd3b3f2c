"""Re-identification risk: per record and for the data set, and how many people are unique.

Attacker models (El Emam, *Guide to the De-Identification of Personal Health Information*, 2013;
as ARX computes them in ``org.deidentifier.arx.risk.RiskModelSampleSummary``):

- **prosecutor**: knows the person is in the data; a record's risk is 1 / (its class size).
- **journalist**: does not know; matches against a population (the *population table* when given,
  else the class sizes expected under a sampling fraction π, F = f / π). A record's risk is
  1 / (its class size in the population). Without either, the prosecutor risk bounds it from above.
- **marketer**: re-identifies as many records as possible; the expected share is
  Σ_classes f / F / n (= classes / records when the sample is the population).

For each: the highest risk, the average risk (ARX's "success rate") and the share of records whose
risk is above a threshold. Suppressed records (class id -1) are not released and carry no risk.

Population uniqueness (how many people in the *population* are unique on the quasi-identifiers)
is estimated from the sample's class-size histogram with the models ARX offers
(``org.deidentifier.arx.risk.RiskModelPopulationUniqueness``, ``ModelPitman``, ``ModelZayatz``,
``ModelSNB``):

- **Zayatz** (1991): the share of sample uniques that are population uniques, from hypergeometric
  probabilities, divided by the sampling fraction.
- **Pitman** (Hoshino 2001): the Pitman sampling formula fitted by maximum likelihood
  (θ, α), population uniques Γ(θ+1)/Γ(θ+α) · N^α.
- **SNB** (Chen & McNulty 1998): the slide negative binomial fitted to the counts of sample
  classes of size 1 and 2, with the number of non-empty population classes from the Shlosser
  estimator; population uniques K β^α.
- **Dankar** (Dankar et al. 2012): the decision rule that picks one — Pitman when π ≤ 0.1 (Zayatz
  if Pitman fails), otherwise the smaller of Zayatz and SNB (Zayatz if SNB fails).

Two deliberate differences from ARX's Java code, both where it departs from its own references:
the SNB object function divides by (1 − d)^(α+2) as the model's second factorial moment does
(ARX multiplies, while its derivative functions divide), and the Shlosser estimator uses
Σ (1−π)^i ((1+π)^i − 1) c_i as in Haas et al. (1995) (ARX's operator precedence subtracts 1 per
histogram entry instead).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from medsyn.errors import InputError, Problem
from medsyn.privacy._classes import EquivalenceClasses, Table, as_frame, column_problems, joint_classes
from medsyn.privacy._models import prepare_inputs

__all__ = [
    "AttackerRisk",
    "MarketerRisk",
    "PopulationUniqueness",
    "ReidentificationRisk",
    "UniquenessModel",
    "population_uniqueness",
    "reidentification_risk",
]

#: ARX's solver accuracy (``ARXSolverConfiguration``): both equations within this of zero.
_ACCURACY = 1e-6


class UniquenessModel(StrEnum):
    PITMAN = "pitman"
    ZAYATZ = "zayatz"
    SNB = "snb"
    DANKAR = "dankar"


# ------------------------------------------------------------------------------------ results


@dataclass(frozen=True, slots=True)
class AttackerRisk:
    """A prosecutor's or journalist's risk for the data set (ARX's rB, rC and rA).

    ``basis`` says what the population class sizes came from.
    """

    model: str
    average: float
    maximum: float
    records_at_risk: float
    threshold: float
    basis: str

    def to_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "average": self.average,
            "maximum": self.maximum,
            "records_at_risk": self.records_at_risk,
            "threshold": self.threshold,
            "basis": self.basis,
        }


@dataclass(frozen=True, slots=True)
class MarketerRisk:
    """The share of records a marketer, matching every record, re-identifies on average."""

    average: float
    basis: str

    def to_dict(self) -> dict[str, object]:
        return {"model": "marketer", "average": self.average, "basis": self.basis}


@dataclass(frozen=True, slots=True, eq=False)
class ReidentificationRisk:
    """Prosecutor, journalist and marketer risk, with the per-record risks behind them."""

    prosecutor: AttackerRisk
    journalist: AttackerRisk
    marketer: MarketerRisk
    records: int
    classes: int
    suppressed: int
    sample_uniques: int
    threshold: float
    #: Prosecutor risk of each record (0 for a suppressed record); not serialised.
    per_record: np.ndarray = field(repr=False)
    #: Journalist risk of each record (0 for a suppressed record); not serialised.
    journalist_per_record: np.ndarray = field(repr=False)

    @property
    def sample_uniqueness(self) -> float:
        """Share of released records that are alone in their class."""
        return self.sample_uniques / self.records

    def to_dict(self) -> dict[str, object]:
        return {
            "records": self.records,
            "classes": self.classes,
            "suppressed": self.suppressed,
            "sample_uniques": self.sample_uniques,
            "sample_uniqueness": self.sample_uniqueness,
            "threshold": self.threshold,
            "prosecutor": self.prosecutor.to_dict(),
            "journalist": self.journalist.to_dict(),
            "marketer": self.marketer.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class PopulationUniqueness:
    """Estimated number of population uniques, per model, and the one Dankar's rule picks.

    An estimate is ``None`` where its model did not converge (or gave a value outside [0, N]).
    """

    sampling_fraction: float
    population_size: float
    sample_records: int
    sample_uniques: int
    pitman: float | None
    zayatz: float | None
    snb: float | None
    chosen: UniquenessModel
    population_uniques: float

    @property
    def population_uniqueness(self) -> float:
        """Estimated share of the population that is unique on the quasi-identifiers."""
        return self.population_uniques / self.population_size

    @property
    def sample_uniqueness(self) -> float:
        return self.sample_uniques / self.sample_records

    def to_dict(self) -> dict[str, object]:
        return {
            "sampling_fraction": self.sampling_fraction,
            "population_size": self.population_size,
            "sample_records": self.sample_records,
            "sample_uniques": self.sample_uniques,
            "sample_uniqueness": self.sample_uniqueness,
            "estimates": {"pitman": self.pitman, "zayatz": self.zayatz, "snb": self.snb},
            "chosen": self.chosen.value,
            "population_uniques": self.population_uniques,
            "population_uniqueness": self.population_uniqueness,
        }


# ------------------------------------------------------------------ re-identification risk


def reidentification_risk(
    data: Table,
    quasi_identifiers: Sequence[str],
    *,
    population: Table | None = None,
    sampling_fraction: float | None = None,
    threshold: float = 0.2,
    classes: EquivalenceClasses | None = None,
    keep: np.ndarray | Sequence[bool] | None = None,
) -> ReidentificationRisk:
    """Prosecutor, journalist and marketer risk of ``data`` on ``quasi_identifiers``.

    Parameters
    ----------
    population
        A table that contains ``data``'s people (same quasi-identifier columns): journalist and
        marketer risk then use its class sizes exactly.
    sampling_fraction
        Without a population table: the share of the population ``data`` holds (0 < π ≤ 1); the
        journalist then meets classes of expected size f / π. Without either, journalist risk is
        the prosecutor risk, an upper bound.
    threshold
        A record is *at risk* when its risk is above this (ARX's default 0.2 = 1/5).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"sex": ["F", "F", "M", "M", "M"], "age": [70, 70, 80, 80, 90]})
    >>> r = reidentification_risk(df, ["sex", "age"])
    >>> r.prosecutor.maximum, r.prosecutor.average, r.sample_uniques
    (1.0, 0.6, 1)
    """
    problems = []
    if not 0 < threshold <= 1:
        problems.append(Problem("threshold", repr(threshold), "a risk in (0, 1]"))
    if sampling_fraction is not None and not 0 < sampling_fraction <= 1:
        problems.append(Problem("sampling_fraction", repr(sampling_fraction), "a share in (0, 1]"))
    if population is not None and sampling_fraction is not None:
        problems.append(Problem("sampling_fraction", "given with a population table", "one of the two"))
    if problems:
        raise InputError(problems)
    frame, ec, _ = prepare_inputs(data, quasi_identifiers, None, classes, keep)
    kept = ec.ids >= 0
    f = ec.sizes.astype(float)
    prosecutor_record = np.zeros(len(ec.ids))
    prosecutor_record[kept] = 1.0 / f[ec.ids[kept]]
    prosecutor = _summary("prosecutor", f, f, threshold, "sample class sizes")
    if population is not None:
        big_f = _population_sizes(frame, population, ec)
        basis = "population table"
    elif sampling_fraction is not None:
        big_f = f / sampling_fraction
        basis = f"class sizes expected at sampling fraction {sampling_fraction:g} (F = f / π)"
    else:
        big_f = f
        basis = "sample class sizes (no population given: an upper bound)"
    journalist_record = np.zeros(len(ec.ids))
    journalist_record[kept] = 1.0 / big_f[ec.ids[kept]]
    journalist = _summary("journalist", f, big_f, threshold, basis)
    marketer = MarketerRisk(float((f / big_f).sum() / f.sum()), basis)
    return ReidentificationRisk(
        prosecutor=prosecutor,
        journalist=journalist,
        marketer=marketer,
        records=ec.n_records,
        classes=ec.n_classes,
        suppressed=ec.n_suppressed,
        sample_uniques=int((ec.sizes == 1).sum()),
        threshold=threshold,
        per_record=prosecutor_record,
        journalist_per_record=journalist_record,
    )


def _summary(model: str, f: np.ndarray, big_f: np.ndarray, threshold: float, basis: str) -> AttackerRisk:
    """ARX's rA (records at risk), rB (highest risk) and rC (success rate) for sample sizes f, population F."""
    records = f.sum()
    at_risk = float(f[1.0 / big_f > threshold].sum() / records)
    highest = float(1.0 / big_f.min())
    if model == "prosecutor":
        average = float(len(f) / records)
    else:
        average = float(max(len(f) / big_f.sum(), (f / big_f).sum() / records))
    return AttackerRisk(model, average, highest, at_risk, threshold, basis)


def _population_sizes(frame: object, population: Table, ec: EquivalenceClasses) -> np.ndarray:
    """The population class size of each sample class (the population must contain the sample)."""
    pop = as_frame(population, where="population")
    qis = list(ec.quasi_identifiers)
    problems = column_problems(pop, qis, what="quasi-identifier", where="population")
    if problems:
        raise InputError(problems)
    sample = as_frame(frame)
    s_ids, p_ids, n = joint_classes(sample, pop, qis)
    p_count = np.bincount(p_ids, minlength=n)
    kept = ec.ids >= 0
    # the sample class each joint class belongs to: every record of one sample class shares one joint id
    joint_of_class = np.zeros(ec.n_classes, dtype=np.int64)
    joint_of_class[ec.ids[kept]] = s_ids[kept]
    big_f = p_count[joint_of_class].astype(float)
    short = big_f < ec.sizes
    if short.any():
        raise InputError(
            Problem(
                "population",
                f"{int(short.sum())} sample class(es) are larger than the same class in the population",
                "a population table that contains every sample record",
            )
        )
    return big_f


# -------------------------------------------------------------------- population uniqueness


def population_uniqueness(
    classes: EquivalenceClasses | Sequence[int] | np.ndarray,
    *,
    sampling_fraction: float,
    model: UniquenessModel | str = UniquenessModel.DANKAR,
) -> PopulationUniqueness:
    """Estimate how many people of the population are unique, from the sample's class sizes.

    Parameters
    ----------
    classes
        Equivalence classes of the sample, or their sizes.
    sampling_fraction
        π = sample size / population size, in (0, 1]. ARX's default population (the USA) makes
        π tiny; a hospital's share of its region is often 0.01–0.1.
    model
        Which estimate ``population_uniques`` reports: ``dankar`` (default: the decision rule),
        ``pitman``, ``zayatz`` or ``snb``. All three are computed and reported either way.

    Examples
    --------
    >>> u = population_uniqueness([1] * 50 + [2] * 30 + [5] * 20, sampling_fraction=0.3)
    >>> u.sample_uniques, u.chosen.value, round(u.population_uniques)
    (50, 'snb', 24)
    """
    try:
        chosen_model = UniquenessModel(model)
    except ValueError:
        raise InputError(Problem("model", repr(model), f"one of {[m.value for m in UniquenessModel]}")) from None
    sizes = classes.sizes if isinstance(classes, EquivalenceClasses) else np.asarray(classes, dtype=np.int64)
    problems = []
    if not 0 < sampling_fraction <= 1:
        problems.append(Problem("sampling_fraction", repr(sampling_fraction), "a share in (0, 1]"))
    if sizes.size == 0 or (sizes < 1).any():
        problems.append(Problem("classes", "empty, or a class size below 1", "class sizes ≥ 1"))
    if problems:
        raise InputError(problems)
    values, counts = np.unique(sizes, return_counts=True)
    n = float(sizes.sum())
    big_n = float(round(n / sampling_fraction))
    pi = n / big_n  # ARX works with the population size; π as it implies
    c1 = int(counts[0]) if values[0] == 1 else 0
    if c1 == 0:
        estimates: dict[UniquenessModel, float | None] = dict.fromkeys(_MODELS, 0.0)
    else:
        estimates = {m: _valid(fn(values, counts, n, big_n, pi), big_n) for m, fn in _MODELS.items()}
    chosen: UniquenessModel
    value: float | None
    if chosen_model is not UniquenessModel.DANKAR:
        chosen, value = chosen_model, estimates[chosen_model]
    elif c1 == 0:
        chosen, value = UniquenessModel.DANKAR, 0.0  # no sample uniques: nothing to estimate (as ARX)
    else:
        chosen, value = _dankar(estimates, pi)
    return PopulationUniqueness(
        sampling_fraction=pi,
        population_size=big_n,
        sample_records=int(n),
        sample_uniques=c1,
        pitman=estimates[UniquenessModel.PITMAN],
        zayatz=estimates[UniquenessModel.ZAYATZ],
        snb=estimates[UniquenessModel.SNB],
        chosen=chosen,
        population_uniques=0.0 if value is None else value,
    )


def _valid(value: float, big_n: float) -> float | None:
    """ARX's validity test: a number in [0, N] (0 counts as no estimate, as ARX treats it)."""
    if not math.isfinite(value) or value <= 0 or value > big_n:
        return None
    return float(value)


def _dankar(estimates: dict[UniquenessModel, float | None], pi: float) -> tuple[UniquenessModel, float | None]:
    """Dankar et al. (2012): Pitman for π ≤ 0.1, else the smaller of Zayatz and SNB; Zayatz as fallback."""
    zayatz = estimates[UniquenessModel.ZAYATZ]
    if pi <= 0.1:
        pitman = estimates[UniquenessModel.PITMAN]
        if pitman is not None:
            return UniquenessModel.PITMAN, pitman
        return UniquenessModel.ZAYATZ, zayatz
    snb = estimates[UniquenessModel.SNB]
    if snb is not None and (zayatz is None or snb <= zayatz):
        return UniquenessModel.SNB, snb
    return UniquenessModel.ZAYATZ, zayatz


def _zayatz(values: np.ndarray, counts: np.ndarray, n: float, big_n: float, pi: float) -> float:
    """Zayatz (1991), as ARX's ``ModelZayatz``: P(population unique | sample unique) · c₁ / π."""
    from scipy import stats  # imported on use: scipy.stats alone takes a second to import

    u = counts.sum()
    pmf = stats.hypergeom.pmf(1, int(big_n), values, int(n))  # one drawn from a class of that size
    total = float((counts / u * pmf).sum())
    c1 = counts[0] if values[0] == 1 else 0
    conditional = (c1 / u) * float(stats.hypergeom.pmf(1, int(big_n), 1, int(n))) / total
    return float(c1 * conditional / pi)


def _pitman(values: np.ndarray, counts: np.ndarray, n: float, big_n: float, pi: float) -> float:
    """Pitman's sampling formula fitted by maximum likelihood (Hoshino 2001; ARX's ``ModelPitman``)."""
    from scipy import special

    u = float(counts.sum())
    c1 = float(counts[0]) if values[0] == 1 else 0.0
    c2 = float(counts[values == 2].sum()) or 1.0  # ARX: "overestimate" when there is no class of size 2
    c = c1 * (c1 - 1) / c2
    theta0 = (n * u * c - c1 * (n - 1) * (2 * u + c)) / (2 * c1 * u + c1 * c - n * c)
    alpha0 = (theta0 * (c1 - n) + (n - 1) * c1) / (n * u)
    big = values > 1
    k, ck = values[big].astype(float), counts[big].astype(float)

    def equations(x: np.ndarray) -> np.ndarray:
        t, a = np.float64(x[0]), np.float64(x[1])
        if not (0 < a < 1 and t > -a):  # outside the model; scipy's polygamma can hang out there
            return np.array([np.nan, np.nan])
        o1 = (special.digamma(u + t / a) - special.digamma(t / a + 1)) / a  # Σ_{i<u} 1/(t + i a)
        o2 = special.digamma(n + t) - special.digamma(t + 1)  # Σ_{i<n} 1/(t + i)
        o3 = (-t * special.digamma(u + t / a) + a * (u - 1) + t * special.digamma(t / a + 1)) / a**2
        o4 = float((ck * (special.digamma(k - a) - special.digamma(1 - a))).sum())
        return np.array([o1 - o2, o3 - o4])

    def jacobian(x: np.ndarray) -> np.ndarray:
        t, a = np.float64(x[0]), np.float64(x[1])
        if not (0 < a < 1 and t > -a):
            return np.full((2, 2), np.nan)
        dg_u, dg_1 = special.digamma(u + t / a), special.digamma(t / a + 1)
        tg_u, tg_1 = special.polygamma(1, u + t / a), special.polygamma(1, t / a + 1)
        d1 = (tg_1 - tg_u) / a**2  # Σ 1/(t + i a)²
        d2 = special.polygamma(1, t + 1) - special.polygamma(1, n + t)  # Σ 1/(t + i)²
        d5 = (a * dg_u + t * tg_u - a * dg_1 - t * tg_1) / a**3  # Σ i/(t + i a)²
        d3 = (a**2 * (u - 1) - t**2 * tg_u + t**2 * tg_1 - 2 * a * t * dg_u + 2 * a * t * dg_1) / a**4
        d4 = float((ck * (special.polygamma(1, 1 - a) - special.polygamma(1, k - a))).sum())
        return np.array([[d2 - d1, -d5], [-d5, -d3 - d4]])

    # ARX constrains θ ≥ 0; the formula needs 0 < α < 1
    solution = _solve(equations, jacobian, [np.array([theta0, alpha0]), *_STARTS], lambda t, a: t >= 0 and 0 < a < 1)
    if solution is None:
        return math.nan
    t, a = solution
    return float(np.exp(special.gammaln(t + 1) - special.gammaln(t + a) + a * math.log(big_n)))


def _shlosser(values: np.ndarray, counts: np.ndarray, u: float, c1: float, pi: float) -> float:
    """Number of non-empty population classes, Shlosser's estimator as Haas et al. (1995) give it."""
    i = values.astype(float)
    var1 = float((i * pi**2 * (1 - pi**2) ** (i - 1) * counts).sum())
    var2 = float((((1 - pi**2) ** i - (1 - pi) ** i) * counts).sum())  # (1-π)^i ((1+π)^i - 1), without overflow
    var3 = float(((1 - pi) ** i * counts).sum())
    var4 = float((i * pi * (1 - pi) ** (i - 1) * counts).sum())
    if var2 == 0 or var4 == 0:
        return u
    return u + c1 * (var1 / var2) * (var3 / var4) ** 2


def _snb(values: np.ndarray, counts: np.ndarray, n: float, big_n: float, pi: float) -> float:
    """The slide negative binomial (Chen & McNulty 1998; ARX's ``ModelSNB``), fitted to c₁ and c₂."""
    u = float(counts.sum())
    c1 = float(counts[0]) if values[0] == 1 else 0.0
    c2 = float(counts[values == 2].sum())
    big_k = _shlosser(values, counts, u, c1, pi)
    f = pi

    def equations(x: np.ndarray) -> np.ndarray:
        a, b = np.float64(x[0]), np.float64(x[1])  # numpy floats: a negative base gives NaN, not a complex
        d = (1 - f) * (1 - b)
        e1 = big_k * f * (b / (1 - d)) ** a * (a * d / (1 - d) + 1) - c1
        e2 = big_k * a * b**a * f**2 * (1 - b) / (2 * (1 - d) ** (a + 2)) * (2 - (1 - a) * d) - c2
        return np.array([e1, e2])

    solution = _solve(
        equations, None, [np.array([1.0, 1.0]), *_STARTS], lambda a, b: a > 0 and 0 < b < 1, scale=max(c1, c2)
    )
    if solution is None:
        return math.nan
    a, b = solution
    return float(big_k * b**a)


#: Start values tried after the model's own (ARX's solver, too, moves on to prepared start values).
_STARTS = [np.array([a, b]) for a in (0.1, 0.5, 1.0, 2.0, 10.0) for b in (0.01, 0.1, 0.5, 0.9)]


def _solve(
    equations: Callable[[np.ndarray], np.ndarray],
    jacobian: Callable[[np.ndarray], np.ndarray] | None,
    starts: Sequence[np.ndarray],
    valid: Callable[[float, float], bool],
    *,
    scale: float = 1.0,
) -> tuple[float, float] | None:
    """The first root of a 2-equation system found from ``starts`` that is ``valid``, or None.

    scipy's MINPACK hybrid solver runs from each start in turn; a root counts when both equations
    are within ARX's accuracy (1e-6) of zero, relative to ``scale`` (the size of the counts an
    equation matches).
    """
    from scipy import optimize

    for start in starts:
        if not np.isfinite(start).all():
            continue
        with np.errstate(all="ignore"):
            try:
                found = optimize.root(equations, start, jac=jacobian, method="hybr", options={"maxfev": 1000})
            except (ValueError, ZeroDivisionError, OverflowError, np.linalg.LinAlgError):
                continue
            if not np.isfinite(found.x).all():
                continue
            residual = equations(found.x)
        x, y = float(found.x[0]), float(found.x[1])
        if np.isfinite(residual).all() and np.abs(residual).max() <= _ACCURACY * max(1.0, scale) and valid(x, y):
            return x, y
    return None


_MODELS: dict[UniquenessModel, Callable[[np.ndarray, np.ndarray, float, float, float], float]] = {
    UniquenessModel.PITMAN: _pitman,
    UniquenessModel.ZAYATZ: _zayatz,
    UniquenessModel.SNB: _snb,
}
