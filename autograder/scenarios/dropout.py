"""Scenarios for the dropout graders. They run in the worker, beside the student's module.

Each takes the student's module first, then plain data and tensors from the grader; it calls the
student's code and returns plain data and tensors. No checking happens here: the trusted grader
compares what comes back against PyTorch, hand-computed values and statistical laws.

One mistake costs the points of its own task only. A scenario about one task runs the student's
code for that task with known-good code (below) in place of the student's code for the tasks it
relies on, put into the student's module for the length of the call (`_known_good`): the student's
functions look their module's globals up when they run, so `Dropout.forward` then calls the
known-good `dropout`, `MLP` builds the known-good `Dropout`, and `compare_dropout` builds the
known-good `MLP` and trains it with the known-good `train_model`.

The models handed to `evaluate` and `train_model` are the grader's own (below), so those two are
graded on their own, whatever the student's MLP does: `_Probe` answers differently in training
and eval mode, and can report every batch it was trained on.
"""

import torch
import torch.nn.functional as F
from _kit_worker.toolkit import (  # the scenarios' toolkit (coursekit/worker/toolkit.py)
    known_good,
    manual_seed,
    substituted,
)
from torch import nn

# --- known-good code for the tasks a scenario relies on -------------------------------------------

@known_good("dropout")
def _good_dropout(x, p=0.5, training=True, generator=None):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = 1.0 - p
    mask = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device) < keep
    return x * mask / keep


@known_good("Dropout")
class _GoodDropout(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p

    def forward(self, x):
        return _good_dropout(x, self.p, training=self.training)


@known_good("MLP")
class _GoodMLP(nn.Module):
    def __init__(self, in_features, hidden_features, out_features, p=0.0, num_hidden_layers=2):
        super().__init__()
        layers, width = [], in_features
        for _ in range(num_hidden_layers):
            layers += [nn.Linear(width, hidden_features), nn.ReLU(), _GoodDropout(p)]
            width = hidden_features
        layers.append(nn.Linear(width, out_features))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


@known_good("evaluate")
def _good_evaluate(model, data):
    X, y = data
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = model(X)
            loss = F.cross_entropy(logits, y).item()
            accuracy = (logits.argmax(dim=1) == y).float().mean().item()
    finally:
        model.train(was_training)
    return {"loss": loss, "accuracy": accuracy}


@known_good("train_model")
def _good_train_model(model, train_data, *, epochs, lr=1e-3, batch_size=32, seed=0, val_data=None, batches=None):
    """The reference train_model; appends each batch's sample indices to `batches` if given."""
    manual_seed(seed)
    shuffler = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    X, y = train_data
    history = {"train_loss": [], "train_acc": []}
    if val_data is not None:
        history.update(val_loss=[], val_acc=[])
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(X), generator=shuffler)
        for start in range(0, len(X), batch_size):
            batch = order[start:start + batch_size]
            if batches is not None:
                batches.append(batch.tolist())
            loss = F.cross_entropy(model(X[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        for split, data in (("train", train_data), ("val", val_data)):
            if data is not None:
                measured = _good_evaluate(model, data)
                history[f"{split}_loss"].append(measured["loss"])
                history[f"{split}_acc"].append(measured["accuracy"])
    return history


_KNOWN_GOOD = {"dropout": _good_dropout, "Dropout": _GoodDropout, "MLP": _GoodMLP,
               "evaluate": _good_evaluate, "train_model": _good_train_model}
def _known_good(student, *names, **replacements):
    """Put known-good code in the student's module under `names` (and `replacements`) for one block."""
    return substituted(student, **{name: _KNOWN_GOOD[name] for name in names}, **replacements)


# --- dropout and dropout2d -----------------------------------------------------------------------
# dropout is run on its own; dropout2d with the known-good dropout, which it may call.

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
    with _known_good(student, *(["dropout"] if function != "dropout" else [])):
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
    with _known_good(student, "dropout"):
        out = student.dropout2d(x, **options)
    return {"out": out, "x_unchanged": torch.equal(x, x_before)}


# --- Dropout, with the known-good dropout -------------------------------------------------------

def module_modes(student, p, x, modes):
    """A fresh Dropout(p), run on x in each mode of `modes` ("train" / "eval") in turn."""
    with _known_good(student, "dropout"):
        layer = student.Dropout(p)
        outs = []
        for mode in modes:
            layer.train(mode == "train")
            outs.append(layer(x))
    return {"outs": outs, "parameters": len(list(layer.parameters())), "p": getattr(layer, "p", None)}


def module_construction(student, p):
    with _known_good(student, "dropout"):
        student.Dropout(p)
    return {}


# --- MLP, with the known-good dropout and Dropout ----------------------------------------------

def mlp_forward_calls(student, sizes, p, num_hidden_layers, x, modes):
    """Build the MLP and run x once per mode; record the leaf layers in the order they ran.

    Returns the outputs and, for the first call, each leaf layer as it was called: its type (and
    kind: "Linear", "ReLU" or None), whether it is a `Dropout` (the known-good one put in the
    student's module, or the student's own where the MLP reached it some other way) and its p,
    and the weights of Linear layers.
    """
    own_dropout = getattr(student, "Dropout", None)
    dropout_classes = (_GoodDropout,) + ((own_dropout,) if isinstance(own_dropout, type) else ())
    with _known_good(student, "dropout", "Dropout"):
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
    described = []
    for layer in calls:
        is_dropout = isinstance(layer, dropout_classes)
        kind = "Linear" if isinstance(layer, nn.Linear) else "ReLU" if isinstance(layer, nn.ReLU) else None
        description = {"type": type(layer).__name__, "kind": kind, "students_dropout": is_dropout,
                       "p": getattr(layer, "p", None) if is_dropout else None}
        if isinstance(layer, nn.Linear):
            description.update(weight=layer.weight, bias=layer.bias)
        described.append(description)
    return {"outs": outs, "calls": described,
            "parameter_count": sum(parameter.numel() for parameter in model.parameters())}


# --- evaluate and train_model, on the grader's probe ---------------------------------------------

class _Probe(nn.Module):
    """A linear classifier that ignores input column 0 (the grader puts the sample index there).

    In training mode it adds noise drawn from torch's global RNG (as dropout would), and shifts
    the logits of class 0 by `train_shift`, so anything measured in the wrong mode shows. It
    records the mode and autograd state of every call and, if `record`, for every training-mode
    call: the sample indices of the batch, the noise drawn, and its weights before the step.
    """

    def __init__(self, in_features, num_classes, train_shift=0.0, noise=0.0, record=False):
        super().__init__()
        self.linear = nn.Linear(in_features - 1, num_classes)
        self.train_shift, self.noise, self.record = train_shift, noise, record
        self.batches, self.noises, self.weights_before, self.modes_seen, self.grad_enabled = [], [], [], [], []

    def forward(self, x):
        self.modes_seen.append("train" if self.training else "eval")
        self.grad_enabled.append(torch.is_grad_enabled())
        logits = self.linear(x[:, 1:])
        if not self.training:
            return logits
        noise = self.noise * torch.randn(logits.shape) if self.noise else torch.zeros(logits.shape)
        if self.record:
            self.batches.append(x[:, 0].round().long().tolist())
            self.noises.append(noise)
            self.weights_before.append({name: value.detach().clone() for name, value in self.state_dict().items()})
        shift = torch.zeros_like(logits)
        shift[:, 0] = self.train_shift
        return logits + noise + shift


def _probe(state_dict, **options):
    weight = state_dict["linear.weight"]
    probe = _Probe(weight.shape[1] + 1, weight.shape[0], **options)
    probe.load_state_dict(state_dict)
    return probe


def evaluate_probe(student, state_dict, X, y, start_mode, train_shift):
    """Call evaluate on the grader's probe in `start_mode`; report its answer, the modes and autograd states."""
    probe = _probe(state_dict, train_shift=train_shift)
    probe.train(start_mode == "train")
    measured = student.evaluate(probe, (X, y))
    return {"measured": measured, "mode_after": "train" if probe.training else "eval",
            "modes_seen": probe.modes_seen, "grad_enabled": probe.grad_enabled}


def train_probe(student, state_dict, train_data, val_data, train_seed, *, runs=1, noise=0.0, **options):
    """Train fresh copies of the probe (same start) `runs` times, each with
    train_model(seed=train_seed, **options), with the known-good evaluate.

    Each run reports the history, the final weights, and for every training batch (in order) its
    sample indices, the noise the probe drew and the weights before the batch's step.
    """
    results = []
    with _known_good(student, "evaluate"):
        for _ in range(runs):
            probe = _probe(state_dict, noise=noise, record=True)
            history = student.train_model(probe, tuple(train_data),
                                          val_data=None if val_data is None else tuple(val_data),
                                          seed=train_seed, **options)
            results.append({"history": history, "state_dict": dict(probe.state_dict()), "batches": probe.batches,
                            "noises": probe.noises, "weights_before": probe.weights_before})
    return {"runs": results}


# --- compare_dropout, with known-good dropout, Dropout, MLP, evaluate and train_model -------------

def compare(student, train_data, val_data, compare_seed, train=True, **options):
    """compare_dropout(..., seed=compare_seed, **options), run with known-good MLP and train_model that
    record what compare_dropout does with them (train=False: train_model trains nothing and returns
    a history of zeros).

    Returns the arms as a list of [p, result] pairs; `builds`: the arguments of every MLP built;
    `trainings`: for every train_model call, in order, which build the model came from (None: not
    built by MLP), its weights when training started, the options, whether it got the training
    and validation sets, the batches it trained on, and the history it returned.
    """
    builds, trainings = [], []
    train_data, val_data = tuple(train_data), tuple(val_data)
    given_sets = {"on_training_set": train_data, "on_validation_set": val_data}

    class RecordingMLP(_GoodMLP):
        def __init__(self, in_features, hidden_features, out_features, p=0.0, num_hidden_layers=2):
            super().__init__(in_features, hidden_features, out_features, p=p, num_hidden_layers=num_hidden_layers)
            self.grader_build = len(builds)
            builds.append({"in_features": in_features, "hidden_features": hidden_features,
                           "out_features": out_features, "p": p, "num_hidden_layers": num_hidden_layers})

    def same_data(given, want):
        return (isinstance(given, (tuple, list)) and len(given) == 2
                and all(torch.equal(a, b) for a, b in zip(given, want)))

    def recording_train_model(model, given_train, *, epochs, lr=1e-3, batch_size=32, seed=0, val_data=None):
        record = {"build": getattr(model, "grader_build", None),
                  "start": [value.detach().clone() for value in model.state_dict().values()],
                  "epochs": epochs, "lr": lr, "batch_size": batch_size, "seed": seed,
                  "on_training_set": same_data(given_train, given_sets["on_training_set"]),
                  "on_validation_set": same_data(val_data, given_sets["on_validation_set"]),
                  "batches": []}
        if train:
            history = _good_train_model(model, given_train, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
                                        val_data=val_data, batches=record["batches"])
        else:
            names = ("train_loss", "train_acc") + (("val_loss", "val_acc") if val_data is not None else ())
            history = {name: [0.0] * epochs for name in names}
        record["history"] = {name: list(values) for name, values in history.items()}
        trainings.append(record)
        return history

    with _known_good(student, "dropout", "Dropout", "evaluate", MLP=RecordingMLP, train_model=recording_train_model):
        results = student.compare_dropout(train_data, val_data, seed=compare_seed, **options)
        arms = [[p, result] for p, result in results.items()]
    return {"arms": arms, "builds": builds, "trainings": trainings}
