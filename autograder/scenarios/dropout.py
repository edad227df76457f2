"""Scenarios for the dropout graders. They run in the worker, beside the student's module.

Each takes the student's module first, then plain data and tensors from the grader; it calls the
student's code and returns plain data and tensors. No checking happens here: the trusted grader
compares what comes back against PyTorch, hand-computed values and statistical laws.

The models handed to `evaluate` and `train_model` are the grader's own (below), so those two are
graded on their own, whatever the student's MLP does: `_Probe` answers differently in training
and eval mode, and can report every batch it was trained on.
"""

import torch
from torch import nn

from _kit_worker.seeding import manual_seed  # the worker's package (coursekit/worker/seeding.py)


def _generator(seed):
    return None if seed is None else torch.Generator().manual_seed(seed)


def dropout_call(student, x, generator_seed=None, **options):
    """One call of dropout on x; the output, and whether x came back unchanged."""
    x_before = x.clone()
    out = student.dropout(x, generator=_generator(generator_seed), **options)
    return {"out": out, "x_unchanged": torch.equal(x, x_before)}


def dropout_calls(student, function, x, global_seeds, generator_seeds, **options):
    """Call dropout (or dropout2d) once per entry, re-seeding the global RNG before each call.

    A seed of None in `global_seeds` leaves the global RNG where the previous call left it.
    """
    outs = []
    for global_seed, generator_seed in zip(global_seeds, generator_seeds):
        if global_seed is not None:
            manual_seed(global_seed)
        outs.append(getattr(student, function)(x, generator=_generator(generator_seed), **options))
    return {"outs": outs}


def dropout_gradient(student, x, grad_out, p):
    """Backpropagate grad_out through one training-mode dropout call."""
    x = x.clone().requires_grad_()
    out = student.dropout(x, p=p, training=True)
    out.backward(grad_out)
    return {"out": out, "grad_x": x.grad}


def dropout2d_call(student, x, **options):
    x_before = x.clone()
    out = student.dropout2d(x, **options)
    return {"out": out, "x_unchanged": torch.equal(x, x_before)}


def module_modes(student, p, x, modes):
    """A fresh Dropout(p), run on x in each mode of `modes` ("train" / "eval") in turn."""
    layer = student.Dropout(p)
    outs = []
    for mode in modes:
        layer.train(mode == "train")
        outs.append(layer(x))
    return {"outs": outs, "parameters": len(list(layer.parameters())), "p": getattr(layer, "p", None)}


def module_construction(student, p):
    student.Dropout(p)
    return {}


def _describe_layer(student, layer):
    description = {"type": type(layer).__name__, "students_dropout": isinstance(layer, student.Dropout),
                   "p": getattr(layer, "p", None) if isinstance(layer, student.Dropout) else None}
    if isinstance(layer, nn.Linear):
        description.update(weight=layer.weight, bias=layer.bias)
    return description


def mlp_forward_calls(student, sizes, p, num_hidden_layers, x, modes):
    """Build the MLP and run x once per mode; record the leaf layers in the order they ran.

    Returns the outputs and, for the first call, each leaf layer as it was called: its type,
    whether it is the student's Dropout (and its p), and the weights of Linear layers.
    """
    model = student.MLP(*sizes, p=p, num_hidden_layers=num_hidden_layers)
    calls = []
    leaves = [module for module in model.modules() if not list(module.children()) and module is not model]
    handles = [leaf.register_forward_hook(lambda layer, inputs, output: calls.append(layer)) for leaf in leaves]
    outs = []
    for index, mode in enumerate(modes):
        model.train(mode == "train")
        outs.append(model(x))
        if index == 0:
            for handle in handles:
                handle.remove()
    return {"outs": outs, "calls": [_describe_layer(student, layer) for layer in calls],
            "parameter_count": sum(parameter.numel() for parameter in model.parameters())}


class _Probe(nn.Module):
    """A linear classifier that ignores input column 0 (the grader puts the sample index there).

    In training mode it adds noise drawn from torch's global RNG (as dropout would), and shifts
    the logits of class 0 by `train_shift`, so anything measured in the wrong mode shows. If
    `record` it remembers the sample indices of every training-mode batch.
    """

    def __init__(self, in_features, num_classes, train_shift=0.0, noise=0.0, record=False):
        super().__init__()
        self.linear = nn.Linear(in_features - 1, num_classes)
        self.train_shift, self.noise, self.record = train_shift, noise, record
        self.batches, self.modes_seen = [], []

    def forward(self, x):
        self.modes_seen.append("train" if self.training else "eval")
        logits = self.linear(x[:, 1:])
        if not self.training:
            return logits
        if self.record:
            self.batches.append(x[:, 0].round().long().tolist())
        noise = self.noise * torch.randn(logits.shape) if self.noise else 0.0    # draws only when asked
        shift = torch.zeros_like(logits)
        shift[:, 0] = self.train_shift
        return logits + noise + shift


def _probe(state_dict, **options):
    weight = state_dict["linear.weight"]
    probe = _Probe(weight.shape[1] + 1, weight.shape[0], **options)
    probe.load_state_dict(state_dict)
    return probe


def evaluate_probe(student, state_dict, X, y, start_mode, train_shift):
    """Call evaluate on the grader's probe in `start_mode`; report its answer and the modes."""
    probe = _probe(state_dict, train_shift=train_shift)
    probe.train(start_mode == "train")
    measured = student.evaluate(probe, (X, y))
    return {"measured": measured, "mode_after": "train" if probe.training else "eval",
            "modes_seen": probe.modes_seen}


def train_probe(student, state_dict, train_data, val_data, train_seed, *, runs=1, noise=0.0, **options):
    """Train fresh copies of the probe (same start) `runs` times, each with
    train_model(seed=train_seed, **options).

    Each run reports the history, the final weights, the training batches (sample indices, in
    order) and the eval-mode logits on the training and validation inputs after training.
    """
    results = []
    for _ in range(runs):
        probe = _probe(state_dict, noise=noise, record=True)
        history = student.train_model(probe, tuple(train_data), val_data=None if val_data is None else tuple(val_data),
                                      seed=train_seed, **options)
        probe.eval()
        with torch.no_grad():
            logits = {"train": probe(train_data[0]), "val": None if val_data is None else probe(val_data[0])}
        results.append({"history": history, "state_dict": dict(probe.state_dict()),
                        "batches": probe.batches, "logits": logits})
    return {"runs": results}


def compare(student, train_data, val_data, compare_seed, **options):
    """compare_dropout(..., seed=compare_seed, **options) as a list of [p, result] pairs."""
    results = student.compare_dropout(tuple(train_data), tuple(val_data), seed=compare_seed, **options)
    return {"arms": [[p, result] for p, result in results.items()]}
