"""Timings every exercise's benchmark takes: grading the reference, executing its notebook."""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from coursekit.grading.threads import one_thread  # noqa: E402,F401  (as the graders use it)

from references import load_grader, load_reference, load_scenarios  # noqa: E402,F401  (the kit's tests' loaders)


def grading_seconds(exercise_id, repeats):
    """Wall times of `pytest autograder/test_<id>.py --solutions` in a fresh process, one per run."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "pytest", f"autograder/test_{exercise_id}.py", "--solutions",
                              "-q", "-p", "no:cacheprovider"], cwd=ROOT, env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if run.returncode != 0:
            raise SystemExit(f"grading the reference {exercise_id} failed:\n{run.stdout[-2000:]}")
    return times


def report_grading(exercise_id, doc, target=""):
    """Every benchmark's start: read --repeats, print the machine, then the reference's grading time."""
    import torch

    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="grading runs (default 3)")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads")
    print(f"grade reference {exercise_id}: {describe(grading_seconds(exercise_id, args.repeats))}{target}")
    return args


def machine_speed():
    """Seconds a fixed pure-Python loop (ten million additions) takes on one core, now.

    A shared cloud machine's speed drifts by half or more over minutes, so a benchmark prints
    this beside its timings: compare two runs only at like speeds (about 0.35 s at full speed
    on the machines this kit's figures come from).
    """
    started = time.perf_counter()
    total = 0
    for number in range(10_000_000):
        total += number
    return time.perf_counter() - started


def describe(times):
    return f"median {statistics.median(times):.2f} s (runs: {', '.join(f'{t:.2f}' for t in times)})"


def notebook_seconds(exercise_id):
    """Wall time to execute solutions/<id>/<id>.ipynb top to bottom with a real Jupyter kernel."""
    import nbformat
    from nbclient import NotebookClient

    folder = ROOT / "solutions" / exercise_id
    notebook = nbformat.read(folder / f"{exercise_id}.ipynb", as_version=4)
    started = time.perf_counter()
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}).execute()
    return time.perf_counter() - started
