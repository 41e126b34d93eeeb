# batchpoint developer entry points. Every target bootstraps .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
PYTEST_ARGS ?=

.PHONY: demo test lint venv bench clean compile

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip uv

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m uv pip install --python $(BIN)/python -q --compile-bytecode -e ".[dev,mlflow,ray]"
	touch $(STAMP)

venv: $(STAMP)

# Byte-compile our sources: some machines set PYTHONDONTWRITEBYTECODE, which makes every CLI call and
# every worker process recompile everything it imports.
compile: $(STAMP)
	@$(BIN)/python -m compileall -q -j 0 src >/dev/null

demo: $(STAMP) compile
	$(BIN)/python examples/demo/run_demo.py

test: $(STAMP) compile
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy src

bench: $(STAMP) compile
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
