"""A student's wait on Gradescope: one exercise graded cold, beside the floor `python -c "import torch"`.

On Gradescope every submission starts cold: a fresh Python, torch loaded, the sandbox started. This
times, in fresh processes, alternating so that a drift of the machine's speed hits both alike:
    floor   python -c "import torch"
    grade   python -m pytest autograder/test_<id>.py --solutions   (what run_autograder runs)
on all cores and on one core (`taskset -c 0`, as on a small Gradescope container), and prints
medians, the ratio grade/floor, and one run's timeline (when the graders were collected, the
first test ended, the last test ended, and the process exited).

    python benchmarks/bench_cold_start.py [ID ...] [--repeats 5] [--no-one-core] [--docker-like]

--docker-like runs both inside tests/docker_like.py (as root): Docker's default capabilities and
seccomp profile, where bubblewrap cannot run, so the kit grades in the landlock tier, as on Gradescope.

Targets (issue "Gradescope: one command builds the autograder upload"): one exercise on the
reference <= 6 s wall on 2 cores and <= 10 s on one core.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from timing import machine_speed  # noqa: E402

TIMELINE_PLUGIN = '''
import os, sys, time
STARTED = float(os.environ["KIT_BENCH_STARTED"])
def _mark(what):
    print(f"[timeline] {what} {time.time() - STARTED:.2f}", file=sys.stderr, flush=True)
def pytest_collection_finish(session):
    _mark("graders collected")
def pytest_runtest_logfinish(nodeid, location):
    _mark("test ended")
def pytest_unconfigure(config):
    _mark("results written")
'''


def _command(exercise_id):
    return [sys.executable, "-m", "pytest", f"autograder/test_{exercise_id}.py", "--solutions", "-q",
            "-p", "no:cacheprovider"]


DOCKER_LIKE = []      # set by --docker-like: the prefix that confines a command as Docker does


def _timed(command, one_core, env=None):
    prefix = (["taskset", "-c", "0"] if one_core else []) + DOCKER_LIKE
    started = time.perf_counter()
    run = subprocess.run(prefix + command, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
    return seconds


def timeline(exercise_id):
    """One grading run's milestones, in seconds from its start (a plugin marks them)."""
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "kit_bench_timeline.py").write_text(TIMELINE_PLUGIN)
        env = {**os.environ, "PYTHONPATH": f"{ROOT}:{folder}", "KIT_BENCH_STARTED": repr(time.time())}
        started = time.perf_counter()
        run = subprocess.run(DOCKER_LIKE + _command(exercise_id) + ["-p", "kit_bench_timeline"], cwd=ROOT, env=env,
                             capture_output=True, text=True)
        exited = time.perf_counter() - started
    marks = [line.split()[1:] for line in run.stderr.splitlines() if line.startswith("[timeline]")]
    tests = [float(mark[-1]) for mark in marks if mark[0] == "test"]
    named = {" ".join(mark[:-1]): float(mark[-1]) for mark in marks if mark[0] != "test"}
    return {"graders collected": named.get("graders collected"), "first test ended": tests[0] if tests else None,
            "last test ended": tests[-1] if tests else None, "results written": named.get("results written"),
            "process exited": exited}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("exercises", nargs="*", default=["batchnorm", "dropout"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-one-core", action="store_true", help="skip the runs on one core")
    parser.add_argument("--docker-like", action="store_true",
                        help="confine both as Docker does (as root): the landlock tier, as on Gradescope")
    args = parser.parse_args()
    if args.docker_like:
        DOCKER_LIKE[:] = [sys.executable, str(ROOT / "tests" / "docker_like.py"), "--"]
    one_core_modes = [False] if args.no_one_core or not shutil.which("taskset") else [False, True]
    confined = ", confined as Docker does" if args.docker_like else ""
    print(f"{os.cpu_count()} cores{confined}; machine speed {machine_speed():.2f} s (timing.machine_speed)")
    floor = [sys.executable, "-c", "import torch"]
    for one_core in one_core_modes:
        where = "one core (taskset -c 0)" if one_core else f"{os.cpu_count()} cores"
        for exercise_id in args.exercises:
            floors, grades = [], []
            for _ in range(args.repeats):
                floors.append(_timed(floor, one_core))
                grades.append(_timed(_command(exercise_id), one_core))
            floor_median, grade_median = statistics.median(floors), statistics.median(grades)
            print(f"{where}, {exercise_id}: grade median {grade_median:.2f} s "
                  f"(runs {', '.join(f'{t:.2f}' for t in grades)}); floor median {floor_median:.2f} s; "
                  f"ratio {grade_median / floor_median:.2f}")
    for exercise_id in args.exercises:
        marks = timeline(exercise_id)
        print(f"timeline of one run, {exercise_id}: "
              + "; ".join(f"{name} {value:.2f} s" for name, value in marks.items() if value is not None))
    print(f"machine speed at the end {machine_speed():.2f} s")


if __name__ == "__main__":
    main()
