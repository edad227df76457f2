# The kit's two commands (see README.md):
#   make grade   set up, then grade a submission (default: the reference solutions) -> results.json
#   make test    set up, then run every test of the kit
# Other targets: make setup, make release, make bench, make clean.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUBMISSION ?=
RESULTS ?= results.json
TEST_WORKERS ?= auto

ifeq ($(SUBMISSION),)
GRADE_TARGET := --solutions
else
GRADE_TARGET := --submission $(SUBMISSION)
endif

.PHONY: setup grade test release bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

setup: $(VENV)/.installed

grade: setup
	$(BIN)/python -m pytest autograder $(GRADE_TARGET) --results-json $(RESULTS)

test: setup
	$(BIN)/python -m pytest tests -n $(TEST_WORKERS) --durations=20

release: setup
	$(BIN)/python -m coursekit release

bench: setup
	$(BIN)/python benchmarks/bench_batchnorm.py
	$(BIN)/python benchmarks/bench_dropout.py
	$(BIN)/python benchmarks/bench_weight_decay.py

clean:
	rm -rf build $(RESULTS)
