# personalib: `make reproduce` (reports) and `make test` (test suite) work on a fresh clone:
# both create .venv/ from the pinned stack in requirements.lock first when it is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.personalib-installed
PROFILE ?= demo
MODELS ?=
PYTEST_ARGS ?=

.PHONY: venv test reproduce generate reports bench lab lock clean-venv

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==$$(sed -n 's/^pip==//p' requirements.lock)"
	$(PY) -m pip install --quiet -c requirements.lock -e '.[test]'
	@touch $(STAMP)

test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

generate: venv
	$(PY) -m personalib generate --profile $(PROFILE) $(if $(MODELS),--models $(MODELS))

reports: venv
	$(PY) -m personalib report --profile $(PROFILE) $(if $(MODELS),--models $(MODELS))

reproduce: generate reports

bench: venv
	$(PY) -m benchmarks

lab: venv
	$(VENV)/bin/jupyter lab notebooks/

lock: venv
	( echo "# Pinned stack for personalib (used as pip constraints: pip install -c requirements.lock -e .)"; \
	  echo "# Regenerate with: make lock"; \
	  echo "pip==$$($(PY) -m pip --version | cut -d' ' -f2)"; \
	  $(PY) -m pip freeze --exclude-editable | sed -E 's/^(torch==[0-9.]+)\+.*/\1/' ) > requirements.lock

clean-venv:
	rm -rf $(VENV)
