"""Benchmarks for the weight_decay exercise: grading time, the sweep's cost, the notebook.

    python benchmarks/bench_weight_decay.py [--repeats N]

1. Wall time of `pytest autograder/test_weight_decay.py --solutions` in a fresh process (Python,
   torch and the worker's start included), median of N runs.
2. One sweep of the grader's decay values on the notebook's 100-feature regression (EFFECT_EPOCHS
   epochs of SGD, batch 5), on one thread as the grader's worker runs it.
3. Wall time to execute the reference notebook with a real Jupyter kernel. Target: under 60 s
   on 2 cores.
"""

import sys
import time
from pathlib import Path

from timing import load_grader, load_reference, notebook_seconds, one_thread, report_grading

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from coursekit.datasets import sparse_linear_regression


def main():
    report_grading("weight_decay", __doc__)

    reference, grader = load_reference("weight_decay"), load_grader("weight_decay")
    with one_thread():
        for attempt in ("first", "second"):
            started = time.perf_counter()
            reference.sweep_weight_decay(*sparse_linear_regression(0), grader.EFFECT_DECAYS, seed=0,
                                         epochs=grader.EFFECT_EPOCHS)
            print(f"one sweep of five decays, 1 thread ({attempt} run): {time.perf_counter() - started:.2f} s")

    print(f"execute the reference notebook: {notebook_seconds('weight_decay'):.1f} s (target < 60 s)")


if __name__ == "__main__":
    main()
