# personalib: `make reproduce` (reports) and `make test` (test suite) work on a fresh clone:
# both create .venv/ from the pinned stack in requirements.lock first when it is missing.
# `make help` lists the targets (the `## ` comment after each target is its line).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.personalib-installed
PROFILE ?= demo
MODELS ?=
PYTEST_ARGS ?=

.PHONY: help venv test reproduce generate reports bench lab lock clean-venv
.DEFAULT_GOAL := help

help: ## list the targets (variables: PROFILE=demo MODELS= PYTEST_ARGS=)
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/\1\t\2/' | \
	  awk -F'\t' '{printf "  make %-12s %s\n", $$1, $$2}'

venv: $(STAMP) ## create .venv/ from requirements.lock (once; again when the lock or pyproject changes)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==$$(sed -n 's/^pip==//p' requirements.lock)"
	$(PY) -m pip install --quiet -c requirements.lock -e '.[test]'
	@touch $(STAMP)

test: venv ## run the test suite (PYTEST_ARGS passes options to pytest)
	$(PY) -m pytest $(PYTEST_ARGS)

generate: venv ## generate the profile's answers into its store (PROFILE, MODELS)
	$(PY) -m personalib generate --profile $(PROFILE) $(if $(MODELS),--models $(MODELS))

reports: venv ## build the profile's HTML reports (PROFILE, MODELS)
	$(PY) -m personalib report --profile $(PROFILE) $(if $(MODELS),--models $(MODELS))

reproduce: generate reports ## generate, then build the reports (default: the offline demo)

bench: venv ## run the benchmarks in benchmarks/
	$(PY) -m benchmarks

lab: venv ## open the notebooks in JupyterLab
	$(VENV)/bin/jupyter lab notebooks/

lock: venv ## rewrite requirements.lock from the installed stack
	( echo "# Pinned stack for personalib (used as pip constraints: pip install -c requirements.lock -e .)"; \
	  echo "# Regenerate with: make lock"; \
	  echo "pip==$$($(PY) -m pip --version | cut -d' ' -f2)"; \
	  $(PY) -m pip freeze --exclude-editable | sed -E 's/^(torch==[0-9.]+)\+.*/\1/' ) > requirements.lock

clean-venv: ## remove .venv/
	rm -rf $(VENV)
