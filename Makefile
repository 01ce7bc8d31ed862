# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-sqlite lint bench clean install

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Set up, migrate, seed the demo, start the sandbox and the Dagster UI (http://127.0.0.1:3000).
run: $(STAMP)
	$(BIN)/postiz-pipelines dev

## Install and run the whole test suite (SQLite and PostgreSQL).
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

## Lint, format check and type check (what CI runs before the tests).
lint: $(STAMP)
	$(BIN)/ruff check postiz_pipelines postiz_pipelines_tests bench migrations
	$(BIN)/ruff format --check postiz_pipelines postiz_pipelines_tests bench migrations
	$(BIN)/mypy postiz_pipelines

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .data *.egg-info
