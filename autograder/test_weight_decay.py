"""Hidden graders for the weight_decay exercise.

Expected values come from hand-computed fixtures, from torch.optim.SGD itself (computed here, in
the trusted process), from the closed-form ridge solution, and from the effects the lecture
promises, checked on seeds on which the reference shows them (tests/test_weight_decay_effect.py).
"""

import math
import weakref

import torch
import torch.nn.functional as F
from torch import nn

from coursekit.datasets import sparse_linear_regression
from coursekit.grading.api import (exercise, expect, expect_close, expect_equal, expect_number, expect_tensor,
                                   is_number, points, seeded_randn)

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
    """Adding l2_penalty(lam) to the loss and stepping plain SGD equals torch's SGD with weight_decay=lam."""
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
                      "(lam / 2) * ||w||^2: mind the factor 1/2")


@points(1, task="l2_penalty")
def test_l2_penalty_of_no_parameters_is_zero(student):
    """With no parameters the penalty is a 0-dim tensor holding 0."""
    got = student.run("penalty_of_no_parameters", "l2_penalty", 0.3)
    expect_tensor(got.value, "l2_penalty([], 0.3)", shape=())
    expect_equal(got.value.item(), 0.0, "l2_penalty([], 0.3)")


# --- l1_penalty ---------------------------------------------------------------------------------

@points(2, task="l1_penalty")
def test_l1_penalty_by_hand(student):
    """l1_penalty([W, b], 0.2) is 0.2 * 7.5 for a hand-checked W and b (with negative entries)."""
    got = penalty(student, "l1_penalty", [W, B], 0.2)
    expect_close(got.value, torch.tensor(0.2 * 7.5), "l1_penalty on the worked example",
                 hint="lam times the sum of the *absolute* values of every entry")


@points(2, task="l1_penalty")
def test_l1_penalty_gradient_is_lam_times_sign(student):
    """The gradient of l1_penalty is lam * sign(w), 0 where w is exactly 0."""
    parameters = [W.clone(), seeded_randn(4, seed=7)]
    got = penalty(student, "l1_penalty", parameters, 0.3)
    expect(got.differentiable, "l1_penalty's result has no gradient",
           hint="build it from tensor operations (abs, sum); .item() cuts it off the graph")
    for index, (grad, p) in enumerate(zip(got.grads, parameters)):
        expect_close(grad, 0.3 * torch.sign(p), f"the gradient with respect to parameter {index + 1}")


@points(1, task="l1_penalty")
def test_l1_penalty_of_no_parameters_is_zero(student):
    """With no parameters the L1 penalty is a 0-dim tensor holding 0."""
    got = student.run("penalty_of_no_parameters", "l1_penalty", 0.3)
    expect_tensor(got.value, "l1_penalty([], 0.3)", shape=())
    expect_equal(got.value.item(), 0.0, "l1_penalty([], 0.3)")


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


@points(3, task="sgd_step")
def test_sgd_step_matches_torch_sgd_with_weight_decay(student):
    """Four sgd_step calls with weight_decay=0.3 match torch.optim.SGD(lr, momentum=0, weight_decay=0.3)."""
    got = student.run("sgd_steps", SGD_STATE, SGD_X, SGD_Y, 0.05, 4, weight_decay=0.3)
    want = torch_sgd(SGD_STATE, SGD_X, SGD_Y, 0.05, 4, weight_decay=0.3)
    for name in ("weight", "bias"):
        expect_close(got.state_dict[name], want[name], f"the {name} after four steps",
                     hint="p <- p - lr * (p.grad + weight_decay * p): the decay is multiplied by lr too")


@points(2, task="sgd_step")
def test_sgd_step_without_weight_decay(student):
    """With the default weight_decay, sgd_step is plain gradient descent."""
    got = student.run("sgd_steps", SGD_STATE, SGD_X, SGD_Y, 0.1, 3)
    want = torch_sgd(SGD_STATE, SGD_X, SGD_Y, 0.1, 3)
    expect_close(got.state_dict["weight"], want["weight"], "the weight after three steps")


@points(2, task="sgd_step")
def test_sgd_step_updates_in_place_without_history(student):
    """sgd_step changes the parameters in place and records no autograd history."""
    got = student.run("sgd_steps", SGD_STATE, SGD_X, SGD_Y, 0.05, 2, weight_decay=0.1)
    want = torch_sgd(SGD_STATE, SGD_X, SGD_Y, 0.05, 2, weight_decay=0.1)
    expect_close(got.state_dict["weight"], want["weight"], "the weight after two steps",
                 hint="update each parameter tensor in place (p.sub_(...)); rebinding the name changes nothing")
    expect(got.same_objects and all(got.leaves) and not any(got.history),
           "after sgd_step the parameters carry autograd history or were replaced",
           hint="do the update under torch.no_grad()")


@points(1, task="sgd_step")
def test_sgd_step_skips_parameters_without_gradient(student):
    """A parameter whose .grad is None is left alone, as torch's optimizers do."""
    got = student.run("sgd_steps", SGD_STATE, SGD_X, SGD_Y, 0.05, 2, weight_decay=0.2, freeze_bias=True)
    want = torch_sgd(SGD_STATE, SGD_X, SGD_Y, 0.05, 2, weight_decay=0.2, freeze_bias=True)
    expect_close(got.state_dict["weight"], want["weight"], "the weight after two steps")
    expect_equal(got.state_dict["bias"], SGD_STATE["bias"], "the bias, which had no gradient",
                 hint="skip parameters whose .grad is None (do not decay them either)")


# --- decay_param_groups -------------------------------------------------------------------------

DECAYED = ["0.weight", "4.0.weight", "5.proj", "6.weight"]   # conv kernel, Linear weights, a free matrix


def groups_by_decay(got):
    expect(isinstance(got.groups, list), "decay_param_groups should return a list of dicts")
    by_decay = {}
    for group in got.groups:
        decay = group["weight_decay"]
        key = decay if is_number(decay) else repr(decay)
        by_decay.setdefault(key, []).extend(group["params"])
    return by_decay


@points(4, task="decay_param_groups")
def test_every_parameter_appears_exactly_once(student):
    """Every parameter of a model with nested blocks and custom layers is in exactly one group, once."""
    got = student.run("param_groups", 0.01)
    listed = sorted(name for group in got.groups for name in group["params"])
    expect("?" not in listed, "a group holds a tensor that is not one of the model's parameters",
           hint="put the model's own parameter tensors in the groups (from model.named_parameters())")
    missing, doubled = set(got.all_names) - set(listed), len(listed) - len(set(listed))
    expect(not missing and not doubled and len(listed) == len(got.all_names),
           f"{len(missing)} parameter(s) are in no group and {doubled} appear more than once",
           hint="walk model.named_parameters() (it recurses into every submodule and lists each parameter "
                "once, whatever its name)")
    expect(got.sgd_error == "", f"torch.optim.SGD refused the groups: {got.sgd_error}")


@points(4, task="decay_param_groups")
def test_weights_decay_biases_and_norm_parameters_do_not(student):
    """Every matrix or kernel gets weight_decay; biases and 1-D (norm, scale) parameters get 0.0."""
    got = student.run("param_groups", 0.01)
    by_decay = groups_by_decay(got)
    expect(set(by_decay) <= {0.0, 0.01}, "every group's \"weight_decay\" should be the float weight_decay "
           "or 0.0", hint="give each group an explicit \"weight_decay\" entry, a Python float")
    hint = ("decay every parameter with 2 or more dimensions (matrices, kernels); biases and 1-D "
            "parameters (normalisation layers' weight and bias, scales) get 0.0")
    decayed = set(by_decay.get(0.01, []))
    expect(decayed <= set(DECAYED), f"{len(decayed - set(DECAYED))} bias or 1-D parameter(s) are decayed", hint=hint)
    expect(decayed >= set(DECAYED), f"{len(set(DECAYED) - decayed)} matrix or kernel parameter(s) are not decayed",
           hint=hint)


# --- sweep_weight_decay -------------------------------------------------------------------------

def sweep(student, train, val, decays, seed, **options):
    got = student.run("sweep", train, val, list(decays), seed, **options)
    results = got.results
    expect(isinstance(results, list) and len(results) == len(decays),
           f"sweep_weight_decay should return a list with one dict per value ({len(decays)})")
    for result in results:
        expect(isinstance(result, dict) and {"weight_decay", "train_loss", "val_loss", "weight_norm"} <= set(result),
               "each result should be a dict with weight_decay, train_loss, val_loss and weight_norm")
        for key in ("weight_decay", "train_loss", "val_loss", "weight_norm"):
            expect_number(result[key], f"result['{key}']")
    return results


def ridge(X, y, lam):
    """The minimiser of mean((X w + b - y)^2) + (lam / 2) ||w||^2 (b not penalised), in float64.

    Returns (train MSE without the penalty, ||w||).
    """
    X, y = X.double(), y.double().reshape(-1)
    Xc, yc = X - X.mean(0), y - y.mean()
    n = len(y)
    w = torch.linalg.solve(2.0 / n * Xc.T @ Xc + lam * torch.eye(X.shape[1], dtype=torch.float64), 2.0 / n * Xc.T @ yc)
    b = y.mean() - X.mean(0) @ w
    return ((X @ w + b - y) ** 2).mean().item(), w.norm().item()


def ridge_data():
    generator = torch.Generator().manual_seed(20)
    X = torch.randn(12, 3, generator=generator)
    y = X @ torch.tensor([1.5, -0.5, 0.8]) + 0.7 + 0.3 * torch.randn(12, generator=generator)
    return X, y


@points(5, task="sweep_weight_decay")
def test_sweep_converges_to_the_ridge_solution(student):
    """Trained to convergence, each value's losses (without penalty) and ||w|| are the ridge solution's."""
    X, y = ridge_data()
    decays = [0.0, 0.5, 2.0]
    results = sweep(student, (X, y), (X, y), decays, 0, epochs=80, lr=0.2, batch_size=12)   # converged to 6e-7
    for result, lam in zip(results, decays):
        want_loss, want_norm = ridge(X, y, lam)
        for key in ("train_loss", "val_loss"):
            expect(math.isclose(result[key], want_loss, rel_tol=2e-3, abs_tol=1e-5),
                   f"{key} is {abs(result[key] / want_loss - 1):.1%} away from the ridge solution's mean "
                   "squared error",
                   hint="report the plain MSE (no penalty) of the final model; decay the weight only, "
                        "never the bias")
        expect(math.isclose(result["weight_norm"], want_norm, rel_tol=2e-3, abs_tol=1e-5),
               f"weight_norm is {abs(result['weight_norm'] / want_norm - 1):.1%} away from the ridge solution's ||w||",
               hint="weight_norm is ||w||, the square root of the sum of squares (model.weight.norm())")


@points(2, task="sweep_weight_decay")
def test_sweep_keeps_the_order_of_the_values(student):
    """Results come back in the order of weight_decays, each naming its value."""
    train, val = sparse_linear_regression(5)
    decays = [3.0, 0.0, 1.0]
    results = sweep(student, train, val, decays, 5, epochs=1)
    expect([result["weight_decay"] for result in results] == decays,
           "the results are not in the order of weight_decays, each naming its value",
           hint="append one result per value as you go through weight_decays; do not sort them")


EFFECT_SEEDS = (0,)        # tests/test_weight_decay_effect.py checks the reference on this one and 20 others
EFFECT_DECAYS = [0.0, 0.1, 1.0, 3.0, 10.0]
EFFECT_EPOCHS = 50         # the effects hold at 50 epochs on all 21 seeds checked, as at the default 100


_EFFECT_SWEEPS = weakref.WeakKeyDictionary()     # the three effect tests share one sweep per student


def effect_sweeps(student):
    if student not in _EFFECT_SWEEPS:
        _EFFECT_SWEEPS[student] = [(seed, sweep(student, *sparse_linear_regression(seed), EFFECT_DECAYS, seed,
                                                epochs=EFFECT_EPOCHS))
                                   for seed in EFFECT_SEEDS]
    return _EFFECT_SWEEPS[student]


@points(4, task="sweep_weight_decay")
def test_weight_norm_shrinks_as_the_decay_grows(student):
    """On d2l's 200-feature regression, ||w|| does not increase as the decay grows."""
    for seed, results in effect_sweeps(student):
        norms = [result["weight_norm"] for result in results]
        expect(all(a >= b for a, b in zip(norms, norms[1:])),
               "the weight norm grew with the decay: " + ", ".join(f"{d:g}: {n:.3f}" for d, n in zip(EFFECT_DECAYS, norms)),
               hint="decay the weight with the given value (and the weight only)")


@points(3, task="sweep_weight_decay")
def test_training_loss_grows_as_the_decay_grows(student):
    """On d2l's regression, the training loss does not decrease as the decay grows."""
    for seed, results in effect_sweeps(student):
        losses = [result["train_loss"] for result in results]
        expect(all(a <= b for a, b in zip(losses, losses[1:])),
               "the training loss fell as the decay grew",
               hint="train_loss is the final model's MSE on the training set, without the penalty")


@points(4, task="sweep_weight_decay")
def test_good_decay_beats_no_decay_on_validation(student):
    """On d2l's regression (20 samples, 200 features), decay 3 has a lower validation loss than decay 0."""
    for seed, results in effect_sweeps(student):
        without, with_decay = results[0]["val_loss"], results[3]["val_loss"]
        expect(with_decay < without, f"validation loss {with_decay:.4f} with decay 3 against {without:.4f} without",
               hint="check that weight decay reaches the weight in every step")


@points(3, task="sweep_weight_decay")
def test_each_value_starts_alike_and_sees_the_same_batches(student):
    """A value's result does not depend on the other values or their order."""
    train, val = sparse_linear_regression(6)
    forward = sweep(student, train, val, [0.0, 1.0, 3.0], 6, epochs=2)
    backward = sweep(student, train, val, [3.0, 1.0, 0.0], 6, epochs=2)
    alone = sweep(student, train, val, [1.0], 6, epochs=2)
    expect(backward[::-1] == forward, "a value's result changed when the values were listed in reverse order",
           hint="build a fresh model for every value from one saved initial state, and shuffle each "
                "value's epochs with a fresh generator seeded with seed")
    expect(alone[0] == forward[1], "a value's result changed when it was swept alone")


@points(3, task="sweep_weight_decay")
def test_sweep_is_deterministic_for_a_seed(student):
    """The same seed gives the same results; another seed gives others."""
    train, val = sparse_linear_regression(7)
    first = sweep(student, train, val, [0.0, 1.0], 7, epochs=2)
    again = sweep(student, train, val, [0.0, 1.0], 7, epochs=2)
    other = sweep(student, train, val, [0.0, 1.0], 8, epochs=2)
    expect(again == first, "two sweeps with the same seed gave different results",
           hint="seed the initial weights and the shuffling with seed")
    expect(other != first, "seeds 7 and 8 gave the same results", hint="use the seed argument, not a fixed seed")


# --- best_weight_decay --------------------------------------------------------------------------

@points(3, task="best_weight_decay")
def test_best_weight_decay_chooses_by_validation_loss(student):
    """best_weight_decay returns the value with the lowest validation loss, not training loss."""
    results = [{"weight_decay": 0.0, "train_loss": 0.001, "val_loss": 0.40, "weight_norm": 0.5},
               {"weight_decay": 3.0, "train_loss": 0.010, "val_loss": 0.02, "weight_norm": 0.04},
               {"weight_decay": 0.1, "train_loss": 0.002, "val_loss": 0.15, "weight_norm": 0.3},
               {"weight_decay": 30.0, "train_loss": 0.050, "val_loss": 0.06, "weight_norm": 0.01}]
    got = student.run("best", results)
    expect(got.best == 3.0, "best_weight_decay did not return the weight_decay of the result with the lowest "
           "val_loss", hint="choose by validation loss; the training loss always prefers the smallest decay")
