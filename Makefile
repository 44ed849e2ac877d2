# ShellWatch developer targets. `make help` lists them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
T ?= tests
PYTEST_ARGS ?=

.PHONY: help setup system-deps demo demo-data test lint format bench train-nlp clean

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

setup: system-deps $(STAMP) ## Create or update .venv (fast when nothing changed)

system-deps: ## Install missing Debian packages (redis-server, chromium, CJK fonts, ...)
	@scripts/install-system-deps.sh

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: setup ## Crawl the offline demo newsroom, analyse, index, alert, digest; then serve the web app
	$(VENV)/bin/shellwatch demo --serve

test: setup ## Run the test suite (T=tests/search for a subset)
	$(PY) -m pytest $(T) $(PYTEST_ARGS)

lint: setup ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup ## ruff format and autofix
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

train-nlp: setup ## Retrain the shipped claim classifier from tests/data/nlp/train-*.jsonl
	$(VENV)/bin/shellwatch train-nlp

bench: setup ## Run the benchmarks (default sizes) and print their figures
	@for script in bench/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

e2e: setup ## Multi-process run under load and faults (~10 min; E2E_ARGS=--short for the CI size)
	$(PY) -m bench.e2e.run $(E2E_ARGS)

clean: ## Remove the virtualenv and the default data directory
	rm -rf $(VENV) data
