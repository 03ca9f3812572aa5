# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
WORKSPACE ?= demo-workspace
export NML_DISABLE_USAGE_LOGGING := 1
export MLFLOW_ENABLE_ASYNC_LOGGING := false

.PHONY: venv install install-dev demo demo-fleet test lint typecheck layers bench clean distclean

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

# A replay starts from nothing, so each run replaces the demo's workspace (WORKSPACE) whole:
# `make demo` can be run again and again. A folder that is not a chronoguard workspace (no
# chronoguard.toml) and not empty is never removed.
define replace_workspace
	@if [ -d "$(1)" ] && [ -n "$$(ls -A "$(1)")" ] && [ ! -f "$(1)/chronoguard.toml" ]; then \
		echo "$(1) is not a chronoguard workspace (no chronoguard.toml): not removing it; pick another WORKSPACE=" >&2; exit 2; fi
	rm -rf -- "$(1)"
endef

demo: install
	$(call replace_workspace,$(WORKSPACE))
	$(BIN)/chronoguard demo --workspace "$(WORKSPACE)"

# The fleet demo: 48 tourism series with groups, tiers and a budget, against never, always
# and fixed retraining (about 4–7 minutes on 2 cores). Its own workspace, as a replay starts
# from nothing, replaced on each run.
FLEET_WORKSPACE ?= demo-fleet-workspace
demo-fleet: install
	$(call replace_workspace,$(FLEET_WORKSPACE))
	$(BIN)/chronoguard demo --fleet --workspace "$(FLEET_WORKSPACE)"

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

# clean: the demo workspaces, caches and build output (the venv stays: no reinstall after);
# distclean: that and the venv too.
clean:
	rm -rf -- "$(WORKSPACE)" "$(FLEET_WORKSPACE)"
	rm -rf build dist *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
	find src tests bench -type d -name __pycache__ -prune -exec rm -rf {} +

distclean: clean
	rm -rf -- "$(VENV)"
