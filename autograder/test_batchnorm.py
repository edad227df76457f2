"""Hidden graders for the batchnorm exercise.

Every expected value comes from PyTorch itself (computed here, in the trusted process) or from a
hand-checked fixture (shared/FACTS.md); student code runs only in the worker, via scenarios.

Each test grades one task. Tests of BatchNormFunction run it with a known-good batch_norm and
batch_norm_backward, tests of BatchNorm1d/2d with a known-good batch_norm, and tests of
MLPWithBatchNorm with a known-good BatchNorm1d (autograder/scenarios/batchnorm.py), so a mistake
costs the points of the task it is in, once.

Nothing here is random: every input is fixed by its seed and every expected value is PyTorch's,
so no test can fail a correct submission by chance (probability 0). Rounding does not decide either:
on every check, the reference and each correct variant in tests/mutants/batchnorm.yml stay below
0.08 of the tolerance (error / (atol + rtol * |expected|); 0.14 on the worked examples, whose
printed digits are rounded), while the closest catalogued mistake exceeds it 8.7 times (the
unbiased variance in the normalisation, on n = 560 values per channel).
"""

import torch
import torch.nn.functional as F
from torch import nn

from coursekit.grading.api import (
    Mismatch,
    Tolerance,
    exercise,
    expect,
    expect_close,
    expect_equal,
    expect_raised,
    expect_tensor,
    per_channel_data,
    points,
    seeded_randn,
    shape_text,
)

pytestmark = exercise("batchnorm")

SHAPES = {"2-D": (16, 8), "3-D": (8, 5, 7), "4-D": (16, 8, 5, 7), "5-D": (4, 3, 3, 4, 5)}   # H != W
# The worked examples are printed to 5-6 significant digits: the printed values are within 5e-6 of
# the exact ones (checked in float64), so 2e-5 leaves a margin of 4 for float32 rounding.
FIXTURE_TOLERANCE = Tolerance(atol=2e-5, rtol=1e-5)
KNOWN_GOOD_BATCH_NORM = "this test runs your module with a correct batch_norm in place of yours"


def on(x):
    return f"a {shape_text(x.shape)} {str(x.dtype).replace('torch.', '')} input"


def affine_params(channels, seed, dtype=torch.float32):
    return (1.0 + 0.5 * seeded_randn(channels, seed=seed, dtype=dtype),
            seeded_randn(channels, seed=seed + 1, dtype=dtype))


def torch_batch_norm(x, weight=None, bias=None, training=True, momentum=0.1, eps=1e-5, stats=None):
    """PyTorch's output and running statistics after one call (fresh zeros/ones stats by default)."""
    channels = x.shape[1]
    running_mean, running_var = stats or (torch.zeros(channels, dtype=x.dtype), torch.ones(channels, dtype=x.dtype))
    running_mean, running_var = running_mean.clone(), running_var.clone()
    out = F.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)
    return out, running_mean, running_var


def fresh_stats(channels, dtype=torch.float32):
    return torch.zeros(channels, dtype=dtype), torch.ones(channels, dtype=dtype)


# --- batch_norm: the forward pass -------------------------------------------------------------

TRAINING_HINT = ("normalise each channel (dim 1) with the mean and the biased variance (divide by n) "
                 "taken over every other dim, eps inside the square root")


def check_training_output(student, shape):
    x = per_channel_data(*shape, seed=11)
    got = student.run("batch_norm", x, *fresh_stats(shape[1]), training=True)
    want, _, _ = torch_batch_norm(x)
    expect_close(got.out, want, "training output", on=on(x), hint=TRAINING_HINT)


@points(2, task="batch_norm")
def test_training_output_2d(student):
    """Training-mode output on (N, C) input matches PyTorch."""
    check_training_output(student, SHAPES["2-D"])


@points(2, task="batch_norm")
def test_training_output_3d(student):
    """Training-mode output on (N, C, L) input matches PyTorch (statistics over N and L)."""
    check_training_output(student, SHAPES["3-D"])


@points(2, task="batch_norm")
def test_training_output_4d(student):
    """Training-mode output on (N, C, H, W) input with H != W, and on 5-D input ((N, C, *) is any rank), matches
    PyTorch."""
    check_training_output(student, SHAPES["4-D"])
    check_training_output(student, SHAPES["5-D"])


@points(1, task="batch_norm")
def test_float64_output(student):
    """Training-mode output on float64 (N, C, H, W) input matches PyTorch to float64 precision, and stays float64."""
    x = per_channel_data(*SHAPES["4-D"], seed=12, dtype=torch.float64)
    got = student.run("batch_norm", x, *fresh_stats(x.shape[1], torch.float64), training=True)
    want, _, _ = torch_batch_norm(x)
    expect_close(got.out, want, "float64 training output", on=on(x),
                 hint="the output must be right to ~1e-10: create no float32 tensors along the way "
                      "(torch.zeros(C) is float32), let every value follow x's dtype")


@points(2, task="batch_norm")
def test_affine_weight_and_bias(student):
    """weight (gamma) scales and bias (beta) shifts each channel after normalisation; either may be None."""
    x = per_channel_data(*SHAPES["3-D"], seed=13)
    weight, bias = affine_params(x.shape[1], seed=14)
    hint = "out = weight * x_hat + bias, with weight and bias reshaped to (1, C, 1, ...); either may be None"
    for name, w, b in (("weight and bias", weight, bias), ("weight only", weight, None), ("bias only", None, bias)):
        got = student.run("batch_norm", x, *fresh_stats(x.shape[1]), w, b, training=True)
        expect_close(got.out, torch_batch_norm(x, w, b)[0], f"output with {name}", on=on(x), hint=hint)


@points(2, task="batch_norm")
def test_running_mean_update(student):
    """running_mean becomes (1 - momentum) * running_mean + momentum * batch mean, in place."""
    x = per_channel_data(*SHAPES["4-D"], seed=15)
    start_mean, start_var = seeded_randn(8, seed=16), 1.0 + seeded_randn(8, seed=17).abs()
    got = student.run("batch_norm", x, start_mean, start_var, training=True, momentum=0.3)
    _, want_mean, _ = torch_batch_norm(x, momentum=0.3, stats=(start_mean, start_var))
    expect_close(got.running_mean, want_mean, "running_mean after one training call", on=on(x),
                 hint="the batch mean is per channel, over every dim but 1; momentum weighs the new "
                      "batch statistic; and the caller's tensor must change in place (mul_, add_), "
                      "not be rebound to a new one")


@points(3, task="batch_norm")
def test_running_var_uses_unbiased_variance(student):
    """running_var is updated in place with the unbiased batch variance (divide by n - 1)."""
    x = per_channel_data(*SHAPES["3-D"], seed=18)
    got = student.run("batch_norm", x, *fresh_stats(x.shape[1]), training=True, momentum=0.3)
    _, _, want_var = torch_batch_norm(x, momentum=0.3)
    expect_close(got.running_var, want_var, "running_var after one training call", on=on(x),
                 hint="running_var stores the unbiased variance (divide by n - 1, n = values per "
                      "channel, N * L here), weighted by momentum and updated in place; the "
                      "normalisation itself uses the biased one")


@points(2, task="batch_norm")
def test_eval_uses_running_statistics(student):
    """In eval mode the output uses running_mean and running_var (then eps, weight, bias), unchanged."""
    x = per_channel_data(*SHAPES["4-D"], seed=19)
    stats = (seeded_randn(8, seed=20), 0.5 + seeded_randn(8, seed=21).abs())
    weight, bias = affine_params(8, seed=22)
    got = student.run("batch_norm", x, stats[0].clone(), stats[1].clone(), weight, bias, training=False, eps=0.1)
    want, _, _ = torch_batch_norm(x, weight, bias, training=False, eps=0.1, stats=stats)
    expect_close(got.out, want, "eval output with eps = 0.1", on=on(x),
                 hint="with training=False, normalise with running_mean and running_var, not the "
                      "batch's statistics, with eps inside the square root, then apply weight and "
                      "bias as in training")
    for name, before in (("running_mean", stats[0]), ("running_var", stats[1])):
        expect_equal(got[name], before, f"{name} after an eval call",
                     hint="eval mode must not change the running statistics, not even in place")


@points(2, task="batch_norm")
def test_eps_inside_square_root(student):
    """eps is added to the variance inside the square root: 1 / sqrt(var + eps)."""
    x = 0.3 * seeded_randn(*SHAPES["2-D"], seed=22)
    got = student.run("batch_norm", x, *fresh_stats(x.shape[1]), training=True, eps=0.1)
    want, _, _ = torch_batch_norm(x, eps=0.1)
    expect_close(got.out, want, "training output with eps = 0.1", on=on(x),
                 hint="eps is the one given, and goes under the root: (x - mean) / sqrt(var + eps)")


@points(2, task="batch_norm")
def test_hand_computed_example(student):
    """The worked example: x = [[1, 2], [3, 6], [5, 10]] through fresh statistics, then in eval."""
    x = torch.tensor([[1.0, 2.0], [3.0, 6.0], [5.0, 10.0]])
    got = student.run("batch_norm", x, *fresh_stats(2), training=True)
    expect_close(got.out, torch.tensor([[-1.22474, -1.22474], [0.0, 0.0], [1.22474, 1.22474]]),
                 "training output of the worked example", hint="each column has mean 3 or 6 and "
                 "biased variance 8/3 or 32/3", tolerance=FIXTURE_TOLERANCE)
    expect_close(got.running_mean, torch.tensor([0.3, 0.6]), "running_mean of the worked example",
                 hint="0.9 * 0 + 0.1 * 3 (the batch mean) = 0.3, updated in place",
                 tolerance=FIXTURE_TOLERANCE)
    expect_close(got.running_var, torch.tensor([1.3, 2.5]), "running_var of the worked example",
                 hint="0.9 * 1 + 0.1 * 4 (the unbiased variance of 1, 3, 5) = 1.3, updated in place",
                 tolerance=FIXTURE_TOLERANCE)
    evaluated = student.run("batch_norm", x, got.running_mean, got.running_var, training=False)
    expect_close(evaluated.out[:, 0], torch.tensor([0.61394, 2.36805, 4.12216]),
                 "eval output of the worked example (column 0)", tolerance=FIXTURE_TOLERANCE,
                 hint="in eval, normalise with the running statistics: (x - 0.3) / sqrt(1.3 + eps)")


@points(2, task="batch_norm")
def test_successive_training_calls(student):
    """Four successive training calls accumulate the running statistics as PyTorch does."""
    xs = [per_channel_data(*SHAPES["3-D"], seed=30 + i) * (i + 1) for i in range(4)]
    got = student.run("batch_norm_repeated", xs, *fresh_stats(5), training=True, momentum=0.2)
    stats = fresh_stats(5)
    for i, x in enumerate(xs):
        want, *stats = torch_batch_norm(x, momentum=0.2, stats=stats)
        expect_close(got.outs[i], want, f"output of training call {i + 1}", on=on(x),
                     hint="each training call normalises with its own batch's statistics")
    hint = ("each call updates the same running tensors in place: (1 - momentum) * running + "
            "momentum * batch statistic, the unbiased variance (n = N * L) for running_var")
    expect_close(got.running_mean, stats[0], "running_mean after four training calls", hint=hint)
    expect_close(got.running_var, stats[1], "running_var after four training calls", hint=hint)


@points(1, task="batch_norm")
def test_training_without_running_statistics(student):
    """With running_mean = running_var = None, training mode normalises with the batch statistics."""
    x = per_channel_data(*SHAPES["4-D"], seed=23)
    got = student.run("batch_norm", x, None, None, training=True)
    want = F.batch_norm(x, None, None, training=True)
    expect_close(got.out, want, "training output without running statistics", on=on(x),
                 hint="only update the running statistics when they are given (not None)")


@points(1, task="batch_norm")
def test_one_value_per_channel_raises(student):
    """Training on one value per channel raises ValueError; (2, C) and (1, C, L > 1) input are fine."""
    error = student.raises("batch_norm", torch.ones(1, 4), *fresh_stats(4), training=True)
    expect_raised(error, ValueError, "training on a (1, 4) input",
                  hint="keep the given check that rejects n <= 1 values per channel")
    for x in (per_channel_data(2, 4, seed=31), per_channel_data(1, 4, 3, seed=32)):
        got = student.run("batch_norm", x, *fresh_stats(4), training=True)
        expect_close(got.out, torch_batch_norm(x)[0], "training output", on=on(x),
                     hint="n counts every value of a channel: N times the sizes of all dims after 1")


@points(1, task="batch_norm")
def test_input_not_modified(student):
    """batch_norm leaves its input x unchanged in training and in eval mode, and returns PyTorch's output."""
    x = per_channel_data(*SHAPES["4-D"], seed=24)
    weight, bias = affine_params(8, seed=25)
    eval_stats = (seeded_randn(8, seed=26), 0.5 + seeded_randn(8, seed=27).abs())
    for mode, stats in (("training", fresh_stats(8)), ("eval", eval_stats)):
        got = student.run("batch_norm", x, stats[0].clone(), stats[1].clone(), weight, bias,
                          training=mode == "training")
        expect(got.x_unchanged, f"x was modified in place by batch_norm in {mode} mode",
               hint="build new tensors (x - mean) instead of in-place ops on x (x -= mean)")
        want, _, _ = torch_batch_norm(x, weight, bias, training=mode == "training", stats=stats)
        expect_close(got.out, want, f"{mode} output", on=on(x),
                     hint="this point is for leaving x unchanged while computing the right output: "
                          "the output is wrong")


@points(2, task="batch_norm")
def test_autograd_gradients(student):
    """Autograd through batch_norm gives PyTorch's gradients for x, weight and bias."""
    x = per_channel_data(*SHAPES["3-D"], seed=26)
    weight, bias = affine_params(5, seed=27)
    grad_out = seeded_randn(*x.shape, seed=28)
    got = student.run("batch_norm_gradients", x, weight, bias, grad_out)
    want = torch_gradients(x, weight, bias, grad_out)
    for name in ("grad_x", "grad_weight", "grad_bias"):
        expect_close(got[name], want[name], f"autograd {name}", on=on(x),
                     hint="use differentiable tensor operations only, and keep the batch mean and "
                          "variance in the graph (no .detach(), .item(), .numpy() or .data on them); "
                          "weight and bias must enter the output")


@points(1, task="batch_norm")
def test_running_statistics_have_no_history(student):
    """A training call with x requiring grad updates the running statistics and records no autograd history."""
    x = per_channel_data(*SHAPES["2-D"], seed=29)
    weight, bias = affine_params(8, seed=30)
    got = student.run("batch_norm_gradients", x, weight, bias, torch.ones(*x.shape), *fresh_stats(8))
    _, want_mean, want_var = torch_batch_norm(x)
    hint = "update the caller's running_mean and running_var in place, as without autograd"
    expect_close(got.running_mean, want_mean, "running_mean after a training call on x that requires grad",
                 on=on(x), hint=hint)
    expect_close(got.running_var, want_var, "running_var after a training call on x that requires grad",
                 on=on(x), hint=hint)
    expect(not got.running_stats_have_history,
           "running_mean or running_var requires grad after a training call",
           hint="update them under torch.no_grad(), or from detached batch statistics")


def torch_gradients(x, weight, bias, grad_out, eps=1e-5):
    x, weight, bias = (t.clone().requires_grad_() for t in (x, weight, bias))
    F.batch_norm(x, None, None, weight, bias, training=True, eps=eps).backward(grad_out)
    return {"grad_x": x.grad, "grad_weight": weight.grad, "grad_bias": bias.grad}


# --- batch_norm_backward: gradients by hand ---------------------------------------------------

BACKWARD_HINT = ("x reaches the output directly, through the batch mean and through the batch "
                 "variance: grad_x needs all three paths, with g = grad_out * weight and n = the "
                 "number of values per channel; grad_weight = sum(grad_out * x_hat), "
                 "grad_bias = sum(grad_out), per channel")


def check_backward(student, shape, seed, dtype=torch.float32, eps=1e-5, hint=BACKWARD_HINT):
    x = per_channel_data(*shape, seed=seed, dtype=dtype)
    weight, _ = affine_params(shape[1], seed=seed + 1, dtype=dtype)
    bias = torch.zeros(shape[1], dtype=dtype)
    grad_out = seeded_randn(*shape, seed=seed + 2, dtype=dtype)
    got = student.run("batch_norm_backward", grad_out, x, weight, eps)
    want = torch_gradients(x, weight, bias, grad_out, eps)
    for name in ("grad_x", "grad_weight", "grad_bias"):
        expect_close(got[name], want[name], name, on=on(x), hint=hint)


@points(3, task="batch_norm_backward")
def test_backward_2d(student):
    """batch_norm_backward on (N, C) input gives PyTorch's gradients for x, weight and bias."""
    check_backward(student, SHAPES["2-D"], seed=40)


@points(3, task="batch_norm_backward")
def test_backward_4d_float64(student):
    """batch_norm_backward on (N, C, H, W) float64 input, H != W, with eps = 0.1, gives PyTorch's gradients."""
    check_backward(student, SHAPES["4-D"], seed=43, dtype=torch.float64, eps=0.1,
                   hint=BACKWARD_HINT + "; here n = N * H * W, eps is the one given, and float64 "
                        "must stay float64")


@points(2, task="batch_norm_backward")
def test_backward_hand_computed_example(student):
    """The worked example's gradients: x = [[1, 2], [3, 6], [5, 10]], grad_out = [[1, 0], [0, 0], [0, 2]]."""
    x = torch.tensor([[1.0, 2.0], [3.0, 6.0], [5.0, 10.0]])
    grad_out = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 2.0]])
    got = student.run("batch_norm_backward", grad_out, x, torch.ones(2), 1e-5)
    expect_close(got.grad_x[:, 0], torch.tensor([0.102063, -0.204124, 0.102061]),
                 "grad_x (column 0) of the worked example", tolerance=FIXTURE_TOLERANCE,
                 hint="n = 3 values per channel here; grad_x needs the direct path and the paths "
                      "through the batch mean and the batch variance")
    expect_close(got.grad_weight, torch.tensor([-1.22474, 2.44949]), "grad_weight of the worked example",
                 hint="grad_weight = sum of grad_out * x_hat per channel", tolerance=FIXTURE_TOLERANCE)
    expect_close(got.grad_bias, torch.tensor([1.0, 2.0]), "grad_bias of the worked example",
                 hint="grad_bias = sum of grad_out per channel", tolerance=FIXTURE_TOLERANCE)


@points(2, task="batch_norm_backward")
def test_backward_without_weight(student):
    """Without a weight, grad_x is that of weight = 1, and grad_weight and grad_bias are None."""
    x = per_channel_data(*SHAPES["3-D"], seed=46)
    grad_out = seeded_randn(*x.shape, seed=47)
    got = student.run("batch_norm_backward", grad_out, x, None, 1e-5)
    want = torch_gradients(x, torch.ones(5), torch.zeros(5), grad_out)
    expect_close(got.grad_x, want["grad_x"], "grad_x without weight", on=on(x),
                 hint="without a weight, g = grad_out: grad_x still needs the direct path and the "
                      "paths through the batch mean and the batch variance")
    expect(got.grad_weight is None and got.grad_bias is None,
           "grad_weight and grad_bias should be None when weight is None")


# --- BatchNormFunction, run with a known-good batch_norm and batch_norm_backward ----------------

KNOWN_GOOD_FUNCTIONS = "this test runs your Function with a correct batch_norm and batch_norm_backward"


@points(2, task="BatchNormFunction")
def test_function_forward(student):
    """BatchNormFunction.apply(x, weight, bias, eps) returns the training-mode output, eps included."""
    x = 0.3 * per_channel_data(*SHAPES["4-D"], seed=50)
    weight, bias = affine_params(8, seed=51)
    got = student.run("function_forward", x, weight, bias, 0.1)
    want, _, _ = torch_batch_norm(x, weight, bias, eps=0.1)
    expect_close(got.out, want, "BatchNormFunction output with eps = 0.1", on=on(x),
                 hint="forward returns batch_norm(x, None, None, weight, bias, training=True, eps=eps): "
                      "check the arguments, in that order (" + KNOWN_GOOD_FUNCTIONS + ")")


@points(1, task="BatchNormFunction")
def test_function_with_weight_but_no_bias(student):
    """With bias=None, BatchNormFunction still backpropagates to x and weight (None for bias)."""
    x = per_channel_data(*SHAPES["3-D"], seed=54)
    weight, _ = affine_params(5, seed=55)
    grad_out = seeded_randn(*x.shape, seed=56)
    got = student.run("function_gradients", x, weight, None, grad_out, 1e-5)
    want = torch_gradients(x, weight, torch.zeros(5), grad_out)
    for name in ("grad_x", "grad_weight"):
        expect_close(got[name], want[name], f"{name} with bias=None", on=on(x),
                     hint="return None for an input that needs no gradient (ctx.needs_input_grad), "
                          "and pass the saved weight to batch_norm_backward (" + KNOWN_GOOD_FUNCTIONS + ")")


@points(1, task="BatchNormFunction")
def test_function_without_weight_or_bias(student):
    """With weight=None and bias=None, BatchNormFunction normalises and backpropagates to x."""
    x = per_channel_data(*SHAPES["3-D"], seed=57)
    grad_out = seeded_randn(*x.shape, seed=58)
    got = student.run("function_gradients", x, None, None, grad_out, 1e-5)
    hint = ("weight and bias may both be None: save and pass them on as they are ("
            + KNOWN_GOOD_FUNCTIONS + ")")
    expect_close(got.out, torch_batch_norm(x)[0], "output with weight=None and bias=None", on=on(x), hint=hint)
    want = torch_gradients(x, torch.ones(5), torch.zeros(5), grad_out)
    expect_close(got.grad_x, want["grad_x"], "grad_x with weight=None and bias=None", on=on(x), hint=hint)


@points(2, task="BatchNormFunction")
def test_function_jacobians_float64(student):
    """In float64 with eps = 0.1, BatchNormFunction's Jacobians match PyTorch's (a gradcheck against the oracle)."""
    x = per_channel_data(4, 3, 2, seed=52, dtype=torch.float64)
    weight, bias = affine_params(3, seed=53, dtype=torch.float64)
    got = student.run("function_jacobians", x, weight, bias, 0.1)
    want = torch.autograd.functional.jacobian(
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True, eps=0.1), (x, weight, bias))
    for name, jacobian in zip(("x", "weight", "bias"), want):
        expect_close(got[name], jacobian, f"Jacobian with respect to {name}", on=on(x),
                     hint="backward returns one gradient per forward input (x, weight, bias, eps), in "
                          "that order, from batch_norm_backward called with the saved x, weight and "
                          "eps (" + KNOWN_GOOD_FUNCTIONS + ")")


# --- BatchNorm1d / BatchNorm2d: drop-in modules, run with a known-good batch_norm ---------------

def torch_module(class_name, options):
    return getattr(nn, class_name)(**options)


@points(2, task="BatchNorm")
def test_initial_parameters_and_buffers(student):
    """A fresh BatchNorm1d has torch's parameters and buffers: names, shapes, dtypes and values."""
    got = student.run("module_state", "BatchNorm1d", {"num_features": 6})
    want = torch_module("BatchNorm1d", {"num_features": 6})
    expect_equal(sorted(got.parameters), ["bias", "weight"], "parameter names",
                 hint="weight and bias are nn.Parameters; the statistics are buffers, not parameters")
    for name, value in want.state_dict().items():
        expect_equal(got.state_dict.get(name), value, f"initial {name}",
                     hint="weight 1, bias 0, running_mean 0, running_var 1, "
                          "num_batches_tracked a 0-d long tensor holding 0")


@points(2, task="BatchNorm")
def test_state_dict_keys(student):
    """state_dict has exactly torch's keys, in torch's order, each a tensor of torch's shape and dtype."""
    got = student.run("module_state", "BatchNorm1d", {"num_features": 6})
    want = torch_module("BatchNorm1d", {"num_features": 6}).state_dict()
    expect_equal(list(got.state_dict), list(want), "state_dict keys",
                 hint="register weight and bias as Parameters and the three statistics as buffers, "
                      "in that order")
    for name, value in want.items():
        expect_tensor(got.state_dict[name], f"state_dict[{name!r}]", shape=value.shape, dtype=value.dtype,
                      hint="(C,) float tensors, and num_batches_tracked a 0-d long tensor")


@points(2, task="BatchNorm")
def test_state_dict_loads_both_ways(student):
    """A state_dict from torch's BatchNorm1d loads into yours and back, and gives the same eval output."""
    reference = torch_module("BatchNorm1d", {"num_features": 5})
    with torch.no_grad():
        reference.weight.copy_(affine_params(5, seed=59)[0])
        reference.bias.copy_(affine_params(5, seed=59)[1])
    for i in range(3):
        reference(per_channel_data(*SHAPES["3-D"], seed=60 + i))
    reference.eval()
    x = per_channel_data(*SHAPES["3-D"], seed=63)
    got = student.run("module_run", "BatchNorm1d", {"num_features": 5}, [x], ["eval"],
                      state_dict=dict(reference.state_dict()))
    expect_close(got.outs[0], reference(x), "eval output after loading torch's state_dict", on=on(x),
                 hint="in eval, forward normalises with the loaded running statistics and applies the "
                      "loaded weight and bias; " + KNOWN_GOOD_BATCH_NORM)
    fresh = torch_module("BatchNorm1d", {"num_features": 5})
    try:
        fresh.load_state_dict(got.state_dict)
    except (RuntimeError, TypeError, AttributeError) as error:
        raise Mismatch("torch's BatchNorm1d cannot load your state_dict: "
                       + str(error).splitlines()[0][:200]) from None
    for name, value in reference.state_dict().items():
        expect_equal(fresh.state_dict()[name], value, f"{name} after the round trip",
                     hint="an eval call must leave every parameter and buffer as loaded")


def check_module_training(student, class_name, shape, seed, steps=3, options=None):
    """`steps` training calls, then one eval call: outputs, then buffers, then the eval output.

    Buffers are checked before the eval output, so a wrong running statistic is reported as
    such rather than as a wrong eval output. The module runs with a known-good batch_norm.
    """
    options = {"num_features": shape[1], **(options or {})}
    xs = [per_channel_data(*shape, seed=seed + i) * (1 + i) for i in range(steps)]
    xs.append(per_channel_data(*shape, seed=seed + steps))
    got = student.run("module_run", class_name, options, xs, ["train"] * steps + ["eval"])
    reference = torch_module(class_name, options)
    for i, x in enumerate(xs[:steps]):
        expect_close(got.outs[i], reference(x), f"training output of call {i + 1}", on=on(x),
                     hint="in training, forward passes x, the running statistics, weight and bias "
                          "(in batch_norm's order), training mode, the update factor and the layer's "
                          "eps to batch_norm; " + KNOWN_GOOD_BATCH_NORM)
    trained = got.states[steps - 1]
    for name, value in reference.state_dict().items():
        check = expect_close if value.is_floating_point() else expect_equal
        check(trained.get(name), value, f"{name} after {steps} training calls",
              hint="num_batches_tracked counts every training call; the update factor is the layer's "
                   "momentum, or 1 / num_batches_tracked when momentum is None; running_var starts "
                   "at 1; " + KNOWN_GOOD_BATCH_NORM)
    reference.eval()
    expect_close(got.outs[steps], reference(xs[steps]), "eval output after training", on=on(xs[steps]),
                 hint="in eval, forward normalises with the running statistics (the batch's when "
                      "there are none); " + KNOWN_GOOD_BATCH_NORM)
    for name, value in trained.items():
        expect_equal(got.states[steps].get(name), value, f"{name} after the eval call",
                     hint="eval mode must leave every buffer as training left it")


@points(3, task="BatchNorm")
def test_module_training_then_eval_2d(student):
    """BatchNorm1d on (N, C): three training calls then eval match torch, outputs and buffers."""
    check_module_training(student, "BatchNorm1d", SHAPES["2-D"], seed=70)


@points(2, task="BatchNorm")
def test_module_training_then_eval_3d(student):
    """BatchNorm1d(momentum=0.3, eps=0.01) on (N, C, L): training then eval match torch, outputs and buffers."""
    check_module_training(student, "BatchNorm1d", SHAPES["3-D"], seed=74, options={"momentum": 0.3, "eps": 0.01})


@points(3, task="BatchNorm")
def test_momentum_none_is_cumulative_average(student):
    """momentum=None keeps a cumulative average of the batch statistics (factor 1 / num_batches_tracked)."""
    check_module_training(student, "BatchNorm1d", SHAPES["2-D"], seed=78, options={"momentum": None})


@points(2, task="BatchNorm")
def test_track_running_stats_false(student):
    """track_running_stats=False: the three statistics are None, and batch statistics are used in eval mode too."""
    options = {"num_features": 5, "track_running_stats": False}
    state = student.run("module_state", "BatchNorm1d", options)
    hint = "register running_mean, running_var and num_batches_tracked as None buffers"
    expect_equal(sorted(state.state_dict), ["bias", "weight"], "state_dict keys without running stats", hint=hint)
    expect({"running_mean", "running_var", "num_batches_tracked"} <= set(state.none_attributes),
           "running_mean, running_var and num_batches_tracked should be None with track_running_stats=False",
           hint=hint)
    check_module_training(student, "BatchNorm1d", SHAPES["3-D"], seed=82, steps=1,
                          options={"track_running_stats": False})


@points(2, task="BatchNorm")
def test_affine_false(student):
    """affine=False: no parameters (weight and bias are None), output not scaled or shifted."""
    state = student.run("module_state", "BatchNorm1d", {"num_features": 5, "affine": False})
    expect_equal(sorted(state.parameters), [], "parameters with affine=False")
    expect("weight" in state.none_attributes and "bias" in state.none_attributes,
           "weight and bias should be None with affine=False",
           hint="register_parameter('weight', None)")
    check_module_training(student, "BatchNorm1d", SHAPES["2-D"], seed=85, steps=2,
                          options={"affine": False})


@points(1, task="BatchNorm")
def test_repr_matches_torch(student):
    """repr(BatchNorm1d(...)) reads exactly like torch's, with affine=True and with affine=False."""
    for options in ({"num_features": 7, "eps": 1e-3, "momentum": None, "affine": False},
                    {"num_features": 4, "momentum": 0.2, "track_running_stats": False}):
        got = student.run("module_state", "BatchNorm1d", options)
        expect_equal(got.repr, repr(torch_module("BatchNorm1d", options)), "repr",
                     hint="keep the given extra_repr; bias is None exactly when affine=False")


@points(1, task="BatchNorm")
def test_dtype_and_device_arguments(student):
    """dtype=torch.float64 makes float64 parameters and statistics, and device='meta' puts all five on that device.

    num_batches_tracked stays long. The two arguments are checked on two modules, each on its own.
    """
    got = student.run("module_state", "BatchNorm1d", {"num_features": 3, "dtype": torch.float64})
    want = torch_module("BatchNorm1d", {"num_features": 3, "dtype": torch.float64})
    for name, value in want.state_dict().items():
        expect_equal(got.state_dict.get(name), value, f"{name} with dtype=torch.float64",
                     hint="pass dtype to every floating-point tensor you create (not to num_batches_tracked)")
    options = {"num_features": 3, "device": "meta"}
    got = student.run("module_devices", "BatchNorm1d", options)
    for name, value in torch_module("BatchNorm1d", options).state_dict().items():
        expect_equal(got.state_dict.get(name), ["meta", value.dtype], f"[device, dtype] of {name} with device='meta'",
                     hint="pass device to every tensor you create (torch.tensor(0, ...) included)")


@points(2, task="BatchNorm")
def test_module_gradients(student):
    """Backpropagating through BatchNorm1d gives torch's gradients for x, weight and bias."""
    x = per_channel_data(*SHAPES["2-D"], seed=88)
    grad_out = seeded_randn(*x.shape, seed=89)
    got = student.run("module_gradients", "BatchNorm1d", {"num_features": 8}, x, grad_out)
    want = torch_gradients(x, torch.ones(8), torch.zeros(8), grad_out)
    for name in ("grad_x", "grad_weight", "grad_bias"):
        expect_close(got[name], want[name], f"module {name}", on=on(x),
                     hint="weight and bias are nn.Parameters passed to batch_norm (weight, then bias); "
                          + KNOWN_GOOD_BATCH_NORM)


@points(2, task="BatchNorm")
def test_batchnorm2d_non_square(student):
    """BatchNorm2d on (N, C, H, W) with H != W: training then eval match torch, outputs and buffers."""
    check_module_training(student, "BatchNorm2d", SHAPES["4-D"], seed=90)


@points(2, task="BatchNorm")
def test_wrong_input_rank_raises(student):
    """BatchNorm1d takes (N, C) and (N, C, L) and rejects 4-D input with ValueError; BatchNorm2d takes only 4-D."""
    error = student.raises("module_run", "BatchNorm1d", {"num_features": 8},
                           [torch.ones(2, 8, 3, 3)], ["train"])
    expect_raised(error, ValueError, "BatchNorm1d on 4-D input",
                  hint="keep the given BatchNorm1d._check_input_dim, and call it first in forward")
    error = student.raises("module_run", "BatchNorm2d", {"num_features": 8},
                           [torch.ones(2, 8, 3)], ["train"])
    expect_raised(error, ValueError, "BatchNorm2d on 3-D input",
                  hint="keep the given BatchNorm2d._check_input_dim, and call it first in forward")
    for class_name, shape in (("BatchNorm1d", (6, 8)), ("BatchNorm1d", (4, 8, 3)), ("BatchNorm2d", (2, 8, 3, 4))):
        x = per_channel_data(*shape, seed=92)
        got = student.run("module_run", class_name, {"num_features": 8}, [x], ["train"])
        expect_close(got.outs[0], torch_module(class_name, {"num_features": 8})(x),
                     f"{class_name} training output", on=on(x),
                     hint="these points are for accepting the right ranks and normalising them: "
                          "the output is wrong; " + KNOWN_GOOD_BATCH_NORM)


# --- MLPWithBatchNorm, run with a known-good BatchNorm1d ---------------------------------------

class TorchMLPWithBatchNorm(nn.Module):
    """The lecture's model built from torch's own layers: the oracle."""

    def __init__(self, in_features, hidden_features, out_features):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.bn1 = nn.BatchNorm1d(hidden_features)
        self.fc2 = nn.Linear(hidden_features, hidden_features)
        self.bn2 = nn.BatchNorm1d(hidden_features)
        self.fc3 = nn.Linear(hidden_features, out_features)

    def forward(self, x):
        x = torch.relu(self.bn1(self.fc1(x)))
        x = torch.relu(self.bn2(self.fc2(x)))
        return self.fc3(x)


@points(2, task="MLPWithBatchNorm")
def test_mlp_structure(student):
    """MLPWithBatchNorm has fc1, bn1, fc2, bn2, fc3: Linear layers and your BatchNorm1d, sized like the lecture's.

    Other attributes (an nn.ReLU module, say) are allowed; the state_dict must be the lecture
    model's, so that its weights load. The model is built with a known-good BatchNorm1d in place of
    the student's.
    """
    sizes = {"fc1": [12, 16], "bn1": 16, "fc2": [16, 16], "bn2": 16, "fc3": [16, 3]}
    got = student.run("mlp_structure", 12, 16, 3)
    for name, size in sizes.items():
        layer = got.layers[name]
        expect(layer["kind"] is not None, f"the model has no attribute {name}",
               hint="keep the attribute names the docstring gives: fc1, bn1, fc2, bn2, fc3")
        if name.startswith("fc"):
            expect(layer["linear"], f"{name} should be an nn.Linear, not {layer['kind']}")
        else:
            expect(layer["file_batchnorm1d"], f"{name} should be your BatchNorm1d, not {layer['kind']}",
                   hint="build bn1 and bn2 from the BatchNorm1d class in this file")
        expect_equal(layer["features"], size, f"{name}'s size ([in_features, out_features] or num_features)")
    want = {name: list(t.shape) for name, t in TorchMLPWithBatchNorm(12, 16, 3).state_dict().items()}
    expect_equal(got.state_shapes, want, "state_dict {name: shape}",
                 hint="no other layer with parameters or buffers than the five")


@points(2, task="MLPWithBatchNorm")
def test_mlp_forward(student):
    """With the same weights, MLPWithBatchNorm matches the lecture's model in training and eval."""
    torch.manual_seed(0)
    reference = TorchMLPWithBatchNorm(12, 16, 3)
    state = {name: value.clone() for name, value in reference.state_dict().items()}
    xs = [per_channel_data(20, 12, seed=95 + i) for i in range(3)]
    modes = ["train", "train", "eval"]
    got = student.run("mlp_run", (12, 16, 3), state, xs, modes)
    hint = ("fc1 -> bn1 -> ReLU -> fc2 -> bn2 -> ReLU -> fc3, each layer once; this test runs your "
            "model with a correct BatchNorm1d in place of yours")
    for i, x in enumerate(xs[:2]):
        expect_close(got.outs[i], reference(x), f"training logits of call {i + 1}", on=on(x), hint=hint)
    for name in ("bn1.running_mean", "bn1.running_var", "bn2.running_mean", "bn2.running_var"):
        expect_close(got.state_dict.get(name), reference.state_dict()[name], f"{name} after two training calls",
                     hint=hint)
    reference.eval()
    expect_close(got.outs[2], reference(xs[2]), "eval logits after training", on=on(xs[2]),
                 hint=hint + "; the model's train()/eval() mode must reach bn1 and bn2")
