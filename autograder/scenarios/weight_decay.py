"""Scenarios for the weight_decay graders. They run in the worker, beside the student's module.

Each takes the student's module first, then plain data and tensors from the grader; it calls the
student's code and returns plain data and tensors. The trusted grader compares what comes back
with hand-computed values, torch.optim.SGD and the closed-form ridge solution.

One mistake costs once: every scenario calls only the task it grades. While it runs, the other
tasks' names in the student's module point at the known-good versions below, so a sweep that
calls the student's own sgd_step, l2_penalty or decay_param_groups is graded on the sweep alone
(functions look their globals up at call time). A submission that borrows one of them for the
task under test is refused by the toolkit, and that test earns nothing.
"""

import torch
import torch.nn.functional as F

# the scenarios' toolkit (coursekit/worker/toolkit.py)
from _kit_worker.toolkit import known_good, manual_seed, substituted
from torch import nn

# --- known-good versions of every task ------------------------------------------------------------

@known_good("l2_penalty")
def _good_l2_penalty(parameters, lam):
    return lam / 2 * sum((p.square().sum() for p in parameters), torch.zeros(()))


@known_good("l1_penalty")
def _good_l1_penalty(parameters, lam):
    return lam * sum((p.abs().sum() for p in parameters), torch.zeros(()))


@known_good("sgd_step")
def _good_sgd_step(parameters, lr, weight_decay=0.0):
    with torch.no_grad():
        for p in parameters:
            if p.grad is not None:
                p.sub_(lr * (p.grad + weight_decay * p))


@known_good("decay_param_groups")
def _good_decay_param_groups(model, weight_decay):
    parameters = list(model.parameters())
    return [{"params": [p for p in parameters if p.ndim >= 2], "weight_decay": weight_decay},
            {"params": [p for p in parameters if p.ndim < 2], "weight_decay": 0.0}]


@known_good("best_weight_decay")
def _good_best_weight_decay(results):
    return min(results, key=lambda result: result["val_loss"])["weight_decay"]


_KNOWN_GOOD = {"l2_penalty": _good_l2_penalty, "l1_penalty": _good_l1_penalty, "sgd_step": _good_sgd_step,
               "decay_param_groups": _good_decay_param_groups, "best_weight_decay": _good_best_weight_decay}


def _only(student, task):
    """Within the block, every task of the student's module but `task` is its known-good version."""
    return substituted(student, **{name: good for name, good in _KNOWN_GOOD.items() if name != task})


# --- l2_penalty and l1_penalty ----------------------------------------------------------------------

def penalty(student, name, parameters, lam):
    """Call l1_penalty or l2_penalty on copies of `parameters`; the value and each gradient."""
    parameters = [p.clone().requires_grad_() for p in parameters]
    with _only(student, name):
        function = getattr(student, name)
        value = function(parameters, lam)
    differentiable = isinstance(value, torch.Tensor) and value.requires_grad
    if differentiable:
        value.backward()
    return {"value": value, "differentiable": differentiable, "grads": [p.grad for p in parameters]}


def penalty_of_no_parameters(student, name, lam, parameters):
    """The penalty of an empty list, and (to show the function does its job) of `parameters`."""
    with _only(student, name):
        function = getattr(student, name)
        return {"empty": function([], lam), "value": function([p.clone() for p in parameters], lam)}


def _linear(state_dict):
    model = nn.Linear(state_dict["weight"].shape[1], state_dict["weight"].shape[0])
    model.load_state_dict(state_dict)
    return model


def penalty_of_a_model(student, name, state_dict, lam):
    """The penalty of model.parameters(), a generator, for a Linear layer holding `state_dict`."""
    model = _linear(state_dict)
    with _only(student, name):
        function = getattr(student, name)
        return {"value": function(model.parameters(), lam)}


def penalised_sgd_steps(student, state_dict, X, y, lam, lr, steps):
    """Plain torch SGD (no weight_decay) on MSE + l2_penalty(model.parameters(), lam)."""
    model = _linear(state_dict)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    with _only(student, "l2_penalty"):
        l2_penalty = student.l2_penalty
        for _ in range(steps):
            optimizer.zero_grad()
            (F.mse_loss(model(X), y) + l2_penalty(model.parameters(), lam)).backward()
            optimizer.step()
    return {"state_dict": dict(model.state_dict())}


# --- sgd_step ---------------------------------------------------------------------------------------

def sgd_steps(student, state_dict, X, y, lr, steps, weight_decay=None, freeze_bias=False):
    """Train with the student's sgd_step; weight_decay=None leaves the argument to its default.

    freeze_bias: the bias gets no gradient (requires_grad False), so its .grad stays None.
    Returns the final state, whether the last call returned None, and whether each parameter
    still requires grad.
    """
    model = _linear(state_dict)
    model.bias.requires_grad_(not freeze_bias)
    options = {} if weight_decay is None else {"weight_decay": weight_decay}
    returned = None
    with _only(student, "sgd_step"):
        sgd_step = student.sgd_step
        for _ in range(steps):
            model.zero_grad()
            F.mse_loss(model(X), y).backward()
            returned = sgd_step(model.parameters(), lr, **options)
    return {"state_dict": {name: value.detach() for name, value in model.state_dict().items()},
            "returned_none": returned is None,
            "requires_grad": {name: p.requires_grad for name, p in model.named_parameters()}}


# --- decay_param_groups -----------------------------------------------------------------------------

class _Gate(nn.Module):
    """A layer with free parameters named neither weight nor bias: a matrix, a 1-D scale and a 0-dim temperature."""

    def __init__(self, features):
        super().__init__()
        self.proj = nn.Parameter(torch.randn(features, features))
        self.scale = nn.Parameter(torch.ones(features))
        self.temperature = nn.Parameter(torch.tensor(1.0))

    def forward(self, x):
        return self.scale * (x @ self.proj) / self.temperature


def _model_with_every_kind_of_layer():
    """Conv2d, BatchNorm2d, a nested block (Linear + LayerNorm), a custom layer, a bias-free Linear."""
    manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Sequential(nn.Linear(4 * 2 * 2, 6), nn.LayerNorm(6)), _Gate(6),
                         nn.Linear(6, 2, bias=False))


def param_groups(student, weight_decay):
    """decay_param_groups on a model with Conv2d, BatchNorm2d, Linear, LayerNorm and custom layers.

    Returns each group's parameter names (or "?" for a tensor that is not one of the model's
    parameters) and its weight_decay ("missing" where the group sets none), and whether
    torch.optim.SGD accepted the groups.
    """
    model = _model_with_every_kind_of_layer()
    names = {id(p): name for name, p in model.named_parameters()}
    with _only(student, "decay_param_groups"):
        decay_param_groups = student.decay_param_groups
        groups = decay_param_groups(model, weight_decay)
    described = [{"params": [names.get(id(p), "?") for p in group.get("params", [])],
                  "weight_decay": group.get("weight_decay", "missing")} for group in groups]
    try:
        torch.optim.SGD(groups, lr=0.1)
        accepted = ""
    except (ValueError, TypeError) as error:
        accepted = str(error)[:200]
    return {"groups": described, "sgd_error": accepted,
            "all_names": [name for name, _ in model.named_parameters()]}


# --- sweep_weight_decay and best_weight_decay -------------------------------------------------------

def sweep(student, train_data, val_data, weight_decays, sweep_seed, **options):
    with _only(student, "sweep_weight_decay"):
        sweep_weight_decay = student.sweep_weight_decay
        results = sweep_weight_decay(tuple(train_data), tuple(val_data), list(weight_decays),
                                     seed=sweep_seed, **options)
    return {"results": results}


def best(student, results):
    with _only(student, "best_weight_decay"):
        best_weight_decay = student.best_weight_decay
        return {"best": best_weight_decay([dict(result) for result in results])}
