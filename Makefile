# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml setup.py datakeep/_native.c
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m compileall -q datakeep  # what pip does for a regular install
	touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml setup.py datakeep/_native.c
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -m compileall -q datakeep
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" bash sample_data/demo.sh

test: $(VENV)/.installed-test
	$(BIN)/ruff check datakeep tests bench
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed-test
	$(BIN)/ruff check datakeep tests bench
	$(BIN)/mypy datakeep

# DVC goes into its own venv (bench/setup.sh) so it cannot change the versions datakeep runs with.
bench: $(VENV)/.installed-test
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	bash bench/setup.sh
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
