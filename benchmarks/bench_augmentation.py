"""Benchmarks for the augmentation exercise: grading time, the statistical scenarios, the notebook.

    python benchmarks/bench_augmentation.py [--repeats N]

1. Wall time of `pytest autograder/test_augmentation.py --solutions` in a fresh process (Python,
   torch, torchvision's transforms, scikit-learn's photos and digits and the worker's start
   included), median of N runs.
2. The graders' largest scenarios on the reference, through the scenario module as the worker
   runs them (one thread), after a warm-up: 1,000 Cutout calls (the law of the hole centres),
   1,000 mixup calls (the law of lam for one alpha) and 60 cutmix calls on six photos.
3. Wall time to execute the reference notebook with a real Jupyter kernel. Target: under 60 s
   on 2 cores.
"""

import time

import torch

from timing import load_grader, load_reference, load_scenarios, notebook_seconds, one_thread, report_grading


def seconds(function, *args, **kwargs):
    started = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - started


def main():
    report_grading("augmentation", __doc__)

    reference, grader = load_reference("augmentation"), load_grader("augmentation")
    scenarios = load_scenarios("augmentation")
    photo = grader.photos(1, 5, 12, 20)[0, :1]
    one_hot = torch.eye(8).reshape(8, 1, 2, 4)
    boxes = grader.cutmix_inputs(6, seed=21)
    with one_thread():
        scenarios.cutout_calls(reference, photo, 5, 10, 0, fill=grader.FILL)          # first-use costs
        scenarios.mix_calls(reference, "mixup", one_hot, torch.arange(8), [0] * 10, alpha=0.2, num_classes=8)
        timed = {
            "1,000 Cutout calls (1, 12, 20)": seconds(scenarios.cutout_calls, reference, photo, 5, 1000, 0,
                                                      fill=grader.FILL),
            "1,000 mixup calls (8, 1, 2, 4), alpha 0.2": seconds(
                scenarios.mix_calls, reference, "mixup", one_hot, torch.arange(8), [0] + [None] * 999,
                alpha=0.2, num_classes=8),
            "60 cutmix calls (6, 3, 24, 40)": seconds(scenarios.mix_calls, reference, "cutmix", boxes,
                                                      torch.arange(6), list(range(60)), alpha=1.0, num_classes=6),
        }
    for name, value in timed.items():
        print(f"{name}, 1 thread: {value:.3f} s")

    print(f"execute the reference notebook: {notebook_seconds('augmentation'):.1f} s (target < 60 s)")


if __name__ == "__main__":
    main()
