# The two commands a newcomer runs: `make demo` and `make test`. CI (.ci/run) calls `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
PORT   ?= 8000
HOST   ?= 127.0.0.1
SIZE   ?= small
WORKSPACE ?= demo.duckdb
PIP     = $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test install dev lint audit bench serve clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# runtime install (demo)
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	touch $@

# runtime + dev extras (tests: pytest, playwright, pyspark, hypothesis) + embeddings (CPU torch first: ~80 s)
$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(PIP) install torch==2.13.0
	$(PIP) install -e '.[dev,embeddings]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
dev: $(VENV)/.dev-installed

## make demo: set up, build the demo workspace, print KPIs, serve the dashboard on $(HOST):$(PORT)
demo: $(VENV)/.installed
	rm -f $(WORKSPACE)
	$(BIN)/cxlens --workspace $(WORKSPACE) demo --size $(SIZE) --serve --host $(HOST) --port $(PORT)

## make test: set up with dev extras and run the whole suite (Spark and browser tests included) on
## $(JOBS) worker processes (pytest-xdist; JOBS=0 runs in this process)
JOBS ?= 2
test: $(VENV)/.dev-installed
	$(BIN)/python -m pytest -n $(JOBS) $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_architecture.py  # the layer contract

## make audit: known vulnerabilities in the locked (installed) dependencies; fails on one with a fix
## released (scripts/audit.py says why it is skipped where no vulnerability database is reachable)
audit: $(VENV)/.dev-installed
	$(BIN)/python scripts/audit.py

bench: $(VENV)/.installed
	$(BIN)/cxlens bench metrics --rows 10000000

serve: $(VENV)/.installed
	$(BIN)/cxlens --workspace $(WORKSPACE) serve --host $(HOST) --port $(PORT)

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache $(WORKSPACE)
