# `make demo`, `make test` and `make test-all` each bootstrap the local virtual environment on first use.
# `make test` is the fast tier: every test but those marked as slow tiers (pyproject.toml's markers);
# `make test-all` runs everything, and is what .ci/run runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_OUTPUT ?= demo-output
SLOW_TIERS := e2e or hub or slurm or benchmark or full_scale

.PHONY: demo test test-all clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/imagenet-tiny demo --output $(DEMO_OUTPUT)

test: $(VENV)/.installed
	$(BIN)/python -m pytest -m "not ($(SLOW_TIERS))"

test-all: $(VENV)/.installed
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) demo-output
