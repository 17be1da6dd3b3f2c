"""Typed results of de-identification: what was done to each file, and what still needs a human look.

A :class:`DeidReport` per file counts the actions applied (D, Z, X, K, C, U), lists the private
tags removed or kept and carries findings such as "Burned In Annotation is YES". It never holds
the secret parts of the job (the date offset, the UID map, original values): with the output
those would undo the de-identification. A :class:`DeidRun` gathers the reports of a folder run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["DeidFinding", "DeidReport", "DeidRun", "FindingLevel"]


class FindingLevel(StrEnum):
    INFO = "info"
    WARN = "warn"


@dataclass(frozen=True, slots=True)
class DeidFinding:
    """Something a person should check: what, where, and how serious."""

    code: str
    message: str
    location: str
    level: FindingLevel = FindingLevel.WARN

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "level": self.level.value, "message": self.message, "location": self.location}


@dataclass(frozen=True, slots=True)
class DeidReport:
    """What de-identification did to one file (or one in-memory dataset).

    ``actions`` counts the elements each action code was applied to; ``details`` holds the
    format's own counts (dates shifted, comment lines removed, annotation texts scrubbed, …).
    """

    source: str
    output: str | None
    format: str
    actions: Mapping[str, int] = field(default_factory=dict)
    removed_private: tuple[str, ...] = ()
    kept_private: tuple[str, ...] = ()
    method: tuple[str, ...] = ()
    findings: tuple[DeidFinding, ...] = ()
    details: Mapping[str, int | str] = field(default_factory=dict)

    @property
    def warnings(self) -> tuple[DeidFinding, ...]:
        return tuple(f for f in self.findings if f.level is FindingLevel.WARN)

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "output": self.output,
            "format": self.format,
            "actions": dict(self.actions),
            "removed_private": list(self.removed_private),
            "kept_private": list(self.kept_private),
            "method": list(self.method),
            "findings": [f.to_dict() for f in self.findings],
            "details": dict(self.details),
        }

    def __repr__(self) -> str:
        acts = ", ".join(f"{k}={v}" for k, v in sorted(self.actions.items()) if v)
        return f"DeidReport({self.format} {self.source!r}: {acts}; {len(self.warnings)} warning(s))"


@dataclass(frozen=True, slots=True)
class DeidRun:
    """The reports of one run over a file or a folder, with the files left out and why."""

    input: str
    output: str
    format: str
    reports: tuple[DeidReport, ...]
    skipped: tuple[str, ...] = ()
    key_fingerprint: str = ""
    options: Mapping[str, bool] = field(default_factory=dict)

    @property
    def warnings(self) -> tuple[DeidFinding, ...]:
        return tuple(w for r in self.reports for w in r.warnings)

    def totals(self) -> dict[str, int]:
        """Actions summed over every file."""
        out: dict[str, int] = {}
        for report in self.reports:
            for code, n in report.actions.items():
                out[code] = out.get(code, 0) + n
        return out

    def to_dict(self) -> dict[str, object]:
        return {
            "input": self.input,
            "output": self.output,
            "format": self.format,
            "files": len(self.reports),
            "key_fingerprint": self.key_fingerprint,
            "options": dict(self.options),
            "totals": self.totals(),
            "warnings": len(self.warnings),
            "skipped": list(self.skipped),
            "reports": [r.to_dict() for r in self.reports],
        }
