"""Scenarios for the weight_decay graders. They run in the worker, beside the student's module.

Each takes the student's module first, then plain data and tensors from the grader; it calls the
student's code and returns plain data and tensors. The trusted grader compares what comes back
with hand-computed values, torch.optim.SGD and the closed-form ridge solution.
"""

import torch
import torch.nn.functional as F
from torch import nn

from _kit_worker.seeding import manual_seed  # the worker's package (coursekit/worker/seeding.py)


def penalty(student, name, parameters, lam):
    """Call l1_penalty or l2_penalty on copies of `parameters`; the value and each gradient."""
    parameters = [p.clone().requires_grad_() for p in parameters]
    value = getattr(student, name)(parameters, lam)
    differentiable = isinstance(value, torch.Tensor) and value.requires_grad
    if differentiable:
        value.backward()
    return {"value": value, "differentiable": differentiable, "grads": [p.grad for p in parameters]}


def penalty_of_no_parameters(student, name, lam):
    return {"value": getattr(student, name)([], lam)}


def _linear(state_dict):
    model = nn.Linear(state_dict["weight"].shape[1], state_dict["weight"].shape[0])
    model.load_state_dict(state_dict)
    return model


def penalised_sgd_steps(student, state_dict, X, y, lam, lr, steps):
    """Plain torch SGD (no weight_decay) on MSE + l2_penalty(model.parameters(), lam)."""
    model = _linear(state_dict)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        (F.mse_loss(model(X), y) + student.l2_penalty(model.parameters(), lam)).backward()
        optimizer.step()
    return {"state_dict": dict(model.state_dict())}


def sgd_steps(student, state_dict, X, y, lr, steps, weight_decay=None, freeze_bias=False):
    """Train with the student's sgd_step; weight_decay=None leaves the argument to its default.

    freeze_bias: the bias gets no gradient (requires_grad False), so its .grad stays None.
    """
    model = _linear(state_dict)
    model.bias.requires_grad_(not freeze_bias)
    parameters_before = [id(p) for p in model.parameters()]
    for _ in range(steps):
        model.zero_grad()
        F.mse_loss(model(X), y).backward()
        options = {} if weight_decay is None else {"weight_decay": weight_decay}
        student.sgd_step(model.parameters(), lr, **options)
    return {"state_dict": dict(model.state_dict()),
            "same_objects": parameters_before == [id(p) for p in model.parameters()],
            "history": [p.grad_fn is not None for p in model.parameters()],
            "leaves": [p.is_leaf for p in model.parameters()]}


class _Gate(nn.Module):
    """A layer with free parameters named neither weight nor bias: a matrix and a 1-D scale."""

    def __init__(self, features):
        super().__init__()
        self.proj = nn.Parameter(torch.randn(features, features))
        self.scale = nn.Parameter(torch.ones(features))

    def forward(self, x):
        return self.scale * (x @ self.proj)


def _model_with_every_kind_of_layer():
    """Conv2d, BatchNorm2d, a nested block (Linear + LayerNorm), a custom layer, a bias-free Linear."""
    manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Sequential(nn.Linear(4 * 2 * 2, 6), nn.LayerNorm(6)), _Gate(6),
                         nn.Linear(6, 2, bias=False))


def param_groups(student, weight_decay):
    """decay_param_groups on a model with Conv2d, BatchNorm2d, Linear and LayerNorm layers.

    Returns each group's parameter names (or "?" for a tensor that is not one of the model's
    parameters) and its weight_decay, and whether torch.optim.SGD accepted the groups.
    """
    model = _model_with_every_kind_of_layer()
    names = {id(p): name for name, p in model.named_parameters()}
    groups = student.decay_param_groups(model, weight_decay)
    described = [{"params": [names.get(id(p), "?") for p in group.get("params", [])],
                  "weight_decay": group.get("weight_decay", "default")} for group in groups]
    try:
        torch.optim.SGD(groups, lr=0.1)
        accepted = ""
    except (ValueError, TypeError) as error:
        accepted = str(error)[:200]
    return {"groups": described, "sgd_error": accepted,
            "all_names": [name for name, _ in model.named_parameters()]}


def sweep(student, train_data, val_data, weight_decays, sweep_seed, **options):
    results = student.sweep_weight_decay(tuple(train_data), tuple(val_data), list(weight_decays),
                                         seed=sweep_seed, **options)
    return {"results": results}


def best(student, results):
    return {"best": student.best_weight_decay([dict(result) for result in results])}
