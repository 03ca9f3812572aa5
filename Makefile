# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
WORKSPACE ?= demo-workspace
export NML_DISABLE_USAGE_LOGGING := 1
export MLFLOW_ENABLE_ASYNC_LOGGING := false

.PHONY: venv install install-dev demo demo-fleet test lint typecheck layers bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/chronoguard demo --workspace $(WORKSPACE)

# The fleet demo: 48 tourism series with groups, tiers and a budget, against never, always
# and fixed retraining (about 4–7 minutes on 2 cores). Its own workspace, as a replay starts
# from nothing.
FLEET_WORKSPACE ?= demo-fleet-workspace
demo-fleet: install
	$(BIN)/chronoguard demo --fleet --workspace $(FLEET_WORKSPACE)

lint: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install-dev
	$(BIN)/mypy

layers: install-dev
	$(BIN)/lint-imports

test: install-dev lint typecheck layers
	$(BIN)/pytest -q $(PYTEST_ARGS)

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $(VENV)/.installed $(VENV)/.installed-dev $@

bench: $(VENV)/.installed-bench
	$(BIN)/python bench/drift_speed.py --quick
	$(BIN)/python bench/drift_calibration.py --quick

clean:
	rm -rf $(VENV) $(WORKSPACE) $(FLEET_WORKSPACE) build *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
