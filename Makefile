# Hearth: `make run` to try it, `make test` to check it. `make help` lists every target.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA := $(or $(HEARTH_DATA_DIR),var)
ONLY ?=

.DEFAULT_GOAL := help

.PHONY: help run test lint bench install install-dev clean

help: ## List every target with one line each
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sort | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Hearth needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-app: $(BIN)/python requirements/app.lock pyproject.toml
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements/app.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-app requirements/dev.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements/dev.lock
	@touch $@

install: $(VENV)/.installed-app ## Create .venv and install Hearth from the hashed lock file

install-dev: $(VENV)/.installed-dev ## Also install the test and lint tools

run: install ## Set up ./var (keys, encrypted DB, demo data) and serve both apps and the worker
	$(BIN)/hearth init
	@if [ ! -f "$(DATA)/demo-credentials.json" ]; then $(BIN)/hearth demo; fi
	$(BIN)/hearth run

test: install-dev lint ## Lint, type-check and run the whole test suite
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: install-dev ## ruff and mypy
	$(BIN)/ruff check appliance webapp backups tests bench
	$(BIN)/mypy

bench: install-dev ## Run the benchmarks (ONLY=<group> for one group); appends bench/results.jsonl
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq wrk >/dev/null; } \
	  || { echo "the web benchmarks need wrk: apt install wrk"; exit 1; }
	$(BIN)/python -m bench.run $(if $(ONLY),--only $(ONLY))

clean: ## Remove the venv and caches (never ./var: that holds your data and keys)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info
