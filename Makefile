# cnn-course: every target creates the virtual environment (.venv) on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# Which notebooks `make course` runs (all by default), e.g. `make course NOTEBOOKS=notebooks/01_*.ipynb`.
NOTEBOOKS ?= notebooks/[0-9]*.ipynb
# Parameters for `make course` (papermill's -p NAME VALUE / -y YAML), e.g. PARAMS="-p EPOCHS 5 -p DATASET digits".
PARAMS ?=

# `make grade SUBMISSIONS=folder/`: one sub-folder of notebooks per learner; GRADE_ARGS e.g. "--timeout 600".
SUBMISSIONS ?=
GRADE_ARGS ?=
# nbgrader's Jupyter extensions (formgrader, assignment list): the course uses only its preprocessors.
NBGRADER_EXTENSIONS := formgrader validate_assignment assignment_list course_list

.PHONY: help setup course lab test lint format bench clean distclean tune-distributed student grade

help:
	@echo "make course  run every notebook headless (profile: $${COURSE_PROFILE:-full}) into build/"
	@echo "             NOTEBOOKS=notebooks/05_*.ipynb PARAMS=\"-p EPOCHS 5 -p DATASET digits\" (papermill parameters)"
	@echo "make student write the student release (no solutions, no outputs) to build/student/"
	@echo "make grade SUBMISSIONS=folder/   grade each learner's notebooks: build/grades/grades.csv + summary.md"
	@echo "make test    run the whole test suite (unit tests + notebooks in the smoke profile)"
	@echo "make lab     open the course in JupyterLab"
	@echo "make lint    ruff check + ruff format --check (helpers, bench, tests, notebooks); make test runs it first"
	@echo "make format  apply ruff's fixes and formatting"
	@echo "make bench   run the benchmarks, writing bench/results/latest.{md,json}"
	@echo "make tune-distributed WORKERS=2   a KerasTuner search with a chief and N local workers"
	@echo "make clean   remove build outputs; make distclean also removes .venv and data caches"

# -qq: pip's errors only (its warnings and the build backend's banners are not for a newcomer's terminal).
$(STAMP): pyproject.toml
	@echo "Installing the course into $(VENV) (first run, or after pyproject.toml changed: a few minutes)..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -qq --upgrade pip
	@$(BIN)/python -m pip install -qq -e '.[test]'
	@for e in $(NBGRADER_EXTENSIONS); do $(BIN)/jupyter server extension disable --sys-prefix nbgrader.server_extensions.$$e >/dev/null 2>&1; done
	@$(BIN)/jupyter labextension disable --level=sys_prefix @jupyter/nbgrader >/dev/null 2>&1 || true
	@touch $(STAMP)

setup: $(STAMP)
	@echo "The course is installed in $(VENV): make course, make lab, make test."

course: $(STAMP)
	@$(BIN)/python -m helpers.runner $(PARAMS) $(NOTEBOOKS)

student: $(STAMP)
	@$(BIN)/python -m helpers.coursework student

grade: $(STAMP)
	@test -n "$(SUBMISSIONS)" || { echo "Usage: make grade SUBMISSIONS=folder/ (one sub-folder per learner)"; exit 2; }
	@$(BIN)/python -m helpers.coursework grade $(SUBMISSIONS) $(GRADE_ARGS)

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
