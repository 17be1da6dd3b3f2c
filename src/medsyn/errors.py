"""The medsyn error hierarchy: every failure a user can meet, with where, what and how to fix.

::

    MedsynError (Exception)                      exit 1, HTTP 500
    ├── InputError (ValueError)                  exit 2, HTTP 422   bad input from the user
    │   ├── SchemaError                                             schema/YAML does not fit the data
    │   └── DataFormatError                                         a file cannot be read as its format
    ├── UnknownNameError (LookupError)           exit 2, HTTP 404   registry lookup with a suggestion
    ├── NotFittedError (ValueError, AttributeError)                 used before ``fit``
    ├── MissingDependencyError (ImportError)     exit 1             an optional extra is not installed
    ├── PolicyDenied (PermissionError)           exit 3, HTTP 403
    ├── PrivacyBudgetExceeded                    exit 3, HTTP 409
    └── LedgerTampered (governance._ledger_verify) exit 5, HTTP 500  the ledger does not verify

Input errors collect every :class:`Problem` found in one pass and raise once, so a user fixes a
file in one go instead of one error per run. The CLI and the API map ``exit_code`` and
``http_status`` in one place each.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "DataFormatError",
    "InputError",
    "MedsynError",
    "MissingDependencyError",
    "NotFittedError",
    "PolicyDenied",
    "PrivacyBudgetExceeded",
    "Problem",
    "SchemaError",
    "UnknownNameError",
]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input: where, what was found, what was expected, how to fix it."""

    location: str
    found: str
    expected: str = ""
    fix: str = ""

    def __str__(self) -> str:
        text = f"{self.location}: {self.found}"
        if self.expected:
            text += f"; expected {self.expected}"
        if self.fix:
            text += f". {self.fix}"
        return text

    def to_dict(self) -> dict[str, str]:
        return {"location": self.location, "found": self.found, "expected": self.expected, "fix": self.fix}


class MedsynError(Exception):
    """Base of every error medsyn raises on purpose."""

    exit_code: int = 1
    http_status: int = 500


class InputError(MedsynError, ValueError):
    """The user's input (a file, a column, a parameter) is not usable as given."""

    exit_code = 2
    http_status = 422

    def __init__(self, problems: Problem | Iterable[Problem] | str, *, location: str = "input") -> None:
        if isinstance(problems, str):
            problems = [Problem(location, problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: tuple[Problem, ...] = tuple(problems)
        if len(self.problems) == 1:
            message = str(self.problems[0])
        else:
            lines = "\n".join(f"  - {p}" for p in self.problems)
            message = f"{len(self.problems)} problems:\n{lines}"
        super().__init__(message)


class SchemaError(InputError):
    """A schema (inferred, YAML, or passed in) does not describe the data it is used with."""


class DataFormatError(InputError):
    """A file is missing, empty, truncated or not in the format its name promises."""


class UnknownNameError(MedsynError, LookupError):
    """A registry was asked for a name it does not hold."""

    exit_code = 2
    http_status = 404


class NotFittedError(MedsynError, ValueError, AttributeError):
    """An estimator or generator was used before ``fit``."""

    exit_code = 2
    http_status = 409


class MissingDependencyError(MedsynError, ImportError):
    """An optional dependency is missing; the message names the extra that installs it."""

    def __init__(self, module: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the Python package '{module}', which is not installed. "
            f"Install it with: pip install 'medsyn[{extra}]'"
        )
        self.module = module
        self.extra = extra


class PolicyDenied(MedsynError, PermissionError):
    """An access policy refused the action."""

    exit_code = 3
    http_status = 403


class PrivacyBudgetExceeded(MedsynError):
    """A differentially private operation would spend more than the remaining budget."""

    exit_code = 3
    http_status = 409
