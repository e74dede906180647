# Every target creates .venv with python3 -m venv and installs what it needs,
# so each one works on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench notebooks clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(VENV)/.installed-bench: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[bench]'
	touch $@

$(VENV)/.installed-notebook: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[notebook]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/python -m symdiff.demo

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench

# JupyterLab refuses to start as root unless told to (containers often run as root).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

notebooks: $(VENV)/.installed-notebook
	$(BIN)/jupyter lab notebooks/ $(ROOT_FLAG)

clean:
	rm -rf $(VENV) build *.egg-info symdiff.egg-info .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
