"""Named registries: how generators, metrics and readers are found by name, never by if-chains."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from medsyn.errors import UnknownNameError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """A name → object table with explicit registration and helpful lookup errors.

    Parameters
    ----------
    kind
        What the entries are ("generator", "metric"), used in messages.
    entry_point_group
        Optional ``importlib.metadata`` entry-point group from which third-party plugins are
        loaded on first lookup. Import errors of plugins are raised, never swallowed.
    check
        Optional callable run on each entry at registration; it raises ``TypeError`` when the
        entry breaks the contract.

    Examples
    --------
    >>> squares = Registry[int]("square")
    >>> squares.add("four", 4)
    >>> squares.get("four")
    4
    """

    def __init__(
        self,
        kind: str,
        *,
        entry_point_group: str | None = None,
        check: Callable[[str, T], None] | None = None,
    ) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._group = entry_point_group
        self._plugins_loaded = entry_point_group is None
        self._check = check

    def add(self, name: str, entry: T) -> None:
        """Register ``entry`` under ``name``; a duplicate name raises ``ValueError``."""
        if name in self._entries:
            raise ValueError(f"{self.kind} '{name}' is already registered")
        if self._check is not None:
            self._check(name, entry)
        self._entries[name] = entry

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def decorate(entry: T) -> T:
            self.add(name, entry)
            return entry

        return decorate

    def _load_plugins(self) -> None:
        if self._plugins_loaded or self._group is None:
            return
        self._plugins_loaded = True
        for ep in entry_points(group=self._group):
            if ep.name not in self._entries:
                self.add(ep.name, ep.load())

    def get(self, name: str) -> T:
        """Return the entry called ``name`` or raise :class:`UnknownNameError` with suggestions."""
        self._load_plugins()
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._entries, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            available = ", ".join(sorted(self._entries)) or "(none)"
            raise UnknownNameError(f"no {self.kind} '{name}'{hint}\nAvailable: {available}") from None

    def names(self) -> list[str]:
        """Sorted names of every entry."""
        self._load_plugins()
        return sorted(self._entries)

    def items(self) -> Iterator[tuple[str, T]]:
        self._load_plugins()
        return iter(sorted(self._entries.items()))

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)
