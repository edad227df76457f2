"""Benchmarks for the dropout exercise: grading time, the experiment's cost, the notebook.

    python benchmarks/bench_dropout.py [--repeats N]

1. Wall time of `pytest autograder/test_dropout.py --solutions` in a fresh process (Python,
   torch, scikit-learn's digits and the worker's start included), median of N runs.
2. One arm of the experiment on noisy digits, on one thread as the grader's worker runs it, after
   a one-epoch warm-up: the grader's set-up (EFFECT_SETUP: MLP 64-128-128-10, full-batch Adam,
   50 epochs, 400 validation images) and the notebook's (MLP 64-256-256-10, batch 32, 100 epochs).
3. Wall time to execute the reference notebook with a real Jupyter kernel. Target: under 60 s
   on 2 cores.
"""

import sys
import time
from pathlib import Path

from timing import load_grader, load_reference, notebook_seconds, one_thread, report_grading

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from coursekit.datasets import noisy_digits


def arm_seconds(reference, data, **setup):
    started = time.perf_counter()
    reference.compare_dropout(*data, ps=(0.5,), seed=0, **setup)
    return time.perf_counter() - started


def main():
    report_grading("dropout", __doc__)

    reference, grader = load_reference("dropout"), load_grader("dropout")
    with one_thread():
        arm_seconds(reference, noisy_digits(0), epochs=1)   # torch's first-use costs, paid before any grading
        seconds = arm_seconds(reference, grader.effect_data(0), **grader.EFFECT_SETUP)
        print(f"one arm of compare_dropout, the grader's set-up, 1 thread: {seconds:.2f} s")
        seconds = arm_seconds(reference, noisy_digits(0), epochs=100)
        print(f"one arm of compare_dropout, the notebook's set-up, 1 thread: {seconds:.2f} s")

    print(f"execute the reference notebook: {notebook_seconds('dropout'):.1f} s (target < 60 s)")


if __name__ == "__main__":
    main()
