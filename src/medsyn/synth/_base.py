"""The generator contract shared by every modality, its registry, and the safe model format.

A generator stores keyword-only parameters in ``__init__`` (nothing else happens there),
learns in ``fit``, draws in ``sample`` and persists with ``save``/``load``. The saved model is a
folder with ``model.json`` (generator name, parameters, learned state as plain JSON, the medsyn
version) and ``arrays.safetensors`` (every learned array); the JSON carries the SHA-256 of the
arrays file so a truncated or edited model is refused with a clear error. Nothing is pickled:
loading a model never runs code from the file.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from medsyn._atomic import atomic_dir
from medsyn._registry import Registry
from medsyn.data.dataset import Dataset, Modality
from medsyn.errors import DataFormatError, InputError, NotFittedError, Problem
from medsyn.privacy import PrivacyGuarantee

__all__ = ["GENERATORS", "Generator", "Supports", "get", "load", "names"]

FORMAT = "medsyn-generator"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Supports:
    """What a generator can do, for ``medsyn synth generators`` and for callers choosing one."""

    modalities: frozenset[Modality]
    conditions: str  # "native" (sampled under the condition) or "rejection" (filtered, efficiently)
    differential_privacy: bool = False
    gpu: bool = False
    summary: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "modalities": sorted(m.value for m in self.modalities),
            "conditions": self.conditions,
            "differential_privacy": self.differential_privacy,
            "gpu": self.gpu,
            "summary": self.summary,
        }


class Generator(ABC):
    """Base of all generators: parameters, fitted-state checks, progress and the model format.

    Subclasses set ``name`` and ``supports``, take keyword-only parameters in ``__init__``
    (stored under the same names) and implement ``fit``, ``sample`` and the two state hooks
    :meth:`_get_state` / :meth:`_set_state`.
    """

    name: ClassVar[str]
    supports: ClassVar[Supports]
    #: small settings (few epochs) for smoke tests and quick benchmark runs
    quick_params: ClassVar[Mapping[str, Any]] = {}
    #: set to True by ``fit`` and ``load``
    fitted_: bool = False

    # -- parameters -------------------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters, as stored (JSON-able)."""
        return {k: getattr(self, k) for k in self._param_names()}

    def __repr__(self) -> str:
        defaults = {
            p.name: p.default
            for p in inspect.signature(type(self).__init__).parameters.values()
            if p.kind == p.KEYWORD_ONLY
        }
        shown = [f"{k}={v!r}" for k, v in self.get_params().items() if defaults.get(k) != v]
        return f"{type(self).__name__}({', '.join(shown)})"

    # -- state ------------------------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        return self.fitted_

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(data) before sample() or save()")

    @property
    def privacy(self) -> PrivacyGuarantee | None:
        """The differential-privacy guarantee of the fitted model, or ``None`` (no formal guarantee)."""
        return getattr(self, "privacy_", None)

    @abstractmethod
    def fit(self, data: Dataset, /, **kwargs: Any) -> Self: ...

    @abstractmethod
    def sample(self, n: int, /, **kwargs: Any) -> Dataset: ...

    @abstractmethod
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Learned state as (plain JSON data, named arrays)."""

    @abstractmethod
    def _set_state(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        """Restore what :meth:`_get_state` returned."""

    # -- persistence ------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the fitted model to the folder ``path`` (atomically; an existing folder is replaced)."""
        self._check_fitted()
        from safetensors.numpy import save_file

        state, arrays = self._get_state()
        with atomic_dir(path) as tmp:
            arrays_file = tmp / "arrays.safetensors"
            save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(arrays_file))
            meta = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "generator": self.name,
                "medsyn_version": _version(),
                "params": self.get_params(),
                "state": state,
                "arrays_sha256": hashlib.sha256(arrays_file.read_bytes()).hexdigest(),
            }
            (tmp / "model.json").write_text(json.dumps(_json_safe(meta), indent=1, allow_nan=False), encoding="utf-8")
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> Generator:
        """Read a model written by :meth:`save`; any damage gives a :class:`DataFormatError`."""
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        path = Path(path)
        meta_file, arrays_file = path / "model.json", path / "arrays.safetensors"
        if not meta_file.is_file() or not arrays_file.is_file():
            raise DataFormatError(
                Problem(str(path), "no model.json and arrays.safetensors", "a folder written by Generator.save()")
            )
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataFormatError(Problem(str(meta_file), f"not valid JSON ({exc})", "a saved medsyn model")) from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise DataFormatError(Problem(str(meta_file), "not a medsyn model file", f"format '{FORMAT}'"))
        if meta.get("format_version", 0) > FORMAT_VERSION:
            raise DataFormatError(
                Problem(
                    str(meta_file),
                    f"format version {meta.get('format_version')} (medsyn {meta.get('medsyn_version')})",
                    f"version <= {FORMAT_VERSION}",
                    fix="upgrade medsyn",
                )
            )
        digest = hashlib.sha256(arrays_file.read_bytes()).hexdigest()
        if digest != meta.get("arrays_sha256"):
            raise DataFormatError(
                Problem(
                    str(arrays_file), "content does not match the digest in model.json", "an unmodified saved model"
                )
            )
        target = GENERATORS.get(str(meta.get("generator")))
        if cls is not Generator and not issubclass(target, cls):
            raise DataFormatError(Problem(str(path), f"a '{target.name}' model", f"a '{cls.name}' model"))
        try:
            arrays = load_file(str(arrays_file))
            model = target(**_tuples_back(target, meta["params"]))
            model._set_state(meta["state"], arrays)
        except (KeyError, TypeError, ValueError, SafetensorError) as exc:
            raise DataFormatError(
                Problem(str(path), f"a damaged model ({type(exc).__name__}: {exc})", "a saved model")
            ) from None
        model.fitted_ = True
        return model

    # -- progress ---------------------------------------------------------------------------
    @contextmanager
    def _progress(self, enabled: bool, total: int, description: str) -> Iterator[Callable[[int], None]]:
        """Yield ``advance(k)``; shows a rich progress bar on stderr when ``enabled``."""
        if not enabled:

            def skip(k: int = 1) -> None:
                return None

            yield skip
            return
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as bar:
            task = bar.add_task(description, total=total)

            def advance(k: int = 1) -> None:
                bar.advance(task, k)

            yield advance


def _check_generator(name: str, cls: type[Generator]) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Generator)):
        raise TypeError(f"generator '{name}' must subclass medsyn.synth.Generator")
    if getattr(cls, "name", None) != name:
        raise TypeError(
            f"generator class {cls.__name__} has name {getattr(cls, 'name', None)!r}, registered as {name!r}"
        )
    if not isinstance(getattr(cls, "supports", None), Supports):
        raise TypeError(f"generator '{name}' must declare `supports = Supports(...)`")
    sig = inspect.signature(cls.__init__)
    bad = [p.name for p in sig.parameters.values() if p.name != "self" and p.kind is not inspect.Parameter.KEYWORD_ONLY]
    if bad:
        raise TypeError(f"generator '{name}' parameters {bad} must be keyword-only")


GENERATORS = Registry[type[Generator]]("generator", entry_point_group="medsyn.generators", check=_check_generator)


def get(name: str) -> type[Generator]:
    """The generator class registered as ``name`` (instantiate it with keyword parameters)."""
    return GENERATORS.get(name)


def names() -> list[str]:
    return GENERATORS.names()


def load(path: str | Path) -> Generator:
    """Load any saved generator (see :meth:`Generator.load`)."""
    return Generator.load(path)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("medsyn")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def _tuples_back(cls: type[Generator], params: Mapping[str, Any]) -> dict[str, Any]:
    """JSON turns tuples into lists; give tuple-valued parameters their type back."""
    defaults = {p.name: p.default for p in inspect.signature(cls.__init__).parameters.values()}
    return {k: tuple(v) if isinstance(v, list) and isinstance(defaults.get(k), tuple) else v for k, v in params.items()}


def _json_safe(value: Any) -> Any:
    """Plain JSON: numpy scalars to Python, non-finite floats to strings that round-trip."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else ("inf" if f > 0 else "-inf" if f < 0 else "nan")
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    raise InputError(Problem("model state", f"a {type(value).__name__}", "plain JSON data"))


def json_float(value: object) -> float:
    """Inverse of the non-finite encoding in saved models."""
    return float(value)  # type: ignore[arg-type]  # float("inf") / float("-inf") / float("nan") parse
