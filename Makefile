# cnn-course: every target creates the virtual environment (.venv) on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# Which notebooks `make course` runs (all by default), e.g. `make course NOTEBOOKS=notebooks/01_*.ipynb`.
NOTEBOOKS ?= notebooks/[0-9]*.ipynb

.PHONY: help setup course lab test lint format bench clean distclean tune-distributed

help:
	@echo "make course  run every notebook headless (profile: $${COURSE_PROFILE:-full}) into build/"
	@echo "make test    run the whole test suite (unit tests + notebooks in the smoke profile)"
	@echo "make lab     open the course in JupyterLab"
	@echo "make lint    ruff check + ruff format --check (helpers, bench, tests, notebooks); make test runs it first"
	@echo "make format  apply ruff's fixes and formatting"
	@echo "make bench   run the benchmarks, writing bench/results/latest.{md,json}"
	@echo "make tune-distributed WORKERS=2   a KerasTuner search with a chief and N local workers"
	@echo "make clean   remove build outputs; make distclean also removes .venv and data caches"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

setup: $(STAMP)

course: $(STAMP)
	$(BIN)/python -m helpers.runner $(NOTEBOOKS)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

test: lint
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf build .pytest_cache .hypothesis bench/results/tmp
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) data/cache data/pretrained *.egg-info

# Distributed hyperparameter search (notebook 09): a KerasTuner chief and $(WORKERS) workers on 127.0.0.1.
WORKERS ?= 2
.PHONY: tune-distributed
tune-distributed: $(STAMP)
	$(BIN)/python -m helpers.tuning.distributed --workers $(WORKERS)
