from __future__ import annotations

import pytest

from medsyn._registry import Registry
from medsyn.errors import (
    DataFormatError,
    InputError,
    MedsynError,
    MissingDependencyError,
    NotFittedError,
    Problem,
    SchemaError,
    UnknownNameError,
)


def test_input_error_collects_every_problem_in_one_message() -> None:
    err = InputError([Problem("a.csv: age", "'x'", "a number"), Problem("a.csv: sex", "'Q'", "F or M", "Fix it.")])
    text = str(err)
    assert text.startswith("2 problems")
    assert "a.csv: age: 'x'; expected a number" in text
    assert "F or M. Fix it." in text
    assert len(err.problems) == 2


def test_error_classes_refine_the_builtins_they_mean() -> None:
    assert issubclass(SchemaError, InputError)
    assert issubclass(DataFormatError, ValueError)
    assert issubclass(UnknownNameError, LookupError)
    assert not issubclass(UnknownNameError, KeyError)
    assert issubclass(NotFittedError, AttributeError)
    assert InputError("x").exit_code == 2
    assert MedsynError().exit_code == 1
    assert InputError("x").http_status == 422


def test_missing_dependency_names_the_extra() -> None:
    err = MissingDependencyError("wfdb", "signal", "Reading WFDB records")
    assert "pip install 'medsyn[signal]'" in str(err)
    assert isinstance(err, ImportError)


def test_registry_suggests_close_names_and_rejects_duplicates() -> None:
    reg: Registry[int] = Registry("generator")
    reg.add("cart", 1)
    reg.add("ctgan", 2)
    with pytest.raises(UnknownNameError, match=r"did you mean 'cart'\?\nAvailable: cart, ctgan"):
        reg.get("crat")
    with pytest.raises(ValueError, match="already registered"):
        reg.add("cart", 3)
    assert reg.names() == ["cart", "ctgan"]
    assert "cart" in reg
    assert len(reg) == 2


def test_registry_runs_the_contract_check() -> None:
    def check(name: str, value: int) -> None:
        if value < 0:
            raise TypeError(f"{name} must be positive")

    reg: Registry[int] = Registry("thing", check=check)
    with pytest.raises(TypeError, match="must be positive"):
        reg.add("bad", -1)
