"""Hidden graders for the dropout exercise.

Dropout is random, so many checks are statistical laws. Every input is seeded, so a given
submission gets the same score on every run; a correct submission that draws its masks in another
way is, in effect, a fresh random draw, and each statistical check states the probability that
such a draw fails it (the largest, 6.1e-9, is far below 1e-6). Everything else is compared with
PyTorch (computed here, in the trusted process) or with the grader's own probe model.

Each mistake costs the points of its own task: a test about one task runs the student's code for
that task with known-good code in place of the student's code for the tasks it relies on
(autograder/scenarios/dropout.py): Dropout with a known-good dropout, MLP with a known-good
Dropout, train_model with a known-good evaluate, and compare_dropout with known-good MLP and
train_model. Side properties (the input is unchanged, no parameters, eval mode is the identity...)
pay only together with the main behaviour: a dropout that does not drop earns nothing.
"""

import math

import torch
import torch._dynamo  # an optimizer imports it on first use (a second): here, at collection, while the zygote boots
import torch.nn.functional as F

from coursekit.datasets import noisy_digits
from coursekit.grading.api import (
    exercise,
    expect,
    expect_close,
    expect_equal,
    expect_number,
    expect_raised,
    expect_tensor,
    is_number,
    points,
    seeded_randn,
    shape_text,
)

pytestmark = exercise("dropout")


def positive_input(*shape, seed, dtype=torch.float32):
    """Values in [0.5, 2.5): never zero, so a zero in the output can only be a dropped element."""
    generator = torch.Generator().manual_seed(seed)
    return (0.5 + 2.0 * torch.rand(*shape, generator=generator, dtype=torch.float64)).to(dtype)


def on(x):
    return f"a {shape_text(x.shape)} {str(x.dtype).replace('torch.', '')} input"


def six_sigma(p, n):
    """Six standard deviations of the fraction of successes in n Bernoulli(p) trials."""
    return 6.0 * math.sqrt(p * (1.0 - p) / n)


def expect_inverted_dropout(out, x, p, what, *, hint=None):
    """Every element of out is 0 or x / (1 - p); returns the boolean mask of survivors."""
    expect_tensor(out, what, shape=x.shape, dtype=x.dtype, hint=hint)
    kept = out != 0
    expect_close(out[kept], x[kept] / (1.0 - p), f"{what}: the surviving elements", on=on(x),
                 hint=hint or "scale survivors by 1 / (1 - p), so the expected value of each element is x")
    return kept


def expect_drops(out, x, what, *, hint=None):
    """out has x's shape and zeroes some of x's (non-zero) elements but not all: dropout drops.

    The condition on which the side-property tests pay. Called with 0 < p < 1 on inputs where a
    correct dropout (or dropout2d) zeroes none or all of the elements with probability 2**-127 or less.
    """
    expect_tensor(out, what, shape=x.shape, hint=hint)
    zeroed = int((out == 0).sum())
    expect(0 < zeroed < x.numel(), f"{what} zeroed {'none' if zeroed == 0 else 'all'} of the elements",
           hint=hint or "in training mode, zero each element with probability p")


def dropout_out(student, x, seed=0, **options):
    return student.run("dropout_call", x, seed=seed, **options).out


def drops_at_half(student, x, what="dropout with p = 0.5 in training mode"):
    """The main behaviour a side-property test pays with: dropout(x, 0.5) drops some elements, not all."""
    expect_drops(dropout_out(student, x, p=0.5), x, what)


def dropout_outs(student, function, x, global_seeds, generator_seeds, p):
    """Several dropout (or dropout2d) calls (see the dropout_calls scenario), each checked to drop."""
    outs = student.run("dropout_calls", function, x, global_seeds, generator_seeds, p=p).outs
    for index, out in enumerate(outs):
        expect_drops(out, x, f"{function} call {index + 1}")
    return outs


# --- dropout: the statistical law -------------------------------------------------------------

@points(3, task="dropout")
def test_zero_fraction_is_p(student):
    """The fraction of zeroed elements is p (for p = 0.2, 0.5 and 0.8), within six standard deviations.

    A correct dropout fails one of the three (binomial, n = 100,000) with probability 6.1e-9.
    """
    x = positive_input(200, 500, seed=1)
    for p in (0.2, 0.5, 0.8):
        out = dropout_out(student, x, p=p)
        expect_tensor(out, f"dropout with p = {p}", shape=x.shape)
        zeroed = (out == 0).double().mean().item()
        expect(abs(zeroed - p) <= six_sigma(p, x.numel()),
               f"with p = {p}, {zeroed:.3f} of the elements were zeroed",
               hint="p is the probability of *dropping* an element, not of keeping it")


@points(3, task="dropout")
def test_survivors_are_scaled_by_inverse_keep_probability(student):
    """Some elements are dropped, and each surviving element is exactly x / (1 - p): inverted dropout.

    A correct dropout keeps all or none of the 6,400 elements with probability below 0.75**6400.
    """
    x = positive_input(64, 100, seed=2)
    for p in (0.3, 0.75):
        out = dropout_out(student, x, p=p)
        expect_inverted_dropout(out, x, p, f"dropout with p = {p}")
        expect_drops(out, x, f"dropout with p = {p}")


@points(2, task="dropout")
def test_lecture_example_ones_become_zeros_and_twos(student):
    """The lecture's example: a tensor of ones with p = 0.5 becomes 0s and 2s, and its mean stays near 1.

    The mean is within six standard deviations (0.06 on 10,000 elements): a correct dropout falls
    outside with probability 1.8e-9.
    """
    x = torch.ones(100, 100)
    out = dropout_out(student, x, p=0.5)
    expect_tensor(out, "dropout of a tensor of ones", shape=x.shape, dtype=x.dtype)
    expect(bool(((out == 0) | (out == 2)).all()), "some outputs are neither 0 nor 2",
           hint="survivors are divided by the keep probability 1 - p = 0.5")
    mean = out.mean().item()
    expect(abs(mean - 1.0) <= 6.0 / math.sqrt(x.numel()), f"the mean of the output is {mean:.3f}, not about 1",
           hint="inverted dropout preserves the expected value of every element")


@points(2, task="dropout")
def test_elements_are_dropped_independently(student):
    """Masks differ across rows and across columns: no mask is shared by the whole batch or a whole sample.

    Independent masks make all 128 rows (or all 64 columns) alike with probability below 2**-4000.
    """
    x = positive_input(128, 64, seed=3)
    out = dropout_out(student, x, p=0.5)
    expect_drops(out, x, "dropout with p = 0.5")
    kept = out != 0
    expect(not bool((kept == kept[:1]).all()), "every row (sample) got the same mask",
           hint="draw a mask with the full shape of x, not one row broadcast over the batch")
    expect(not bool((kept == kept[:, :1]).all()), "every column (feature) got the same mask",
           hint="draw one decision per element, not one per sample")


@points(2, task="dropout")
def test_fresh_mask_on_every_call(student):
    """Two calls on the same input draw different masks.

    Two independent masks of 2,048 elements agree with probability 2**-2048.
    """
    x = positive_input(32, 64, seed=4)
    outs = dropout_outs(student, "dropout", x, [0, None], [None, None], 0.5)
    expect(not torch.equal(outs[0] != 0, outs[1] != 0), "two successive calls zeroed the same elements",
           hint="draw a new random mask inside every call; never store one and reuse it")


@points(2, task="dropout")
def test_generator_makes_masks_reproducible(student):
    """With a generator, the mask depends on the generator's seed alone, not on torch's global RNG."""
    x = positive_input(32, 64, seed=5)
    outs = dropout_outs(student, "dropout", x, [0, 1, 2], [7, 7, 8], 0.5)
    expect_equal(outs[1], outs[0], "two calls with generators seeded alike (global RNG in other states)",
                 hint="draw the mask from `generator` when one is given (torch.rand(..., generator=generator))")
    expect(not torch.equal(outs[2], outs[0]), "generators seeded differently gave the same mask")


@points(1, task="dropout")
def test_global_rng_is_used_without_generator(student):
    """Without a generator, masks come from torch's global RNG: torch.manual_seed makes them repeat."""
    x = positive_input(32, 64, seed=6)
    outs = dropout_outs(student, "dropout", x, [3, 3, 4], [None, None, None], 0.5)
    expect_equal(outs[1], outs[0], "two calls after torch.manual_seed(3)",
                 hint="with generator=None, draw from torch's global RNG (pass generator=None on)")
    expect(not torch.equal(outs[2], outs[0]), "different global seeds gave the same mask",
           hint="do not create a fixed generator of your own")


# --- dropout: the special cases --------------------------------------------------------------
# Each pays only a dropout that drops: with p = 0.5 on 512 elements, a correct one zeroes none or
# all of them with probability 2 * 2**-512.

@points(2, task="dropout")
def test_eval_mode_is_identity(student):
    """With training=False the output equals the input bitwise, whatever p is (and training mode drops)."""
    x = positive_input(16, 32, seed=7)
    drops_at_half(student, x)
    for p in (0.5, 1.0):
        got = student.run("dropout_call", x, p=p, training=False)
        expect_equal(got.out, x, f"the output with training=False and p = {p}",
                     hint="in eval mode dropout does nothing: no mask, no scaling")


@points(1, task="dropout")
def test_p_zero_is_identity(student):
    """With p = 0 nothing is dropped or scaled: the output equals the input (and p = 0.5 drops)."""
    x = positive_input(16, 32, seed=8)
    drops_at_half(student, x)
    expect_equal(dropout_out(student, x, p=0.0), x, "the output with p = 0",
                 hint="p is the probability of dropping: with p = 0 return x as it is")


@points(2, task="dropout")
def test_p_one_gives_zeros_not_nan(student):
    """With p = 1 every element is zeroed, and nothing is NaN (no division by 1 - p = 0); p = 0.5 drops."""
    x = positive_input(16, 32, seed=9)
    drops_at_half(student, x)
    out = dropout_out(student, x, p=1.0)
    expect_tensor(out, "the output with p = 1", shape=x.shape, dtype=x.dtype)
    expect(not bool(out.isnan().any()), "the output with p = 1 contains NaN",
           hint="with p = 1 return zeros directly; dividing by 1 - p = 0 gives 0 / 0 = NaN")
    expect_equal(out, torch.zeros_like(x), "the output with p = 1",
                 hint="p is the probability of dropping: with p = 1 every element is dropped")


@points(1, task="dropout")
def test_invalid_p_raises_value_error(student):
    """p outside [0, 1] raises ValueError; p = 0.5 drops as usual."""
    x = positive_input(16, 32, seed=10)
    drops_at_half(student, x)
    for p in (-0.1, 1.5):
        expect_raised(student.raises("dropout_call", x, p=p), ValueError, f"dropout with p = {p}",
                      hint="keep the given probability check at the top of the function")


@points(2, task="dropout")
def test_input_is_not_modified(student):
    """dropout (with p = 0.5, dropping) returns a new tensor and leaves its input untouched."""
    x = positive_input(16, 32, seed=11)
    got = student.run("dropout_call", x, p=0.5)
    expect_drops(got.out, x, "dropout with p = 0.5")
    expect(got.x_unchanged, "dropout changed its input tensor",
           hint="build the result with out-of-place operations (x * mask), not x.mul_() or x[...] = 0")


@points(1, task="dropout")
def test_keeps_shape_and_dtype(student):
    """On a 3-D float64 input the output has the same shape, stays float64, and drops.

    A correct dropout zeroes none or all of the 210 elements (p = 0.4) with probability 3e-47.
    """
    x = positive_input(6, 5, 7, seed=12, dtype=torch.float64)
    out = dropout_out(student, x, p=0.4)
    expect_tensor(out, "dropout of float64 input", shape=x.shape, dtype=x.dtype,
                  hint="draw the mask with x's shape and dtype (torch.rand(x.shape, dtype=x.dtype, ...)) and "
                       "build the output from x")
    expect_drops(out, x, "dropout of float64 input")


@points(2, task="dropout")
def test_gradient_is_the_scaled_mask(student):
    """The gradient with respect to x is grad_out * mask / (1 - p) (and dropout drops).

    A correct dropout keeps all or none of the 512 elements (p = 0.25) with probability 1.1e-64.
    """
    x, grad_out = positive_input(16, 32, seed=13), seeded_randn(16, 32, seed=14)
    got = student.run("dropout_gradient", x, grad_out, 0.25)
    kept = expect_inverted_dropout(got.out, x, 0.25, "dropout with p = 0.25")
    expect_drops(got.out, x, "dropout with p = 0.25")
    expect_close(got.grad_x, grad_out * kept / 0.75, "the gradient with respect to x",
                 hint="build the output as x * mask / (1 - p) so autograd can differentiate it")


# --- dropout2d (run with a known-good dropout, which it may call) ------------------------------

def channel_masks(out, x, p, what):
    """out must zero whole (n, c) channels; returns the kept mask of shape x.shape[:-2]."""
    kept = expect_inverted_dropout(out, x, p, what)
    whole = kept.all(dim=(-2, -1)) | ~kept.any(dim=(-2, -1))
    expect(bool(whole.all()), f"{what}: some channels were only partly zeroed",
           hint="dropout2d zeroes whole feature maps: draw one decision per (sample, channel), "
                "a mask of shape (N, C, 1, 1)")
    return kept.all(dim=(-2, -1))


@points(3, task="dropout2d")
def test_dropout2d_zeroes_whole_channels(student):
    """dropout2d on (N, C, H, W) input with H != W zeroes whole feature maps, some not all, and scales the rest.

    A correct dropout2d keeps all or none of the 128 channels (p = 0.5) with probability 2**-127.
    """
    x = positive_input(8, 16, 5, 3, seed=20)
    got = student.run("dropout2d_call", x, p=0.5)
    kept = channel_masks(got.out, x, 0.5, "dropout2d")
    expect(bool(kept.any()) and not bool(kept.all()), "dropout2d with p = 0.5 kept all or none of the channels",
           hint="zero each (sample, channel) map with probability p")
    expect(got.x_unchanged, "dropout2d changed its input tensor",
           hint="build the result with out-of-place operations (x * mask)")


@points(2, task="dropout2d")
def test_dropout2d_masks_are_independent(student):
    """Each (sample, channel) pair is dropped on its own, with probability p.

    The fraction of dropped channels is within six standard deviations of p = 0.3 (4,096 channels):
    a correct dropout2d falls outside with probability 2.2e-9.
    """
    x = positive_input(64, 64, 3, 2, seed=21)
    kept = channel_masks(student.run("dropout2d_call", x, p=0.3).out, x, 0.3, "dropout2d")
    expect(not bool((kept == kept[:1]).all()), "every sample got the same channel mask",
           hint="draw a mask of shape (N, C, 1, 1), not (1, C, 1, 1)")
    expect(not bool((kept == kept[:, :1]).all()), "every channel of a sample got the same decision",
           hint="draw a mask of shape (N, C, 1, 1), not (N, 1, 1, 1)")
    dropped = 1.0 - kept.double().mean().item()
    expect(abs(dropped - 0.3) <= six_sigma(0.3, kept.numel()),
           f"with p = 0.3, {dropped:.3f} of the channels were zeroed",
           hint="p is the probability of dropping a channel")


@points(2, task="dropout2d")
def test_dropout2d_takes_3d_input_as_one_sample(student):
    """A (C, H, W) input is one sample: its channels are zeroed whole.

    A correct dropout2d keeps all or none of the 32 channels (p = 0.5) with probability 4.7e-10.
    """
    x = positive_input(32, 4, 6, seed=22)
    kept = channel_masks(student.run("dropout2d_call", x, p=0.5).out, x, 0.5, "dropout2d on (C, H, W) input")
    expect(bool(kept.any()) and not bool(kept.all()), "dropout2d on (C, H, W) input kept all or none of the channels",
           hint="for 3-D input the channels are dim 0: a mask of shape (C, 1, 1)")


@points(1, task="dropout2d")
def test_dropout2d_special_cases(student):
    """dropout2d is the identity in eval mode and for p = 0, and gives zeros (no NaN) for p = 1; p = 0.5 drops.

    A correct dropout2d keeps all or none of the 128 channels at p = 0.5 with probability 2**-127.
    """
    expect_drops(student.run("dropout2d_call", positive_input(8, 16, 5, 3, seed=24), p=0.5).out,
                 positive_input(8, 16, 5, 3, seed=24), "dropout2d with p = 0.5")
    x = positive_input(4, 6, 5, 3, seed=23)
    cases = {"training=False": ({"p": 0.5, "training": False}, x), "p = 0": ({"p": 0.0}, x),
             "p = 1": ({"p": 1.0}, torch.zeros_like(x))}
    wrong = []
    for case, (options, want) in cases.items():
        out = student.run("dropout2d_call", x, **options).out
        if not (isinstance(out, torch.Tensor) and out.shape == want.shape and out.dtype == want.dtype
                and torch.equal(out, want)):
            wrong.append(case)
    expect(not wrong, f"dropout2d with {' and with '.join(wrong)} is not "
                      f"{' / '.join({'training=False': 'x', 'p = 0': 'x', 'p = 1': 'zeros'}[case] for case in wrong)}",
           hint="with training=False or p = 0 return x as it is; with p = 1 return zeros directly (dividing by "
                "1 - p = 0 gives NaN)")


@points(1, task="dropout2d")
def test_dropout2d_uses_the_generator(student):
    """dropout2d draws its masks from `generator` when one is given, from torch's global RNG otherwise.

    Two independent draws of the 2,048 channel decisions agree with probability 2**-2048.
    """
    x = positive_input(32, 64, 2, 2, seed=25)
    outs = dropout_outs(student, "dropout2d", x, [0, 1, 2, 3, 3, 4], [7, 7, 8, None, None, None], 0.5)
    expect_equal(outs[1], outs[0], "two dropout2d calls with generators seeded alike (global RNG in other states)",
                 hint="draw the mask from `generator` when one is given (torch.rand(..., generator=generator))")
    expect(not torch.equal(outs[2], outs[0]), "generators seeded differently gave the same channel mask")
    expect_equal(outs[4], outs[3], "two dropout2d calls without a generator after torch.manual_seed(3)",
                 hint="with generator=None, draw from torch's global RNG (pass generator=None on)")
    expect(not torch.equal(outs[5], outs[3]), "different global seeds gave dropout2d the same channel mask",
           hint="do not create a fixed generator of your own")


# --- Dropout, the module (run with a known-good dropout) ---------------------------------------

@points(3, task="Dropout")
def test_module_follows_training_mode(student):
    """Dropout(p) drops in training mode, is the identity in eval mode, and drops again after .train().

    (Your Dropout runs with a known-good dropout function here.) A correct layer keeps all or none
    of the 2,048 elements (p = 0.5) with probability 2 * 2**-2048.
    """
    x = positive_input(32, 64, seed=30)
    got = student.run("module_modes", 0.5, x, ["train", "eval", "train"])
    expect(got.p == 0.5, "the layer does not keep the p it was built with as its p attribute")
    for index in (0, 2):
        what = f"Dropout(0.5) in training mode (call {index + 1})"
        hint = "in training mode return dropout(x, self.p); follow self.training, which model.train() and " \
               "model.eval() set"
        expect_inverted_dropout(got.outs[index], x, 0.5, what, hint=hint)
        expect_drops(got.outs[index], x, what, hint=hint)
    expect_equal(got.outs[1], x, "Dropout(0.5) in eval mode",
                 hint="in eval mode the layer returns its input: pass training=self.training to dropout")


@points(1, task="Dropout")
def test_module_checks_p_and_has_no_parameters(student):
    """Dropout(0.25) drops in training mode and has no parameters; Dropout(1.5) raises ValueError.

    (Your Dropout runs with a known-good dropout function here.) A correct layer keeps all or none
    of the 256 elements with probability 1e-32.
    """
    x = positive_input(16, 16, seed=31)
    got = student.run("module_modes", 0.25, x, ["train"])
    hint = "in training mode return dropout(x, self.p)"
    expect_inverted_dropout(got.outs[0], x, 0.25, "Dropout(0.25) in training mode", hint=hint)
    expect_drops(got.outs[0], x, "Dropout(0.25) in training mode", hint=hint)
    expect_equal(got.parameters, 0, "the number of parameters of Dropout",
                 hint="dropout learns nothing: register no nn.Parameter")
    expect_raised(student.raises("module_construction", 1.5), ValueError, "Dropout(1.5)",
                  hint="keep the given probability check in __init__")


# --- MLP (run with a known-good dropout and Dropout) ----------------------------------------------

def expected_layers(p, num_hidden_layers):
    return ["Linear", "ReLU", f"Dropout(p={p})"] * num_hidden_layers + ["Linear"]


def layer_names(calls):
    """The Linear, ReLU and Dropout layers an input went through, in order (the stub's layers).

    Other parameter-free modules a correct MLP may also call (nn.Flatten, nn.Identity...) are left
    out: the stub asks for these layers in this order, not for the absence of others.
    """
    return [f"Dropout(p={call.p})" if call.students_dropout else call.kind for call in calls
            if call.students_dropout or call.kind in ("Linear", "ReLU")]


def linear_calls(calls):
    return [call for call in calls if call.kind == "Linear"]


def mlp_calls(student, p, num_hidden_layers, modes=("train",), sizes=(12, 20, 5)):
    x = seeded_randn(10, sizes[0], seed=40 + num_hidden_layers)
    return x, student.run("mlp_forward_calls", sizes, p, num_hidden_layers, x, list(modes))


@points(3, task="MLP")
def test_mlp_layer_order(student):
    """The input flows through [Linear, ReLU, your Dropout(p)] per hidden layer, then the output Linear."""
    for num_hidden_layers in (2, 3):
        _, got = mlp_calls(student, 0.3, num_hidden_layers)
        expect_equal(layer_names(got.calls), expected_layers(0.3, num_hidden_layers),
                     f"the Linear, ReLU and Dropout layers an input passes through "
                     f"(num_hidden_layers={num_hidden_layers})",
                     hint="dropout goes after the activation and never after the output layer; build the "
                          "hidden blocks with the p given to MLP; use nn.Linear, nn.ReLU and Dropout as modules")


@points(2, task="MLP")
def test_mlp_layer_sizes(student):
    """The Linear layers map in -> hidden, hidden -> hidden, ..., hidden -> out, and hold all the parameters."""
    _, got = mlp_calls(student, 0.0, 3, sizes=(12, 20, 5))
    shapes = [list(call.weight.shape) for call in linear_calls(got.calls)]
    expect(shapes == [[20, 12], [20, 20], [20, 20], [5, 20]],
           "the Linear layers' sizes are not in -> hidden, hidden -> hidden, ..., hidden -> out",
           hint="nn.Linear(in, out) stores a weight of shape (out, in); one Linear per hidden layer, then one "
                "to the outputs")
    expect(got.parameter_count == 20 * 12 + 20 + 2 * (20 * 20 + 20) + 5 * 20 + 5,
           "the model has parameters besides its Linear layers' weights and biases",
           hint="ReLU and Dropout have no parameters")


@points(2, task="MLP")
def test_mlp_eval_output_is_the_plain_network(student):
    """In eval mode the MLP returns (N, out_features) logits computed by its Linear and ReLU layers alone."""
    x, got = mlp_calls(student, 0.5, 2, modes=("eval", "eval"))
    expect_tensor(got.outs[0], "the eval-mode logits", shape=(10, 5),
                  hint="forward takes (N, in_features) and returns the output layer's (N, out_features) logits")
    linears = linear_calls(got.calls)
    want = x
    for index, layer in enumerate(linears):
        want = F.linear(want, layer.weight, layer.bias)
        if index < len(linears) - 1:
            want = torch.relu(want)
    expect_close(got.outs[0], want, "the eval-mode logits", on=on(x),
                 hint="forward returns the output layer's logits as they are (no softmax or other function "
                      "after it), and each Dropout passes its input through in eval mode")
    expect_equal(got.outs[1], got.outs[0], "two eval-mode calls on the same input")


@points(1, task="MLP")
def test_mlp_drops_in_training_mode_only_when_p_is_positive(student):
    """With p = 0.5 two training-mode calls differ; with p = 0 training and eval outputs agree.

    Two training-mode calls of a correct MLP agree only if their masks agree on every active unit
    of the first hidden layer: probability 2**-87 on this input (87 of its 200 units are active
    with the reference's weights).
    """
    _, got = mlp_calls(student, 0.5, 2, modes=("train", "train"))
    for out in got.outs:
        expect_tensor(out, "the MLP's output", shape=(10, 5))
    expect(not torch.equal(got.outs[0], got.outs[1]), "with p = 0.5, two training-mode calls gave the same logits",
           hint="build the hidden blocks with Dropout(p), using the p given to MLP")
    _, got = mlp_calls(student, 0.0, 2, modes=("train", "eval"))
    expect_close(got.outs[0], got.outs[1], "with p = 0, training-mode logits against eval-mode logits",
                 hint="build the hidden blocks with Dropout(p), using the p given to MLP")


# --- evaluate ------------------------------------------------------------------------------------

def probe_state(in_features, num_classes, seed):
    weight = seeded_randn(num_classes, in_features - 1, seed=seed)
    return {"linear.weight": weight, "linear.bias": seeded_randn(num_classes, seed=seed + 1)}


def probe_logits(state, X):
    return F.linear(X[:, 1:], state["linear.weight"], state["linear.bias"])


def labelled_data(n, in_features, num_classes, seed):
    """Inputs whose column 0 is the sample index (the probe reads it), with random labels."""
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(n, in_features, generator=generator)
    X[:, 0] = torch.arange(n, dtype=torch.float32)
    return X, torch.randint(0, num_classes, (n,), generator=generator)


def losses_close(got, want):
    return math.isclose(got, want, rel_tol=1e-4, abs_tol=1e-5)


def measured_numbers(measured):
    """evaluate's answer as (loss, accuracy), failing unless it is a dict of two numbers."""
    expect(isinstance(measured, dict) and set(measured) >= {"loss", "accuracy"},
           "evaluate should return a dict with 'loss' and 'accuracy'")
    return (expect_number(measured["loss"], "evaluate(...)['loss']"),
            expect_number(measured["accuracy"], "evaluate(...)['accuracy']"))


def expect_measured_loss(measured, state, X, y, train_shift):
    """The main behaviour that evaluate's side-property tests pay with: it returns the model's loss.

    The mean cross-entropy of the probe's logits in either mode (the mode is graded on its own).
    """
    loss, _ = measured_numbers(measured)
    logits = probe_logits(state, X)
    shifted = logits + F.one_hot(torch.zeros_like(y), logits.shape[1]) * train_shift    # the training-mode logits
    expect(any(losses_close(loss, F.cross_entropy(value, y).item()) for value in (logits, shifted)),
           "evaluate's loss is not the mean cross-entropy of the model's logits",
           hint="F.cross_entropy(model(X), y).item(): the mean over the whole set")


@points(2, task="evaluate")
def test_evaluate_measures_loss_and_accuracy_in_eval_mode(student):
    """evaluate returns the mean cross-entropy and the accuracy (a fraction) of the eval-mode logits."""
    state, (X, y) = probe_state(6, 4, seed=50), labelled_data(100, 6, 4, seed=51)
    got = student.run("evaluate_probe", state, X, y, "train", 3.0)
    loss, accuracy = measured_numbers(got.measured)
    logits = probe_logits(state, X)
    want_loss = F.cross_entropy(logits, y).item()
    want_accuracy = (logits.argmax(1) == y).double().mean().item()
    wrong = []
    if not losses_close(loss, want_loss):
        wrong.append(f"the loss is off by {abs(loss - want_loss):.3g} (switch to eval mode before the forward "
                     "pass; the model answers differently in training mode; the loss is the mean over the set)")
    if not math.isclose(accuracy, want_accuracy, abs_tol=1e-6):
        wrong.append(f"the accuracy is off by {abs(accuracy - want_accuracy):.3g} (the fraction, 0 to 1, of "
                     "samples whose largest logit is the true class, measured in eval mode)")
    expect(not wrong, "; ".join(wrong))


@points(2, task="evaluate")
def test_evaluate_restores_the_models_mode(student):
    """evaluate runs the model in eval mode and leaves it in the mode it found it in (and measures the loss)."""
    state, (X, y) = probe_state(6, 4, seed=52), labelled_data(20, 6, 4, seed=53)
    for start in ("train", "eval"):
        got = student.run("evaluate_probe", state, X, y, start, 3.0)
        wrong = []
        if not (got.modes_seen and set(got.modes_seen) == {"eval"}):
            wrong.append(f"it ran the model in {'/'.join(sorted(set(got.modes_seen))) or 'no'} mode "
                         f"(call model.eval() before measuring)")
        if got.mode_after != start:
            wrong.append(f"it left a model that was in {start} mode in {got.mode_after} mode (remember "
                         f"model.training first and restore it with model.train(was_training))")
        expect(not wrong, f"evaluate on a model in {start} mode: {'; '.join(wrong)}")
        expect_measured_loss(got.measured, state, X, y, 3.0)


@points(1, task="evaluate")
def test_evaluate_builds_no_autograd_graph(student):
    """evaluate runs the model with autograd off (torch.no_grad()), and measures the loss."""
    state, (X, y) = probe_state(6, 4, seed=54), labelled_data(20, 6, 4, seed=55)
    got = student.run("evaluate_probe", state, X, y, "train", 3.0)
    expect(got.grad_enabled and not any(got.grad_enabled), "evaluate ran the model with autograd recording"
           if got.grad_enabled else "evaluate never ran the model",
           hint="wrap the forward pass in `with torch.no_grad():`")
    expect_measured_loss(got.measured, state, X, y, 3.0)


# --- train_model (with a known-good evaluate) -------------------------------------------------------

TRAIN_SIZE, FEATURES, CLASSES = 40, 5, 3


def probe_training(student, *, seed, runs=1, noise=0.0, val=False, **options):
    """Train the grader's probe with train_model(seed=seed, **options), `runs` times from one start."""
    state = probe_state(FEATURES, CLASSES, seed=60)
    train_data = labelled_data(TRAIN_SIZE, FEATURES, CLASSES, seed=61)
    val_data = labelled_data(30, FEATURES, CLASSES, seed=62) if val else None
    got = student.run("train_probe", state, train_data, val_data, seed, runs=runs, noise=noise, **options)
    return state, train_data, val_data, got.runs


def epochs_of(batches, epoch_count, batch_size):
    """Split the recorded training batches into epochs (checking how many batches there are)."""
    per_epoch = math.ceil(TRAIN_SIZE / batch_size)
    expect(len(batches) == epoch_count * per_epoch,
           f"{'too few' if len(batches) < epoch_count * per_epoch else 'too many'} training batches for "
           f"{epoch_count} epochs",
           hint="every epoch goes over the whole training set in batches of batch_size (the last one "
                "smaller), with the model in training mode")
    return [batches[i * per_epoch:(i + 1) * per_epoch] for i in range(epoch_count)]


@points(2, task="train_model")
def test_every_epoch_visits_every_sample_once(student):
    """Each epoch trains on every sample exactly once, in batches of batch_size (the last one smaller)."""
    _, _, _, runs = probe_training(student, epochs=3, batch_size=16, seed=0)
    for index, epoch in enumerate(epochs_of(runs[0].batches, 3, 16)):
        expect([len(batch) for batch in epoch] == [16, 16, 8],
               f"the batches of epoch {index + 1} are not of size batch_size (the last one smaller)")
        expect(sorted(i for batch in epoch for i in batch) == list(range(TRAIN_SIZE)),
               f"epoch {index + 1} did not train on every sample exactly once",
               hint="go through one permutation of all the indices per epoch, in consecutive slices")


@points(2, task="train_model")
def test_batches_are_reshuffled_every_epoch(student):
    """The order of the samples is random and changes from epoch to epoch.

    A random order is the stored one with probability 1/40!, two epochs alike 2/40!.
    """
    _, _, _, runs = probe_training(student, epochs=3, batch_size=8, seed=0)
    orders = [[i for batch in epoch for i in batch] for epoch in epochs_of(runs[0].batches, 3, 8)]
    expect(orders[0] != list(range(TRAIN_SIZE)), "the first epoch went through the samples in their stored order",
           hint="shuffle: draw a random permutation of the indices every epoch")
    expect(orders[0] != orders[1] and orders[1] != orders[2], "two epochs used the same order",
           hint="draw a new permutation at the start of every epoch, not once before the loop")


@points(2, task="train_model")
def test_batches_depend_on_the_seed_alone(student):
    """The same seed gives the same batches even when the model draws random numbers; another seed differs."""
    _, _, _, quiet = probe_training(student, epochs=2, batch_size=8, seed=3)
    epochs_of(quiet[0].batches, 2, 8)
    _, _, _, noisy = probe_training(student, epochs=2, batch_size=8, seed=3, noise=0.5)
    expect_equal(noisy[0].batches, quiet[0].batches,
                 "the batches of two runs with seed 3, one of them with a model that draws random numbers",
                 hint="shuffle with a private torch.Generator().manual_seed(seed), so dropout masks drawn "
                      "from the global RNG cannot change the batch order")
    _, _, _, other = probe_training(student, epochs=2, batch_size=8, seed=4)
    expect(other[0].batches != quiet[0].batches, "seeds 3 and 4 gave the same batches",
           hint="seed the shuffling with the seed argument")


@points(2, task="train_model")
def test_same_seed_gives_the_same_result(student):
    """Training the same model twice with the same seed gives bitwise the same weights and history."""
    _, _, _, runs = probe_training(student, runs=2, noise=0.5, val=True, epochs=2, batch_size=8, seed=5)
    epochs_of(runs[0].batches, 2, 8)
    expect(isinstance(runs[0].history, dict), "train_model should return its history, a dict")
    expect_equal(runs[1].history, runs[0].history, "the histories of two identical runs",
                 hint="seed torch's global RNG with the seed too (torch.manual_seed(seed)), so the dropout "
                      "masks repeat")
    for name, value in runs[0].state_dict.items():
        expect_equal(runs[1].state_dict[name], value, f"{name} after two identical runs",
                     hint="seed torch's global RNG with the seed too (torch.manual_seed(seed)), so the dropout "
                          "masks repeat")


@points(1, task="train_model")
def test_dropout_masks_follow_the_seed(student):
    """torch's global RNG is seeded with `seed`: seeds 3 and 4 give the model different random numbers."""
    _, _, _, three = probe_training(student, noise=0.5, epochs=1, batch_size=8, seed=3)
    _, _, _, four = probe_training(student, noise=0.5, epochs=1, batch_size=8, seed=4)
    for runs in (three, four):
        epochs_of(runs[0].batches, 1, 8)
    expect(not torch.equal(three[0].noises[0], four[0].noises[0]),
           "with seeds 3 and 4 the model drew the same random numbers (its dropout masks would be the same)",
           hint="seed torch's global RNG with the seed argument, torch.manual_seed(seed), not with a constant")


@points(1, task="train_model")
def test_history_has_one_float_per_epoch(student):
    """With val_data the history holds train_loss, train_acc, val_loss and val_acc: one float per epoch each."""
    _, _, _, runs = probe_training(student, val=True, epochs=3, batch_size=8, seed=9)
    epochs_of(runs[0].batches, 3, 8)
    history = runs[0].history
    expect(isinstance(history, dict), "train_model should return a dict")
    expect_equal(sorted(history), ["train_acc", "train_loss", "val_acc", "val_loss"], "the history's keys")
    for name, values in history.items():
        expect(isinstance(values, list) and len(values) == 3, f"history['{name}'] should be a list of 3 numbers",
               hint="append one measurement per epoch")
        for value in values:
            expect_number(value, f"an entry of history['{name}']")


def history_entry(history, name, epoch):
    values = history.get(name) if isinstance(history, dict) else None
    expect(isinstance(values, list) and len(values) > epoch and is_number(values[epoch]),
           f"the history has no number for {name} after epoch {epoch + 1}",
           hint="return {'train_loss': [...], 'train_acc': [...], 'val_loss': [...], 'val_acc': [...]}, "
                "one float per epoch")
    return values[epoch]


@points(2, task="train_model")
def test_history_is_measured_in_eval_mode_after_each_epoch(student):
    """Every history entry is the eval-mode loss or accuracy, on the whole set, of the model as that epoch left it."""
    _, (X, y), (X_val, y_val), runs = probe_training(student, val=True, noise=0.5, epochs=3, batch_size=8, seed=6)
    run, per_epoch = runs[0], math.ceil(TRAIN_SIZE / 8)
    epochs_of(run.batches, 3, 8)
    weights_after = [run.weights_before[(epoch + 1) * per_epoch] for epoch in range(2)] + [run.state_dict]
    wrong = []
    for epoch, weights in enumerate(weights_after):
        for split, (inputs, labels) in {"train": (X, y), "val": (X_val, y_val)}.items():
            logits = probe_logits(weights, inputs)
            if not losses_close(history_entry(run.history, f"{split}_loss", epoch),
                                F.cross_entropy(logits, labels).item()):
                wrong.append(f"{split}_loss[{epoch}]")
            if not math.isclose(history_entry(run.history, f"{split}_acc", epoch),
                                (logits.argmax(1) == labels).double().mean().item(), abs_tol=1e-6):
                wrong.append(f"{split}_acc[{epoch}]")
    expect(not wrong, f"these history entries are not the eval-mode measurements of the model after their epoch: "
                      f"{', '.join(wrong)}",
           hint="after each epoch's training, measure the model with evaluate() (eval mode, the whole set); "
                "not the average of the training batches' losses, and not before the epoch's training")


@points(1, task="train_model")
def test_history_without_validation_data(student):
    """Without val_data the history holds train_loss and train_acc only."""
    _, _, _, runs = probe_training(student, epochs=2, batch_size=8, seed=7)
    epochs_of(runs[0].batches, 2, 8)
    expect(isinstance(runs[0].history, dict), "train_model should return a dict")
    expect_equal(sorted(runs[0].history), ["train_acc", "train_loss"], "the history's keys without val_data",
                 hint="add val_loss and val_acc only when val_data is given")


@points(2, task="train_model")
def test_each_batch_is_one_adam_step_on_the_mean_cross_entropy(student):
    """Replaying the batches it trained on with torch.optim.Adam and the mean cross-entropy gives the same weights."""
    state, (X, y), _, runs = probe_training(student, epochs=2, batch_size=16, lr=0.05, seed=8)
    epochs_of(runs[0].batches, 2, 16)
    probe = torch.nn.Linear(FEATURES - 1, CLASSES)
    probe.load_state_dict({"weight": state["linear.weight"], "bias": state["linear.bias"]})
    optimizer = torch.optim.Adam(probe.parameters(), lr=0.05)
    for batch in runs[0].batches:
        optimizer.zero_grad()
        F.cross_entropy(probe(X[batch, 1:]), y[batch]).backward()
        optimizer.step()
    hint = ("one optimizer step per batch with torch.optim.Adam(model.parameters(), lr=lr), on "
            "F.cross_entropy's default mean over the batch (not the sum), zeroing the gradients before each "
            "backward pass")
    expect_close(runs[0].state_dict["linear.weight"], probe.weight.detach(), "the weights after two epochs", hint=hint)
    expect_close(runs[0].state_dict["linear.bias"], probe.bias.detach(), "the bias after two epochs", hint=hint)


# --- compare_dropout (with known-good MLP and train_model, which record what it does) ---------------

SMALL = {"hidden_features": 8, "epochs": 2, "batch_size": 8}


def small_data(seed, num_classes=3):
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(24, 6, generator=generator), torch.randint(0, num_classes, (24,), generator=generator))


def compare_run(student, train_set, val_set, seed, **options):
    """compare_dropout's results by p, and the scenario's records of its MLP builds and train_model calls."""
    got = student.run("compare", train_set, val_set, seed, **options)
    results = {}
    for p, result in got.arms:
        expect(is_number(p), f"compare_dropout's keys should be the probabilities themselves, "
                             f"not {type(p).__name__}", hint="return {p: result for each p in ps}")
        results[float(p)] = result
    return results, got.builds, got.trainings


def arm_value(results, p, name):
    """results[p][name], or a failure that says which part of compare_dropout's answer is missing."""
    result = results.get(p)
    expect(isinstance(result, dict) and name in result, f"compare_dropout gave no '{name}' for p = {p}",
           hint="return {p: {'history': ..., 'train_loss': ..., 'val_loss': ..., 'train_acc': ..., 'val_acc': ...}}")
    return result[name] if name == "history" else expect_number(result[name], f"'{name}' for p = {p}")


def trained_mlps(builds, trainings, arm_count):
    """The build record of the MLP behind every train_model call, checking there is one per arm."""
    expect(len(trainings) == arm_count and all(training.build is not None for training in trainings),
           f"compare_dropout made {len(trainings)} train_model calls, on {sum(t.build is not None for t in trainings)} "
           f"models built with MLP, for {arm_count} arms",
           hint="for every p, build one MLP (with MLP, not a network of your own) and train it once with "
                "train_model")
    return [builds[training.build] for training in trainings]


def seeded_mlp_weights(seed, build):
    """The weights MLP(**build) draws right after torch.manual_seed(seed), built with PyTorch's nn.Linear."""
    sizes = [build.in_features] + [build.hidden_features] * build.num_hidden_layers + [build.out_features]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers = [torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])]
    return [tensor.detach() for layer in layers for tensor in (layer.weight, layer.bias)]


@points(2, task="compare_dropout")
def test_compare_returns_one_result_per_p(student):
    """One result per p: the history train_model returned for that arm, and its final train/validation numbers."""
    options = {**SMALL, "epochs": 3, "lr": 0.05}     # the validation loss rises: last != best
    results, _, trainings = compare_run(student, small_data(70), small_data(71), 1, ps=(0.0, 0.25, 0.5), **options)
    expect(sorted(results) == [0.0, 0.25, 0.5], "compare_dropout should return one result for each p in ps")
    returned, used = [training.history for training in trainings], set()
    for p in (0.0, 0.25, 0.5):
        history = arm_value(results, p, "history")
        expect(isinstance(history, dict) and all(isinstance(history.get(name), list) and len(history[name]) == 3
                                                 for name in ("train_loss", "train_acc", "val_loss", "val_acc")),
               f"the history for p = {p} should hold 3 epochs of train and validation measurements",
               hint="train each arm with train_model(..., val_data=val_data)")
        match = next((index for index, value in enumerate(returned) if index not in used and value == history), None)
        expect(match is not None, f"the history for p = {p} is not the history one of the arms' train_model calls "
                                  f"returned", hint="return each arm's train_model history as it is")
        used.add(match)
        for name in ("train_loss", "val_loss", "train_acc", "val_acc"):
            expect(arm_value(results, p, name) == history[name][-1],
                   f"result['{name}'] for p = {p} should be the history's last value",
                   hint="report the final epoch's values, not the best ones")


@points(3, task="compare_dropout")
def test_every_arm_starts_alike_and_sees_the_same_batches(student):
    """Every arm trains a fresh MLP built right after torch.manual_seed(seed), on the same batches as the others.

    (Run with known-good MLP and train_model, which record each arm's starting weights and batches.)
    """
    ps = (0.5, 0.0, 0.25)
    _, builds, trainings = compare_run(student, small_data(72), small_data(73), 2, ps=ps, **SMALL)
    arms = trained_mlps(builds, trainings, len(ps))
    for order, build, training in zip(("first", "second", "third"), arms, trainings):
        want = seeded_mlp_weights(2, build)
        expect(len(training.start) == len(want) and all(torch.equal(got, start)
                                                        for got, start in zip(training.start, want)),
               f"the MLP trained {order} (built with p = {build.p}) did not start from the weights an MLP "
               f"gets right after torch.manual_seed(seed)",
               hint="compare_dropout runs with known-good MLP and train_model here. For every arm, call "
                    "torch.manual_seed(seed) right before building its MLP (not once before the loop, and with "
                    "nothing drawing random numbers in between), and build a new MLP: never train a model from "
                    "an earlier arm again")
    for order, training in zip(("second", "third"), trainings[1:]):
        expect(training.batches == trainings[0].batches,
               f"the MLP trained {order} saw other batches than the one trained first",
               hint="compare_dropout runs with known-good MLP and train_model here: train every arm with "
                    "train_model(..., batch_size=batch_size, seed=seed), the same seed for every arm, so that "
                    "every arm sees the same batches")


@points(2, task="compare_dropout")
def test_compare_passes_its_settings_on(student):
    """Each arm's MLP and train_model get compare_dropout's settings: sizes, p, epochs, lr, batch_size, seed, data.

    MLP(in_features, hidden_features, K, p=p) with two hidden layers, trained with train_model given
    epochs, lr, batch_size, seed, the training set and val_data. (Run with known-good MLP and
    train_model, which record how they are called.)
    """
    ps, settings = (0.0, 0.5), {"hidden_features": 7, "epochs": 2, "lr": 0.02, "batch_size": 5}
    train, val = small_data(74), small_data(75)
    _, builds, trainings = compare_run(student, train, val, 4, ps=ps, **settings)
    arms = trained_mlps(builds, trainings, len(ps))
    wrong = set()
    if sorted(build.p for build in arms) != sorted(ps):
        wrong.add("p to MLP")
    for build, training in zip(arms, trainings):
        wrong |= {f"{name} to MLP" for name, want in (("in_features", 6), ("hidden_features", 7),
                                                      ("num_hidden_layers", 2)) if build[name] != want}
        wrong |= {f"{name} to train_model" for name, want in (("epochs", 2), ("lr", 0.02), ("batch_size", 5),
                                                              ("seed", 4)) if training[name] != want}
        wrong |= {f"the {name.removeprefix('on_').replace('_', ' ')} to train_model"
                  for name in ("on_training_set", "on_validation_set") if not training[name]}
    expect(not wrong, f"compare_dropout did not pass on {', '.join(sorted(wrong))}",
           hint="compare_dropout runs with known-good MLP and train_model here: build each arm as "
                "MLP(in_features, hidden_features, K, p=p) and train it with train_model(model, train_data, "
                "epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, val_data=val_data)")


@points(1, task="compare_dropout")
def test_compare_counts_the_classes_of_both_sets(student):
    """The MLPs have K outputs, K being the largest label in either set plus 1 (here in the validation set).

    (Run with known-good MLP and a train_model that records the models without training them.)
    """
    train, (X_val, y_val) = small_data(76), small_data(77)
    y_val = y_val.clone()
    y_val[0] = 4                                   # labels 0-2 in training, up to 4 in validation: K = 5
    _, builds, trainings = compare_run(student, train, (X_val, y_val), 0, ps=(0.0, 0.5), train=False, **SMALL)
    arms = trained_mlps(builds, trainings, 2)
    outputs = sorted({build.out_features for build in arms})
    expect(outputs == [5], f"the MLPs were built with {' and '.join(map(str, outputs))} outputs, for labels 0 to 4",
           hint="K is the largest label in the training or the validation set, plus 1")


# Full-batch Adam at a high rate memorises the noisy labels within 50 epochs, so the effect shows
# in a fraction of a second. tests/test_dropout_effect.py checks the reference on this seed and on
# 40 others: its smallest gap there is about four times the margin.
EFFECT_SEED = 0
EFFECT_VALIDATION_SIZE = 400
EFFECT_SETUP = {"hidden_features": 128, "epochs": 50, "lr": 5e-3, "batch_size": 200}
EFFECT_MARGIN = 0.05


def effect_data(seed):
    """The effect's noisy digits: 200 training images (20% wrong labels), 400 validation images."""
    return noisy_digits(seed, val_size=EFFECT_VALIDATION_SIZE)


@points(2, task="compare_dropout")
def test_dropout_lowers_validation_loss_on_noisy_digits(student):
    """On digits with 20% label noise, p = 0.5 ends with a clearly lower validation loss than p = 0.

    Run with known-good MLP and train_model, a compare_dropout that follows its docstring reproduces
    the reference's run exactly: nothing is left to chance (the reference's gap on this seed is more
    than twice the margin, tests/test_dropout_effect.py).
    """
    train, val = effect_data(EFFECT_SEED)
    results, _, _ = compare_run(student, train, val, EFFECT_SEED, ps=(0.0, 0.5), **EFFECT_SETUP)
    without, with_dropout = arm_value(results, 0.0, "val_loss"), arm_value(results, 0.5, "val_loss")
    expect(with_dropout < without - EFFECT_MARGIN,
           f"validation loss {with_dropout:.3f} with dropout against {without:.3f} without: "
           f"dropout should lower it by more than {EFFECT_MARGIN}",
           hint="compare_dropout ran with known-good MLP and train_model here: build each arm's MLP with its "
                "own p, train it on the training set with the given settings, and report its final "
                "validation loss")
