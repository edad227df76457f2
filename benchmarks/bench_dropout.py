"""Benchmarks for the dropout exercise: grading time, the experiment's cost, the notebook.

    python benchmarks/bench_dropout.py [--repeats N]

1. Wall time of `pytest autograder/test_dropout.py --solutions` in a fresh process (Python,
   torch, scikit-learn's digits and the worker's start included), median of N runs.
2. One arm of the experiment (MLP 64-256-256-10 on noisy digits, Adam, batch 32), on one thread
   as the grader's worker runs it, after a one-epoch warm-up: at the grader's 60 epochs and at
   the notebook's 100.
3. Wall time to execute the reference notebook with a real Jupyter kernel. Target: under 60 s
   on 2 cores.
"""

import sys
import time
from pathlib import Path

from timing import load_reference, notebook_seconds, one_thread, report_grading

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from coursekit.datasets import noisy_digits  # noqa: E402


def arm_seconds(reference, epochs):
    train, val = noisy_digits(0)
    started = time.perf_counter()
    reference.compare_dropout(train, val, ps=(0.5,), epochs=epochs, seed=0)
    return time.perf_counter() - started


def main():
    report_grading("dropout", __doc__)

    reference = load_reference("dropout")
    with one_thread():
        arm_seconds(reference, 1)       # torch's first-use costs, which the grader's worker pays at start
        for epochs in (60, 100):
            print(f"one arm of compare_dropout, {epochs} epochs, 1 thread: {arm_seconds(reference, epochs):.2f} s")

    print(f"execute the reference notebook: {notebook_seconds('dropout'):.1f} s (target < 60 s)")


if __name__ == "__main__":
    main()
