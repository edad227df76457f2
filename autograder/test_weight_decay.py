"""Hidden graders for the weight_decay exercise.

Expected values come from hand-computed fixtures, from torch.optim.SGD itself (computed here, in
the trusted process), from the closed-form ridge solution, from data built so that the answer is
known whatever the initial weights are, and from the effects the lecture promises, checked on
seeds on which the reference shows them (tests/test_weight_decay_effect.py).

Each scenario runs only the task it grades, with known-good versions of the other tasks in the
student's module (autograder/scenarios/weight_decay.py): a sweep that calls the student's own
sgd_step loses no sweep points for a mistake in sgd_step. Where a check depends on chance (the
order of the batches, the initial weights), its docstring states the probability that a correct
submission fails it; every such probability is below 1e-6.
"""

import math
import weakref

import torch
import torch._dynamo  # an optimizer imports it on first use (a second): here, at collection, while the zygote boots
import torch.nn.functional as F
from torch import nn

from coursekit.datasets import sparse_linear_regression
from coursekit.grading.api import (
    exercise,
    expect,
    expect_close,
    expect_equal,
    expect_number,
    expect_tensor,
    is_number,
    points,
    seeded_randn,
)

pytestmark = exercise("weight_decay")

# A weight matrix and a bias whose penalties are easy by hand:
#   squares 1 + 4 + 0.25 + 0 + 9 + 1 = 15.25;  absolute values 1 + 2 + 0.5 + 0 + 3 + 1 = 7.5
W = torch.tensor([[1.0, -2.0], [0.5, 0.0]])
B = torch.tensor([3.0, -1.0])


def penalty(student, name, parameters, lam):
    got = student.run("penalty", name, parameters, lam)
    expect_tensor(got.value, f"{name}'s value", shape=(),
                  hint="return a 0-dim tensor (a sum), not a Python float or a per-parameter list")
    return got


def expect_no_parameters_is_zero(student, name, by_hand):
    """name([], 0.2) is a 0-dim tensor holding 0, paid only when name([W, B], 0.2) is right too."""
    got = student.run("penalty_of_no_parameters", name, 0.2, [W, B])
    expect(isinstance(got.value, torch.Tensor) and got.value.shape == ()
           and math.isclose(got.value.item(), by_hand, rel_tol=1e-5),
           f"{name}([W, b], 0.2) is not a 0-dim tensor holding the penalty of the worked example, so the empty "
           "case earns nothing yet", hint=f"first make {name} right on the worked example (test_{name}_by_hand)")
    expect_tensor(got.empty, f"{name}([], 0.2)", shape=(),
                  hint="start the sum from a 0-dim tensor (torch.zeros(())): Python's sum([]) is the int 0, "
                       "and torch.stack([]) raises")
    expect_equal(got.empty.item(), 0.0, f"{name}([], 0.2)")


# --- l2_penalty ---------------------------------------------------------------------------------

@points(3, task="l2_penalty")
def test_l2_penalty_by_hand(student):
    """l2_penalty([W, b], 0.2) is (0.2 / 2) * 15.25 for a hand-checked W and b."""
    got = penalty(student, "l2_penalty", [W, B], 0.2)
    expect_close(got.value, torch.tensor(0.1 * 15.25), "l2_penalty on the worked example",
                 hint="(lam / 2) times the sum of the squares of every entry: not lam times it, and not "
                      "the norm (a square root)")


@points(3, task="l2_penalty")
def test_l2_penalty_gradient_is_lam_times_w(student):
    """The gradient of l2_penalty with respect to each parameter is lam * w."""
    parameters = [seeded_randn(5, 3, seed=1), seeded_randn(3, seed=2)]
    got = penalty(student, "l2_penalty", parameters, 0.7)
    expect(got.differentiable, "l2_penalty's result has no gradient",
           hint="build it from tensor operations; .item(), float() or torch.no_grad() cut it off the graph")
    for index, (grad, p) in enumerate(zip(got.grads, parameters)):
        expect_close(grad, 0.7 * p, f"the gradient with respect to parameter {index + 1}",
                     hint="d/dw of (lam / 2) * ||w||^2 is lam * w")


@points(3, task="l2_penalty")
def test_l2_penalty_plus_plain_sgd_is_sgd_weight_decay(student):
    """Plain SGD on the loss plus l2_penalty(model.parameters(), lam) equals torch's SGD with weight_decay=lam."""
    model = nn.Linear(4, 1)
    state = {"weight": seeded_randn(1, 4, seed=3), "bias": seeded_randn(1, seed=4)}
    X, y = seeded_randn(16, 4, seed=5), seeded_randn(16, 1, seed=6)
    got = student.run("penalised_sgd_steps", state, X, y, 0.5, 0.1, 3)
    model.load_state_dict(state)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, weight_decay=0.5)
    for _ in range(3):
        optimizer.zero_grad()
        F.mse_loss(model(X), y).backward()
        optimizer.step()
    expect_close(got.state_dict["weight"], model.weight.detach(), "the weight after three steps",
                 hint="SGD's weight_decay=lam adds lam * w to the gradient, which is the gradient of "
                      "(lam / 2) * ||w||^2: mind the factor 1/2, keep the penalty on the autograd graph, and "
                      "count every parameter of model.parameters() (a generator: it can be read only once)")


@points(1, task="l2_penalty")
def test_l2_penalty_of_no_parameters_is_zero(student):
    """With no parameters the penalty is a 0-dim tensor holding 0 (paid only when the worked example is right)."""
    expect_no_parameters_is_zero(student, "l2_penalty", 0.1 * 15.25)


# --- l1_penalty ---------------------------------------------------------------------------------

@points(2, task="l1_penalty")
def test_l1_penalty_by_hand(student):
    """l1_penalty([W, b], 0.2) is 0.2 * 7.5 for a hand-checked W and b (with negative entries)."""
    got = penalty(student, "l1_penalty", [W, B], 0.2)
    expect_close(got.value, torch.tensor(0.2 * 7.5), "l1_penalty on the worked example",
                 hint="lam times the sum of the *absolute* values of every entry (no factor 1/2)")


@points(2, task="l1_penalty")
def test_l1_penalty_gradient_is_lam_times_sign(student):
    """The gradient of l1_penalty is lam * sign(w), 0 where w is exactly 0."""
    parameters = [W.clone(), seeded_randn(4, seed=7)]
    got = penalty(student, "l1_penalty", parameters, 0.3)
    expect(got.differentiable, "l1_penalty's result has no gradient",
           hint="build it from tensor operations (abs, sum); .item() cuts it off the graph")
    for index, (grad, p) in enumerate(zip(got.grads, parameters)):
        expect_close(grad, 0.3 * torch.sign(p), f"the gradient with respect to parameter {index + 1}",
                     hint="lam * sign(w): the absolute values, times lam (no factor 1/2)")


@points(1, task="l1_penalty")
def test_l1_penalty_of_a_models_parameters(student):
    """l1_penalty(model.parameters(), lam), a generator, counts every entry of every parameter once."""
    state = {"weight": seeded_randn(2, 3, seed=8), "bias": seeded_randn(2, seed=9)}
    got = student.run("penalty_of_a_model", "l1_penalty", state, 0.4)
    want = 0.4 * (state["weight"].abs().sum() + state["bias"].abs().sum())
    expect_tensor(got.value, "l1_penalty(model.parameters(), 0.4)", shape=(),
                  hint="accept any iterable of tensors: model.parameters() is a generator, which has no len() "
                       "and can be read only once (the given list(parameters) handles both)")
    expect_close(got.value, want, "l1_penalty(model.parameters(), 0.4)",
                 hint="model.parameters() is a generator: read it once (list(parameters)) and add up every "
                      "parameter's absolute values")


@points(1, task="l1_penalty")
def test_l1_penalty_of_no_parameters_is_zero(student):
    """With no parameters the L1 penalty is a 0-dim tensor holding 0 (paid only when the worked example is right)."""
    expect_no_parameters_is_zero(student, "l1_penalty", 0.2 * 7.5)


# --- sgd_step -----------------------------------------------------------------------------------

def torch_sgd(state, X, y, lr, steps, weight_decay=0.0, freeze_bias=False):
    model = nn.Linear(X.shape[1], 1)
    model.load_state_dict(state)
    model.bias.requires_grad_(not freeze_bias)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr,
                                momentum=0, weight_decay=weight_decay)
    for _ in range(steps):
        optimizer.zero_grad()
        F.mse_loss(model(X), y).backward()
        optimizer.step()
    return {name: value.detach() for name, value in model.state_dict().items()}


SGD_STATE = {"weight": seeded_randn(1, 4, seed=10), "bias": seeded_randn(1, seed=11)}
SGD_X, SGD_Y = seeded_randn(16, 4, seed=12), seeded_randn(16, 1, seed=13)
SGD_HINT = "p <- p - lr * (p.grad + weight_decay * p), in place: the decay is multiplied by lr too"


@points(3, task="sgd_step")
def test_sgd_step_matches_torch_sgd_with_weight_decay(student):
    """Four sgd_step calls with weight_decay=0.3 match torch.optim.SGD(lr, momentum=0, weight_decay=0.3)."""
    got = student.run("sgd_steps", SGD_STATE, SGD_X, SGD_Y, 0.05, 4, weight_decay=0.3)
    want = torch_sgd(SGD_STATE, SGD_X, SGD_Y, 0.05, 4, weight_decay=0.3)
    for name in ("weight", "bias"):
        expect_close(got.state_dict[name], want[name], f"the {name} after four steps", hint=SGD_HINT)


@points(2, task="sgd_step")
def test_sgd_step_without_weight_decay(student):
    """With the default weight_decay, sgd_step is plain gradient descent."""
    got = student.run("sgd_steps", SGD_STATE, SGD_X, SGD_Y, 0.1, 3)
    want = torch_sgd(SGD_STATE, SGD_X, SGD_Y, 0.1, 3)
    for name in ("weight", "bias"):
        expect_close(got.state_dict[name], want[name], f"the {name} after three steps",
                     hint="weight_decay defaults to 0.0: then the step is p <- p - lr * p.grad")


@points(2, task="sgd_step")
def test_sgd_step_updates_in_place_outside_autograd(student):
    """sgd_step updates the parameters in place and returns None; they stay parameters that require grad."""
    got = student.run("sgd_steps", SGD_STATE, SGD_X, SGD_Y, 0.05, 1, weight_decay=0.1)
    want = torch_sgd(SGD_STATE, SGD_X, SGD_Y, 0.05, 1, weight_decay=0.1)
    expect_close(got.state_dict["weight"], want["weight"], "the weight after one step",
                 hint="update each parameter tensor in place (p.sub_(...)); rebinding the name (p = p - ...) "
                      "changes nothing outside the loop")
    expect(all(got.requires_grad.values()), "after sgd_step a parameter no longer requires grad",
           hint="update under torch.no_grad(); do not detach_() the parameters or switch off their requires_grad")
    expect(got.returned_none, "sgd_step returned something other than None",
           hint="the update happens in place, like torch's optimizer.step(): return nothing")


@points(1, task="sgd_step")
def test_sgd_step_skips_parameters_without_gradient(student):
    """A parameter whose .grad is None is left alone, as torch's optimizers do."""
    got = student.run("sgd_steps", SGD_STATE, SGD_X, SGD_Y, 0.05, 2, weight_decay=0.2, freeze_bias=True)
    want = torch_sgd(SGD_STATE, SGD_X, SGD_Y, 0.05, 2, weight_decay=0.2, freeze_bias=True)
    expect_close(got.state_dict["weight"], want["weight"], "the weight after two steps", hint=SGD_HINT)
    expect_equal(got.state_dict["bias"], SGD_STATE["bias"], "the bias, which had no gradient",
                 hint="skip parameters whose .grad is None (do not decay them either)")


# --- decay_param_groups -------------------------------------------------------------------------

DECAYED = ["0.weight", "4.0.weight", "5.proj", "6.weight"]   # conv kernel, Linear weights, a free matrix


def split_by_decay(got, weight_decay):
    """(names in groups whose weight_decay is `weight_decay`, names in the other groups)."""
    decayed, others = [], []
    for group in got.groups:
        (decayed if group["weight_decay"] == weight_decay else others).extend(group["params"])
    return decayed, others


@points(4, task="decay_param_groups")
def test_every_parameter_appears_exactly_once(student):
    """Every parameter of a model with nested blocks and custom layers is in exactly one group, once."""
    got = student.run("param_groups", 0.01)
    expect(isinstance(got.groups, list), "decay_param_groups should return a list of dicts")
    decayed, others = split_by_decay(got, 0.01)
    expect(decayed and others, "the groups do not split the parameters into decayed and undecayed ones, so "
           "their coverage earns nothing yet",
           hint="one group with \"weight_decay\": weight_decay, another with 0.0")
    listed = sorted(name for group in got.groups for name in group["params"])
    expect("?" not in listed, "a group holds a tensor that is not one of the model's parameters",
           hint="put the model's own parameter tensors in the groups (from model.parameters())")
    missing, doubled = set(got.all_names) - set(listed), len(listed) - len(set(listed))
    expect(not missing and not doubled and len(listed) == len(got.all_names),
           f"{len(missing)} parameter(s) are in no group and {doubled} appear more than once",
           hint="walk model.parameters() or model.named_parameters(): they recurse into every submodule and list "
                "each parameter once, whatever its name")
    expect(got.sgd_error == "", f"torch.optim.SGD refused the groups: {got.sgd_error}")


@points(4, task="decay_param_groups")
def test_weights_decay_biases_and_norm_parameters_do_not(student):
    """Every matrix or kernel gets weight_decay; every bias, 1-D or 0-dim parameter 0.0, each group saying so."""
    got = student.run("param_groups", 0.01)
    expect(isinstance(got.groups, list), "decay_param_groups should return a list of dicts")
    decays = [group["weight_decay"] for group in got.groups]
    expect(all(is_number(decay) and decay in (0.0, 0.01) for decay in decays),
           "every group's \"weight_decay\" should be the float weight_decay or 0.0; got "
           + ", ".join(repr(decay) if is_number(decay) else str(decay) for decay in decays),
           hint="give every group its own \"weight_decay\" entry, 0.0 included: a group without one takes the "
                "optimizer's default, which is 0.01 for AdamW")
    decayed = set(split_by_decay(got, 0.01)[0])
    hint = ("decay every parameter with 2 or more dimensions (matrices, kernels); biases and every parameter "
            "with one dimension or none (normalisation layers' weight and bias, scales, a scalar) get 0.0")
    expect(decayed <= set(DECAYED), f"{len(decayed - set(DECAYED))} bias, 1-D or 0-dim parameter(s) are decayed",
           hint=hint)
    expect(decayed >= set(DECAYED), f"{len(set(DECAYED) - decayed)} matrix or kernel parameter(s) are not decayed",
           hint=hint)


# --- sweep_weight_decay -------------------------------------------------------------------------

KEYS = ("weight_decay", "train_loss", "val_loss", "weight_norm")


def as_number(value, what):
    """A plain number, or a one-element tensor read as one (test_sweep_reports_python_floats checks the type)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value)
    return expect_number(value, what, hint="each value is a number (a Python float)")


def sweep(student, train, val, decays, seed, *, worker_seed=0, **options):
    """The student's sweep, its values read as numbers (the type has its own test).

    worker_seed: the global random state the worker sets before the call (torch.manual_seed).
    """
    got = student.run("sweep", train, val, list(decays), seed, seed=worker_seed, **options)
    results = got.results
    expect(isinstance(results, list) and len(results) == len(decays),
           f"sweep_weight_decay should return a list with one dict per value ({len(decays)})")
    read = []
    for result in results:
        expect(isinstance(result, dict) and set(KEYS) <= set(result),
               "each result should be a dict with weight_decay, train_loss, val_loss and weight_norm")
        read.append({key: as_number(result[key], f"result['{key}']") for key in KEYS})
    return read


def expect_trained(results, what):
    """Side properties pay only for a sweep that trains: distinct values must give distinct results."""
    measured = [(result["train_loss"], result["val_loss"], result["weight_norm"]) for result in results]
    expect(len(set(measured)) == len(measured) and all(all(map(math.isfinite, m)) for m in measured),
           f"{what}: different weight decays gave the same losses and norm (or NaN), so this property "
           "earns nothing yet",
           hint="train one model per value, with that value as the decay of its weight")


def same_results(got, want):
    """Two sweeps' results agree: the same values, numbers equal up to float32 rounding (1e-5 relative).

    A correct sweep repeats its own arithmetic exactly; the tolerance only spares one that trains
    all the values at once, whose rounding may depend on where a value sits in the list. Every
    mistake these comparisons catch moves the results by more than 1e-3.
    """
    return len(got) == len(want) and all(
        a["weight_decay"] == b["weight_decay"]
        and all(math.isclose(a[key], b[key], rel_tol=1e-5, abs_tol=1e-9) for key in KEYS[1:])
        for a, b in zip(got, want))


def ridge(train, val, lam):
    """The minimiser of mean((X w + b - y)^2) + (lam / 2) ||w||^2 (b not penalised), in float64.

    Returns its training MSE, validation MSE (both without the penalty) and ||w||.
    """
    X, y = train[0].double(), train[1].double()
    Xc, yc = X - X.mean(0), y - y.mean()
    n = len(y)
    w = torch.linalg.solve(2.0 / n * Xc.T @ Xc + lam * torch.eye(X.shape[1], dtype=torch.float64), 2.0 / n * Xc.T @ yc)
    b = y.mean() - X.mean(0) @ w
    X_val, y_val = val[0].double(), val[1].double()
    return {"train_loss": ((X @ w + b - y) ** 2).mean().item(),
            "val_loss": ((X_val @ w + b - y_val) ** 2).mean().item(), "weight_norm": w.norm().item()}


def ridge_data():
    """12 training and 12 validation samples of y = x . (1.5, -0.5, 0.8) + 0.7 + noise."""
    generator = torch.Generator().manual_seed(20)
    X = torch.randn(24, 3, generator=generator)
    y = X @ torch.tensor([1.5, -0.5, 0.8]) + 0.7 + 0.3 * torch.randn(24, generator=generator)
    return (X[:12], y[:12]), (X[12:], y[12:])


@points(4, task="sweep_weight_decay")
def test_sweep_converges_to_the_ridge_solution(student):
    """Trained to convergence, each value's train_loss, val_loss (no penalty) and ||w|| are the ridge solution's."""
    train, val = ridge_data()
    decays = [0.0, 0.5, 2.0]
    # Full-batch steps, so the order of the samples does not matter; from every initial weight that
    # nn.Linear(3, 1) draws, 120 epochs come within 2e-6 (relative) of the ridge values (50 starts
    # tried), a thousand times below the tolerance.
    results = sweep(student, train, val, decays, 0, epochs=120, lr=0.2, batch_size=12)
    for result, lam in zip(results, decays):
        want = ridge(train, val, lam)
        for key, measured_on in (("train_loss", "the training set"), ("val_loss", "the validation set")):
            expect(math.isclose(result[key], want[key], rel_tol=2e-3, abs_tol=1e-5),
                   f"{key} is {abs(result[key] / want[key] - 1):.1%} away from the ridge solution's mean squared "
                   f"error on {measured_on}",
                   hint="report the plain MSE (no penalty) of the final model, train_loss on train_data and "
                        "val_loss on val_data; decay the weight only, never the bias; the loss is the *mean* "
                        "squared error of each batch")
        expect(math.isclose(result["weight_norm"], want["weight_norm"], rel_tol=2e-3, abs_tol=1e-5),
               f"weight_norm is {abs(result['weight_norm'] / want['weight_norm'] - 1):.1%} away from the ridge "
               "solution's ||w||",
               hint="weight_norm is ||w|| of the final weight, the square root of the sum of squares "
                    "(model.weight.norm()); decay the weight only")


@points(1, task="sweep_weight_decay")
def test_sweep_keeps_the_order_of_the_values(student):
    """Results come back in the order of weight_decays, each naming its value."""
    train, val = sparse_linear_regression(5)
    decays = [3.0, 0.0, 1.0]
    results = sweep(student, train, val, decays, 5, epochs=1)
    expect_trained(results, "the order of the results")
    expect([result["weight_decay"] for result in results] == decays,
           "the results are not in the order of weight_decays, each naming its value",
           hint="append one result per value as you go through weight_decays; do not sort them")


@points(1, task="sweep_weight_decay")
def test_sweep_reports_python_floats(student):
    """Each result holds weight_decay, train_loss, val_loss and weight_norm as Python floats, not tensors."""
    train, val = sparse_linear_regression(5)
    got = student.run("sweep", train, val, [0.0, 1.0], 5, epochs=1)
    results = got.results
    expect(isinstance(results, list) and len(results) == 2 and all(isinstance(result, dict) for result in results),
           "sweep_weight_decay should return a list with one dict per value")
    expect_trained([{key: as_number(result.get(key), key) for key in KEYS[1:]} for result in results],
                   "the type of the values")
    for result in results:
        for key in KEYS:
            expect(isinstance(result[key], float), f"result['{key}'] is a {type(result[key]).__name__}, not a float",
                   hint="turn 0-dim tensors into floats with .item(), and the decay with float(weight_decay)")


@points(1, task="sweep_weight_decay")
def test_sweep_accepts_targets_of_shape_n_by_1(student):
    """Targets of shape (N, 1) give exactly the results of the same targets of shape (N,)."""
    (X, y), (X_val, y_val) = sparse_linear_regression(8)
    flat = sweep(student, (X, y), (X_val, y_val), [0.0, 1.0], 8, epochs=1)
    column = sweep(student, (X, y[:, None]), (X_val, y_val[:, None]), [0.0, 1.0], 8, epochs=1)
    expect_trained(flat, "targets of shape (N, 1)")
    expect(same_results(column, flat), "targets of shape (N, 1) gave other results than the same targets of shape (N,)",
           hint="turn y into a column (N, 1) whatever its shape, as the given _as_column does: predictions of "
                "shape (B, 1) against targets of another shape broadcast into a wrong loss")


# Probe data on which the answer does not depend on the initial weights: every input is 0, so the
# weight never gets a gradient (only its decay, a factor (1 - lr * weight_decay) per step), and a
# step of lr = 0.5 on the mean squared error sets the bias to the mean target of its batch exactly:
# b - 0.5 * 2 * (b - mean(y)) = mean(y). The validation targets are 0, so val_loss = b^2.
PROBE_SIZE = 32


def probe_data():
    targets = torch.arange(1.0, PROBE_SIZE + 1.0)
    return (torch.zeros(PROBE_SIZE, 1), targets), (torch.zeros(4, 1), torch.zeros(4))


@points(2, task="sweep_weight_decay")
def test_sweep_takes_epochs_times_batches_steps_of_size_lr(student):
    """Each epoch takes one plain SGD step of size lr per mini-batch of batch_size, for `epochs` epochs."""
    results = sweep(student, *probe_data(), [0.0, 0.1], 3, epochs=3, lr=0.5, batch_size=4)
    steps = 3 * PROBE_SIZE // 4
    want = (1 - 0.5 * 0.1) ** steps      # the weight has no gradient: each step only decays it
    # float32 rounding moves the ratio by about 1e-6, a thousandth of the tolerance; a step more or
    # less moves it by 5%.
    got = results[1]["weight_norm"] / results[0]["weight_norm"] if results[0]["weight_norm"] > 0 else math.nan
    expect(math.isclose(got, want, rel_tol=1e-3),
           f"on data where the weight gets no gradient, decay 0.1 left {got:.4g} of the weight's norm, not the "
           f"(1 - lr * 0.1)^{steps} = {want:.4g} of {steps} steps (3 epochs of {PROBE_SIZE} samples in batches of 4)",
           hint="train for `epochs` epochs; in each, one step per batch of `batch_size` samples, of size `lr`, "
                "with no momentum and the weight decayed by weight_decay in every step; both runs start "
                "from the same weights")


@points(2, task="sweep_weight_decay")
def test_sweep_shuffles_each_epoch_from_the_seed(student):
    """Each epoch visits the training samples in a new order, drawn from the seed.

    With batch_size 1 and lr 0.5 on the probe data the final bias is the target of the last sample
    of the last epoch. Six seeds (one epoch each) and six epoch counts (one seed) must not all end on
    the same sample. A correct sweep, whose last sample is uniform over the 32 in every epoch and
    seed, fails with probability 2 * 32**-5 = 6e-8.
    """
    train, val = probe_data()
    runs = {(seed, 1) for seed in range(20, 26)} | {(20, epochs) for epochs in range(1, 7)}
    last = {}
    for seed, epochs in sorted(runs):
        result = sweep(student, train, val, [0.0], seed, epochs=epochs, lr=0.5, batch_size=1)[0]
        bias = math.sqrt(result["val_loss"]) if math.isfinite(result["val_loss"]) and result["val_loss"] >= 0 else 0.5
        expect(abs(bias - round(bias)) < 1e-3 and 1 <= round(bias) <= PROBE_SIZE,
               "with batch_size=1 and lr=0.5, the final bias should be one training sample's target (a step of 0.5 "
               "on one sample's squared error lands on its target), but it is not",
               hint="one sample per batch when batch_size is 1, steps of size lr on the mean squared error, and "
                    "val_loss measured on val_data")
        last[seed, epochs] = round(bias)
    expect(len({last[seed, 1] for seed in range(20, 26)}) > 1,
           "six seeds ended their epoch on the same training sample: the order of the batches does not depend on "
           "the seed", hint="shuffle with torch.Generator().manual_seed(seed), e.g. torch.randperm(N, generator=...)")
    expect(len({last[20, epochs] for epochs in range(1, 7)}) > 1,
           "epochs 1 to 6 all ended on the same training sample: every epoch visits the samples in the same order",
           hint="draw a new permutation for every epoch from the one generator (do not reseed it each epoch)")


@points(1, task="sweep_weight_decay")
def test_sweep_draws_the_initial_weights_from_the_seed(student):
    """Different seeds start from different initial weights.

    On the probe data the weight never moves without decay, so weight_norm is the initial ||w||. A
    correct sweep gives three seeds the same norm only if nn.Linear(1, 1) draws the same |w| three
    times: probability below 1e-12.
    """
    train, val = probe_data()
    runs = [sweep(student, train, val, [0.0, 0.1], seed, epochs=1, lr=0.5, batch_size=1) for seed in (20, 21, 22)]
    expect_trained(runs[0], "the initial weights")
    norms = [results[0]["weight_norm"] for results in runs]
    expect(len(set(norms)) > 1 and all(norm > 0 for norm in norms),
           "seeds 20, 21 and 22 started from the same initial weight",
           hint="draw the initial weights after torch.manual_seed(seed), with the seed argument")


@points(1, task="sweep_weight_decay")
def test_sweep_is_deterministic_for_a_seed(student):
    """Two sweeps with the same seed give the same results, whatever the random state before the call."""
    train, val = sparse_linear_regression(7)
    first = sweep(student, train, val, [0.0, 1.0], 7, epochs=2, worker_seed=1)
    again = sweep(student, train, val, [0.0, 1.0], 7, epochs=2, worker_seed=2)
    expect_trained(first, "determinism")
    expect(same_results(again, first), "two sweeps with the same seed gave different results",
           hint="call torch.manual_seed(seed) before drawing the initial weights, and shuffle with a "
                "torch.Generator().manual_seed(seed), not with the global random state")


EFFECT_SEEDS = (0,)        # the notebook's data and seed; tests/test_weight_decay_effect.py checks the reference
EFFECT_DECAYS = [0.0, 1.0, 3.0, 10.0]
EFFECT_EPOCHS = 100        # the default, as in the notebook: after 50 the run without decay has not settled
GOOD_DECAY = 3.0

# The false-failure probabilities below come from the spread of each effect over 120 other
# starting weights and batch orders on the same data (a correct sweep that draws its start or its
# batches differently sees another of these), the log-ratios being close to normal; the smallest
# margin is the training loss of decay 1 against 0, 6.0 standard deviations. The three tests
# together fail a correct sweep with probability below 2e-9.

_EFFECT_SWEEPS = weakref.WeakKeyDictionary()     # the three effect tests share one sweep per student


def effect_sweeps(student):
    if student not in _EFFECT_SWEEPS:
        _EFFECT_SWEEPS[student] = [(seed, sweep(student, *sparse_linear_regression(seed), EFFECT_DECAYS, seed,
                                                epochs=EFFECT_EPOCHS))
                                   for seed in EFFECT_SEEDS]
    return _EFFECT_SWEEPS[student]


@points(3, task="sweep_weight_decay")
def test_weight_norm_shrinks_as_the_decay_grows(student):
    """On the notebook's regression, ||w|| falls as the decay grows (0, 1, 3, 10).

    Each log-ratio of consecutive norms lies 13 or more standard deviations above 0: a correct
    sweep fails with probability below 1e-30.
    """
    for _, results in effect_sweeps(student):
        norms = [result["weight_norm"] for result in results]
        expect(all(a > b for a, b in zip(norms, norms[1:])),
               "the weight norm did not fall as the decay grew: "
               + ", ".join(f"{d:g}: {n:.3f}" for d, n in zip(EFFECT_DECAYS, norms)),
               hint="decay the weight with the given value in every step (and the weight only), and report "
                    "weight_norm as ||w|| of the final weight")


@points(2, task="sweep_weight_decay")
def test_training_loss_grows_as_the_decay_grows(student):
    """On the notebook's regression, the training loss rises as the decay grows (0, 1, 3, 10).

    Decay 1 against 0 has the smallest margin, 6.0 standard deviations of its log-ratio: a correct
    sweep fails with probability about 1e-9 (the other pairs, 40 or more: below 1e-300).
    """
    for _, results in effect_sweeps(student):
        losses = [result["train_loss"] for result in results]
        expect(all(a < b for a, b in zip(losses, losses[1:])),
               "the training loss did not rise as the decay grew",
               hint="train_loss is the final model's MSE on the training set, without the penalty; decay the "
                    "weight with the given value in every step, for all the epochs")


@points(3, task="sweep_weight_decay")
def test_good_decay_beats_no_decay_on_validation(student):
    """On the notebook's regression (50 samples, 100 features), decay 3 less than halves the validation loss of decay 0.

    The reference divides it by 27; log(val_loss(0) / val_loss(3)) lies 15.7 standard deviations
    above log 2, so a correct sweep fails with probability below 1e-50.
    """
    for _, results in effect_sweeps(student):
        without, with_decay = results[0]["val_loss"], results[EFFECT_DECAYS.index(GOOD_DECAY)]["val_loss"]
        expect(with_decay < without / 2,
               f"validation loss {with_decay:.4f} with decay 3 against {without:.4f} without: not even halved",
               hint="val_loss is measured on val_data, without the penalty; check that weight decay reaches the "
                    "weight in every step")


@points(3, task="sweep_weight_decay")
def test_each_value_starts_alike_and_sees_the_same_batches(student):
    """A value's result does not depend on the other values or their order."""
    train, val = sparse_linear_regression(6)
    forward = sweep(student, train, val, [0.0, 1.0, 3.0], 6, epochs=2)
    backward = sweep(student, train, val, [3.0, 1.0, 0.0], 6, epochs=2)
    alone = sweep(student, train, val, [1.0], 6, epochs=2)
    expect_trained(forward, "fairness")
    hint = ("build a fresh model for every value from one saved initial state, and shuffle each value's epochs "
            "with a fresh generator seeded with seed")
    expect(same_results(backward[::-1], forward), "a value's result changed when the values came in reverse order",
           hint=hint)
    expect(same_results(alone, forward[1:2]), "a value's result changed when it was swept alone", hint=hint)


# --- best_weight_decay --------------------------------------------------------------------------

@points(2, task="best_weight_decay")
def test_best_weight_decay_chooses_by_validation_loss(student):
    """best_weight_decay returns the value with the lowest validation loss, not training loss."""
    results = [{"weight_decay": 0.0, "train_loss": 0.001, "val_loss": 0.40, "weight_norm": 0.5},
               {"weight_decay": 3.0, "train_loss": 0.010, "val_loss": 0.02, "weight_norm": 0.04},
               {"weight_decay": 0.1, "train_loss": 0.002, "val_loss": 0.15, "weight_norm": 0.3},
               {"weight_decay": 30.0, "train_loss": 0.050, "val_loss": 0.06, "weight_norm": 0.01}]
    got = student.run("best", results)
    expect(got.best == 3.0 and type(got.best) is float, "best_weight_decay did not return the weight_decay (a float) "
           "of the result with the lowest val_loss",
           hint="choose by validation loss; the training loss always prefers the smallest decay")


@points(1, task="best_weight_decay")
def test_best_weight_decay_takes_the_first_of_a_tie(student):
    """When two values share the lowest validation loss, best_weight_decay returns the first of them."""
    results = [{"weight_decay": 0.0, "train_loss": 0.001, "val_loss": 0.40, "weight_norm": 0.5},
               {"weight_decay": 1.0, "train_loss": 0.004, "val_loss": 0.02, "weight_norm": 0.1},
               {"weight_decay": 0.1, "train_loss": 0.002, "val_loss": 0.15, "weight_norm": 0.3},
               {"weight_decay": 10.0, "train_loss": 0.030, "val_loss": 0.02, "weight_norm": 0.02}]
    got = student.run("best", results)
    expect(got.best == 1.0, f"on a tie of the lowest val_loss, best_weight_decay returned {got.best!r}, not the "
           "first such entry's weight_decay",
           hint="keep the first minimum: min() does, and so does a loop that replaces the best only on a strictly "
                "lower val_loss (<, not <=)")
