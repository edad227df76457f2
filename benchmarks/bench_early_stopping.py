"""Benchmarks for the early_stopping exercise: grading time, the graded fit runs, the notebook.

    python benchmarks/bench_early_stopping.py [--repeats N]

1. Wall time of `pytest autograder/test_early_stopping.py --solutions` in a fresh process (Python,
   torch, scikit-learn's digits, the trusted process's first Adam step and the worker's start
   included), median of N runs.
2. The grader's two fit runs on the reference, through the scenario module as the worker runs
   them (one thread, checkpoints written to a scratch folder), after a one-epoch warm-up: "early
   stop" (MLP 64-32-10, patience 3, at most 30 epochs) and "max epochs" (dropout, 12 epochs,
   then the resume from the copy taken as epoch 11 starts).
3. Wall time to execute the reference notebook with a real Jupyter kernel. Target: under 60 s
   on 2 cores.
"""

import os
import sys
import tempfile
import time

from timing import load_grader, load_reference, load_scenarios, notebook_seconds, one_thread, report_grading


def run_seconds(scenarios, reference, setup, **options):
    started = time.perf_counter()
    scenarios.fit_run(reference, setup, **options)
    return time.perf_counter() - started


def main():
    report_grading("early_stopping", __doc__)

    reference, grader = load_reference("early_stopping"), load_grader("early_stopping")
    scenarios = load_scenarios("early_stopping")
    early = grader.fit_setup(grader.EARLY_STOP_SEED, grader.EARLY_STOP)
    late = grader.fit_setup(grader.MAX_EPOCHS_SEED, grader.MAX_EPOCHS)
    interruption = {"interrupt_after": grader.INTERRUPT_AFTER_EPOCHS * grader.batches_per_epoch(late),
                    "resume_state": grader.probe_state(grader.MAX_EPOCHS_SEED + 100), "resume_rng_seed": 12345}
    with one_thread(), tempfile.TemporaryDirectory() as scratch:
        previous = os.getcwd()
        os.chdir(scratch)
        try:
            run_seconds(scenarios, reference, {**early, "max_epochs": 1})      # torch's first-use costs
            print(f"the grader's 'early stop' run, 1 thread: {run_seconds(scenarios, reference, early):.2f} s")
            print(f"the grader's 'max epochs' run and its resume, 1 thread: "
                  f"{run_seconds(scenarios, reference, late, **interruption):.2f} s")
        finally:
            os.chdir(previous)

    print(f"execute the reference notebook: {notebook_seconds('early_stopping'):.1f} s (target < 60 s)")


if __name__ == "__main__":
    sys.exit(main())
