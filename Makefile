# The two commands in the README: `make reproduce` (main job) and `make test`.
# Each creates the virtual environment it needs from nothing.
PYTHON ?= python3.11
, := ,
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LINT_PATHS := src tests $(wildcard analyses benchmarks data/synthetic/*.py)

.PHONY: reproduce test lint typecheck docs wheel-test validate bench clean

# The first install takes a few minutes. A line before each stage says what it installs
# and roughly how long it takes, and one after it its time. At a terminal pip shows its
# own progress (each package, download bars); in CI or a log (CI set, or output not a
# terminal) pip stays quiet so the log keeps only those lines.
quiet_if_logged = q=--quiet; if [ -t 1 ] && [ -z "$$CI" ]; then q=; fi
stage = echo "[$(1)] $(2)"
took = echo "    done in $$(( $$(date +%s) - t0 )) s"

$(STAMP): pyproject.toml requirements/lock.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	@t0=$$(date +%s); $(call stage,1/3,Creating the virtual environment $(VENV) (a few seconds)); \
	$(PYTHON) -m venv $(VENV) && $(took)
	@$(quiet_if_logged); t0=$$(date +%s); $(call stage,2/3,Upgrading pip in $(VENV) (about 10 s)); \
	$(BIN)/pip install $$q --upgrade "pip>=24" && $(took)
	@$(quiet_if_logged); t0=$$(date +%s); \
	$(call stage,3/3,Installing reunistat and its $$(grep -c '==' requirements/lock.txt) pinned \
	packages from requirements/lock.txt: numpy$(,) pandas$(,) scipy$(,) statsmodels$(,) \
	matplotlib$(,) pandoc$(,) typst and the test tools (about 1.3 GB; about 4 minutes on a first \
	install$(,) longer on a busy machine$(,) seconds once pip has them cached)); \
	$(BIN)/pip install $$q -c requirements/lock.txt -e ".[dev]" && $(took)
	@touch $(STAMP)

# Bytecode first (only modules changed since): an editable install has none, and where
# PYTHONDONTWRITEBYTECODE is set every run would compile reunistat again (~0.5 s CPU).
reproduce: $(STAMP)
	@$(BIN)/python -m compileall -q src
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
