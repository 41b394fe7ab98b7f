# The two commands in the README: `make reproduce` (main job) and `make test`.
# Each creates the virtual environment it needs from nothing.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LINT_PATHS := src tests $(wildcard analyses benchmarks data/synthetic/*.py)

.PHONY: reproduce test lint typecheck docs wheel-test validate bench clean

$(STAMP): pyproject.toml requirements/lock.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	$(BIN)/pip install --quiet -c requirements/lock.txt -e ".[dev]"
	@touch $(STAMP)

reproduce: $(STAMP)
	$(BIN)/reunistat reproduce

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

typecheck: $(STAMP)
	$(BIN)/mypy

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# The built wheel in a fresh venv: reunistat init, then reproduce on the sample (about 2 min).
wheel-test: $(STAMP)
	$(BIN)/pytest -q -m wheel tests/test_init_wheel.py

test: $(STAMP) lint typecheck docs
	$(BIN)/pytest -q
	$(BIN)/pytest -q -m wheel tests/test_init_wheel.py

validate: $(STAMP)
	$(BIN)/pytest -q -m slow

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) outputs build site .pytest_cache .mypy_cache .ruff_cache
