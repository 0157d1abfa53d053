# Quick start:  make demo   |   make test
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/cloudledger: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

.PHONY: setup demo test lint bench
setup: $(BIN)/cloudledger

demo: setup
	$(BIN)/cloudledger demo

test: setup
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: setup
	$(BIN)/ruff check cloudledger tests bench
	$(BIN)/mypy cloudledger
	$(BIN)/lint-imports

bench: setup
	$(BIN)/python bench/ingest.py
