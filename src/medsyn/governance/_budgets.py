"""Privacy budgets persisted in the workspace: one per data set version, drawn from atomically.

A :class:`~medsyn.privacy.PrivacyBudget` lives as JSON in the ``privacy_budgets`` table, keyed by
the data set's catalog version (the people in it). :func:`drawing` holds the database's write
lock while a DP operation charges the budget and computes its release, then saves the new state
in the same transaction: two processes can never both spend the last ε, a release that would
exceed the budget is refused before it runs (the budget raises before any noise is drawn), and a
process killed half-way charges nothing and shows nothing, because the release is only shown
after the commit. The catalog's ``privacy`` figures (``epsilon_spent``, ``delta_spent``) follow each charge.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select, update

from medsyn.errors import InputError, Problem
from medsyn.governance._db import budgets, datasets, write
from medsyn.privacy import PrivacyBudget

__all__ = ["Draw", "drawing", "load_budget", "set_budget"]


def load_budget(conn: Connection, version: str) -> PrivacyBudget | None:
    """The persisted budget of a data set version, or None when none was set."""
    row = conn.execute(select(budgets.c.state).where(budgets.c.version == version)).first()
    return None if row is None else PrivacyBudget.from_json(row[0], source=f"privacy budget of {version[:12]}")


def set_budget(
    conn: Connection, version: str, name: str, epsilon: float, delta: float = 0.0, *, mode: str = "pure", when: str
) -> PrivacyBudget:
    """Give a data set version its total budget (once: a budget is never reset or raised here)."""
    existing = load_budget(conn, version)
    if existing is not None:
        raise InputError(
            Problem(
                f"privacy budget of '{name}'",
                f"already set ({existing!r})",
                "a data set without a budget",
                "A budget is never reset: that would erase what was spent.",
            )
        )
    budget = PrivacyBudget(name, epsilon, delta, mode=mode)  # type: ignore[arg-type]
    conn.execute(
        budgets.insert().values(
            version=version, epsilon=epsilon, delta=delta, state=budget.to_json(), updated_at=when, revision=0
        )
    )
    _mirror(conn, version, budget)
    return budget


@dataclass
class Draw:
    """An open draw on a budget: charge it (through the release), then it is saved on exit."""

    budget: PrivacyBudget
    version: str


@contextmanager
def drawing(engine: Engine, version: str, name: str, *, data_version: str, when: str) -> Iterator[Draw]:
    """Hold the budget of ``version`` for one DP operation (see the module docstring).

    ``data_version`` is the provenance id of the data actually read (after consent filtering):
    the in-memory budget accepts exactly that data.
    """
    with write(engine) as conn:
        budget = load_budget(conn, version)
        if budget is None:
            raise InputError(
                Problem(
                    f"data set '{name}'",
                    "has no privacy budget in this workspace",
                    "a budget set by a data steward before any DP release",
                    f"Set one: medsyn dp budget {name} --epsilon E [--delta D].",
                )
            )
        budget.version = data_version
        draw = Draw(budget, version)
        yield draw
        saved = draw.budget.to_dict()
        saved["version"] = ""
        conn.execute(
            update(budgets)
            .where(budgets.c.version == version)
            .values(state=json.dumps(saved), updated_at=when, revision=budgets.c.revision + 1)
        )
        _mirror(conn, version, draw.budget)


def _mirror(conn: Connection, version: str, budget: PrivacyBudget) -> None:
    """Keep the catalog's privacy figures in step with the budget."""
    row = conn.execute(select(datasets.c.privacy).where(datasets.c.version == version)).first()
    if row is None:
        return
    figures = json.loads(row[0] or "{}")
    figures.update(epsilon_spent=budget.spent_epsilon, delta_spent=sum(s.delta for s in budget.spends))
    conn.execute(update(datasets).where(datasets.c.version == version).values(privacy=json.dumps(figures)))
