"""Benchmarks for the batchnorm exercise: grading time, and the reference's speed against torch.

    python benchmarks/bench_batchnorm.py [--repeats N]

1. Wall time of `pytest autograder/test_batchnorm.py --solutions` in a fresh process (Python,
   torch and the worker's start included), median of N runs. Target: under 15 s on 2 cores.
2. Forward + backward in training mode on (512, 1024) and (64, 64, 32, 32) float32, against
   torch.nn.functional.batch_norm: the reference `batch_norm` (autograd through its tensor
   operations) and `BatchNormFunction` (the hand-derived `batch_norm_backward`).
   Target: within 3x of torch.
3. Wall time to execute the reference notebook top to bottom with a real Jupyter kernel.
   Target: under 60 s on 2 cores.
"""

import statistics
import time

import torch
import torch.nn.functional as F

from timing import load_reference, notebook_seconds, report_grading


def forward_backward_seconds(function, x, weight, bias, grad_out, repeats):
    def step():
        x.grad = weight.grad = bias.grad = None
        function(x, weight, bias).backward(grad_out)

    for _ in range(3):
        step()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main():
    report_grading("batchnorm", __doc__, target=" (target < 15 s)")
    print(f"execute the reference notebook: {notebook_seconds('batchnorm'):.1f} s (target < 60 s)")

    reference = load_reference("batchnorm")
    torch.manual_seed(0)
    for shape in [(512, 1024), (64, 64, 32, 32)]:
        x = torch.randn(*shape).requires_grad_()
        weight = torch.rand(shape[1]).requires_grad_()
        bias = torch.randn(shape[1]).requires_grad_()
        grad_out = torch.randn(*shape)
        channels = shape[1]
        ours = forward_backward_seconds(
            lambda x, w, b, c=channels: reference.batch_norm(x, torch.zeros(c), torch.ones(c), w, b, training=True),
            x, weight, bias, grad_out, repeats=20)
        theirs = forward_backward_seconds(
            lambda x, w, b, c=channels: F.batch_norm(x, torch.zeros(c), torch.ones(c), w, b, training=True),
            x, weight, bias, grad_out, repeats=20)
        function = forward_backward_seconds(
            lambda x, w, b: reference.BatchNormFunction.apply(x, w, b, 1e-5), x, weight, bias, grad_out, repeats=20)
        print(f"forward+backward {tuple(shape)} float32: torch {theirs * 1e3:.2f} ms; "
              f"batch_norm {ours * 1e3:.2f} ms ({ours / theirs:.2f}x); "
              f"BatchNormFunction {function * 1e3:.2f} ms ({function / theirs:.2f}x) (target <= 3x)")


if __name__ == "__main__":
    main()
