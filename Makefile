# The two front-door commands: `make demo` and `make test`. Both work on a fresh machine with
# only Python >= 3.11, pip and make: they create .venv and install what they need.
# Every pip call goes through constraints.txt so that later extras keep torch==2.13.0 (CPU)
# and flwr==1.42.0 instead of downloading other builds.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
PIPI   := $(PIP) install --disable-pip-version-check -q -c constraints.txt
PYTEST_ARGS ?=

.PHONY: demo test lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --disable-pip-version-check -q --upgrade pip

$(VENV)/.demo-installed: pyproject.toml constraints.txt | $(BIN)/python
	$(PIPI) -e '.[demo]'
	@touch $@

$(VENV)/.dev-installed: pyproject.toml constraints.txt | $(BIN)/python
	$(PIPI) -e '.[dev]'
	@touch $@ $(VENV)/.demo-installed

demo: $(VENV)/.demo-installed
	$(BIN)/medsyn demo --output demo-output

test: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest -n 2 --dist loadfile $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks || true
	$(BIN)/mypy

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

bench: $(VENV)/.dev-installed
	$(BIN)/python benchmarks/audit.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache
