# The kit's two commands (see README.md):
#   make grade   set up, then grade a submission (default: the reference solutions) -> results.json
#   make test    set up, then lint (ruff) and run every test of the kit
# Other targets: make setup, make release, make bench, make clean, and make docker-check (grade in a
# real Docker container as Gradescope does: the landlock tier, the reference and the red-team suite),
# and make gradescope-docker-check [EXERCISE=batchnorm] (build an autograder.zip's image as Gradescope
# does, from a fresh Ubuntu 22.04 root, and grade the reference, the stub and broken uploads in it).
# make report-check grades a generated class and opens its report.html in headless Chromium (offline,
# every plot drawn; installs Debian's chromium where it can); make mistake-signatures grades every
# catalogued mistake again and writes autograder/mistake_signatures.json, which the report's diagnosis reads.
# make setup TORCH=cpu installs PyTorch's CPU-only build (on a fresh checkout, or after rm -rf .venv).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUBMISSION ?=
EXERCISE ?=     # make grade EXERCISE=dropout grades that exercise alone
RESULTS ?= results.json
TEST_WORKERS ?= auto
# TORCH=cpu: install PyTorch's CPU-only build (a small fraction of the default CUDA build's size)
TORCH ?=
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu

ifeq ($(SUBMISSION),)
GRADE_TARGET := --solutions
else
GRADE_TARGET := --submission $(SUBMISSION)
endif

.PHONY: setup sandbox grade test release gradescope bench clean docker-check gradescope-docker-check \
        report-check mistake-signatures

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
ifeq ($(TORCH),cpu)
	$(BIN)/python -m pip install --quiet torch torchvision --index-url $(TORCH_CPU_INDEX) || { \
	  echo "ERROR: PyTorch's CPU-only build could not be installed from $(TORCH_CPU_INDEX) (is it reachable?)."; \
	  echo "       Run 'rm -rf $(VENV)' and then 'make setup' without TORCH=cpu to install the default build."; \
	  exit 1; }
endif
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@
	@echo "Set-up done. Activate the environment in each new terminal: source $(VENV)/bin/activate"

setup: sandbox $(VENV)/.installed

# bubblewrap confines student code (SECURITY.md); installed here where this user can.
sandbox:
	@command -v bwrap >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get install -y -qq bubblewrap >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq bubblewrap >/dev/null 2>&1; } || \
	    echo "WARNING: could not install bubblewrap: grading will run without the sandbox"; \
	  else \
	    echo "NOTE for instructors (students can ignore this): bubblewrap (bwrap) is not installed, so grading" \
	         "runs student code without the sandbox until it is (Debian/Ubuntu: sudo apt-get install bubblewrap)"; \
	  fi; }

grade: setup
	$(BIN)/python -m pytest autograder $(GRADE_TARGET) $(addprefix --exercise ,$(EXERCISE)) --results-json $(RESULTS)

test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest tests -n $(TEST_WORKERS) --durations=20

release: setup
	$(BIN)/python -m coursekit release

# Gradescope's autograder.zip per exercise: make gradescope GRADESCOPE_ARGS="--memory 6144 --timeout 900"
# (the container's memory and timeout set on Gradescope; python -m coursekit gradescope --help)
GRADESCOPE_ARGS ?=
REPORT_CHECK_ARGS ?=     # e.g. --readme-image docs/class-report.png
gradescope: setup
	$(BIN)/python -m coursekit gradescope --out build/gradescope $(GRADESCOPE_ARGS)

bench: setup
	$(BIN)/python benchmarks/bench_batchnorm.py
	$(BIN)/python benchmarks/bench_dropout.py
	$(BIN)/python benchmarks/bench_weight_decay.py
	$(BIN)/python benchmarks/bench_early_stopping.py
	$(BIN)/python benchmarks/bench_augmentation.py
	$(BIN)/python benchmarks/bench_grade_class.py

docker-check: setup
	bash tests/docker/check.sh

gradescope-docker-check: setup
	bash tests/docker/gradescope_image.sh $(or $(strip $(EXERCISE)),batchnorm)

report-check: setup
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get install -y -qq chromium >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; } || \
	    { echo "ERROR: could not install chromium"; exit 1; }; \
	  else echo "ERROR: install Chromium first (Debian/Ubuntu: sudo apt-get install chromium)"; exit 1; fi; }
	$(BIN)/python tests/report_check.py $(REPORT_CHECK_ARGS)

mistake-signatures: setup
	$(BIN)/python tests/mistake_signatures.py

clean:
	rm -rf build $(RESULTS)
