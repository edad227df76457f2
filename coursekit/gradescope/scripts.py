"""The two scripts at the root of an autograder.zip, as Gradescope runs them.

SETUP_SH: run once, as root, in /autograder/source (the unpacked zip) when the image is built. It
installs Python and bubblewrap with apt-get where missing, makes /autograder/source/.venv, installs
the CPU-only torch and torchvision builds pinned in requirements.txt (from PyTorch's CPU index,
else the default index), then the rest of requirements.txt. Pins made on a newer Python than the
image's fail there (numpy 2.3 and later need Python 3.11; Ubuntu 22.04 has 3.10): each pin is then
relaxed to `name<=version`, the newest release that installs on the image's Python, no newer than
the tested one. The kit itself is not pip-installed: run_autograder puts /autograder/source on
PYTHONPATH, so the code that grades is exactly the files in the zip, with no build step (and no
setuptools download) at image build time. The workers do not need it: their package is staged into
their sandbox by the grader.

RUN_AUTOGRADER: run per submission. It lays the upload out as the grader expects
(submission_layout.py), grades it with `pytest autograder ... --disposable-machine`, completes
results.json (finish.py) and exits 0 whatever the score: lost points are not an error.
Environment variables (for tests, or another layout): AUTOGRADER_ROOT (default /autograder),
whose source/, submission/ and results/ are used; PYTHON (default source/.venv/bin/python);
KIT_PYTEST_ARGS, extra pytest arguments (split on spaces), e.g. `-k running`.
"""

SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, in /autograder/source: installs what run_autograder needs.
set -euo pipefail
cd "$(dirname "$0")"
export DEBIAN_FRONTEND=noninteractive
CPU_INDEX=https://download.pytorch.org/whl/cpu

if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y -qq python3 python3-pip python3-venv
fi
# bubblewrap cannot run in Gradescope's containers today (the grader then picks the landlock tier),
# but it is used wherever it can run.
command -v bwrap >/dev/null || apt-get install -y -qq bubblewrap >/dev/null 2>&1 || \
  { apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null 2>&1; } || \
  echo "NOTE: bubblewrap could not be installed: grading uses the landlock tier (SECURITY.md)"

python3 --version
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
read -r -a TORCH <<< "$(grep -E '^(torch|torchvision)==' requirements.txt | tr '\n' ' ')"
.venv/bin/python -m pip install --quiet "${TORCH[@]}" --index-url "$CPU_INDEX" || {
  echo "NOTE: ${TORCH[*]} could not be installed from $CPU_INDEX: trying the default index"
  .venv/bin/python -m pip install --quiet "${TORCH[@]}"; }
# requirements.txt is pinned on the Python that built the upload. Pins that need a newer Python than
# this one (numpy 2.3 and later need 3.11; Ubuntu 22.04 has 3.10) are relaxed to the newest release
# that installs here, no newer than the pin.
.venv/bin/python -m pip install --quiet -r requirements.txt || {
  echo "NOTE: some pins of requirements.txt do not install on $(.venv/bin/python --version):" \
       "installing the newest release of each that does, no newer than its pin"
  .venv/bin/python -m pip install --quiet \
    -r <(sed -E 's/^([A-Za-z0-9._-]+(\[[^]]*\])?)==/\1<=/' requirements.txt); }
PYTHONPATH="$PWD" .venv/bin/python -c "import numpy, torch, coursekit.grading.plugin
print('torch', torch.__version__, 'numpy', numpy.__version__)"
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this per submission: grades /autograder/submission into
# /autograder/results/results.json. It exits 0 whatever the score: lost points are not an error.
set -u
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
RESULTS="$ROOT/results/results.json"
PYTHON="${PYTHON:-$SOURCE/.venv/bin/python}"
read -r -a EXTRA <<< "${KIT_PYTEST_ARGS:-}"

cd "$SOURCE" || { echo "error: no $SOURCE" >&2; exit 0; }
export PYTHONPATH="$SOURCE${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$ROOT/results"
rm -f "$RESULTS"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

"$PYTHON" -m coursekit.gradescope.submission_layout "$ROOT/submission" "$WORK/submission" \
    --notes "$WORK/notes.txt" || echo "error: the submission could not be laid out" >&2
"$PYTHON" -m pytest autograder -p no:cacheprovider --submission "$WORK/submission" \
    --results-json "$RESULTS" --disposable-machine "${EXTRA[@]}"
echo "pytest exit status: $? (lost points are not an error)"
"$PYTHON" -m coursekit.gradescope.finish "$RESULTS" --notes "$WORK/notes.txt" || \
  [ -s "$RESULTS" ] || echo '{"score": 0, "output": "The autograder failed: tell the course staff."}' > "$RESULTS"
exit 0
"""
