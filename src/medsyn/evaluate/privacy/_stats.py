"""Success rates of privacy attacks and the residual risk they imply, as Giomi et al. (2023) define them.

The Article 29 risks (singling out, linkability, inference) are measured by running an attack three
times: against the training records (*attack*), against real records the generator never saw
(*control*), and with a naive attacker who guesses at random (*baseline*). Each run gives a count
of successes out of a number of attacks; :func:`success_rate` turns it into a Wilson score estimate
with its error bound, and :func:`residual_risk` into the excess of the attack over the control,
normalised by what the control leaves to gain::

    risk = (attack − control) / (1 − control)

with the error propagated to first order and the estimate and interval clipped to [0, 1]. These
are the statistics of "A Unified Framework for Quantifying Privacy Risk in Synthetic Data" (Giomi
et al., PoPETs 2023), written from the paper's definitions so the numbers can be compared with
anonymeter's on the same inputs. A control success of 100 % leaves nothing to measure; the risk is
then NaN, stated in the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from medsyn.metric import Detail

__all__ = ["AttackOutcome", "SuccessRate", "residual_risk", "success_rate"]


@dataclass(frozen=True, slots=True)
class SuccessRate:
    """A Wilson score estimate of an attack's success rate, with its symmetric error bound."""

    value: float
    error: float

    @property
    def ci(self) -> tuple[float, float]:
        """The interval ``value ± error`` clipped to [0, 1]."""
        return _clip(self.value - self.error), _clip(self.value + self.error)


def _clip(x: float) -> float:
    return x if math.isnan(x) else min(1.0, max(0.0, x))


def success_rate(n_total: int, n_success: float, *, level: float = 0.95) -> SuccessRate:
    """Wilson score estimate of a Bernoulli rate from ``n_success`` successes in ``n_total`` trials.

    The point estimate is the Wilson centre ``(k + z²/2) / (n + z²)`` (not ``k / n``), robust when
    the rate is near 0 or 1; the error is ``z / (n + z²) · √(k (n − k) / n + z²/4)``.

    Examples
    --------
    >>> r = success_rate(500, 50)
    >>> round(r.value, 4), round(r.error, 4)
    (0.103, 0.0264)
    """
    if n_total <= 0:
        return SuccessRate(math.nan, math.nan)
    from scipy.stats import norm

    z = float(norm.ppf(0.5 * (1.0 + level)))
    z2 = z * z
    k = min(max(float(n_success), 0.0), float(n_total))
    denominator = n_total + z2
    rate = (k + 0.5 * z2) / denominator
    error = (z / denominator) * math.sqrt(k * (n_total - k) / n_total + 0.25 * z2)
    return SuccessRate(rate, error)


def residual_risk(attack: SuccessRate, control: SuccessRate) -> SuccessRate:
    """``(attack − control) / (1 − control)`` with the first-order propagated error (not clipped).

    Negative when the control records are easier to attack than the training records.
    """
    if control.value >= 1.0 or math.isnan(control.value):
        return SuccessRate(math.nan, math.nan)
    gap = 1.0 - control.value
    value = (attack.value - control.value) / gap
    d_attack = 1.0 / abs(gap)
    d_control = (attack.value - 1.0) / gap**2
    error = math.sqrt((attack.error * d_attack) ** 2 + (control.error * d_control) ** 2)
    return SuccessRate(value, error)


@dataclass(frozen=True, slots=True)
class AttackOutcome:
    """Counts of one attack against the training records, the control records and a random baseline.

    ``n_control`` may be fractional: the singling-out control count is rescaled to the size of
    the training set. ``n_attacks`` is what the attacker tried (the denominator of every rate, as
    in the paper, even when fewer queries could be generated); the per-run denominators may be
    smaller when a side holds fewer records than ``n_attacks``.
    """

    n_attacks: int
    n_success: int
    n_control: float
    n_baseline: int
    n_attacks_control: int
    n_attacks_baseline: int
    level: float = 0.95

    @property
    def attack(self) -> SuccessRate:
        return success_rate(self.n_attacks, self.n_success, level=self.level)

    @property
    def control(self) -> SuccessRate:
        return success_rate(self.n_attacks_control, self.n_control, level=self.level)

    @property
    def baseline(self) -> SuccessRate:
        return success_rate(self.n_attacks_baseline, self.n_baseline, level=self.level)

    @property
    def risk(self) -> SuccessRate:
        """The residual risk, unclipped (see :attr:`risk_ci` for the reported interval)."""
        return residual_risk(self.attack, self.control)

    @property
    def value(self) -> float:
        """The risk clipped to [0, 1] (NaN when the control succeeds every time)."""
        return _clip(self.risk.value)

    @property
    def risk_ci(self) -> tuple[float, float]:
        return self.risk.ci

    def to_dict(self, prefix: str = "") -> dict[str, Detail]:
        """Counts, rates and intervals as flat details (keys optionally prefixed, e.g. ``"multivariate_"``)."""
        out: dict[str, Detail] = {
            "n_attacks": self.n_attacks,
            "n_success": self.n_success,
            "n_control": round(self.n_control, 6),
            "n_baseline": self.n_baseline,
        }
        for name, rate in (("attack", self.attack), ("control", self.control), ("baseline", self.baseline)):
            out[f"{name}_rate"] = rate.value
            out[f"{name}_ci_low"], out[f"{name}_ci_high"] = rate.ci
        out["risk"] = self.value
        out["risk_ci_low"], out["risk_ci_high"] = self.risk_ci
        return {f"{prefix}{k}": v for k, v in out.items()}
