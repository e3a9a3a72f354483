# The two commands the README promises: `make install`, then `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: install test bench clean

install:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade --quiet pip
	$(BIN)/pip install --quiet -e ".[dev]"

test:
	$(BIN)/python -m pytest

bench:
	$(BIN)/python benchmarks/load_time.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
